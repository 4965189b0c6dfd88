/* process.c: Process, one task or function in a forked child
 * (cfutures/process.h).
 *
 * Design notes
 * - The typed path: cf_process_start expands to CF_TASK's submit function
 *   called with a launcher, a private executor (one per thread, armed by
 *   cf__process_launcher just before the call) whose submit forks the child.
 *   So the arguments are checked and copied exactly as cf_submit's are, and
 *   the child finds them in the future executor.c built; the handle keeps
 *   that future, which becomes the task's outcome.
 * - Channel: each child gets a socketpair (close-on-exec). The child's end
 *   carries its task's answer (one RESULT or FAILED frame of the wire
 *   format), and doubles as a lifeline: it closes when the child exits, so a
 *   waiting parent wakes at once. It is only an accelerator: a child that
 *   execs (close-on-exec), or a process that happened to fork while the end
 *   was open, keeps it open longer. The truth is waitpid(pid, WNOHANG),
 *   asked whenever the channel stirs and at least every PROC_POLL_MAX_NS
 *   while someone waits. Children started from a child close their parent's
 *   lifeline (they must not keep it open).
 * - The parent reads the channel whenever it looks at the child (join,
 *   is_alive, exitcode, active_children), so a large answer never leaves the
 *   child blocked on a full socket while the parent waits for it to end.
 *   Once the child is reaped, the rest of the answer is read and the future
 *   is completed (or failed: CF_ECRASHED when no answer came).
 * - Locks: `registry.mu` guards the list of handles (in start order), the
 *   counter behind default names, and is held across fork() so that the
 *   child gets a consistent copy (the child unlocks its copy). Each handle's
 *   `mu` guards its state; it is never held while blocking: waiters poll the
 *   channel without it, counted in `waiters` so that the channel is closed
 *   only once the child is reaped and nobody polls it. Order: registry.mu,
 *   then a handle's mu.
 * - Signals only go to a child not yet reaped (checked under mu), so never to
 *   a reused pid.
 * - Lifetimes: a handle is reference counted: the user's reference, and one
 *   per exit-time walk. Freeing unregisters it after joining the child.
 *   Copies of handles inherited by a child stay registered there (reachable,
 *   skipped: their `parent` is another process) until freed.
 * - Exit: an atexit handler, installed once per process at the first start,
 *   sends SIGTERM to the running daemons and joins every running child.
 */
#include "config.h"

#include <cfutures/process.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "executor_priv.h"
#include "frame.h"
#include "future_priv.h"
#include "task_priv.h"
#include "wire.h"

/* While someone waits for a child, waitpid is asked at least this often
 * (the channel usually wakes the waiter long before). */
#define PROC_POLL_MAX_NS 50000000
/* First pause once the channel has closed but the child is not reapable
 * yet (it is in the middle of exiting): doubled each round. */
#define PROC_POLL_MIN_NS 20000
/* Longest identity kept for names ("3:1:2"). */
#define PROC_IDENTITY_MAX 96

struct cf_process {
    _Atomic uint32_t refs;
    struct cf_process *prev, *next; /* the registry (registry.mu) */
    struct cf_process *exit_next;   /* the exit-time walk's list */
    pid_t pid;
    pid_t parent;                   /* the process that started it */
    bool daemon;
    char *name;
    cf_future *future;              /* the task's outcome; NULL for a function */
    char origin[32];                /* "process <pid>" */

    pthread_mutex_t mu;             /* guards the fields below */
    int chan;                       /* our end of the channel, or -1 once closed */
    bool chan_eof;                  /* the child's end is closed */
    unsigned waiters;               /* threads polling chan without mu */
    bool reaped;
    bool lost;                      /* someone else reaped it: no status */
    int status;                     /* the wait status, once reaped */
    cf__frame_in in;                /* what the child sent */
};

static struct {
    pthread_mutex_t mu;
    cf_process *head, *tail;
    unsigned long started;                 /* processes started here, for names */
    char identity[PROC_IDENTITY_MAX];      /* this process's place in the tree: "" or "2:1" */
    int lifeline;                          /* in a started child: its channel end, or -1 */
} registry = {.mu = PTHREAD_MUTEX_INITIALIZER, .lifeline = -1};

