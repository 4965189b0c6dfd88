/* bench_payload.c: the cost of moving arguments and results, from 8 bytes
 * to the largest payload, on the process pool and the thread pool.
 *
 * Design notes: one table. The task echoes a cf_bytes argument back as its
 * result, so a round trip carries the payload both ways: on the thread
 * pool it is copied at submit and at return; on the process pool it is
 * also serialized into the worker's socketpair and back. For each size,
 * both pools (T workers, created once) run the same number of serial round
 * trips per run, taking turns going first; R measured runs after one
 * warm-up run, the ratio taken within each run. The result's length and
 * its first and last bytes are checked on every round trip, the whole
 * buffer once per size and run.
 */
#include "config.h"

#include <cfutures.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_stats.h"

static cf_bytes echo_bytes(cf_bytes b)
{
    return b;
}
CF_TASK(cf_bytes, echo_bytes, cf_bytes);

/* `trips` round trips of the payload; the last result compared in full. */
static int64_t echo_trips(cf_executor *ex, const unsigned char *payload, size_t size,
                          size_t trips)
{
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < trips; i++) {
        cf_future *f;
        int rc = cf_submit(&f, ex, echo_bytes, (cf_bytes){payload, size});
        if (rc != 0)
            cf__bench_cf_failed("cf_submit", rc);
        cf_bytes back;
        rc = cf_future_result(f, &back, CF_FOREVER);
        if (rc != 0)
            cf__bench_cf_failed("cf_future_result", rc);
        const unsigned char *got = back.data;
        if (back.len != size || got[0] != payload[0] || got[size - 1] != payload[size - 1] ||
            (i + 1 == trips && memcmp(got, payload, size) != 0))
            cf__bench_die("echo of %zu bytes: a different payload came back (%zu bytes)", size,
                          back.len);
        cf_future_release(f);
    }
    return cf__bench_now_ns() - start;
}

/* Round trips per run for a payload of `size` bytes: about `budget` bytes
 * each way, at least 5, at most 2000. */
static size_t trips_for(size_t size, size_t budget)
{
    size_t trips = budget / size;
    return trips < 5 ? 5 : trips > 2000 ? 2000 : trips;
}

static void format_size(size_t size, char *buf, size_t len)
{
    if (size >= (1u << 20) && size % (1u << 20) == 0)
        snprintf(buf, len, "%zu MiB", size >> 20);
    else if (size >= 1024 && size % 1024 == 0)
        snprintf(buf, len, "%zu KiB", size >> 10);
    else
        snprintf(buf, len, "%zu B", size);
}

static void payload_run(const cf__bench_options *o, cf__bench_report *rep)
{
    size_t nsizes = 0;
    for (size_t s = 8; s <= o->max_payload; s *= 8)
        nsizes++;
    size_t budget = o->quick ? (8u << 20) : (64u << 20);
    unsigned char *payload = cf__bench_xcalloc(o->max_payload, 1);
    for (size_t i = 0; i < o->max_payload; i++)
        payload[i] = (unsigned char)(i * 131 + 7);
    cf_executor *tp = cf__bench_cf_pool(false, o->threads);
    cf_executor *pp = cf__bench_cf_pool(true, o->threads);

    char *title = cf__bench_xasprintf("Payload size: a cf_bytes argument echoed back as the "
                                      "result, serial round trips, %u worker%s",
                                      o->threads, cf__bench_plural(o->threads));
    cf__bench_table *t = cf__bench_table_add(rep, "payload", title);
    free(title);
    size_t size = 8;
    for (size_t k = 0; k < nsizes; k++, size *= 8) {
        size_t trips = trips_for(size, budget);
        char size_text[32];
        format_size(size, size_text, sizeof size_text);
        char *name = cf__bench_xasprintf("payload %s", size_text);
        cf__bench_series thread_us = {0}, process_us = {0}, thread_mbs = {0},
                         process_mbs = {0}, ratio = {0};
        for (unsigned run = 0; run <= o->runs; run++) {
            cf__bench_progress_run("payload", name, run, o->runs);
            int64_t t_ns, p_ns;
            if (run % 2 == 0) {
                t_ns = echo_trips(tp, payload, size, trips);
                p_ns = echo_trips(pp, payload, size, trips);
            } else {
                p_ns = echo_trips(pp, payload, size, trips);
                t_ns = echo_trips(tp, payload, size, trips);
            }
            if (run == 0)
                continue;
            double moved = 2.0 * (double)size * (double)trips / (1 << 20);
            cf__bench_series_add(&thread_us, (double)t_ns / (double)trips * 1e-3);
            cf__bench_series_add(&process_us, (double)p_ns / (double)trips * 1e-3);
            cf__bench_series_add(&thread_mbs, moved / ((double)t_ns * 1e-9));
            cf__bench_series_add(&process_mbs, moved / ((double)p_ns * 1e-9));
            cf__bench_series_add(&ratio, (double)p_ns / (double)t_ns);
        }
        free(name);
        char id[64];
        char *label = cf__bench_xasprintf("%s: thread pool round trip", size_text);
        snprintf(id, sizeof id, "threads.b%zu.us", size);
        cf__bench_table_figure(t, id, label, "us", &thread_us, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("%s: process pool round trip", size_text);
        snprintf(id, sizeof id, "process.b%zu.us", size);
        cf__bench_table_figure(t, id, label, "us", &process_us, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("%s: thread pool, payload both ways", size_text);
        snprintf(id, sizeof id, "threads.b%zu.mib_s", size);
        cf__bench_table_figure(t, id, label, "MiB/s", &thread_mbs, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("%s: process pool, payload both ways", size_text);
        snprintf(id, sizeof id, "process.b%zu.mib_s", size);
        cf__bench_table_figure(t, id, label, "MiB/s", &process_mbs, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("%s: process pool / thread pool (us)", size_text);
        snprintf(id, sizeof id, "ratio.b%zu.process_over_threads", size);
        cf__bench_table_figure(t, id, label, "x", &ratio, cf__bench_no_target);
        free(label);
        cf__bench_series_free(&thread_us);
        cf__bench_series_free(&process_us);
        cf__bench_series_free(&thread_mbs);
        cf__bench_series_free(&process_mbs);
        cf__bench_series_free(&ratio);
    }
    cf__bench_table_note(t, "us: elapsed microseconds per round trip (cf_submit, "
                            "cf_future_result, cf_future_release) carrying the payload to the "
                            "task and back as its result; MiB/s counts both directions. Round "
                            "trips per run: about %zu MiB each way, between 5 and 2000.",
                         budget >> 20);
    cf__bench_table_note(t, "The difference between the pools is the cost of serialization "
                            "and of the socketpair: the thread pool copies the bytes at submit "
                            "and at return, the process pool also writes them through the "
                            "worker's socket both ways.");
    cf_executor_free(pp);
    cf_executor_free(tp);
    free(payload);
}

const cf__bench_section cf__bench_payload_section = {
    .name = "payload",
    .run = payload_run,
};
