/* bench_glib.h: the GThreadPool side of the thread-pool comparisons.
 *
 * The workloads mirror those of bench_threads.c on cfutures: the same tiny
 * task (add two ints) and the same counts. GLib has no futures: an item's
 * result goes into a slot the caller owns, and completion is signalled as
 * described at each function. Built without GLib, cf__bench_glib_available()
 * says why and the other functions must not be called.
 */
#ifndef CF_BENCH_GLIB_H
#define CF_BENCH_GLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_stats.h"

/* True when GLib was found at configure time; *detail gets its version
 * ("GLib 2.74.6"), or the reason it is missing. */
bool cf__bench_glib_available(const char **detail);

typedef struct cf__bench_glib_pool cf__bench_glib_pool;

/* A pool of `threads` threads of its own (exclusive GThreadPool). */
cf__bench_glib_pool *cf__bench_glib_pool_new(unsigned threads);
/* Wait for queued items, stop the threads, free. */
void cf__bench_glib_pool_free(cf__bench_glib_pool *pool);

/* Push n tiny items (each writes a + b into its own slot and bumps an atomic
 * completion counter; the last one signals a condition variable), wait for
 * all, then read and check every slot. Returns what that cost. */
cf__bench_cost cf__bench_glib_tiny(cf__bench_glib_pool *pool, size_t n);

/* m times: push one item, wait on a condition variable until it is done;
 * with idle_ns > 0, sleep that long before each (see cf__bench_serial).
 * Returns what that cost. */
cf__bench_cost cf__bench_glib_roundtrip(cf__bench_glib_pool *pool, size_t m, int64_t idle_ns);

/* In a fresh process: with a one-thread pool blocked on a gate, push n
 * tiny items and measure the RSS growth per queued item (the items' own
 * slots are allocated and touched before the first RSS reading, so only
 * the queue's memory counts) and the time per push; then open the gate and
 * drain. */
void cf__bench_glib_pending(size_t n, double *bytes_per_item, double *ns_per_push);

#endif
