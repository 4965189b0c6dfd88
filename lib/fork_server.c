/* fork_server.c: the process that forks, reaps and signals the process
 * pool's workers (see fork_server.h for why it exists).
 *
 * Design notes
 * - Channel: one SOCK_SEQPACKET socketpair, close-on-exec. Parent -> server:
 *   struct cf__fork_request (SPAWN carries the worker's socket as SCM_RIGHTS;
 *   STOP asks it to finish). Server -> parent: struct cf__fork_event. The
 *   server also stops when the parent's end closes, but stopping never relies
 *   on that alone: a process the application forks holds a copy of the
 *   parent's end for as long as it lives.
 * - The server is single-threaded and only ever blocks in poll(). SIGCHLD is
 *   read through a signalfd; every exit is reaped with waitpid(WNOHANG) and
 *   reported, so no worker is ever left a zombie. Events the channel has no
 *   room for wait in a backlog (sent as POLLOUT allows), so the server keeps
 *   reading requests even when the parent is slow to read events: the two
 *   never wait on each other.
 * - The server keeps the pids it has not reaped yet; a KILL for any other pid
 *   is ignored, so a recycled pid is never signalled.
 * - Signals: blocked in the calling thread around each fork; the server and
 *   the workers reset every handler to the default, ignore SIGINT (a Ctrl-C is
 *   the application's to decide) and SIGPIPE. Death: a worker gets SIGKILL
 *   when the server dies, the server when the thread that started it ends
 *   (PR_SET_PDEATHSIG follows the parent thread, not the parent process: the
 *   pool starts the server from its dispatcher thread, which outlives it);
 *   each checks getppid() after setting that, for a parent already gone.
 * - Memory: the server and the workers allocate only with the library's
 *   allocator, after fork, in their own single-threaded processes.
 */
#include "config.h"

#include "fork_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "task_priv.h"

enum { CF__FORK_OP_SPAWN = 1, CF__FORK_OP_KILL = 2, CF__FORK_OP_STOP = 3 };

struct cf__fork_request {
    uint32_t op;
    uint32_t slot;
    pid_t pid;
    int sig;
};

struct cf__fork_server {
    int chan;
    pid_t pid;
};

/* ---- Shared helpers ------------------------------------------------------------- */

static ssize_t cf__send_retry(int fd, struct msghdr *msg)
{
    ssize_t n;
    do
        n = sendmsg(fd, msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Reset every signal to its default disposition, then ignore the ones a
 * worker must not die or stop from. */
static void cf__reset_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, RT gaps */
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

/* Die with the parent; if it is already gone, exit now. */
static void cf__die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
}

/* ---- The server process ------------------------------------------------------------ */

typedef struct cf__server_state {
    int chan;
    int sigfd;
    cf__worker_main_fn worker_main;
    void *arg;
    pid_t *live;
    size_t nlive, cap;
    cf__fork_event *backlog; /* events waiting for room in the channel, oldest first */
    size_t nbacklog, backlog_cap;
} cf__server_state;

/* Send one event now. Returns 0, -EAGAIN when the channel is full, or exits
 * when the channel is broken (nothing left to serve). */
static int cf__server_send_now(cf__server_state *st, const cf__fork_event *ev, int flags)
{
    struct iovec iov = {(void *)ev, sizeof *ev};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;
    do
        n = sendmsg(st->chan, &msg, MSG_NOSIGNAL | flags);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -EAGAIN;
    if (errno == EPIPE || errno == ECONNRESET)
        return 0; /* the parent is gone: the hang-up ends the server */
    _exit(70);
}

/* Send the backlog, oldest first, as far as the channel takes it. */
static void cf__server_send_backlog(cf__server_state *st)
{
    size_t sent = 0;
    while (sent < st->nbacklog && cf__server_send_now(st, &st->backlog[sent], MSG_DONTWAIT) == 0)
        sent++;
    memmove(st->backlog, st->backlog + sent, (st->nbacklog - sent) * sizeof *st->backlog);
    st->nbacklog -= sent;
}

/* Send an event after those already waiting; never blocks while the backlog
 * can grow (if it cannot, wait for room: the parent reads events). */
static void cf__server_send(cf__server_state *st, const cf__fork_event *ev)
{
    if (st->nbacklog == 0 && cf__server_send_now(st, ev, MSG_DONTWAIT) == 0)
        return;
    if (st->nbacklog == st->backlog_cap) {
        size_t cap = st->backlog_cap ? st->backlog_cap * 2 : 64;
        cf__fork_event *grown = cf__realloc(st->backlog, cap * sizeof *grown);
        if (grown == NULL) {
            while (st->nbacklog > 0) /* out of memory: keep the order, blocking */
                if (cf__server_send_now(st, &st->backlog[0], 0) == 0)
                    memmove(st->backlog, st->backlog + 1, --st->nbacklog * sizeof *st->backlog);
            cf__server_send_now(st, ev, 0);
            return;
        }
        st->backlog = grown;
        st->backlog_cap = cap;
    }
    st->backlog[st->nbacklog++] = *ev;
}

static bool cf__server_track(cf__server_state *st, pid_t pid)
{
    if (st->nlive == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        pid_t *live = cf__realloc(st->live, cap * sizeof *live);
        if (live == NULL)
            return false;
        st->live = live;
        st->cap = cap;
    }
    st->live[st->nlive++] = pid;
    return true;
}

static bool cf__server_untrack(cf__server_state *st, pid_t pid)
{
    for (size_t i = 0; i < st->nlive; i++) {
        if (st->live[i] == pid) {
            st->live[i] = st->live[--st->nlive];
            return true;
        }
    }
    return false;
}

static void cf__server_spawn(cf__server_state *st, uint32_t slot, int sock)
{
    cf__fork_event ev = {.kind = CF__FORK_SPAWNED, .slot = slot};
    pid_t self = getpid();
    /* Reserve the tracking entry first, so a forked worker is always tracked. */
    if (!cf__server_track(st, 0)) {
        ev.kind = CF__FORK_SPAWN_FAILED;
        ev.status = -ENOMEM;
        close(sock);
        cf__server_send(st, &ev);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(st->chan);
        close(st->sigfd);
        cf__die_with_parent(self);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_NAME, "cf-worker");
        _exit(st->worker_main(sock, slot, st->arg));
    }
    close(sock);
    if (pid < 0) {
        st->nlive--;
        ev.kind = CF__FORK_SPAWN_FAILED;
        ev.status = -errno;
    } else {
        st->live[st->nlive - 1] = pid;
        ev.pid = pid;
    }
    cf__server_send(st, &ev);
}

