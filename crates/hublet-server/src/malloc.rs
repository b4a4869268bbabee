//! The process's allocator settings, applied first thing in `main`.
//!
//! glibc's malloc gives a thread that finds the shared arena busy an arena
//! of its own, up to eight per core, and memory freed into one arena is not
//! reused by the others. A hub allocates a little for every connection on
//! whichever thread runs it (two async workers, the storage writer, up to
//! eight readers), so with many arenas the same small allocations end up
//! spread over pages that stay resident. Measured with
//! `cargo bench -p hublet --bench versus -- --only hublet` (2,000 idle
//! connections): 10.3–10.6 KiB of resident memory per connection with
//! glibc's default, 6.6–6.9 KiB with two arenas or one, at the same C2D
//! and method throughput (`docs/benchmarks.md`). mimalloc was measured
//! too and held 17–20 KiB per connection, so the system allocator stays.

/// The number of malloc arenas a hub process uses: one per core on the
/// two-core machines the benchmarks run on, and few enough that freed
/// memory is found again.
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`], unless the user set
/// `MALLOC_ARENA_MAX` (glibc has then applied it already). Call before
/// any thread starts. Does nothing with other C libraries.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a tunable of the allocator; it is
        // called before any other thread exists, with a valid option.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}
