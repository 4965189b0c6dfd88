/* process_pool.c: an executor whose workers are forked processes.
 *
 * Design notes
 * - Threads: callers of submit/shutdown/cancel touch only the fields under
 *   `mu` (the pending queue, flags) and poke `wake_fd`. One dispatcher thread
 *   owns everything else: the fork server, the workers, their sockets and
 *   buffers, the futures in flight. It completes futures (so done-callbacks
 *   run in it) and never holds `mu` while doing so. It runs with every signal
 *   blocked, so signals reach the application's own threads.
 * - Processes: the dispatcher's first act is to fork the fork server
 *   (fork_server.c) while cf_process_pool_new waits for the outcome; the
 *   server dies with that thread, which outlives it. The server forks the
 *   workers, reaps them and reports how they ended, and delivers kills.
 * - Flow: the dispatcher moves pending futures to ready workers, up to
 *   CF__PP_PIPELINE calls in flight per worker, encodes them into the
 *   worker's output buffer and writes each buffer once per loop, so small
 *   calls batch into few writes; answers are read in bulk the same way. A
 *   worker runs its calls in order and answers in order, but an answer may
 *   stay in the worker while the calls after it look short (worker.c): the
 *   oldest call in flight is not necessarily the one running. The worker's
 *   beacon (shared memory, worker.h) says which call runs and since when.
 * - Stopping calls: a call's time limit counts from when its worker started
 *   it (the beacon); a call cancelled while in flight is stopped when it is
 *   its worker's first unfinished call (cf__pp_check_running). Both kill the
 *   worker, aiming at that call (kill_id): if it finished before the kill
 *   landed, the call that ran instead is innocent and runs again. Each
 *   worker is asked to die at most once.
 * - Failures: when a worker dies, its beacon says which call it was running:
 *   that call fails (CF_ECRASHED with the signal or exit status), or the one
 *   the pool killed it for fails (CF_ETASKTIMEOUT) or ends cancelled; with
 *   CF_SHUTDOWN_TERMINATE, or when the fork server died, the running call
 *   fails with CF_ETERMINATED. The other calls it held go back to the front
 *   of the line, in order: those queued behind, and those that finished but
 *   whose answers had not left the worker yet (they run again; a terminated
 *   or broken pool fails them with the calls waiting). The worker is
 *   replaced. A worker that dies
 *   before it is ready (a crashing initializer) breaks the pool instead, and
 *   so do CF__PP_MAX_FRUITLESS workers in a row that die on their own,
 *   outside any call, before answering anything, so that no worker is
 *   respawned forever. Nothing is lost.
 * - Lifetimes: the pool holds one reference to each future from submit until
 *   it is done. The pool's memory is freed by cf_executor_free after the
 *   dispatcher has exited and no cf_future_cancel_running call is in flight
 *   through the pool's canceller (canceller.busy back to 0). Freed from a
 *   done-callback (on the dispatcher, or inside a cancel-running call, which
 *   runs the cancelled future's callbacks), it cannot wait for that: the
 *   dispatcher frees the pool when it ends (or a thread started for it, if
 *   the dispatcher has ended already).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "cpu_count.h"
#include "error_priv.h"
#include "executor_priv.h"
#include "fork_server.h"
#include "frame.h"
#include "future_priv.h"
#include "map_priv.h"
#include "wire.h"
#include "worker.h"

/* The most calls in flight per worker. How many are actually sent adapts to
 * how long calls take (cf__pp_assign): tiny calls pipeline deeply, so batches
 * amortize system calls; long ones go one or two at a time, so that no call
 * waits behind a slow one while another worker idles. */
#define CF__PP_PIPELINE 1024
/* Aim for this much work queued on each worker. */
#define CF__PP_QUEUED_WORK_NS 2000000.0
/* Workers in a row that may die on their own, ready but before answering
 * any call and outside any call, before the pool gives up (breaks). */
#define CF__PP_MAX_FRUITLESS 3
/* How often to look whether a call cancelled while queued in a worker runs. */
#define CF__PP_CANCEL_POLL_NS 1000000
/* After a worker could not be started, wait this long before trying again. */
#define CF__PP_SPAWN_RETRY_NS 50000000
/* After an answer, or while calls are in flight, the dispatcher polls this
 * long before it sleeps (yielding the CPU between polls): an answer, or the
 * caller's next submit, that comes within it costs no wake-up, which is most
 * of a serial round trip's time. */
#define CF__PP_POLL_NS 30000

/* epoll tags for the fds that are not workers. */
#define CF__PP_TAG_WAKE UINT32_MAX
#define CF__PP_TAG_SERVER (UINT32_MAX - 1)

typedef enum cf__pw_state {
    CF__PW_EMPTY = 0, /* no process */
    CF__PW_SPAWNING,  /* asked the fork server, no answer yet */
    CF__PW_STARTING,  /* forked, waiting for its HELLO */
    CF__PW_READY,     /* serving */
    CF__PW_GONE,      /* its socket closed or it exited: waiting for the other */
} cf__pw_state;

typedef struct cf__pworker {
    cf__pw_state state;
    uint32_t slot;
    int sock;
    pid_t pid;
    char origin[32];
    cf__frame_out out;
    cf__frame_in in;
    cf_future *flight[CF__PP_PIPELINE]; /* FIFO ring of calls sent, oldest first */
    uint64_t ids[CF__PP_PIPELINE];
    unsigned first, count;
    int64_t head_since;     /* when the oldest call in flight became so */
    size_t calls_sent;      /* since this process started (max_tasks_per_child) */
    int kill_reason;        /* 0, or why the pool killed it: CF_ETASKTIMEOUT,
                               CF_ECANCELLED, CF_ETERMINATED */
    uint64_t kill_id;       /* the call a timeout or cancel kill was aimed at */
    bool doomed;            /* the pool wants it dead (kill asked, maybe not sent yet) */
    bool kill_sent;         /* the fork server was asked to kill it */
    bool was_ready;         /* it said HELLO (a death before is an initializer's) */
    bool answered;          /* it answered a call */
    bool retiring;          /* told to exit (max_tasks_per_child, shutdown) */
    bool eof, exited, want_write;
    int exit_status;
} cf__pworker;