static void cf__server_reap(cf__server_state *st, bool report)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (!cf__server_untrack(st, pid))
            continue;
        if (report) {
            cf__fork_event ev = {.kind = CF__FORK_EXITED, .pid = pid, .status = status};
            cf__server_send(st, &ev);
        }
    }
}

/* Kill and reap every worker, then exit. */
static void __attribute__((noreturn)) cf__server_exit(cf__server_state *st)
{
    for (size_t i = 0; i < st->nlive; i++)
        kill(st->live[i], SIGKILL);
    while (st->nlive > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno != EINTR)
            break;
        if (pid > 0)
            cf__server_untrack(st, pid);
    }
    _exit(0);
}

/* Receive one request; returns false when the parent asked the server to
 * stop or has closed the channel. */
static bool cf__server_request(cf__server_state *st)
{
    struct cf__fork_request req;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&req, sizeof req};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    ssize_t n;
    do
        n = recvmsg(st->chan, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno != EAGAIN))
        return false;
    if (n != (ssize_t)sizeof req)
        return true; /* not a request of ours: ignore */
    int fd = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (req.op == CF__FORK_OP_SPAWN && fd >= 0) {
        cf__server_spawn(st, req.slot, fd);
        return true;
    }
    if (fd >= 0)
        close(fd);
    if (req.op == CF__FORK_OP_STOP)
        return false;
    if (req.op == CF__FORK_OP_KILL) {
        for (size_t i = 0; i < st->nlive; i++)
            if (st->live[i] == req.pid)
                kill(req.pid, req.sig);
    }
    return true;
}

static void __attribute__((noreturn)) cf__server_main(cf__server_state *st, pid_t app)
{
    cf__die_with_parent(app);
    cf__reset_signals();
    cf__child_skip_atexit(); /* inherited by every worker: exit() in a task */
    prctl(PR_SET_NAME, "cf-forkserver");
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    st->sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (st->sigfd < 0)
        _exit(71);
    /* Everything but SIGCHLD (read through the signalfd) is deliverable. */
    sigprocmask(SIG_SETMASK, &chld, NULL);
    for (;;) {
        short chan_events = POLLIN | (st->nbacklog > 0 ? POLLOUT : 0);
        struct pollfd pfd[2] = {{st->chan, chan_events, 0}, {st->sigfd, POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            cf__server_exit(st);
        }
        if (pfd[0].revents & POLLOUT)
            cf__server_send_backlog(st);
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(st->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
            }
            cf__server_reap(st, true);
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!cf__server_request(st))
                cf__server_exit(st);
        }
    }
}

/* ---- The parent's side ---------------------------------------------------------------- */

int cf__fork_server_start(cf__fork_server **out, cf__worker_main_fn worker_main, void *arg)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* Output the application has buffered must not be copied into the
     * server and written again by every worker that exits. */
    fflush(NULL);
    pid_t app = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        cf__server_state st = {.chan = sv[1], .sigfd = -1, .worker_main = worker_main,
                               .arg = arg};
        cf__server_main(&st, app);
    }
    int err = -errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return err;
    }
    /* Allocated only now, so that no copy of it lives on in the server. */
    cf__fork_server *s = cf__calloc(1, sizeof *s);
    if (s == NULL) {
        close(sv[0]); /* the server sees the hang-up and exits */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        return -ENOMEM;
    }
    s->chan = sv[0];
    s->pid = pid;
    *out = s;
    return 0;
}

int cf__fork_server_fd(const cf__fork_server *s)
{
    return s->chan;
}

static int cf__fork_request_send(cf__fork_server *s, const struct cf__fork_request *req, int fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {(void *)req, sizeof *req};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(cbuf, 0, sizeof cbuf);
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof cbuf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return cf__send_retry(s->chan, &msg) < 0 ? -errno : 0;
}

int cf__fork_server_spawn(cf__fork_server *s, uint32_t slot, int worker_sock)
{
    struct cf__fork_request req = {.op = CF__FORK_OP_SPAWN, .slot = slot};
    return cf__fork_request_send(s, &req, worker_sock);
}

int cf__fork_server_kill(cf__fork_server *s, pid_t pid, int sig)
{
    struct cf__fork_request req = {.op = CF__FORK_OP_KILL, .pid = pid, .sig = sig};
    return cf__fork_request_send(s, &req, -1);
}

int cf__fork_server_next_event(cf__fork_server *s, cf__fork_event *ev)
{
    ssize_t n;
    do
        n = recv(s->chan, ev, sizeof *ev, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof *ev)
        return 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -EAGAIN;
    return -EPIPE;
}

void cf__fork_server_stop(cf__fork_server *s)
{
    if (s == NULL)
        return;
    struct cf__fork_request req = {.op = CF__FORK_OP_STOP};
    cf__fork_request_send(s, &req, -1); /* fails harmlessly when the server is gone */
    close(s->chan);
    int status;
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    cf__free(s);
}
