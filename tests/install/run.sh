#!/bin/bash
# run.sh: install cfutures into a temporary directory, then build and run
# tests/install/hello.c against the installed copy only, through pkg-config:
# linked with the shared library, with the static library (the rest of the
# program dynamic), and fully static.
#
# usage: tests/install/run.sh [BUILD_DIR]
#   BUILD_DIR   a configured and built tree: installed with
#               make install DESTDIR=<tmp>/root, its prefix kept.
#   (none)      configure this source tree in <tmp>/build with
#               --prefix=<tmp>/prefix, build, install; check that make
#               remakes cfutures.pc for another prefix= it is given. A source tree
#               configured in place is used as BUILD_DIR instead.
# Environment: CC (default cc), MAKE (default make), CONFIGURE_FLAGS (more
# configure options when building here), KEEP=1 keeps <tmp>.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
CC=${CC:-cc}
MAKE=${MAKE:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfutures-install.XXXXXX")
cleanup()
{
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

step() { printf '== %s\n' "$*"; }
die() { printf 'install test: %s\n' "$*" >&2; exit 1; }
# run LOG CMD...: run CMD with its output in LOG, shown only if it fails.
run()
{
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; die "failed: $*"; }
}

build=${1:-}
if [ -z "$build" ] && [ -f "$srcdir/config.status" ]; then
    build=$srcdir
fi

if [ -n "$build" ]; then
    build=$(cd "$build" && pwd)
    [ -f "$build/config.status" ] || die "$build is not a configured build directory"
    root=$tmp/root
    step "install from $build with DESTDIR=$root"
    run "$tmp/make.log" $MAKE -C "$build" -j2
    run "$tmp/install.log" $MAKE -C "$build" install DESTDIR="$root"
else
    [ -x "$srcdir/configure" ] || die "no configure script in $srcdir: run autoreconf -fi there first"
    root=$tmp/prefix
    step "configure $srcdir in $tmp/build with --prefix=$root ${CONFIGURE_FLAGS:-}"
    mkdir "$tmp/build"
    # shellcheck disable=SC2086 # CONFIGURE_FLAGS is a list of options
    (cd "$tmp/build" && run "$tmp/configure.log" "$srcdir/configure" --prefix="$root" ${CONFIGURE_FLAGS:-})
    step "make, make install"
    run "$tmp/make.log" $MAKE -C "$tmp/build" -j2
    run "$tmp/install.log" $MAKE -C "$tmp/build" install
    # The pkg-config and CMake files are made by make for the prefix make
    # is given (make install prefix=DIR), not the configured one.
    run "$tmp/pc.log" $MAKE -C "$tmp/build" cfutures.pc cfutures-config.cmake prefix=/elsewhere
    grep -qx "prefix=/elsewhere" "$tmp/build/cfutures.pc" \
        || die "make prefix=/elsewhere made a cfutures.pc for another prefix"
    run "$tmp/pc.log" $MAKE -C "$tmp/build" cfutures.pc cfutures-config.cmake
fi

pcfile=$(find "$root" -path '*/pkgconfig/cfutures.pc' | head -n 1)
[ -n "$pcfile" ] || die "no pkgconfig/cfutures.pc was installed under $root"
pcdir=$(dirname "$pcfile")
if [ -n "$build" ]; then
    # Installed under DESTDIR: a copy of the .pc file with its prefix moved
    # there too (its other paths derive from the prefix).
    prefix=$(sed -n 's/^prefix=//p' "$pcfile")
    mkdir "$tmp/pkgconfig"
    sed "s|^prefix=.*|prefix=$root$prefix|" "$pcfile" >"$tmp/pkgconfig/cfutures.pc"
    pcdir=$tmp/pkgconfig
fi
# The installed cfutures.pc comes first; what it requires comes from the system.
export PKG_CONFIG_PATH=$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}

step "installed files"
(cd "$root" && find . -type f -o -type l | sort | sed 's/^/   /')
for f in include/cfutures.h include/cfutures/common.h include/cfutures/thread_pool.h; do
    [ -n "$(find "$root" -path "*/$f")" ] || die "$f was not installed"
