#!/usr/bin/env python3
"""summarize.py RAW.csv OUT.md CMDLINE WORKDIR - the table of tests/bench/run.sh.

Medians over runs; within a run, per-segment times are summarised by their
median and p95.  Ratios are TotalRecall / pgBackRest of the number shown
(below 1: TotalRecall is faster, or stores less)."""
import csv
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict

raw, out, cmdline, workdir = sys.argv[1:5]
rows = list(csv.DictReader(open(raw)))
MiB = 1024 * 1024


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else None


calls = defaultdict(list)    # (measure, tool, storage, run) -> [ms]
rss = defaultdict(list)      # (measure, tool, storage) -> [kB]
fails = defaultdict(int)     # (measure, tool, storage) -> failed calls
nbytes = defaultdict(list)   # (measure, tool, storage) -> [bytes]
dbsize = defaultdict(list)   # storage -> [bytes]
s3_unavailable = False
tr_s3_msg = None
for r in rows:
    m, t, s = r["measure"], r["tool"], r["storage"]
    if m == "s3":
        if t == "tr-unavailable":
            tr_s3_msg = r["item"]
        else:
            s3_unavailable = True
        continue
    if m == "dbsize":
        dbsize[(s, r["item"])].append(int(r["bytes"]))
        continue
    if r["item"] == "bytes":
        if r["bytes"].lstrip("-").isdigit():
            nbytes[(m, t, s)].append(int(r["bytes"]))
        continue
    if r["item"] == "total":
        calls[(m + "-total", t, s, r["run"])].append(float(r["ms"]))
        fails[(m, t, s)] += int(r["rc"] or 0)
        continue
    calls[(m, t, s, r["run"])].append(float(r["ms"]))
    if r["rss_kb"]:
        rss[(m.replace("-call", ""), t, s)].append(int(r["rss_kb"]))
    if r["rc"] not in ("", "0") and not m.endswith("-call"):
        fails[(m, t, s)] += 1


def per_run(m, t, s, f):
    runs = sorted({k[3] for k in calls if k[:3] == (m, t, s)})
    return [f(calls[(m, t, s, r)]) for r in runs]


def fmt_bytes(b):
    if b is None:
        return "-"
    return f"{b / MiB:.1f} MiB" if b >= MiB else f"{b / 1024:.0f} KiB"


def fmt_rss(k):
    return f"{k / 1024:.0f} MiB" if k else "-"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


table = []   # markdown rows
csvrows = []
checks = []  # (target, value, met)


def row(label, storage, trv, pgv, unit, m_tr, m_pg, extra_tr="", extra_pg=""):
    def show(v, extra):
        if v is None:
            return "-"
        return (f"{v:.0f} {unit}" if v >= 100 else f"{v:.2f} {unit}") + extra
    bt, bp = med(nbytes.get((m_tr, "tr", storage), [])), med(nbytes.get((m_pg, "pgbr", storage), []))
    rt, rp = max(rss.get((m_tr, "tr", storage), [0]) or [0]), max(rss.get((m_pg, "pgbr", storage), [0]) or [0])
    ft, fp = fails.get((m_tr, "tr", storage), 0), fails.get((m_pg, "pgbr", storage), 0)
    note = ""
    if ft or fp:
        note = f" (failed calls: TotalRecall {ft}, pgBackRest {fp})"
    table.append(f"| {label}{note} | {storage} | {show(trv, extra_tr)} | {show(pgv, extra_pg)} | {ratio(trv, pgv)} | "
                 f"{fmt_bytes(bt)} | {fmt_bytes(bp)} | {ratio(bt, bp)} | {fmt_rss(rt)} | {fmt_rss(rp)} |")
    csvrows.append([label, storage, trv, pgv, unit, bt, bp, rt, rp, ft, fp])
    return trv, pgv, rt, rp


