/* test_malloc_private.c: the library's allocator stays the library's.
 *
 * Built twice: tests/test_malloc_private links the library as programs
 * usually do (the shared library by default); tests/test_malloc_private_static
 * (CF_TEST_STATIC_LIBRARY) links libcfutures.a into the executable. Either
 * way, the program's malloc family must be the C library's (or, under a
 * memory tool, the tool's), never one defined by the library or pulled into
 * the executable with it; jemalloc's own API must be invisible; and in a
 * jemalloc build the library's allocations must not come from the C
 * library's heap.
 */
#include "config.h"

#include <check.h>
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

/* A sanitizer's runtime supplies the malloc family itself, and clang links
 * that runtime into the executable (gcc loads it as a shared library). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* jemalloc's API, referenced weakly: each stays NULL unless some object in
 * the link defines it globally, as a static library that leaked jemalloc
 * would. The test never calls them. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));
extern void *mallocx(size_t size, int flags) __attribute__((weak));
extern void sdallocx(void *ptr, size_t size, int flags) __attribute__((weak));
extern void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                               const char *opts) __attribute__((weak));

typedef struct named_fn {
    const char *name;
    void *address; /* the program's own binding of the name */
} named_fn;

static named_fn malloc_family(size_t i)
{
    const named_fn fns[] = {
        {"malloc", (void *)malloc},
        {"free", (void *)free},
        {"calloc", (void *)calloc},
        {"realloc", (void *)realloc},
        {"posix_memalign", (void *)posix_memalign},
        {"aligned_alloc", (void *)aligned_alloc},
        {"malloc_usable_size", (void *)malloc_usable_size},
        {NULL, NULL},
    };
    return fns[i];
}

/* The base address of the loaded object that contains `address`. */
static void *object_of(const void *address)
{
    Dl_info info;
    ck_assert_msg(dladdr(address, &info) != 0, "dladdr(%p) found no object", address);
    return info.dli_fbase;
}

static const char *object_name(const void *address)
{
    Dl_info info;
    return dladdr(address, &info) != 0 && info.dli_fname != NULL ? info.dli_fname : "?";
}

START_TEST(malloc_private_linkage)
{
    void *library = object_of((const void *)cf_version);
    ck_assert_ptr_nonnull(library);
#ifdef CF_TEST_STATIC_LIBRARY
    ck_assert_msg(library == object_of((const void *)malloc_family),
                  "cf_version comes from %s, not from the executable",
                  object_name((const void *)cf_version));
#endif
    ck_assert_str_eq(cf_version(), "0.2.0");
}
END_TEST

START_TEST(malloc_private_program_malloc_not_the_library)
{
    void *library = object_of((const void *)cf_version);
    void *program = object_of((const void *)malloc_family);
    for (size_t i = 0; malloc_family(i).name != NULL; i++) {
        named_fn fn = malloc_family(i);
        void *global = dlsym(RTLD_DEFAULT, fn.name);
        ck_assert_msg(global != NULL, "%s is not visible at all", fn.name);
        ck_assert_msg(global == fn.address, "%s: the program's binding %p is not the global %p",
                      fn.name, fn.address, global);
        void *owner = object_of(fn.address);
        if (UNDER_SANITIZER && owner == program)
            continue; /* the sanitizer's runtime, linked into the executable */
        ck_assert_msg(owner != library, "%s comes from the object that holds the library (%s)",
                      fn.name, object_name(fn.address));
        ck_assert_msg(owner != program, "%s is defined in the executable", fn.name);
    }
}
END_TEST

#ifdef CF_USE_JEMALLOC
/* In a jemalloc build no memory tool runs (the checked builds use plain
 * malloc), so the program's allocator must be exactly the C library's. */
START_TEST(malloc_private_program_malloc_is_libc)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ck_assert_msg(libc != NULL, "libc.so.6 is not loaded: %s", dlerror());
    for (size_t i = 0; malloc_family(i).name != NULL; i++) {
        named_fn fn = malloc_family(i);
        void *from_libc = dlsym(libc, fn.name);
        ck_assert_msg(from_libc != NULL, "libc.so.6 has no %s", fn.name);
        ck_assert_msg(fn.address == from_libc, "the program's %s is %p in %s, libc's is %p",
                      fn.name, fn.address, object_name(fn.address), from_libc);
    }
    dlclose(libc);
}
END_TEST
#endif