done
private=$(find "$root" \( -name '*_priv.h' -o -name alloc.h -o -name clock.h -o -name stripe.h \))
[ -z "$private" ] || die "private headers were installed: $private"

cflags=$(pkg-config --cflags cfutures)
libs=$(pkg-config --libs cfutures)
static_libs=$(pkg-config --static --libs cfutures)
libdir=$(pkg-config --variable=libdir cfutures)
[ -e "$libdir/libcfutures.so" ] || die "pkg-config's libdir $libdir has no libcfutures.so"
[ -e "$libdir/libcfutures.a" ] || die "pkg-config's libdir $libdir has no libcfutures.a"
echo "   pkg-config --cflags:        $cflags"
echo "   pkg-config --libs:          $libs"
echo "   pkg-config --static --libs: $static_libs"

cd "$tmp"
# shellcheck disable=SC2086 # pkg-config's output is a list of options
{
    step "dynamic: $CC hello.c \$(pkg-config --cflags --libs cfutures)"
    run cc-dynamic.log "$CC" -o hello-dynamic "$here/hello.c" $cflags $libs
    readelf -d hello-dynamic | grep -q 'NEEDED.*libcfutures\.so' \
        || die "hello-dynamic does not need libcfutures.so"
    resolved=$(LD_LIBRARY_PATH=$libdir ldd ./hello-dynamic | awk '/libcfutures/ { print $3 }')
    [ "$(dirname "$resolved")" -ef "$libdir" ] \
        || die "hello-dynamic loads libcfutures from $resolved, not from $libdir"
    LD_LIBRARY_PATH=$libdir ./hello-dynamic

    step "static library: $CC hello.c -Wl,-Bstatic -lcfutures -Wl,-Bdynamic ... (pkg-config --static)"
    mixed_libs=$(echo " $static_libs " | sed 's/ -lcfutures / -Wl,-Bstatic -lcfutures -Wl,-Bdynamic /')
    run cc-static-lib.log "$CC" -o hello-static-lib "$here/hello.c" $cflags $mixed_libs
    ! readelf -d hello-static-lib | grep -q 'NEEDED.*libcfutures' \
        || die "hello-static-lib still needs libcfutures.so"
    ./hello-static-lib

    step "fully static: $CC -static hello.c \$(pkg-config --static --cflags --libs cfutures)"
    run cc-static.log "$CC" -static -o hello-static "$here/hello.c" $cflags $static_libs
    readelf -d hello-static | grep -q 'There is no dynamic section' \
        || die "hello-static is not a static executable"
    ./hello-static
}

step "licences installed"
for f in LICENSE LICENSES/jemalloc.txt; do
    [ -n "$(find "$root" -path "*/doc/cfutures/$f")" ] || die "$f was not installed"
done

step "CMake: find_package(cfutures) and cfutures::cfutures"
cmakefile=$(find "$root" -path '*/cmake/cfutures/cfutures-config.cmake' | head -n 1)
[ -n "$cmakefile" ] || die "no cmake/cfutures/cfutures-config.cmake was installed under $root"
if command -v cmake >/dev/null; then
    # The config file finds the library relative to itself: it works from
    # under DESTDIR as it will from its final place.
    cmake_prefix=$(cd "$(dirname "$cmakefile")/../../.." && pwd)
    run cmake-configure.log cmake -S "$here/cmake" -B "$tmp/cmake-build" \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_PREFIX_PATH="$cmake_prefix"
    run cmake-build.log cmake --build "$tmp/cmake-build"
    LD_LIBRARY_PATH=$libdir "$tmp/cmake-build/hello"
    [ ! -x "$tmp/cmake-build/hello_static" ] || "$tmp/cmake-build/hello_static"
    # Versions the install cannot serve are refused (doc/versioning.md).
    for want in 99.0 0.1; do
        ! cmake -S "$here/cmake" -B "$tmp/cmake-want-$want" -DCMAKE_C_COMPILER="$CC" \
            -DCMAKE_PREFIX_PATH="$cmake_prefix" -DCF_WANT_VERSION=$want \
            >"$tmp/cmake-want-$want.log" 2>&1 || die "find_package(cfutures $want) was accepted"
    done
else
    echo "   skipped: cmake is not installed"
fi

step "install test passed"
