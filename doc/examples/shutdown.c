/* shutdown.c: fire-and-forget work, and shutting a pool down: waiting,
 * cancelling what has not started, and waiting with a time limit.
 *
 * Exits 0 when every outcome is the expected one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static long bytes_logged;

static void log_line(const char *text)
{
    pthread_mutex_lock(&log_lock);
    bytes_logged += (long)strlen(text) + 1;
    pthread_mutex_unlock(&log_lock);
}
CF_TASK(void, log_line, const char *);

/* Says it has started, then holds its worker until `release` is done. */
static bool hold(cf_future *started, cf_future *release)
{
    cf_future_set_result(started, 1);
    return cf_future_wait(release, 30.0) == 0;
}
CF_TASK(bool, hold, cf_future *, cf_future *);

int main(void)
{
    /* Fire and forget: with a NULL future the outcome is dropped. A waiting
     * shutdown returns once every submitted task has run. */
    cf_executor *ex;
    cf_thread_pool_options two = {.max_workers = 2};
    EXPECT(cf_thread_pool_new(&ex, &two) == 0);
    for (int i = 0; i < 100; i++)
        EXPECT(cf_submit(NULL, ex, log_line, "one line") == 0);
    EXPECT(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 30.0) == 0);
    printf("logged %ld bytes\n", bytes_logged);
    EXPECT(bytes_logged == 100 * 9);
    cf_executor_free(ex);

    /* One worker, held by a task; three tasks wait behind it. */
    cf_thread_pool_options one = {.max_workers = 1};
    EXPECT(cf_thread_pool_new(&ex, &one) == 0);
    cf_future *started, *release, *busy, *queued[3];
    EXPECT(cf_future_new(&started) == 0 && cf_future_new(&release) == 0);
    EXPECT(cf_submit(&busy, ex, hold, started, release) == 0);
    EXPECT(cf_future_wait(started, 10.0) == 0);
    for (int i = 0; i < 3; i++)
        EXPECT(cf_submit(&queued[i], ex, log_line, "never logged") == 0);

    /* Cancel what has not started, and wait at most 0.1 s for the rest: the
     * held task is still running, so the wait times out. */
    int rc = cf_executor_shutdown(ex, CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_WAIT, 0.1);
    printf("shutdown: %s\n", cf_err_name(rc));
    EXPECT(rc == CF_ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        EXPECT(cf_future_cancelled(queued[i]));
    EXPECT(cf_future_running(busy));

    /* No new work is accepted. */
    cf_future *late;
    EXPECT(cf_submit(&late, ex, log_line, "too late") == CF_ESHUTDOWN);

    /* Let the held task finish; shutting down again is harmless. */
    EXPECT(cf_future_set_result(release, 1) == 0);
    EXPECT(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 30.0) == 0);
    cf_executor_free(ex);

    /* Futures outlive their executor. */
    bool released = false;
    EXPECT(cf_future_result(busy, &released, 0.0) == 0 && released);
    EXPECT(bytes_logged == 100 * 9);

    cf_future_release(busy);
    for (int i = 0; i < 3; i++)
        cf_future_release(queued[i]);
    cf_future_release(started);
    cf_future_release(release);
    return 0;
}
