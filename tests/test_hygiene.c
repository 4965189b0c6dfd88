/* test_hygiene.c: what a process pool leaves behind, and how it deals with
 * signals: the application's descriptors and child processes are as before
 * once the pool is freed; no dead worker is left a zombie; the dispatcher
 * thread blocks signals (they reach the application's threads); workers and
 * the fork server ignore SIGINT; SIGPIPE never reaches the application; and
 * the workers and the fork server die with the application.
 *
 * Tasks talk to the test through pipes created before the pool (the workers
 * inherit them); the test waits on those pipes, or polls /proc for a process
 * to go, with a generous deadline.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"

/* ---- Tasks ------------------------------------------------------------------------ */

/* From support.h: worker_pid, server_pid, the pids of the worker and of its
 * fork server; gate, which announces the worker's pid on a channel and waits
 * for a byte on another; hang, which announces it and never returns. */
CF_TASK(int32_t, worker_pid);
CF_TASK(int32_t, server_pid);
CF_TASK(int32_t, gate, int32_t, int32_t);
CF_TASK(int32_t, hang, int32_t);

static int32_t crash_abort(int32_t x)
{
    if (x >= 0)
        abort();
    return x;
}
CF_TASK(int32_t, crash_abort, int32_t);

static uint64_t digest(cf_bytes b)
{
    return fnv1a(b.data, b.len);
}
CF_TASK(uint64_t, digest, cf_bytes);

/* ---- Tests ------------------------------------------------------------------------ */

START_TEST(hygiene_descriptors_and_children_restored)
{
    chan started = new_chan();
    int fds_before = count_fds(), zombies;
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 0);

    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 2, .max_tasks_per_child = 5});
    cf_future *f[20], *crashed, *stuck;
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, worker_pid), 0);
    ck_assert_int_eq(cf_submit(&crashed, ex, crash_abort, 1), 0);
    ck_assert_int_eq(cf_submit(&stuck, ex, hang, started.wr), 0);
    pid_t stuck_pid = read_i32(started.rd);
    ck_assert(cf_future_cancel_running(stuck));
    pid_t workers[20];
    for (int i = 0; i < 20; i++) {
        workers[i] = result_i32(f[i]);
        cf_future_release(f[i]);
    }
    ck_assert_int_eq(cf_future_result(crashed, NULL, DEADLINE_S), CF_ECRASHED);
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 1); /* the fork server */
    cf_executor_free(ex);

    /* Right after free: the fork server is reaped, it reaped every worker. */
    ck_assert_int_eq(count_fds(), fds_before);
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 0);
    ck_assert(!process_exists(stuck_pid));
    for (int i = 0; i < 20; i++)
        ck_assert_msg(!process_exists(workers[i]), "worker %d still exists", (int)workers[i]);
    cf_future_release(crashed);
    cf_future_release(stuck);
    close_chan(started);
}
END_TEST

START_TEST(hygiene_no_zombies)
{
    enum { ROUNDS = 6 };
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 2, .max_tasks_per_child = 1});
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, server_pid), 0);
    pid_t server = result_i32(f);
    cf_future_release(f);
    for (int round = 0; round < ROUNDS; round++) {
        /* A worker that crashed is reaped before its future fails. */
        ck_assert_int_eq(cf_submit(&f, ex, worker_pid), 0);
        pid_t victim = result_i32(f);
        cf_future_release(f);
        ck_assert_int_eq(cf_submit(&f, ex, crash_abort, 1), 0);
        ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), CF_ECRASHED);
        const cf_error *e = cf_future_error(f);
        pid_t crashed = atoi(e->origin + strlen("process "));
        ck_assert(crashed != victim); /* that one retired after its one task */
        ck_assert_msg(!process_exists(crashed), "crashed worker %d not reaped", (int)crashed);
        cf_future_release(f);
    }
    /* Retired workers (one task each) are reaped too: no zombie stays. */
    int zombies = -1;
    double deadline = now_s() + DEADLINE_S;
    while (count_children_of(server, &zombies) > 2 || zombies > 0)
        ck_assert_msg(keep_polling(deadline), "the fork server keeps %d zombies", zombies);
    cf_executor_free(ex);
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 0);
}
END_TEST

/* The bit of `sig` in a /proc status mask line ("SigIgn:", "SigBlk:"). */
static bool mask_has(const char *status_path, const char *field, int sig)
{
    FILE *f = fopen(status_path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    unsigned long long mask = 0;
    bool found = false;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            found = sscanf(line + strlen(field), "%llx", &mask) == 1;
    fclose(f);
    ck_assert(found);
    return (mask >> (sig - 1)) & 1;
}

START_TEST(hygiene_workers_ignore_sigint)
{
    struct sigaction before, after;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &before), 0);
    cf_executor *ex = new_process_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, worker_pid), 0);
    pid_t worker = result_i32(f);
    cf_future_release(f);
    ck_assert_int_eq(cf_submit(&f, ex, server_pid), 0);
    pid_t server = result_i32(f);
    cf_future_release(f);

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)worker);
    ck_assert(mask_has(path, "SigIgn:", SIGINT));
    snprintf(path, sizeof path, "/proc/%d/status", (int)server);
    ck_assert(mask_has(path, "SigIgn:", SIGINT));
    /* A Ctrl-C reaches the whole process group: the pool's processes stay. */
    ck_assert_int_eq(kill(worker, SIGINT), 0);
    ck_assert_int_eq(kill(server, SIGINT), 0);
    ck_assert_int_eq(cf_submit(&f, ex, worker_pid), 0);
    ck_assert_int_eq(result_i32(f), worker); /* the same worker served it */
    cf_future_release(f);
    ck_assert_int_eq(cf_submit(&f, ex, server_pid), 0);
    ck_assert_int_eq(result_i32(f), server);
    cf_future_release(f);
    /* The application's own disposition is untouched. */
    ck_assert_int_eq(sigaction(SIGINT, NULL, &after), 0);
    ck_assert_ptr_eq((void *)after.sa_handler, (void *)before.sa_handler);
    cf_executor_free(ex);
}
END_TEST

