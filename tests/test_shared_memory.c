/* test_shared_memory.c: cf_shared_alloc, cf_shared_free and cf_shared_size
 * (their contracts, many blocks, threads, forked children), maps over
 * shared arrays (used in place, mixed with plain arrays, aliased), and that
 * maps leave nothing behind: after maps that succeed, fail, crash a worker
 * or time out, this process has the descriptors and mappings it had before,
 * and every pool worker the descriptors it had before.
 *
 * Worker processes are found through /proc: the pool's fork server is this
 * test process's only child, and the workers are its children.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"

/* ---- Tasks ------------------------------------------------------------------------- */

static int64_t triple(int64_t x)
{
    return 3 * x + 1;
}
CF_TASK(int64_t, triple, int64_t);

static double affine(double a, double b)
{
    return 2.0 * a + b;
}
CF_TASK(double, affine, double, double);

/* 2x; fails (cf_task_fail) when bad is 1, kills its worker when it is 2. */
static int32_t misbehave(int32_t x, int32_t bad)
{
    if (bad == 1)
        cf_task_fail(1, "element %d fails", x);
    if (bad == 2)
        raise(SIGKILL);
    return 2 * x;
}
CF_TASK(int32_t, misbehave, int32_t, int32_t);

/* Never returns: its worker must be killed. */
static int32_t stuck(int32_t x)
{
    for (;;)
        pause();
    return x;
}
CF_TASK(int32_t, stuck, int32_t);

/* ---- /proc ------------------------------------------------------------------------- */

/* Up to `max` processes whose parent is `parent`; returns how many. */
static int list_children(pid_t parent, pid_t *pids, int max)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        pid_t pid = atoi(e->d_name);
        char state;
        pid_t ppid;
        if (proc_stat(pid, &state, &ppid) && ppid == parent && state != 'Z')
            pids[n++] = pid;
    }
    closedir(d);
    return n;
}

/* Descriptors process `pid` has open, or -1 when it is gone. */
static int count_fds_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Lines of /proc/self/maps: this process's mappings. */
static int count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    for (int c; (c = getc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Descriptors of process `pid` (0: this one) open on a shared-memory file
 * whose name contains `name` (their links read "/memfd:<name> (deleted)"). */
static int count_fds_named(pid_t pid, const char *name)
{
    char path[64];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/fd");
    else
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char link[sizeof path + sizeof e->d_name + 1], target[256];
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strstr(target, name) != NULL;
    }
    closedir(d);
    return n;
}

/* Lines of /proc/self/maps that name `name`. */
static int count_mappings_named(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, name) != NULL;
    fclose(f);
    return n;
}

/* Whether this process holds nothing of a map any more: no descriptor and
 * no mapping of a map's working memory. */
static bool no_map_memory(void)
{
    return count_fds_named(0, "cfutures-map") == 0 && count_mappings_named("cfutures-map") == 0;
}

enum { MAX_WORKERS = 8 };

/* A pool's workers and their descriptor counts. */
typedef struct workers {
    int n;
    pid_t pid[MAX_WORKERS];
    int fds[MAX_WORKERS];
} workers;

/* The workers of the pool whose fork server is this process's only child. */
static workers snapshot_workers(void)
{
    pid_t server;
    ck_assert_int_eq(list_children(getpid(), &server, 1), 1);
    workers w;
    w.n = list_children(server, w.pid, MAX_WORKERS);
    for (int i = 0; i < w.n; i++)
        w.fds[i] = count_fds_of(w.pid[i]);
    return w;
}

static bool same_workers(const workers *a, const workers *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->pid[i] != b->pid[i] || a->fds[i] != b->fds[i])
            return false;
    return true;
}

/* The pool's `n` workers once they have settled: workers replaced after a
 * crash or a kill are started in the background, so two snapshots a poll
 * apart must agree. */
