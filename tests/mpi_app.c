/* mpi_app.c: the program tests/test_mpi.sh runs under mpirun, one scenario
 * per run (argv[1]). Every rank runs it; the root checks what the scenario
 * is about and prints "ok SCENARIO" when all held, or "FAIL ..." lines.
 * Exit status: 0 when the root's checks held (worker ranks: 0 when they
 * served normally or were refused as the scenario wants).
 *
 * Scenarios: api (SPMD: results, errors, callbacks, wait, as_completed,
 * cancel, time limits, strings, map and starmap across ranks, shutdown with
 * a deadline), spawn, crash (a task segfaults on a remote rank), kill (a
 * rank is SIGKILLed), mismatch (one rank registers an extra task), idle
 * (CPU of idle ranks), toobig (a call over the message limit).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cfutures.h>
#include <cfutures/mpi.h>

static int failures;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            failures++;                                                            \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
            printf(__VA_ARGS__);                                                   \
            printf("\n");                                                          \
            fflush(stdout);                                                        \
        }                                                                          \
    } while (0)

/* ---- Tasks ---------------------------------------------------------------------- */

static long square(long x) { return x * x; }
CF_TASK(long, square, long);

/* The rank in its MPI_COMM_WORLD of the process the call ran on (from the
 * launcher's environment, which the rank's pool processes inherit); spawned
 * ranks, whose world is the spawned group, add 100 times its size. */
static int where(void)
{
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    const char *sp = getenv("CF_TEST_SPAWN_SCENARIO");
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    return (r != NULL ? atoi(r) : -1) + (sp != NULL && n != NULL ? 100 * atoi(n) : 0);
}
CF_TASK(int, where);

static double nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
    return s;
}
CF_TASK(double, nap, double);

static int fails(int code)
{
    cf_task_fail(code, "failed on purpose with %d", code);
    return 0;
}
CF_TASK(int, fails, int);

static int segfault(int x)
{
    if (x >= 0)
        raise(SIGSEGV);
    return x;
}
CF_TASK(int, segfault, int);

static char *shout(const char *s)
{
    size_t n = strlen(s);
    char *r = malloc(n + 2);
    for (size_t i = 0; i < n; i++)
        r[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    r[n] = '!';
    r[n + 1] = '\0';
    return r;
}
CF_TASK(char *, shout, const char *);

static double axpy(double a, double x, double y) { return a * x + y; }
CF_TASK(double, axpy, double, double, double);

static int bad_element(int i)
{
    if (i == 777)
        cf_task_fail(42, "element %d is bad", i);
    return i;
}
CF_TASK(int, bad_element, int);

/* Kill the rank this runs on (its pid is in the environment), if this is
 * the first call to take the token (a file, created exclusively): that
 * call writes its rank into the file first. */
static int kill_rank(const char *token)
{
    int fd = open(token, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return where();
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", where());
    if (write(fd, buf, (size_t)n) != n)
        return -1;
    close(fd);
    const char *pid = getenv("CF_TEST_RANK_PID");
    if (pid != NULL)
        kill((pid_t)atol(pid), SIGKILL);
    return where();
}
CF_TASK(int, kill_rank, const char *);

/* The CPU seconds the rank process (not its pool) has used, and its rank. */
typedef struct cpu_sample {
    int rank;
    double cpu;
} cpu_sample;

static cpu_sample rank_cpu(void)
{
    cpu_sample r = {where(), -1};
    const char *pid = getenv("CF_TEST_RANK_PID");
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid != NULL ? pid : "self");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return r;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st) == 2)
        r.cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return r;
}
CF_TASK(cpu_sample, rank_cpu);

static size_t blob_len(cf_bytes b) { return b.len; }
CF_TASK(size_t, blob_len, cf_bytes);

/* ---- Helpers ---------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Atomic int callbacks;
static void on_done(cf_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_fetch_add(&callbacks, 1);
}

/* ---- Scenarios (root side) ----------------------------------------------------------- */

