/* support.c: the helpers the test programs share (contracts in support.h).
 *
 * Design notes: no state of its own; every helper works on what its caller
 * hands it. Helpers that fail call ck_assert, so they fail the test that
 * called them (in that test's own process, Check's fork mode); the ones that
 * can run where no test can fail (a forked worker, a thread of the library)
 * return their failure instead, as their contracts say. Every wait is
 * bounded: by DEADLINE_S, or by the deadline of the polling loop that
 * keep_polling() paces; its pause is the only one in the tests' polling.
 */
#include "config.h"

#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "future_priv.h"

/* ---- Time and deadlines ------------------------------------------------------------ */

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool keep_polling(double deadline)
{
    if (now_s() > deadline)
        return false;
    /* This pause orders nothing: the caller checks the event it waits for
     * each time round, and fails at the deadline. It only paces that loop,
     * so that it does not take a CPU from the threads and processes it waits
     * for (1 ms: short next to any deadline, long next to one check). */
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    return true;
}

/* ---- Check ---------------------------------------------------------------------- */

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- Futures -------------------------------------------------------------------- */

cf_future *new_future(void)
{
    cf_future *f = NULL;
    ck_assert_int_eq(cf_future_new(&f), 0);
    ck_assert_ptr_nonnull(f);
    return f;
}

cf_future *finished_future(int value)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, value), 0);
    return f;
}

void open_gate(cf_future *gate)
{
    ck_assert_int_eq(cf_future_set_result(gate, 1), 0);
}

void assert_type_eq(cf_type got, cf_type want, const char *what)
{
    ck_assert_msg(cf_type_equal(got, want), "%s: got %s/%u, want %s/%u", what,
                  cf_kind_name(got.kind), got.size, cf_kind_name(want.kind), want.size);
}

int32_t result_i32(cf_future *f)
{
    int32_t v = -1;
    int rc = cf_future_result(f, &v, DEADLINE_S);
    ck_assert_msg(rc == 0, "task '%s': %s (%s)", cf_future_task_name(f), cf_err_name(rc),
                  cf_last_error());
    return v;
}

void expect_value_i32(cf_future *f, int32_t want)
{
    ck_assert_int_eq(result_i32(f), want);
}

const cf_error *expect_failure(cf_future *f, int code)
{
    int32_t v;
    int rc = cf_future_result(f, &v, DEADLINE_S);
    ck_assert_msg(rc == code, "task '%s': expected %s, got %s (%s)", cf_future_task_name(f),
                  cf_err_name(code), cf_err_name(rc), cf_last_error());
    const cf_error *e = cf_future_error(f);
    if (code == CF_ECANCELLED) {
        ck_assert_ptr_null(e);
        ck_assert(cf_future_cancelled(f));
        return NULL;
    }
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, code);
    ck_assert_ptr_nonnull(e->message);
    ck_assert(cf_future_failed(f));
    return e;
}

void expect_origin_is(const cf_error *e, pid_t pid)
{
    char want[32];
    snprintf(want, sizeof want, "process %d", (int)pid);
    ck_assert_ptr_nonnull(e->origin);
    ck_assert_str_eq(e->origin, want);
}

bool has_listeners(const cf_future *f)
{
    return f->listeners != NULL;
}

uint32_t refs_of(const cf_future *f)
{
    return atomic_load(&f->refs);
}

/* ---- Executors ------------------------------------------------------------------- */

/* What a constructor returned (rc, and the executor ex) must be a new
 * executor of `kind`. */
static cf_executor *check_new_executor(int rc, cf_executor *ex, const char *kind)
{
    ck_assert_msg(rc == 0, "new %s: %s (%s)", kind, cf_err_name(rc), cf_last_error());
    ck_assert_ptr_nonnull(ex);
    ck_assert_str_eq(cf_executor_kind(ex), kind);
    return ex;
}

cf_executor *new_thread_pool(const cf_thread_pool_options *opts)
{
    cf_executor *ex = NULL;
    int rc = cf_thread_pool_new(&ex, opts);
    return check_new_executor(rc, ex, "thread_pool");
}

cf_executor *new_process_pool(const cf_process_pool_options *opts)
{
    cf_executor *ex = NULL;
    int rc = cf_process_pool_new(&ex, opts);
    return check_new_executor(rc, ex, "process_pool");
}

cf_executor *new_thread_pool_of(size_t max_workers)
{
    return new_thread_pool(&(cf_thread_pool_options){.max_workers = max_workers});
}

cf_executor *new_process_pool_of(size_t max_workers)
{
    return new_process_pool(&(cf_process_pool_options){.max_workers = max_workers});
}

/* ---- Pipes between processes ------------------------------------------------------- */

chan new_chan(void)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    return (chan){fds[0], fds[1]};
}

void close_chan(chan c)
{
    close(c.rd);
    close(c.wr);
}

int32_t read_i32(int fd)
{
    int32_t v;
    size_t got = 0;
    double deadline = now_s() + DEADLINE_S;
    while (got < sizeof v) {
        struct pollfd p = {fd, POLLIN, 0};
        int left_ms = (int)((deadline - now_s()) * 1000);
        ck_assert_msg(left_ms > 0, "nothing came through the pipe in %g s", DEADLINE_S);
        if (poll(&p, 1, left_ms) <= 0)
            continue;
        ssize_t n = read(fd, (char *)&v + got, sizeof v - got);
        ck_assert_msg(n > 0, "read: %s", n < 0 ? strerror(errno) : "end of file");
        got += (size_t)n;
    }
    return v;
}