storages = [s for s in ("local", "s3") if any(k[2] == s for k in calls)]
for s in storages:
    nseg = len(calls.get(("seg", "tr", s, "1"), [])) or len(calls.get(("seg", "pgbr", s, "1"), []))
    med_tr = med(per_run("seg", "tr", s, med))
    med_pg = med(per_run("seg", "pgbr", s, med))
    row(f"archive-put, one at a time ({nseg} segments): median", s, med_tr, med_pg, "ms", "seg", "seg")
    row("archive-put, one at a time: p95", s, med(per_run("seg", "tr", s, p95)),
        med(per_run("seg", "pgbr", s, p95)), "ms", "seg", "seg")
    if s == "local" and med_tr and med_pg:
        checks.append(("archive-put per segment <= 0.5 x archive-push (median)", f"{med_tr / med_pg:.2f} x",
                       med_tr <= 0.5 * med_pg))
    nb = len(calls.get(("burst-call", "tr", s, "1"), [])) or len(calls.get(("burst-call", "pgbr", s, "1"), []))
    bt = med(per_run("burst-total", "tr", s, lambda x: x[0] / 1000))
    bp = med(per_run("burst-total", "pgbr", s, lambda x: x[0] / 1000))
    b0 = med(per_run("burst0-total", "tr", s, lambda x: x[0] / 1000))
    rate = (lambda v: f" ({nb / v:.1f} seg/s)" if v else "")
    row(f"burst of {nb} ready segments: TotalRecall look-ahead vs pgBackRest archive-async", s, bt, bp, "s",
        "burst", "burst", rate(bt), rate(bp))
    row("burst: TotalRecall archive-ahead=0 vs pgBackRest archive-async", s, b0, bp, "s", "burst0", "burst",
        rate(b0), rate(bp))
    if s == "local" and bt and b0:
        checks.append(("burst with look-ahead >= 3 x the rate of one at a time (archive-ahead=0)",
                       f"{b0 / bt:.2f} x", b0 / bt >= 3))
    db = med(dbsize.get((s, "full"), []))
    ft = med(per_run("full", "tr", s, lambda x: x[0] / 1000))
    fp = med(per_run("full", "pgbr", s, lambda x: x[0] / 1000))
    mbs = (lambda v: f" ({db / 1e6 / v:.0f} MB/s)" if v and db else "")
    row(f"full backup ({fmt_bytes(db)} database)", s, ft, fp, "s", "full", "full", mbs(ft), mbs(fp))
    it = med(per_run("incr", "tr", s, lambda x: x[0] / 1000))
    ip = med(per_run("incr", "pgbr", s, lambda x: x[0] / 1000))
    row("second backup after 1% of aid changed (bytes: added)", s, it, ip, "s", "incr", "incr")
    rt = med(per_run("restore", "tr", s, lambda x: x[0] / 1000))
    rp = med(per_run("restore", "pgbr", s, lambda x: x[0] / 1000))
    row("restore", s, rt, rp, "s", "restore", "restore", mbs(rt), mbs(rp))
    if s == "local":
        if ft and fp:
            checks.append(("backup wall time <= 0.7 x pgBackRest", f"{ft / fp:.2f} x", ft <= 0.7 * fp))
        if rt and rp:
            checks.append(("restore wall time <= 0.7 x pgBackRest", f"{rt / rp:.2f} x", rt <= 0.7 * rp))
        seg_rss = max(rss.get(("seg", "tr", s), [0]) + rss.get(("burst", "tr", s), [0]))
        checks.append(("archive-put peak RSS <= 32 MiB (incl. look-ahead)", fmt_rss(seg_rss), seg_rss <= 32 * 1024))
        for m in ("full", "incr", "restore"):
            v = max(rss.get((m, "tr", s), [0]))
            checks.append((f"{m} peak RSS <= 256 MiB (scale of the table)", fmt_rss(v), 0 < v <= 256 * 1024))