static void scenario_api(cf_executor *ex, int nranks)
{
    /* Results, callbacks, wait, as_completed; the calls spread over ranks. */
    enum { N = 200 };
    cf_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK(cf_submit(&fs[i], ex, square, (long)i) == 0, "submit %d: %s", i, cf_last_error());
        cf_future_add_done_callback(fs[i], on_done, NULL);
    }
    CHECK(cf_wait(fs, N, CF_ALL_COMPLETED, 60.0, NULL, NULL) == 0, "wait: %s", cf_last_error());
    for (int i = 0; i < N; i++) {
        long r = -1;
        CHECK(cf_future_result(fs[i], &r, 0) == 0 && r == (long)i * i, "square(%d) = %ld", i, r);
        cf_future_release(fs[i]);
    }
    /* A future is done before its callbacks have run: wait for them. */
    double t0 = now();
    while (atomic_load(&callbacks) < N && now() - t0 < 60)
        nap(0.001);
    CHECK(atomic_load(&callbacks) == N, "callbacks %d", atomic_load(&callbacks));

    /* Wait until every rank has said hello (each takes calls from then). */
    int seen[128] = {0}, ranks_used = 0;
    t0 = now();
    while (ranks_used < nranks && now() - t0 < 60) {
        cf_future *probe[32];
        for (int i = 0; i < 32; i++)
            CHECK(cf_submit(&probe[i], ex, where) == 0, "where: %s", cf_last_error());
        for (int i = 0; i < 32; i++) {
            int r = -1;
            if (cf_future_result(probe[i], &r, 60) == 0 && r >= 0 && r < 128 && seen[r]++ == 0)
                ranks_used++;
            cf_future_release(probe[i]);
        }
    }
    memset(seen, 0, sizeof seen);
    cf_future *ws[64];
    for (int i = 0; i < 64; i++)
        CHECK(cf_submit(&ws[i], ex, nap, 0.02) == 0, "nap: %s", cf_last_error());
    cf_future *wr[64];
    for (int i = 0; i < 64; i++)
        CHECK(cf_submit(&wr[i], ex, where) == 0, "where: %s", cf_last_error());
    cf_as_completed *ac;
    CHECK(cf_as_completed_new(&ac, wr, 64, 60.0) == 0, "as_completed: %s", cf_last_error());
    cf_future *f;
    int got = 0;
    while (cf_as_completed_next(ac, &f) == 0) {
        int r = -1;
        if (cf_future_result(f, &r, 0) == 0 && r >= 0 && r < 128)
            seen[r]++;
        got++;
    }
    cf_as_completed_free(ac);
    CHECK(got == 64, "as_completed gave %d", got);
    ranks_used = 0;
    for (int r = 0; r < 128; r++)
        ranks_used += seen[r] > 0;
    CHECK(seen[0] == 0, "a call ran on the root rank");
    printf("calls spread over %d of %d worker ranks\n", ranks_used, nranks);
    for (int i = 0; i < 64; i++) {
        cf_future_wait(ws[i], 60);
        cf_future_release(ws[i]);
        cf_future_release(wr[i]);
    }
    CHECK(ranks_used == nranks, "ranks used %d", ranks_used);

    /* A task's failure, with its rank. */
    CHECK(cf_submit(&f, ex, fails, 7) == 0, "submit fails");
    int r;
    CHECK(cf_future_result(f, &r, 60) == CF_ETASK, "fails: %s", cf_last_error());
    const cf_error *e = cf_future_error(f);
    CHECK(e != NULL && e->detail == 7 && strstr(e->message, "on purpose") != NULL &&
              e->origin != NULL && strstr(e->origin, "rank") != NULL,
          "error: %s / %s", e != NULL ? e->message : "-", e != NULL && e->origin ? e->origin : "-");
    cf_future_release(f);

    /* Strings both ways. */
    CHECK(cf_submit(&f, ex, shout, "hello ranks") == 0, "submit shout");
    char *s = NULL;
    CHECK(cf_future_result(f, &s, 60) == 0 && s != NULL && strcmp(s, "HELLO RANKS!") == 0,
          "shout: %s", s != NULL ? s : cf_last_error());
    cf_future_release(f);

    /* A time limit, and cancelling a running call. */
    CHECK(cf_submit_with(&f, ex, &(cf_submit_options){.timeout = 0.3}, nap, 30.0) == 0, "nap");
    double d;
    CHECK(cf_future_result(f, &d, 60) == CF_ETASKTIMEOUT, "timeout: %s", cf_last_error());
    cf_future_release(f);
    CHECK(cf_submit(&f, ex, nap, 30.0) == 0, "nap");
    t0 = now();
    while (!cf_future_running(f) && now() - t0 < 30)
        nap(0.001);
    CHECK(cf_future_cancel_running(f), "cancel_running");
    CHECK(cf_future_cancelled(f), "cancelled");
    cf_future_release(f);
    /* The rank is still usable afterwards. */
    CHECK(cf_submit(&f, ex, square, 12L) == 0, "square");
    long q = 0;
    CHECK(cf_future_result(f, &q, 60) == 0 && q == 144, "after cancel: %s", cf_last_error());
    cf_future_release(f);

    /* Map and starmap across ranks. */
    enum { M = 20000 };
    static long in[M], out[M];
    for (int i = 0; i < M; i++)
        in[i] = i;
    cf_map_report rep;
    CHECK(cf_map(ex, square, &(cf_map_options){.report = &rep}, M, out, in) == 0, "map: %s",
          cf_last_error());
    int bad = 0;
    for (int i = 0; i < M; i++)
        bad += out[i] != (long)i * i;
    CHECK(bad == 0, "%d wrong map results", bad);
    printf("map of %d elements in %zu chunks\n", M, rep.chunks);
    static CF_ARGS(axpy) tuples[1000];
    static double ys[1000];
    for (int i = 0; i < 1000; i++) {
        tuples[i].a0 = 2.0;
        tuples[i].a1 = i;
        tuples[i].a2 = 1.0;
    }
    CHECK(cf_starmap(ex, axpy, NULL, 1000, ys, tuples) == 0, "starmap: %s", cf_last_error());
    for (int i = 0; i < 1000; i++)
        bad += ys[i] != 2.0 * i + 1.0;
    CHECK(bad == 0, "%d wrong starmap results", bad);
    static int ints[2000], iout[2000], st[2000];
    for (int i = 0; i < 2000; i++)
        ints[i] = i;
    int rc = cf_map(ex, bad_element, &(cf_map_options){.keep_going = true, .status = st}, 2000,
                    iout, ints);
    CHECK(rc == CF_ETASK && strstr(cf_last_error(), "element 777") != NULL &&
              strstr(cf_last_error(), "bad") != NULL,
          "map failure: %d %s", rc, cf_last_error());
    CHECK(st[777] == CF_ETASK && st[776] == 0 && st[1999] == 0 && iout[1999] == 1999,
          "statuses %d %d %d", st[776], st[777], st[1999]);

    /* Raw pointers are refused. */
    /* Shutdown with a deadline: the long calls are terminated. */
    cf_future *longs[4];
    for (int i = 0; i < 4; i++)
        CHECK(cf_submit(&longs[i], ex, nap, 30.0) == 0, "nap");
    t0 = now();
    rc = cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 1.0);
    CHECK(rc == CF_ETIMEDOUT, "shutdown: %d %s", rc, cf_last_error());
    CHECK(now() - t0 < 20, "shutdown took %.1f s", now() - t0);
    for (int i = 0; i < 4; i++) {
        CHECK(cf_future_wait(longs[i], 30) == 0, "long %d not done", i);
        const cf_error *le = cf_future_error(longs[i]);
        CHECK(cf_future_cancelled(longs[i]) || (le != NULL && le->code == CF_ETERMINATED),
              "long %d: %s", i, le != NULL ? le->message : "no error");
        cf_future_release(longs[i]);
    }
    CHECK(cf_submit(&f, ex, square, 1L) == CF_ESHUTDOWN, "submit after shutdown");
}

