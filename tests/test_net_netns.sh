#!/bin/sh
# test_net_netns.sh: libcfutures-net across two network namespaces ("hosts"
# on a private bridge, made and removed here with netns-hosts.sh):
#   1. the task_master / task_worker example, master on host 1, worker on
#      host 2;
#   2. an executor on host 1, a remote worker on host 2 running a call that
#      never ends; the link of host 2 is cut (ip link set ... down): the
#      call fails with the heartbeat timeout and the worker gives up, both
#      within bounded time, neither hangs;
#   3. a queue served on host 1, a client on host 2 waiting without limit
#      for an item; the link is cut: the get ends with -ETIMEDOUT.
# Needs root and `ip netns`; skipped (77) with the reason otherwise. Only
# the namespaces' own addresses are targeted. The prefix and subnet (cfzN,
# 10.78.N) differ from the MPI tests' and between runs in parallel.
set -u
# The checked build's launcher (make check exports it; empty when none).
launch=${CF_TEST_LAUNCHER:-}
# Under ThreadSanitizer, libzmq's own (uninstrumented) queues are not ours.
TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}:suppressions=${top_srcdir:-.}/tests/net_tsan.supp"
export TSAN_OPTIONS
skip() { echo "SKIP: $*"; exit 77; }

test "$(id -u)" = 0 || skip "not root (network namespaces need it)"
command -v ip >/dev/null 2>&1 || skip "no ip command (Debian: iproute2)"
ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"
tool=
for t in "${CF_NETNS_HOSTS:-}" "${top_srcdir:-.}/../shared/tools/netns-hosts.sh" \
         /work/shared/tools/netns-hosts.sh; do
    if test -n "$t" && test -f "$t"; then tool=$t; break; fi
done
test -n "$tool" || skip "netns-hosts.sh not found (set CF_NETNS_HOSTS)"

n=$(( $$ % 200 + 1 ))
p=cfz$n
net=10.78.$n
dir=$(mktemp -d "${TMPDIR:-/tmp}/cf-net-netns.XXXXXX") || exit 99
pids=
cleanup()
{
    for pid in $pids; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    TMPDIR=$dir bash "$tool" down 2 "$p" >/dev/null 2>&1
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
TMPDIR=$dir bash "$tool" up 2 "$p" "$net" || { echo "FAIL: netns-hosts.sh up"; exit 1; }
h1=$net.11

# wait_file FILE PID: until FILE exists (or PID ends, or 60 s pass).
wait_file()
{
    i=0
    while test ! -s "$1"; do
        if ! kill -0 "$2" 2>/dev/null || test $i -ge 600; then return 1; fi
        i=$((i + 1)); sleep 0.1
    done
}
# wait_pid PID SECONDS: its exit status, or 124 when it outlives SECONDS.
wait_pid()
{
    i=0
    while kill -0 "$1" 2>/dev/null; do
        if test $i -ge $(($2 * 10)); then kill -9 "$1"; wait "$1"; return 124; fi
        i=$((i + 1)); sleep 0.1
    done
    wait "$1"
}

# 1. The example pair, one host each.
ip netns exec "${p}1" $launch ./doc/examples/net_task_master "tcp://$h1:*" "$dir/ex.endpoint" 1 \
    >"$dir/master.out" 2>&1 &
m=$!; pids="$pids $m"
wait_file "$dir/ex.endpoint" "$m" || { cat "$dir/master.out"; echo "FAIL: master did not start"; exit 1; }
ip netns exec "${p}2" $launch ./doc/examples/net_task_worker "$(cat "$dir/ex.endpoint")" >"$dir/worker.out" 2>&1
ws=$?
wait_pid "$m" 60; ms=$?
cat "$dir/master.out" "$dir/worker.out"
test $ms -eq 0 && test $ws -eq 0 || { echo "FAIL: example across hosts: master $ms, worker $ws"; exit 1; }
echo "ok: the example pair across two hosts ($h1 and $net.12)"

# 2. The link cut under a running call.
ip netns exec "${p}1" $launch ./tests/net_netns_helper master "tcp://$h1:*" "$dir/ex2" >"$dir/m2.out" 2>&1 &
m=$!; pids="$pids $m"
wait_file "$dir/ex2" "$m" || { cat "$dir/m2.out"; echo "FAIL: executor did not start"; exit 1; }
ip netns exec "${p}2" $launch ./tests/net_netns_helper worker "$(cat "$dir/ex2")" >"$dir/w2.out" 2>&1 &
w=$!; pids="$pids $w"
wait_file "$dir/ex2.running" "$m" || { cat "$dir/m2.out" "$dir/w2.out"; echo "FAIL: the call did not start"; exit 1; }
# 3. starts now, and is cut with 2.
ip netns exec "${p}1" $launch ./tests/net_netns_helper qserver "tcp://$h1:*" "$dir/q" >"$dir/qs.out" 2>&1 &
qs=$!; pids="$pids $qs"
wait_file "$dir/q" "$qs" || { cat "$dir/qs.out"; echo "FAIL: queue server did not start"; exit 1; }
ip netns exec "${p}2" $launch ./tests/net_netns_helper qclient "$(cat "$dir/q")" "$dir/q.got" >"$dir/qc.out" 2>&1 &
qc=$!; pids="$pids $qc"
wait_file "$dir/q.got" "$qc" || { cat "$dir/qs.out" "$dir/qc.out"; echo "FAIL: the client got nothing"; exit 1; }
ip link set "${p}v2" down
echo "cut: ${p}v2 down"
wait_pid "$m" 120; ms=$?
wait_pid "$w" 120; ws=$?
cat "$dir/m2.out" "$dir/w2.out"
test $ms -eq 0 || { echo "FAIL: the executor's side ($ms; 124: it hung)"; exit 1; }
test $ws -eq 0 || { echo "FAIL: the worker's side ($ws; 124: it hung)"; exit 1; }
echo "ok: a cut link fails the running call by heartbeat timeout on both sides"
wait_pid "$qc" 120; qcs=$?
cat "$dir/qc.out"
test $qcs -eq 0 || { echo "FAIL: the queue client ($qcs; 124: it hung)"; exit 1; }
echo "ok: a cut link ends a remote get without limit with -ETIMEDOUT"