static workers steady_workers(int n)
{
    double deadline = now_s() + DEADLINE_S;
    workers last = snapshot_workers();
    for (;;) {
        ck_assert_msg(keep_polling(deadline), "the pool has %d workers, not a steady %d", last.n,
                      n);
        workers now = snapshot_workers();
        if (now.n == n && same_workers(&last, &now))
            return now;
        last = now;
    }
}

/* Whether `now` has as many workers as `before`, every one that was there
 * then has the descriptors it had, and every new one as many as the first
 * worker had. */
static bool workers_unchanged(const workers *before, const workers *now)
{
    if (now->n != before->n)
        return false;
    for (int i = 0; i < now->n; i++) {
        int want = before->fds[0];
        for (int j = 0; j < before->n; j++)
            if (before->pid[j] == now->pid[i])
                want = before->fds[j];
        if (now->fds[i] != want || count_fds_named(now->pid[i], "cfutures-map") != 0)
            return false;
    }
    return true;
}

/* ---- The allocator ---------------------------------------------------------------------- */

START_TEST(shared_memory_alloc_contract)
{
    ck_assert_ptr_null(cf_shared_alloc(0));
    ck_assert_msg(strstr(cf_last_error(), "0 bytes") != NULL, "last error: %s", cf_last_error());
    ck_assert_ptr_null(cf_shared_alloc(SIZE_MAX));
    ck_assert_str_ne(cf_last_error(), "");

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t sizes[] = {1, 100, page, page + 1, 3 * page + 17};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t size = sizes[s];
        unsigned char *p = cf_shared_alloc(size);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % page, 0);
        for (size_t i = 0; i < size; i++)
            ck_assert_uint_eq(p[i], 0);
        memset(p, 0xab, size);
        ck_assert_uint_eq(cf_shared_size(p), size);
        ck_assert_uint_eq(cf_shared_size(p + size / 2), size);
        ck_assert_uint_eq(cf_shared_size(p + size - 1), size);
        ck_assert_uint_eq(cf_shared_size(p + size), 0); /* past what was asked for */
        ck_assert_int_eq(cf_shared_free(p), 0);
        ck_assert_uint_eq(cf_shared_size(p), 0);
    }
    int local = 0;
    ck_assert_uint_eq(cf_shared_size(&local), 0);
    ck_assert_uint_eq(cf_shared_size(NULL), 0);
}
END_TEST

START_TEST(shared_memory_free_contract)
{
    ck_assert_int_eq(cf_shared_free(NULL), 0);
    int local = 0;
    ck_assert_int_eq(cf_shared_free(&local), CF_EINVAL);
    ck_assert_str_ne(cf_last_error(), "");
    void *plain = malloc(64);
    ck_assert_int_eq(cf_shared_free(plain), CF_EINVAL);
    free(plain);

    char *p = cf_shared_alloc(1000);
    ck_assert_ptr_nonnull(p);
    /* Inside a block but not its start: nothing is freed. */
    ck_assert_int_eq(cf_shared_free(p + 1), CF_EINVAL);
    ck_assert_int_eq(cf_shared_free(p + 999), CF_EINVAL);
    ck_assert_uint_eq(cf_shared_size(p), 1000);
    p[999] = 'x';
    ck_assert_int_eq(cf_shared_free(p), 0);
    ck_assert_int_eq(cf_shared_free(p), CF_EINVAL); /* twice */
}
END_TEST

START_TEST(shared_memory_releases_fds_and_mappings)
{
    int fds = count_fds(), maps = count_mappings();
    enum { N = 5 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = cf_shared_alloc(4096 * (size_t)(i + 1));
        ck_assert_ptr_nonnull(p[i]);
    }
    ck_assert_int_eq(count_fds(), fds + N); /* one descriptor per block */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_shared_free(p[i]), 0);
    ck_assert_int_eq(count_fds(), fds);
    ck_assert_int_eq(count_mappings(), maps);
}
END_TEST