static void scenario_spawn(cf_executor *ex)
{
    /* Calls go to the ranks that have said hello, round the ranks: submit
     * rounds until both spawned ranks have run some. */
    int seen[256] = {0};
    double t0 = now();
    while ((seen[200] == 0 || seen[201] == 0) && now() - t0 < 120) {
        cf_future *f[40];
        for (int i = 0; i < 40; i++)
            CHECK(cf_submit(&f[i], ex, where) == 0, "submit: %s", cf_last_error());
        for (int i = 0; i < 40; i++) {
            int r = -1;
            CHECK(cf_future_result(f[i], &r, 120) == 0, "where: %s", cf_last_error());
            if (r >= 0 && r < 256)
                seen[r]++;
            cf_future_release(f[i]);
        }
    }
    CHECK(seen[200] > 0 && seen[201] > 0, "spawned ranks used: %d %d", seen[200], seen[201]);
    static long in[5000], out[5000];
    for (int i = 0; i < 5000; i++)
        in[i] = i;
    CHECK(cf_map(ex, square, NULL, 5000, out, in) == 0, "map: %s", cf_last_error());
    CHECK(out[4999] == 4999L * 4999, "map result");
}

static void scenario_crash(cf_executor *ex)
{
    cf_future *f, *g;
    CHECK(cf_submit(&f, ex, segfault, 1) == 0, "submit");
    int r;
    CHECK(cf_future_result(f, &r, 60) == CF_ECRASHED, "crash: %s", cf_last_error());
    const cf_error *e = cf_future_error(f);
    char host[256] = "";
    gethostname(host, sizeof host);
    CHECK(e != NULL && e->origin != NULL && strstr(e->origin, "rank") != NULL &&
              strstr(e->message, "rank") != NULL && e->detail == SIGSEGV,
          "crash error: %s (origin %s)", e != NULL ? e->message : "-",
          e != NULL && e->origin != NULL ? e->origin : "-");
    printf("crash reported as: %s\n", e != NULL ? e->message : "-");
    cf_future_release(f);
    for (int i = 0; i < 20; i++) {
        CHECK(cf_submit(&g, ex, square, (long)i) == 0, "submit after crash");
        long q = -1;
        CHECK(cf_future_result(g, &q, 60) == 0 && q == (long)i * i, "after crash: %s",
              cf_last_error());
        cf_future_release(g);
    }
}

