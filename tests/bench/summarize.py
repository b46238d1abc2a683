#!/usr/bin/env python3
"""summarize.py RAW.csv OUT.md CMDLINE WORKDIR - the tables of tests/bench/run.sh.

Medians over runs; within a run, per-segment times are summarised by their
median and p95.  Ratios are TotalRecall / pgBackRest of the number shown
(below 1: TotalRecall is faster, or stores less).  Storage labels: "local",
and one "s3-<delay>ms" per S3 profile (moto behind a latency proxy).
Tools: "tr" (TotalRecall defaults), "pgbr" (pgBackRest, process-max = the
number of CPUs), "pgbr16" (pgBackRest, process-max=16, S3 only).

Request counts come from moto's log (one line per request, between the
start and the end of each call) in S3's price tiers: PUT, COPY, POST and
LIST at $0.005 per 1,000; GET and HEAD at $0.0004 per 1,000; DELETE free
(S3 Standard, us-east-1)."""
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
GiB = 1024 * MiB
PRICE_PUT, PRICE_GET = 0.005 / 1000, 0.0004 / 1000
NCPU = os.cpu_count() or 1
TOOL_NAME = {"tr": "TotalRecall", "pgbr": f"pgBackRest process-max={NCPU}", "pgbr16": "pgBackRest process-max=16"}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else None


def num(v, conv=float):
    try:
        return conv(v) if v not in (None, "") else None
    except ValueError:
        return None


calls = defaultdict(list)    # (measure, tool, storage, run) -> [ms]
cpu = defaultdict(list)      # (measure, tool, storage) -> [cpu seconds per call]
rss = defaultdict(list)      # (measure, tool, storage) -> [kB]
fails = defaultdict(int)     # (measure, tool, storage) -> failed calls
nbytes = defaultdict(list)   # (measure, tool, storage) -> [bytes]
reqs = defaultdict(list)     # (measure, tool, storage) -> [(put, get, delete)]
dbsize = defaultdict(list)   # (storage, item) -> [bytes]
server_cpu = defaultdict(list)  # (measure, tool, storage) -> [CPU seconds of the S3 server side meanwhile]
storages = []
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
    if s and s not in storages and m != "dbsize":
        storages.append(s)
    if m == "dbsize":
        dbsize[(s, r["item"])].append(int(r["bytes"]))
        continue
    if r["item"] == "bytes":
        if r["bytes"].lstrip("-").isdigit():
            nbytes[(m, t, s)].append(int(r["bytes"]))
        continue
    if m.endswith("-server"):
        server_cpu[(m[:-len("-server")], t, s)].append(num(r["cpu_s"]))
        continue
    if r["item"] == "total":  # a burst, timed as a whole: wall, CPU and peak RSS of all its calls
        calls[(m + "-total", t, s, r["run"])].append(float(r["ms"]))
        fails[(m, t, s)] += int(r["rc"] or 0)
        if num(r.get("cpu_s")) is not None:
            cpu[(m + "-total", t, s)].append(num(r["cpu_s"]))
        if r["rss_kb"]:
            rss[(m, t, s)].append(int(r["rss_kb"]))
        if num(r.get("req_put"), int) is not None:
            reqs[(m, t, s)].append((int(r["req_put"]), int(r["req_get"]), int(r["req_del"] or 0)))
        continue
    calls[(m, t, s, r["run"])].append(float(r["ms"]))
    if num(r.get("cpu_s")) is not None:
        cpu[(m, t, s)].append(num(r["cpu_s"]))
    if r["rss_kb"]:
        rss[(m.replace("-call", ""), t, s)].append(int(r["rss_kb"]))
    if num(r.get("req_put"), int) is not None:
        reqs[(m, t, s)].append((int(r["req_put"]), int(r["req_get"]), int(r["req_del"] or 0)))
    if r["rc"] not in ("", "0") and not m.endswith("-call"):
        fails[(m, t, s)] += 1


def per_run(m, t, s, f):
    runs = sorted({k[3] for k in calls if k[:3] == (m, t, s)})
    return [f(calls[(m, t, s, r)]) for r in runs]


def seconds(m, t, s):
    return med(per_run(m, t, s, lambda x: x[0] / 1000))


def fmt_bytes(b):
    if b is None:
        return "-"
    return f"{b / MiB:.1f} MiB" if b >= MiB else f"{b / 1024:.0f} KiB"


