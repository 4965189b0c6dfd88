/* bench_report.c: the report of a cf-bench run and its three writers.
 *
 * Design notes: the report owns copies of every string and sample given to
 * it; arrays grow by doubling. Summaries are computed once, when a figure
 * is added, so the three writers show the same numbers. Only the thread
 * running the sections touches the report.
 */
#include "config.h"

#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct figure {
    char *id;
    char *label;
    char *unit;
    double *samples;
    size_t nsamples;
    cf__bench_summary summary;
    cf__bench_target target;
    char *skipped; /* why it was not measured; NULL when it was */
} figure;

struct cf__bench_table {
    char *id;
    char *title;
    char **notes;
    size_t nnotes, notes_cap;
    figure *figures;
    size_t nfigures, figures_cap;
};

typedef struct description {
    char *key;
    char *value;
} description;

struct cf__bench_report {
    description *desc;
    size_t ndesc, desc_cap;
    cf__bench_table **tables;
    size_t ntables, tables_cap;
};

/* Make room for one more element in an array of n elements of `elem` bytes. */
static void *grow(void *array, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return array;
    size_t new_cap = *cap ? 2 * *cap : 8;
    void *grown = realloc(array, new_cap * elem);
    if (!grown)
        cf__bench_die("out of memory");
    *cap = new_cap;
    return grown;
}

cf__bench_report *cf__bench_report_new(void)
{
    return cf__bench_xcalloc(1, sizeof(cf__bench_report));
}

void cf__bench_report_free(cf__bench_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->ndesc; i++) {
        free(rep->desc[i].key);
        free(rep->desc[i].value);
    }
    free(rep->desc);
    for (size_t i = 0; i < rep->ntables; i++) {
        cf__bench_table *t = rep->tables[i];
        for (size_t j = 0; j < t->nnotes; j++)
            free(t->notes[j]);
        for (size_t j = 0; j < t->nfigures; j++) {
            figure *f = &t->figures[j];
            free(f->id);
            free(f->label);
            free(f->unit);
            free(f->samples);
            free(f->skipped);
        }
        free(t->notes);
        free(t->figures);
        free(t->id);
        free(t->title);
        free(t);
    }
    free(rep->tables);
    free(rep);
}

void cf__bench_report_describe(cf__bench_report *rep, const char *key, const char *value)
{
    rep->desc = grow(rep->desc, rep->ndesc, &rep->desc_cap, sizeof *rep->desc);
    rep->desc[rep->ndesc++] = (description){cf__bench_xstrdup(key), cf__bench_xstrdup(value)};
}

cf__bench_table *cf__bench_table_add(cf__bench_report *rep, const char *id, const char *title)
{
    rep->tables = grow(rep->tables, rep->ntables, &rep->tables_cap, sizeof *rep->tables);
    cf__bench_table *t = cf__bench_xcalloc(1, sizeof *t);
    t->id = cf__bench_xstrdup(id);
    t->title = cf__bench_xstrdup(title);
    rep->tables[rep->ntables++] = t;
    return t;
}

void cf__bench_table_note(cf__bench_table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *note;
    int rc = vasprintf(&note, fmt, ap);
    va_end(ap);
    if (rc < 0)
        cf__bench_die("out of memory");
    t->notes = grow(t->notes, t->nnotes, &t->notes_cap, sizeof *t->notes);
    t->notes[t->nnotes++] = note;
}

static figure *new_figure(cf__bench_table *t, const char *id, const char *label, const char *unit)
{
    t->figures = grow(t->figures, t->nfigures, &t->figures_cap, sizeof *t->figures);
    figure *f = &t->figures[t->nfigures++];
    *f = (figure){
        .id = cf__bench_xstrdup(id),
        .label = cf__bench_xstrdup(label),
        .unit = cf__bench_xstrdup(unit),
    };
    return f;
}

void cf__bench_table_figure(cf__bench_table *t, const char *id, const char *label,
                            const char *unit, const cf__bench_series *s, cf__bench_target target)
{
    if (s->n == 0)
        cf__bench_die("figure %s has no samples", id);
    figure *f = new_figure(t, id, label, unit);
    f->samples = cf__bench_xcalloc(s->n, sizeof *f->samples);
    memcpy(f->samples, s->samples, s->n * sizeof *f->samples);
    f->nsamples = s->n;
    f->summary = cf__bench_summarize(s->samples, s->n);
    f->target = target;
}

void cf__bench_table_skipped(cf__bench_table *t, const char *id, const char *label,
                             const char *reason)
{
    figure *f = new_figure(t, id, label, "");
    f->skipped = cf__bench_xstrdup(reason);
}

