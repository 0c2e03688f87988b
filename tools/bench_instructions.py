#!/usr/bin/env python3
"""Count the instructions one iteration of a cosync-bench benchmark costs.

Usage:
    tools/bench_instructions.py build-bench/bench/cosync-bench \\
        BM_SwitchRoundTrip/cosync BM_SwitchRoundTrip/boost_context

Runs each named benchmark alone under `valgrind --tool=callgrind`, twice
(a short and a long run), and prints the difference of the two runs'
instruction totals divided by the difference of their iteration counts:
start-up, calibration and set-up cancel out, and what is left is the
benchmark's own loop as built (its flags, its inlining), not a copy of it.
Google Benchmark's iteration count is not fixed, so the script reads it from
the profile: the loop is in the function BM_<family>_<library> (registered
as BM_<family>/<library>), found in the symbol table, and each of the
loop's instructions runs once per iteration.
"""

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile


def parse_callgrind(path):
    """Returns {(object, address): times executed} over the whole run."""
    counts = collections.Counter()
    obj = None
    skip_next = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if skip_next:  # the inclusive cost of the call named on the line before
                skip_next = False
            elif line.startswith("ob="):
                obj = line[3:].strip()
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith("0x"):  # positions: instr line, then Ir
                fields = line.split()
                counts[(obj, int(fields[0], 16))] += int(fields[2])
    return counts


def loop_range(binary, benchmark):
    """The address range of BM_<family>_<library>, which holds the loop.

    Found in the symbol table rather than in callgrind's function names,
    which a stack switch confuses (callgrind then charges the code after a
    switch to whichever function it believes is running)."""
    family, _, rest = benchmark.partition("/")
    name = f"{family}_{rest.split('/')[0]}(benchmark::State&)"
    symbols = subprocess.run(["nm", "-C", "-S", "--defined-only", binary], check=True,
                             capture_output=True, text=True).stdout
    for line in symbols.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and (fields[3] == name or fields[3].endswith("::" + name)):
            start = int(fields[0], 16)
            return start, start + int(fields[1], 16)
    sys.exit(f"bench_instructions: no symbol {name} in {binary}")


def profile(binary, benchmark, min_time):
    """Runs `benchmark` alone under callgrind: (instructions, iterations)."""
    start, end = loop_range(binary, benchmark)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-instr=yes", "--dump-line=yes",
             "--compress-strings=no", "--compress-pos=no", f"--callgrind-out-file={out}",
             binary, f"--benchmark_filter=^{re.escape(benchmark)}$",
             f"--benchmark_min_time={min_time}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts = parse_callgrind(out)
    main_object = os.path.realpath(binary)
    in_loop = [c for (obj, address), c in counts.items()
               if obj and os.path.realpath(obj) == main_object and start <= address < end]
    if not in_loop or max(in_loop) == 0:
        sys.exit(f"bench_instructions: {benchmark} ran no iteration")
    # The loop's instructions run once per iteration, but for a call through
    # the PLT: callgrind charges the PLT's jump to the call, which then
    # counts twice. The median of the loop's counts is the iteration count.
    iterations = statistics.median_low([c for c in in_loop if c >= max(in_loop) / 8])
    return sum(counts.values()), iterations


def per_iteration(binary, benchmark, min_time):
    """Instructions per iteration: the difference of a short and a long run."""
    short_total, short_iterations = profile(binary, benchmark, min_time / 4)
    long_total, long_iterations = profile(binary, benchmark, min_time)
    if long_iterations <= short_iterations:
        sys.exit(f"bench_instructions: {benchmark}: the longer run ran no more iterations")
    return (long_total - short_total) / (long_iterations - short_iterations), long_iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", help="cosync-bench, built in Release")
    parser.add_argument("benchmarks", nargs="+", help="full names, e.g. BM_Lifecycle/cosync")
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="--benchmark_min_time under valgrind (seconds)")
    args = parser.parse_args()
    for benchmark in args.benchmarks:
        cost, iterations = per_iteration(args.binary, benchmark, args.min_time)
        print(f"{benchmark}: {cost:.1f} instructions per iteration ({iterations} iterations)")


if __name__ == "__main__":
    main()
