#!/usr/bin/env python3
"""mkwal.py - writes a file that passes archive-put's WAL segment check
(src/pg/walheader.h): the long page header PostgreSQL writes at the start of
a segment, for the segment the file name denotes, then SEED-determined
bytes and zeros.  The same arguments always give the same bytes, so a
test can compare what archive-get returns with a fresh copy.

    mkwal.py NAME OUT [--size BYTES] [--tli N] [--sysid N] [--magic 0xD110] [--seed S] [--random BYTES]
"""
import argparse
import random
import struct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=16 << 20)
    ap.add_argument("--tli", type=int, default=None, help="page timeline (default: the name's)")
    ap.add_argument("--sysid", type=int, default=7000000000000000001)
    ap.add_argument("--magic", type=lambda v: int(v, 0), default=0xD110)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--random", type=int, default=4096, help="seeded bytes after the header")
    a = ap.parse_args()
    tli, log, seg = int(a.name[0:8], 16), int(a.name[8:16], 16), int(a.name[16:24], 16)
    segno = log * (0x100000000 // a.size) + seg
    hdr = struct.pack("<HHIQI4xQII", a.magic, 0x0002, a.tli if a.tli is not None else tli,
                      segno * a.size, 0, a.sysid, a.size, 8192)
    rng = random.Random(a.seed)
    body = rng.randbytes(a.random)
    with open(a.out, "wb") as f:
        f.write(hdr)
        f.write(body)
        f.truncate(a.size)


if __name__ == "__main__":
    main()