typedef struct cf__process_pool {
    cf_executor base;
    cf__canceller canceller;
    cf__worker_config *config; /* immutable, seen by every worker */
    cf__beacon *beacons;       /* shared with the workers (config->beacons) */
    size_t beacons_size;
    size_t max_workers, max_tasks_per_child;
    double task_timeout;

    /* ---- Guarded by mu ---- */
    pthread_mutex_t mu;
    pthread_cond_t done_cv;       /* dispatcher started or exited */
    cf_future *qhead, *qtail;     /* pending futures, FIFO through next */
    size_t queued;
    bool shutdown, terminate, broken, dispatcher_done, free_requested, wake_pending;
    bool started;                 /* the dispatcher has started the fork server (or failed) */
    bool cancel_requested;        /* cf_future_cancel_running on a call in flight */
    int start_error;              /* why it could not, or 0 */
    char *broken_message;

    /* ---- Dispatcher's own ---- */
    pthread_t dispatcher;
    int wake_fd, epfd;
    cf__fork_server *server;
    cf__pworker *workers;
    cf_future *redo_head, *redo_tail; /* calls to send again (already RUNNING) */
    size_t inflight;                  /* calls in flight on all workers */
    double call_ns;                   /* moving average of a call's duration */
    bool answered;                    /* an answer was handled this loop */
    uint64_t next_id;
    const char *stop_why;             /* why workers get CF_ETERMINATED kills */
    unsigned fruitless;               /* workers dead in a row before answering */
    bool cancel_scan;                 /* calls in flight may be cancelled */
    int spawn_error;                  /* a spawn failure not yet acted on, or 0 */
    int64_t spawn_retry_at;           /* no spawn before then (after a failure) */
    cf__wire_decoder dec;
} cf__process_pool;

static const cf__executor_ops cf__process_pool_ops;

/* ---- Small helpers ------------------------------------------------------------- */

static void cf__pp_wake(cf__process_pool *p)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(p->wake_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
}

static void cf__fifo_push(cf_future **head, cf_future **tail, cf_future *f)
{
    f->next = NULL;
    if (*tail != NULL)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
}

static cf_future *cf__fifo_pop(cf_future **head, cf_future **tail)
{
    cf_future *f = *head;
    if (f != NULL) {
        *head = f->next;
        if (*head == NULL)
            *tail = NULL;
        f->next = NULL;
    }
    return f;
}

/* The pool is done with f (completed, cancelled or dropped). */
static void cf__pp_drop(cf__process_pool *p, cf_future *f)
{
    (void)p;
    cf_future_release(f);
}

static void cf__pp_fail(cf__process_pool *p, cf_future *f, int code, int detail,
                        const char *origin, const char *msg)
{
    cf__future_clear_canceller(f);
    cf__future_fail(f, code, detail, origin, "%s", msg);
    cf__pp_drop(p, f);
}

/* ---- Workers ------------------------------------------------------------------- */

static void cf__pw_reset(cf__pworker *w)
{
    uint32_t slot = w->slot;
    memset(w, 0, sizeof *w);
    w->slot = slot;
    w->sock = -1;
}

static int cf__pp_spawn(cf__process_pool *p, cf__pworker *w)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* The pool's end never blocks; the worker's end does (it only waits on it). */
    int rc = fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
    /* The slot's last process is gone: its successor starts from a clean beacon. */
    cf__beacon *b = &p->beacons[w->slot];
    atomic_store_explicit(&b->started, 0, memory_order_relaxed);
    atomic_store_explicit(&b->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&b->since, 0, memory_order_relaxed);
    if (rc == 0)
        rc = cf__fork_server_spawn(p->server, w->slot, sv[1]);
    close(sv[1]);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = w->slot};
    if (rc == 0 && epoll_ctl(p->epfd, EPOLL_CTL_ADD, sv[0], &ev) < 0)
        rc = -errno;
    if (rc != 0) {
        close(sv[0]);
        return rc;
    }
    cf__frame_out_init(&w->out, p->config->max_frame_size);
    cf__frame_in_init(&w->in, p->config->max_frame_size);
    w->sock = sv[0];
    w->state = CF__PW_SPAWNING;
    return 0;
}

static bool cf__pw_alive(const cf__pworker *w)
{
    return w->state == CF__PW_SPAWNING || w->state == CF__PW_STARTING ||
           w->state == CF__PW_READY;
}

/* Mark the pool broken (an initializer failed, or the fork server died):
 * every pending and later submit fails with CF_EBROKEN and this message. */
