#!/usr/bin/env python3
"""Turns the files bench/compare.sh wrote into the Markdown tables of BENCHMARKS.md.

usage: summarize.py DIR   (DIR = target/bench)
"""
import json
import os
import re
import sys

DIR = sys.argv[1]
K, M = 4, 2  # The default erasure-coding scheme: 4 data + 2 parity shards.
WORKLOADS = ["put-4KiB", "get-4KiB", "put-64KiB", "get-64KiB",
             "put-64MiB-x1", "put-64MiB-x16", "get-64MiB-x1", "get-64MiB-x16"]
TARGETS = [("ringstore-binary", "ringstore binary"), ("ringstore-http", "ringstore HTTP"),
           ("garage", "Garage S3")]
# Garage without fsync (its default), when compare.sh was run with RB_GARAGE_FSYNC=false.
if any(f.startswith("garage-nofsync-") for f in os.listdir(DIR)):
    TARGETS.append(("garage-nofsync", "Garage S3, no fsync"))
# The figures for 4 KiB objects over the binary protocol.
SMALL_TARGETS = {"put-4KiB": 40000, "get-4KiB": 50000}


def path(name):
    return os.path.join(DIR, name)


def load_json(name):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fio(name, direction):
    j = load_json(f"fio-{name}.json")
    if not j:
        return None
    job = j["jobs"][0][direction]
    return {"mib_s": job["bw"] / 1024.0, "iops": job["iops"]}


def md5():
    try:
        text = open(path("md5.txt")).read()
    except OSError:
        return None
    m = re.search(r"md5 ([0-9.]+) MiB/s", text)
    return float(m.group(1)) if m else None


def op_of(report):
    ops = report["ops"]
    return ops[0] if ops else None


def fmt(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def cell(report, big):
    """The figure of one run: MiB/s for 64 MiB objects, objects/s otherwise."""
    if report is None:
        return None, "not run"
    op = op_of(report)
    if op is None or op["count"] == 0:
        return None, "no ops"
    lat = op.get("latency_us") or {}
    errors = f", {op['errors']} errors" if op["errors"] else ""
    if big:
        value = op["mib_per_s"]
        text = f"{value:,.0f} MiB/s (p50 {lat.get('p50', 0)/1000:.0f} ms{errors})"
    else:
        value = op["objects_per_s"]
        text = (f"{value:,.0f}/s (p50 {lat.get('p50', 0)/1000:.2f}, "
                f"p99 {lat.get('p99', 0)/1000:.2f} ms{errors})")
    return value, text


def main():
    lines = []
    machine = {}
    try:
        for line in open(path("machine.txt")):
            k, _, v = line.strip().partition("=")
            machine[k] = v
    except OSError:
        pass
    lines.append(f"Measured {machine.get('date_utc', '?')} on {machine.get('cpu', '?')}, "
                 f"{machine.get('cores', '?')} cores, {machine.get('memory_gib', '?')} GiB, "
                 f"{machine.get('filesystem', '?')}, Linux {machine.get('kernel', '?')}; "
                 f"load average {machine.get('load_at_start', '?')} at the start, "
                 f"{machine.get('load_at_end', '?')} at the end.")
    lines.append("")
    sw, sr = fio("seqwrite", "write"), fio("seqread", "read")
    rr, rw = fio("randread", "read"), fio("randwrite", "write")
    md5_speed = md5()
    lines += ["| ceiling | figure |", "|---|---|"]
    lines.append(f"| fio 1 MiB sequential write, O_DIRECT, QD32 | {fmt(sw and sw['mib_s'])} MiB/s |")
    lines.append(f"| fio 1 MiB sequential read, O_DIRECT, QD32 | {fmt(sr and sr['mib_s'])} MiB/s |")
    lines.append(f"| fio 4 KiB random read, QD64 | {fmt(rr and rr['iops'])} IOPS |")
    lines.append(f"| fio 4 KiB random write, QD64 | {fmt(rw and rw['iops'])} IOPS |")
    lines.append(f"| MD5, one core (md-5) | {fmt(md5_speed)} MiB/s |")
    put_ceiling = None
    if sw and md5_speed:
        put_ceiling = min(md5_speed, sw["mib_s"] * K / (K + M))
        lines.append(f"| PUT ceiling min(MD5, write × {K}/{K + M}) | {put_ceiling:,.0f} MiB/s |")
    get_ceiling = sr["mib_s"] if sr else None
    lines.append("")

    header = ("| workload | " + " | ".join(t[1] for t in TARGETS)
              + " | binary vs ceiling or target | HTTP vs ceiling | binary / Garage | HTTP / Garage |")
    lines += [header, "|---" * (len(TARGETS) + 5) + "|"]
    for w in WORKLOADS:
        big = "64MiB" in w
        values, texts = {}, []
        for prefix, _ in TARGETS:
            v, t = cell(load_json(f"{prefix}-{w}.json"), big)
            values[prefix] = v
            texts.append(t)
        b, h, g = (values.get(p) for p in ("ringstore-binary", "ringstore-http", "garage"))
        # The 4 KiB targets are for the binary protocol; HTTP's is a ratio to Garage.
        http_vs = "–"
        if big:
            ceiling = put_ceiling if w.startswith("put") else get_ceiling
            of = lambda x: f"{x / ceiling:.0%} of {ceiling:,.0f} MiB/s" if x and ceiling else "–"
            vs, http_vs = of(b), of(h)
        else:
            goal = SMALL_TARGETS.get(w)
            vs = f"{b / goal:.0%} of {goal:,}/s" if b and goal else "–"
        ratio = lambda x: f"{x / g:.1f}×" if x and g else "–"
        lines.append(f"| {w} | " + " | ".join(texts)
                     + f" | {vs} | {http_vs} | {ratio(b)} | {ratio(h)} |")
    lines.append("")
    # The second pass: small GETs with the read cache off (every GET reads its blocks).
    nocache = [w for w in ("get-4KiB", "get-64KiB")
               if load_json(f"ringstore-binary-nocache-{w}.json")
               or load_json(f"ringstore-http-nocache-{w}.json")]
    if nocache:
        lines += ["| read cache off | ringstore binary | ringstore HTTP "
                  "| binary vs target | binary / Garage | HTTP / Garage |",
                  "|---|---|---|---|---|---|"]
        for w in nocache:
            b, bt = cell(load_json(f"ringstore-binary-nocache-{w}.json"), False)
            h, ht = cell(load_json(f"ringstore-http-nocache-{w}.json"), False)
            g, _ = cell(load_json(f"garage-{w}.json"), False)
            goal = SMALL_TARGETS.get(w)
            vs = f"{b / goal:.0%} of {goal:,}/s" if b and goal else "–"
            ratio = lambda x: f"{x / g:.1f}×" if x and g else "–"
            lines.append(f"| {w} | {bt} | {ht} | {vs} | {ratio(b)} | {ratio(h)} |")
        lines.append("")
    if os.path.exists(path("ringstore-http.skipped")):
        lines.append(open(path("ringstore-http.skipped")).read().strip())
        lines.append("")
    for name in ("write-amp.txt", "scale.txt"):
        try:
            text = open(path(name)).read().strip()
        except OSError:
            continue
        lines.append(f"{name[:-4]}:")
        lines.append("")
        lines += ["    " + l for l in text.splitlines()]
        lines.append("")
    print("\n".join(lines))


main()