def fmt_rss(k):
    return f"{k / 1024:.0f} MiB" if k else "-"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


table = []    # markdown rows, main table
reqtable = []  # markdown rows, requests and cost
csvrows = []
checks = []   # (target, value, met)


def row(label, storage, trv, pgv, unit, m_tr, m_pg, pg_tool="pgbr", extra_tr="", extra_pg=""):
    def show(v, extra):
        if v is None:
            return "-"
        return (f"{v:.0f} {unit}" if v >= 100 else f"{v:.2f} {unit}") + extra
    bt, bp = med(nbytes.get((m_tr, "tr", storage), [])), med(nbytes.get((m_pg, pg_tool, storage), []))
    rt, rp = max(rss.get((m_tr, "tr", storage), [0]) or [0]), max(rss.get((m_pg, pg_tool, storage), [0]) or [0])
    ft, fp = fails.get((m_tr, "tr", storage), 0), fails.get((m_pg, pg_tool, storage), 0)
    note = ""
    if ft or fp:
        note = f" (failed calls: TotalRecall {ft}, pgBackRest {fp})"
    who = "" if pg_tool == "pgbr" else f" (vs {TOOL_NAME[pg_tool]})"
    table.append(f"| {label}{who}{note} | {storage} | {show(trv, extra_tr)} | {show(pgv, extra_pg)} | "
                 f"{ratio(trv, pgv)} | {fmt_bytes(bt)} | {fmt_bytes(bp)} | {ratio(bt, bp)} | {fmt_rss(rt)} | "
                 f"{fmt_rss(rp)} |")
    csvrows.append([label + who, storage, trv, pgv, unit, bt, bp, rt, rp, ft, fp])


def request_row(label, m, tool, storage, per_bytes, per_what):
    v = reqs.get((m, tool, storage))
    if not v:
        return None
    put, get, dele = (med([x[i] for x in v]) for i in range(3))
    cost = put * PRICE_PUT + get * PRICE_GET
    per = f"{(put + get) / (per_bytes / GiB):.0f}" if per_bytes else "-"
    reqtable.append(f"| {label} | {TOOL_NAME[tool]} | {storage} | {put:.0f} | {get:.0f} | {dele:.0f} | "
                    f"{per} per GiB {per_what} | ${cost:.4f} |")
    return put, get


def target(name, value, met):
    checks.append((name, value, met))


def busy(s, wall):
    """How busy the machine's CPUs were during TotalRecall's default burst
    on S3: its own calls and the S3 server side share them here."""
    own, srv = med(cpu.get(("burst-total", "tr", s), [])), med(server_cpu.get(("burst", "tr", s), []))
    if own is None or srv is None or not wall:
        return ""
    return (f"; CPUs {100 * (own + srv) / (wall * NCPU):.0f} % busy: archive-put {own:.2f} s and the S3 server "
            f"side (moto, stunnel, latency proxy) {srv:.2f} s of CPU in {wall:.2f} s on {NCPU} CPUs")