static void cf__pp_break(cf__process_pool *p, const char *message)
{
    pthread_mutex_lock(&p->mu);
    if (!p->broken) {
        p->broken = true;
        p->broken_message = cf__strdup(message);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Send the kill asked for w, once its pid is known. */
static void cf__pw_send_kill(cf__process_pool *p, cf__pworker *w)
{
    if (w->doomed && !w->kill_sent && w->pid > 0 && !w->exited)
        w->kill_sent = cf__fork_server_kill(p->server, w->pid, SIGKILL) == 0;
}

/* Kill w, remembering why (the first reason wins) and, for a reason aimed at
 * one call (timeout, cancel), that call's id. */
static void cf__pw_kill(cf__process_pool *p, cf__pworker *w, int reason, uint64_t target)
{
    if (w->kill_reason == 0 && reason != 0) {
        w->kill_reason = reason;
        w->kill_id = target;
    }
    w->doomed = true;
    cf__pw_send_kill(p, w);
}

/* Take the oldest call in flight off w. */
static cf_future *cf__pw_pop_flight(cf__process_pool *p, cf__pworker *w)
{
    cf_future *f = w->flight[w->first];
    w->flight[w->first] = NULL;
    w->first = (w->first + 1) % CF__PP_PIPELINE;
    w->count--;
    p->inflight--;
    w->head_since = cf__now_ns();
    return f;
}

static const char *cf__describe_exit(int status, char *buf, size_t n, int *detail)
{
    if (WIFSIGNALED(status)) {
        *detail = WTERMSIG(status);
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status)) {
        *detail = WEXITSTATUS(status);
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    } else {
        *detail = 0;
        snprintf(buf, n, "ended (wait status %#x)", (unsigned)status);
    }
    return buf;
}

/* A call's time limit in ns, 0 for none: its own (cf_submit_with), else the
 * pool's. */
static int64_t cf__pp_limit_of(const cf__process_pool *p, cf_future *f)
{
    int64_t own = *(const int64_t *)cf__future_extra(f);
    if (own != 0)
        return own < 0 ? 0 : own;
    return (int64_t)(p->task_timeout * 1e9);
}

/* Fail or cancel f, the call w's death is about: why the pool killed it
 * (`reason`), or a crash (reason 0). */
static void cf__pw_settle_call(cf__process_pool *p, cf__pworker *w, cf_future *f, int reason,
                               const char *how, int detail)
{
    const char *task = f->task == &cf__map_chunk_task
                           ? cf__map_chunk_task_name(cf__future_args(f))
                           : cf_future_task_name(f);
    char msg[256];
    switch (reason) {
    case CF_ETASKTIMEOUT:
        snprintf(msg, sizeof msg,
                 "task '%s' ran past its time limit of %g s; its worker (%s) was killed", task,
                 (double)cf__pp_limit_of(p, f) / 1e9, w->origin);
        cf__pp_fail(p, f, CF_ETASKTIMEOUT, 0, w->origin, msg);
        break;
    case CF_ETERMINATED:
        snprintf(msg, sizeof msg, "task '%s' was stopped: %s", task, p->stop_why);
        cf__pp_fail(p, f, CF_ETERMINATED, 0, w->origin, msg);
        break;
    case CF_ECANCELLED:
        cf__future_clear_canceller(f);
        cf__future_force_cancel(f);
        cf__pp_drop(p, f);
        break;
    default:
        snprintf(msg, sizeof msg, "task '%s' crashed its worker (%s): %s", task, w->origin, how);
        cf__pp_fail(p, f, CF_ECRASHED, detail, w->origin, msg);
        break;
    }
}

/* w's process is gone and its socket drained: settle its calls, free the slot. */
static void cf__pw_settle(cf__process_pool *p, cf__pworker *w)
{
    /* The beacon's last word: the call it died in, if it died in one. */
    const cf__beacon *b = &p->beacons[w->slot];
    uint64_t started = atomic_load_explicit(&b->started, memory_order_acquire);
    uint64_t finished = atomic_load_explicit(&b->finished, memory_order_acquire);
    uint64_t running = started > finished ? started : 0;
    bool aimed = w->kill_reason == CF_ETASKTIMEOUT || w->kill_reason == CF_ECANCELLED;
    char how[96];
    int detail;
    cf__describe_exit(w->exit_status, how, sizeof how, &detail);

    cf_future *redo_head = NULL, *redo_tail = NULL;
    while (w->count > 0) {
        uint64_t id = w->ids[w->first];
        cf_future *f = cf__pw_pop_flight(p, w);
        if (aimed ? id == w->kill_id : id == running)
            cf__pw_settle_call(p, w, f, w->kill_reason, how, detail);
        else /* never started, or finished with its answer lost: it runs again
                (or, the pool terminated or broken, fails with those waiting) */
            cf__fifo_push(&redo_head, &redo_tail, f);
    }
    if (redo_head != NULL) {
        redo_tail->next = p->redo_head;
        if (p->redo_head == NULL)
            p->redo_tail = redo_tail;
        p->redo_head = redo_head;
    }
    /* Dying unasked before HELLO is an initializer's doing (or the
     * system's), and so is dying before any answer, time after time:
     * respawning would likely die the same way. */
    if (running != 0)
        p->fruitless = 0; /* it died in a call: that call's failure is progress */
    if (w->pid > 0 && w->kill_reason == 0 && !w->answered && running == 0 &&
        (!w->was_ready || ++p->fruitless >= CF__PP_MAX_FRUITLESS)) {
        char text[256];
        snprintf(text, sizeof text, "%s in %s: %s",
                 !w->was_ready ? (p->config->initializer != NULL
                                      ? "the worker initializer crashed"
                                      : "a worker died while starting")
                               : "workers keep dying before they answer, the last one",
                 w->origin, how);
        cf__pp_break(p, text);
    }
    if (w->sock >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->sock, NULL);
        close(w->sock);
    }
    cf__frame_out_free(&w->out);
    cf__frame_in_free(&w->in);
    cf__pw_reset(w);
}

/* ---- Answers from a worker ------------------------------------------------------ */

/* w's pid is known: from the fork server's SPAWNED, or from the worker's
 * HELLO (whichever the dispatcher reads first). */
static void cf__pw_set_pid(cf__process_pool *p, cf__pworker *w, pid_t pid)
{
    if (w->pid > 0 || pid <= 0)
        return;
    w->pid = pid;
    snprintf(w->origin, sizeof w->origin, "process %d", (int)pid);
    cf__pw_send_kill(p, w); /* doomed before its pid was known */
}

static void cf__pw_on_hello(cf__process_pool *p, cf__pworker *w, const cf__wire_msg *msg)
{
    cf__wire_hello hello;
    if (cf__wire_decode_hello(&p->dec, msg, &hello) != 0) {
        cf__pw_kill(p, w, 0, 0);
        return;
    }
    cf__pw_set_pid(p, w, hello.pid);
    if (hello.code == 0) {
        w->state = CF__PW_READY;
        w->was_ready = true;
        return;
    }
    char text[512];
    snprintf(text, sizeof text, "the worker initializer failed in %s: %s", w->origin,
             hello.message != NULL ? hello.message : "(no message)");
    cf__pp_break(p, text);
}

static void cf__pw_on_answer(cf__process_pool *p, cf__pworker *w, const cf__wire_msg *msg)
{
    p->answered = true;
    if (w->count == 0 || w->ids[w->first] != msg->id) {
        cf__pw_kill(p, w, 0, 0); /* out of order: not a worker of ours any more */
        return;
    }
    p->call_ns += 0.2 * ((double)(cf__now_ns() - w->head_since) - p->call_ns);
    w->answered = true;
    p->fruitless = 0;
    cf_future *f = cf__pw_pop_flight(p, w);
    cf__future_clear_canceller(f);
    if (cf_future_done(f)) { /* cancelled while it ran */
        cf__pp_drop(p, f);
        return;
    }
    if (msg->type == CF__WIRE_RESULT) {
        /* Win f before writing its result into it. */
        if (cf__future_claim(f) != 0) {
            cf__pp_drop(p, f);
            return;
        }
        int rc = cf__wire_decode_result(&p->dec, msg, f->task, cf__future_result_slot(f));
        if (rc == 0)
            cf__future_finish_claimed(f);
        else
            cf__future_fail_claimed(f, rc, 0, w->origin, "%s", cf_last_error());
    } else {
        cf__wire_failure failure;
        int rc = cf__wire_decode_failed(&p->dec, msg, &failure);
        if (rc == 0)
            cf__future_fail(f, failure.code, failure.detail, w->origin, "%s",
                            failure.message != NULL ? failure.message
                                                    : cf_strerror(failure.code));
        else
            cf__future_fail(f, rc, 0, w->origin, "%s", cf_last_error());
    }
    cf__pp_drop(p, f);
}

