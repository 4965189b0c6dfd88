/* test_fork_server.c: the process that forks, reaps and signals the process
 * pool's workers (lib/fork_server.h), driven directly: spawning into slots,
 * reporting exit statuses and signals (with the worker already reaped),
 * delivering kills (and only to its own workers), the signal dispositions and
 * death signal a worker starts with, stop (which kills and reaps everything),
 * a server that dies, and hundreds of spawns whose events nobody reads for a
 * while (the server must keep serving requests).
 *
 * Each test worker reports on its socket and obeys commands from it.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fork_server.h"
#include "support.h"

/* ---- The test workers ---------------------------------------------------------------- */

enum { OP_EXIT = 1, OP_RAISE, OP_REPORT };

typedef struct command {
    int32_t op, arg;
} command;

/* What a worker says about itself. */
typedef struct report {
    int32_t pid, ppid, slot;
    int32_t sigint_ignored, sigpipe_ignored, sigterm_default, nothing_blocked, death_signal;
} report;

static int disposition_is(int sig, void (*handler)(int))
{
    struct sigaction sa;
    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == handler;
}

/* Obeys commands until told to exit or the socket closes. With a non-NULL
 * arg it exits at once, with status slot % 256. */
static int test_worker(int sock, uint32_t slot, void *arg)
{
    if (arg != NULL)
        return (int)(slot % 256);
    for (;;) {
        command c;
        if (read_full(sock, &c, sizeof c) != 0)
            return 0;
        if (c.op == OP_EXIT)
            return c.arg;
        if (c.op == OP_RAISE) {
            raise(c.arg);
            return 100; /* the signal did not end it */
        }
        if (c.op == OP_REPORT) {
            sigset_t blocked;
            sigprocmask(SIG_SETMASK, NULL, &blocked);
            int death = 0;
            prctl(PR_GET_PDEATHSIG, &death);
            report r = {
                .pid = (int32_t)getpid(),
                .ppid = (int32_t)getppid(),
                .slot = (int32_t)slot,
                .sigint_ignored = disposition_is(SIGINT, SIG_IGN),
                .sigpipe_ignored = disposition_is(SIGPIPE, SIG_IGN),
                .sigterm_default = disposition_is(SIGTERM, SIG_DFL),
                .nothing_blocked = sigisemptyset(&blocked),
                .death_signal = death,
            };
            if (write_full(sock, &r, sizeof r) != 0)
                return 1;
        }
    }
}

/* ---- Helpers ------------------------------------------------------------------------ */

static cf__fork_server *start(void *arg)
{
    cf__fork_server *s = NULL;
    ck_assert_int_eq(cf__fork_server_start(&s, test_worker, arg), 0);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* The next event, waiting for it within the deadline. Returns 0 or -EPIPE. */
static int next_event(cf__fork_server *s, cf__fork_event *ev)
{
    double deadline = now_s() + DEADLINE_S;
    for (;;) {
        int rc = cf__fork_server_next_event(s, ev);
        if (rc != -EAGAIN)
            return rc;
        ck_assert_msg(now_s() < deadline, "no event from the fork server in %g s", DEADLINE_S);
        struct pollfd p = {cf__fork_server_fd(s), POLLIN, 0};
        poll(&p, 1, 100);
    }
}

/* Ask for a worker in `slot`; returns the pool's end of its socket and sets
 * *pid from the SPAWNED event. */
static int spawn(cf__fork_server *s, uint32_t slot, pid_t *pid)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(cf__fork_server_spawn(s, slot, sv[1]), 0);
    close(sv[1]);
    cf__fork_event ev;
    ck_assert_int_eq(next_event(s, &ev), 0);
    ck_assert_int_eq(ev.kind, CF__FORK_SPAWNED);
    ck_assert_uint_eq(ev.slot, slot);
    ck_assert_int_gt(ev.pid, 0);
    *pid = ev.pid;
    return sv[0];
}

static void send_command(int sock, int32_t op, int32_t arg)
{
    command c = {op, arg};
    ck_assert_int_eq(write_full(sock, &c, sizeof c), 0);
}

static report ask_report(int sock)
{
    send_command(sock, OP_REPORT, 0);
    report r;
    ck_assert_int_eq(read_full(sock, &r, sizeof r), 0);
    return r;
}

/* The EXITED event of `pid`. */
static int wait_exit(cf__fork_server *s, pid_t pid)
{
    cf__fork_event ev;
    ck_assert_int_eq(next_event(s, &ev), 0);
    ck_assert_int_eq(ev.kind, CF__FORK_EXITED);
    ck_assert_int_eq(ev.pid, pid);
    return ev.status;
}

/* ---- Tests ---------------------------------------------------------------------------- */