static void scenario_kill(cf_executor *ex, double hb)
{
    /* A long call on every rank, then calls of which the first to run kills
     * its rank. */
    enum { NAPS = 3, KILLS = 6, ALL = NAPS + KILLS };
    char token[64];
    snprintf(token, sizeof token, "/tmp/cf-mpi-kill-%ld", (long)getpid());
    unlink(token);
    cf_future *all[ALL];
    for (int i = 0; i < NAPS; i++)
        CHECK(cf_submit(&all[i], ex, nap, 60.0) == 0, "nap");
    for (int i = NAPS; i < ALL; i++)
        CHECK(cf_submit(&all[i], ex, kill_rank, token) == 0, "kill");
    double t0 = now();
    /* The lost rank's calls fail; nothing else can finish all (the naps take
     * 60 s), so this waits for the first failure. */
    int rc = cf_wait(all, ALL, CF_FIRST_EXCEPTION, hb * 4 + 30, NULL, NULL);
    double took = now() - t0;
    CHECK(rc == 0, "wait: %s", cf_last_error());
    int victim = -1;
    FILE *tf = fopen(token, "r");
    if (tf != NULL) {
        if (fscanf(tf, "%d", &victim) != 1)
            victim = -1;
        fclose(tf);
    }
    unlink(token);
    CHECK(victim > 0, "no rank took the token");
    char want[32];
    snprintf(want, sizeof want, "rank %d ", victim);
    int broken = 0;
    for (int i = 0; i < ALL; i++) {
        const cf_error *e = cf_future_error(all[i]);
        if (e != NULL && e->code == CF_EBROKEN) {
            broken++;
            if (broken == 1)
                printf("lost rank reported after %.1f s as: %s\n", took, e->message);
            CHECK(strstr(e->message, want) != NULL && strstr(e->message, "host") != NULL,
                  "message: %s", e->message);
        }
    }
    CHECK(broken > 0, "no call failed with CF_EBROKEN");
    cf_future *f;
    rc = cf_submit(&f, ex, square, 3L);
    CHECK(rc == CF_EBROKEN && strstr(cf_last_error(), want) != NULL,
          "submit on a broken executor: %d %s", rc, cf_last_error());
    /* Shutdown terminates the survivors' calls. */
    t0 = now();
    cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_TERMINATE, 30);
    for (int i = 0; i < ALL; i++) {
        CHECK(cf_future_done(all[i]), "call %d not done after shutdown", i);
        cf_future_release(all[i]);
    }
    CHECK(now() - t0 < 30, "shutdown took %.1f s", now() - t0);
}

