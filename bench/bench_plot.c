/* bench_plot.c: the report's figures as one picture of four panels, and
 * the thread pool beside its peers (the sched section) as a second one of
 * two panels (bench_plot.h).
 *
 * Design notes: the data file holds one block per panel (gnuplot's
 * `index`), one row per worker count or payload size: each curve's median,
 * min and max, "?" (gnuplot's missing value) when the figure is absent.
 * The script draws the same panels twice, to PNG (pngcairo) and to SVG;
 * gnuplot runs as a child process in the output directory, so the script
 * names its files without a directory and can be re-run by hand there.
 * The script's text goes to stdout/stderr of gnuplot, captured into
 * nothing: its exit status says whether it worked.
 */
#include "config.h"

#include "bench_plot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Whether the figure that every point of a panel needs was measured. */
static bool has_table(const cf__bench_report *rep, const char *table, const char *figure_id)
{
    cf__bench_summary s;
    return cf__bench_report_find(rep, table, figure_id, &s);
}

/* Write one curve's median, min and max, or three missing values. */
static void write_point(FILE *out, const cf__bench_report *rep, const char *table,
                        const char *figure)
{
    cf__bench_summary s;
    if (cf__bench_report_find(rep, table, figure, &s))
        fprintf(out, " %.6g %.6g %.6g", s.median, s.min, s.max);
    else
        fputs(" ? ? ?", out);
}

/* One data block of table `table`: a line per worker count, with the
 * figures "<contender>.w<count>.<unit>" of each contender in turn. */
static void write_by_workers(FILE *out, const cf__bench_report *rep, unsigned workers,
                             const char *table, const char *const *contenders, size_t n,
                             const char *unit)
{
    char id[64];
    for (unsigned w = 1; w <= workers; w++) {
        fprintf(out, "%u", w);
        for (size_t k = 0; k < n; k++) {
            snprintf(id, sizeof id, "%s.w%u.%s", contenders[k], w, unit);
            write_point(out, rep, table, id);
        }
        fputc('\n', out);
    }
}

static void write_data(FILE *out, const cf__bench_report *rep, unsigned workers,
                       size_t max_payload)
{
    static const char *const pools[] = {"threads", "process"};
    static const char *const map_ids[] = {"serial", "omp", "threads", "process",
                                          "process_shared"};
    fputs("# index 0: tiny-task throughput (tasks/s): workers, thread pool med min max, "
          "process pool med min max\n",
          out);
    write_by_workers(out, rep, workers, "scaling.tiny", pools, 2, "per_s");
    fputs("\n\n# index 1: CPU-bound speedup over serial (x): workers, thread pool, process "
          "pool\n",
          out);
    write_by_workers(out, rep, workers, "scaling.cpu", pools, 2, "speedup");
    fputs("\n\n# index 2: CPU-bound map (ms): workers, serial, OpenMP, thread pool, process "
          "pool, process pool with shared arrays\n",
          out);
    write_by_workers(out, rep, workers, "map.sin", map_ids, sizeof map_ids / sizeof map_ids[0],
                     "ms");
    fputs("\n\n# index 3: payload round trip (us): bytes, thread pool, process pool\n", out);
    char id[64];
    for (size_t size = 8; size <= max_payload; size *= 8) {
        fprintf(out, "%zu", size);
        snprintf(id, sizeof id, "threads.b%zu.us", size);
        write_point(out, rep, "payload", id);
        snprintf(id, sizeof id, "process.b%zu.us", size);
        write_point(out, rep, "payload", id);
        fputc('\n', out);
    }
}

/* A panel without data (its section did not run): its title and a word. */
static void write_empty_panel(FILE *out, const char *title)
{
    fprintf(out,
            "set title \"%s\"\n"
            "set label 1 \"not measured in this run\" at graph 0.5, graph 0.5 center\n"
            "unset border\n"
            "unset tics\n"
            "unset xlabel\n"
            "unset ylabel\n"
            "plot [0:1][0:1] -1 notitle\n"
            "unset label 1\n"
            "set border\n"
            "set tics\n",
            title);
}

