/* bench_python.c: running a Python peer and reading its JSON line
 * (bench_python.h).
 *
 * Design notes: python3 is started with posix_spawnp in a process group of
 * its own (POSIX_SPAWN_SETPGROUP), so that the kill after the time limit
 * reaches the workers it forked too. Its stdout and stderr are read through
 * two pipes with poll() until both end, each kept up to OUTPUT_LIMIT bytes.
 * The JSON readers are just enough for the flat objects the peers print:
 * strings without escapes and arrays of numbers.
 */
#include "config.h"

#include "bench_python.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* What is kept of each of Python's output streams. */
#define OUTPUT_LIMIT (1u << 20)

/* Bytes read from one of Python's output streams; beyond OUTPUT_LIMIT, the
 * rest is dropped. */
typedef struct capture {
    char *data; /* NUL-terminated */
    size_t len;
} capture;

static void capture_add(capture *c, const char *bytes, size_t n)
{
    if (c->data == NULL)
        c->data = cf__bench_xcalloc(OUTPUT_LIMIT + 1, 1);
    if (n > OUTPUT_LIMIT - c->len)
        n = OUTPUT_LIMIT - c->len;
    memcpy(c->data + c->len, bytes, n);
    c->len += n;
}

/* Read fds[0] into out[0] and fds[1] into out[1] until both end. Returns
 * false when the deadline passed first. */
static bool capture_until_eof(const int fds[2], capture out[2], int64_t deadline)
{
    struct pollfd pfd[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    int open = 2;
    while (open > 0) {
        int64_t left = deadline - cf__bench_now_ns();
        if (left <= 0)
            return false;
        int n = poll(pfd, 2, (int)(left / 1000000 + 1));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            cf__bench_die("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            char chunk[4096];
            ssize_t got = read(pfd[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got > 0) {
                capture_add(&out[i], chunk, (size_t)got);
            } else {
                pfd[i].fd = -1; /* end of file, or a broken pipe: done */
                open--;
            }
        }
    }
    return true;
}

/* The last non-empty line of text, at most 200 characters of it. */
static char *last_line(const char *text)
{
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    int len = end - start > 200 ? 200 : (int)(end - start);
    return cf__bench_xasprintf("%.*s", len, start);
}

char *cf__bench_python_run(const char *script, char *const args[], int64_t limit_ns,
                           char **skipped)
{
    *skipped = NULL;
    char *path = cf__bench_xasprintf("%s/%s", CF_BENCH_PEERS_DIR, script);
    if (access(path, R_OK) != 0) {
        *skipped = cf__bench_xasprintf("cannot read %s: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    size_t nargs = 0;
    while (args[nargs])
        nargs++;
    char **argv = cf__bench_xcalloc(nargs + 3, sizeof *argv);
    argv[0] = "python3";
    argv[1] = path;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 2] = args[i];

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        cf__bench_die("pipe2: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    if (rc == 0)
        rc = posix_spawnattr_init(&attr);
    /* A process group of its own, so that a kill reaches its workers too. */
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (rc != 0)
        cf__bench_die("posix_spawn setup: %s", strerror(rc));
    pid_t pid;
    rc = posix_spawnp(&pid, "python3", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    free(argv);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        *skipped = rc == ENOENT ? cf__bench_xstrdup("python3 was not found in PATH")
                                : cf__bench_xasprintf("cannot run python3: %s", strerror(rc));
        free(path);
        return NULL;
    }

    int fds[2] = {out[0], err[0]};
    capture got[2] = {{0}, {0}};
    bool finished = capture_until_eof(fds, got, cf__bench_now_ns() + limit_ns);
    if (!finished)
        kill(-pid, SIGKILL);
    close(out[0]);
    close(err[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            cf__bench_die("waitpid: %s", strerror(errno));
    /* Whatever Python said on stderr (warnings, a traceback) is the reader's. */
    if (got[1].len > 0)
        fwrite(got[1].data, 1, got[1].len, stderr);

    if (!finished) {
        *skipped = cf__bench_xasprintf("python3 %s did not finish within %.0f s and was killed",
                                       script, (double)limit_ns * 1e-9);
    } else if (WIFSIGNALED(status)) {
        *skipped = cf__bench_xasprintf("python3 %s was killed by signal %d", script,
                                       WTERMSIG(status));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *line = last_line(got[1].data ? got[1].data : "");
        *skipped = cf__bench_xasprintf("python3 %s failed (exit status %d): %s", script,
                                       WEXITSTATUS(status), line);
        free(line);
    }
    free(got[1].data);
    free(path);
    if (*skipped) {
        free(got[0].data);
        return NULL;
    }
    return got[0].data ? got[0].data : cf__bench_xstrdup("");
}

void cf__bench_python_malformed(const char *script, const char *out, char **skipped)
{
    char *line = last_line(out);
    *skipped = cf__bench_xasprintf("unexpected output from %s: '%s'", script, line);
    free(line);
}

/* Where "key": starts its value in the JSON object `line`, or NULL. */
static const char *json_value(const char *line, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(line, quoted);
    if (p == NULL)
        return NULL;
    p += strlen(quoted);
    p += strspn(p, " \t");
    if (*p != ':')
        return NULL;
    p++;
    return p + strspn(p, " \t");
}

bool cf__bench_json_string(const char *line, const char *key, char *buf, size_t size)
{
    const char *p = json_value(line, key);
    if (p == NULL || *p != '"')
        return false;
    const char *end = strchr(p + 1, '"');
    if (end == NULL)
        return false;
    snprintf(buf, size, "%.*s", (int)(end - p - 1), p + 1);
    return true;
}

bool cf__bench_json_numbers(const char *line, const char *key, size_t want, cf__bench_series *s)
{
    const char *p = json_value(line, key);
    if (p == NULL || *p != '[')
        return false;
    p++;
    for (size_t i = 0; i < want; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v > 0))
            return false;
        cf__bench_series_add(s, v);
        p = end + strspn(end, " \t");
        if (*p != (i + 1 < want ? ',' : ']'))
            return false;
        p++;
    }
    return true;
}