START_TEST(fork_server_spawns_into_slots)
{
    cf__fork_server *s = start(NULL);
    pid_t a, b;
    int sa = spawn(s, 7, &a), sb = spawn(s, 0, &b);
    ck_assert_int_ne(a, b);
    report ra = ask_report(sa), rb = ask_report(sb);
    ck_assert_int_eq(ra.pid, a);
    ck_assert_int_eq(ra.slot, 7);
    ck_assert_int_eq(rb.pid, b);
    ck_assert_int_eq(rb.slot, 0);
    /* Their parent is the server, a child of this process. */
    ck_assert_int_eq(ra.ppid, rb.ppid);
    ck_assert_int_ne(ra.ppid, getpid());
    ck_assert_int_eq(parent_of(ra.ppid), getpid());
    send_command(sa, OP_EXIT, 0);
    send_command(sb, OP_EXIT, 0);
    close(sa);
    close(sb);
    cf__fork_server_stop(s);
}
END_TEST

START_TEST(fork_server_reports_exit_status)
{
    cf__fork_server *s = start(NULL);
    pid_t pid;
    int sock = spawn(s, 1, &pid);
    send_command(sock, OP_EXIT, 7);
    int status = wait_exit(s, pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 7);
    ck_assert(!process_exists(pid)); /* reaped before it was reported */
    close(sock);
    cf__fork_server_stop(s);
}
END_TEST

START_TEST(fork_server_reports_signals)
{
    cf__fork_server *s = start(NULL);
    static const int sigs[] = {SIGSEGV, SIGABRT, SIGTERM, SIGKILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        pid_t pid;
        int sock = spawn(s, (uint32_t)i, &pid);
        send_command(sock, OP_RAISE, sigs[i]);
        int status = wait_exit(s, pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i],
                      "signal %d: wait status %#x", sigs[i], (unsigned)status);
        close(sock);
    }
    /* SIGINT and SIGPIPE do not end a worker. */
    static const int ignored[] = {SIGINT, SIGPIPE};
    for (size_t i = 0; i < 2; i++) {
        pid_t pid;
        int sock = spawn(s, 9, &pid);
        send_command(sock, OP_RAISE, ignored[i]);
        int status = wait_exit(s, pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 100);
        close(sock);
    }
    cf__fork_server_stop(s);
}
END_TEST

START_TEST(fork_server_worker_starts_clean)
{
    /* Whatever this process does with its signals, a worker starts clean. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    cf__fork_server *s = start(NULL);
    pid_t pid;
    int sock = spawn(s, 2, &pid);
    report r = ask_report(sock);
    ck_assert(r.sigint_ignored);
    ck_assert(r.sigpipe_ignored);
    ck_assert(r.sigterm_default);
    ck_assert(r.nothing_blocked);
    ck_assert_int_eq(r.death_signal, SIGKILL); /* dies with the server */
    send_command(sock, OP_EXIT, 0);
    close(sock);
    cf__fork_server_stop(s);
    /* This process's own settings are untouched. */
    ck_assert(disposition_is(SIGTERM, SIG_IGN));
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    ck_assert(sigismember(&now, SIGUSR1));
    ck_assert(!sigismember(&now, SIGINT));
}
END_TEST

START_TEST(fork_server_delivers_kills_to_its_workers_only)
{
    cf__fork_server *s = start(NULL);
    pid_t pid;
    int sock = spawn(s, 3, &pid);
    /* Not a worker of the server's: ignored (SIGUSR1 would end this process). */
    ck_assert_int_eq(cf__fork_server_kill(s, getpid(), SIGUSR1), 0);
    ck_assert_int_eq(cf__fork_server_kill(s, pid, SIGTERM), 0);
    int status = wait_exit(s, pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGTERM);
    /* Reaped: a late kill for it is ignored, and the server goes on. */
    ck_assert_int_eq(cf__fork_server_kill(s, pid, SIGKILL), 0);
    close(sock);
    pid_t next;
    sock = spawn(s, 3, &next);
    ck_assert_int_eq(ask_report(sock).pid, next);
    send_command(sock, OP_EXIT, 0);
    ck_assert(WIFEXITED(wait_exit(s, next)));
    close(sock);
    cf__fork_server_stop(s);
}
END_TEST

START_TEST(fork_server_stop_kills_and_reaps_everything)
{
    cf__fork_server *s = start(NULL);
    pid_t pids[3];
    int socks[3];
    for (int i = 0; i < 3; i++)
        socks[i] = spawn(s, (uint32_t)i, &pids[i]);
    pid_t server = ask_report(socks[0]).ppid;
    ck_assert_int_eq(count_children(), 1);
    cf__fork_server_stop(s); /* the workers still wait for commands */
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(!process_exists(pids[i]), "worker %d survived", (int)pids[i]);
        close(socks[i]);
    }
    ck_assert(!process_exists(server));
    ck_assert_int_eq(count_children(), 0);
}
END_TEST

