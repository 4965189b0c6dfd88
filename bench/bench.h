/* bench.h: what every part of cf-bench shares: the options, the section
 * interface, progress, errors and allocation.
 *
 * A section is one family of workloads (the thread pool against GThreadPool,
 * the process pool against Python, scaling by worker count, map against
 * OpenMP and Python, payload sizes). It
 * measures each figure in R runs after one warm-up run and adds its tables
 * to the report (bench_report.h), which prints them and writes CSV and JSON.
 * To add a section: write bench/bench_<family>.c defining a cf__bench_section
 * and list it in bench_main.c's table of sections.
 */
#ifndef CF_BENCH_H
#define CF_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_report.h"

typedef struct cf__bench_options {
    bool quick;        /* a few seconds in all: small counts, 3 runs */
    unsigned runs;     /* measured runs per figure, after one warm-up run */
    unsigned threads;  /* worker threads of every pool compared */
    size_t tasks;      /* tiny tasks per throughput run */
    size_t roundtrips; /* round trips per latency run */
    size_t pending;    /* pending futures per memory run */
    size_t cpu_tasks;  /* CPU-bound tasks per scaling run */
    size_t map_elements;     /* doubles in the CPU-bound map */
    size_t empty_elements;   /* ints in the near-empty map */
    size_t bounded_elements; /* elements of the bounded (generated) map */
    size_t max_payload;      /* largest payload, in bytes */
    const char *self;  /* this program, re-run for measurements in a fresh process */
} cf__bench_options;

typedef struct cf__bench_section {
    const char *name; /* short identifier: "threads" */
    /* Measure and add tables to rep. Exits with a message when something
     * the measurement needs fails (a benchmark's figures are worthless
     * after an unexpected error). */
    void (*run)(const cf__bench_options *opts, cf__bench_report *rep);
    /* Measurements that must start in a fresh process: cf-bench re-runs
     * itself as `cf-bench --child <section> <argument> <count>` and this
     * prints one line of results on stdout. Returns the exit status. NULL
     * when the section has none. */
    int (*child)(const char *argument, size_t count);
} cf__bench_section;

extern const cf__bench_section cf__bench_threads_section;
extern const cf__bench_section cf__bench_process_section;
extern const cf__bench_section cf__bench_scaling_section;
extern const cf__bench_section cf__bench_map_section;
extern const cf__bench_section cf__bench_payload_section;
extern const cf__bench_section cf__bench_sched_section;

/* Run `self --child <section> <argument> <count>` and read its one line of
 * output into line[size] (newline removed). Exits with a message on failure. */
void cf__bench_run_child(const cf__bench_options *opts, const char *section, const char *argument,
                         size_t count, char *line, size_t size);

/* Progress for the reader, on stderr: on a terminal, one line rewritten in
 * place, led by a bar of the sections done; otherwise one line each. */
void cf__bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "cf-bench: <message>" on stderr and exit(1). */
_Noreturn void cf__bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that exits with a message when memory runs out. */
void *cf__bench_xcalloc(size_t n, size_t size);
char *cf__bench_xstrdup(const char *s);
char *cf__bench_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
