#!/usr/bin/env bash
# Installs the .deb that scripts/package.sh built, checks what a user gets,
# measures it, and removes it again. CI runs it after the test suite
# (.ci/run); it needs root (or sudo) for dpkg.
#
#   tests/package/check.sh [path/to/hublet_*.deb]
#
# Checks: the CLI and the app are on PATH with their version; the standard
# ports capability is granted; man pages, completions and the desktop entry
# are where the system looks; `hublet serve` answers; the installed app
# starts under Xvfb with the demo fleet and its hub answers; removal leaves
# no binary behind. Prints the install size, the app's cold start (launch →
# hub answering) and its idle memory (PSS of all its processes).
set -euo pipefail
# With pipefail, `cmd | grep -q` fails when grep exits at its first match
# and `cmd` then dies of SIGPIPE: the checks below let grep read it all.
cd "$(dirname "$0")/../.."
deb="${1:-$(ls -t target/release/bundle/deb/*.deb | head -1)}"
sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
work="$(mktemp -d)"
cleanup() {
  [[ -n "${app_pids:-}" ]] && kill $app_pids 2>/dev/null || true
  [[ -n "${app_pid:-}" ]] && stop_xvfb_run "$app_pid"
  # Whatever failed, the machine is left without the package.
  [[ -n "${installed:-}" ]] && $sudo dpkg -r "$pkg" >/dev/null 2>&1 || true
  [[ -n "${serve_pid:-}" ]] && kill "$serve_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "!! package: $*" >&2; exit 1; }
# xvfb-run stops its Xvfb when its command exits; killed itself, it would
# leave the server running. So give it a moment to end on its own first.
stop_xvfb_run() {
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  pkill -P "$1" 2>/dev/null || true
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

echo "== install $deb"
pkg="$(dpkg-deb -f "$deb" Package)"
if dpkg -s "$pkg" >/dev/null 2>&1; then
  fail "$pkg is already installed here; this check installs and removes it, so remove yours first"
fi
installed=1
# apt-get installs the package's dependencies too (libcap2-bin, xdg-utils),
# as a user's `apt install ./…deb` would; dpkg -i alone would not.
$sudo apt-get install -y -qq "$(realpath "$deb")" >/dev/null || fail "apt-get install $deb failed"
for bin in hublet hublet-desktop; do
  [[ "$(command -v $bin)" == /usr/bin/$bin ]] || fail "$bin is not installed in /usr/bin"
done
hublet --version
hublet-desktop --version
getcap /usr/bin/hublet | grep cap_net_bind_service >/dev/null || fail "/usr/bin/hublet lacks cap_net_bind_service"
[[ -f /usr/share/man/man1/hublet.1.gz ]] || fail "no man page"
[[ -f /usr/share/man/man1/hublet-send.1.gz ]] || fail "no man page per command"
[[ -f /usr/share/bash-completion/completions/hublet ]] || fail "no bash completion"
[[ -f /usr/share/zsh/vendor-completions/_hublet ]] || fail "no zsh completion"
[[ -f /usr/share/fish/vendor_completions.d/hublet.fish ]] || fail "no fish completion"
desktop="$(dpkg -L "$pkg" | awk '/^\/usr\/share\/applications\/.*\.desktop$/ && !found { print; found = 1 }')"
[[ -n "$desktop" ]] && grep -q '^Exec=hublet-desktop' "$desktop" || fail "no desktop entry running hublet-desktop"
dpkg -L "$pkg" | grep '/usr/share/icons/hicolor/.*/apps/' >/dev/null || fail "no icons"
size_kb="$(dpkg-query -W -f='${Installed-Size}' "$pkg")"
echo "installed size: $((size_kb / 1024)) MiB ($size_kb KiB)"

# A hub on loopback ports only, found by the CLI through its data directory.
wait_hub() { # data dir, seconds → prints ms until its hub answers the CLI
  local t0 ms
  t0=$(date +%s%N)
  for _ in $(seq 1 $(($2 * 10))); do
    if hublet --data-dir "$1" device list >/dev/null 2>&1; then
      ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      echo "$ms"
      return 0
    fi
    sleep 0.1
  done
  return 1
}
ports=(--mqtt 127.0.0.1:0 --mqtts 127.0.0.1:0 --api 127.0.0.1:0 --https 127.0.0.1:0 --amqps 127.0.0.1:0)

echo "== hublet serve"
hublet serve --data-dir "$work/serve" "${ports[@]}" >"$work/serve.log" 2>&1 &
serve_pid=$!
wait_hub "$work/serve" 30 >/dev/null || { cat "$work/serve.log"; fail "hublet serve did not answer"; }
hublet --data-dir "$work/serve" device add pkg-check >/dev/null
hublet --data-dir "$work/serve" device list | grep pkg-check >/dev/null || fail "the installed CLI cannot drive its hub"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""

echo "== the installed app (Xvfb, demo fleet)"
export HUBLET_DATA_DIR="$work/app"
t0=$(date +%s%N)
xvfb-run -a -s "-screen 0 1440x900x24" hublet-desktop --demo "${ports[@]}" >"$work/app.log" 2>&1 &
app_pid=$!
ms=$(wait_hub "$work/app" 60) || { cat "$work/app.log"; fail "the installed app's hub did not answer"; }
echo "cold start (launch → hub answering): ${ms} ms"
# Idle: the demo fleet running, nothing else; then the PSS of the app and
# its WebKit helpers (every process in its session).
sleep 15
# The app and every process under it (WebKit's web and network processes).
tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
# Only the app this check started: the hublet-desktop under its xvfb-run.
app_pids="$(tree "$app_pid" | while read -r p; do if [[ "$(cat /proc/$p/comm 2>/dev/null)" == hublet-desktop ]]; then echo "$p"; fi; done)"
pids="$(for p in $app_pids; do tree "$p"; done | sort -u)"
pss=0
for p in $pids; do
  v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  pss=$((pss + ${v:-0}))
done
echo "idle memory (PSS, app + WebKit processes, demo fleet): $((pss / 1024)) MiB"
kill $app_pids 2>/dev/null || true
stop_xvfb_run "$app_pid"
app_pid=""; app_pids=""

echo "== remove"
$sudo dpkg -r "$pkg" >/dev/null || fail "dpkg -r failed"
installed=""
[[ ! -e /usr/bin/hublet && ! -e /usr/bin/hublet-desktop ]] || fail "binaries left after removal"
echo "package: passed"
