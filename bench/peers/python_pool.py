#!/usr/bin/env python3
"""Python's concurrent.futures.ProcessPoolExecutor on cf-bench's workloads.

cf-bench (bench/bench_process.c) runs this script to compare the cfutures
process pool with Python's. Both workloads use the tiny task add(a, b):

  tiny       submit N tasks, then take every result (futures included);
  roundtrip  submit one task, wait for its result, M times.

One pool with --workers processes serves every run: one warm-up run (which
also starts the workers), then --runs measured runs of each workload, taking
turns. Every result is checked. The output is one JSON line on stdout:

  {"python": "3.11.7", "executable": "/usr/bin/python3", "start_method": "fork",
   "workers": 2, "tasks": 1000, "roundtrips": 200, "tiny_ns": [...],
   "roundtrip_ns": [...]}

with the elapsed nanoseconds of each measured run. On a wrong result the
script says so on stderr and exits with status 1.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import platform
import sys
import time


def add(a, b):
    return a + b


def task_input(i):
    return i & 0xFFFFF


def check(got, i, workload):
    want = task_input(i) + 1
    if got != want:
        sys.exit(f"python_pool.py: {workload} task {i}: got {got!r}, want {want}")


def tiny(ex, n):
    start = time.perf_counter_ns()
    futures = [ex.submit(add, task_input(i), 1) for i in range(n)]
    for i, f in enumerate(futures):
        check(f.result(), i, "tiny")
    return time.perf_counter_ns() - start


def roundtrip(ex, m):
    start = time.perf_counter_ns()
    for i in range(m):
        check(ex.submit(add, task_input(i), 1).result(), i, "round-trip")
    return time.perf_counter_ns() - start


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"wants a whole number from 1, got {text}")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=positive, required=True)
    parser.add_argument("--tasks", type=positive, required=True)
    parser.add_argument("--roundtrips", type=positive, required=True)
    parser.add_argument("--runs", type=positive, required=True)
    args = parser.parse_args()

    tiny_ns, roundtrip_ns = [], []
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.workers) as ex:
        for run in range(args.runs + 1):
            # Take turns going first, as cf-bench does.
            if run % 2 == 0:
                t = tiny(ex, args.tasks)
                r = roundtrip(ex, args.roundtrips)
            else:
                r = roundtrip(ex, args.roundtrips)
                t = tiny(ex, args.tasks)
            if run > 0:
                tiny_ns.append(t)
                roundtrip_ns.append(r)

    print(json.dumps({
        "python": platform.python_version(),
        "executable": sys.executable,
        "start_method": multiprocessing.get_start_method(),
        "workers": args.workers,
        "tasks": args.tasks,
        "roundtrips": args.roundtrips,
        "tiny_ns": tiny_ns,
        "roundtrip_ns": roundtrip_ns,
    }))


if __name__ == "__main__":
    main()
