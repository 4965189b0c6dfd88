#!/bin/sh
# install-deps.sh: install the Debian 12 packages that building, testing and
# benchmarking cfutures need. Quick when they are all present already: then
# it neither updates the package lists nor installs anything.
# Runs as root, or through sudo. Non-interactive.
set -eu

packages="
build-essential
autoconf automake libtool pkg-config
check
libjemalloc-dev
libmsgpack-dev
libglib2.0-dev
libtbb-dev libuv1-dev libboost-dev
valgrind libc6-dbg
clang libclang-rt-14-dev
lcov
libzmq3-dev libsodium-dev iproute2
gnuplot-nox python3 hyperfine
cmake
debhelper lintian fakeroot abigail-tools
libopenmpi-dev openmpi-bin python3-mpi4py iproute2
"

missing=
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
    echo "install-deps: all $(echo $packages | wc -w) packages are installed"
    exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root (missing:$missing)" >&2; exit 1; }
    sudo=sudo
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086 # one word per package
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
