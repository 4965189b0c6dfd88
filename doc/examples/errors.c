/* errors.c: return codes, error messages, and tasks that fail.
 *
 * Every fallible call returns 0 or a negative code; cf_strerror() and
 * cf_err_name() describe a code, cf_last_error() says what exactly went wrong
 * in this thread's last failing call, and a failed future carries its own
 * cf_error. Exits 0 when every outcome is the expected one.
 */
#include <errno.h>
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

/* The application's own failure codes, carried as cf_error.detail. */
enum { APP_NOT_A_NUMBER = 1, APP_OUT_OF_RANGE = 2 };

/* A task reports a failure with cf_task_fail(), then returns. */
static int parse_port(const char *text)
{
    char *end = NULL;
    long port = text != NULL ? strtol(text, &end, 10) : 0;
    if (text == NULL || *text == '\0' || *end != '\0') {
        cf_task_fail(APP_NOT_A_NUMBER, "not a number: '%s'", text ? text : "(null)");
        return 0;
    }
    if (port < 1 || port > 65535) {
        cf_task_fail(APP_OUT_OF_RANGE, "port %ld is out of range", port);
        return 0;
    }
    return (int)port;
}
CF_TASK(int, parse_port, const char *);

/* Blocks until `gate` (a future made with cf_future_new) is done. */
static bool wait_for_gate(cf_future *gate)
{
    return cf_future_wait(gate, 30.0) == 0;
}
CF_TASK(bool, wait_for_gate, cf_future *);

/* A worker initializer. It always fails here, to show what that does. */
static int connect_worker(void *url)
{
    cf_task_fail(0, "cannot connect to %s", (const char *)url);
    return -1;
}

int main(void)
{
    cf_executor *ex;
    cf_thread_pool_options two = {.max_workers = 2};
    int rc = cf_thread_pool_new(&ex, &two);
    EXPECT(rc == 0);

    /* Describing a code: the library's own codes and -errno alike. */
    printf("%s: %s\n", cf_err_name(CF_ETIMEDOUT), cf_strerror(CF_ETIMEDOUT));
    printf("%s: %s\n", cf_err_name(-ENOMEM), cf_strerror(-ENOMEM));

    /* A call that fails returns a code and records the detail. */
    rc = cf_executor_shutdown(ex, 0x100, CF_FOREVER);
    printf("cf_executor_shutdown: %s (%s)\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_EINVAL);

    /* A task that succeeds, and one that fails. */
    cf_future *good, *bad;
    EXPECT(cf_submit(&good, ex, parse_port, "8080") == 0);
    EXPECT(cf_submit(&bad, ex, parse_port, "http") == 0);

    int port = 0;
    rc = cf_future_result(good, &port, 10.0);
    EXPECT(rc == 0 && port == 8080);

    rc = cf_future_result(bad, &port, 10.0);
    if (rc == CF_ETASK) {
        const cf_error *e = cf_future_error(bad);
        printf("task %s failed in %s: %s (detail %d)\n", e->task,
               e->origin ? e->origin : "?", e->message, e->detail);
        EXPECT(e->code == CF_ETASK && e->detail == APP_NOT_A_NUMBER);
        EXPECT(strcmp(e->message, "not a number: 'http'") == 0);
        EXPECT(strcmp(e->task, "parse_port") == 0);
    }
    EXPECT(rc == CF_ETASK && cf_future_failed(bad));

    /* Asking for the wrong type of result stores nothing. */
    long wide;
    rc = cf_future_result(good, &wide, 10.0);
    printf("reading an int result into a long: %s (%s)\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_ETYPE);
    cf_future_release(good);
    cf_future_release(bad);

    /* A wait that times out is not a failed task: the future is unchanged. */
    cf_future *gate, *blocked;
    EXPECT(cf_future_new(&gate) == 0);
    EXPECT(cf_submit(&blocked, ex, wait_for_gate, gate) == 0);
    bool opened = false;
    rc = cf_future_result(blocked, &opened, 0.0); /* 0: poll */
    EXPECT(rc == CF_ETIMEDOUT && !cf_future_done(blocked));
    EXPECT(cf_future_set_result(gate, 1) == 0);
    rc = cf_future_result(blocked, &opened, 10.0);
    EXPECT(rc == 0 && opened);
    cf_future_release(blocked);
    cf_future_release(gate);

    /* After shutdown, submitting fails and *fut is set to NULL. */
    EXPECT(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER) == 0);
    cf_future *late;
    rc = cf_submit(&late, ex, parse_port, "22");
    printf("submit after shutdown: %s (%s)\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_ESHUTDOWN && late == NULL);
    cf_executor_free(ex);

    /* A worker initializer that fails breaks the pool. */
    cf_executor *broken;
    static char database[] = "db.example:5432";
    cf_thread_pool_options opts = {
        .max_workers = 1,
        .initializer = connect_worker,
        .initializer_arg = database,
    };
    EXPECT(cf_thread_pool_new(&broken, &opts) == 0);
    cf_future *first;
    EXPECT(cf_submit(&first, broken, parse_port, "22") == 0);
    rc = cf_future_result(first, &port, 10.0);
    printf("first task on a broken pool: %s (%s)\n", cf_err_name(rc),
           cf_future_error(first) ? cf_future_error(first)->message : "-");
    EXPECT(rc == CF_EBROKEN);
    cf_future_release(first);
    rc = cf_submit(&first, broken, parse_port, "22");
    EXPECT(rc == CF_EBROKEN && first == NULL);
    cf_executor_free(broken);
    return 0;
}
