/* bench_report.h: the results of a cf-bench run, and the writers that print
 * them as aligned tables and save them as CSV and JSON.
 *
 * A report holds a description of the machine (key/value pairs, in order)
 * and tables; a table holds figures (each a series of samples, summarized as
 * median/min/max, with an optional target) and notes; a figure that could
 * not be measured is kept as skipped, with the reason. Every string given
 * is copied. Not thread-safe: sections fill the report from one thread.
 */
#ifndef CF_BENCH_REPORT_H
#define CF_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "bench_stats.h"

typedef enum cf__bench_target_kind {
    CF__BENCH_NO_TARGET = 0,
    CF__BENCH_AT_LEAST, /* the median should be >= value */
    CF__BENCH_AT_MOST,  /* the median should be <= value */
} cf__bench_target_kind;

typedef struct cf__bench_target {
    cf__bench_target_kind kind;
    double value;
} cf__bench_target;

typedef struct cf__bench_report cf__bench_report;
typedef struct cf__bench_table cf__bench_table;

cf__bench_report *cf__bench_report_new(void);
void cf__bench_report_free(cf__bench_report *rep);

/* Add one line of the machine and run description ("cpu", "AMD EPYC"). */
void cf__bench_report_describe(cf__bench_report *rep, const char *key, const char *value);

/* Add a table. `id` is machine-readable ("threads.tiny"), `title` is for people. */
cf__bench_table *cf__bench_table_add(cf__bench_report *rep, const char *id, const char *title);

/* Add a note printed under the table (what is compared, what is not). */
void cf__bench_table_note(cf__bench_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add a figure: `id` machine-readable ("cf.tasks_per_s"), `label` for
 * people, `unit` ("tasks/s"), the samples of its measured runs (n >= 1). */
void cf__bench_table_figure(cf__bench_table *t, const char *id, const char *label,
                            const char *unit, const cf__bench_series *s, cf__bench_target target);

/* Add a figure that was not measured, and why. */
void cf__bench_table_skipped(cf__bench_table *t, const char *id, const char *label,
                             const char *reason);

/* The summary of the figure `figure_id` of table `table`, into *out. False
 * when there is no such figure or it was skipped. */
bool cf__bench_report_find(const cf__bench_report *rep, const char *table,
                           const char *figure_id, cf__bench_summary *out);

/* The aligned tables, with the description first. */
void cf__bench_report_print(const cf__bench_report *rep, FILE *out);

/* One row per figure: table,figure,label,unit,median,min,max,runs,target,verdict,skipped.
 * Returns 0 or -errno. */
int cf__bench_report_write_csv(const cf__bench_report *rep, const char *path);

/* {"machine": {...}, "tables": [{"id", "title", "notes", "figures": [...]}]},
 * every figure with its samples. Returns 0 or -errno. */
int cf__bench_report_write_json(const cf__bench_report *rep, const char *path);

#endif
