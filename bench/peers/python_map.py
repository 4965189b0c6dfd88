#!/usr/bin/env python3
"""multiprocessing.Pool.map on cf-bench's near-empty map workload.

cf-bench (bench/bench_map.c) runs this script to compare the cfutures
process pool's map with Python's: Pool(processes=--workers).map(inc, data)
over a list of --elements ints, with Pool.map's default chunking
(chunksize = ceil(len / (4 * processes))), where inc(x) = x + 1. The list
is built before the clock starts, as cf-bench's input array is; the time
covers the map and its result list. One warm-up run, then --runs measured
runs, every result checked. The output is one JSON line on stdout:

  {"python": "3.11.7", "executable": "/usr/bin/python3", "start_method": "fork",
   "workers": 2, "elements": 10000000, "map_ns": [...]}

with the elapsed nanoseconds of each measured run. On a wrong result the
script says so on stderr and exits with status 1.
"""

import argparse
import json
import multiprocessing
import platform
import sys
import time


def inc(x):
    return x + 1


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"wants a whole number from 1, got {text}")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=positive, required=True)
    parser.add_argument("--elements", type=positive, required=True)
    parser.add_argument("--runs", type=positive, required=True)
    args = parser.parse_args()

    data = list(range(args.elements))
    map_ns = []
    with multiprocessing.Pool(processes=args.workers) as pool:
        for run in range(args.runs + 1):
            start = time.perf_counter_ns()
            out = pool.map(inc, data)
            elapsed = time.perf_counter_ns() - start
            if len(out) != len(data) or out[0] != 1 or out[-1] != len(data):
                sys.exit(f"python_map.py: run {run}: wrong results")
            del out
            if run > 0:
                map_ns.append(elapsed)
    print(json.dumps({
        "python": platform.python_version(),
        "executable": sys.executable,
        "start_method": multiprocessing.get_start_method(),
        "workers": args.workers,
        "elements": args.elements,
        "map_ns": map_ns,
    }))


if __name__ == "__main__":
    main()
