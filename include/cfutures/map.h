/* cfutures/map.h: map and starmap over C arrays, on any executor.
 *
 *     static double hypot2(double a, double b) { return a * a + b * b; }
 *     CF_TASK(double, hypot2, double, double);
 *
 *     double a[N], b[N], out[N];
 *     rc = cf_map(ex, hypot2, NULL, N, out, a, b);       // out[i] = hypot2(a[i], b[i])
 *
 *     CF_ARGS(hypot2) pairs[N];                          // pairs[i].a0, pairs[i].a1
 *     rc = cf_starmap(ex, hypot2, NULL, N, out, pairs);  // out[i] = hypot2(pairs[i].a0, pairs[i].a1)
 *
 * The elements are cut into chunks of consecutive elements; each chunk runs
 * as one call on the executor, which runs the task once per element, in
 * order. Results land in `out` in input order, whatever order the chunks
 * finish in. The arrays are typed by the task's declaration: an array of the
 * wrong element type does not compile.
 *
 * On a process pool the arrays are not sent element by element: the workers
 * read the inputs and write the results in shared memory, and only a chunk's
 * description travels. Arrays allocated with cf_shared_alloc (shared_memory.h)
 * are used in place; other arrays are copied into shared memory once, a
 * window of chunks at a time, and results copied out once. Tasks with string
 * or byte-buffer parameters send their arguments inside the chunk's message
 * instead (a chunk must then fit in the pool's max_frame_size, or all its
 * elements fail with CF_ETOOBIG: choose chunk_size accordingly). Raw
 * pointer parameters work on thread pools only (CF_EUNSUPPORTED elsewhere).
 *
 * Every form takes an optional cf_map_options right after the task (NULL:
 * the defaults); a compound literal works there:
 *     cf_map(ex, f, &(cf_map_options){.keep_going = true, .status = st}, n, out, in);
 */
#ifndef CFUTURES_MAP_H
#define CFUTURES_MAP_H

#include <stdarg.h>

#include "common.h"
#include "executor.h"
#include "future.h"
#include "task.h"

/* A finished chunk, as the progress and chunk callbacks see it. */
typedef struct cf_map_chunk {
    size_t begin, end;     /* its elements: [begin, end) */
    size_t failed;         /* how many of them failed (or did not run) */
    const void *results;   /* results of elements begin..end-1 (the task's
                              result type), or NULL for a void task or a
                              NULL `out`; valid during the callback only */
} cf_map_chunk;

/* What a map did, filled in when it ends (cf_map_options.report). */
typedef struct cf_map_report {
    size_t succeeded;      /* elements that ran and returned */
    size_t failed;         /* elements that ran and failed (task failure,
                              crash, time limit) */
    size_t not_run;        /* elements never run (stopped, cancelled) */
    size_t first_failed;   /* index of the lowest failed element, or SIZE_MAX */
    int first_code;        /* its error code (CF_ETASK, CF_ECRASHED, ...), or 0 */
    size_t chunks;         /* chunks the map was cut into (and resubmitted) */
} cf_map_report;

/* Settings for one map. Zero-initialise for the defaults. */
typedef struct cf_map_options {
    /* Elements per chunk. 0: ceil(n / (4 * workers)), as Python's
     * multiprocessing.Pool chooses, but no more than fits in 1 MiB of the
     * chunk's working memory (inputs copied, results, statuses), so that
     * progress and memory stay fine-grained on huge arrays; when that cap
     * applies, the chunks are evened out to a multiple of the workers, so
     * that they end together. */
    size_t chunk_size;
    /* Most chunks submitted and not yet finished at any time; the map's
     * memory (copies, statuses) is proportional to it, not to n. 0: four
     * per worker. */
    size_t max_chunks_in_flight;
    /* Seconds the whole map may take, after which no element starts and the
     * map ends with CF_ETIMEDOUT (elements running then are let finish on a
     * thread pool; on a process pool a running element that goes on past the
     * limit is stopped by killing its worker). 0 or CF_FOREVER: none.
     * A process pool's per-task time limit (task_timeout) does not apply to
     * a map's chunks: this is the limit that bounds them. */
    double timeout;
    /* false (default): the first failing element stops the map: no new
     * element starts, chunks not started are cancelled, and the map reports
     * that element's error. true: every element runs; failures are counted
     * and the map reports the lowest failing element's error at the end. */
    bool keep_going;
    /* NULL, or n ints: each element's outcome once the map ends: 0 for
     * success, its error code otherwise (CF_ETASK, CF_ECRASHED,
     * CF_ETASKTIMEOUT, ...; CF_ECANCELLED for an element that never ran). */
    int *status;
    /* NULL, or where to put the counts when the map ends. */
    cf_map_report *report;
    /* Called after each chunk finishes with the number of elements finished
     * so far (in any order) and the total (SIZE_MAX while a generator's end
     * is not known). NULL: none. */
    void (*progress)(size_t done, size_t total, void *arg);
    /* Called with each finished chunk (the "unordered" form: in the order
     * chunks finish, like Python's imap_unordered; with ordered_chunks, in
     * input order, like imap). NULL: none. */
    void (*on_chunk)(const cf_map_chunk *chunk, void *arg);
    bool ordered_chunks;
    void *arg;             /* passed to progress and on_chunk */
} cf_map_options;

