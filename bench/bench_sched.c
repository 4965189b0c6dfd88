/* bench_sched.c: the thread pool's scheduling against its peers.
 *
 * Design notes: four tables, the peers run by bench/cf-bench-peer (one
 * process per measurement; see bench/peers/peer_main.cc), cfutures in this
 * process; each peer missing from the build is skipped with the reason.
 *   tiny      N tiny tasks submitted, then all waited for, T workers:
 *             cfutures (futures included) against oneTBB task_group, OpenMP
 *             tasks, libuv uv_queue_work, Boost.Asio thread_pool with
 *             std::packaged_task futures and GThreadPool; one warm-up run,
 *             R measured runs each;
 *   busy      the same while one busy process per CPU competes for the
 *             CPUs (forked here, killed after), every pool under that load;
 *   idle      the CPU time a pool's process uses over a window (1 s; 0.1 s
 *             with --quick) after its last task, its main thread asleep:
 *             each pool in a fresh process (cf-bench --child for cfutures);
 *   mixed     tasks that sleep, submitted at once: one long task and 31
 *             short ones (a twentieth of it), and a heavy-tailed (Pareto)
 *             mix of 64; the makespan over the ideal, max(longest,
 *             total / T), for cfutures on a fresh pool (created for the run)
 *             and a warmed one, oneTBB (its first run in a fresh process,
 *             then warmed) and Python's ThreadPoolExecutor (fresh, warmed;
 *             bench/peers/python_sched.py). Sleeping tasks keep the ideal
 *             independent of the machine's load.
 */
#include "config.h"

#include <cfutures.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_python.h"
#include "bench_stats.h"

#ifndef CF_BENCH_PEER
#error "CF_BENCH_PEER (the path of bench/cf-bench-peer) must be defined"
#endif

#define PYTHON_SCHED "python_sched.py"
#define PYTHON_LIMIT_NS (300 * (int64_t)1000000000)

static const struct {
    const char *id;
    const char *label;
} peers[] = {
    {"tbb", "oneTBB task_group"},
    {"omp", "OpenMP tasks (libgomp)"},
    {"uv", "libuv uv_queue_work"},
    {"asio", "Boost.Asio thread_pool + packaged_task"},
    {"glib", "GThreadPool"},
};
#define NPEERS (sizeof peers / sizeof peers[0])

/* ---- Running the peer program ------------------------------------------------- */

/* Run cf-bench-peer with the four arguments; its one line of output goes
 * into line. Returns false with *skipped set (the caller frees it) when the
 * peer is not built in, or the program is missing or failed. */
static bool peer_run(const char *mode, const char *peer, unsigned threads, const char *a4,
                     const char *a5, char *line, size_t size, char **skipped)
{
    if (access(CF_BENCH_PEER, X_OK) != 0) {
        *skipped = cf__bench_xstrdup(
            "bench/cf-bench-peer not built: configure found no working C++17 compiler");
        return false;
    }
    char *cmd = cf__bench_xasprintf("'%s' %s %s %u %s %s", CF_BENCH_PEER, mode, peer, threads, a4,
                                    a5);
    FILE *in = popen(cmd, "re");
    free(cmd);
    if (in == NULL)
        cf__bench_die("cannot run %s: %s", CF_BENCH_PEER, strerror(errno));
    line[0] = '\0';
    if (fgets(line, (int)size, in) == NULL)
        line[0] = '\0';
    line[strcspn(line, "\n")] = '\0';
    int status = pclose(in);
    if (strncmp(line, "skip ", 5) == 0) {
        *skipped = cf__bench_xstrdup(line + 5);
        return false;
    }
    if (status != 0) {
        *skipped = cf__bench_xasprintf("cf-bench-peer %s %s failed (status %d)", mode, peer,
                                       status);
        return false;
    }
    return true;
}

