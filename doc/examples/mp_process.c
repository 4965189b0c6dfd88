/* mp_process.c: tasks and functions in child processes: start, join with a
 * timeout, results, exit codes, terminating a process that would run
 * forever, and the list of children still running.
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

/* A task: declared once, it runs in a child with its arguments checked by
 * the compiler, and its result comes back to the parent. */
static int64_t collatz_steps(int64_t n)
{
    int64_t steps = 0;
    for (; n != 1; steps++)
        n = n % 2 == 0 ? n / 2 : 3 * n + 1;
    return steps;
}
CF_TASK(int64_t, collatz_steps, int64_t);

/* A task that fails the way tasks report failure. */
static int parse_positive(const char *text)
{
    int n = atoi(text);
    if (n <= 0)
        cf_task_fail(22, "'%s' is not a positive number", text);
    return n;
}
CF_TASK(int, parse_positive, const char *);

/* A plain function, for cf_process_start_fn: it never ends on its own. */
static void serve_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
}

int main(void)
{
    /* Start a task; wait for its result. */
    cf_process *p;
    EXPECT(cf_process_start(&p, NULL, collatz_steps, 27) == 0);
    int64_t steps;
    EXPECT(cf_process_result(p, &steps, 30.0) == 0);
    int code;
    EXPECT(cf_process_exitcode(p, &code) == 0);
    printf("%s (pid %d): 27 takes %lld steps; exit code %d\n", cf_process_name(p),
           (int)cf_process_pid(p), (long long)steps, code);
    EXPECT(steps == 111 && code == 0);
    cf_process_free(p);

    /* A failing task: exit code 1, and the message comes back. */
    cf_process_options named = {.name = "parser"};
    EXPECT(cf_process_start(&p, &named, parse_positive, "minus three") == 0);
    int n;
    int rc = cf_process_result(p, &n, 30.0);
    EXPECT(cf_process_exitcode(p, &code) == 0);
    printf("%s: %s, \"%s\"; exit code %d\n", cf_process_name(p), cf_err_name(rc),
           cf_process_error(p)->message, code);
    EXPECT(rc == CF_ETASK && cf_process_error(p)->detail == 22 && code == 1);
    cf_process_free(p);

    /* A process that runs until stopped: join times out, terminate ends it. */
    cf_process *server;
    cf_process_options daemon = {.daemon = true};
    EXPECT(cf_process_start_fn(&server, &daemon, serve_forever, NULL) == 0);
    pid_t live[4];
    size_t nlive;
    EXPECT(cf_process_active_children(live, 4, &nlive) == 0);
    EXPECT(nlive == 1 && live[0] == cf_process_pid(server));
    EXPECT(cf_process_join(server, 0.1) == CF_ETIMEDOUT);
    EXPECT(cf_process_is_alive(server));
    EXPECT(cf_process_terminate(server) == 0);
    EXPECT(cf_process_join(server, 30.0) == 0);
    EXPECT(cf_process_exitcode(server, &code) == 0);
    printf("%s (a daemon): terminated, exit code %d\n", cf_process_name(server), code);
    EXPECT(code == -SIGTERM && !cf_process_is_alive(server));
    cf_process_free(server);

    EXPECT(cf_process_active_children(live, 4, &nlive) == 0 && nlive == 0);
    return 0;
}