/* Many blocks, freed in a scrambled order: every lookup stays right. */
START_TEST(shared_memory_many_blocks)
{
    enum { N = 40 };
    char *p[N];
    size_t size[N];
    for (int i = 0; i < N; i++) {
        size[i] = 1 + (size_t)i * 977;
        p[i] = cf_shared_alloc(size[i]);
        ck_assert_ptr_nonnull(p[i]);
        memset(p[i], i, size[i]);
    }
    bool freed[N] = {false};
    for (int k = 0; k < N; k++) {
        int victim = (k * 17 + 5) % N;
        ck_assert(!freed[victim]);
        ck_assert_int_eq(cf_shared_free(p[victim]), 0);
        freed[victim] = true;
        for (int i = 0; i < N; i++) {
            size_t want = freed[i] ? 0 : size[i];
            ck_assert_uint_eq(cf_shared_size(p[i]), want);
            ck_assert_uint_eq(cf_shared_size(p[i] + size[i] - 1), want);
            if (!freed[i])
                ck_assert_int_eq(p[i][size[i] - 1], (char)i);
        }
    }
}
END_TEST

/* Blocks made and freed by several threads at once. */
static void *churn(void *arg)
{
    size_t salt = (size_t)(uintptr_t)arg;
    for (size_t round = 0; round < 100; round++) {
        size_t size = 1 + (round * 131 + salt) % 20000;
        unsigned char *p = cf_shared_alloc(size);
        if (p == NULL)
            return (void *)"cf_shared_alloc failed";
        p[size - 1] = (unsigned char)salt;
        if (cf_shared_size(p + size - 1) != size || p[0] != 0)
            return (void *)"wrong block";
        if (cf_shared_free(p) != 0)
            return (void *)"cf_shared_free failed";
    }
    return NULL;
}

START_TEST(shared_memory_threads)
{
    enum { T = 4 };
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < T; i++) {
        void *why;
        ck_assert_int_eq(pthread_join(t[i], &why), 0);
        ck_assert_msg(why == NULL, "thread %d: %s", i, (const char *)why);
    }
}
END_TEST

/* A child forked after the allocation shares the block both ways, and can
 * free its own copy without touching the parent's. */
START_TEST(shared_memory_fork_shares_writes)
{
    int32_t *p = cf_shared_alloc(2 * sizeof *p);
    ck_assert_ptr_nonnull(p);
    p[0] = 1;
    chan go = new_chan();
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        char byte;
        if (read_full(go.rd, &byte, 1) != 0)
            _exit(2);
        int status = p[0] == 2 ? 0 : 3; /* the parent's write, after the fork */
        p[1] = 42;
        if (cf_shared_free(p) != 0 || cf_shared_size(p) != 0)
            status = 4;
        _exit(status);
    }
    p[0] = 2;
    ck_assert_int_eq(write_full(go.wr, "g", 1), 0);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(p[1], 42); /* the child's write */
    ck_assert_uint_eq(cf_shared_size(p), 2 * sizeof *p);
    ck_assert_int_eq(cf_shared_free(p), 0);
    close_chan(go);
}
END_TEST

/* ---- Maps over shared arrays --------------------------------------------------------- */

/* _i: 0 thread pool, 1 process pool. */
static cf_executor *new_pool(int kind, size_t workers)
{
    return kind == 0 ? new_thread_pool_of(workers) : new_process_pool_of(workers);
}

