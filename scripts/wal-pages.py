#!/usr/bin/env python3
"""Which tables and indexes a hub's write-ahead log rewrote, page by page.

Every commit writes each page it dirtied whole into the WAL, so the bytes a
workload writes are (frames) x (page size). This reads the valid frames of a
WAL file, finds which b-tree each page belongs to (SQLite's `dbstat`, over a
copy of the database with that WAL), and prints frames per b-tree, per
commit and per unit of work (`--units N`, e.g. the C2D messages sent).

The hub checkpoints its WAL every 250 ms and the WAL then starts over, so
for a whole run, build the hub with the checkpointer's `INTERVAL` in
`crates/hublet-core/src/store/checkpoint.rs` raised to an hour, and copy
`hub.db` and `hub.db-wal` from its data directory while it runs (its clean
shutdown folds the WAL away). docs/benchmarks.md shows a run.

    python3 scripts/wal-pages.py hub.db hub.db-wal --units 8000
"""

import argparse
import collections
import shutil
import sqlite3
import struct
import tempfile


def frames(wal: bytes):
    """(page number, ends a commit) for each frame of the WAL's current run."""
    page_size = struct.unpack(">I", wal[8:12])[0]
    salts = struct.unpack(">II", wal[16:24])
    off = 32
    while off + 24 + page_size <= len(wal):
        page, db_size, s1, s2 = struct.unpack(">IIII", wal[off : off + 16])
        if (s1, s2) != salts:
            break  # a frame left over from before the last restart
        yield page, db_size != 0
        off += 24 + page_size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("db")
    ap.add_argument("wal")
    ap.add_argument("--units", type=float, default=1.0)
    a = ap.parse_args()
    wal = open(a.wal, "rb").read()
    page_size = struct.unpack(">I", wal[8:12])[0]
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(a.db, f"{tmp}/h.db")
        shutil.copy(a.wal, f"{tmp}/h.db-wal")
        conn = sqlite3.connect(f"{tmp}/h.db")
        owner = {
            page: (name, kind)
            for name, page, kind in conn.execute("SELECT name, pageno, pagetype FROM dbstat")
        }
        conn.close()
    per = collections.Counter()
    distinct = collections.defaultdict(set)
    sizes = collections.Counter()
    total = commits = in_commit = 0
    for page, ends in frames(wal):
        name = "page 1 (header)" if page == 1 else owner.get(page, ("free list",))[0]
        per[name] += 1
        distinct[name].add(page)
        total += 1
        in_commit += 1
        if ends:
            commits += 1
            sizes[in_commit] += 1
            in_commit = 0
    c = max(commits, 1)
    print(
        f"{page_size}-byte pages: {total} frames in {commits} commits "
        f"({total / c:.1f} a commit), {total * (page_size + 24) / a.units / 1000:.2f} KB per unit"
    )
    print(f"  {'b-tree':28} {'frames':>8} {'per unit':>9} {'per commit':>11} {'pages':>7}")
    for name, k in per.most_common():
        print(f"  {name:28} {k:8} {k / a.units:9.2f} {k / c:11.2f} {len(distinct[name]):7}")
    print("commits by frames:", ", ".join(f"{n}: {k}" for n, k in sorted(sizes.items())))


if __name__ == "__main__":
    main()
