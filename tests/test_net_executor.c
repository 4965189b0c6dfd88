/* test_net_executor.c: the network executor with remote workers that are
 * real processes on loopback: calls complete, a crashing task fails only
 * its own call, a worker killed in the middle of a call fails only that
 * call while the others complete on the other worker, and shutdown tells
 * the workers to exit.
 *
 * Workers are forked before the test makes any ZeroMQ object and learn the
 * executor's address through a pipe; each runs cf_net_worker_run with a
 * local pool of one process.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>
#include <cfutures/net.h>

#include "support.h"

/* Under ThreadSanitizer: libzmq is not instrumented, so its lock-free
 * queues look like races; reports from inside it are suppressed
 * (tests/net_tsan.supp says the same for the scripts). */
__attribute__((visibility("default"))) const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libzmq.so.5\nrace:libzmq.so.5\n"
           "called_from_lib:libsodium.so.23\nrace:libsodium.so.23\n";
}

/* Which remote worker this process is (set in each worker before its pool
 * forks, so the pool's processes inherit it). */
static int32_t worker_index = -1;

static int64_t square(int64_t n)
{
    return n * n;
}
CF_TASK(int64_t, square, int64_t);

static int32_t crash(int32_t code)
{
    if (code != 0)
        abort();
    return 0;
}
CF_TASK(int32_t, crash, int32_t);

/* Says which remote worker runs it on fd, then never returns. */
static int32_t block_on(int32_t fd)
{
    write_all(fd, &worker_index, sizeof worker_index);
    for (;;)
        pause();
    return 0;
}
CF_TASK(int32_t, block_on, int32_t);

static cf_net_keys keys_of(const char *secret)
{
    cf_net_keys k;
    ck_assert_int_eq(cf_net_keys_from_secret(&k, secret, strlen(secret)), 0);
    return k;
}

static cf_net_options opts_of(const cf_net_keys *k)
{
    return (cf_net_options){.keys = k, .heartbeat = 0.2, .heartbeat_timeout = 3.0,
                            .connect_timeout = 10.0};
}

typedef struct wchild {
    pid_t pid;
    int wr;
} wchild;

static wchild spawn_worker(int32_t index)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[1]);
        worker_index = index;
        char addr[256] = "";
        size_t n = 0;
        ssize_t r;
        /* Up to the newline: later children hold this pipe's write end too. */
        while (n < sizeof addr - 1 && (r = read(p[0], addr + n, 1)) > 0 && addr[n] != '\n')
            n++;
        addr[n] = '\0';
        cf_net_keys k = keys_of("executor test");
        cf_net_options o = opts_of(&k);
        int rc = cf_net_worker_run(addr, &o, 1);
        if (rc != 0)
            fprintf(stderr, "worker %d: %s (%s)\n", index, cf_err_name(rc), cf_last_error());
        _exit(rc == 0 ? 0 : 1);
    }
    close(p[0]);
    return (wchild){pid, p[1]};
}

static void tell(wchild w, const char *address)
{
    ck_assert_int_eq(write_full(w.wr, address, strlen(address)), 0);
    ck_assert_int_eq(write_full(w.wr, "\n", 1), 0);
    close(w.wr);
}

/* The worker's exit status (-signal when killed). */
static int reap(pid_t pid)
{
    int st;
    double deadline = now_s() + DEADLINE_S;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) == 0)
        ck_assert_msg(keep_polling(deadline), "worker %d did not end", (int)pid);
    ck_assert_int_eq(r, pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static cf_executor *new_net_executor(void)
{
    cf_net_keys k = keys_of("executor test");
    cf_net_options o = opts_of(&k);
    cf_executor *ex;
    ck_assert_int_eq(cf_net_executor_new(&ex, "tcp://127.0.0.1:*", &o), 0);
    ck_assert_str_eq(cf_executor_kind(ex), "net_executor");
    return ex;
}

static int64_t result_i64(cf_future *f)
{
    int64_t r;
    int rc = cf_future_result(f, &r, DEADLINE_S);
    ck_assert_msg(rc == 0, "result: %s (%s)", cf_err_name(rc), cf_last_error());
    return r;
}

START_TEST(net_executor_runs_calls)
{
    check_leaks_in_this_process_only();
    wchild w1 = spawn_worker(1), w2 = spawn_worker(2);
    cf_executor *ex = new_net_executor();
    tell(w1, cf_net_executor_endpoint(ex));
    tell(w2, cf_net_executor_endpoint(ex));
    ck_assert_int_eq(cf_net_executor_wait_workers(ex, 2, DEADLINE_S), 0);
    ck_assert_uint_eq(cf_executor_max_workers(ex), 2);
    cf_future *f[20];
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, square, (int64_t)i + 1), 0);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(result_i64(f[i]), (int64_t)(i + 1) * (i + 1));
        cf_future_release(f[i]);
    }
    /* A map's chunks travel through shared memory files: not over a network. */
    int64_t in[5] = {0}, out[5];
    ck_assert_int_eq(cf_map(ex, square, NULL, 5, out, in), CF_EUNSUPPORTED);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(cf_submit(NULL, ex, square, 1), CF_ESHUTDOWN);
    ck_assert_int_eq(reap(w1.pid), 0);
    ck_assert_int_eq(reap(w2.pid), 0);
    cf_executor_free(ex);
}
END_TEST