one_rate = {}  # storage -> segments/s one at a time (median call)
for s in storages:
    local = s == "local"
    nseg = len(calls.get(("seg", "tr", s, "1"), [])) or len(calls.get(("seg", "pgbr", s, "1"), []))
    med_tr = med(per_run("seg", "tr", s, med))
    med_pg = med(per_run("seg", "pgbr", s, med))
    if nseg:
        row(f"archive-put, one at a time ({nseg} segments): median", s, med_tr, med_pg, "ms", "seg", "seg")
        row("archive-put, one at a time: p95", s, med(per_run("seg", "tr", s, p95)),
            med(per_run("seg", "pgbr", s, p95)), "ms", "seg", "seg")
    if local and med_tr and med_pg:
        target("local: archive-put per segment <= 0.5 x archive-push (median)", f"{med_tr / med_pg:.2f} x",
               med_tr <= 0.5 * med_pg)
    nb = nseg
    bt = seconds("burst-total", "tr", s)
    bp = seconds("burst-total", "pgbr", s)
    b0 = seconds("burst0-total", "tr", s)
    rate = (lambda v: f" ({nb / v:.1f} seg/s)" if v else "")
    if nb:
        row(f"burst of {nb} ready segments: TotalRecall default look-ahead vs pgBackRest archive-async", s, bt,
            bp, "s", "burst", "burst", "pgbr", rate(bt), rate(bp))
        row("burst: TotalRecall archive-ahead=0 vs pgBackRest archive-async", s, b0, bp, "s", "burst0", "burst",
            "pgbr", rate(b0), rate(bp))
    # "One at a time" for the burst targets is the same loop of calls with
    # archive-ahead=0 (burst0): both rates then include the loop's own work
    # between calls (a rename, as the archiver does), which the per-call
    # medians above do not.  The CPU ceiling takes that loop's CPU per
    # segment, measured over the whole loop (per call, /usr/bin/time
    # truncates to 10 ms).
    if b0 and bt and nb:
        one = nb / b0
        one_rate[s] = one
        burst_rate = nb / bt
        if local:
            target("local: a burst with default settings is never slower than one at a time",
                   f"{burst_rate:.1f} vs {one:.1f} seg/s", burst_rate >= one * 0.97)
            seg_cpu = med(cpu.get(("burst0-total", "tr", s), [])) or 0
            if seg_cpu:
                seg_cpu /= nb
                ceiling = NCPU / seg_cpu
                target(f"local: burst >= 0.85 x the CPU ceiling ({NCPU} CPUs / {seg_cpu * 1000:.0f} ms of CPU "
                       f"per segment = {ceiling:.1f} seg/s)", f"{burst_rate / ceiling:.2f} x",
                       burst_rate >= 0.85 * ceiling)
        else:
            target(f"{s}: burst with default look-ahead >= 3 x the one-at-a-time rate",
                   f"{burst_rate / one:.2f} x ({burst_rate:.1f} vs {one:.1f} seg/s){busy(s, bt)}",
                   burst_rate >= 3 * one)
            if bp:
                target(f"{s}: burst >= 1.5 x pgBackRest archive-async (process-max={NCPU})",
                       f"{bp / bt:.2f} x", bp >= 1.5 * bt)
    db = med(dbsize.get((s, "full"), []))
    mbs = (lambda v: f" ({db / 1e6 / v:.0f} MB/s)" if v and db else "")
    for tool in ("pgbr", "pgbr16"):
        ft, fp = seconds("full", "tr", s), seconds("full", tool, s)
        if fp is None and tool != "pgbr":
            continue
        row(f"full backup ({fmt_bytes(db)} database)", s, ft, fp, "s", "full", "full", tool, mbs(ft), mbs(fp))
        it, ip = seconds("incr", "tr", s), seconds("incr", tool, s)
        row("second backup after 1% of aid changed (bytes: added)", s, it, ip, "s", "incr", "incr", tool)
        rt, rp = seconds("restore", "tr", s), seconds("restore", tool, s)
        row("restore", s, rt, rp, "s", "restore", "restore", tool, mbs(rt), mbs(rp))
        if local and ft and fp:
            target("local: backup wall time <= 0.7 x pgBackRest", f"{ft / fp:.2f} x", ft <= 0.7 * fp)
        if local and rt and rp:
            target("local: restore wall time <= 0.7 x pgBackRest", f"{rt / rp:.2f} x", rt <= 0.7 * rp)
        if not local and tool == "pgbr" and ft and fp:
            target(f"{s}: full backup <= 0.5 x pgBackRest process-max={NCPU}", f"{ft / fp:.2f} x", ft <= 0.5 * fp)
        if not local and rt and rp:
            lim = 0.5 if tool == "pgbr" else 0.8
            target(f"{s}: restore <= {lim} x {TOOL_NAME[tool]}", f"{rt / rp:.2f} x", rt <= lim * rp)
    if not local:
        for tool in ("tr", "pgbr", "pgbr16"):
            request_row("full backup", "full", tool, s, db, "of database")
            request_row("second backup", "incr", tool, s, db, "of database")
            request_row("restore", "restore", tool, s, db, "of database")
        gt = reqs.get(("restore", "tr", s))
        for tool in ("pgbr", "pgbr16"):
            gp = reqs.get(("restore", tool, s))
            if gt and gp:
                a, b = med([x[1] for x in gt]), med([x[1] for x in gp])
                target(f"{s}: restore GETs <= {TOOL_NAME[tool]}'s", f"{a:.0f} vs {b:.0f}", a <= b)
    seg_rss = max(rss.get(("seg", "tr", s), [0]) + rss.get(("burst", "tr", s), [0]))
    if seg_rss:
        target(f"{s}: archive-put peak RSS <= 32 MiB (incl. look-ahead)", fmt_rss(seg_rss), seg_rss <= 32 * 1024)
    for m in ("full", "incr", "restore"):
        v = max(rss.get((m, "tr", s), [0]))
        if v:
            target(f"{s}: {m} peak RSS <= 256 MiB", fmt_rss(v), v <= 256 * 1024)