static void scenario_mismatch(cf_executor *ex)
{
    double t0 = now();
    int rc = 0;
    while (now() - t0 < 60) {
        cf_future *f;
        rc = cf_submit(&f, ex, square, 2L);
        if (rc != 0)
            break;
        cf_future_wait(f, 60);
        cf_future_release(f);
        nap(0.01);
    }
    CHECK(rc == CF_EBROKEN && strstr(cf_last_error(), "refused") != NULL &&
              strstr(cf_last_error(), "rank 2") != NULL,
          "mismatch: %d %s", rc, cf_last_error());
    printf("mismatch reported as: %s\n", cf_last_error());
}

static void scenario_idle(cf_executor *ex, int nranks)
{
    /* Each rank's own CPU time (its pool's processes excluded) across an
     * idle stretch: the latest sample before it, the earliest after. */
    enum { PER_RANK = 8, MAXR = 16 };
    double before[MAXR], after[MAXR];
    for (int r = 0; r < MAXR; r++) {
        before[r] = -1;
        after[r] = 1e30;
    }
    int n = nranks * PER_RANK;
    cf_future *f[MAXR * PER_RANK];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++)
            CHECK(cf_submit(&f[i], ex, rank_cpu) == 0, "submit: %s", cf_last_error());
        for (int i = 0; i < n; i++) {
            cpu_sample c = {-1, -1};
            CHECK(cf_future_result(f[i], &c, 60) == 0 && c.rank > 0 && c.rank < MAXR &&
                      c.cpu >= 0, "rank_cpu: %s", cf_last_error());
            if (c.rank > 0 && c.rank < MAXR) {
                if (round == 0 && c.cpu > before[c.rank])
                    before[c.rank] = c.cpu;
                if (round == 1 && c.cpu < after[c.rank])
                    after[c.rank] = c.cpu;
            }
            cf_future_release(f[i]);
        }
        if (round == 1)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        double root0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, t0 = now();
        nap(4.0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        double root1 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, t1 = now();
        double root = (root1 - root0) / (t1 - t0);
        printf("idle: root process %.2f%% of a core over %.1f s\n", 100 * root, t1 - t0);
        CHECK(root < 0.5, "root used %.0f%% of a core while idle", 100 * root);
    }
    for (int r = 1; r <= nranks && r < MAXR; r++) {
        double used = after[r] - before[r];
        printf("idle: rank %d used %.2f CPU s over the idle stretch (about %.1f%% of a core)\n",
               r, used, 100 * used / 4.0);
        /* A rank spinning in MPI would use nearly all of those 4 s. */
        CHECK(used >= 0 && used < 2.0, "rank %d used %.2f CPU s while idle", r, used);
    }
}

