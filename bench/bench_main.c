/* bench_main.c: cf-bench's options, machine description and output.
 *
 * Design notes: cf-bench runs every section of the table below in turn, on
 * the main thread, each filling the one report; progress goes to stderr
 * while measuring, the tables to stdout at the end, and the same figures to
 * CSV/JSON files on request. A measurement that needs a fresh process runs
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
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_glib.h"
#include "bench_report.h"
#include "bench_stats.h"

static const cf__bench_section *const sections[] = {
    &cf__bench_threads_section,
    &cf__bench_process_section,
};

/* ---- Progress, errors and allocation, for every section -------------------- */

void cf__bench_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cf-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cf__bench_die(const char *fmt, ...)
{
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
#ifdef CF_USE_JEMALLOC
        ", library allocator jemalloc";
#else
        ", library allocator malloc";
#endif
    cf__bench_report_describe(rep, "build", build);
    const char *glib_detail;
    cf__bench_glib_available(&glib_detail);
    cf__bench_report_describe(rep, "glib", glib_detail);

    char *method = cf__bench_xasprintf(
        "each figure: median of %u runs after 1 warm-up run, min and max shown", o->runs);
    cf__bench_report_describe(rep, "method", method);
    free(method);
    char *options = cf__bench_xasprintf("threads=%u tasks=%zu roundtrips=%zu pending=%zu%s",
                                        o->threads, o->tasks, o->roundtrips, o->pending,
                                        o->quick ? " (--quick)" : "");
    cf__bench_report_describe(rep, "options", options);
    free(options);
}

/* ---- Options ------------------------------------------------------------ */

static void usage(FILE *out)
{
    fputs("usage: cf-bench [options]\n"
          "Measures cfutures' thread pool against GLib's GThreadPool (tiny-task\n"
          "throughput, serial round trip back to back and after an idle pause,\n"
          "memory per pending future), and its process pool against Python's\n"
          "ProcessPoolExecutor and a socketpair ping-pong between two processes,\n"
          "with the two pools side by side.\n"
          "Each figure is the median of R runs after one warm-up run.\n"
          "\n"
          "  --quick             a few seconds in all: small counts, 3 runs\n"
          "  -n, --tasks N       tiny tasks per throughput run (default 1000000)\n"
          "  --roundtrips M      back-to-back round trips per run (default 20000);\n"
          "                      M/100 (at least 20) after an idle pause\n"
          "  --pending P         pending futures per memory run (default 1000000)\n"
          "  -r, --runs R        measured runs per figure (default 5)\n"
          "  --threads T         worker threads of the pools compared (default: CPUs)\n"
          "  --csv FILE          also write every figure as CSV\n"
          "  --json FILE         also write every figure and the machine as JSON\n"
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

enum { OPT_QUICK = 256, OPT_ROUNDTRIPS, OPT_PENDING, OPT_THREADS, OPT_CSV, OPT_JSON, OPT_CHILD };

static const struct option long_options[] = {
    {"quick", no_argument, NULL, OPT_QUICK},
    {"tasks", required_argument, NULL, 'n'},
    {"roundtrips", required_argument, NULL, OPT_ROUNDTRIPS},
    {"pending", required_argument, NULL, OPT_PENDING},
    {"runs", required_argument, NULL, 'r'},
    {"threads", required_argument, NULL, OPT_THREADS},
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

int main(int argc, char **argv)
{
    cf__bench_options o = {0};
    size_t tasks = 0, roundtrips = 0, pending = 0, runs = 0, threads = 0;
    const char *csv_path = NULL, *json_path = NULL;
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
        case OPT_CSV:
            csv_path = optarg;
            break;
        case OPT_JSON:
            json_path = optarg;
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

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.tasks = tasks ? tasks : o.quick ? 100000 : 1000000;
    o.roundtrips = roundtrips ? roundtrips : o.quick ? 2000 : 20000;
    o.pending = pending ? pending : o.quick ? 200000 : 1000000;
    o.runs = (unsigned)(runs ? runs : o.quick ? 3 : 5);
    o.threads = (unsigned)(threads ? threads : cpus > 0 ? (size_t)cpus : 1);

    static char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        cf__bench_die("readlink /proc/self/exe: %s", len < 0 ? strerror(errno) : "empty");
    self[len] = '\0';
    o.self = self;

    cf__bench_report *rep = cf__bench_report_new();
    describe(rep, &o);
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        sections[i]->run(&o, rep);
    char elapsed[64];
    snprintf(elapsed, sizeof elapsed, "%.1f s", (cf__bench_now_ns() - start) * 1e-9);
    cf__bench_report_describe(rep, "run time", elapsed);

    printf("cf-bench: cfutures' thread and process pools, beside GLib's GThreadPool, "
           "Python's ProcessPoolExecutor and the raw floors\n");
    cf__bench_report_print(rep, stdout);
    int status = 0;
    if (csv_path) {
        int rc = cf__bench_report_write_csv(rep, csv_path);
        if (rc != 0) {
            fprintf(stderr, "cf-bench: writing %s: %s\n", csv_path, strerror(-rc));
            status = 1;
        }
    }
    if (json_path) {
        int rc = cf__bench_report_write_json(rep, json_path);
        if (rc != 0) {
            fprintf(stderr, "cf-bench: writing %s: %s\n", json_path, strerror(-rc));
            status = 1;
        }
    }
    cf__bench_report_free(rep);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}
