#!/usr/bin/env python3
"""Print cosync/anchor ratios from cosync-bench's Google Benchmark JSON.

Usage:
    cosync-bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \\
        --benchmark_out=bench.json --benchmark_out_format=json
    tools/bench_ratios.py bench.json          # or '-' for standard input

Benchmarks are named <family>/<library>[/<options>]. In every family below,
each anchor library is paired with cosync, and with cosync on its io_uring
loop ("cosync_io_uring", which is also paired with cosync on epoll); and
libcosync-pcl, "cosync_pcl", with libpcl only: COMPATIBLE. Cost families (FAMILIES: times,
memory) make the first table: both values and cosync/anchor (below 1: cosync
is cheaper). Times are wall-clock; for them a second ratio uses CPU time,
which a busy or virtual machine disturbs less. Throughput families
(RATE_FAMILIES: items/s, which Google Benchmark computes over CPU time) make
the second table: cosync rate / anchor rate (above 1: cosync is faster), a
second ratio from wall-clock time (anchor time / cosync time), and the
wall-clock time per iteration of each. A benchmark run with repetitions
contributes its median aggregate; one without, its single value (the median,
if the file holds several runs). Families without an anchor, such as
BM_Create1M, BM_RequestOverhead and BM_PingPongIoUring, follow in a last
table with their counters, after a table of the counters the paired rows
add (ROW_COUNTERS: system calls and server CPU counted in the run).
"""

import argparse
import json
import statistics
import sys

COSYNC = "cosync"
# cosync on its io_uring loop: paired like cosync with every anchor, and
# with cosync on the epoll loop.
COSYNC_IO_URING = "cosync_io_uring"
COSYNC_FACES = (COSYNC, COSYNC_IO_URING)
# cosync on a host loop through its adapter: BM_PingPong/cosync_on_libuv is
# paired with BM_PingPong/libuv, the raw callbacks on the same host.
HOSTED = "cosync_on_"

# cosync's other faces, each compared with the one anchor it replaces
# rather than with cosync: libcosync-pcl against Debian's libpcl.
COMPATIBLE = {"cosync_pcl": "libpcl"}

# family -> (the compared field, what it means)
FAMILIES = {
    "BM_SwitchRoundTrip": ("real_time", "ns per round trip"),
    "BM_Lifecycle": ("real_time", "ns per coroutine"),
    "BM_IdleMemory": ("rss_per_coroutine_bytes", "RSS bytes per coroutine"),
    "BM_EchoServerIdleMemory": ("rss_per_connection_bytes", "RSS bytes per idle connection"),
    "BM_EchoServerIdleMemoryMany": ("rss_per_connection_bytes",
                                    "RSS bytes per idle connection, 9,900 of them"),
    "BM_EchoServer": ("server_cpu_ns/msg", "server CPU ns per message"),
}

# family -> (the compared rate, what it means, what one iteration is); higher
# is better.
RATE_FAMILIES = {
    "BM_PingPong": ("items_per_second", "round trips/s", "round trip"),
    "BM_Timers": ("items_per_second", "timers/s", "1M timers"),
    "BM_EchoServer": ("msgs/s", "echoed 64-byte messages/s", "1,000 messages"),
    "BM_FileRead": ("items_per_second", "4 KiB page-cache reads/s", "10,000 reads"),
    "BM_FileReadDisk": ("items_per_second", "4 KiB disk reads/s", "10,000 reads"),
}

# Counters a row of a paired family may add, shown per row in a table of
# their own (system calls counted in the benchmark).
ROW_COUNTERS = ("syscalls/round_trip", "server_syscalls/msg", "server_cpu_ns/msg")

NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Fields Google Benchmark writes for every run; any other number is a counter.
STANDARD_FIELDS = {
    "family_index", "per_family_instance_index", "repetitions", "repetition_index",
    "threads", "iterations", "real_time", "cpu_time",
}


def split_run_name(run_name):
    """'BM_IdleMemory/cosync/iterations:1' -> ('BM_IdleMemory', 'cosync')."""
    parts = run_name.split("/")
    return parts[0], parts[1] if len(parts) > 1 else ""


def group_runs(benchmarks):
    """(family, library) -> the entries to take the median over: the median
    aggregate alone when repetitions made one, else every plain run."""
    medians = {}
    runs = {}
    for entry in benchmarks:
        if entry.get("error_occurred"):
            continue
        key = split_run_name(entry["run_name"])
        if entry.get("run_type") != "aggregate":
            runs.setdefault(key, []).append(entry)
        elif entry.get("aggregate_name") == "median":
            medians[key] = [entry]
    return {**runs, **medians}


def median(entries, field):
    """Median of `field` over `entries`; times are converted to ns."""
    def value(entry):
        if field in ("real_time", "cpu_time"):
            return entry[field] * NS_PER_UNIT[entry["time_unit"]]
        return entry[field]
    return statistics.median(value(entry) for entry in entries)


def format_number(value):
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def face_pairs(groups, family):
    """(cosync face, anchor) pairs of `family`: each built-in cosync loop
    against every anchor, and the io_uring loop against the epoll one."""
    libraries = sorted(lib for fam, lib in groups if fam == family)
    found = []
    for face in (face for face in COSYNC_FACES if (family, face) in groups):
        found += [(face, lib) for lib in libraries
                  if not lib.startswith(COSYNC) and lib not in COMPATIBLE]
        if face != COSYNC and (family, COSYNC) in groups:
            found.append((face, COSYNC))
    return found


