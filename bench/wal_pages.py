#!/usr/bin/env python3
"""Which b-trees a commit writes: issue 16's pages per write, counted from a real WAL.

Reads the current generation of a ledger database's `-wal` file (the frames after the
last WAL restart, up to the last commit), splits it into commits, counts the records each
commit added (on a copy of the database with the WAL applied up to that commit), and names
each frame's page by the table or index it belongs to (SQLite's `dbstat`). Prints the
frames per commit and per record written, overall and per b-tree.

    python3 bench/wal_pages.py DB

Run it on the database of a server that is still running or was killed (a clean stop
checkpoints and deletes the WAL), right after a load such as
`credit-sync-bench --database sqlite:///DIR/x.db --concurrency 64 --mix adds`.
"""

import collections
import os
import shutil
import sqlite3
import struct
import sys
import tempfile

WAL_HEADER = 32
FRAME_HEADER = 24


def commits(wal_path):
    """The current generation's commits, each a list of page numbers, in order."""
    with open(wal_path, "rb") as f:
        data = f.read()
    if len(data) < WAL_HEADER:
        return [], 0
    _magic, _version, page_size, _ckpt, salt1, salt2 = struct.unpack(">6I", data[:24])
    found, pages, offset = [], [], WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(data):
        page, size_after, s1, s2 = struct.unpack(">4I", data[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break  # an older generation's frame: the current one ended
        pages.append(page)
        if size_after:
            found.append(pages)
            pages = []
        offset += FRAME_HEADER + page_size
    return found, page_size


def with_wal(db_path, wal_path, tmp, wal_bytes, query):
    """`query`'s rows on a copy of the database with the WAL's first `wal_bytes` applied."""
    copy = os.path.join(tmp, "copy.db")
    shutil.copyfile(db_path, copy)
    with open(wal_path, "rb") as src, open(copy + "-wal", "wb") as dst:
        dst.write(src.read(wal_bytes))
    conn = sqlite3.connect(copy)
    rows = conn.execute(query).fetchall()
    conn.close()
    for leftover in (copy, copy + "-wal", copy + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    return rows


def records_after(db_path, wal_path, tmp, found, page_size):
    """The records table's highest id after each commit (and before the first)."""
    ends, frames = [WAL_HEADER], 0
    for pages in found:
        frames += len(pages)
        ends.append(WAL_HEADER + frames * (FRAME_HEADER + page_size))
    query = "SELECT COALESCE(MAX(id), 0) FROM records"
    return [with_wal(db_path, wal_path, tmp, end, query)[0][0] for end in ends]


def main():
    db = sys.argv[1]
    wal = db + "-wal"
    found, page_size = commits(wal)
    if not found:
        print(f"{wal}: no committed frames in the current generation")
        return
    with tempfile.TemporaryDirectory() as tmp:
        size = os.path.getsize(wal)
        owners = dict(with_wal(db, wal, tmp, size, "SELECT pageno, name FROM dbstat"))
        marks = records_after(db, wal, tmp, found, page_size)
    records = marks[-1] - marks[0]
    by_tree = collections.Counter()
    for pages in found:
        for page in pages:
            by_tree[owners.get(page, "(free or new)")] += 1
    frames = sum(by_tree.values())
    sizes = [b - a for a, b in zip(marks, marks[1:])]
    print(f"{len(found)} commits of {min(sizes)}-{max(sizes)} records "
          f"({records / len(found):.1f} on average), {frames} frames of {page_size} bytes: "
          f"{frames / len(found):.1f} per commit, {frames / max(records, 1):.2f} per record")
    for name, count in by_tree.most_common():
        print(f"  {name:32} {count / max(records, 1):6.2f} per record  "
              f"{100 * count / frames:5.1f} %")


if __name__ == "__main__":
    main()
