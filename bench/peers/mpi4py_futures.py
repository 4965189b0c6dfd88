# mpi4py_futures.py: mpi4py.futures' side of bench/bench_mpi.sh, measured the
# way bench/bench_mpi.c measures cfutures' MPI executor.
#
#     mpirun -n 2 python3 -m mpi4py.futures bench/peers/mpi4py_futures.py [--quick]
#
# Rank 0 runs this script with an executor over the other ranks.
import sys
import time
from concurrent.futures import wait
from mpi4py.futures import MPIPoolExecutor


def square(x):
    return x * x


def main():
    quick = "--quick" in sys.argv
    with MPIPoolExecutor() as ex:
        ex.submit(square, 1).result()
        n_rt = 200 if quick else 2000
        rts = []
        for _ in range(n_rt):
            t0 = time.perf_counter()
            ex.submit(square, 3).result()
            rts.append(time.perf_counter() - t0)
        rts.sort()
        print("mpi4py_round_trip_median %.2f us" % (rts[len(rts) // 2] * 1e6))
        n_tp = 1000 if quick else 5000
        t0 = time.perf_counter()
        fs = [ex.submit(square, i) for i in range(n_tp)]
        wait(fs)
        print("mpi4py_tiny_task_throughput %.0f tasks/s" % (n_tp / (time.perf_counter() - t0)))
        n_map = 20000 if quick else 200000
        t0 = time.perf_counter()
        list(ex.map(square, range(n_map), chunksize=max(1, n_map // 64)))
        print("mpi4py_map_tiny_throughput %.0f elements/s" % (n_map / (time.perf_counter() - t0)))


if __name__ == "__main__":
    main()
