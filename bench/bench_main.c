/* bench_main.c: cf-bench's options, machine description and output.
 *
 * Design notes: cf-bench runs every section of the table below in turn (or
 * those --only names), on the main thread, each filling the one report;
 * progress goes to stderr while measuring (a bar rewritten in place when
 * stderr is a terminal), the tables to stdout at the end, and the same
 * figures to CSV/JSON files on request; with --out-dir, the tables, CSV,
 * JSON and the plots (bench_plot.c) all go to that directory. A measurement
 * that needs a fresh process runs
 * through cf__bench_run_child(): this program re-executed (/proc/self/exe)
 * with --child, its one line of stdout read through a pipe.
 */
#include "config.h"

#include <cfutures.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_glib.h"
#include "bench_omp.h"
#include "bench_plot.h"
#include "bench_report.h"
#include "bench_stats.h"

static const cf__bench_section *const sections[] = {
    &cf__bench_threads_section,
    &cf__bench_process_section,
    &cf__bench_scaling_section,
    &cf__bench_map_section,
    &cf__bench_payload_section,
    &cf__bench_sched_section,
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

/* ---- Progress, errors and allocation, for every section -------------------- */

/* The progress line's state: only the main thread reports progress. */
static struct {
    bool tty;       /* stderr is a terminal: one line, rewritten */
    bool line_open; /* a rewritten line is on screen, without its newline */
    unsigned done;  /* sections finished */
    unsigned total; /* sections to run */
} progress;

#define PROGRESS_BAR_WIDTH 20

/* End the rewritten line, so that other output starts on a line of its own. */
static void progress_break(void)
{
    if (progress.line_open) {
        fputc('\n', stderr);
        progress.line_open = false;
    }
}

void cf__bench_progress(const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (!progress.tty) {
        fprintf(stderr, "cf-bench: %s\n", message);
        return;
    }
    unsigned total = progress.total ? progress.total : 1;
    int filled = (int)(progress.done * PROGRESS_BAR_WIDTH / total);
    char bar[PROGRESS_BAR_WIDTH + 1];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(PROGRESS_BAR_WIDTH - filled));
    bar[PROGRESS_BAR_WIDTH] = '\0';
    /* Keep to one screen line: a wrapped line could not be rewritten. */
    fprintf(stderr, "\r\033[K[%s] %u/%u %.90s", bar, progress.done + 1 > total ? total : progress.done + 1,
            total, message);
    fflush(stderr);
    progress.line_open = true;
}

void cf__bench_die(const char *fmt, ...)
{
    progress_break();
    va_list ap;
    va_start(ap, fmt);
    fputs("cf-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *cf__bench_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        cf__bench_die("out of memory");
    return p;
}

char *cf__bench_xstrdup(const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        cf__bench_die("out of memory");
    return copy;
}

char *cf__bench_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s;
    int rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (rc < 0)
        cf__bench_die("out of memory");
    return s;
}

