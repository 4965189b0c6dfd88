/* interrupt.c: Ctrl-C while the program waits on futures.
 *
 * A SIGINT handler sets the program's stop flag (which its long tasks check)
 * and calls cf_interrupt_waits(), so that the main thread's CF_FOREVER wait
 * returns CF_EINTERRUPTED instead of going on. The main thread then cancels
 * what has not started, lets the running tasks stop, reports every job, and
 * clears the interrupt. A helper thread plays the user pressing Ctrl-C (it
 * sends SIGINT to the process) once two jobs are running, so the program
 * runs unattended; exits 0 when everything went as described.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, kill */

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cfutures.h>

#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* A lock-free atomic: safe in a signal handler and between threads. */
static atomic_bool stop_requested;

/* Async-signal-safe: a flag, and cf_interrupt_waits(). */
static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
    cf_interrupt_waits();
}

/* A job that runs until it is told to stop: counts steps until then. */
static long endless_job(int id)
{
    long steps = 0;
    while (!stop_requested) {
        steps++;
        sched_yield();
    }
    (void)id;
    return steps;
}
CF_TASK(long, endless_job, int);

typedef struct job {
    int id;
    const char *name;
} job;

/* The "user": presses Ctrl-C once both workers are busy. */
static void *press_ctrl_c(void *arg)
{
    cf_future **fs = arg;
    for (int running = 0; running < 2; sched_yield()) {
        running = 0;
        for (int i = 0; i < 4; i++)
            running += cf_future_running(fs[i]);
    }
    kill(getpid(), SIGINT);
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    EXPECT(sigaction(SIGINT, &sa, NULL) == 0);

    cf_executor *ex;
    EXPECT(cf_thread_pool_new(&ex, &(cf_thread_pool_options){.max_workers = 2}) == 0);
    job jobs[4] = {{0, "render"}, {1, "index"}, {2, "backup"}, {3, "report"}};
    cf_future *fs[4];
    for (int i = 0; i < 4; i++) /* each future carries its job */
        EXPECT(cf_submit_with(&fs[i], ex, &(cf_submit_options){.data = &jobs[i]},
                              endless_job, jobs[i].id) == 0);

    pthread_t user;
    EXPECT(pthread_create(&user, NULL, press_ctrl_c, fs) == 0);

    /* Wait for the jobs as they complete, without a time limit. */
    cf_as_completed *it;
    EXPECT(cf_as_completed_new(&it, fs, 4, CF_FOREVER) == 0);
    cf_future *f;
    int rc;
    while ((rc = cf_as_completed_next(it, &f)) == 0) {
        job *j = cf_future_data(f);
        printf("job %s ended\n", j->name);
    }
    /* Ctrl-C ends the wait; only if every job had already stopped and been
     * taken before the wait blocked does the iteration simply run out. */
    EXPECT(rc == CF_EINTERRUPTED || rc == CF_EEXHAUSTED);
    printf("interrupted: %s\n", cf_last_error());
    EXPECT(pthread_join(user, NULL) == 0); /* it has pressed Ctrl-C */

    /* Cancel what has not started; the running jobs see stop_requested. */
    int cancelled = 0;
    for (int i = 0; i < 4; i++)
        cancelled += cf_future_cancel(fs[i]);
    printf("cancelled %d job(s) that had not started\n", cancelled);
    cf_as_completed_free(it);

    /* Let waits block again, then wait for the jobs to settle. */
    EXPECT(cf_interrupt_clear() >= 1);
    EXPECT(cf_wait(fs, 4, CF_ALL_COMPLETED, 30.0, NULL, NULL) == 0);
    for (int i = 0; i < 4; i++) {
        char line[160];
        EXPECT(cf_future_describe(fs[i], line, sizeof line) > 0);
        job *j = cf_future_data(fs[i]);
        printf("%-7s %s\n", j->name, line);
        EXPECT(cf_future_done(fs[i]));
        EXPECT(cf_future_cancelled(fs[i]) || cf_future_result(fs[i], NULL, 0) == 0);
        cf_future_release(fs[i]);
    }
    cf_executor_free(ex);
    return 0;
}
