"""Every snippet in docs/ runs as written.

Each page's ```sh and ```python blocks run in order, in one working
directory, against a hub this test starts on the documented default ports
(so `hublet` needs no --hub, and connection strings are the ones a reader
gets). `hublet` is the built binary, `python` the venv with the Azure SDKs.
Shell blocks share exported variables with later blocks of the page.

A block that cannot run here says why, on the line before its fence:

    <!-- no-run: starts the desktop app -->

and anything else (```text, ```toml, ```cpp, output samples) is not run.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
RUNNABLE = {"sh": "sh", "bash": "sh", "python": "python"}
FENCE = re.compile(r"^```(\w*)\s*$")
NO_RUN = re.compile(r"<!--\s*no-run:\s*(.+?)\s*-->")


def blocks(page: Path):
    """(language, code, line) of each runnable block; no-run blocks are
    returned with language None and their reason."""
    lines = page.read_text().splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        lang, start = m.group(1), i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        code = "\n".join(lines[start:j]) + "\n"
        prev = lines[i - 1] if i > 0 else ""
        skip = NO_RUN.search(prev)
        if lang in RUNNABLE:
            out.append((None if skip else RUNNABLE[lang], skip.group(1) if skip else code, start))
        i = j + 1
    return out


def test_every_no_run_marker_gives_a_reason_and_precedes_a_block():
    for page in DOCS:
        lines = page.read_text().splitlines()
        for n, line in enumerate(lines):
            if "no-run" in line:
                assert NO_RUN.search(line), f"{page.name}:{n + 1}: write <!-- no-run: why -->"
                assert n + 1 < len(lines) and FENCE.match(lines[n + 1]), f"{page.name}:{n + 1}: the marker must be right above a fence"


@pytest.fixture
def standard_hub():
    """A hub on the documented default ports (HTTPS on 443 where this user
    may bind it, else 8443), its data directory in HUBLET_DATA_DIR."""
    binary = os.environ["HUBLET_BIN"]
    data_dir = tempfile.mkdtemp(prefix="hublet-docs-")
    proc = subprocess.Popen(
        [binary, "--data-dir", data_dir, "serve", "--mqtt", "127.0.0.1:1883", "--mqtts", "127.0.0.1:8883",
         "--api", "127.0.0.1:8480"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(data_dir, "hub.json")):
        if proc.poll() is not None:
            raise RuntimeError("hublet serve exited: " + proc.stderr.read().decode())
        assert time.time() < deadline, "hublet serve did not start"
        time.sleep(0.05)
    try:
        yield data_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_the_snippets_of_a_page_run_as_written(page, standard_hub, tmp_path):
    runnable = [b for b in blocks(page) if b[0]]
    if not runnable:
        pytest.skip("no runnable snippet")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hublet").symlink_to(os.environ["HUBLET_BIN"])
    work = tmp_path / "work"
    work.mkdir()
    env_file = tmp_path / "env.sh"
    env_file.write_text("")
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}:{Path(os.sys.executable).parent}:{env['PATH']}"
    env["HUBLET_DATA_DIR"] = standard_hub
    env.pop("REQUESTS_CA_BUNDLE", None)
    for lang, code, line in runnable:
        where = f"{page.name}:{line}"
        if lang == "sh":
            script = f"set -euo pipefail\nsource {env_file}\n{code}\nexport -p > {env_file}\n"
            cmd = ["bash", "-c", script]
        else:
            snippet = tmp_path / f"snippet_{line}.py"
            snippet.write_text(code)
            cmd = ["bash", "-c", f"source {env_file}; exec python {snippet}"]
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, f"{where} failed ({r.returncode}):\n{code}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
