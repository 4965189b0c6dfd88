/* subprocess.c: starting programs, waiting for them and signalling them
 * (cfutures/subprocess.h; communicate, run, call and check_output are in
 * subprocess_communicate.c).
 *
 * Design notes
 * - Starting: posix_spawnp. glibc runs the child on the parent's memory
 *   (clone with CLONE_VM | CLONE_VFORK) until it execs, so a large parent
 *   costs nothing to copy, and it reports a failed exec (and a failed file
 *   action) as the call's own error: a missing program is -ENOENT at once.
 *   The program is also looked up first, as posix_spawnp will (a path, or
 *   a PATH search), so that the report does not depend on how the spawn is
 *   carried out: under valgrind, glibc's vfork becomes a fork whose exec
 *   error never comes back.
 * - Descriptors: the pipes are made close-on-exec; the file actions dup2
 *   the child's three streams into place and then close every descriptor
 *   from 3 up (posix_spawn_file_actions_addclosefrom_np), so nothing the
 *   application left inheritable leaks either. A descriptor given with
 *   CF_SUBPROCESS_FD below 3 is first copied above 2, so that putting one
 *   stream in place never overwrites the source of another. The working
 *   directory is opened in the parent (a missing one is named as such, not
 *   confused with a missing program) and entered with fchdir before the
 *   closing.
 * - Signals: every signal back to its default (POSIX_SPAWN_SETSIGDEF with a
 *   full set) and an empty mask. This is not the reset that process.c and
 *   the fork server do for forked C code (which keeps SIGINT and SIGPIPE
 *   ignored): an exec'd program expects the defaults, as Python's
 *   restore_signals gives them. (glibc leaves its two internal signals, 32
 *   and 33, ignored: below SIGRTMIN, no program under glibc uses them.)
 * - Reaping: no SIGCHLD handler. waitpid on the child's own pid (WNOHANG,
 *   under `mu`, so two waiting threads never take the status from each
 *   other); between tries a waiter sleeps in poll on a pidfd, readable once
 *   the child has exited. Without pidfds (kernels before 5.3) it naps,
 *   doubling from 1 ms to 50 ms.
 * - Signals to the child go through the pidfd (or kill), only while `mu`
 *   says the child is not reaped: a reaped child's pid may be reused.
 */
#include "config.h"

#include "subprocess_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"

/* Without a pidfd, a waiter checks at least this often. */
#define CF__SUB_NAP_MIN_NS 1000000
#define CF__SUB_NAP_MAX_NS 50000000

int cf__subprocess_code(int status)
{
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

static int cf__pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* Once ENOSYS (an old kernel, or a tool that does not know the call),
     * not asked again. */
    static _Atomic bool unsupported;
    if (atomic_load_explicit(&unsupported, memory_order_relaxed))
        return -1;
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ENOSYS)
        atomic_store_explicit(&unsupported, true, memory_order_relaxed);
    return fd < 0 ? -1 : (int)fd; /* ENOSYS, EMFILE: fall back to naps */
#else
    (void)pid;
    return -1;
#endif
}

/* ---- Starting --------------------------------------------------------------------- */

/* One of the child's streams while it is being set up. */
typedef struct cf__sub_stream {
    cf_subprocess_stdio mode;
    int src;        /* the descriptor dup2'ed into place, or -1 */
    int parent;     /* the parent's end of a pipe, or -1 */
    int close_src;  /* a descriptor made here to close after the spawn, or -1 */
} cf__sub_stream;

static void cf__sub_stream_close(cf__sub_stream *s, bool keep_parent_end)
{
    if (s->close_src >= 0)
        close(s->close_src);
    s->close_src = -1;
    if (!keep_parent_end && s->parent >= 0) {
        close(s->parent);
        s->parent = -1;
    }
}