/* Read everything w has sent; handle each complete frame. */
static void cf__pw_read(cf__process_pool *p, cf__pworker *w)
{
    for (;;) {
        size_t received = 0;
        int rc = cf__frame_in_recv(&w->in, w->sock, &received);
        if (rc == -EAGAIN)
            break;
        if (rc != 0 || received == 0) {
            w->eof = true;
            break;
        }
        const uint8_t *payload;
        size_t len;
        while ((rc = cf__frame_in_next(&w->in, &payload, &len)) == 0) {
            cf__wire_msg msg;
            if (cf__wire_open(&msg, payload, len) != 0) {
                cf__pw_kill(p, w, 0, 0);
                continue;
            }
            if (msg.type == CF__WIRE_HELLO)
                cf__pw_on_hello(p, w, &msg);
            else if (msg.type == CF__WIRE_RESULT || msg.type == CF__WIRE_FAILED)
                cf__pw_on_answer(p, w, &msg);
            else
                cf__pw_kill(p, w, 0, 0);
        }
        if (rc == CF_ETOOBIG)
            cf__pw_kill(p, w, 0, 0);
    }
    if (w->eof && w->state != CF__PW_GONE) {
        w->state = CF__PW_GONE;
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->sock, NULL);
    }
    if (w->eof && w->exited)
        cf__pw_settle(p, w);
}

static void cf__pw_write(cf__process_pool *p, cf__pworker *w)
{
    if (w->sock < 0 || w->eof)
        return;
    int rc = cf__frame_out_send(&w->out, w->sock);
    bool want = rc == -EAGAIN;
    if (rc != 0 && rc != -EAGAIN)
        cf__pw_kill(p, w, 0, 0); /* the socket broke: the worker is going */
    if (want != w->want_write) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.u32 = w->slot};
        epoll_ctl(p->epfd, EPOLL_CTL_MOD, w->sock, &ev);
        w->want_write = want;
    }
}

/* ---- Fork server events --------------------------------------------------------- */

static cf__pworker *cf__pp_worker_by_pid(cf__process_pool *p, pid_t pid)
{
    for (size_t i = 0; i < p->max_workers; i++)
        if (p->workers[i].pid == pid && p->workers[i].state != CF__PW_EMPTY)
            return &p->workers[i];
    return NULL;
}

static void cf__pp_server_events(cf__process_pool *p)
{
    cf__fork_event ev;
    int rc;
    while ((rc = cf__fork_server_next_event(p->server, &ev)) == 0) {
        if (ev.kind == CF__FORK_SPAWNED && ev.slot < p->max_workers) {
            cf__pworker *w = &p->workers[ev.slot];
            w->state = w->state == CF__PW_SPAWNING ? CF__PW_STARTING : w->state;
            cf__pw_set_pid(p, w, ev.pid);
        } else if (ev.kind == CF__FORK_SPAWN_FAILED && ev.slot < p->max_workers) {
            cf__pworker *w = &p->workers[ev.slot];
            p->spawn_error = ev.status;
            w->exited = w->eof = true;
            cf__pw_settle(p, w);
        } else if (ev.kind == CF__FORK_EXITED) {
            cf__pworker *w = cf__pp_worker_by_pid(p, ev.pid);
            if (w == NULL)
                continue;
            w->exited = true;
            w->exit_status = ev.status;
            /* It is dead: what it wrote is all in its socket by now. Read
             * that, then settle, whoever else may hold a copy of its end. */
            if (!w->eof)
                cf__pw_read(p, w);
            if (w->state != CF__PW_EMPTY) {
                w->eof = true;
                cf__pw_settle(p, w);
            }
        }
    }
    if (rc == -EPIPE) {
        p->stop_why = "the process pool's fork server died";
        cf__pp_break(p, p->stop_why);
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, cf__fork_server_fd(p->server), NULL);
        for (size_t i = 0; i < p->max_workers; i++) {
            cf__pworker *w = &p->workers[i];
            if (w->state == CF__PW_EMPTY)
                continue;
            w->exited = true;
            w->exit_status = SIGKILL; /* the workers die with the server */
            if (w->kill_reason == 0)
                w->kill_reason = CF_ETERMINATED;
            if (!w->eof)
                cf__pw_read(p, w);
            if (w->state != CF__PW_EMPTY) {
                w->eof = true;
                cf__pw_settle(p, w);
            }
        }
    }
}

/* ---- Scheduling -------------------------------------------------------------------- */

static size_t cf__pp_alive(const cf__process_pool *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->max_workers; i++)
        n += cf__pw_alive(&p->workers[i]);
    return n;
}

/* End every call waiting to be sent (queued, or to run again): cancel them,
 * or fail them with `code` and `why`. */
static void cf__pp_end_waiting(cf__process_pool *p, bool cancel, int code, const char *why)
{
    pthread_mutex_lock(&p->mu);
    cf_future *queued = p->qhead;
    p->qhead = p->qtail = NULL;
    p->queued = 0;
    pthread_mutex_unlock(&p->mu);
    while (queued != NULL) {
        cf_future *f = queued;
        queued = f->next;
        if (cancel) {
            cf__future_clear_canceller(f);
            cf_future_cancel(f);
            cf__pp_drop(p, f);
        } else {
            cf__pp_fail(p, f, code, 0, NULL, why);
        }
    }
    /* Those waiting to run again are RUNNING already: they fail. */
    cf_future *f;
    while ((f = cf__fifo_pop(&p->redo_head, &p->redo_tail)) != NULL)
        cf__pp_fail(p, f, code, 0, NULL, why);
}

/* Start workers until there is one for each call waiting or running, up to
 * max_workers. After a failure to start one, wait CF__PP_SPAWN_RETRY_NS
 * before the next try; when none is left, the waiting calls fail with the
 * reason, so nothing waits for a worker that cannot come (the pool stays
 * usable: later submits try again). Returns when to try again, or
 * CF__NO_DEADLINE. */
