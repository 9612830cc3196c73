#!/usr/bin/env python3
"""What a WAL commit's write pattern costs on this disk: N frames written as SQLite writes
them, 2N pwrites (each frame's 24-byte header, then its page), against one pwrite of the
same bytes (what a VFS that buffers the WAL until its sync would do; joining the bytes is
timed too), each followed by an fsync. Prints the p50 of 200 commits, twice each way.

Usage: python3 bench/wal_frames.py [FRAMES] [DIR]   (default 90 frames, the current directory)
"""

import os
import sys
import time

HEADER = os.urandom(24)
PAGE = os.urandom(4096)
COMMITS = 200


def split(fd: int, frames: int) -> None:
    """SQLite's way: a pwrite for each frame's header and one for its page."""
    offset = 0
    for _ in range(frames):
        os.pwrite(fd, HEADER, offset)
        offset += len(HEADER)
        os.pwrite(fd, PAGE, offset)
        offset += len(PAGE)


def joined(fd: int, frames: int) -> None:
    """The same bytes in one pwrite."""
    os.pwrite(fd, b"".join([HEADER, PAGE] * frames), 0)


def measure(fd: int, write, frames: int) -> tuple[float, float]:
    """p50 of the write and of the fsync after it, in ms, rewriting the file from offset 0."""
    writes, syncs = [], []
    for _ in range(COMMITS):
        started = time.perf_counter()
        write(fd, frames)
        written = time.perf_counter()
        os.fsync(fd)
        writes.append(written - started)
        syncs.append(time.perf_counter() - written)
    writes.sort()
    syncs.sort()
    return writes[COMMITS // 2] * 1e3, syncs[COMMITS // 2] * 1e3


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 90
    path = os.path.join(sys.argv[2] if len(sys.argv) > 2 else ".", "wal_frames.test")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for name, write in (("split", split), ("joined", joined)) * 2:
            write_ms, sync_ms = measure(fd, write, frames)
            print(f"{name}: write p50 {write_ms:.3f} ms, fsync p50 {sync_ms:.3f} ms")
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