/* Produces the elements of a generated map (cf_map_generate): write up to
 * `max` argument tuples (CF_ARGS(task)) at `tuples` for elements `first`,
 * first+1, ... and return how many were written; 0 ends the input. To fail
 * the map instead (a read error, bad input), call cf_map_source_fail() and
 * return (the return value is then ignored). */
typedef size_t (*cf_map_source_fn)(void *tuples, size_t max, size_t first, void *arg);

/* Callback contract (progress, on_chunk): they run one at a time, never
 * concurrently, and never with the map's lock held. They must not wait for
 * the map itself. For cf_map, cf_starmap and cf_map_generate they run in the
 * calling thread, before the call returns; for the _async forms, in the
 * thread that finished the chunk (a thread-pool worker or the process
 * pool's dispatcher: keep them short). */

/* Run task over n elements and wait for the end:
 *     cf_map(ex, task, opts, n, out, in0, in1, ...)
 * out[i] = task(in0[i], in1[i], ...): one input array per parameter (zip),
 * each of the parameter's type; out an array of n results (NULL to drop the
 * results; NULL for a void task). A task without parameters runs n times.
 * The arrays must stay valid, and out untouched, until the call returns.
 * String and byte-buffer results follow task.h's ownership rule: out[i] is
 * a malloc'ed copy the caller frees with free() (out[i].data for cf_bytes),
 * NULL for an element that did not succeed.
 * Returns 0 when every element succeeded, or:
 *   the failing element's code (CF_ETASK when it called cf_task_fail,
 *   CF_ECRASHED when its worker process died in it, CF_ETASKTIMEOUT, ...):
 *   cf_last_error() names the element ("element 17 of the map of task
 *   'f': ..."); with keep_going, the lowest failing element's;
 *   CF_ETIMEDOUT (options.timeout passed), CF_EINTERRUPTED (cf_interrupt_waits(),
 *   wait.h: the map stopped as on a timeout),
 *   CF_EINVAL (NULL executor; NULL input array with n > 0; a NaN timeout;
 *   an n whose arrays would exceed PTRDIFF_MAX bytes),
 *   CF_ETOOBIG (chunk_size or max_chunks_in_flight so large that the chunks'
 *   working memory cannot even be sized),
 *   CF_EUNSUPPORTED (on a process pool: a raw pointer parameter, or a
 *   string, byte-buffer or pointer result), CF_ESHUTDOWN, CF_EBROKEN, -ENOMEM,
 *   -EMFILE (no file descriptor for shared memory), CF_EDEADLOCK (called
 *   from one of the executor's own workers, where waiting could starve it).
 * After a failure, out[i] holds the result of every element whose status
 * is 0; other elements of out are unspecified. */
#define cf_map(ex, ...) CF__MAP_CALL(cf__map_, NULL, false, ex, __VA_ARGS__)

/* cf_map over an array of argument tuples, one per element:
 *     cf_starmap(ex, task, opts, n, out, tuples)
 * with `tuples` a CF_ARGS(task) array: out[i] = task(tuples[i].a0, ...).
 * Errors: as cf_map. */
