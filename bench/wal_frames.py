#!/usr/bin/env python3
"""What a WAL commit's write pattern costs on this disk: N frames written as 2N pwrites (SQLite's
header + page per frame) against one pwrite of the same bytes, each followed by an fsync.

Usage: python3 bench/wal_frames.py [FRAMES] [DIR]   (default 90 frames, the current directory)."""
import os
import sys
import time

frames = int(sys.argv[1]) if len(sys.argv) > 1 else 90
path = os.path.join(sys.argv[2] if len(sys.argv) > 2 else ".", "wal_frames.test")
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
hdr = os.urandom(24); page = os.urandom(4096)

def split(off):
    for i in range(frames):
        os.pwrite(fd, hdr, off); off += 24
        os.pwrite(fd, page, off); off += 4096
    return off
def joined(off):
    buf = b"".join([hdr, page] * frames)
    os.pwrite(fd, buf, off); return off + len(buf)
for name, f in (("split", split), ("joined", joined), ("split", split), ("joined", joined)):
    ws=[]; ss=[]
    for r in range(200):
        t = time.perf_counter(); f(0); t2 = time.perf_counter(); os.fsync(fd); t3 = time.perf_counter()
        ws.append(t2-t); ss.append(t3-t2)
    ws.sort(); ss.sort()
    print(f"{name}: write p50 {ws[100]*1e3:.3f} ms, fsync p50 {ss[100]*1e3:.3f} ms")
os.unlink(path)