bool cf__bench_report_find(const cf__bench_report *rep, const char *table,
                           const char *figure_id, cf__bench_summary *out)
{
    for (size_t i = 0; i < rep->ntables; i++) {
        const cf__bench_table *t = rep->tables[i];
        if (strcmp(t->id, table) != 0)
            continue;
        for (size_t j = 0; j < t->nfigures; j++) {
            const figure *f = &t->figures[j];
            if (strcmp(f->id, figure_id) == 0 && !f->skipped) {
                *out = f->summary;
                return true;
            }
        }
    }
    return false;
}

/* ---- Formatting ------------------------------------------------------------ */

/* A number for people: thousands grouped from 10,000 up, else 3 significant digits. */
static void format_number(double v, char *buf, size_t size)
{
    if (!isfinite(v)) {
        snprintf(buf, size, "-");
        return;
    }
    double mag = fabs(v);
    if (mag < 10000) {
        int decimals = mag >= 100 ? 0 : mag >= 10 ? 1 : 2;
        snprintf(buf, size, "%.*f", decimals, v);
        return;
    }
    char digits[64];
    snprintf(digits, sizeof digits, "%.0f", mag);
    size_t len = strlen(digits), out = 0;
    if (v < 0 && out + 1 < size)
        buf[out++] = '-';
    for (size_t i = 0; i < len && out + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
}

static void format_target(const cf__bench_target *target, char *buf, size_t size)
{
    char num[48];
    format_number(target->value, num, sizeof num);
    switch (target->kind) {
    case CF__BENCH_AT_LEAST:
        snprintf(buf, size, ">= %s", num);
        break;
    case CF__BENCH_AT_MOST:
        snprintf(buf, size, "<= %s", num);
        break;
    case CF__BENCH_NO_TARGET:
        buf[0] = '\0';
        break;
    }
}

/* "met", "missed by 12%", or "" without a target. */
static void format_verdict(const figure *f, char *buf, size_t size)
{
    double median = f->summary.median, goal = f->target.value;
    double shortfall;
    switch (f->target.kind) {
    case CF__BENCH_AT_LEAST:
        shortfall = median >= goal ? 0 : (goal - median) / goal;
        break;
    case CF__BENCH_AT_MOST:
        shortfall = median <= goal ? 0 : (median - goal) / goal;
        break;
    case CF__BENCH_NO_TARGET:
    default:
        buf[0] = '\0';
        return;
    }
    if (shortfall == 0)
        snprintf(buf, size, "met");
    else
        snprintf(buf, size, "missed by %.0f%%", shortfall * 100);
}

void cf__bench_report_print(const cf__bench_report *rep, FILE *out)
{
    size_t key_width = 0;
    for (size_t i = 0; i < rep->ndesc; i++)
        if (strlen(rep->desc[i].key) > key_width)
            key_width = strlen(rep->desc[i].key);
    for (size_t i = 0; i < rep->ndesc; i++)
        fprintf(out, "  %-*s  %s\n", (int)key_width, rep->desc[i].key, rep->desc[i].value);

    for (size_t i = 0; i < rep->ntables; i++) {
        const cf__bench_table *t = rep->tables[i];
        size_t label_width = strlen("figure"), unit_width = strlen("unit");
        for (size_t j = 0; j < t->nfigures; j++) {
            if (strlen(t->figures[j].label) > label_width)
                label_width = strlen(t->figures[j].label);
            if (strlen(t->figures[j].unit) > unit_width)
                unit_width = strlen(t->figures[j].unit);
        }
        fprintf(out, "\n%s\n", t->title);
        fprintf(out, "  %-*s  %-*s  %12s  %12s  %12s  target\n", (int)label_width, "figure",
                (int)unit_width, "unit", "median", "min", "max");
        for (size_t j = 0; j < t->nfigures; j++) {
            const figure *f = &t->figures[j];
            if (f->skipped) {
                fprintf(out, "  %-*s  skipped: %s\n", (int)label_width, f->label, f->skipped);
                continue;
            }
            char median[64], min[64], max[64], target[64], verdict[64];
            format_number(f->summary.median, median, sizeof median);
            format_number(f->summary.min, min, sizeof min);
            format_number(f->summary.max, max, sizeof max);
            format_target(&f->target, target, sizeof target);
            format_verdict(f, verdict, sizeof verdict);
            fprintf(out, "  %-*s  %-*s  %12s  %12s  %12s", (int)label_width, f->label,
                    (int)unit_width, f->unit, median, min, max);
            if (*target)
                fprintf(out, "  %s: %s", target, verdict);
            fputc('\n', out);
        }
        for (size_t j = 0; j < t->nnotes; j++)
            fprintf(out, "  note: %s\n", t->notes[j]);
    }
}

/* ---- CSV ----------------------------------------------------------------- */

static void csv_field(FILE *out, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static void csv_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.10g,", v);
    else
        fputc(',', out);
}

/* Close `out` (opened for writing) and return 0, or -errno if anything failed. */
static int close_written(FILE *out)
{
    int failed = ferror(out);
    int saved = errno;
    if (fclose(out) != 0)
        return -errno;
    return failed ? -(saved ? saved : EIO) : 0;
}

int cf__bench_report_write_csv(const cf__bench_report *rep, const char *path)
{
    FILE *out = fopen(path, "we");
    if (!out)
        return -errno;
    fputs("table,figure,label,unit,median,min,max,runs,target,verdict,skipped\n", out);
    for (size_t i = 0; i < rep->ntables; i++) {
        const cf__bench_table *t = rep->tables[i];
        for (size_t j = 0; j < t->nfigures; j++) {
            const figure *f = &t->figures[j];
            csv_field(out, t->id, false);
            csv_field(out, f->id, false);
            csv_field(out, f->label, false);
            csv_field(out, f->unit, false);
            if (f->skipped) {
                fputs(",,,0,,,", out);
                csv_field(out, f->skipped, true);
                continue;
            }
            csv_number(out, f->summary.median);
            csv_number(out, f->summary.min);
            csv_number(out, f->summary.max);
            fprintf(out, "%zu,", f->summary.n);
            char target[64], verdict[64];
            format_target(&f->target, target, sizeof target);
            format_verdict(f, verdict, sizeof verdict);
            csv_field(out, target, false);
            csv_field(out, verdict, false);
            csv_field(out, "", true);
        }
    }
    return close_written(out);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void json_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.10g", v);
    else
        fputs("null", out);
}

static void json_figure(FILE *out, const figure *f)
{
    fputs("        {\"id\": ", out);
    json_string(out, f->id);
    fputs(", \"label\": ", out);
    json_string(out, f->label);
    if (f->skipped) {
        fputs(", \"skipped\": ", out);
        json_string(out, f->skipped);
        fputs("}", out);
        return;
    }
    fputs(", \"unit\": ", out);
    json_string(out, f->unit);
    fputs(",\n         \"median\": ", out);
    json_number(out, f->summary.median);
    fputs(", \"min\": ", out);
    json_number(out, f->summary.min);
    fputs(", \"max\": ", out);
    json_number(out, f->summary.max);
    fputs(", \"runs\": ", out);
    fprintf(out, "%zu", f->summary.n);
    fputs(",\n         \"samples\": [", out);
    for (size_t k = 0; k < f->nsamples; k++) {
        if (k)
            fputs(", ", out);
        json_number(out, f->samples[k]);
    }
    fputs("]", out);
    if (f->target.kind != CF__BENCH_NO_TARGET) {
        char verdict[64];
        format_verdict(f, verdict, sizeof verdict);
        fputs(",\n         \"target\": {\"op\": ", out);
        json_string(out, f->target.kind == CF__BENCH_AT_LEAST ? ">=" : "<=");
        fputs(", \"value\": ", out);
        json_number(out, f->target.value);
        fputs(", \"verdict\": ", out);
        json_string(out, verdict);
        fputs("}", out);
    }
    fputs("}", out);
}

int cf__bench_report_write_json(const cf__bench_report *rep, const char *path)
{
    FILE *out = fopen(path, "we");
    if (!out)
        return -errno;
    fputs("{\n  \"machine\": {", out);
    for (size_t i = 0; i < rep->ndesc; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        json_string(out, rep->desc[i].key);
        fputs(": ", out);
        json_string(out, rep->desc[i].value);
    }
    fputs("\n  },\n  \"tables\": [", out);
    for (size_t i = 0; i < rep->ntables; i++) {
        const cf__bench_table *t = rep->tables[i];
        fputs(i ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        json_string(out, t->id);
        fputs(", \"title\": ", out);
        json_string(out, t->title);
        fputs(",\n      \"notes\": [", out);
        for (size_t j = 0; j < t->nnotes; j++) {
            fputs(j ? ",\n        " : "\n        ", out);
            json_string(out, t->notes[j]);
        }
        fputs("],\n      \"figures\": [", out);
        for (size_t j = 0; j < t->nfigures; j++) {
            fputs(j ? ",\n" : "\n", out);
            json_figure(out, &t->figures[j]);
        }
        fputs("]}", out);
    }
    fputs("\n  ]\n}\n", out);
    return close_written(out);
}
