/* leak_futures.c: a program that leaks 1000 futures, for
 * tests/test_leak_visible.sh: a memory tool must report them, whichever
 * allocator the library was built with.
 *
 *     leak_futures          submit 1000 tasks, wait for each, release none
 *     leak_futures --probe  exit 77 when built for a sanitizer (valgrind
 *                           cannot run such a program), else 0
 */
#include <stdio.h>
#include <string.h>

#include <cfutures.h>

static int square(int x)
{
    return x * x;
}
CF_TASK(int, square, int);

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--probe") == 0) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        return 77;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
        return 77;
#endif
#endif
        return 0;
    }
    cf_executor *ex;
    if (cf_thread_pool_new(&ex, &(cf_thread_pool_options){.max_workers = 2}) != 0) {
        fprintf(stderr, "leak_futures: %s\n", cf_last_error());
        return 2;
    }
    for (int i = 0; i < 1000; i++) {
        cf_future *f;
        int r;
        if (cf_submit(&f, ex, square, i) != 0 || cf_future_result(f, &r, CF_FOREVER) != 0 ||
            r != i * i) {
            fprintf(stderr, "leak_futures: %s\n", cf_last_error());
            return 2;
        }
        /* f is never released: the leak the tool must see. */
    }
    cf_executor_free(ex);
    return 0;
}
