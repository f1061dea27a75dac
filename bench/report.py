#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a benchmark VM's console into bench/results.json and a table.

Usage: report.py <console.log> <results.json> [key=value ...]

The console holds DSLAB-BENCH-INFO lines and, between
DSLAB-BENCH-RESULTS-BEGIN and -END, one JSON object per measurement
(bench/dslab_bench.c).  It may be the consoles of several boots one after
the other (bench/run.sh's second boot, with two NUMA nodes, for
remote_free): the first boot's info describes the run, the others' go to
"more_boots", and the results of all are taken.  A result line with
"skipped" (a benchmark the guest could not run) is listed as skipped, in
"skipped", not among the results.  The key=value arguments describe the
host side of the run (accelerator, icount mode, commit, ...).  Writes
{"run": {...}, "results": [...]} and prints a table with the ratio of every
dslab figure to its anchor and the goals (of issues 7 and 17) it is held
against.
Exits 1 when the console holds no results (nor skipped benchmarks) or a
line is not valid JSON.
"""

import json
import sys

# (issue, benchmark, dslab implementation, compared with, limit on the
#  ratio of ns per op (lower is better), goal as the issue words it).
# Issue 17 holds the pair and the lookups to their goals in instructions
# (DSLAB_BENCH_ICOUNT) as well as in time.
GOALS = [
    (7, "alloc_free", "dslab", "kmem_cache", 1.0, "<= 1.0x kmem_cache"),
    (17, "alloc_free", "dslab", "kmem_cache", 0.8, "<= 0.8x kmem_cache"),
    (17, "bulk", "dslab_bulk", "kmem_cache_bulk", 1.0,
     "<= 1.0x kmem_cache_bulk"),
    (17, "find", "dslab_find_object", "ksize", 1.0, "<= 1.0x ksize()"),
    (17, "find", "dslab_find_object_interior", "ksize", 1.0,
     "<= 1.0x ksize()"),
    (7, "dtor_free", "dslab_free_dtor", "dslab_free", 1.5,
     "<= 1.5x plain dslab_free"),
    (7, "dtor_e2e", "dslab", "queue_work", 0.2,
     ">= 5x queue_work throughput"),
    (7, "dtor_e2e", "dslab", "call_rcu", 1.0, "faster than call_rcu"),
    (7, "parallel", "dslab", "kmem_cache", 1.0, "ops/s per CPU >= kmem_cache"),
]
MEMORY_GOAL = 1.1


def parse_console(path):
    boots, results, bad, fails, inside = [], [], [], [], False
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("DSLAB-BENCH-INFO "):
                key, _, val = line[len("DSLAB-BENCH-INFO "):].partition("=")
                # "kernel" comes first in every boot's info.
                if key == "kernel" or not boots:
                    boots.append({})
                boots[-1][key] = val
            elif line.startswith("DSLAB-BENCH-FAIL "):
                fails.append(line[len("DSLAB-BENCH-FAIL "):])
            elif line == "DSLAB-BENCH-RESULTS-BEGIN":
                inside = True
            elif line == "DSLAB-BENCH-RESULTS-END":
                inside = False
            elif inside and line.startswith("{"):
                try:
                    results.append(json.loads(line))
                except json.JSONDecodeError:
                    bad.append(line)
            elif inside and line.strip():
                # A kernel message landed among the results: not ours.
                pass
    return boots, results, bad, fails


def label(r):
    b = r["benchmark"]
    if b == "bulk":
        return f"bulk n={r['n']} size={r['size']}"
    if b == "parallel":
        return f"parallel batch={r['batch']} size={r['size']}"
    if b == "dtor_e2e":
        return f"dtor_e2e n={r['n']}"
    if b == "memory":
        return f"memory n={r['n']}"
    return f"{b} size={r['size']}"


def fmt(x):
    return f"{x:.1f}" if x >= 100 else f"{x:.2f}" if x >= 10 else f"{x:.3f}"


def table(results):
    out = []
    hdr = (f"{'benchmark':<26} {'implementation':<27} {'median':>10} "
           f"{'min':>10} {'max':>10}  {'ratio':>7}  anchor")
    out.append(hdr)
    out.append("-" * len(hdr))
    last = None
    for r in results:
        lab = label(r)
        if r["benchmark"] == "memory":
            continue
        if lab != last and last is not None:
            out.append("")
        ns = r["ns_per_op"]
        extra = ""
        if r["benchmark"] == "parallel":
            extra = f"  ({r['ops_per_sec']} ops/s per CPU, {r['cpus']} CPUs)"
        elif r["benchmark"] == "dtor_e2e":
            extra = f"  ({r['ops_per_sec']} objects/s)"
        elif r["benchmark"] == "remote_free":
            extra = (f"  (allocated on CPU {r['alloc_cpu']} node "
                     f"{r['alloc_node']}, freed on CPU {r['free_cpu']} "
                     f"node {r['free_node']})")
        out.append(f"{lab if lab != last else '':<26} {r['implementation']:<27} "
                   f"{fmt(ns['median']):>10} {fmt(ns['min']):>10} "
                   f"{fmt(ns['max']):>10}  {r['ratio']:>6.3f}x  "
                   f"{r['anchor']}{extra}")
        last = lab
    mem = [r for r in results if r["benchmark"] == "memory"]
    if mem:
        out.append("")
        out.append(f"{'memory':<26} {'implementation':<27} {'pages':>10} "
                   f"{'min':>10} {'max':>10}  {'ratio':>7}  notes")
        for r in mem:
            p = r["pages"]
            note = (f"requested {r['bytes_requested']} B, usable "
                    f"{r['bytes_usable']} B")
            if r["implementation"] == "dslab":
                note += (f", metadata {r['metadata_bytes_per_object']:.3f} "
                         f"B/object, with metadata "
                         f"{r['ratio_with_metadata']:.3f}x")
            out.append(f"{label(r):<26} {r['implementation']:<27} "
                       f"{p['median']:>10} {p['min']:>10} {p['max']:>10}  "
                       f"{r['ratio']:>6.3f}x  {note}")
    return out


def skipped_lines(skipped):
    out = []
    if skipped:
        out.append("")
    for r in skipped:
        out.append(f"{label(r):<26} skipped: {r['skipped']}")
    return out


def goals(results):
    out = []
    for issue, bench, impl, anchor, limit, words in GOALS:
        for r in results:
            if r["benchmark"] != bench or r["implementation"] != impl:
                continue
            ratio = r["ratios"].get(anchor)
            if ratio is None:
                continue
            ok = ratio <= limit
            out.append(f"  {'met   ' if ok else 'MISSED'} {label(r):<26} "
                       f"{impl} = {ratio:.3f}x {anchor} "
                       f"(issue {issue}: {words})")
    for r in results:
        if r["benchmark"] == "memory" and r["implementation"] == "dslab":
            ok = r["ratio"] <= MEMORY_GOAL
            out.append(f"  {'met   ' if ok else 'MISSED'} {label(r):<26} "
                       f"dslab pages = {r['ratio']:.3f}x kmalloc's "
                       f"(goal <= {MEMORY_GOAL}x; with metadata "
                       f"{r['ratio_with_metadata']:.3f}x)")
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    console, out = sys.argv[1], sys.argv[2]
    host = dict(a.split("=", 1) for a in sys.argv[3:])
    boots, measured, bad, fails = parse_console(console)
    info = boots[0] if boots else {}
    results = [r for r in measured if "skipped" not in r]
    skipped = [r for r in measured if "skipped" in r]
    emulated = host.get("accelerator", "tcg") != "kvm"
    run = {
        "kernel": info.get("kernel"),
        "cpus": int(info["cpus"]) if info.get("cpus", "").isdigit() else None,
        "accelerator": host.get("accelerator"),
        "emulated": emulated,
        "icount": host.get("icount", "off"),
        "mode": info.get("module_mode"),
        "date": host.get("date"),
        "git_commit": host.get("commit"),
        "git_dirty": host.get("dirty") == "1",
        "qemu": host.get("qemu"),
        "host_cpu": host.get("host_cpu"),
        "guest_cpu": info.get("cpu_model"),
        "clocksource": info.get("clocksource"),
        "preempt": info.get("preempt"),
        "kernel_config": host.get("config"),
        "note": ("Emulated CPU (TCG): absolute times are not hardware "
                 "times; only ratios between implementations measured in "
                 "the same run mean anything." if emulated else
                 "Hardware-assisted virtualisation."),
        "guest_info": info,
        "more_boots": boots[1:],
        "failures": fails,
        "skipped": [f"{label(r)}: {r['skipped']}" for r in skipped],
    }
    with open(out, "w") as f:
        json.dump({"run": run, "results": results}, f, indent=1)
        f.write("\n")

    print(f"dslab benchmarks: kernel {run['kernel']}, {run['cpus']} vCPUs, "
          f"accel {run['accelerator']}, icount {run['icount']}, "
          f"mode {run['mode']}, commit {run['git_commit']}"
          f"{' (dirty tree)' if run['git_dirty'] else ''}, {run['date']}")
    print(f"clocksource {run['clocksource']}; ns per operation (median, min, "
          f"max over rounds); ratio = median / anchor's median (< 1: faster)")
    if emulated:
        print("NOTE: TCG emulation: absolute times mean little; only ratios "
              "within this run count.")
    res = info.get("module_clock_resolution_ns", "")
    if res.isdigit() and int(res) > 1000:
        print(f"WARNING: the guest clock steps by {res} ns (clocksource "
              f"{run['clocksource']}): the micro-benchmarks are not "
              f"meaningful.")
    print()
    for line in table(results) + skipped_lines(skipped):
        print(line)
    print()
    print("Goals:")
    for line in goals(results):
        print(line)
    print()
    print(f"results: {out} ({len(results)} measurements)")
    for line in bad:
        print(f"report: unparsable result line: {line[:120]}", file=sys.stderr)
    for line in fails:
        print(f"report: benchmark failed: {line}", file=sys.stderr)
    return 1 if not (results or skipped) or bad else 0


if __name__ == "__main__":
    sys.exit(main())