START_TEST(hygiene_dispatcher_blocks_signals)
{
    cf_executor *ex = new_process_pool_of(1);
    pid_t tid = thread_named("cf-dispatch");
    ck_assert_int_gt(tid, 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE,
                               SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        ck_assert_msg(mask_has(path, "SigBlk:", sigs[i]), "signal %d not blocked", sigs[i]);
    /* The creating thread's own mask is as it was. */
    sigset_t mine;
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &mine), 0);
    ck_assert(!sigismember(&mine, SIGINT));
    cf_executor_free(ex);
}
END_TEST

/* Kill a worker while the pool still writes it a large frame (it does not
 * read: it is busy): the pool's writes fail with EPIPE, never a SIGPIPE.
 * Then kill the fork server: its requests fail the same way. */
START_TEST(hygiene_sigpipe_never_reaches_the_application)
{
    enum { SIZE = 8 << 20 };
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this process */
    chan started = new_chan(), go = new_chan();
    unsigned char *data = malloc(SIZE);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 12));
    cf_executor *ex = new_process_pool_of(1);
    cf_future *busy, *big;
    ck_assert_int_eq(cf_submit(&busy, ex, gate, started.wr, go.rd), 0);
    pid_t worker = read_i32(started.rd);
    ck_assert_int_eq(cf_submit(&big, ex, digest, ((cf_bytes){data, SIZE})), 0);
    /* Sent: being written to the busy worker. */
    ck_assert(EVENTUALLY(cf_future_running(big)));
    ck_assert_int_eq(kill(worker, SIGKILL), 0);
    ck_assert_int_eq(cf_future_result(busy, NULL, DEADLINE_S), CF_ECRASHED);
    ck_assert_int_eq(cf_future_error(busy)->detail, SIGKILL);
    uint64_t h;
    ck_assert_int_eq(cf_future_result(big, &h, DEADLINE_S), 0); /* ran again elsewhere */
    ck_assert(h == digest((cf_bytes){data, SIZE}));

    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, server_pid), 0);
    pid_t server = result_i32(f);
    cf_future_release(f);
    ck_assert_int_eq(kill(server, SIGKILL), 0);
    double deadline = now_s() + DEADLINE_S;
    int rc;
    while ((rc = cf_submit(&f, ex, worker_pid)) == 0) { /* until the pool sees it */
        cf_future_wait(f, DEADLINE_S);
        cf_future_release(f);
        ck_assert(now_s() < deadline);
    }
    ck_assert_int_eq(rc, CF_EBROKEN);
    cf_executor_free(ex); /* asks the dead server to stop */
    cf_future_release(busy);
    cf_future_release(big);
    free(data);
    close_chan(started);
    close_chan(go);
}
END_TEST

/* In a child process: a pool whose two workers announce themselves and the
 * fork server on `report`, then wait forever. */
static void __attribute__((noreturn)) doomed_application(chan report, chan never)
{
    cf_executor *ex;
    if (cf_process_pool_new(&ex, &(cf_process_pool_options){.max_workers = 2}) != 0)
        _exit(2);
    cf_future *f;
    if (cf_submit(&f, ex, server_pid) != 0)
        _exit(3);
    int32_t server = 0;
    if (cf_future_result(f, &server, DEADLINE_S) != 0)
        _exit(4);
    write_all(report.wr, &server, sizeof server);
    for (int i = 0; i < 2; i++)
        if (cf_submit(NULL, ex, gate, report.wr, never.rd) != 0)
            _exit(5);
    for (;;)
        pause();
}

/* Kill an application that runs a pool: its fork server and workers go too. */
START_TEST(hygiene_workers_die_with_the_application)
{
    /* Orphans come to this process, which reaps them and so sees them die. */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    chan report = new_chan(), never = new_chan();
    pid_t app = fork();
    ck_assert_int_ge(app, 0);
    if (app == 0)
        doomed_application(report, never);
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = read_i32(report.rd); /* the server, then both workers */
    ck_assert_int_ne(pids[1], pids[2]);
    ck_assert_int_eq(kill(app, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(app, &status, 0), app);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    int left = 3;
    double deadline = now_s() + DEADLINE_S;
    while (left > 0) {
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int i = 0; i < 3; i++)
                if (pids[i] == pid) {
                    pids[i] = 0;
                    left--;
                }
            continue;
        }
        for (int i = 0; i < 3; i++)
            if (pids[i] != 0 && !process_exists(pids[i])) { /* reaped by another */
                pids[i] = 0;
                left--;
            }
        ck_assert_msg(keep_polling(deadline),
                      "%d of the pool's processes outlived the application", left);
    }
    close_chan(report);
    close_chan(never);
}
END_TEST

static Suite *hygiene_suite(void)
{
    Suite *s = suite_create("hygiene");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hygiene_descriptors_and_children_restored);
    tcase_add_test(tc, hygiene_no_zombies);
    tcase_add_test(tc, hygiene_workers_ignore_sigint);
    tcase_add_test(tc, hygiene_dispatcher_blocks_signals);
    tcase_add_test(tc, hygiene_sigpipe_never_reaches_the_application);
    tcase_add_test(tc, hygiene_workers_die_with_the_application);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(hygiene_suite());
}
