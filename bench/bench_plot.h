/* bench_plot.h: the report's figures as pictures, drawn by gnuplot. */
#ifndef CF_BENCH_PLOT_H
#define CF_BENCH_PLOT_H

#include "bench_report.h"

/* Write <dir>/<base>.dat and <dir>/<base>.gp from the figures of rep (the
 * scaling, map and payload tables; absent figures are left out of the
 * curves), then run gnuplot in dir to draw <base>.png and <base>.svg.
 * Returns NULL when both pictures were drawn, or why not (the caller frees
 * it). */
char *cf__bench_plot(const cf__bench_report *rep, const char *dir, const char *base,
                     unsigned workers, size_t max_payload);

#endif