/* Stop works even while another process holds a copy of the channel (as
 * the fork server of a pool created later does). */
START_TEST(fork_server_stop_with_channel_shared)
{
    cf__fork_server *s = start(NULL);
    pid_t holder = fork(); /* holds a copy of every descriptor, until killed */
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        for (;;)
            pause();
    }
    pid_t pid;
    int sock = spawn(s, 0, &pid);
    cf__fork_server_stop(s);
    ck_assert(!process_exists(pid));
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    close(sock);
    ck_assert_int_eq(count_children(), 0);
}
END_TEST

START_TEST(fork_server_that_dies)
{
    /* The orphaned workers come to this process, which reaps them. */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cf__fork_server *s = start(NULL);
    pid_t pids[2];
    int socks[2];
    for (int i = 0; i < 2; i++)
        socks[i] = spawn(s, (uint32_t)i, &pids[i]);
    pid_t server = ask_report(socks[0]).ppid;
    ck_assert_int_eq(ask_report(socks[1]).ppid, server); /* both past their start */
    ck_assert_int_eq(kill(server, SIGKILL), 0);
    cf__fork_event ev;
    ck_assert_int_eq(next_event(s, &ev), -EPIPE);
    /* Its workers die with it (and come here to be reaped). */
    int left = 2;
    double deadline = now_s() + DEADLINE_S;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        for (int i = 0; i < 2; i++)
            if (pid > 0 && pid == pids[i]) {
                ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                              "worker %d: wait status %#x", (int)pid, (unsigned)status);
                left--;
            }
        if (pid == server || pid > 0)
            continue;
        ck_assert_msg(keep_polling(deadline), "%d workers outlived their server", left);
    }
    ck_assert_int_eq(cf__fork_server_spawn(s, 0, socks[0]), -EPIPE);
    cf__fork_server_stop(s); /* neither hangs nor raises SIGPIPE */
    close(socks[0]);
    close(socks[1]);
}
END_TEST

/* Hundreds of spawns while nobody reads events: the server keeps reading
 * requests (its events wait in a backlog), so neither side blocks the other. */
START_TEST(fork_server_many_spawns_unread_events)
{
    enum { N = 400 };
    signal(SIGPIPE, SIG_DFL);
    cf__fork_server *s = start((void *)1); /* workers exit at once */
    for (uint32_t i = 0; i < N; i++) {
        int sv[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(cf__fork_server_spawn(s, i, sv[1]), 0);
        close(sv[0]);
        close(sv[1]);
    }
    static pid_t slot_pid[N];
    static int exit_of_slot[N];
    static struct {
        pid_t pid;
        int status;
    } exits[N]; /* matched to slots once every SPAWNED is in */
    int spawned = 0, exited = 0;
    for (int i = 0; i < N; i++)
        exit_of_slot[i] = -1;
    while (spawned < N || exited < N) {
        cf__fork_event ev;
        ck_assert_int_eq(next_event(s, &ev), 0);
        if (ev.kind == CF__FORK_SPAWNED) {
            ck_assert_uint_lt(ev.slot, N);
            ck_assert_int_eq(slot_pid[ev.slot], 0);
            slot_pid[ev.slot] = ev.pid;
            spawned++;
        } else {
            ck_assert_int_eq(ev.kind, CF__FORK_EXITED);
            exits[exited].pid = ev.pid;
            exits[exited].status = ev.status;
            exited++;
        }
    }
    for (int i = 0; i < exited; i++) {
        int slot = -1;
        for (int k = 0; k < N; k++)
            if (slot_pid[k] == exits[i].pid)
                slot = k;
        ck_assert_int_ge(slot, 0);
        ck_assert(WIFEXITED(exits[i].status));
        exit_of_slot[slot] = WEXITSTATUS(exits[i].status);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(exit_of_slot[i], i % 256);
    cf__fork_server_stop(s);
    ck_assert_int_eq(count_children(), 0);
}
END_TEST

static Suite *fork_server_suite(void)
{
    Suite *s = suite_create("fork_server");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fork_server_spawns_into_slots);
    tcase_add_test(tc, fork_server_reports_exit_status);
    tcase_add_test(tc, fork_server_reports_signals);
    tcase_add_test(tc, fork_server_worker_starts_clean);
    tcase_add_test(tc, fork_server_delivers_kills_to_its_workers_only);
    tcase_add_test(tc, fork_server_stop_kills_and_reaps_everything);
    tcase_add_test(tc, fork_server_stop_with_channel_shared);
    tcase_add_test(tc, fork_server_that_dies);
    tcase_add_test(tc, fork_server_many_spawns_unread_events);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(fork_server_suite());
}