/* The four panels, for one terminal; has[k] says whether panel k has data. */
static void write_panels(FILE *out, const char *data, unsigned workers, const bool has[4])
{
    static const char *const titles[4] = {
        "Tiny tasks: throughput (futures included)",
        "CPU-bound tasks: speedup over serial",
        "Map: 20 x sin over an array of doubles (lower is better)",
        "Payload: round trip of a cf\\\\_bytes argument and result",
    };
    fprintf(out, "set multiplot layout 2,2 title \"cfutures: thread pool vs process pool\"\n"
                 "set grid\n");
    for (int k = 0; k < 4; k++) {
        fprintf(out, "\nreset\nset grid\n");
        if (!has[k]) {
            write_empty_panel(out, titles[k]);
            continue;
        }
        fprintf(out, "set title \"%s\"\n", titles[k]);
        if (k < 3)
            fprintf(out, "set xrange [0.5:%u.5]\nset xtics 1\nset xlabel \"workers\"\n",
                    workers);
        switch (k) {
        case 0:
            fprintf(out,
                    "set key top left\n"
                    "set ylabel \"tasks/s\"\n"
                    "set logscale y\n"
                    "set format y \"%%.0s%%c\"\n"
                    "plot \"%s\" index 0 using 1:2:3:4 with yerrorlines lw 2 title \"thread "
                    "pool\", \\\n"
                    "     \"\" index 0 using 1:5:6:7 with yerrorlines lw 2 title \"process "
                    "pool\"\n",
                    data);
            break;
        case 1:
            fprintf(out,
                    "set key top left\n"
                    "set ylabel \"speedup (x)\"\n"
                    "set yrange [0:%u.5]\n"
                    "plot x with lines dt 2 lc rgb \"gray\" title \"ideal\", \\\n"
                    "     \"%s\" index 1 using 1:2:3:4 with yerrorlines lw 2 title \"thread "
                    "pool\", \\\n"
                    "     \"\" index 1 using 1:5:6:7 with yerrorlines lw 2 title \"process "
                    "pool\"\n",
                    workers, data);
            break;
        case 2:
            fprintf(out,
                    "set key top right\n"
                    "set ylabel \"ms per map\"\n"
                    "set yrange [0:*]\n"
                    "plot \"%s\" index 2 using 1:2:3:4 with yerrorlines lw 2 title \"serial\", "
                    "\\\n"
                    "     \"\" index 2 using 1:5:6:7 with yerrorlines lw 2 title \"OpenMP\", \\\n"
                    "     \"\" index 2 using 1:8:9:10 with yerrorlines lw 2 title \"thread pool "
                    "cf\\\\_map\", \\\n"
                    "     \"\" index 2 using 1:11:12:13 with yerrorlines lw 2 title \"process "
                    "pool cf\\\\_map\", \\\n"
                    "     \"\" index 2 using 1:14:15:16 with yerrorlines lw 2 title \"process "
                    "pool, shared arrays\"\n",
                    data);
            break;
        case 3:
            fprintf(out,
                    "set key top left\n"
                    "set xlabel \"payload (bytes)\"\n"
                    "set ylabel \"us per round trip\"\n"
                    "set logscale xy\n"
                    "set xtics (\"8\" 8, \"64\" 64, \"512\" 512, \"4K\" 4096, \"32K\" 32768, "
                    "\"256K\" 262144, \"2M\" 2097152, \"16M\" 16777216)\n"
                    "plot \"%s\" index 3 using 1:2:3:4 with yerrorlines lw 2 title \"thread "
                    "pool\", \\\n"
                    "     \"\" index 3 using 1:5:6:7 with yerrorlines lw 2 title \"process "
                    "pool\"\n",
                    data);
            break;
        }
    }
    fprintf(out, "unset multiplot\n");
}