def pairs(groups, family):
    """(our library, anchor) pairs of `family` that are both in `groups`."""
    found = face_pairs(groups, family)
    for ours, anchor in sorted(COMPATIBLE.items()):
        if (family, ours) in groups and (family, anchor) in groups:
            found.append((ours, anchor))
    return found


def ratio_rows(groups):
    rows = []
    for family, (field, meaning) in FAMILIES.items():
        for library, anchor in pairs(groups, family):
            ours = median(groups[(family, library)], field)
            theirs = median(groups[(family, anchor)], field)
            cpu_ratio = "-"
            if field == "real_time":
                cpu_ratio = ratio(median(groups[(family, library)], "cpu_time"),
                                  median(groups[(family, anchor)], "cpu_time"))
            label = anchor if library == COSYNC else f"{anchor} (vs {library})"
            rows.append((family, label, meaning, format_number(ours),
                         format_number(theirs), ratio(ours, theirs), cpu_ratio))
    return rows


def ratio(ours, theirs):
    return f"{ours / theirs:.3f}" if theirs else "n/a"


def format_time(nanoseconds):
    """A duration with the largest unit that keeps it at 1 or more."""
    for unit in ("s", "ms", "us"):
        if nanoseconds >= NS_PER_UNIT[unit]:
            return f"{format_number(nanoseconds / NS_PER_UNIT[unit])} {unit}"
    return f"{format_number(nanoseconds)} ns"


def rate_pairs(groups, family):
    """(cosync run, anchor) pairs of a family: built-in cosync against every
    anchor, and cosync on a host loop ('cosync_on_<host>', the foreign-loop
    adapters) against that host's raw callbacks, plain ('<host>') and in
    any configured variant ('<host>_<variant>', e.g. 'tevent_threaded', the
    host as the adapter sets it up)."""
    libraries = sorted(lib for fam, lib in groups if fam == family)
    pairs = face_pairs(groups, family)
    for hosted in (lib for lib in libraries if lib.startswith(HOSTED)):
        host = hosted[len(HOSTED):]
        pairs += [(hosted, lib) for lib in libraries
                  if lib == host or lib.startswith(host + "_")]
    return pairs


def rate_rows(groups):
    rows = []
    for family, (field, meaning, iteration) in RATE_FAMILIES.items():
        for mine, anchor in rate_pairs(groups, family):
            ours = groups[(family, mine)]
            theirs = groups[(family, anchor)]
            our_time = median(ours, "real_time")
            their_time = median(theirs, "real_time")
            label = anchor if mine == COSYNC else f"{anchor} (as {mine})"
            rows.append((family, label, f"{meaning}; time per {iteration}",
                         format_number(median(ours, field)), format_number(median(theirs, field)),
                         ratio(median(ours, field), median(theirs, field)),
                         ratio(their_time, our_time),
                         format_time(our_time), format_time(their_time)))
    return rows


def counter_rows(groups):
    """Every row of a paired family that has one of ROW_COUNTERS."""
    rows = []
    for (family, library), entries in sorted(groups.items()):
        if family not in FAMILIES and family not in RATE_FAMILIES:
            continue
        values = [f"{name}={format_number(median(entries, name))}" for name in ROW_COUNTERS
                  if all(name in entry for entry in entries)]
        if values:
            rows.append((f"{family}/{library}", ", ".join(values)))
    return rows


def unpaired_rows(groups):
    rows = []
    for (family, library), entries in sorted(groups.items()):
        if family in FAMILIES or family in RATE_FAMILIES:
            continue
        counters = sorted({
            name for entry in entries for name, value in entry.items()
            if isinstance(value, (int, float)) and name not in STANDARD_FIELDS
        })
        text = ", ".join(f"{name}={format_number(median(entries, name))}" for name in counters)
        rows.append((f"{family}/{library}", format_time(median(entries, "real_time")), text))
    return rows


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file", help="Google Benchmark JSON output, or - for stdin")
    args = parser.parse_args()

    groups = group_runs(load(args.json_file).get("benchmarks", []))
    rows = ratio_rows(groups)
    rates = rate_rows(groups)
    if not rows and not rates:
        sys.exit(f"bench_ratios: no cosync/anchor pairs in {args.json_file}")
    tables = []
    if rows:
        tables.append(markdown_table(
            ("family", "anchor", "metric", "cosync", "anchor value",
             "cosync/anchor (lower is better)", "cosync/anchor (CPU time)"), rows))
    if rates:
        tables.append(markdown_table(
            ("family", "anchor", "metric", "cosync", "anchor value",
             "cosync/anchor rate (higher is better)", "anchor/cosync wall time (higher is better)",
             "cosync time", "anchor time"), rates))
    counted = counter_rows(groups)
    if counted:
        tables.append(markdown_table(("benchmark", "counted in the run (median)"), counted))
    unpaired = unpaired_rows(groups)
    if unpaired:
        tables.append(markdown_table(("benchmark", "time (median)", "counters (median)"),
                                     unpaired))
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