/* Append the comma-separated numbers after "key=" in line to s (scaled). */
static bool parse_list(const char *line, const char *key, double scale, cf__bench_series *s)
{
    char pattern[32];
    snprintf(pattern, sizeof pattern, "%s=", key);
    const char *p = strstr(line, pattern);
    if (p == NULL)
        return false;
    p += strlen(pattern);
    for (;;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return false;
        cf__bench_series_add(s, v * scale);
        if (*end != ',')
            return true;
        p = end + 1;
    }
}

/* ---- Tiny tasks, on an idle or a busy machine ------------------------------------ */

/* Tiny tasks per run: --tasks, at most 5000 with --quick (the slowest peers
 * take tens of microseconds a task on a loaded machine). */
static size_t sched_tasks(const cf__bench_options *o)
{
    return o->quick && o->tasks > 5000 ? 5000 : o->tasks;
}

typedef struct tiny_figures {
    cf__bench_series rate[NPEERS + 1]; /* [0]: cfutures */
    cf__bench_series cpu[NPEERS + 1];  /* CPU ns per task */
    char *skipped[NPEERS + 1];
} tiny_figures;

static void tiny_measure(const cf__bench_options *o, const char *what, tiny_figures *fig)
{
    size_t tasks = sched_tasks(o);
    memset(fig, 0, sizeof *fig);
    cf_executor *ex = cf__bench_cf_pool(false, o->threads);
    cf_future **fs = cf__bench_xcalloc(tasks, sizeof *fs);
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("sched", what, run, o->runs);
        cf__bench_cost c = cf__bench_cf_tiny(ex, tasks, fs);
        if (run == 0)
            continue;
        cf__bench_series_add(&fig->rate[0], (double)tasks / ((double)c.wall_ns * 1e-9));
        cf__bench_series_add(&fig->cpu[0], (double)c.cpu_ns / (double)tasks);
    }
    free(fs);
    cf_executor_free(ex);

    char n[32], runs[32], line[4096];
    snprintf(n, sizeof n, "%zu", tasks);
    snprintf(runs, sizeof runs, "%u", o->runs);
    for (size_t i = 0; i < NPEERS; i++) {
        cf__bench_progress("sched: %s: %s", what, peers[i].label);
        if (!peer_run("tiny", peers[i].id, o->threads, n, runs, line, sizeof line,
                      &fig->skipped[i + 1]))
            continue;
        cf__bench_series ns = {0}, cpu = {0};
        if (!parse_list(line, "ns", 1, &ns) || !parse_list(line, "cpu", 1, &cpu) ||
            ns.n != o->runs || cpu.n != o->runs)
            cf__bench_die("unexpected output from cf-bench-peer: '%s'", line);
        for (size_t r = 0; r < ns.n; r++) {
            cf__bench_series_add(&fig->rate[i + 1], (double)tasks / (ns.samples[r] * 1e-9));
            cf__bench_series_add(&fig->cpu[i + 1], cpu.samples[r] / (double)tasks);
        }
        cf__bench_series_free(&ns);
        cf__bench_series_free(&cpu);
    }
}