static void scenario_toobig(cf_executor *ex)
{
    size_t n = 2u << 20;
    char *big = calloc(1, n);
    cf_future *f;
    CHECK(cf_submit(&f, ex, blob_len, ((cf_bytes){big, n})) == 0, "submit");
    size_t len = 0;
    int rc = cf_future_result(f, &len, 60);
    CHECK(rc == CF_ETOOBIG, "big call: %d %s", rc, cf_last_error());
    cf_future_release(f);
    CHECK(cf_submit(&f, ex, blob_len, ((cf_bytes){big, 1000})) == 0, "submit");
    CHECK(cf_future_result(f, &len, 60) == 0 && len == 1000, "small call: %s", cf_last_error());
    cf_future_release(f);
    free(big);
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "api";
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("CF_TEST_RANK_PID", pid, 1);
    /* mismatch: world rank 2 declares one task more than the others. */
    static cf_task extra;
    const char *wr = getenv("OMPI_COMM_WORLD_RANK");
    if (strcmp(scenario, "mismatch") == 0 && wr != NULL && atoi(wr) == 2) {
        extra = cf__task_square;
        extra.name = "square_of_another_build";
        cf__task_register(&extra);
    }
    cf_mpi_options o = {0};
    o.heartbeat_timeout = 4.0;
    o.workers_per_rank = 2;
    if (strcmp(scenario, "spawn") == 0) {
        o.spawn_workers = 2;
        setenv("CF_TEST_SPAWN_SCENARIO", "1", 1);
    }
    if (strcmp(scenario, "toobig") == 0)
        o.max_message_size = 1u << 20;
    cf_executor *ex = NULL;
    int rc = cf_mpi_init(&argc, &argv, &o, &ex);
    if (rc == CF_MPI_WORKER)
        return cf_mpi_finalize() == 0 ? 0 : 3;
    if (rc != 0) {
        /* The refused rank of the mismatch scenario ends here, as it should. */
        fprintf(stderr, "rank %s: cf_mpi_init: %s (%s)\n", wr != NULL ? wr : "?",
                cf_err_name(rc), cf_last_error());
        bool expected = strcmp(scenario, "mismatch") == 0 && rc == CF_EBROKEN &&
                        strstr(cf_last_error(), "refused") != NULL;
        if (expected) {
            cf_mpi_finalize();
            return 0;
        }
        return 2;
    }
    int nranks = (int)cf_mpi_ranks(ex);
    if (strcmp(scenario, "api") == 0)
        scenario_api(ex, nranks);
    else if (strcmp(scenario, "spawn") == 0)
        scenario_spawn(ex);
    else if (strcmp(scenario, "crash") == 0)
        scenario_crash(ex);
    else if (strcmp(scenario, "kill") == 0)
        scenario_kill(ex, o.heartbeat_timeout);
    else if (strcmp(scenario, "mismatch") == 0)
        scenario_mismatch(ex);
    else if (strcmp(scenario, "idle") == 0)
        scenario_idle(ex, nranks);
    else if (strcmp(scenario, "toobig") == 0)
        scenario_toobig(ex);
    else
        CHECK(0, "unknown scenario %s", scenario);
    cf_executor_free(ex);
    rc = cf_mpi_finalize();
    bool lost_expected = strcmp(scenario, "kill") == 0;
    CHECK(lost_expected ? rc == CF_EBROKEN : rc == 0, "finalize: %d %s", rc, cf_last_error());
    if (failures == 0)
        printf("ok %s\n", scenario);
    fflush(stdout);
    return failures == 0 ? 0 : 1;
}