void cf__bench_run_child(const cf__bench_options *opts, const char *section, const char *argument,
                         size_t count, char *line, size_t size)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        cf__bench_die("pipe2: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    if (rc != 0)
        cf__bench_die("posix_spawn_file_actions: %s", strerror(rc));
    char count_text[32];
    snprintf(count_text, sizeof count_text, "%zu", count);
    char *argv[] = {(char *)opts->self, "--child",   (char *)section,
                    (char *)argument,   count_text, NULL};
    pid_t pid;
    rc = posix_spawn(&pid, opts->self, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0)
        cf__bench_die("cannot run %s: %s", opts->self, strerror(rc));

    size_t len = 0;
    for (;;) {
        char chunk[256];
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            cf__bench_die("reading from the %s measurement: %s", argument, strerror(errno));
        if (got == 0)
            break;
        size_t keep = (size_t)got < size - 1 - len ? (size_t)got : size - 1 - len;
        memcpy(line + len, chunk, keep);
        len += keep;
    }
    line[len] = '\0';
    line[strcspn(line, "\n")] = '\0';
    close(fds[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            cf__bench_die("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(status))
        cf__bench_die("the %s measurement was killed by signal %d", argument, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        cf__bench_die("the %s measurement failed (exit status %d)", argument,
                      WEXITSTATUS(status));
}

/* ---- Machine description ---------------------------------------------------- */

static void describe_cpu(cf__bench_report *rep)
{
    char model[256] = "unknown";
    FILE *in = fopen("/proc/cpuinfo", "re");
    if (in) {
        char buf[512];
        while (fgets(buf, sizeof buf, in)) {
            if (strncmp(buf, "model name", 10) != 0)
                continue;
            const char *colon = strchr(buf, ':');
            if (colon) {
                snprintf(model, sizeof model, "%s", colon + 1 + strspn(colon + 1, " \t"));
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
        fclose(in);
    }
    cf__bench_report_describe(rep, "cpu", model);
    char cores[64];
    snprintf(cores, sizeof cores, "%ld online", sysconf(_SC_NPROCESSORS_ONLN));
    cf__bench_report_describe(rep, "cores", cores);
}

static void describe_memory(cf__bench_report *rep)
{
    char memory[64] = "unknown";
    FILE *in = fopen("/proc/meminfo", "re");
    if (in) {
        long long kb;
        char buf[256];
        while (fgets(buf, sizeof buf, in))
            if (sscanf(buf, "MemTotal: %lld kB", &kb) == 1) {
                snprintf(memory, sizeof memory, "%.1f GiB", (double)kb / (1 << 20));
                break;
            }
        fclose(in);
    }
    cf__bench_report_describe(rep, "memory", memory);
}

/* Other work on the machine skews every figure: say how busy it was. */
static void describe_load(cf__bench_report *rep)
{
    char load[128] = "unknown";
    FILE *in = fopen("/proc/loadavg", "re");
    if (in) {
        double one, five, fifteen;
        if (fscanf(in, "%lf %lf %lf", &one, &five, &fifteen) == 3)
            snprintf(load, sizeof load, "%.2f %.2f %.2f (1, 5, 15 min) at start", one, five,
                     fifteen);
        fclose(in);
    }
    cf__bench_report_describe(rep, "load", load);
}

static void describe(cf__bench_report *rep, const cf__bench_options *o)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    cf__bench_report_describe(rep, "date", date);
    cf__bench_report_describe(rep, "cfutures", cf_version());
    describe_cpu(rep);
    describe_memory(rep);
    describe_load(rep);

    struct utsname u;
    if (uname(&u) == 0) {
        char *kernel = cf__bench_xasprintf("%s %s %s", u.sysname, u.release, u.machine);
        cf__bench_report_describe(rep, "kernel", kernel);
        free(kernel);
    }
#if defined(__clang__)
    char compiler[64];
    snprintf(compiler, sizeof compiler, "clang %d.%d.%d", __clang_major__, __clang_minor__,
             __clang_patchlevel__);
    cf__bench_report_describe(rep, "compiler", compiler);
#else
    cf__bench_report_describe(rep, "compiler", "gcc " __VERSION__);
#endif
    const char *build =
#ifdef __OPTIMIZE__
        "optimized"
#else
        "not optimized (configure with CFLAGS='-O2' for meaningful figures)"
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        ", with a sanitizer (figures are not representative)"
#endif
        "";
    /* The library's allocator is chosen at run time in a jemalloc build
     * (lib/alloc.c): CF_ALLOCATOR=system measures it on plain malloc. */
    const char *allocator = "malloc";
#ifdef CF_USE_JEMALLOC
    const char *env = getenv("CF_ALLOCATOR");
    allocator = env != NULL && strcmp(env, "system") == 0 ? "malloc (CF_ALLOCATOR=system)"
                                                          : "jemalloc";
#endif
    char *build_all = cf__bench_xasprintf("%s, library allocator %s", build, allocator);
    cf__bench_report_describe(rep, "build", build_all);
    free(build_all);
#ifdef CF_BENCH_BUILD_FLAGS
    cf__bench_report_describe(rep, "build flags", CF_BENCH_BUILD_FLAGS);
#endif
    const char *glib_detail;
    cf__bench_glib_available(&glib_detail);
    cf__bench_report_describe(rep, "glib", glib_detail);
    const char *omp_detail;
    cf__bench_omp_available(&omp_detail);
    cf__bench_report_describe(rep, "openmp", omp_detail);

    char *method = cf__bench_xasprintf(
        "each figure: median of %u runs after 1 warm-up run, min and max shown", o->runs);
    cf__bench_report_describe(rep, "method", method);
    free(method);
    char *options = cf__bench_xasprintf(
        "threads=%u tasks=%zu roundtrips=%zu pending=%zu cpu-tasks=%zu map-elements=%zu "
        "empty-elements=%zu bounded-elements=%zu max-payload=%zu%s",
        o->threads, o->tasks, o->roundtrips, o->pending, o->cpu_tasks, o->map_elements,
        o->empty_elements, o->bounded_elements, o->max_payload, o->quick ? " (--quick)" : "");
    cf__bench_report_describe(rep, "options", options);
    free(options);
}

/* ---- Options ------------------------------------------------------------ */

static void usage(FILE *out)
{
    fputs("usage: cf-bench [options]\n"
          "Measures cfutures' thread and process pools side by side and against\n"
          "their peers, in sections:\n"
          "  threads   the thread pool against GLib's GThreadPool and a mutex/condvar\n"
          "            ping-pong: tiny-task throughput, serial round trip (back to\n"
          "            back and after an idle pause), memory per pending future;\n"
          "  process   the process pool against Python's ProcessPoolExecutor,\n"
          "            ThreadPoolExecutor and multiprocessing.Pool and a socketpair\n"
          "            ping-pong; memory per pending future;\n"
          "  scaling   both pools at 1..T workers: tiny-task throughput and CPU-bound\n"
          "            speedup over serial;\n"
          "  map       cf_map against a serial loop, OpenMP and Python's Pool.map; a\n"
          "            chunk-size sweep; a bounded map's peak memory;\n"
          "  payload   round trips carrying 8 bytes to --max-payload, both pools;\n"
          "  sched     the thread pool against oneTBB, OpenMP tasks, libuv, Boost.Asio\n"
          "            and GThreadPool: tiny tasks, on an idle and a busy machine; idle\n"
          "            CPU; makespan of mixed durations against TBB and Python.\n"
          "Each figure is the median of R runs after one warm-up run.\n"
          "\n"
          "  --quick             a few seconds in all: small counts, 3 runs\n"
          "  -n, --tasks N       tiny tasks per throughput run (default 1000000)\n"
          "  --roundtrips M      back-to-back round trips per run (default 20000);\n"
          "                      M/100 (at least 20) after an idle pause\n"
          "  --pending P         pending futures per memory run (default 1000000)\n"
          "  -r, --runs R        measured runs per figure (default 5)\n"
          "  --threads T         workers of the pools compared (default: CPUs);\n"
          "                      scaling and map run at 1..T workers\n"
          "  --cpu-tasks K       CPU-bound tasks per scaling run (default 400)\n"
          "  --map-elements M    doubles in the CPU-bound map (default 2000000)\n"
          "  --empty-elements E  ints in the near-empty map (default 10000000)\n"
          "  --bounded-elements B  elements of the bounded map (default 100000000)\n"
          "  --max-payload BYTES largest payload (default 16777216)\n"
          "  --only LIST         run only these sections (comma-separated)\n"
          "  --csv FILE          also write every figure as CSV\n"
          "  --json FILE         also write every figure and the machine as JSON\n"
          "  --out-dir DIR       write cf-bench.txt (the tables), .csv, .json, and the\n"
          "                      plots (.png, .svg, from .dat and .gp through gnuplot)\n"
          "                      into DIR, created if needed\n"
          "  -h, --help          this help\n",
          out);
}

static size_t parse_count(const char *option, const char *text, size_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > max || text[0] == '-')
        cf__bench_die("%s wants a whole number from 1 to %zu, got '%s'", option, max, text);
    return (size_t)v;
}

enum {
    OPT_QUICK = 256,
    OPT_ROUNDTRIPS,
    OPT_PENDING,
    OPT_THREADS,
    OPT_CPU_TASKS,
    OPT_MAP_ELEMENTS,
    OPT_EMPTY_ELEMENTS,
    OPT_BOUNDED_ELEMENTS,
    OPT_MAX_PAYLOAD,
    OPT_ONLY,
    OPT_CSV,
    OPT_JSON,
    OPT_OUT_DIR,
    OPT_CHILD
};

static const struct option long_options[] = {
    {"quick", no_argument, NULL, OPT_QUICK},
    {"tasks", required_argument, NULL, 'n'},
    {"roundtrips", required_argument, NULL, OPT_ROUNDTRIPS},
    {"pending", required_argument, NULL, OPT_PENDING},
    {"runs", required_argument, NULL, 'r'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"cpu-tasks", required_argument, NULL, OPT_CPU_TASKS},
    {"map-elements", required_argument, NULL, OPT_MAP_ELEMENTS},
    {"empty-elements", required_argument, NULL, OPT_EMPTY_ELEMENTS},
    {"bounded-elements", required_argument, NULL, OPT_BOUNDED_ELEMENTS},
    {"max-payload", required_argument, NULL, OPT_MAX_PAYLOAD},
    {"only", required_argument, NULL, OPT_ONLY},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"csv", required_argument, NULL, OPT_CSV},
    {"json", required_argument, NULL, OPT_JSON},
    {"child", no_argument, NULL, OPT_CHILD},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* `cf-bench --child <section> <argument> <count>`: one measurement. */
static int run_child(int argc, char **argv)
{
    if (argc != 3)
        cf__bench_die("--child wants a section, a measurement and a count");
    size_t count = parse_count("--child", argv[2], SIZE_MAX / 64);
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(sections[i]->name, argv[0]) == 0 && sections[i]->child)
            return sections[i]->child(argv[1], count);
    cf__bench_die("no section '%s' with measurements in a child process", argv[0]);
}

/* Whether `name` is in the comma-separated list (NULL: every name is). */
static bool listed(const char *list, const char *name)
{
    if (list == NULL)
        return true;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t item = strcspn(p, ",");
        if (item == len && strncmp(p, name, len) == 0)
            return true;
        p += item + (p[item] == ',');
    }
    return false;
}

/* mkdir -p: create dir and its missing parents. Exits with a message on failure. */
static void make_directory(const char *dir)
{
    char *path = cf__bench_xstrdup(dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            cf__bench_die("cannot create %s: %s", path, strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);
}

/* Write the report's tables to `path`. Returns 0 or -errno. */
static int write_tables(const cf__bench_report *rep, const char *path)
{
    FILE *out = fopen(path, "we");
    if (!out)
        return -errno;
    cf__bench_report_print(rep, out);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed)
        return -(errno ? errno : EIO);
    return 0;
}

/* Write one output file through `writer`; on failure, say so and return 1. */
static int write_output(int (*writer)(const cf__bench_report *, const char *),
                        const cf__bench_report *rep, const char *path)
{
    int rc = writer(rep, path);
    if (rc == 0)
        return 0;
    fprintf(stderr, "cf-bench: writing %s: %s\n", path, strerror(-rc));
    return 1;
}

int main(int argc, char **argv)
{
    cf__bench_options o = {0};
    size_t tasks = 0, roundtrips = 0, pending = 0, runs = 0, threads = 0, cpu_tasks = 0;
    size_t map_elements = 0, empty_elements = 0, bounded_elements = 0, max_payload = 0;
    const char *csv_path = NULL, *json_path = NULL, *out_dir = NULL, *only = NULL;
    bool child = false;
    int c;
    while ((c = getopt_long(argc, argv, "+n:r:h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_QUICK:
            o.quick = true;
            break;
        case 'n':
            tasks = parse_count("--tasks", optarg, SIZE_MAX / 64);
            break;
        case OPT_ROUNDTRIPS:
            roundtrips = parse_count("--roundtrips", optarg, SIZE_MAX / 64);
            break;
        case OPT_PENDING:
            pending = parse_count("--pending", optarg, SIZE_MAX / 64);
            break;
        case 'r':
            runs = parse_count("--runs", optarg, 1000);
            break;
        case OPT_THREADS:
            threads = parse_count("--threads", optarg, 1024);
            break;
        case OPT_CPU_TASKS:
            cpu_tasks = parse_count("--cpu-tasks", optarg, 1000000);
            break;
        case OPT_MAP_ELEMENTS:
            map_elements = parse_count("--map-elements", optarg, SIZE_MAX / 64);
            break;
        case OPT_EMPTY_ELEMENTS:
            empty_elements = parse_count("--empty-elements", optarg, INT_MAX);
            break;
        case OPT_BOUNDED_ELEMENTS:
            bounded_elements = parse_count("--bounded-elements", optarg, SIZE_MAX / 64);
            break;
        case OPT_MAX_PAYLOAD:
            max_payload = parse_count("--max-payload", optarg, (size_t)1 << 30);
            if (max_payload < 8)
                cf__bench_die("--max-payload wants at least 8 bytes");
            break;
        case OPT_ONLY:
            only = optarg;
            break;
        case OPT_CSV:
            csv_path = optarg;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_OUT_DIR:
            out_dir = optarg;
            break;
        case OPT_CHILD:
            child = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (child)
        return run_child(argc - optind, argv + optind);
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (only) {
        for (const char *p = only; *p;) {
            size_t item = strcspn(p, ",");
            bool known = false;
            for (size_t i = 0; i < NSECTIONS; i++)
                known |= strlen(sections[i]->name) == item &&
                         strncmp(sections[i]->name, p, item) == 0;
            if (!known)
                cf__bench_die("--only: no section '%.*s' (threads, process, scaling, map, "
                              "payload, sched)",
                              (int)item, p);
            p += item + (p[item] == ',');
        }
    }

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.tasks = tasks ? tasks : o.quick ? 100000 : 1000000;
    o.roundtrips = roundtrips ? roundtrips : o.quick ? 2000 : 20000;
    o.pending = pending ? pending : o.quick ? 200000 : 1000000;
    o.runs = (unsigned)(runs ? runs : o.quick ? 3 : 5);
    o.threads = (unsigned)(threads ? threads : cpus > 0 ? (size_t)cpus : 1);
    o.cpu_tasks = cpu_tasks ? cpu_tasks : o.quick ? 40 : 400;
    o.map_elements = map_elements ? map_elements : o.quick ? 100000 : 2000000;
    o.empty_elements = empty_elements ? empty_elements : o.quick ? 500000 : 10000000;
    o.bounded_elements = bounded_elements ? bounded_elements : o.quick ? 5000000 : 100000000;
    o.max_payload = max_payload ? max_payload : o.quick ? ((size_t)2 << 20) : ((size_t)16 << 20);

    static char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        cf__bench_die("readlink /proc/self/exe: %s", len < 0 ? strerror(errno) : "empty");
    self[len] = '\0';
    o.self = self;
    if (out_dir)
        make_directory(out_dir);

    progress.tty = isatty(STDERR_FILENO);
    for (size_t i = 0; i < NSECTIONS; i++)
        progress.total += listed(only, sections[i]->name);

    cf__bench_report *rep = cf__bench_report_new();
    describe(rep, &o);
    if (only)
        cf__bench_report_describe(rep, "sections", only);
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!listed(only, sections[i]->name))
            continue;
        sections[i]->run(&o, rep);
        progress.done++;
    }
    char elapsed[64];
    snprintf(elapsed, sizeof elapsed, "%.1f s", (cf__bench_now_ns() - start) * 1e-9);
    cf__bench_report_describe(rep, "run time", elapsed);
    if (out_dir) {
        cf__bench_progress("drawing the plots with gnuplot");
        char *failed = cf__bench_plot(rep, out_dir, "cf-bench", o.threads, o.max_payload);
        char *plots = failed ? cf__bench_xasprintf("skipped: %s", failed)
                             : cf__bench_xasprintf("%s/cf-bench.png and .svg", out_dir);
        cf__bench_report_describe(rep, "plots", plots);
        if (failed)
            cf__bench_progress("plots skipped: %s", failed);
        free(plots);
        free(failed);
    }
    progress_break();

    printf("cf-bench: cfutures' thread and process pools, beside GLib's GThreadPool, OpenMP, "
           "Python's pools and the raw floors\n");
    cf__bench_report_print(rep, stdout);
    int status = 0;
    if (csv_path)
        status |= write_output(cf__bench_report_write_csv, rep, csv_path);
    if (json_path)
        status |= write_output(cf__bench_report_write_json, rep, json_path);
    if (out_dir) {
        char *path = cf__bench_xasprintf("%s/cf-bench.txt", out_dir);
        status |= write_output(write_tables, rep, path);
        free(path);
        path = cf__bench_xasprintf("%s/cf-bench.csv", out_dir);
        status |= write_output(cf__bench_report_write_csv, rep, path);
        free(path);
        path = cf__bench_xasprintf("%s/cf-bench.json", out_dir);
        status |= write_output(cf__bench_report_write_json, rep, path);
        free(path);
        fprintf(stderr, "cf-bench: results in %s/ (cf-bench.txt, .csv, .json, .png, .svg)\n",
                out_dir);
    }
    cf__bench_report_free(rep);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}