START_TEST(malloc_private_jemalloc_api_invisible)
{
    const char *const names[] = {"mallctl", "mallctlbymib", "mallocx",           "rallocx",
                                 "dallocx", "sdallocx",     "malloc_stats_print", "malloc_conf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(dlsym(RTLD_DEFAULT, names[i]) == NULL, "%s is visible (from %s)", names[i],
                      object_name(dlsym(RTLD_DEFAULT, names[i])));
    ck_assert_msg(mallctl == NULL, "mallctl links");
    ck_assert_msg(mallocx == NULL, "mallocx links");
    ck_assert_msg(sdallocx == NULL, "sdallocx links");
    ck_assert_msg(malloc_stats_print == NULL, "malloc_stats_print links");
}
END_TEST

/* Memory handed out by the C library to the program still belongs to the
 * program's free, with the library loaded and in use. */
START_TEST(malloc_private_program_heap_works)
{
    cf_future *f;
    ck_assert_int_eq(cf_future_new(&f), 0);
    char *s = strdup("allocated by the C library");
    ck_assert_ptr_nonnull(s);
    char *bigger = realloc(s, 4096);
    ck_assert_ptr_nonnull(bigger);
    ck_assert_str_eq(bigger, "allocated by the C library");
    free(bigger);
    cf_future_release(f);
}
END_TEST

#ifdef CF_USE_JEMALLOC
enum { N_FUTURES = 4096 };

static size_t libc_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* The library's allocations do not come from the C library's heap: creating
 * thousands of futures leaves glibc's in-use count nearly unchanged, while
 * as many small mallocs by the program show up in it in full. */
START_TEST(malloc_private_library_allocates_apart)
{
    static cf_future *futures[N_FUTURES];
    static void *blocks[N_FUTURES];
    const size_t block_size = 64;

    cf_future *warm;
    ck_assert_int_eq(cf_future_new(&warm), 0);
    cf_future_release(warm);

    size_t before = libc_heap_in_use();
    for (size_t i = 0; i < N_FUTURES; i++)
        ck_assert_int_eq(cf_future_new(&futures[i]), 0);
    size_t after_library = libc_heap_in_use();
    for (size_t i = 0; i < N_FUTURES; i++) {
        blocks[i] = malloc(block_size);
        ck_assert_ptr_nonnull(blocks[i]);
    }
    size_t after_program = libc_heap_in_use();

    size_t library_growth = after_library > before ? after_library - before : 0;
    size_t program_growth = after_program > after_library ? after_program - after_library : 0;
    ck_assert_msg(program_growth >= (size_t)N_FUTURES * block_size,
                  "glibc's heap grew by %zu bytes for %d mallocs of %zu bytes", program_growth,
                  N_FUTURES, block_size);
    ck_assert_msg(library_growth < (size_t)N_FUTURES * 8,
                  "glibc's heap grew by %zu bytes for %d futures", library_growth, N_FUTURES);

    for (size_t i = 0; i < N_FUTURES; i++) {
        free(blocks[i]);
        cf_future_release(futures[i]);
    }
}
END_TEST

/* CF_ALLOCATOR=system, read at the library's first allocation (this test's
 * process has made none: each test is a fresh fork), puts the library's
 * blocks in the C library's heap, where valgrind and LeakSanitizer see
 * them: the same futures now show in glibc's count in full. */
START_TEST(malloc_private_system_switch)
{
    static cf_future *futures[N_FUTURES];
    ck_assert_int_eq(setenv("CF_ALLOCATOR", "system", 1), 0);
    size_t before = libc_heap_in_use();
    for (size_t i = 0; i < N_FUTURES; i++)
        ck_assert_int_eq(cf_future_new(&futures[i]), 0);
    size_t after = libc_heap_in_use();
    size_t growth = after > before ? after - before : 0;
    ck_assert_msg(growth >= (size_t)N_FUTURES * 64,
                  "glibc's heap grew by %zu bytes for %d futures on the system allocator",
                  growth, N_FUTURES);
    for (size_t i = 0; i < N_FUTURES; i++)
        cf_future_release(futures[i]);
}
END_TEST
#endif

static Suite *malloc_private_suite(void)
{
    Suite *s = suite_create("malloc_private");
    TCase *tc = tcase_create("malloc_private");
    tcase_add_test(tc, malloc_private_linkage);
    tcase_add_test(tc, malloc_private_program_malloc_not_the_library);
    tcase_add_test(tc, malloc_private_jemalloc_api_invisible);
    tcase_add_test(tc, malloc_private_program_heap_works);
#ifdef CF_USE_JEMALLOC
    tcase_add_test(tc, malloc_private_program_malloc_is_libc);
    tcase_add_test(tc, malloc_private_library_allocates_apart);
    tcase_add_test(tc, malloc_private_system_switch);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(malloc_private_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
