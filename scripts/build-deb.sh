#!/bin/bash
# build-deb.sh: build the Debian packages from a release tarball, check them
# with lintian, install them, and build and run a program against the
# installed packages only (doc/packaging.md).
#
# usage: scripts/build-deb.sh [OUT_DIR]
#   From a configured tree (make dist works there) or a clean checkout (it
#   configures one in a temporary directory). The .deb files are copied to
#   OUT_DIR (default: _build/deb). Set DEB_BUILD_OPTIONS=nocheck to skip
#   the package build's own make check. Needs root to install the packages.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/_build/deb}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfutures-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
step() { printf '== %s\n' "$*"; }
die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }
run()
{
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { tail -n 60 "$log" >&2; die "failed: $*"; }
}

step "release tarball"
mkdir "$tmp/dist"
[ -x "$top/configure" ] || die "no configure script in $top: run autoreconf -fi first"
(cd "$tmp/dist" && run "$tmp/configure.log" "$top/configure" --without-jemalloc)
run "$tmp/dist.log" make -C "$tmp/dist" dist-gzip
tarball=$(ls "$tmp"/dist/cfutures-*.tar.gz)
version=$(basename "$tarball" .tar.gz)
version=${version#cfutures-}
changelog_version=$(sed -n '1s/^cfutures (\([^)]*\)).*/\1/p' "$top/debian/changelog")
[ "$version" = "$changelog_version" ] \
    || die "the release is $version but debian/changelog's newest entry is $changelog_version"

step "dpkg-buildpackage (cfutures $version)"
tar -C "$tmp" -xzf "$tarball"
src=$tmp/cfutures-$version
[ -f "$src/debian/rules" ] || die "the tarball has no debian/ directory"
run "$tmp/build.log" sh -c "cd '$src' && dpkg-buildpackage -us -uc -b"
grep -E '^(dpkg-deb: building|dpkg-genchanges)' "$tmp/build.log" || true

step "lintian"
changes=$(ls "$tmp"/cfutures_*.changes)
# Errors and warnings fail the build; the info tags are shown.
lintian --fail-on error,warning --info "$changes" | tee "$tmp/lintian.log"

step "install the packages"
mkdir -p "$out"
cp "$tmp"/*.deb "$out"/
run "$tmp/dpkg.log" dpkg -i "$tmp"/libcfutures1_*.deb "$tmp"/libcfutures-dev_*.deb
dpkg -L libcfutures-dev | grep -E '\.(pc|h|a|so|cmake)$' | sed 's/^/   /'

step "build against the installed packages"
cc -std=c11 -o "$tmp/hello" "$top/tests/install/hello.c" $(pkg-config --cflags --libs cfutures)
"$tmp/hello"
if command -v cmake >/dev/null; then
    run "$tmp/cmake.log" cmake -S "$top/tests/install/cmake" -B "$tmp/cmake-build"
    run "$tmp/cmake-build.log" cmake --build "$tmp/cmake-build"
    "$tmp/cmake-build/hello"
fi

step "remove the packages"
run "$tmp/remove.log" dpkg -r libcfutures-dev libcfutures1
step "Debian packages built, lintian clean, installed and used: $out"
