/* process_pool.c: the same kind of tasks on a pool of worker processes, where
 * a task that crashes fails alone, a task may be given a time limit, and a
 * running task can be cancelled.
 *
 * Exits 0 when every outcome is the expected one.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cfutures.h>

/* Report an unexpected outcome and exit: this program doubles as a test. */
#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static int64_t fib(int n)
{
    int64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        int64_t next = a + b;
        a = b;
        b = next;
    }
    return a;
}
CF_TASK(int64_t, fib, int);

/* Aborts on a negative input, as a failed assertion would. */
static int checked_double(int x)
{
    if (x < 0)
        abort();
    return 2 * x;
}
CF_TASK(int, checked_double, int);

/* Never returns on its own. */
static int stall(int x)
{
    for (;;)
        pause();
    return x;
}
CF_TASK(int, stall, int);

/* A raw pointer means nothing in another process. */
static int read_int(int *p)
{
    return *p;
}
CF_TASK(int, read_int, int *);

/* Wait until f runs (or 30 seconds pass). Returns true when it runs. */
static bool wait_until_running(cf_future *f)
{
    for (int i = 0; i < 3000 && !cf_future_running(f); i++)
        if (cf_future_wait(f, 0.01) == 0)
            return false; /* done already */
    return cf_future_running(f);
}

int main(void)
{
    /* Create process pools early, before the program starts other threads. */
    cf_executor *ex, *limited;
    cf_process_pool_options two = {.max_workers = 2};
    cf_process_pool_options one_timed = {
        .max_workers = 1,
        .task_timeout = 0.5, /* seconds */
    };
    EXPECT(cf_process_pool_new(&ex, &two) == 0);
    EXPECT(cf_process_pool_new(&limited, &one_timed) == 0);

    /* A crash fails its own future; the others complete. */
    cf_future *crashed, *fs[4];
    EXPECT(cf_submit(&crashed, ex, checked_double, -1) == 0);
    for (int i = 0; i < 4; i++)
        EXPECT(cf_submit(&fs[i], ex, fib, 30 * i) == 0);

    int doubled;
    int rc = cf_future_result(crashed, &doubled, 30.0);
    const cf_error *e = cf_future_error(crashed);
    printf("%s: %s (signal %d)\n", cf_err_name(rc), e ? e->message : "-", e ? e->detail : 0);
    EXPECT(rc == CF_ECRASHED && e->detail == SIGABRT);
    for (int i = 0; i < 4; i++) {
        int64_t v;
        EXPECT(cf_future_result(fs[i], &v, 30.0) == 0);
        printf("fib(%d) = %lld\n", 30 * i, (long long)v);
        EXPECT(v == fib(30 * i));
        cf_future_release(fs[i]);
    }
    cf_future_release(crashed);

    /* A running task can be cancelled: its worker is killed and replaced. */
    cf_future *stuck;
    EXPECT(cf_submit(&stuck, ex, stall, 1) == 0);
    EXPECT(wait_until_running(stuck));
    EXPECT(cf_future_cancel_running(stuck));
    EXPECT(cf_future_result(stuck, &doubled, 0.0) == CF_ECANCELLED);
    cf_future_release(stuck);
    EXPECT(cf_submit(&fs[0], ex, checked_double, 21) == 0);
    EXPECT(cf_future_result(fs[0], &doubled, 30.0) == 0 && doubled == 42);
    cf_future_release(fs[0]);

    /* A task past the pool's time limit fails with CF_ETASKTIMEOUT. */
    EXPECT(cf_submit(&stuck, limited, stall, 2) == 0);
    rc = cf_future_result(stuck, &doubled, 30.0);
    printf("%s: %s\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_ETASKTIMEOUT);
    cf_future_release(stuck);

    /* Raw pointers are refused when the submit is made. */
    int x = 7;
    cf_future *refused;
    rc = cf_submit(&refused, ex, read_int, &x);
    printf("%s: %s\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_EUNSUPPORTED && refused == NULL);

    cf_executor_free(limited);
    cf_executor_free(ex);
    return 0;
}
