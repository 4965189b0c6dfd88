#!/bin/sh
# bench_mpi.sh: the MPI executor's benchmark: bench/cf-bench-mpi and, when
# python3 has mpi4py (Debian python3-mpi4py), mpi4py.futures measured the same
# way, both over 2 ranks on this machine; then the ratios.
#
#     sh bench/bench_mpi.sh [--quick]     (from the build directory)
#
# Environment: MPIRUN (default: mpirun), PYTHON (default: /usr/bin/python3),
# top_srcdir (default: the script's ..).
# Runs as root too (then with --allow-run-as-root).
mpirun=${MPIRUN:-mpirun}
# Debian's python3-mpi4py belongs to the system's python3.
python=${PYTHON:-/usr/bin/python3}
command -v "$python" >/dev/null 2>&1 || python=python3
srcdir=${top_srcdir:-$(dirname "$0")/..}
if ! command -v "$mpirun" >/dev/null 2>&1; then
    echo "bench_mpi: mpirun not found: skipped"
    exit 0
fi
opts="--oversubscribe"
if test "$(id -u)" = 0; then
    opts="$opts --allow-run-as-root"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "== cfutures' MPI executor (mpirun -n 2 bench/cf-bench-mpi $*)"
$mpirun $opts -n 2 bench/cf-bench-mpi "$@" | tee -a "$out" || exit 1
if "$python" -c 'import mpi4py.futures' 2>/dev/null; then
    echo "== mpi4py.futures (mpirun -n 2 $python -m mpi4py.futures ...)"
    $mpirun $opts -n 2 "$python" -m mpi4py.futures "$srcdir/bench/peers/mpi4py_futures.py" "$@" \
        | tee -a "$out"
else
    echo "== mpi4py.futures: skipped ($python cannot import mpi4py: install python3-mpi4py)"
fi
awk '{ v[$1] = $2 }
END {
    if (v["mpi4py_tiny_task_throughput"] > 0)
        printf "ratio: tiny-task throughput %.1fx mpi4py.futures\n",
            v["cf_tiny_task_throughput"] / v["mpi4py_tiny_task_throughput"]
    if (v["mpi4py_round_trip_median"] > 0)
        printf "ratio: round trip %.2fx faster than mpi4py.futures\n",
            v["mpi4py_round_trip_median"] / v["cf_round_trip_median"]
    if (v["mpi_pingpong_16B"] > 0)
        printf "ratio: round trip %.1fx Open MPI ping-pong\n",
            v["cf_round_trip_median"] / v["mpi_pingpong_16B"]
}' "$out"