static void tiny_report(const cf__bench_options *o, tiny_figures *fig, cf__bench_table *t)
{
    char *cf_label = cf__bench_xasprintf("cfutures thread pool, %u worker%s (futures included)",
                                         o->threads, cf__bench_plural(o->threads));
    cf__bench_table_figure(t, "cf.per_s", cf_label, "tasks/s", &fig->rate[0],
                           cf__bench_no_target);
    cf__bench_table_figure(t, "cf.cpu", cf_label, "CPU ns/task", &fig->cpu[0],
                           cf__bench_no_target);
    free(cf_label);
    double cf_median = cf__bench_summarize(fig->rate[0].samples, fig->rate[0].n).median;
    for (size_t i = 0; i < NPEERS; i++) {
        char id[64];
        char *label = cf__bench_xasprintf("%s, %u thread%s", peers[i].label, o->threads,
                                          cf__bench_plural(o->threads));
        snprintf(id, sizeof id, "%s.per_s", peers[i].id);
        if (fig->skipped[i + 1] != NULL) {
            cf__bench_table_skipped(t, id, label, fig->skipped[i + 1]);
            free(label);
            continue;
        }
        cf__bench_table_figure(t, id, label, "tasks/s", &fig->rate[i + 1], cf__bench_no_target);
        snprintf(id, sizeof id, "%s.cpu", peers[i].id);
        cf__bench_table_figure(t, id, label, "CPU ns/task", &fig->cpu[i + 1],
                               cf__bench_no_target);
        free(label);
        /* The ratio of the medians: the runs are in different processes. */
        cf__bench_series ratio = {0};
        cf__bench_series_add(&ratio,
                             cf_median / cf__bench_summarize(fig->rate[i + 1].samples,
                                                             fig->rate[i + 1].n)
                                             .median);
        snprintf(id, sizeof id, "ratio.cf_over_%s", peers[i].id);
        label = cf__bench_xasprintf("cfutures / %s (median tasks/s)", peers[i].label);
        double target = strcmp(peers[i].id, "glib") == 0 ? 1.5 : 1.0;
        cf__bench_table_figure(t, id, label, "x", &ratio,
                               (cf__bench_target){CF__BENCH_AT_LEAST, target});
        free(label);
        cf__bench_series_free(&ratio);
    }
    for (size_t i = 0; i <= NPEERS; i++) {
        cf__bench_series_free(&fig->rate[i]);
        cf__bench_series_free(&fig->cpu[i]);
        free(fig->skipped[i]);
    }
}

static void tiny_notes(cf__bench_table *t)
{
    cf__bench_table_note(t, "cfutures: cf_submit per task, then cf_future_result and "
                            "cf_future_release per future. oneTBB: task_group::run per task in "
                            "a task_arena of T slots, then wait() (the caller's thread takes "
                            "part). OpenMP: one thread of a team of T creates the tasks, then "
                            "taskwait. libuv: uv_queue_work per item (UV_THREADPOOL_SIZE=T), "
                            "then uv_run until every after-work callback ran. Boost.Asio: post "
                            "of a std::packaged_task per task, then get() on each std::future. "
                            "GThreadPool: g_thread_pool_push per item, then a condition "
                            "variable. The peers other than Asio keep no future per task.");
    cf__bench_table_note(t, "Each peer runs in a process of its own (bench/cf-bench-peer): one "
                            "warm-up run, then the measured runs; the ratio divides the "
                            "medians. CPU time counts every thread of the process.");
}

/* Start one busy process per CPU: their pids into pids[]; returns how many. */
static size_t hogs_start(pid_t *pids, size_t max)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 0 ? (size_t)cpus : 1;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            cf__bench_die("fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(600); /* never outlive a crashed cf-bench for long */
            volatile unsigned long spin = 0;
            for (;;)
                spin++;
        }
        pids[i] = pid;
    }
    return n;
}

static void hogs_stop(const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    for (size_t i = 0; i < n; i++)
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
            ;
}

static void tiny_tables(const cf__bench_options *o, cf__bench_report *rep)
{
    tiny_figures fig;
    tiny_measure(o, "tiny tasks", &fig);
    char *title = cf__bench_xasprintf(
        "Tiny tasks against the peers: %zu tasks of add(int, int), submitted then all waited for",
        sched_tasks(o));
    cf__bench_table *t = cf__bench_table_add(rep, "sched.tiny", title);
    free(title);
    tiny_report(o, &fig, t);
    tiny_notes(t);

    pid_t pids[256];
    size_t nhogs = hogs_start(pids, 256);
    tiny_measure(o, "tiny tasks, busy machine", &fig);
    hogs_stop(pids, nhogs);
    title = cf__bench_xasprintf("Busy machine: the same %zu tiny tasks while %zu busy "
                                "process%s (one per CPU) compete",
                                sched_tasks(o), nhogs, nhogs == 1 ? "" : "es");
    t = cf__bench_table_add(rep, "sched.busy", title);
    free(title);
    tiny_report(o, &fig, t);
    cf__bench_table_note(t, "Each busy process spins in a loop at the default priority. A pool "
                            "whose idle workers spin without yielding loses its time slices "
                            "to them; the cfutures workers spin at most 50 us, yielding the "
                            "CPU every round, then sleep.");
}