big = [k for k in rss if k[0].startswith("full-s") or k[0].startswith("restore-s")]
for k in sorted(big):
    v = max(rss[k])
    t = calls.get((k[0], "tr", "local", "1"), [None])[0]
    db = med(dbsize.get(("local", "big"), []))
    table.append(f"| TotalRecall {k[0].replace('-s', ' at scale ')} ({fmt_bytes(db)} database) | local | "
                 f"{t / 1000:.1f} s ({db / 1e6 / (t / 1000):.0f} MB/s) | - | - | "
                 f"{fmt_bytes(med(nbytes.get((k[0], 'tr', 'local'), [])))} | - | - | {fmt_rss(v)} | - |")
    checks.append((f"{k[0]} peak RSS <= 256 MiB", fmt_rss(v), v <= 256 * 1024))


def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "?"


cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1")
dev = sh(f"df --output=source {workdir} | tail -1")
disk = sh(f"lsblk -dno NAME,SIZE,ROTA,MODEL {dev} 2>/dev/null") or dev
fs = sh(f"df -T {workdir} | awk 'NR==2{{print $2}}'")
mem = sh("free -g | awk '/Mem:/{print $2}'")
runs = max([int(k[3]) for k in calls if k[2] == "local"] or [0])
s3runs = max([int(k[3]) for k in calls if k[2] == "s3"] or [0])
lines = [
    "### TotalRecall / pgBackRest",
    "",
    f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{cmdline.strip()}` "
    f"(medians of {runs} run(s) on local disk, {s3runs} on S3; per-call times include process start). "
    f"Load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])} (the host is shared).",
    "",
    f"Machine: {os.cpu_count()} CPUs ({cpu}), {mem} GiB RAM, Linux {platform.release()}, "
    f"disk {disk} ({fs}); PostgreSQL 15, {sh('pgbackrest version')}, "
    f"{sh('cd ' + os.path.dirname(os.path.abspath(__file__)) + '/../.. && src/totalrecall version | head -1')}.",
    "",
    "Settings: TotalRecall defaults (parallel = number of CPUs, zstd level 3, AES-256-GCM, archive-ahead=4). "
    f"pgBackRest: compress-type=zst (default level), repo1-cipher-type=aes-256-cbc, process-max={os.cpu_count()}, "
    "start-fast=y; burst: archive-async=y with spool-path. S3: moto_server over https "
    f"({os.environ.get('BENCH_S3_TLS', '?')}, self-signed, verification off for both), path-style.",
    "",
    "| measure | repository | TotalRecall | pgBackRest | ratio | stored TotalRecall | stored pgBackRest | "
    "ratio | peak RSS TotalRecall | peak RSS pgBackRest |",
    "|---|---|---|---|---|---|---|---|---|---|",
] + table
if s3_unavailable:
    lines += ["", "S3 rows missing: the S3 server (moto_server) did not answer."]
if tr_s3_msg:
    lines += ["", "S3 rows: TotalRecall's s3 driver is not usable in this build, so only pgBackRest was measured "
              f"against S3 (`totalrecall list` said: {tr_s3_msg.strip()})."]
lines += ["", "Targets (local-disk repository):", ""]
for name, val, ok in checks:
    lines.append(f"* {'met' if ok else '**missed**'}: {name}: {val}")
lines += ["", "Stored bytes: archive rows, the whole repository after the segments (plus the keyring / "
          "archive.info and the one segment `check` archives); backup rows, the backup part of the repository "
          "(TotalRecall: chunks, manifests; pgBackRest: backup/); second backup: what it added. pgBackRest's "
          "async archiving runs in a detached process whose RSS /usr/bin/time does not see; TotalRecall's "
          "look-ahead runs in threads of the archive-put process and is included.", ""]
open(out, "w").write("\n".join(lines))
with open(os.path.splitext(out)[0] + "-summary.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["measure", "storage", "totalrecall", "pgbackrest", "unit", "tr_bytes", "pgbr_bytes",
                "tr_rss_kb", "pgbr_rss_kb", "tr_failed", "pgbr_failed"])
    w.writerows(csvrows)
print("\n".join(lines))