big = [k for k in rss if k[0].startswith("full-s") or k[0].startswith("restore-s")]
for k in sorted(big):
    v = max(rss[k])
    t = calls.get((k[0], "tr", "local", "1"), [None])[0]
    db = med(dbsize.get(("local", "big"), []))
    table.append(f"| TotalRecall {k[0].replace('-s', ' at scale ')} ({fmt_bytes(db)} database) | local | "
                 f"{t / 1000:.1f} s ({db / 1e6 / (t / 1000):.0f} MB/s) | - | - | "
                 f"{fmt_bytes(med(nbytes.get((k[0], 'tr', 'local'), [])))} | - | - | {fmt_rss(v)} | - |")
    target(f"local: {k[0]} peak RSS <= 256 MiB", fmt_rss(v), v <= 256 * 1024)


def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "?"


cpuname = sh("lscpu | sed -n 's/^Model name: *//p' | head -1")
dev = sh(f"df --output=source {workdir} | tail -1")
disk = sh(f"lsblk -dno NAME,SIZE,ROTA,MODEL {dev} 2>/dev/null") or dev
fs = sh(f"df -T {workdir} | awk 'NR==2{{print $2}}'")
mem = sh("free -g | awk '/Mem:/{print $2}'")
runs = max([int(k[3]) for k in calls if k[2] == "local"] or [0])
s3runs = max([int(k[3]) for k in calls if k[2] != "local"] or [0])
lines = [
    "### TotalRecall / pgBackRest",
    "",
    f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{cmdline.strip()}` "
    f"(medians of {runs} run(s) on local disk, {s3runs} on S3; per-call times include process start; a burst is "
    f"one loop of calls timed as a whole). "
    f"Load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])} (the host is shared).",
    "",
    f"Machine: {NCPU} CPUs ({cpuname}), {mem} GiB RAM, Linux {platform.release()}, "
    f"disk {disk} ({fs}); PostgreSQL 15, {sh('pgbackrest version')}, "
    f"{sh('cd ' + os.path.dirname(os.path.abspath(__file__)) + '/../.. && src/totalrecall version | head -1')}.",
    "",
    "Settings: TotalRecall defaults (parallel = number of CPUs, zstd level 3, AES-256-GCM; on fs transfers = "
    "parallel and archive-ahead=16, on s3 transfers=16 and archive-ahead=8). "
    f"pgBackRest: compress-type=zst (default level), repo1-cipher-type=aes-256-cbc, process-max={NCPU} "
    "(and 16 where the row says so), start-fast=y; burst: archive-async=y with spool-path. S3 profiles "
    "(`s3-<N>ms`): moto_server behind stunnel "
    f"({os.environ.get('BENCH_S3_TLS', '?')}, self-signed, verification off for both), path-style, with a "
    "latency proxy adding N ms to every request (tests/bench/latency_proxy.py).",
    "",
    "| measure | repository | TotalRecall | pgBackRest | ratio | stored TotalRecall | stored pgBackRest | "
    "ratio | peak RSS TotalRecall | peak RSS pgBackRest |",
    "|---|---|---|---|---|---|---|---|---|---|",
] + table
if reqtable:
    lines += ["", "Requests (counted in moto's log during each call, medians) and their cost at S3 Standard "
              "prices (PUT, COPY, POST, LIST $0.005 per 1,000; GET, HEAD $0.0004 per 1,000; DELETE free). "
              "WAL the server archives while a backup runs is counted with it, for both tools.", "",
              "| measure | tool | repository | PUT/POST/LIST | GET/HEAD | DELETE | requests | cost |",
              "|---|---|---|---|---|---|---|---|"] + reqtable
if s3_unavailable:
    lines += ["", "S3 rows missing: the S3 server (moto_server) did not answer."]
if tr_s3_msg:
    lines += ["", "S3 rows: TotalRecall's s3 driver is not usable in this build, so only pgBackRest was measured "
              f"against S3 (`totalrecall list` said: {tr_s3_msg.strip()})."]
lines += ["", "Targets (issues 7 and 15):", ""]
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
