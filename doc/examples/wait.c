/* wait.c: waiting on several futures at once with cf_wait().
 *
 * Three tasks: one holds its worker until the program releases it, one
 * succeeds, one fails. Exits 0 when every outcome is the expected one.
 */
#include <stdio.h>
#include <stdlib.h>

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

/* Blocks until `gate` (a future made with cf_future_new) is done. */
static bool wait_for_gate(cf_future *gate)
{
    return cf_future_wait(gate, 30.0) == 0;
}
CF_TASK(bool, wait_for_gate, cf_future *);

static int checked_half(int x)
{
    if (x % 2 != 0) {
        cf_task_fail(x, "%d is odd", x);
        return 0;
    }
    return x / 2;
}
CF_TASK(int, checked_half, int);

static void show(const char *what, cf_future *const *fs, const bool *done, size_t n_done)
{
    printf("%-16s %zu done:", what, n_done);
    for (int i = 0; i < 3; i++)
        printf(" [%d] %s", i, done[i] ? (cf_future_failed(fs[i]) ? "failed" : "done") : "-");
    printf("\n");
}

int main(void)
{
    cf_executor *ex;
    cf_thread_pool_options opts = {.max_workers = 3};
    EXPECT(cf_thread_pool_new(&ex, &opts) == 0);

    cf_future *gate;
    EXPECT(cf_future_new(&gate) == 0);

    cf_future *fs[3];
    EXPECT(cf_submit(&fs[0], ex, wait_for_gate, gate) == 0);
    EXPECT(cf_submit(&fs[1], ex, checked_half, 10) == 0);
    EXPECT(cf_submit(&fs[2], ex, checked_half, 7) == 0);

    bool done[3];
    size_t n_done;

    /* Returns as soon as one future has failed: fs[2]. */
    int rc = cf_wait(fs, 3, CF_FIRST_EXCEPTION, 30.0, done, &n_done);
    EXPECT(rc == 0);
    show("FIRST_EXCEPTION", fs, done, n_done);
    EXPECT(done[2] && cf_future_failed(fs[2]) && !done[0]);

    /* A timeout is not an error: it reports which futures are done. */
    rc = cf_wait(fs, 3, CF_ALL_COMPLETED, 0.0, done, &n_done);
    EXPECT(rc == 0);
    show("ALL_COMPLETED, 0", fs, done, n_done);
    EXPECT(n_done < 3 && !done[0]);

    /* The condition already holds: returns at once. */
    rc = cf_wait(fs, 3, CF_FIRST_COMPLETED, CF_FOREVER, done, &n_done);
    EXPECT(rc == 0 && n_done >= 1);

    /* Release the held task, then wait for everything. */
    EXPECT(cf_future_set_result(gate, 1) == 0);
    rc = cf_wait(fs, 3, CF_ALL_COMPLETED, 30.0, done, &n_done);
    EXPECT(rc == 0);
    show("ALL_COMPLETED", fs, done, n_done);
    EXPECT(n_done == 3);

    int half = 0;
    EXPECT(cf_future_result(fs[1], &half, 0.0) == 0 && half == 5);
    EXPECT(cf_future_result(fs[2], &half, 0.0) == CF_ETASK);

    for (int i = 0; i < 3; i++)
        cf_future_release(fs[i]);
    cf_future_release(gate);
    cf_executor_free(ex);
    return 0;
}
