#!/bin/sh
# test_mpi.sh: the MPI executor under mpirun (tests/mpi_app.c's scenarios and
# doc/examples/mpi_map.c), on this machine and across network namespaces
# standing in for hosts (the SPMD and kill scenarios).
#
# Run by make check from the top build directory; the environment gives
# MPIRUN (configure's), CF_TOOL (the checked build's tool) and top_srcdir.
# Skips (exit 77), saying why: without mpirun; under TSan (Open MPI itself
# trips it: lock-order inversions in its TCP transport) and valgrind.
# Under ASan, Open MPI's allocations left at exit are not ours: leak checking
# is off for these runs. The cross-host part needs root and `ip netns`, and
# ../shared/tools/netns-hosts.sh found above the source tree (or
# CF_NETNS_HOSTS); without them it is skipped, saying why.
#
# Every run is bounded (timeout) and its output kept in tests/test_mpi.d/.

if test -z "$MPIRUN" || ! test -x "$MPIRUN"; then
    echo "SKIP: mpirun not found (install the Debian package openmpi-bin)"
    exit 77
fi
case $CF_TOOL in
tsan)
    echo "SKIP: under tsan: Open MPI 4.1.4 itself trips ThreadSanitizer (lock-order"
    echo "      inversions inside its TCP transport, with no cfutures frame in them)"
    exit 77
    ;;
valgrind)
    echo "SKIP: under valgrind: Open MPI's own allocations and shared-memory transport"
    echo "      flood memcheck with reports that are not cfutures'"
    exit 77
    ;;
asan) ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0; export ASAN_OPTIONS ;;
esac

app=tests/mpi_app
example=doc/examples/mpi_map
logs=tests/test_mpi.d
mkdir -p "$logs"
status=0
mpirun="$MPIRUN --oversubscribe"
if test "$(id -u)" = 0; then
    mpirun="$mpirun --allow-run-as-root"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi
# Open MPI's own chatter about processes that skip MPI_Finalize (the kill
# scenario) goes to the log, not the console.
limit=${CF_MPI_TEST_TIMEOUT:-240}

# run NAME EXPECT NP [MPIRUN-OPTIONS...] -- PROGRAM ARGS...: pass when the log
# shows the line EXPECT.
run()
{
    name=$1 expect=$2 np=$3
    shift 3
    opts=
    while test "$1" != --; do opts="$opts $1"; shift; done
    shift
    log=$logs/$name.log
    start=$(date +%s)
    timeout -k 10 "$limit" $mpirun $opts -np "$np" "$@" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    if grep -qx "$expect" "$log"; then
        echo "PASS: $name (${took} s)"
        grep -e '^idle:' -e '^lost rank' -e '^crash reported' -e '^mismatch reported' \
            -e 'pi ~' "$log" | sed 's/^/    /'
    else
        echo "FAIL: $name (mpirun exit $rc after ${took} s); its output:"
        sed 's/^/    /' "$log"
        status=1
    fi
}

run example "f(0.5) = 3.2000; pi ~ 3.1415926536 on 2 worker ranks" 3 -- $example
run spmd "ok api" 4 -- $app api
run spawn "ok spawn" 1 -- $app spawn
run crash "ok crash" 4 -- $app crash
run mismatch "ok mismatch" 4 -- $app mismatch
run idle "ok idle" 4 -- $app idle
run toobig "ok toobig" 3 -- $app toobig
# A SIGKILLed rank: by default mpirun aborts the whole job about a second
# later; with that abort off, the root must find the rank lost by itself.
# mpirun itself may then not exit after the root has (Open MPI 4.1.4): what
# counts is the root's line, and mpirun is cut off sooner.
limit=60
run kill "ok kill" 4 --mca orte_abort_on_non_zero_status 0 -- $app kill
limit=${CF_MPI_TEST_TIMEOUT:-240}

# ---- across "hosts": network namespaces on a private bridge -------------------
hosts=${CF_NETNS_HOSTS:-}
if test -z "$hosts"; then
    for up in .. ../.. ../../..; do
        if test -f "$top_srcdir/$up/shared/tools/netns-hosts.sh"; then
            hosts=$top_srcdir/$up/shared/tools/netns-hosts.sh
            break
        fi
    done
fi
if test "$(id -u)" != 0; then
    echo "SKIP: across hosts: needs root to make network namespaces"
elif ! ip netns list >/dev/null 2>&1; then
    echo "SKIP: across hosts: \`ip netns\` is not usable here"
elif test -z "$hosts"; then
    echo "SKIP: across hosts: netns-hosts.sh not found above $top_srcdir (set CF_NETNS_HOSTS)"
else
    prefix=cfm$$
    net=10.$((100 + $$ % 100)).$((($$ / 100) % 250))
    tmp=${TMPDIR:-/tmp}
    trap 'sh "$hosts" down 2 $prefix >/dev/null 2>&1' EXIT
    if ! TMPDIR=$tmp sh "$hosts" up 2 $prefix $net >"$logs/netns.log" 2>&1; then
        echo "FAIL: across hosts: netns-hosts.sh up failed:"
        sed 's/^/    /' "$logs/netns.log"
        status=1
    else
        across="--mca plm_rsh_agent $tmp/$prefix.agent --mca btl tcp,self \
--mca btl_tcp_if_include $net.0/24 --mca oob_tcp_if_include $net.0/24 \
--hostfile $tmp/$prefix.hosts"
        # The first launch after `up` may fail while the bridge starts
        # forwarding: a trial run first (its outcome does not count).
        timeout -k 10 60 $mpirun $across -np 2 hostname >/dev/null 2>&1
        run hosts-spmd "ok api" 4 $across -- $app api
        # As above: mpirun may not exit after the root has.
        limit=60
        run hosts-kill "ok kill" 4 $across --mca orte_abort_on_non_zero_status 0 -- $app kill
    fi
fi
exit $status