static int64_t cf__pp_spawn_as_needed(cf__process_pool *p, size_t waiting)
{
    size_t want = waiting + p->inflight;
    if (want > p->max_workers)
        want = p->max_workers;
    size_t alive = cf__pp_alive(p);
    int64_t now = cf__now_ns();
    for (size_t i = 0; i < p->max_workers && alive < want && p->spawn_error == 0 &&
                       now >= p->spawn_retry_at;
         i++) {
        cf__pworker *w = &p->workers[i];
        if (w->state != CF__PW_EMPTY)
            continue;
        int rc = cf__pp_spawn(p, w);
        if (rc != 0)
            p->spawn_error = rc;
        else
            alive++;
    }
    if (p->spawn_error != 0) {
        p->spawn_retry_at = now + CF__PP_SPAWN_RETRY_NS;
        if (alive == 0 && waiting > 0) {
            char why[160];
            snprintf(why, sizeof why, "no worker process could be started: %s",
                     cf_strerror(p->spawn_error));
            cf__pp_end_waiting(p, false, p->spawn_error, why);
        }
        p->spawn_error = 0;
    }
    return alive < want && now < p->spawn_retry_at ? p->spawn_retry_at : CF__NO_DEADLINE;
}

/* The next call to send: one that must run again first, then the queue. */
static cf_future *cf__pp_next_call(cf__process_pool *p)
{
    for (;;) {
        cf_future *f = cf__fifo_pop(&p->redo_head, &p->redo_tail);
        if (f == NULL) {
            pthread_mutex_lock(&p->mu);
            f = cf__fifo_pop(&p->qhead, &p->qtail);
            if (f != NULL)
                p->queued--;
            pthread_mutex_unlock(&p->mu);
            if (f == NULL)
                return NULL;
            if (cf__future_start(f) != 0) { /* cancelled while pending */
                cf__pp_drop(p, f);
                continue;
            }
        } else if (cf_future_done(f)) { /* cancelled while waiting to run again */
            cf__pp_drop(p, f);
            continue;
        }
        return f;
    }
}

static bool cf__pw_has_room(const cf__process_pool *p, const cf__pworker *w, size_t depth)
{
    return w->state == CF__PW_READY && !w->retiring && !w->doomed &&
           w->count < depth &&
           (p->max_tasks_per_child == 0 || w->calls_sent < p->max_tasks_per_child);
}

/* Send waiting calls to ready workers, one per worker per round, so that a
 * few long calls spread over the workers; pipeline deeper only when there is
 * enough waiting work to keep every worker busy. */
static void cf__pp_assign(cf__process_pool *p, size_t waiting)
{
    size_t alive = cf__pp_alive(p);
    size_t backlog = waiting + p->inflight;
    /* No deeper than the backlog shared among the workers, nor than the
     * calls that fill CF__PP_QUEUED_WORK_NS at the average call's duration. */
    double by_time = CF__PP_QUEUED_WORK_NS / (p->call_ns > 1.0 ? p->call_ns : 1.0);
    size_t depth = alive > 0 ? backlog / alive : 1;
    if (depth > by_time)
        depth = (size_t)by_time;
    if (depth < 1)
        depth = 1;
    if (depth > CF__PP_PIPELINE)
        depth = CF__PP_PIPELINE;
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < p->max_workers; i++) {
            cf__pworker *w = &p->workers[i];
            if (!cf__pw_has_room(p, w, depth))
                continue;
            cf_future *f = cf__pp_next_call(p);
            if (f == NULL)
                return;
            uint64_t id = ++p->next_id;
            int rc = f->task == &cf__map_chunk_task
                         ? cf__map_chunk_encode(&w->out, id, cf__future_args(f))
                         : cf__wire_encode_call(&w->out, id, f->task, cf__future_args(f));
            if (rc != 0) {
                cf__pp_fail(p, f, rc, 0, NULL, cf_last_error());
                progress = true;
                continue;
            }
            unsigned at = (w->first + w->count) % CF__PP_PIPELINE;
            w->flight[at] = f;
            w->ids[at] = id;
            w->count++;
            w->calls_sent++;
            p->inflight++;
            if (w->count == 1)
                w->head_since = cf__now_ns();
            progress = true;
        }
    }
}

/* Tell workers that reached max_tasks_per_child and finished to exit. */
static void cf__pp_retire(cf__process_pool *p)
{
    if (p->max_tasks_per_child == 0)
        return;
    for (size_t i = 0; i < p->max_workers; i++) {
        cf__pworker *w = &p->workers[i];
        if (w->state == CF__PW_READY && !w->retiring && !w->doomed && w->count == 0 &&
            w->calls_sent >= p->max_tasks_per_child) {
            cf__wire_encode_shutdown(&w->out);
            w->retiring = true;
        }
    }
}

/* Stop, by killing its worker, a call cancelled while in flight
 * (cf_future_cancel_running) once it is the worker's first unfinished call:
 * running, or about to run. One queued behind another call is looked at
 * again after CF__PP_CANCEL_POLL_NS (the worker may start it without a word).
 * Returns whether w holds such a call still to stop. */
static bool cf__pw_stop_cancelled(cf__process_pool *p, cf__pworker *w, uint64_t finished)
{
    bool first = true; /* no unfinished call before this one */
    for (unsigned k = 0; k < w->count; k++) {
        unsigned at = (w->first + k) % CF__PP_PIPELINE;
        uint64_t id = w->ids[at];
        if (id <= finished)
            continue; /* ran to its end: its answer is on its way */
        if (cf_future_done(w->flight[at])) {
            if (!first)
                return true;
            cf__pw_kill(p, w, CF_ECANCELLED, id);
            return false;
        }
        first = false;
    }
    return false;
}

/* The call in flight on w with request id `id` (ids grow along the ring),
 * or NULL. */