void release(chan c, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(write(c.wr, "x", 1), 1);
}

/* Reads n bytes into buf, or writes n bytes from it (then buf is only
 * read), retrying on EINTR: 0, or -1 on an error or end of file. */
static int transfer_full(int fd, void *buf, size_t n, bool writing)
{
    while (n > 0) {
        ssize_t done = writing ? write(fd, buf, n) : read(fd, buf, n);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return -1;
        buf = (char *)buf + done;
        n -= (size_t)done;
    }
    return 0;
}

int read_full(int fd, void *buf, size_t n)
{
    return transfer_full(fd, buf, n, false);
}

int write_full(int fd, const void *buf, size_t n)
{
    return transfer_full(fd, (void *)buf, n, true);
}

void write_all(int fd, const void *data, size_t n)
{
    if (write_full(fd, data, n) != 0)
        _exit(99);
}

/* ---- Leak checks in child processes ---------------------------------------------------- */

static pid_t leak_checked_pid;

void check_leaks_in_this_process_only(void)
{
    leak_checked_pid = getpid();
}

/* LeakSanitizer asks this at exit; without the fixture every process is checked. */
int __lsan_is_turned_off(void) __attribute__((visibility("default"), used));
int __lsan_is_turned_off(void)
{
    return leak_checked_pid != 0 && getpid() != leak_checked_pid;
}

/* ---- Tasks for process pool tests ---------------------------------------------------- */

uint64_t mix8(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g, int64_t h)
{
    uint32_t ebits;
    uint64_t fbits;
    memcpy(&ebits, &e, sizeof ebits);
    memcpy(&fbits, &f, sizeof fbits);
    uint64_t x = (uint64_t)(int64_t)a * 0x9E3779B97F4A7C15u;
    x ^= (uint64_t)b * 31u + (uint64_t)(int64_t)c * 1000003u;
    x = (x << 7 | x >> 57) ^ d ^ ((uint64_t)ebits << 11) ^ fbits;
    return x + (g ? 17u : 5u) + (uint64_t)h * 3u;
}

int32_t worker_pid(void)
{
    return (int32_t)getpid();
}

int32_t server_pid(void)
{
    return (int32_t)getppid();
}

int32_t gate(int32_t started, int32_t release_fd)
{
    int32_t pid = (int32_t)getpid();
    write_all(started, &pid, sizeof pid);
    char c;
    while (read(release_fd, &c, 1) < 0 && errno == EINTR) {
    }
    return pid;
}

int32_t hang(int32_t started)
{
    int32_t pid = (int32_t)getpid();
    write_all(started, &pid, sizeof pid);
    for (;;)
        pause();
    return pid;
}

uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

/* ---- /proc ------------------------------------------------------------------------ */

int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* State and parent from a /proc stat file; false when it cannot be read. */
static bool read_stat(const char *path, char *state, pid_t *ppid)
{
    char buf[512];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *close_paren = strrchr(buf, ')'); /* the name may hold spaces */
    int parent;
    if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", state, &parent) != 2)
        return false;
    *ppid = parent;
    return true;
}

bool proc_stat(pid_t pid, char *state, pid_t *ppid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return read_stat(path, state, ppid);
}

pid_t parent_of(pid_t pid)
{
    char state;
    pid_t ppid;
    return proc_stat(pid, &state, &ppid) ? ppid : 0;
}

int count_children_of(pid_t parent, int *zombies)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    int n = 0, zombie_count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char state;
        pid_t ppid;
        if (proc_stat(atoi(e->d_name), &state, &ppid) && ppid == parent) {
            n++;
            zombie_count += state == 'Z';
        }
    }
    closedir(d);
    if (zombies != NULL)
        *zombies = zombie_count;
    return n;
}

int count_children(void)
{
    return count_children_of(getpid(), NULL);
}

bool process_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

bool process_gone(pid_t pid)
{
    return EVENTUALLY(!process_exists(pid));
}

char thread_state(pid_t tid)
{
    char path[64], state;
    pid_t ppid;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    return read_stat(path, &state, &ppid) ? state : '?';
}

bool thread_gone(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    return EVENTUALLY(access(path, F_OK) != 0);
}

/* The threads of this process named `name` (the whole name, or a prefix of
 * it when `prefix_only`): how many, and the id of the first one found. */
static int find_threads(const char *name, bool prefix_only, pid_t *first)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    *first = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof comm, f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            bool match = prefix_only ? strncmp(comm, name, strlen(name)) == 0
                                     : strcmp(comm, name) == 0;
            if (match && n++ == 0)
                *first = atoi(e->d_name);
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

int count_threads_named(const char *name)
{
    pid_t first;
    return find_threads(name, false, &first);
}

int count_threads_prefixed(const char *prefix)
{
    pid_t first;
    return find_threads(prefix, true, &first);
}

pid_t thread_named(const char *name)
{
    pid_t first;
    find_threads(name, false, &first);
    return first;
}