START_TEST(shared_memory_map_in_place)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 10007 };
    int64_t *in = cf_shared_alloc(N * sizeof *in);
    int64_t *out = cf_shared_alloc(N * sizeof *out);
    static int64_t plain_in[N], plain_out[N];
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < N; i++)
        plain_in[i] = in[i] = (int64_t)i * 7 - 3000;
    const size_t chunks[] = {0, 1000, 3, SIZE_MAX / 2};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        cf_map_options o = {.chunk_size = chunks[c]};
        /* Both shared. */
        memset(out, 0, N * sizeof *out);
        ck_assert_int_eq(cf_map(ex, triple, &o, N, out, in), 0);
        for (size_t i = 0; i < N; i++)
            ck_assert_int_eq(out[i], triple(in[i]));
        /* Shared input, plain output; plain input, shared output. */
        memset(plain_out, 0, sizeof plain_out);
        ck_assert_int_eq(cf_map(ex, triple, &o, N, plain_out, in), 0);
        for (size_t i = 0; i < N; i++)
            ck_assert_int_eq(plain_out[i], triple(in[i]));
        memset(out, 0, N * sizeof *out);
        ck_assert_int_eq(cf_map(ex, triple, &o, N, out, plain_in), 0);
        for (size_t i = 0; i < N; i++)
            ck_assert_int_eq(out[i], triple(plain_in[i]));
        /* Arrays that start inside a block. */
        memset(out, 0, N * sizeof *out);
        ck_assert_int_eq(cf_map(ex, triple, &o, N - 10, out + 3, in + 7), 0);
        for (size_t i = 0; i < N - 10; i++)
            ck_assert_int_eq(out[3 + i], triple(in[7 + i]));
        ck_assert_int_eq(out[0], 0);
        ck_assert_int_eq(out[N - 7], 0);
    }
    /* In place: the results overwrite the inputs. */
    memcpy(out, in, N * sizeof *out);
    ck_assert_int_eq(cf_map(ex, triple, &(cf_map_options){.chunk_size = 100}, N, out, out), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(out[i], triple(in[i]));
    ck_assert_int_eq(cf_shared_free(in), 0);
    ck_assert_int_eq(cf_shared_free(out), 0);

    /* Zip of one shared and one plain array; shared argument tuples. */
    double *a = cf_shared_alloc(N * sizeof *a), *res = cf_shared_alloc(N * sizeof *res);
    CF_ARGS(affine) *pairs = cf_shared_alloc(N * sizeof *pairs);
    static double b[N];
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(res);
    ck_assert_ptr_nonnull(pairs);
    for (size_t i = 0; i < N; i++) {
        a[i] = (double)i * 0.5;
        b[i] = -(double)i;
        pairs[i] = (CF_ARGS(affine)){a[i], b[i]};
    }
    ck_assert_int_eq(cf_map(ex, affine, &(cf_map_options){.chunk_size = 64}, N, res, a, b), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert(res[i] == affine(a[i], b[i]));
    memset(res, 0, N * sizeof *res);
    ck_assert_int_eq(cf_starmap(ex, affine, NULL, N, res, pairs), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert(res[i] == affine(a[i], b[i]));
    ck_assert_int_eq(cf_shared_free(a), 0);
    ck_assert_int_eq(cf_shared_free(res), 0);
    ck_assert_int_eq(cf_shared_free(pairs), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
}
END_TEST

/* ---- Nothing lingers after a map ------------------------------------------------------ */

enum { LN = 200 };
static int32_t lx[LN], lbad[LN], lout[LN];
static int64_t *shared_in, *shared_out;
static int64_t plain_in[LN], plain_out[LN];

typedef enum outcome { SUCCEEDS, FAILS, CRASHES, TIMES_OUT, OUTCOMES } outcome;

static const char *const outcome_names[OUTCOMES] = {"succeeds", "fails", "crashes", "times out"};

/* One map of each kind of outcome, with shared and plain arrays. */
static void run_map(cf_executor *ex, outcome what)
{
    for (int32_t i = 0; i < LN; i++) {
        lx[i] = i;
        lbad[i] = 0;
    }
    switch (what) {
    case SUCCEEDS:
        ck_assert_int_eq(
            cf_map(ex, triple, &(cf_map_options){.chunk_size = 16}, LN, shared_out, shared_in), 0);
        ck_assert_int_eq(
            cf_map(ex, triple, &(cf_map_options){.chunk_size = 16}, LN, plain_out, plain_in), 0);
        ck_assert_int_eq(shared_out[LN - 1], triple(shared_in[LN - 1]));
        ck_assert_int_eq(plain_out[LN - 1], triple(plain_in[LN - 1]));
        break;
    case FAILS:
        lbad[150] = 1;
        ck_assert_int_eq(
            cf_map(ex, misbehave, &(cf_map_options){.chunk_size = 16}, LN, lout, lx, lbad),
            CF_ETASK);
        ck_assert_int_eq(cf_map(ex, misbehave,
                                &(cf_map_options){.chunk_size = 16, .keep_going = true}, LN, lout,
                                lx, lbad),
                         CF_ETASK);
        break;
    case CRASHES:
        lbad[100] = 2;
        ck_assert_int_eq(cf_map(ex, misbehave,
                                &(cf_map_options){.chunk_size = 16, .keep_going = true}, LN, lout,
                                lx, lbad),
                         CF_ECRASHED);
        ck_assert_int_eq(lout[LN - 1], 2 * (LN - 1));
        break;
    case TIMES_OUT:
        ck_assert_int_eq(
            cf_map(ex, stuck, &(cf_map_options){.chunk_size = 1, .timeout = 0.2}, 4, lout, lx),
            CF_ETIMEDOUT);
        break;
    default:
        ck_abort();
    }
}

/* _i: the outcome. This process's descriptors and mappings, and each
 * worker's descriptors, are what they were before the map. */
START_TEST(shared_memory_nothing_lingers)
{
    shared_in = cf_shared_alloc(LN * sizeof *shared_in);
    shared_out = cf_shared_alloc(LN * sizeof *shared_out);
    ck_assert_ptr_nonnull(shared_in);
    ck_assert_ptr_nonnull(shared_out);
    for (int i = 0; i < LN; i++)
        shared_in[i] = plain_in[i] = i;
    cf_executor *ex = new_process_pool_of(2);
    /* Once first, so that what a first map sets up for good (the
     * allocator's own memory) is there before counting. */
    run_map(ex, (outcome)_i);
    run_map(ex, SUCCEEDS);
    /* The last reference to a map's working memory may go on the pool's
     * thread just after the map returned. */
    ck_assert(EVENTUALLY(no_map_memory()));
    workers before = steady_workers(2);
    int fds = count_fds(), maps = count_mappings();

    for (int round = 0; round < 2; round++) {
        run_map(ex, (outcome)_i);
        /* This process holds a socket per worker: after a crash or a time
         * limit, a map with work for every worker brings the pool back to
         * full strength. */
        run_map(ex, SUCCEEDS);
        ck_assert_msg(EVENTUALLY(no_map_memory()), "%s: the map's memory is still held",
                      outcome_names[_i]);
        ck_assert_msg(EVENTUALLY(count_fds() == fds), "%s: %d descriptors, %d before",
                      outcome_names[_i], count_fds(), fds);
        ck_assert_msg(EVENTUALLY(count_mappings() == maps), "%s: %d mappings, %d before",
                      outcome_names[_i], count_mappings(), maps);
        workers now;
        ck_assert_msg(EVENTUALLY((now = snapshot_workers(), workers_unchanged(&before, &now))),
                      "%s: a worker's descriptors changed", outcome_names[_i]);
    }
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
    ck_assert_int_eq(cf_shared_free(shared_in), 0);
    ck_assert_int_eq(cf_shared_free(shared_out), 0);
}
END_TEST

/* ---- Suite ---------------------------------------------------------------------------- */

static Suite *shared_memory_suite(void)
{
    Suite *s = suite_create("shared_memory");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, shared_memory_alloc_contract);
    tcase_add_test(tc, shared_memory_free_contract);
    tcase_add_test(tc, shared_memory_releases_fds_and_mappings);
    tcase_add_test(tc, shared_memory_many_blocks);
    tcase_add_test(tc, shared_memory_threads);
    tcase_add_test(tc, shared_memory_fork_shares_writes);
    suite_add_tcase(s, tc);

    tc = tcase_create("maps");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, shared_memory_map_in_place, 0, 2);
    tcase_add_loop_test(tc, shared_memory_nothing_lingers, 0, OUTCOMES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(shared_memory_suite());
}