static cf_future *cf__pw_call(const cf__pworker *w, uint64_t id)
{
    unsigned lo = 0, hi = w->count;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        uint64_t at = w->ids[(w->first + mid) % CF__PP_PIPELINE];
        if (at == id)
            return w->flight[(w->first + mid) % CF__PP_PIPELINE];
        if (at < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Kill the workers whose running call must stop: it was cancelled, or it ran
 * past its time limit (measured from when its worker started it, as its
 * beacon says). Returns the next time to look again, or CF__NO_DEADLINE. */
static int64_t cf__pp_check_running(cf__process_pool *p, bool cancels)
{
    int64_t next = CF__NO_DEADLINE, now = cf__now_ns();
    bool cancels_left = false;
    for (size_t i = 0; i < p->max_workers; i++) {
        cf__pworker *w = &p->workers[i];
        if (w->count == 0 || w->state != CF__PW_READY || w->doomed)
            continue;
        const cf__beacon *b = &p->beacons[w->slot];
        uint64_t started = atomic_load_explicit(&b->started, memory_order_acquire);
        uint64_t finished = atomic_load_explicit(&b->finished, memory_order_acquire);
        int64_t since = atomic_load_explicit(&b->since, memory_order_relaxed);
        uint64_t last = w->ids[(w->first + w->count - 1) % CF__PP_PIPELINE];
        if (cancels && cf__pw_stop_cancelled(p, w, finished))
            cancels_left = true;
        if (w->doomed || finished >= last)
            continue;
        /* A call runs since `since`; or, between calls, the next starts soon. */
        bool running = started > finished && started >= w->ids[w->first];
        cf_future *call = running ? cf__pw_call(w, started) : w->flight[w->first];
        int64_t limit = call != NULL ? cf__pp_limit_of(p, call) : 0;
        if (limit <= 0)
            continue;
        int64_t deadline = running ? since + limit : now + limit;
        if (deadline <= now)
            cf__pw_kill(p, w, CF_ETASKTIMEOUT, started);
        else if (deadline < next)
            next = deadline;
    }
    p->cancel_scan = cancels_left;
    if (cancels_left && now + CF__PP_CANCEL_POLL_NS < next)
        next = now + CF__PP_CANCEL_POLL_NS;
    return next;
}

/* ---- Requests from other threads ------------------------------------------------------ */

/* Apply what other threads asked for. Returns the number of calls waiting in
 * the queue, and whether the pool is shutting down (*shutdown). */
static size_t cf__pp_requests(cf__process_pool *p, bool *shutdown)
{
    pthread_mutex_lock(&p->mu);
    bool terminate = p->terminate, broken = p->broken;
    *shutdown = p->shutdown;
    p->cancel_scan = p->cancel_scan || p->cancel_requested;
    p->cancel_requested = false;
    char *message = broken && p->broken_message != NULL ? cf__strdup(p->broken_message) : NULL;
    size_t queued = p->queued;
    pthread_mutex_unlock(&p->mu);

    if (broken) /* nothing waiting will run now */
        cf__pp_end_waiting(p, false, CF_EBROKEN,
                           message != NULL ? message : "the process pool is broken");
    else if (terminate)
        cf__pp_end_waiting(p, true, CF_ETERMINATED,
                           "the task did not complete: the pool was terminated");
    if (terminate) {
        for (size_t i = 0; i < p->max_workers; i++)
            if (p->workers[i].state != CF__PW_EMPTY)
                cf__pw_kill(p, &p->workers[i], CF_ETERMINATED, 0);
    }
    cf__free(message);
    return broken || terminate ? 0 : queued;
}

/* ---- The dispatcher thread --------------------------------------------------------------- */

static void cf__pp_free_memory(cf__process_pool *p);

static void cf__pp_drain_wake(cf__process_pool *p)
{
    uint64_t n;
    while (read(p->wake_fd, &n, sizeof n) > 0) {
    }
    pthread_mutex_lock(&p->mu);
    p->wake_pending = false;
    pthread_mutex_unlock(&p->mu);
}

/* After shutdown with nothing left to run: ask every worker to exit (those
 * still starting, once they are ready) and give them a moment to flush their
 * output, then stop the fork server (which kills and reaps whatever is left). */
static bool cf__pp_closing(cf__process_pool *p, int64_t *closing_deadline)
{
    if (*closing_deadline == CF__NO_DEADLINE)
        *closing_deadline = cf__now_ns() + 2000000000; /* 2 s */
    for (size_t i = 0; i < p->max_workers; i++) {
        cf__pworker *w = &p->workers[i];
        if (w->state == CF__PW_READY && !w->retiring && !w->doomed) {
            cf__wire_encode_shutdown(&w->out);
            w->retiring = true;
        }
    }
    return cf__pp_alive(p) == 0 || cf__now_ns() >= *closing_deadline;
}

/* Start the fork server from this thread (it dies with the thread that
 * forked it) and tell cf_process_pool_new how that went. */
static bool cf__pp_start_server(cf__process_pool *p)
{
    int rc = cf__fork_server_start(&p->server, cf__worker_main, p->config);
    struct epoll_event server_ev = {.events = EPOLLIN, .data.u32 = CF__PP_TAG_SERVER};
    if (rc == 0 &&
        epoll_ctl(p->epfd, EPOLL_CTL_ADD, cf__fork_server_fd(p->server), &server_ev) < 0) {
        rc = -errno;
        cf__fork_server_stop(p->server);
        p->server = NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->started = true;
    p->start_error = rc;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    return rc == 0;
}

static void *cf__pp_dispatch(void *arg)
{
    cf__process_pool *p = arg;
    pthread_setname_np(pthread_self(), "cf-dispatch");
    if (!cf__pp_start_server(p))
        return NULL;
    int64_t closing_deadline = CF__NO_DEADLINE;
    for (;;) {
        bool shutdown;
        size_t queued = cf__pp_requests(p, &shutdown);
        size_t waiting = queued;
        for (cf_future *f = p->redo_head; f != NULL; f = f->next)
            waiting++;
        int64_t spawn_at = cf__pp_spawn_as_needed(p, waiting);
        cf__pp_assign(p, waiting);
        cf__pp_retire(p);
        int64_t next = cf__pp_check_running(p, p->cancel_scan);
        if (spawn_at < next)
            next = spawn_at;
        if (shutdown && p->redo_head == NULL && p->inflight == 0) {
            bool queue_empty;
            pthread_mutex_lock(&p->mu);
            queue_empty = p->queued == 0;
            pthread_mutex_unlock(&p->mu);
            if (queue_empty && cf__pp_closing(p, &closing_deadline))
                break;
            if (closing_deadline < next)
                next = closing_deadline;
        }
        for (size_t i = 0; i < p->max_workers; i++)
            if (p->workers[i].state != CF__PW_EMPTY)
                cf__pw_write(p, &p->workers[i]);

        int timeout_ms = -1;
        if (next != CF__NO_DEADLINE) {
            int64_t ms = (next - cf__now_ns() + 999999) / 1000000;
            timeout_ms = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
        }
        struct epoll_event evs[64];
        int n = 0;
        if ((p->inflight > 0 || p->answered) && timeout_ms != 0) {
            int64_t until = cf__now_ns() + CF__PP_POLL_NS;
            while ((n = epoll_wait(p->epfd, evs, 64, 0)) == 0 && cf__now_ns() < until)
                sched_yield();
        }
        p->answered = false;
        if (n == 0)
            n = epoll_wait(p->epfd, evs, 64, timeout_ms);
        for (int i = 0; i < n; i++) {
            uint32_t tag = evs[i].data.u32;
            if (tag == CF__PP_TAG_WAKE) {
                cf__pp_drain_wake(p);
            } else if (tag == CF__PP_TAG_SERVER) {
                cf__pp_server_events(p);
            } else if (tag < p->max_workers) {
                cf__pworker *w = &p->workers[tag];
                if (w->state == CF__PW_EMPTY || w->eof)
                    continue;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    cf__pw_read(p, w);
                if ((evs[i].events & EPOLLOUT) && w->state != CF__PW_EMPTY)
                    cf__pw_write(p, w);
            }
        }
    }
    cf__fork_server_stop(p->server);
    p->server = NULL;
    for (size_t i = 0; i < p->max_workers; i++) {
        cf__pworker *w = &p->workers[i];
        if (w->state != CF__PW_EMPTY) {
            w->exited = w->eof = true;
            if (w->kill_reason == 0)
                w->kill_reason = CF_ETERMINATED; /* stopped with the server, holding no call */
            cf__pw_settle(p, w);
        }
    }
    pthread_mutex_lock(&p->mu);
    p->dispatcher_done = true;
    bool free_now = p->free_requested;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    if (free_now)
        cf__pp_free_memory(p);
    return NULL;
}

/* ---- Executor operations ------------------------------------------------------------------- */

static int cf__pp_submit(cf_executor *ex, cf_future *f, const cf_submit_options *opts)
{
    cf__process_pool *p = (cf__process_pool *)ex;
    /* The call's own time limit, in its scratch: 0 the pool's, -1 none. */
    if (opts != NULL && opts->timeout != 0)
        *(int64_t *)cf__future_extra(f) =
            opts->timeout < 0 || opts->timeout > 1e9 ? -1 : (int64_t)(opts->timeout * 1e9) + 1;
    pthread_mutex_lock(&p->mu);
    if (p->shutdown) {
        pthread_mutex_unlock(&p->mu);
        return cf__fail(CF_ESHUTDOWN, "cf_submit: the process pool is shut down");
    }
    if (p->broken) {
        int rc = cf__fail(CF_EBROKEN, "cf_submit: %s",
                          p->broken_message != NULL ? p->broken_message : "the pool is broken");
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    cf_future_retain(f);
    f->exec_data = &p->canceller; /* not yet visible to any other thread */
    cf__fifo_push(&p->qhead, &p->qtail, f);
    p->queued++;
    bool wake = !p->wake_pending;
    p->wake_pending = true;
    pthread_mutex_unlock(&p->mu);
    if (wake)
        cf__pp_wake(p);
    return 0;
}

/* The pool whose canceller this thread is inside (cf_future_cancel_running),
 * so that a done-callback freeing that pool does not wait for itself. */
static _Thread_local const cf__process_pool *cf__pp_cancelling;

/* Cancel f (RUNNING): the dispatcher sees its call cancelled and kills the
 * worker running it when it runs (cf__pp_check_running). f's callbacks run
 * here; the pool stays allocated while this runs (canceller.busy). */
static bool cf__pp_cancel_running(cf__canceller *c, cf_future *f)
{
    cf__process_pool *p = (cf__process_pool *)((char *)c - offsetof(cf__process_pool, canceller));
    const cf__process_pool *outer = cf__pp_cancelling;
    cf__pp_cancelling = p;
    bool forced = cf__future_force_cancel(f);
    cf__pp_cancelling = outer;
    if (!forced)
        return cf_future_cancelled(f);
    pthread_mutex_lock(&p->mu);
    p->cancel_requested = true;
    bool wake = !p->dispatcher_done && !p->wake_pending;
    p->wake_pending = p->wake_pending || wake;
    pthread_mutex_unlock(&p->mu);
    if (wake)
        cf__pp_wake(p);
    return true;
}

static int cf__pp_shutdown(cf_executor *ex, unsigned flags, double timeout)
{
    cf__process_pool *p = (cf__process_pool *)ex;
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_executor_shutdown: NaN timeout");
    pthread_mutex_lock(&p->mu);
    p->shutdown = true;
    if (flags & CF_SHUTDOWN_TERMINATE)
        p->terminate = true;
    cf_future *cancelled = NULL;
    if (flags & (CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_TERMINATE)) {
        cancelled = p->qhead;
        p->qhead = p->qtail = NULL;
        p->queued = 0;
    }
    bool wake = !p->wake_pending;
    p->wake_pending = true;
    pthread_mutex_unlock(&p->mu);
    if (wake)
        cf__pp_wake(p);
    while (cancelled != NULL) {
        cf_future *f = cancelled;
        cancelled = f->next;
        cf__future_clear_canceller(f);
        cf_future_cancel(f);
        cf_future_release(f);
    }
    if (!(flags & CF_SHUTDOWN_WAIT))
        return 0;
    if (pthread_equal(pthread_self(), p->dispatcher))
        return cf__fail(CF_EDEADLOCK,
                        "cf_executor_shutdown: cannot wait from the pool's own dispatcher "
                        "(a done-callback); the pool is shutting down");
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    while (!p->dispatcher_done) {
        if (cf__cond_wait_until(&p->done_cv, &p->mu, deadline) == ETIMEDOUT &&
            !p->dispatcher_done) {
            /* The deadline passed: kill what still runs, then wait for that. */
            rc = cf__fail(CF_ETIMEDOUT,
                          "cf_executor_shutdown: work still running after %g s was terminated",
                          timeout);
            p->terminate = true;
            deadline = CF__NO_DEADLINE;
            bool w = !p->wake_pending;
            p->wake_pending = true;
            pthread_mutex_unlock(&p->mu);
            if (w)
                cf__pp_wake(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void cf__pp_free_memory(cf__process_pool *p)
{
    /* No cf_future_cancel_running may still be inside our canceller. */
    while (atomic_load_explicit(&p->canceller.busy, memory_order_acquire) != 0)
        sched_yield();
    cf__wire_decoder_free(&p->dec);
    close(p->wake_fd);
    close(p->epfd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->done_cv);
    cf__free(p->broken_message);
    munmap(p->beacons, p->beacons_size);
    cf__free(p->workers);
    cf__free(p->config);
    cf__free(p);
}

/* Join the dispatcher, then free the pool (once no cancel-running call is
 * inside its canceller any more). */
static void *cf__pp_free_later(void *arg)
{
    cf__process_pool *p = arg;
    pthread_join(p->dispatcher, NULL);
    cf__pp_free_memory(p);
    return NULL;
}

static void cf__pp_free(cf_executor *ex)
{
    cf__process_pool *p = (cf__process_pool *)ex;
    bool on_dispatcher = pthread_equal(pthread_self(), p->dispatcher);
    if (on_dispatcher || cf__pp_cancelling == p) {
        /* From a done-callback, on the dispatcher or inside a cancel-running
         * call: this thread cannot wait for work it is part of. The
         * dispatcher frees the pool when it ends, or, when it has ended
         * already, a thread of the pool's own does. */
        pthread_mutex_lock(&p->mu);
        p->free_requested = true;
        bool ended = p->dispatcher_done;
        pthread_mutex_unlock(&p->mu);
        cf__pp_shutdown(ex, 0, CF_FOREVER);
        if (!ended) {
            pthread_detach(p->dispatcher);
            return;
        }
        pthread_t t;
        pthread_attr_t attr;
        sigset_t all, old;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&t, &attr, cf__pp_free_later, p) != 0)
            cf__fail(-EAGAIN, "cf_executor_free: no thread to free the pool: it stays allocated");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        return;
    }
    cf__pp_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER);
    pthread_join(p->dispatcher, NULL);
    cf__pp_free_memory(p);
}

static size_t cf__pp_max_workers(const cf_executor *ex)
{
    return ((const cf__process_pool *)ex)->max_workers;
}

static bool cf__pp_is_own_thread(const cf_executor *ex)
{
    return pthread_equal(pthread_self(), ((const cf__process_pool *)ex)->dispatcher);
}

static const cf__executor_ops cf__process_pool_ops = {
    .kind = "process_pool",
    .shares_memory = false,
    .future_extra = sizeof(int64_t), /* the call's own time limit */
    .submit = cf__pp_submit,
    .shutdown = cf__pp_shutdown,
    .free = cf__pp_free,
    .max_workers = cf__pp_max_workers,
    .is_own_thread = cf__pp_is_own_thread,
};

/* Undo what cf_process_pool_new set up when it fails (no dispatcher runs). */
static int cf__pp_new_failed(cf__process_pool *p, bool cond_made, int rc)
{
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    if (p->epfd >= 0)
        close(p->epfd);
    if (cond_made)
        pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    cf__wire_decoder_free(&p->dec);
    if (p->beacons != NULL)
        munmap(p->beacons, p->beacons_size);
    cf__free(p->workers);
    cf__free(p->config);
    cf__free(p);
    return cf__fail(rc, "cf_process_pool_new: %s", cf_strerror(rc));
}

int cf_process_pool_new(cf_executor **out, const cf_process_pool_options *opts)
{
    static const cf_process_pool_options defaults;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_process_pool_new: NULL out");
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (isnan(opts->task_timeout))
        return cf__fail(CF_EINVAL, "cf_process_pool_new: NaN task_timeout");
    size_t max_workers = opts->max_workers ? opts->max_workers : cf__cpu_count();
    if (max_workers >= CF__PP_TAG_SERVER)
        return cf__fail(CF_EINVAL, "cf_process_pool_new: max_workers %zu is too large",
                        max_workers);

    cf__process_pool *p = cf__calloc(1, sizeof *p);
    cf__worker_config *config = cf__calloc(1, sizeof *config);
    cf__pworker *workers = cf__calloc(max_workers, sizeof *workers);
    if (p == NULL || config == NULL || workers == NULL) {
        cf__free(p);
        cf__free(config);
        cf__free(workers);
        return cf__fail(-ENOMEM, "cf_process_pool_new: out of memory");
    }
    config->initializer = opts->initializer;
    config->initializer_arg = opts->initializer_arg;
    config->max_frame_size = opts->max_frame_size;
    p->base.ops = &cf__process_pool_ops;
    p->canceller.cancel_running = cf__pp_cancel_running;
    p->config = config;
    p->workers = workers;
    p->max_workers = max_workers;
    p->max_tasks_per_child = opts->max_tasks_per_child;
    p->task_timeout = opts->task_timeout > 0 ? opts->task_timeout : 0;
    p->call_ns = 100000.0; /* until measured, assume calls of 100 us */
    p->stop_why = "the pool was terminated";
    p->wake_fd = p->epfd = -1;
    for (size_t i = 0; i < max_workers; i++) {
        workers[i].slot = (uint32_t)i;
        cf__pw_reset(&workers[i]);
    }
    cf__wire_decoder_init(&p->dec);
    pthread_mutex_init(&p->mu, NULL);
    int rc = cf__cond_init(&p->done_cv);
    if (rc != 0)
        return cf__pp_new_failed(p, false, rc);

    /* The beacons are mapped shared before the fork server exists, so that
     * the server and every worker forked from it share them with us. */
    p->beacons_size = max_workers * sizeof(cf__beacon);
    void *beacons = mmap(NULL, p->beacons_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (beacons == MAP_FAILED)
        return cf__pp_new_failed(p, true, -errno);
    p->beacons = config->beacons = beacons;
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event wake_ev = {.events = EPOLLIN, .data.u32 = CF__PP_TAG_WAKE};
    if (p->wake_fd < 0 || p->epfd < 0 ||
        epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wake_fd, &wake_ev) < 0)
        return cf__pp_new_failed(p, true, -errno);

    /* The dispatcher runs with every signal blocked; its first act is to fork
     * the fork server, while this thread waits. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&p->dispatcher, NULL, cf__pp_dispatch, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return cf__pp_new_failed(p, true, rc);
    pthread_mutex_lock(&p->mu);
    while (!p->started)
        cf__cond_wait_until(&p->done_cv, &p->mu, CF__NO_DEADLINE);
    rc = p->start_error;
    pthread_mutex_unlock(&p->mu);
    if (rc != 0) {
        pthread_join(p->dispatcher, NULL);
        return cf__pp_new_failed(p, true, rc);
    }
    *out = &p->base;
    return 0;
}