START_TEST(net_executor_crashing_task_fails_alone)
{
    check_leaks_in_this_process_only();
    wchild w1 = spawn_worker(1);
    cf_executor *ex = new_net_executor();
    tell(w1, cf_net_executor_endpoint(ex));
    ck_assert_int_eq(cf_net_executor_wait_workers(ex, 1, DEADLINE_S), 0);
    cf_future *bad, *good;
    ck_assert_int_eq(cf_submit(&bad, ex, crash, 1), 0);
    ck_assert_int_eq(cf_submit(&good, ex, square, (int64_t)12), 0);
    const cf_error *e = expect_failure(bad, CF_ECRASHED);
    ck_assert_int_eq(e->detail, SIGABRT);
    ck_assert_int_eq(result_i64(good), 144);
    cf_future_release(bad);
    cf_future_release(good);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(reap(w1.pid), 0);
    cf_executor_free(ex);
}
END_TEST

START_TEST(net_executor_worker_killed_mid_call)
{
    check_leaks_in_this_process_only();
    chan c = new_chan();
    wchild w[3] = {{0, -1}, spawn_worker(1), spawn_worker(2)};
    cf_executor *ex = new_net_executor();
    tell(w[1], cf_net_executor_endpoint(ex));
    tell(w[2], cf_net_executor_endpoint(ex));
    ck_assert_int_eq(cf_net_executor_wait_workers(ex, 2, DEADLINE_S), 0);
    cf_future *blocked;
    ck_assert_int_eq(cf_submit(&blocked, ex, block_on, c.wr), 0);
    int32_t which = read_i32(c.rd);
    ck_assert(which == 1 || which == 2);
    ck_assert(cf_future_running(blocked));
    /* The worker holding the call dies, with its local pool. */
    ck_assert_int_eq(kill(w[which].pid, SIGKILL), 0);
    ck_assert_int_eq(reap(w[which].pid), -SIGKILL);
    cf_future *f[10];
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, square, (int64_t)i), 0);
    const cf_error *e = expect_failure(blocked, CF_ECRASHED);
    ck_assert_ptr_nonnull(strstr(e->message, "heartbeat"));
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(result_i64(f[i]), (int64_t)i * i);
        cf_future_release(f[i]);
    }
    cf_future_release(blocked);
    ck_assert_uint_eq(cf_executor_max_workers(ex), 1);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(reap(w[3 - which].pid), 0);
    cf_executor_free(ex);
    close_chan(c);
}
END_TEST

START_TEST(net_executor_shutdown_without_workers)
{
    cf_executor *ex = new_net_executor();
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, square, (int64_t)3), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_CANCEL_FUTURES, 0), 0);
    ck_assert(cf_future_cancelled(f));
    cf_future_release(f);
    ck_assert_int_eq(cf_net_executor_wait_workers(ex, 1, 0), CF_ETIMEDOUT);
    ck_assert_ptr_null(cf_net_executor_endpoint(NULL));
    cf_executor_free(ex);
}
END_TEST

START_TEST(net_worker_refused_with_wrong_key)
{
    cf_executor *ex = new_net_executor();
    cf_net_keys k = keys_of("not the executor's key");
    cf_net_options o = opts_of(&k);
    o.connect_timeout = 2.0;
    int rc = cf_net_worker_run(cf_net_executor_endpoint(ex), &o, 1);
    ck_assert_msg(rc == -ETIMEDOUT || rc == -EACCES, "worker: %s", cf_err_name(rc));
    ck_assert(EVENTUALLY(cf_net_executor_refused(ex) >= 1));
    ck_assert_uint_eq(cf_executor_max_workers(ex), 0);
    cf_executor_free(ex);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net_executor");
    TCase *tc = tcase_create("net_executor");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, NULL);
    tcase_add_test(tc, net_executor_runs_calls);
    tcase_add_test(tc, net_executor_crashing_task_fails_alone);
    tcase_add_test(tc, net_executor_worker_killed_mid_call);
    tcase_add_test(tc, net_executor_shutdown_without_workers);
    tcase_add_test(tc, net_worker_refused_with_wrong_key);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
