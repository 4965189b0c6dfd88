#!/usr/bin/env python3
"""Python's pools on cf-bench's tiny-task workloads.

cf-bench (bench/bench_process.c) runs this script to compare cfutures'
pools with Python's: concurrent.futures.ProcessPoolExecutor ("process"),
concurrent.futures.ThreadPoolExecutor ("thread") and multiprocessing.Pool
("mp"). Both workloads use the tiny task add(a, b):

  tiny       submit N tasks, then take every result (futures included;
             Pool.apply_async and AsyncResult.get for multiprocessing.Pool);
  roundtrip  submit one task, wait for its result, M times (Pool.apply).

Each pool has --workers workers and serves all its runs: one warm-up run
(which also starts the workers), then --runs measured runs of each
workload, taking turns. Every result is checked. The output is one JSON
line on stdout:

  {"python": "3.11.7", "executable": "/usr/bin/python3", "start_method": "fork",
   "workers": 2, "tasks": 1000, "roundtrips": 200,
   "process_tiny_ns": [...], "process_roundtrip_ns": [...],
   "thread_tiny_ns": [...], "thread_roundtrip_ns": [...],
   "mp_tiny_ns": [...], "mp_roundtrip_ns": [...]}

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


def tiny_executor(ex, n):
    start = time.perf_counter_ns()
    futures = [ex.submit(add, task_input(i), 1) for i in range(n)]
    for i, f in enumerate(futures):
        check(f.result(), i, "tiny")
    return time.perf_counter_ns() - start


def roundtrip_executor(ex, m):
    start = time.perf_counter_ns()
    for i in range(m):
        check(ex.submit(add, task_input(i), 1).result(), i, "round-trip")
    return time.perf_counter_ns() - start


def tiny_mp(pool, n):
    start = time.perf_counter_ns()
    results = [pool.apply_async(add, (task_input(i), 1)) for i in range(n)]
    for i, r in enumerate(results):
        check(r.get(), i, "tiny")
    return time.perf_counter_ns() - start


def roundtrip_mp(pool, m):
    start = time.perf_counter_ns()
    for i in range(m):
        check(pool.apply(add, (task_input(i), 1)), i, "round-trip")
    return time.perf_counter_ns() - start


def measure(pool, tiny, roundtrip, args):
    """One warm-up run and args.runs measured runs of both workloads."""
    tiny_ns, roundtrip_ns = [], []
    for run in range(args.runs + 1):
        # Take turns going first, as cf-bench does.
        if run % 2 == 0:
            t = tiny(pool, args.tasks)
            r = roundtrip(pool, args.roundtrips)
        else:
            r = roundtrip(pool, args.roundtrips)
            t = tiny(pool, args.tasks)
        if run > 0:
            tiny_ns.append(t)
            roundtrip_ns.append(r)
    return tiny_ns, roundtrip_ns


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

    figures = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "start_method": multiprocessing.get_start_method(),
        "workers": args.workers,
        "tasks": args.tasks,
        "roundtrips": args.roundtrips,
    }
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.workers) as ex:
        figures["process_tiny_ns"], figures["process_roundtrip_ns"] = measure(
            ex, tiny_executor, roundtrip_executor, args)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as ex:
        figures["thread_tiny_ns"], figures["thread_roundtrip_ns"] = measure(
            ex, tiny_executor, roundtrip_executor, args)
    with multiprocessing.Pool(processes=args.workers) as pool:
        figures["mp_tiny_ns"], figures["mp_roundtrip_ns"] = measure(
            pool, tiny_mp, roundtrip_mp, args)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