/* Run gnuplot on `script` in `dir`. Returns NULL or why it failed. */
static char *run_gnuplot(const char *dir, const char *script)
{
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0)
        rc = posix_spawn_file_actions_addchdir_np(&actions, dir);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY,
                                              0);
    if (rc != 0)
        cf__bench_die("posix_spawn setup: %s", strerror(rc));
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    rc = posix_spawnp(&pid, "gnuplot", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return rc == ENOENT ? cf__bench_xstrdup("gnuplot was not found in PATH")
                            : cf__bench_xasprintf("cannot run gnuplot: %s", strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            cf__bench_die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cf__bench_xasprintf("gnuplot %s/%s failed (wait status %#x)", dir, script,
                                   (unsigned)status);
    return NULL;
}

/* ---- The thread pool beside its peers (the sched section) ------------------------- */

static const struct {
    const char *id, *label;
} plot_peers[] = {
    {"cf", "cfutures"}, {"tbb", "oneTBB"},  {"omp", "OpenMP tasks"},
    {"uv", "libuv"},    {"asio", "Boost.Asio"}, {"glib", "GThreadPool"},
};

static const struct {
    const char *id, *label;
} plot_mixed[] = {
    {"cf.fresh", "cfutures fresh"},  {"cf.warm", "cfutures warmed"},
    {"tbb.fresh", "oneTBB fresh"},   {"tbb.warm", "oneTBB warmed"},
    {"python.fresh", "Python fresh"}, {"python.warm", "Python warmed"},
    {"fifo_bound", "FIFO bound"},
};

/* Index 0: a row per pool, tiny tasks/s on an idle and on a busy machine;
 * index 1: a row per contender, makespan / ideal of both mixed workloads. */
static void write_peers_data(FILE *out, const cf__bench_report *rep)
{
    fputs("# index 0: pool, tiny tasks/s med min max (idle machine), the same (busy machine)\n",
          out);
    char id[64];
    for (size_t i = 0; i < sizeof plot_peers / sizeof plot_peers[0]; i++) {
        fprintf(out, "\"%s\"", plot_peers[i].label);
        snprintf(id, sizeof id, "%s.per_s", plot_peers[i].id);
        write_point(out, rep, "sched.tiny", id);
        write_point(out, rep, "sched.busy", id);
        fputc('\n', out);
    }
    fputs("\n\n# index 1: contender, makespan / ideal med min max (one long + short), the same "
          "(heavy-tailed)\n",
          out);
    for (size_t i = 0; i < sizeof plot_mixed / sizeof plot_mixed[0]; i++) {
        fprintf(out, "\"%s\"", plot_mixed[i].label);
        write_point(out, rep, "sched.mixed_long_short", plot_mixed[i].id);
        write_point(out, rep, "sched.mixed_heavy_tail", plot_mixed[i].id);
        fputc('\n', out);
    }
}

static void write_peers_panels(FILE *out, const char *data)
{
    fprintf(out,
            "set multiplot layout 1,2 title \"cfutures' thread pool beside its peers\"\n"
            "reset\nset grid ytics\nset termoption noenhanced\n"
            "set style data histograms\nset style histogram errorbars gap 2 lw 1\n"
            "set style fill solid 0.6 border -1\nset boxwidth 0.9\nset xtics rotate by -30\n"
            "set key top right\nset yrange [0:*]\nset format y \"%%.0s%%c\"\n"
            "set title \"Tiny tasks: throughput (tasks/s, higher is better)\"\n"
            "plot \"%s\" index 0 using 2:3:4:xtic(1) title \"idle machine\", \\\n"
            "     \"\" index 0 using 5:6:7 title \"busy machine (a busy process per CPU)\"\n"
            "reset\nset grid ytics\nset termoption noenhanced\n"
            "set style data histograms\nset style histogram errorbars gap 2 lw 1\n"
            "set style fill solid 0.6 border -1\nset boxwidth 0.9\nset xtics rotate by -30\n"
            "set key top right\nset yrange [0.9:*]\n"
            "set title \"Mixed durations: makespan / ideal (lower is better)\"\n"
            "plot 1 with lines dt 2 lc rgb \"gray\" notitle, \\\n"
            "     \"%s\" index 1 using 2:3:4:xtic(1) title \"one long + 31 short\", \\\n"
            "     \"\" index 1 using 5:6:7 title \"heavy-tailed\"\n"
            "unset multiplot\n",
            data, data);
}

/* <base>-peers.{dat,gp,png,svg}: NULL or why it failed. */
static char *plot_peers_picture(const cf__bench_report *rep, const char *dir, const char *base)
{
    char *data = cf__bench_xasprintf("%s-peers.dat", base);
    char *script = cf__bench_xasprintf("%s-peers.gp", base);
    char *data_path = cf__bench_xasprintf("%s/%s", dir, data);
    char *script_path = cf__bench_xasprintf("%s/%s", dir, script);
    char *failed = NULL;
    FILE *out = fopen(data_path, "we");
    if (out) {
        write_peers_data(out, rep);
        if (fclose(out) != 0)
            failed = cf__bench_xasprintf("writing %s: %s", data_path, strerror(errno));
    } else {
        failed = cf__bench_xasprintf("cannot write %s: %s", data_path, strerror(errno));
    }
    if (!failed) {
        out = fopen(script_path, "we");
        if (out) {
            fprintf(out, "# Draws %s-peers.png and .svg from %s: run `gnuplot %s` here.\n"
                         "set terminal pngcairo size 1400,600 font \"sans,10\"\n"
                         "set output \"%s-peers.png\"\n",
                    base, data, script, base);
            write_peers_panels(out, data);
            fprintf(out, "\nset terminal svg size 1400,600 font \"sans,11\" dynamic\n"
                         "set output \"%s-peers.svg\"\n",
                    base);
            write_peers_panels(out, data);
            if (fclose(out) != 0)
                failed = cf__bench_xasprintf("writing %s: %s", script_path, strerror(errno));
        } else {
            failed = cf__bench_xasprintf("cannot write %s: %s", script_path, strerror(errno));
        }
    }
    if (!failed)
        failed = run_gnuplot(dir, script);
    free(data);
    free(script);
    free(data_path);
    free(script_path);
    return failed;
}

char *cf__bench_plot(const cf__bench_report *rep, const char *dir, const char *base,
                     unsigned workers, size_t max_payload)
{
    char *data = cf__bench_xasprintf("%s.dat", base);
    char *script = cf__bench_xasprintf("%s.gp", base);
    char *data_path = cf__bench_xasprintf("%s/%s", dir, data);
    char *script_path = cf__bench_xasprintf("%s/%s", dir, script);
    char *failed = NULL;
    FILE *out = fopen(data_path, "we");
    if (out) {
        write_data(out, rep, workers, max_payload);
        if (fclose(out) != 0)
            failed = cf__bench_xasprintf("writing %s: %s", data_path, strerror(errno));
    } else {
        failed = cf__bench_xasprintf("cannot write %s: %s", data_path, strerror(errno));
    }
    bool has[4] = {
        has_table(rep, "scaling.tiny", "threads.w1.per_s"),
        has_table(rep, "scaling.cpu", "threads.w1.speedup"),
        has_table(rep, "map.sin", "threads.w1.ms"),
        has_table(rep, "payload", "threads.b8.us"),
    };
    if (!failed) {
        out = fopen(script_path, "we");
        if (out) {
            fprintf(out, "# Draws %s.png and %s.svg from %s: run `gnuplot %s` in this "
                         "directory.\n",
                    base, base, data, script);
            fprintf(out, "set terminal pngcairo size 1400,1000 font \"sans,10\"\n"
                         "set output \"%s.png\"\n",
                    base);
            write_panels(out, data, workers, has);
            fprintf(out, "\nset terminal svg size 1400,1000 font \"sans,11\" dynamic\n"
                         "set output \"%s.svg\"\n",
                    base);
            write_panels(out, data, workers, has);
            if (fclose(out) != 0)
                failed = cf__bench_xasprintf("writing %s: %s", script_path, strerror(errno));
        } else {
            failed = cf__bench_xasprintf("cannot write %s: %s", script_path, strerror(errno));
        }
    }
    if (!failed)
        failed = run_gnuplot(dir, script);
    if (!failed && has_table(rep, "sched.tiny", "cf.per_s"))
        failed = plot_peers_picture(rep, dir, base);
    free(data);
    free(script);
    free(data_path);
    free(script_path);
    return failed;
}