/* ---- Idle: CPU time after the last task ---------------------------------------------- */

static int64_t idle_window_ms(const cf__bench_options *o)
{
    return o->quick ? 100 : 1000;
}

/* In a fresh process (cf-bench --child sched idle-cf-<ms> <n>). */
static int idle_child(int64_t window_ms, size_t n)
{
    cf_executor *ex = cf__bench_cf_pool(false, 0);
    cf_future **fs = cf__bench_xcalloc(n, sizeof *fs);
    cf__bench_cf_tiny(ex, n, fs);
    int64_t cpu0 = cf__bench_cpu_ns(), t0 = cf__bench_now_ns();
    struct timespec ts = {(time_t)(window_ms / 1000), (long)(window_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    int64_t cpu = cf__bench_cpu_ns() - cpu0, wall = cf__bench_now_ns() - t0;
    printf("cpu_ns=%lld window_ns=%lld\n", (long long)cpu, (long long)wall);
    cf_executor_free(ex);
    free(fs);
    return fflush(stdout) == 0 ? 0 : 1;
}

static bool idle_parse(const char *line, double *percent)
{
    long long cpu, wall;
    if (sscanf(line, "cpu_ns=%lld window_ns=%lld", &cpu, &wall) != 2 || wall <= 0)
        return false;
    *percent = 100.0 * (double)cpu / (double)wall;
    return true;
}

static void idle_table(const cf__bench_options *o, cf__bench_report *rep)
{
    int64_t ms = idle_window_ms(o);
    size_t n = sched_tasks(o);
    char *title = cf__bench_xasprintf(
        "Idle: CPU use of a pool's process over %lld ms after its last task (%zu tiny tasks "
        "before)",
        (long long)ms, n);
    cf__bench_table *t = cf__bench_table_add(rep, "sched.idle", title);
    free(title);

    cf__bench_series cf = {0};
    char argument[64], line[256];
    snprintf(argument, sizeof argument, "idle-cf-%lld", (long long)ms);
    for (unsigned run = 0; run < o->runs; run++) {
        cf__bench_progress_run("sched", "idle CPU, cfutures", run + 1, o->runs);
        cf__bench_run_child(o, cf__bench_sched_section.name, argument, n, line, sizeof line);
        double pct;
        if (!idle_parse(line, &pct))
            cf__bench_die("unexpected output from the idle measurement: '%s'", line);
        cf__bench_series_add(&cf, pct);
    }
    cf__bench_table_figure(t, "cf.idle_cpu",
                           "cfutures thread pool, default max_workers: CPU over the window",
                           "% of a core", &cf, (cf__bench_target){CF__BENCH_AT_MOST, 1.0});
    cf__bench_series_free(&cf);

    char nbuf[32], msbuf[32];
    snprintf(nbuf, sizeof nbuf, "%zu", n);
    snprintf(msbuf, sizeof msbuf, "%lld", (long long)ms);
    for (size_t i = 0; i < NPEERS; i++) {
        char id[64], *skipped = NULL;
        snprintf(id, sizeof id, "%s.idle_cpu", peers[i].id);
        char *label = cf__bench_xasprintf("%s, %u threads: CPU over the window", peers[i].label,
                                          o->threads);
        cf__bench_progress("sched: idle CPU, %s", peers[i].label);
        cf__bench_series s = {0};
        for (unsigned run = 0; run < (o->quick ? 1 : o->runs); run++) {
            if (!peer_run("idle", peers[i].id, o->threads, nbuf, msbuf, line, sizeof line,
                          &skipped))
                break;
            double pct;
            if (!idle_parse(line, &pct))
                cf__bench_die("unexpected output from cf-bench-peer: '%s'", line);
            cf__bench_series_add(&s, pct);
        }
        if (skipped != NULL)
            cf__bench_table_skipped(t, id, label, skipped);
        else
            cf__bench_table_figure(t, id, label, "% of a core", &s, cf__bench_no_target);
        free(skipped);
        free(label);
        cf__bench_series_free(&s);
    }
    cf__bench_table_note(t, "Each figure is a fresh process: the pool runs the tiny tasks, then "
                            "the main thread sleeps through the window; the process's CPU time "
                            "over the window (CLOCK_PROCESS_CPUTIME_ID) is its idle threads' "
                            "spinning and wake-ups. cfutures' idle workers spin at most 50 us, "
                            "then sleep on a condition variable. libgomp's idle threads spin "
                            "for a while by default (OMP_WAIT_POLICY, GOMP_SPINCOUNT).");
}

/* ---- Mixed durations ------------------------------------------------------------------ */

static int nap(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}
CF_TASK(int, nap, int64_t);

typedef struct workload {
    const char *id;
    const char *title;
    int64_t us[64];
    size_t n;
    double ideal_ns;
} workload;

static void workload_ideal(workload *w, unsigned threads)
{
    int64_t total = 0, longest = 0;
    for (size_t i = 0; i < w->n; i++) {
        total += w->us[i];
        longest = w->us[i] > longest ? w->us[i] : longest;
    }
    double per = (double)total / threads;
    w->ideal_ns = 1e3 * (per > (double)longest ? per : (double)longest);
}

/* One long task first, then 31 of a twentieth of it (the long one is first:
 * the others must not wait behind it). */
static void workload_long_short(workload *w, const cf__bench_options *o)
{
    int64_t longest = o->quick ? 40000 : 400000;
    w->id = "long_short";
    w->n = 32;
    w->us[0] = longest;
    for (size_t i = 1; i < w->n; i++)
        w->us[i] = longest / 20;
    w->title = "one long task, then 31 of a twentieth of it";
    workload_ideal(w, o->threads);
}

/* 64 durations from a Pareto distribution (alpha 1.3, from 2 ms, capped at
 * 200 ms; a fifth of that with --quick), from a fixed seed. */
static void workload_heavy_tail(workload *w, const cf__bench_options *o)
{
    uint64_t state = 0x9e3779b97f4a7c15u;
    w->id = "heavy_tail";
    w->n = 64;
    for (size_t i = 0; i < w->n; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        double u = ((double)(state >> 11) + 0.5) / 9007199254740992.0;
        double ms = 2.0 / pow(u, 1.0 / 1.3);
        if (ms > 200)
            ms = 200;
        w->us[i] = (int64_t)(ms * (o->quick ? 200 : 1000));
    }
    w->title = "64 tasks of heavy-tailed durations (Pareto, alpha 1.3, 2-200 ms)";
    workload_ideal(w, o->threads);
}

/* The makespan of list scheduling in submission order with no overhead
 * (each task to the first free worker), over the ideal: what any FIFO pool
 * gets at best; above 1 when a long task comes late. */
static double fifo_bound(const workload *w, unsigned threads)
{
    int64_t free_at[1024] = {0};
    unsigned t = threads < 1024 ? threads : 1024;
    int64_t span = 0;
    for (size_t i = 0; i < w->n; i++) {
        unsigned first = 0;
        for (unsigned k = 1; k < t; k++)
            if (free_at[k] < free_at[first])
                first = k;
        free_at[first] += w->us[i];
        span = free_at[first] > span ? free_at[first] : span;
    }
    return 1e3 * (double)span / w->ideal_ns;
}

static int64_t cf_makespan(cf_executor *ex, const workload *w)
{
    cf_future *fs[64];
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < w->n; i++) {
        int rc = cf_submit(&fs[i], ex, nap, w->us[i]);
        if (rc != 0)
            cf__bench_cf_failed("cf_submit", rc);
    }
    for (size_t i = 0; i < w->n; i++) {
        int rc = cf_future_result(fs[i], NULL, CF_FOREVER);
        if (rc != 0)
            cf__bench_cf_failed("cf_future_result", rc);
    }
    int64_t span = cf__bench_now_ns() - start;
    for (size_t i = 0; i < w->n; i++)
        cf_future_release(fs[i]);
    return span;
}

static char *durations_csv(const workload *w)
{
    size_t size = w->n * 24 + 1, len = 0;
    char *s = cf__bench_xcalloc(size, 1);
    for (size_t i = 0; i < w->n; i++)
        len += (size_t)snprintf(s + len, size - len, "%s%lld", i ? "," : "",
                                (long long)w->us[i]);
    return s;
}

static void mixed_one(const cf__bench_options *o, cf__bench_report *rep, workload *w)
{
    cf__bench_series cf_fresh = {0}, cf_warm = {0}, tbb_fresh = {0}, tbb_warm = {0};
    cf__bench_series py_fresh = {0}, py_warm = {0};
    cf_executor *warm = cf__bench_cf_pool(false, o->threads);
    cf_future **fs = cf__bench_xcalloc(10000, sizeof *fs);
    cf__bench_cf_tiny(warm, 10000, fs);
    free(fs);
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("sched", w->id, run, o->runs);
        cf_executor *fresh = cf__bench_cf_pool(false, o->threads);
        int64_t f = cf_makespan(fresh, w);
        cf_executor_free(fresh);
        int64_t m = cf_makespan(warm, w);
        if (run == 0)
            continue;
        cf__bench_series_add(&cf_fresh, (double)f / w->ideal_ns);
        cf__bench_series_add(&cf_warm, (double)m / w->ideal_ns);
    }
    cf_executor_free(warm);

    char *csv = durations_csv(w), *tbb_skipped = NULL, *py_skipped = NULL;
    char runs[32], line[4096];
    snprintf(runs, sizeof runs, "%u", o->runs);
    /* The first run in a fresh process is TBB's fresh pool; one process
     * per measured run (one with --quick). */
    unsigned tbb_runs = o->quick ? 1 : o->runs;
    for (unsigned run = 0; run < tbb_runs; run++) {
        cf__bench_progress_run("sched", "oneTBB", run + 1, tbb_runs);
        if (!peer_run("mixed", "tbb", o->threads, csv, "1", line, sizeof line, &tbb_skipped))
            break;
        cf__bench_series s = {0};
        if (!parse_list(line, "ns", 1 / w->ideal_ns, &s) || s.n != 2)
            cf__bench_die("unexpected output from cf-bench-peer: '%s'", line);
        cf__bench_series_add(&tbb_fresh, s.samples[0]);
        cf__bench_series_add(&tbb_warm, s.samples[1]);
        cf__bench_series_free(&s);
    }
    char workers[32];
    snprintf(workers, sizeof workers, "%u", o->threads);
    char *args[] = {"--workers", workers, "--runs", runs, "--durations-us", csv, NULL};
    cf__bench_progress("sched: %s: Python", w->id);
    char *out = cf__bench_python_run(PYTHON_SCHED, args, PYTHON_LIMIT_NS, &py_skipped);
    if (out != NULL) {
        cf__bench_series fr = {0}, wa = {0};
        if (cf__bench_json_numbers(out, "fresh_ns", o->runs, &fr) &&
            cf__bench_json_numbers(out, "warm_ns", o->runs, &wa)) {
            for (size_t i = 0; i < fr.n; i++)
                cf__bench_series_add(&py_fresh, fr.samples[i] / w->ideal_ns);
            for (size_t i = 0; i < wa.n; i++)
                cf__bench_series_add(&py_warm, wa.samples[i] / w->ideal_ns);
        } else {
            cf__bench_python_malformed(PYTHON_SCHED, out, &py_skipped);
        }
        cf__bench_series_free(&fr);
        cf__bench_series_free(&wa);
        free(out);
    }

    char *title = cf__bench_xasprintf("Mixed durations, %s, %u workers: makespan / ideal "
                                      "(ideal %.0f ms)",
                                      w->title, o->threads, w->ideal_ns * 1e-6);
    char id[64];
    snprintf(id, sizeof id, "sched.mixed_%s", w->id);
    cf__bench_table *t = cf__bench_table_add(rep, id, title);
    free(title);
    cf__bench_target within = {CF__BENCH_AT_MOST, 1.05};
    cf__bench_series bound = {0};
    cf__bench_series_add(&bound, fifo_bound(w, o->threads));
    cf__bench_table_figure(t, "fifo_bound", "bound: FIFO list scheduling, no overhead",
                           "x ideal", &bound, cf__bench_no_target);
    cf__bench_series_free(&bound);
    cf__bench_table_figure(t, "cf.fresh", "cfutures thread pool, fresh", "x ideal", &cf_fresh,
                           within);
    cf__bench_table_figure(t, "cf.warm", "cfutures thread pool, warmed", "x ideal", &cf_warm,
                           within);
    if (tbb_skipped == NULL) {
        cf__bench_table_figure(t, "tbb.fresh", "oneTBB task_group, fresh process", "x ideal",
                               &tbb_fresh, cf__bench_no_target);
        cf__bench_table_figure(t, "tbb.warm", "oneTBB task_group, warmed", "x ideal", &tbb_warm,
                               cf__bench_no_target);
    } else {
        cf__bench_table_skipped(t, "tbb.fresh", "oneTBB task_group", tbb_skipped);
    }
    if (py_skipped == NULL) {
        cf__bench_table_figure(t, "python.fresh", "Python ThreadPoolExecutor, fresh", "x ideal",
                               &py_fresh, cf__bench_no_target);
        cf__bench_table_figure(t, "python.warm", "Python ThreadPoolExecutor, warmed", "x ideal",
                               &py_warm, cf__bench_no_target);
    } else {
        cf__bench_table_skipped(t, "python.fresh", "Python ThreadPoolExecutor", py_skipped);
    }
    cf__bench_table_note(t, "Tasks sleep for their duration (nanosleep; time.sleep in Python), "
                            "all submitted at once, then all waited for. Ideal: max(longest, "
                            "total / workers). Fresh: a pool created for the run (its threads "
                            "start on demand); warmed: a pool that ran 10000 tiny tasks before.");
    free(csv);
    free(tbb_skipped);
    free(py_skipped);
    cf__bench_series_free(&cf_fresh);
    cf__bench_series_free(&cf_warm);
    cf__bench_series_free(&tbb_fresh);
    cf__bench_series_free(&tbb_warm);
    cf__bench_series_free(&py_fresh);
    cf__bench_series_free(&py_warm);
}

static void sched_run(const cf__bench_options *o, cf__bench_report *rep)
{
    tiny_tables(o, rep);
    idle_table(o, rep);
    workload w;
    workload_long_short(&w, o);
    mixed_one(o, rep, &w);
    workload_heavy_tail(&w, o);
    mixed_one(o, rep, &w);
}

static int sched_child(const char *argument, size_t count)
{
    long long ms;
    if (sscanf(argument, "idle-cf-%lld", &ms) == 1 && ms > 0)
        return idle_child(ms, count);
    cf__bench_die("unknown measurement '%s'", argument);
}

const cf__bench_section cf__bench_sched_section = {
    .name = "sched",
    .run = sched_run,
    .child = sched_child,
};