#define cf_starmap(ex, ...) CF__MAP_CALL(cf__starmap_, NULL, false, ex, __VA_ARGS__)

/* The asynchronous forms (Python's map_async): start the map and return at
 * once; *fut gets a future (void result) that finishes when the map ends,
 * successfully or with the error cf_map would have returned (its cf_error
 * names the element). The arrays must stay valid, and out untouched, until
 * the future is done. The future stays PENDING while the map runs, so that
 * cf_future_cancel() (or cf_future_cancel_running) stops the map: it returns
 * true, the future is CANCELLED (cf_future_result gives CF_ECANCELLED), no
 * element starts any more, chunks not started are cancelled, and the call
 * returns only once the elements running at that moment have returned, so
 * the arrays may be freed right after it. (Called from the map's own
 * progress or on_chunk callback, it returns at once: the map stops after the
 * callback.) options.status and options.report, when given, are filled in
 * as the map winds down (CF_ECANCELLED for elements that never ran).
 * Errors (the map did not start; *fut is NULL): as cf_map's argument and
 * executor errors, and CF_EINVAL for a NULL fut. */
#define cf_map_async(fut, ex, ...) CF__MAP_CALL(cf__map_, fut, true, ex, __VA_ARGS__)
#define cf_starmap_async(fut, ex, ...) CF__MAP_CALL(cf__starmap_, fut, true, ex, __VA_ARGS__)

/* The lazy form, for inputs that do not fit in memory: elements come from
 * `source` (called in the calling thread, as room frees up in the window of
 * chunks in flight) and results go to opts->on_chunk, which is required
 * (results are valid only during that call). Memory stays bounded by
 * max_chunks_in_flight * chunk_size elements whatever the input's length.
 * Default chunk_size here: 4096 elements.
 *     cf_map_generate(ex, task, opts, source, source_arg)
 * String and byte-buffer results are copies freed after on_chunk returns.
 * Errors: as cf_map; CF_EINVAL also for a NULL source or on_chunk, for a
 * task without parameters, and for a status array (n is not known); the
 * code the source gave cf_map_source_fail(), with its message ("the map of
 * task 'f' stopped: its source failed at element 4096: <message>"). */
#define cf_map_generate(ex, task, ...)                                             \
    cf__map_generate((ex), &CF__CAT(cf__task_, task), __VA_ARGS__)

/* ---- Internal -------------------------------------------------------------- */

#ifdef __cplusplus
#define CF__MAP_CALL(prefix, fut, async, ex, ...)                                  \
    CF__CAT(prefix, CF__FIRST(__VA_ARGS__))((fut), (async), (ex), __VA_ARGS__)
#else
#define CF__MAP_CALL(prefix, fut, async, ex, ...)                                  \
    (__extension__({                                                               \
        _Pragma("GCC diagnostic push")                                             \
        _Pragma("GCC diagnostic error \"-Wint-conversion\"")                       \
        _Pragma("GCC diagnostic error \"-Wincompatible-pointer-types\"")           \
        _Pragma("GCC diagnostic error \"-Wimplicit-function-declaration\"")        \
        int cf__map_rc_ =                                                          \
            CF__CAT(prefix, CF__FIRST(__VA_ARGS__))((fut), (async), (ex), __VA_ARGS__); \
        _Pragma("GCC diagnostic pop") cf__map_rc_;                                 \
    }))
#endif

CF_BEGIN_DECLS
/* Call from inside a cf_map_generate source to fail the map: the source is
 * not called again, no element starts, chunks not started are cancelled,
 * and cf_map_generate returns `code` (a negative code; anything else becomes
 * CF_ETASK) with the formatted message. The source should return right
 * after (its return value is ignored). Calling it twice keeps the last.
 * Returns 0, CF_ESTATE outside a source, or -ENOMEM when the message could
 * not be stored (the map still fails). */
CF_EXTERN int cf_map_source_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
CF_EXTERN int cf_map_source_failv(int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

CF_EXTERN int cf__map_generate(cf_executor *ex, const cf_task *task, const cf_map_options *opts,
                               cf_map_source_fn source, void *source_arg);
CF_END_DECLS

#endif
