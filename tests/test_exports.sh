#!/bin/sh
# test_exports.sh: no symbol without the cf_ prefix leaves libcfutures.
#
# Run by make check from the top build directory (NM comes from configure
# through the test environment). For the shared library, the dynamic symbols
# it defines; for the static library, the global symbols it defines. Both
# must be cf_ names only, must include the public API (cf_version), and must
# not mention jemalloc's API, defined or undefined: the library's jemalloc is
# its own, linked in and private. The shared library's names carry the
# version node of its soname. A library that is not built is skipped.

NM=${NM:-nm}
status=0
checked=0

# check LABEL DEFINED UNDEFINED: DEFINED and UNDEFINED are lists of names.
check()
{
    label=$1 defined=$2 undefined=$3
    checked=$((checked + 1))
    if ! printf '%s\n' "$defined" | grep -qx cf_version; then
        echo "FAIL: $label: cf_version is not among its symbols (is nm working?)"
        status=1
        return
    fi
    foreign=$(printf '%s\n' "$defined" | grep -v -e '^cf_' -e '^$')
    if test -n "$foreign"; then
        echo "FAIL: $label defines names without the cf_ prefix:"
        printf '%s\n' "$foreign" | sed 's/^/    /'
        status=1
    else
        echo "ok: $label defines $(printf '%s\n' "$defined" | grep -c '^cf_') names, all cf_"
    fi
    jemalloc_api=$(printf '%s\n' "$defined" "$undefined" | grep -x -e 'mallocx' -e 'rallocx' \
        -e 'xallocx' -e 'sallocx' -e 'dallocx' -e 'sdallocx' -e 'nallocx' -e 'mallctl' \
        -e 'mallctlnametomib' -e 'mallctlbymib' -e 'malloc_stats_print' -e 'malloc_conf' \
        -e 'malloc_message' -e 'je_.*')
    if test -n "$jemalloc_api"; then
        echo "FAIL: $label exposes jemalloc's API (defined or needed from outside):"
        printf '%s\n' "$jemalloc_api" | sed 's/^/    /'
        status=1
    fi
}

# names: the third field of nm's BSD output, without symbol versions.
names()
{
    awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 } NF == 2 { print $2 }' | sort -u
}

so=.libs/libcfutures.so
if test -f "$so"; then
    # The version nodes of lib/cfutures.map (CFUTURES_<soname major>) are
    # absolute symbols that every versioned library defines; every cf_ name
    # must carry the current node as its default version.
    defined=$($NM -D --defined-only "$so")
    check "$so" "$(printf '%s\n' "$defined" | grep -v -E ' A CFUTURES_[0-9]+$' | names)" \
        "$($NM -D --undefined-only "$so" | names)"
    unversioned=$(printf '%s\n' "$defined" | awk '$3 ~ /^cf_/ && $3 !~ /@@CFUTURES_[0-9]+$/ { print $3 }')
    if test -n "$unversioned"; then
        echo "FAIL: $so exports names without the CFUTURES_ version node:"
        printf '%s\n' "$unversioned" | sed 's/^/    /'
        status=1
    fi
fi

a=.libs/libcfutures.a
if test -f "$a"; then
    check "$a" "$($NM -g --defined-only "$a" | names)" "$($NM -g --undefined-only "$a" | names)"
fi

if test "$checked" -eq 0; then
    echo "SKIP: no library in .libs (run from the top build directory after make)"
    exit 77
fi
exit $status
