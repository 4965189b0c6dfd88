#!/usr/bin/env python3
"""Python's ThreadPoolExecutor on cf-bench's mixed-duration workloads.

cf-bench (bench/bench_sched.c) runs this script with the task durations in
microseconds; each task sleeps that long (time.sleep). All tasks are
submitted at once, then every future waited for; the makespan is the time
from the first submit to the last result. "fresh": a new executor for each
run (its threads start on demand); "warm": one executor that ran tiny tasks
first and serves every run. One unmeasured run of each comes first. The
output is one JSON line:

  {"python": "3.11.7", "workers": 2, "fresh_ns": [...], "warm_ns": [...]}
"""

import argparse
import concurrent.futures
import json
import platform
import time


def nap(us):
    time.sleep(us / 1e6)
    return us


def makespan(pool, durations):
    start = time.perf_counter_ns()
    futures = [pool.submit(nap, d) for d in durations]
    for f, d in zip(futures, durations):
        if f.result() != d:
            raise SystemExit("python_sched.py: a task gave a wrong result")
    return time.perf_counter_ns() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--durations-us", required=True)
    args = ap.parse_args()
    durations = [int(x) for x in args.durations_us.split(",")]

    fresh = []
    for run in range(args.runs + 1):
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
            span = makespan(pool, durations)
        if run > 0:
            fresh.append(span)

    warm = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        for f in [pool.submit(abs, i) for i in range(10000)]:
            f.result()
        for run in range(args.runs + 1):
            span = makespan(pool, durations)
            if run > 0:
                warm.append(span)

    print(json.dumps({"python": platform.python_version(), "workers": args.workers,
                      "fresh_ns": fresh, "warm_ns": warm}))


if __name__ == "__main__":
    main()
