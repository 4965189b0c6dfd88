#!/bin/sh
# test_net_example.sh: the task_master / task_worker pair of doc/examples
# on loopback: the master serves on a free port of 127.0.0.1, two workers
# connect, and the master checks the ten squares. Run by make check from the
# top build directory.
set -u
# The checked build's launcher (make check exports it; empty when none).
launch=${CF_TEST_LAUNCHER:-}
# Under ThreadSanitizer, libzmq's own (uninstrumented) queues are not ours.
TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}:suppressions=${top_srcdir:-.}/tests/net_tsan.supp"
export TSAN_OPTIONS
dir=$(mktemp -d "${TMPDIR:-/tmp}/cf-net-example.XXXXXX") || exit 99
master_pid=
cleanup()
{
    test -n "$master_pid" && kill "$master_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

$launch ./doc/examples/net_task_master tcp://127.0.0.1:* "$dir/endpoint" 2 >"$dir/master.out" 2>&1 &
master_pid=$!

# Wait for the master to say where it listens (the file appears whole).
i=0
while test ! -s "$dir/endpoint"; do
    if ! kill -0 "$master_pid" 2>/dev/null || test $i -ge 600; then
        echo "FAIL: the master did not start"; cat "$dir/master.out"; exit 1
    fi
    i=$((i + 1)); sleep 0.1
done
address=$(cat "$dir/endpoint")
echo "master listens on $address"

$launch ./doc/examples/net_task_worker "$address" >"$dir/w1.out" 2>&1 &
w1=$!
$launch ./doc/examples/net_task_worker "$address" >"$dir/w2.out" 2>&1
s2=$?
wait "$w1"; s1=$?
wait "$master_pid"; sm=$?
master_pid=
cat "$dir/master.out" "$dir/w1.out" "$dir/w2.out"
if test $sm -ne 0 || test $s1 -ne 0 || test $s2 -ne 0; then
    echo "FAIL: master $sm, workers $s1 $s2"; exit 1
fi
test "$(grep -c '^result: ' "$dir/master.out")" -eq 10 || { echo "FAIL: not ten results"; exit 1; }
echo "ok: ten squares through two remote workers"