/* Make the descriptors stream `target` (0, 1, 2) needs. */
static int cf__sub_stream_prepare(cf__sub_stream *s, int target, cf_subprocess_stdio mode,
                                  int fd, const char *caller)
{
    static const char *const names[] = {"stdin", "stdout", "stderr"};
    s->mode = mode;
    s->src = s->parent = s->close_src = -1;
    switch (mode) {
    case CF_SUBPROCESS_INHERIT:
    case CF_SUBPROCESS_DEVNULL:
        return 0;
    case CF_SUBPROCESS_STDOUT:
        if (target != 2)
            return cf__fail(CF_EINVAL, "%s: CF_SUBPROCESS_STDOUT is for stderr, not %s", caller,
                            names[target]);
        return 0;
    case CF_SUBPROCESS_PIPE: {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            int err = errno;
            return cf__fail(-err, "%s: cannot make a pipe for %s: %s", caller, names[target],
                            strerror(err));
        }
        s->src = s->close_src = target == 0 ? fds[0] : fds[1];
        s->parent = target == 0 ? fds[1] : fds[0];
        return 0;
    }
    case CF_SUBPROCESS_FD:
        if (fd < 0)
            return cf__fail(CF_EINVAL, "%s: %s is CF_SUBPROCESS_FD with descriptor %d", caller,
                            names[target], fd);
        if (fd >= 3) {
            /* Checked here, as a failed dup2 in the child is reported only
             * where glibc's vfork shares our memory (not under valgrind). */
            if (fcntl(fd, F_GETFD) < 0)
                return cf__fail(-EBADF, "%s: %s: descriptor %d is not open", caller,
                                names[target], fd);
            s->src = fd;
            return 0;
        }
        /* Out of the way of the streams put in place before this one. */
        s->src = s->close_src = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (s->src < 0) {
            int err = errno;
            return cf__fail(-err, "%s: %s: descriptor %d: %s", caller, names[target], fd,
                            strerror(err));
        }
        return 0;
    }
    return cf__fail(CF_EINVAL, "%s: %s has no mode %d", caller, names[target], (int)mode);
}

/* The environment the child gets: `env` or the parent's, with `add` over
 * it. *owned is the array to free (NULL when none was made). */
static int cf__sub_environment(const cf_subprocess_options *o, char ***envp, char ***owned,
                               const char *caller)
{
    extern char **environ;
    char *const *base = o->env != NULL ? (char *const *)o->env : environ;
    *owned = NULL;
    for (int k = 0; k < 2; k++) {
        const char *const *list = k == 0 ? o->env : o->env_add;
        for (size_t i = 0; list != NULL && list[i] != NULL; i++)
            if (strchr(list[i], '=') == NULL)
                return cf__fail(CF_EINVAL, "%s: environment entry \"%s\" has no '='", caller,
                                list[i]);
    }
    if (o->env_add == NULL || o->env_add[0] == NULL) {
        *envp = (char **)base;
        return 0;
    }
    size_t nbase = 0, nadd = 0;
    while (base != NULL && base[nbase] != NULL)
        nbase++;
    while (o->env_add[nadd] != NULL)
        nadd++;
    char **e = cf__calloc(nbase + nadd + 1, sizeof *e);
    if (e == NULL)
        return cf__fail(-ENOMEM, "%s: no memory for the environment", caller);
    size_t n = 0;
    /* Keeps entry s unless a later entry of `add` (from index `from`) names the same variable. */
    for (size_t i = 0; i < nbase + nadd; i++) {
        const char *s = i < nbase ? base[i] : o->env_add[i - nbase];
        size_t name_len = (size_t)(strchr(s, '=') - s);
        bool replaced = false;
        for (size_t j = i < nbase ? 0 : i - nbase + 1; j < nadd && !replaced; j++)
            replaced = strncmp(o->env_add[j], s, name_len + 1) == 0;
        if (!replaced)
            e[n++] = (char *)s;
    }
    *envp = *owned = e;
    return 0;
}

/* Whether `path` (relative to dirfd) is a program execve would run: 0 or a
 * positive errno. */
static int cf__sub_runnable(int dirfd, const char *path)
{
    struct stat st;
    if (fstatat(dirfd, path, &st, 0) != 0)
        return errno;
    if (!S_ISREG(st.st_mode))
        return EACCES;
    return faccessat(dirfd, path, X_OK, 0) == 0 ? 0 : errno;
}