static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_handler_rc;

static void cf__process_at_exit(void);

static void cf__process_install_exit_handler(void)
{
    exit_handler_rc = atexit(cf__process_at_exit) == 0 ? 0 : -ENOMEM;
}

/* ---- Handles ------------------------------------------------------------------------ */

static void cf__process_release(cf_process *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (p->chan >= 0)
        close(p->chan);
    cf__frame_in_free(&p->in);
    cf_future_release(p->future);
    pthread_mutex_destroy(&p->mu);
    cf__free(p->name);
    cf__free(p);
}

static void cf__registry_add(cf_process *p)
{
    p->prev = registry.tail;
    p->next = NULL;
    if (registry.tail != NULL)
        registry.tail->next = p;
    else
        registry.head = p;
    registry.tail = p;
}

static void cf__registry_remove(cf_process *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        registry.head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    else
        registry.tail = p->prev;
    p->prev = p->next = NULL;
}

/* Whether this process may wait for, signal and reap p's child. */
static int cf__process_owned(const char *caller, const cf_process *p)
{
    if (p == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL process", caller);
    if (p->parent != getpid())
        return cf__fail(CF_ESTATE, "%s: %s (pid %d) was started by process %d; only it may "
                        "wait for or signal it", caller, p->name, (int)p->pid, (int)p->parent);
    return 0;
}

/* ---- The parent's view of a child (mu held) ------------------------------------------- */

/* Read whatever the child has sent. */
static void cf__process_read(cf_process *p)
{
    while (p->chan >= 0 && !p->chan_eof) {
        size_t got;
        int rc = cf__frame_in_recv(&p->in, p->chan, &got);
        if (rc == 0 && got > 0)
            continue;
        if (rc == 0 || rc == -ECONNRESET)
            p->chan_eof = true;
        return; /* -EAGAIN: nothing more now; other errors: the status tells */
    }
}

static void cf__process_close_chan(cf_process *p)
{
    if (p->chan >= 0 && p->waiters == 0) {
        close(p->chan);
        p->chan = -1;
    }
}

/* "killed by signal 9 (Killed)" or "exited with status 3". */
static void cf__describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* Complete the future from the child's answer, once the child is reaped. */
static void cf__process_settle(cf_process *p)
{
    cf_future *f = p->future;
    if (f == NULL)
        return;
    char how[96];
    if (p->lost) {
        cf__future_fail(f, -ECHILD, 0, p->origin,
                        "%s was reaped by someone else: its outcome is lost", p->name);
        return;
    }
    const uint8_t *payload;
    size_t len;
    if (cf__frame_in_next(&p->in, &payload, &len) != 0) {
        cf__describe_status(p->status, how, sizeof how);
        cf__future_fail(f, CF_ECRASHED,
                        WIFSIGNALED(p->status) ? WTERMSIG(p->status) : WEXITSTATUS(p->status),
                        p->origin, "%s ended without a result: %s", p->name, how);
        return;
    }
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    cf__wire_failure failure;
    int rc = cf__wire_open(&msg, payload, len);
    if (rc == 0 && msg.type == CF__WIRE_RESULT) {
        if (cf__future_claim(f) != 0) { /* cancelled: the outcome is taken */
            cf__wire_decoder_free(&dec);
            return;
        }
        rc = cf__wire_decode_result(&dec, &msg, f->task, cf__future_result_slot(f));
        if (rc == 0)
            cf__future_finish_claimed(f);
        else
            cf__future_fail_claimed(f, rc, 0, p->origin, "%s: its answer could not be read: %s",
                                    p->name, cf_last_error());
        rc = 0;
    } else if (rc == 0 && msg.type == CF__WIRE_FAILED) {
        rc = cf__wire_decode_failed(&dec, &msg, &failure);
        if (rc == 0)
            cf__future_fail(f, failure.code, failure.detail, p->origin, "%s",
                            failure.message != NULL ? failure.message : "the task failed");
    } else if (rc == 0) {
        rc = cf__fail(CF_EDECODE, "a %s message where a result was expected",
                      cf__wire_type_name(msg.type));
    }
    if (rc != 0)
        cf__future_fail(f, rc, 0, p->origin, "%s: its answer could not be read: %s", p->name,
                        cf_last_error());
    cf__wire_decoder_free(&dec);
}

/* Reap the child if it has ended: true once it is reaped. */
static bool cf__process_poll(cf_process *p)
{
    if (p->reaped)
        return true;
    cf__process_read(p);
    int status = 0;
    pid_t r;
    do
        r = waitpid(p->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    p->reaped = true;
    p->lost = r < 0; /* ECHILD: reaped by someone else */
    p->status = status;
    cf__process_read(p); /* everything it wrote is in the socket by now */
    cf__process_settle(p);
    cf__frame_in_free(&p->in);
    cf__process_close_chan(p);
    return true;
}

static int cf__process_outcome(const char *caller, const cf_process *p)
{
    if (p->lost)
        return cf__fail(-ECHILD, "%s: %s (pid %d) was reaped by someone else (is SIGCHLD "
                        "ignored, or does the program call waitpid(-1)?)", caller, p->name,
                        (int)p->pid);
    return 0;
}

/* Wait (without mu) until the channel stirs or `pause_ns` passes. */
static void cf__process_nap(int chan, bool watch_chan, int64_t pause_ns)
{
    struct timespec ts = {.tv_sec = pause_ns / 1000000000, .tv_nsec = pause_ns % 1000000000};
    struct pollfd pfd = {.fd = chan, .events = POLLIN};
    if (ppoll(&pfd, watch_chan ? 1 : 0, &ts, NULL) < 0 && errno != EINTR)
        nanosleep(&ts, NULL); /* cannot poll (no memory): pace the loop anyway */
}

/* ---- Waiting, signalling, asking -------------------------------------------------- */

int cf_process_join(cf_process *p, double timeout)
{
    static const char caller[] = "cf_process_join";
    int rc = cf__process_owned(caller, p);
    if (rc != 0)
        return rc;
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: NaN timeout", caller);
    pthread_mutex_lock(&p->mu);
    /* Pauses are long while the open channel will wake us, short and growing
     * once it has closed (the child is exiting, or has exec'd). */
    bool eof_seen = p->chan_eof;
    int64_t pause_ns = eof_seen ? PROC_POLL_MIN_NS : PROC_POLL_MAX_NS;
    p->waiters++;
    while (!cf__process_poll(p)) {
        if (p->chan_eof && !eof_seen) {
            eof_seen = true;
            pause_ns = PROC_POLL_MIN_NS;
        }
        int64_t now = cf__now_ns();
        if (now >= deadline) {
            rc = cf__fail(CF_ETIMEDOUT, "%s: %s (pid %d) still runs", caller, p->name,
                          (int)p->pid);
            break;
        }
        int64_t nap = deadline - now < pause_ns ? deadline - now : pause_ns;
        int chan = p->chan;
        bool watch_chan = !p->chan_eof;
        pthread_mutex_unlock(&p->mu);
        cf__process_nap(chan, watch_chan, nap);
        pthread_mutex_lock(&p->mu);
        if (eof_seen && pause_ns < PROC_POLL_MAX_NS)
            pause_ns *= 2;
    }
    p->waiters--;
    if (p->reaped) {
        cf__process_close_chan(p);
        rc = cf__process_outcome(caller, p);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

bool cf_process_is_alive(cf_process *p)
{
    if (p == NULL || p->parent != getpid())
        return false;
    pthread_mutex_lock(&p->mu);
    bool alive = !cf__process_poll(p);
    pthread_mutex_unlock(&p->mu);
    return alive;
}

int cf_process_exitcode(cf_process *p, int *code)
{
    static const char caller[] = "cf_process_exitcode";
    int rc = cf__process_owned(caller, p);
    if (rc != 0)
        return rc;
    if (code == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL code", caller);
    pthread_mutex_lock(&p->mu);
    if (!cf__process_poll(p)) {
        rc = cf__fail(CF_ESTATE, "%s: %s (pid %d) still runs", caller, p->name, (int)p->pid);
    } else if ((rc = cf__process_outcome(caller, p)) == 0) {
        *code = WIFSIGNALED(p->status) ? -WTERMSIG(p->status) : WEXITSTATUS(p->status);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int cf__process_result(cf_process *p, cf_type type, void *out, double timeout)
{
    static const char caller[] = "cf_process_result";
    if (p != NULL && p->future == NULL)
        return cf__fail(CF_EINVAL, "%s: %s was started with cf_process_start_fn: it has no "
                        "result", caller, p->name);
    int rc = cf_process_join(p, timeout);
    if (rc != 0)
        return rc;
    return cf__future_result(p->future, type, out, 0);
}

const cf_error *cf_process_error(const cf_process *p)
{
    return p != NULL && p->future != NULL ? cf_future_error(p->future) : NULL;
}

static int cf__process_signal(const char *caller, cf_process *p, int sig)
{
    int rc = cf__process_owned(caller, p);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&p->mu);
    if (!p->reaped && kill(p->pid, sig) != 0) {
        int err = errno;
        rc = cf__fail(-err, "%s: kill(%d): %s", caller, (int)p->pid, cf_strerror(-err));
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int cf_process_terminate(cf_process *p)
{
    return cf__process_signal("cf_process_terminate", p, SIGTERM);
}

int cf_process_kill(cf_process *p)
{
    return cf__process_signal("cf_process_kill", p, SIGKILL);
}

pid_t cf_process_pid(const cf_process *p)
{
    return p != NULL ? p->pid : 0;
}

const char *cf_process_name(const cf_process *p)
{
    return p != NULL ? p->name : "";
}

bool cf_process_is_daemon(const cf_process *p)
{
    return p != NULL && p->daemon;
}

int cf_process_active_children(pid_t *pids, size_t cap, size_t *count)
{
    if (count == NULL || (pids == NULL && cap > 0))
        return cf__fail(CF_EINVAL, "cf_process_active_children: NULL %s",
                        count == NULL ? "count" : "pids");
    pid_t self = getpid();
    size_t n = 0;
    pthread_mutex_lock(&registry.mu);
    for (cf_process *p = registry.head; p != NULL; p = p->next) {
        if (p->parent != self)
            continue;
        pthread_mutex_lock(&p->mu);
        bool alive = !cf__process_poll(p);
        pthread_mutex_unlock(&p->mu);
        if (alive && n < cap)
            pids[n] = p->pid;
        n += alive;
    }
    pthread_mutex_unlock(&registry.mu);
    *count = n;
    return 0;
}

void cf_process_free(cf_process *p)
{
    if (p == NULL)
        return;
    if (p->parent == getpid())
        cf_process_join(p, CF_FOREVER);
    pthread_mutex_lock(&registry.mu);
    cf__registry_remove(p);
    pthread_mutex_unlock(&registry.mu);
    cf__process_release(p);
}

/* At exit: SIGTERM to the running daemons, then wait for every running
 * child. The handles are pinned by a reference each, so that threads still
 * running may free theirs meanwhile. */
static void cf__process_at_exit(void)
{
    pid_t self = getpid();
    cf_process *list = NULL, **tail = &list;
    pthread_mutex_lock(&registry.mu);
    for (cf_process *p = registry.head; p != NULL; p = p->next) {
        if (p->parent != self)
            continue;
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
        p->exit_next = NULL;
        *tail = p;
        tail = &p->exit_next;
    }
    pthread_mutex_unlock(&registry.mu);
    for (cf_process *p = list; p != NULL; p = p->exit_next)
        if (p->daemon)
            cf_process_terminate(p);
    while (list != NULL) {
        cf_process *p = list;
        list = p->exit_next;
        cf_process_join(p, CF_FOREVER);
        cf__process_release(p);
    }
}

/* ---- The child ------------------------------------------------------------------------ */

/* Every signal to its default, but SIGINT and SIGPIPE ignored; none blocked. */
static void cf__child_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, RT gaps */
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

/* What the child needs to know, prepared by the parent before the fork. */
typedef struct cf__child_plan {
    cf_process *p;
    int chan;                       /* the child's end of the channel */
    int parent_chan;                /* the parent's end, closed in the child */
    pid_t parent;
    bool die_with_parent;           /* a daemon started by the main thread */
    char identity[PROC_IDENTITY_MAX];
    void (*fn)(void *);
    void *arg;
} cf__child_plan;

/* Send the task's answer to the parent (blocking): its result, or why it
 * failed. Returns the child's exit status: 0 for a result, 1 for a failure
 * (the task's, or a result that cannot be sent). */
static int cf__child_answer(int chan, const cf_task *task, void *slot, const cf__fail_ctx *ctx)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    int status = 1;
    if (ctx->failed) {
        if (cf__wire_encode_failed(&out, 0, CF_ETASK, ctx->code, ctx->message) != 0)
            cf__wire_encode_failed(&out, 0, CF_ETASK, ctx->code, NULL);
    } else {
        int rc = cf__wire_encode_result(&out, 0, task, slot);
        if (rc == 0)
            status = 0;
        else if (cf__wire_encode_failed(&out, 0, rc, 0, cf_last_error()) != 0)
            cf__wire_encode_failed(&out, 0, rc, 0, NULL);
    }
    cf__frame_out_send(&out, chan); /* blocking; fails only when the parent is gone */
    cf__frame_out_free(&out);
    return status;
}

static void __attribute__((noreturn)) cf__child_main(const cf__child_plan *plan)
{
    /* This thread held the registry's lock across the fork. */
    pthread_mutex_unlock(&registry.mu);
    close(plan->parent_chan);
    if (registry.lifeline >= 0)
        close(registry.lifeline); /* our parent's lifeline is not ours to hold */
    registry.lifeline = plan->chan;
    registry.started = 0;
    memcpy(registry.identity, plan->identity, sizeof registry.identity);

    cf__child_signals();
    cf__child_skip_atexit(); /* exit() in the task or function: no atexit handlers */
    if (plan->die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != plan->parent)
            raise(SIGTERM); /* the parent is gone already: delivered below */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    cf_future *f = plan->p->future;
    cf__fail_ctx ctx;
    cf__fail_ctx_enter(&ctx);
    if (f != NULL)
        f->task->call(cf__future_args(f), cf__future_result_slot(f));
    else
        plan->fn(plan->arg);
    cf__fail_ctx_leave(&ctx);
    int status = ctx.failed ? 1 : 0;
    if (f != NULL)
        status = cf__child_answer(plan->chan, f->task, cf__future_result_slot(f), &ctx);
    cf__free(ctx.message);
    fflush(NULL);
    _exit(status);
}

/* ---- Starting ------------------------------------------------------------------------- */

/* Fork a child running `future`'s task (or fn(arg) when future is NULL). On
 * success the handle takes the caller's reference to future. The channel is
 * made, the fork done and the child's end closed in one hold of the
 * registry's lock, so no other child started here inherits that end. */
static int cf__process_spawn(const char *caller, cf_process **out, const cf_process_options *opts,
                             cf_future *future, void (*fn)(void *), void *arg)
{
    struct sigaction chld;
    sigaction(SIGCHLD, NULL, &chld);
    if (chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT))
        return cf__fail(CF_ESTATE, "%s: SIGCHLD is ignored, so children would be reaped by "
                        "the kernel and their exit codes lost", caller);
    pthread_once(&exit_once, cf__process_install_exit_handler);
    if (exit_handler_rc != 0)
        return cf__fail(exit_handler_rc, "%s: cannot install the exit handler", caller);

    cf_process *p = cf__calloc(1, sizeof *p);
    if (p == NULL)
        return cf__fail(-ENOMEM, "%s: no memory for a process", caller);
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    cf__frame_in_init(&p->in, 0);
    p->chan = -1;
    p->parent = getpid();
    p->daemon = opts != NULL && opts->daemon;
    p->future = future;
    cf__child_plan plan = {.p = p, .parent = p->parent, .fn = fn, .arg = arg,
                           .die_with_parent = p->daemon && gettid() == getpid()};

    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pthread_mutex_lock(&registry.mu);
    /* Buffered output would otherwise be written by both processes. Under
     * the lock: a stream another start is flushing would be locked forever
     * in this child. */
    fflush(NULL);
    if (snprintf(plan.identity, sizeof plan.identity, "%s%s%lu", registry.identity,
                 registry.identity[0] != '\0' ? ":" : "",
                 registry.started + 1) >= (int)sizeof plan.identity)
        memcpy(plan.identity + sizeof plan.identity - 4, "...", 4); /* a very deep tree */
    p->name = opts != NULL && opts->name != NULL ? cf__strdup(opts->name)
                                                 : cf__asprintf("Process-%s", plan.identity);
    int sv[2] = {-1, -1};
    int rc = p->name == NULL ? -ENOMEM : 0;
    const char *what = "no memory for its name";
    if (rc == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        rc = -errno, what = "socketpair";
    else if (rc == 0 && fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
        rc = -errno, what = "fcntl";
    pid_t pid = -1;
    if (rc == 0) {
        plan.chan = sv[1];
        plan.parent_chan = sv[0];
        pid = fork();
        if (pid == 0)
            cf__child_main(&plan);
        if (pid < 0)
            rc = -errno, what = "fork";
        close(sv[1]);
    }
    if (rc == 0) {
        registry.started++;
        p->pid = pid;
        p->chan = sv[0];
        snprintf(p->origin, sizeof p->origin, "process %d", (int)pid);
        cf__registry_add(p);
    }
    pthread_mutex_unlock(&registry.mu);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        p->future = NULL; /* the caller keeps its reference */
        cf__process_release(p);
        return cf__fail(rc, "%s: %s: %s", caller, what, cf_strerror(rc));
    }
    *out = p;
    return 0;
}

int cf_process_start_fn(cf_process **proc, const cf_process_options *opts,
                        void (*fn)(void *arg), void *arg)
{
    if (proc != NULL)
        *proc = NULL;
    if (proc == NULL || fn == NULL)
        return cf__fail(CF_EINVAL, "cf_process_start_fn: NULL %s", proc == NULL ? "proc" : "fn");
    return cf__process_spawn("cf_process_start_fn", proc, opts, NULL, fn, arg);
}

/* ---- The launcher: cf_process_start's executor ----------------------------------------- */

typedef struct cf__launcher {
    cf_executor base;
    cf_process **out;
    const cf_process_options *opts;
    bool armed; /* set by cf__process_launcher, taken by the submit it precedes */
} cf__launcher;

static int cf__launcher_submit(cf_executor *ex, cf_future *f, const cf_submit_options *opts)
{
    static const char caller[] = "cf_process_start";
    cf__launcher *l = (cf__launcher *)ex;
    (void)opts; /* cf_process_start passes none */
    if (!l->armed)
        return cf__fail(CF_EINVAL, "%s: an argument started a process itself", caller);
    l->armed = false;
    if (l->out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL proc", caller);
    if (f->task->result.kind == CF_KIND_PTR)
        return cf__fail(CF_EUNSUPPORTED, "%s: task '%s' returns a raw pointer, which cannot "
                        "come back from a child process", caller, f->task->name);
    cf__future_start(f);
    cf_future_retain(f);
    int rc = cf__process_spawn(caller, l->out, l->opts, f, NULL, NULL);
    if (rc != 0)
        cf_future_release(f);
    return rc;
}

static int cf__launcher_shutdown(cf_executor *ex, unsigned flags, double timeout)
{
    (void)ex, (void)flags, (void)timeout;
    return cf__fail(CF_EUNSUPPORTED, "cf_executor_shutdown: a process launcher is not a pool");
}

static void cf__launcher_free(cf_executor *ex)
{
    (void)ex; /* one per thread, never allocated */
}

static size_t cf__launcher_max_workers(const cf_executor *ex)
{
    (void)ex;
    return 1;
}

static const cf__executor_ops cf__launcher_ops = {
    .kind = "process",
    .shares_memory = true, /* a fork has a copy of the caller's memory */
    .future_extra = 0,
    .submit = cf__launcher_submit,
    .shutdown = cf__launcher_shutdown,
    .free = cf__launcher_free,
    .max_workers = cf__launcher_max_workers,
};

static _Thread_local cf__launcher cf__this_launcher = {.base = {.ops = &cf__launcher_ops}};

cf_executor *cf__process_launcher(cf_process **proc, const cf_process_options *opts)
{
    if (proc != NULL)
        *proc = NULL;
    cf__this_launcher.out = proc;
    cf__this_launcher.opts = opts;
    cf__this_launcher.armed = true;
    return &cf__this_launcher.base;
}
