//! The process environment the webview needs, fixed before any thread
//! starts (Rust 2024 marks `set_var` unsafe because another thread could
//! read the environment at the same time; here none exists yet).
//!
//! Two fixes, each a pure decision (tested) plus the one place that
//! applies it:
//! - a `C` / `POSIX` locale becomes `en_US.UTF-8` (see [`locale_fix`]);
//! - WebKitGTK's DMA-BUF renderer is turned off where it cannot be fast or
//!   is known to fail (see [`dmabuf_fix`]).

/// WebKitGTK turns a `C` / `POSIX` locale (common in containers, SSH
/// sessions and CI) into the language tag "C", which its JavaScript `Intl`
/// rejects: every date or number formatted without an explicit locale
/// throws, and the UI cannot start. Such a locale means "no preference", so
/// the app runs with `en_US.UTF-8` instead. Returns the `LANG` to set, if
/// any (and `LC_ALL` is then removed).
pub fn locale_fix(var: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let unset = |k: &str| {
        var(k)
            .map(|v| v.is_empty() || v == "C" || v == "POSIX" || v.starts_with("C."))
            .unwrap_or(true)
    };
    (unset("LC_ALL") && unset("LC_MESSAGES") && unset("LANG")).then_some("en_US.UTF-8")
}

/// What the machine's graphics look like, as far as WebKitGTK cares.
#[derive(Debug, Clone, Copy)]
pub struct Graphics {
    /// A DRM render node (`/dev/dri/renderD*`): a GPU WebKit can render on.
    pub render_node: bool,
    /// NVIDIA's proprietary driver is loaded (`/proc/driver/nvidia`).
    pub nvidia: bool,
}

impl Graphics {
    /// Looks at this machine.
    pub fn detect() -> Self {
        let render_node = std::fs::read_dir("/dev/dri")
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
            })
            .unwrap_or(false);
        Graphics {
            render_node,
            nvidia: std::path::Path::new("/proc/driver/nvidia/version").exists(),
        }
    }
}

/// Whether to set `WEBKIT_DISABLE_DMABUF_RENDERER=1`, and why.
///
/// WebKitGTK (2.42 and later) composites through its DMA-BUF renderer by
/// default. Without a GPU (virtual machines, remote desktops, classroom
/// VMs, Xvfb) that renderer runs on Mesa's software GL and every repaint is
/// slow: measured in `docs/benchmarks.md#desktop-app`, the trace view fell
/// from about 55 to 7 frames a second under 1,000 events a second. With
/// NVIDIA's proprietary driver it is known to leave the window blank.
/// Elsewhere WebKit's default stays. A user's own setting of the variable
/// (`0` or `1`) always wins.
pub fn dmabuf_fix(already_set: bool, g: Graphics) -> Option<&'static str> {
    if already_set {
        None
    } else if !g.render_node {
        Some("no GPU render node: WebKit's DMA-BUF renderer would use software GL")
    } else if g.nvidia {
        Some("NVIDIA's proprietary driver: WebKit's DMA-BUF renderer may leave the window blank")
    } else {
        None
    }
}

/// Applies both fixes. Call first thing in `main`, before any thread
/// exists. Returns what was changed, for the log (which is not set up yet).
pub fn apply() -> Vec<String> {
    let mut done = Vec::new();
    if let Some(lang) = locale_fix(|k| std::env::var(k).ok()) {
        // SAFETY: called first thing in `main`, before any other thread
        // exists, so nothing reads the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::remove_var("LC_ALL");
            std::env::set_var("LANG", lang);
        }
        done.push(format!("locale C/POSIX: LANG={lang}"));
    }
    if cfg!(target_os = "linux") {
        let set = std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_some();
        if let Some(why) = dmabuf_fix(set, Graphics::detect()) {
            // SAFETY: as above, no other thread exists yet.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
            }
            done.push(format!("WEBKIT_DISABLE_DMABUF_RENDERER=1 ({why})"));
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn c_and_posix_locales_become_english() {
        assert_eq!(locale_fix(env(&[])), Some("en_US.UTF-8"));
        assert_eq!(locale_fix(env(&[("LANG", "C")])), Some("en_US.UTF-8"));
        assert_eq!(
            locale_fix(env(&[("LANG", "C.UTF-8"), ("LC_ALL", "POSIX")])),
            Some("en_US.UTF-8")
        );
        assert_eq!(locale_fix(env(&[("LANG", "")])), Some("en_US.UTF-8"));
    }

    #[test]
    fn a_real_locale_anywhere_is_kept() {
        assert_eq!(locale_fix(env(&[("LANG", "de_DE.UTF-8")])), None);
        assert_eq!(
            locale_fix(env(&[("LANG", "C"), ("LC_ALL", "fr_FR.UTF-8")])),
            None
        );
        assert_eq!(locale_fix(env(&[("LC_MESSAGES", "pt_BR.UTF-8")])), None);
    }

    #[test]
    fn dmabuf_is_disabled_without_a_gpu_or_with_nvidia_only() {
        let g = |render_node, nvidia| Graphics {
            render_node,
            nvidia,
        };
        assert!(dmabuf_fix(false, g(false, false)).is_some());
        assert!(dmabuf_fix(false, g(true, true)).is_some());
        assert_eq!(dmabuf_fix(false, g(true, false)), None);
    }

    #[test]
    fn the_users_own_setting_wins() {
        for (r, n) in [(false, false), (true, true), (true, false)] {
            let g = Graphics {
                render_node: r,
                nvidia: n,
            };
            assert_eq!(dmabuf_fix(true, g), None);
        }
    }
}