/* Look for the program as posix_spawnp will (a path, or a name searched in
 * PATH, relative entries from the child's directory): 0, ENOENT, EACCES...
 * posix_spawnp reports these itself; looking first makes the report
 * independent of how the spawn is carried out (a tool such as valgrind
 * turns glibc's shared-memory vfork into a fork, whose exec errors never
 * come back). */
static int cf__sub_find_program(const char *prog, int cwd_fd)
{
    int dirfd = cwd_fd >= 0 ? cwd_fd : AT_FDCWD;
    if (strchr(prog, '/') != NULL)
        return cf__sub_runnable(dirfd, prog);
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/bin:/usr/bin"; /* glibc's default search path */
    int err = ENOENT;
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t dlen = end != NULL ? (size_t)(end - p) : strlen(p);
        char buf[PATH_MAX];
        int n = snprintf(buf, sizeof buf, "%.*s%s%s", (int)dlen, p, dlen > 0 ? "/" : "", prog);
        if (n > 0 && (size_t)n < sizeof buf) {
            int e = cf__sub_runnable(dirfd, buf);
            if (e == 0)
                return 0;
            if (e == EACCES)
                err = EACCES; /* execvp's rule: remembered, the search goes on */
        }
        if (end == NULL)
            return err;
        p = end + 1;
    }
}

/* Describe the file actions and attributes, then spawn. Returns 0 or the
 * error posix_spawn reported (positive errno), *what naming the step. */
static int cf__sub_posix_spawn(pid_t *pid, const char *const argv[], cf__sub_stream st[3],
                               int cwd_fd, bool new_session, char **envp, const char **what)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        *what = "posix_spawn_file_actions_init";
        return rc;
    }
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        *what = "posix_spawnattr_init";
        return rc;
    }
    static const int flags[3] = {O_RDONLY, O_WRONLY, O_WRONLY};
    *what = "posix_spawn_file_actions";
    for (int t = 0; t < 3 && rc == 0; t++) {
        switch (st[t].mode) {
        case CF_SUBPROCESS_PIPE:
        case CF_SUBPROCESS_FD:
            rc = posix_spawn_file_actions_adddup2(&fa, st[t].src, t);
            break;
        case CF_SUBPROCESS_DEVNULL:
            rc = posix_spawn_file_actions_addopen(&fa, t, "/dev/null", flags[t], 0);
            break;
        case CF_SUBPROCESS_STDOUT:
            rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
            break;
        case CF_SUBPROCESS_INHERIT:
            break;
        }
    }
    if (rc == 0 && cwd_fd >= 0)
        rc = posix_spawn_file_actions_addfchdir_np(&fa, cwd_fd);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    short sflags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (new_session)
        sflags |= POSIX_SPAWN_SETSID;
    if (rc == 0 && ((rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0
                    || (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0
                    || (rc = posix_spawnattr_setflags(&attr, sflags)) != 0))
        *what = "posix_spawnattr";
    if (rc == 0) {
        *what = "posix_spawnp";
        rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv, envp);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int cf_subprocess_spawn(cf_subprocess **out, const char *const argv[],
                        const cf_subprocess_options *opts)
{
    static const char caller[] = "cf_subprocess_spawn";
    if (out != NULL)
        *out = NULL;
    if (out == NULL || argv == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL %s", caller, out == NULL ? "out" : "argv");
    if (argv[0] == NULL || argv[0][0] == '\0')
        return cf__fail(CF_EINVAL, "%s: no program (empty argv or argv[0])", caller);
    cf_subprocess_options o = opts != NULL ? *opts : (cf_subprocess_options){0};

    cf__sub_stream st[3] = {{.src = -1, .parent = -1, .close_src = -1},
                            {.src = -1, .parent = -1, .close_src = -1},
                            {.src = -1, .parent = -1, .close_src = -1}};
    char **envp = NULL, **env_owned = NULL;
    int cwd_fd = -1;
    int rc = cf__sub_stream_prepare(&st[0], 0, o.stdin_mode, o.stdin_fd, caller);
    if (rc == 0)
        rc = cf__sub_stream_prepare(&st[1], 1, o.stdout_mode, o.stdout_fd, caller);
    if (rc == 0)
        rc = cf__sub_stream_prepare(&st[2], 2, o.stderr_mode, o.stderr_fd, caller);
    if (rc == 0)
        rc = cf__sub_environment(&o, &envp, &env_owned, caller);
    if (rc == 0 && o.cwd != NULL) {
        cwd_fd = open(o.cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd_fd < 0) {
            int err = errno;
            rc = cf__fail(-err, "%s: working directory \"%s\": %s", caller, o.cwd, strerror(err));
        }
    }
    cf_subprocess *p = NULL;
    if (rc == 0) {
        p = cf__calloc(1, sizeof *p);
        if (p != NULL)
            p->name = cf__strdup(argv[0]);
        if (p == NULL || p->name == NULL)
            rc = cf__fail(-ENOMEM, "%s: no memory for a subprocess", caller);
    }
    if (rc == 0) {
        int err = cf__sub_find_program(argv[0], cwd_fd);
        if (err != 0)
            rc = cf__fail(-err, "%s: cannot run \"%s\": %s", caller, argv[0], strerror(err));
    }
    if (rc == 0) {
        const char *what;
        pid_t pid;
        int err = cf__sub_posix_spawn(&pid, argv, st, cwd_fd, o.new_session, envp, &what);
        if (err != 0)
            rc = cf__fail(-err, "%s: cannot run \"%s\": %s (%s)", caller, argv[0], strerror(err),
                          what);
        else
            p->pid = pid;
    }
    if (cwd_fd >= 0)
        close(cwd_fd);
    cf__free(env_owned);
    for (int t = 0; t < 3; t++)
        cf__sub_stream_close(&st[t], rc == 0);
    if (rc != 0) {
        if (p != NULL)
            cf__free(p->name);
        cf__free(p);
        return rc;
    }
    p->in_fd = st[0].parent;
    p->out_fd = st[1].parent;
    p->err_fd = st[2].parent;
    p->pidfd = cf__pidfd_open(p->pid);
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

/* ---- Waiting ------------------------------------------------------------------------- */

/* Try to reap the child once (mu held). True once it is reaped. */
static bool cf__sub_try_reap(cf_subprocess *p)
{
    if (p->reaped)
        return true;
    int status = 0;
    pid_t r;
    do
        r = waitpid(p->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    p->reaped = true;
    p->lost = r < 0; /* ECHILD: SIGCHLD ignored, or someone called waitpid(-1) */
    p->status = status;
    return true;
}

static int cf__sub_outcome(cf_subprocess *p, const char *caller)
{
    if (p->lost)
        return cf__fail(-ECHILD, "%s: \"%s\" (pid %d) was reaped by someone else (is SIGCHLD "
                        "ignored, or does the program call waitpid(-1)?)", caller, p->name,
                        (int)p->pid);
    return 0;
}

int cf__subprocess_reap(cf_subprocess *p, int64_t deadline, const char *caller)
{
    int64_t nap = CF__SUB_NAP_MIN_NS;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool done = cf__sub_try_reap(p);
        int rc = done ? cf__sub_outcome(p, caller) : 0;
        pthread_mutex_unlock(&p->mu);
        if (done)
            return rc;
        int64_t now = cf__now_ns();
        if (now >= deadline)
            return cf__fail(CF_ETIMEDOUT, "%s: \"%s\" (pid %d) still runs", caller, p->name,
                            (int)p->pid);
        int64_t left = deadline - now;
        if (p->pidfd >= 0) {
            /* Readable once the child has exited; bounded so that a missed
             * edge costs at most a second. */
            int64_t wait_ns = left < 1000000000 ? left : 1000000000;
            struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
            struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
            ppoll(&pfd, 1, &ts, NULL);
        } else {
            int64_t wait_ns = left < nap ? left : nap;
            struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
            nanosleep(&ts, NULL);
            if (nap < CF__SUB_NAP_MAX_NS)
                nap *= 2;
        }
    }
}

int cf_subprocess_wait(cf_subprocess *p, int *returncode, double timeout)
{
    static const char caller[] = "cf_subprocess_wait";
    if (p == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL subprocess", caller);
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: NaN timeout", caller);
    int rc = cf__subprocess_reap(p, deadline, caller);
    if (rc == 0 && returncode != NULL)
        *returncode = cf__subprocess_code(p->status);
    return rc;
}

int cf_subprocess_poll(cf_subprocess *p, int *returncode)
{
    static const char caller[] = "cf_subprocess_poll";
    if (p == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL subprocess", caller);
    int rc = cf__subprocess_reap(p, 0, caller);
    if (rc == 0 && returncode != NULL)
        *returncode = cf__subprocess_code(p->status);
    return rc;
}

int cf_subprocess_returncode(const cf_subprocess *p, int *returncode)
{
    static const char caller[] = "cf_subprocess_returncode";
    if (p == NULL || returncode == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL %s", caller, p == NULL ? "subprocess" : "returncode");
    cf_subprocess *q = (cf_subprocess *)p; /* mu only */
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (!q->reaped)
        rc = cf__fail(CF_ESTATE, "%s: \"%s\" (pid %d) has not been waited for", caller, q->name,
                      (int)q->pid);
    else if ((rc = cf__sub_outcome(q, caller)) == 0)
        *returncode = cf__subprocess_code(q->status);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* ---- Signals ---------------------------------------------------------------------------- */

int cf_subprocess_send_signal(cf_subprocess *p, int sig)
{
    static const char caller[] = "cf_subprocess_send_signal";
    if (p == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL subprocess", caller);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (!p->reaped) {
        long r;
#ifdef SYS_pidfd_send_signal
        if (p->pidfd >= 0)
            r = syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
        else
#endif
            r = kill(p->pid, sig);
        if (r != 0 && errno != ESRCH) {
            int err = errno;
            rc = cf__fail(-err, "%s: signal %d to pid %d: %s", caller, sig, (int)p->pid,
                          strerror(err));
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int cf_subprocess_terminate(cf_subprocess *p)
{
    return cf_subprocess_send_signal(p, SIGTERM);
}

int cf_subprocess_kill(cf_subprocess *p)
{
    return cf_subprocess_send_signal(p, SIGKILL);
}

/* ---- Accessors, closing -------------------------------------------------------------------- */

pid_t cf_subprocess_pid(const cf_subprocess *p)
{
    return p != NULL ? p->pid : 0;
}

int cf_subprocess_stdin_fd(const cf_subprocess *p)
{
    return p != NULL ? p->in_fd : -1;
}

int cf_subprocess_stdout_fd(const cf_subprocess *p)
{
    return p != NULL ? p->out_fd : -1;
}

int cf_subprocess_stderr_fd(const cf_subprocess *p)
{
    return p != NULL ? p->err_fd : -1;
}

int cf_subprocess_close_stdin(cf_subprocess *p)
{
    if (p == NULL)
        return cf__fail(CF_EINVAL, "cf_subprocess_close_stdin: NULL subprocess");
    if (p->in_fd >= 0) {
        close(p->in_fd);
        p->in_fd = -1;
    }
    return 0;
}

void cf_subprocess_free(cf_subprocess *p)
{
    if (p == NULL)
        return;
    int *fds[3] = {&p->in_fd, &p->out_fd, &p->err_fd};
    for (int i = 0; i < 3; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    cf__subprocess_reap(p, CF__NO_DEADLINE, "cf_subprocess_free");
    if (p->pidfd >= 0)
        close(p->pidfd);
    pthread_mutex_destroy(&p->mu);
    cf__free(p->out.data);
    cf__free(p->err.data);
    cf__free(p->name);
    cf__free(p);
}
