/* bench_glib.c: the GThreadPool side of the thread-pool comparisons.
 *
 * Design notes: one GThreadPool with exclusive threads per cf__bench_glib_pool,
 * one worker function for every item. What a finished item does depends on
 * the pool's mode, which the measuring thread sets while no item is in
 * flight (the push that follows publishes it to the workers):
 *   COUNT      bump `completed`; the item that reaches `expected` takes the
 *              mutex and signals `cond` (the measuring thread waits on it);
 *   ROUNDTRIP  take the mutex, set `roundtrip_done`, signal `cond`.
 * The gate item (pending-memory run) blocks its worker until the measuring
 * thread opens the gate; `gate_started` and `gate_open` are guarded by `mu`.
 * Items live in arrays the measuring thread owns; the pool only borrows them.
 * Our own signalling uses pthread mutexes and condition variables (as the
 * floor in bench_threads.c does), so that ThreadSanitizer sees it. GLib's
 * own synchronization (futexes inside an uninstrumented library) is told to
 * ThreadSanitizer with the two HANDOFF annotations below.
 */
#include "config.h"

#include "bench_glib.h"

#ifdef HAVE_GLIB

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_stats.h"

#if defined(__SANITIZE_THREAD__)
#define CF_BENCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CF_BENCH_TSAN 1
#endif
#endif

#ifdef CF_BENCH_TSAN
#include <sanitizer/tsan_interface.h>
/* An item pushed is seen complete by the worker that runs it; once
 * g_thread_pool_free() returns, every worker is done with the pool. */
#define HANDOFF_RELEASE(addr) __tsan_release(addr)
#define HANDOFF_ACQUIRE(addr) __tsan_acquire(addr)

/* ThreadSanitizer's hook for built-in suppressions: GLib is not
 * instrumented, so the allocations it makes in one thread and frees in
 * another look unsynchronized. Ignore what GLib itself does. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libglib-2.0.so\n";
}
#else
#define HANDOFF_RELEASE(addr) ((void)(addr))
#define HANDOFF_ACQUIRE(addr) ((void)(addr))
#endif

typedef struct item {
    int a;
    int b;
    int result;
} item;

typedef enum pool_mode { MODE_COUNT, MODE_ROUNDTRIP } pool_mode;

struct cf__bench_glib_pool {
    GThreadPool *pool;
    pool_mode mode;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    atomic_size_t completed; /* COUNT: items finished since the run began */
    size_t expected;         /* COUNT: items pushed in this run */
    bool roundtrip_done;     /* ROUNDTRIP: guarded by mu */
    item *gate;              /* the item that blocks on the gate, or NULL */
    bool gate_started;       /* guarded by mu */
    bool gate_open;          /* guarded by mu */
};

bool cf__bench_glib_available(const char **detail)
{
    static char version[64];
    snprintf(version, sizeof version, "GLib %u.%u.%u", glib_major_version, glib_minor_version,
             glib_micro_version);
    *detail = version;
    return true;
}

static void hold_gate(cf__bench_glib_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->gate_started = true;
    pthread_cond_broadcast(&p->cond);
    while (!p->gate_open)
        pthread_cond_wait(&p->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void run_item(gpointer data, gpointer user_data)
{
    item *it = data;
    cf__bench_glib_pool *p = user_data;
    HANDOFF_ACQUIRE(it);
    if (it == p->gate) {
        hold_gate(p);
        HANDOFF_RELEASE(p);
        return;
    }
    /* Read the run's parameters before completing: once the last item of a
     * run completes, the measuring thread may start the next run. */
    pool_mode mode = p->mode;
    size_t expected = p->expected;
    it->result = it->a + it->b;
    if (mode == MODE_COUNT) {
        if (atomic_fetch_add_explicit(&p->completed, 1, memory_order_acq_rel) + 1 == expected) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cond);
            pthread_mutex_unlock(&p->mu);
        }
    } else {
        pthread_mutex_lock(&p->mu);
        p->roundtrip_done = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mu);
    }
    HANDOFF_RELEASE(p);
}

cf__bench_glib_pool *cf__bench_glib_pool_new(unsigned threads)
{
    cf__bench_glib_pool *p = cf__bench_xcalloc(1, sizeof *p);
    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc == 0)
        rc = pthread_cond_init(&p->cond, NULL);
    if (rc != 0)
        cf__bench_die("pthread_mutex_init/pthread_cond_init: %s", strerror(rc));
    atomic_init(&p->completed, 0);
    GError *err = NULL;
    p->pool = g_thread_pool_new(run_item, p, (gint)threads, TRUE, &err);
    if (!p->pool)
        cf__bench_die("g_thread_pool_new: %s", err ? err->message : "failed");
    return p;
}

void cf__bench_glib_pool_free(cf__bench_glib_pool *p)
{
    g_thread_pool_free(p->pool, FALSE, TRUE);
    /* Let GLib end the threads it keeps for reuse, so none outlives the run. */
    g_thread_pool_set_max_unused_threads(0);
    g_thread_pool_stop_unused_threads();
    HANDOFF_ACQUIRE(p);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void push(cf__bench_glib_pool *p, item *it)
{
    GError *err = NULL;
    HANDOFF_RELEASE(it);
    if (!g_thread_pool_push(p->pool, it, &err))
        cf__bench_die("g_thread_pool_push: %s", err ? err->message : "failed");
}

/* Items a = i (folded into int range), b = 1, allocated and written. */
static item *new_items(size_t n)
{
    item *items = cf__bench_xcalloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = (item){.a = (int)(i & 0xfffff), .b = 1, .result = -1};
    return items;
}

static void start_counting(cf__bench_glib_pool *p, size_t n)
{
    p->mode = MODE_COUNT;
    p->expected = n;
    atomic_store_explicit(&p->completed, 0, memory_order_relaxed);
}

static void wait_counted(cf__bench_glib_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->completed, memory_order_acquire) < p->expected)
        pthread_cond_wait(&p->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void check_items(const item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].result != items[i].a + items[i].b)
            cf__bench_die("GThreadPool item %zu: got %d, want %d", i, items[i].result,
                          items[i].a + items[i].b);
}

cf__bench_cost cf__bench_glib_tiny(cf__bench_glib_pool *p, size_t n)
{
    item *items = new_items(n);
    start_counting(p, n);
    cf__bench_cost start = cf__bench_cost_start();
    for (size_t i = 0; i < n; i++)
        push(p, &items[i]);
    wait_counted(p);
    check_items(items, n);
    cf__bench_cost cost = cf__bench_cost_since(start);
    free(items);
    return cost;
}

typedef struct roundtrip {
    cf__bench_glib_pool *pool;
    item it;
} roundtrip;

static void one_roundtrip(void *ctx, size_t i)
{
    roundtrip *rt = ctx;
    cf__bench_glib_pool *p = rt->pool;
    rt->it = (item){.a = (int)(i & 0xfffff), .b = 1, .result = -1};
    push(p, &rt->it);
    pthread_mutex_lock(&p->mu);
    while (!p->roundtrip_done)
        pthread_cond_wait(&p->cond, &p->mu);
    p->roundtrip_done = false;
    pthread_mutex_unlock(&p->mu);
    if (rt->it.result != rt->it.a + 1)
        cf__bench_die("GThreadPool round trip %zu: got %d, want %d", i, rt->it.result,
                      rt->it.a + 1);
}

cf__bench_cost cf__bench_glib_roundtrip(cf__bench_glib_pool *p, size_t m, int64_t idle_ns)
{
    roundtrip rt = {.pool = p};
    p->mode = MODE_ROUNDTRIP;
    return cf__bench_serial(m, idle_ns, one_roundtrip, &rt);
}

void cf__bench_glib_pending(size_t n, double *bytes_per_item, double *ns_per_push)
{
    cf__bench_glib_pool *p = cf__bench_glib_pool_new(1);
    item gate = {0};
    p->gate = &gate;
    push(p, &gate);
    pthread_mutex_lock(&p->mu);
    while (!p->gate_started)
        pthread_cond_wait(&p->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);

    item *items = new_items(n);
    start_counting(p, n);
    int64_t rss_before = cf__bench_rss_bytes();
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < n; i++)
        push(p, &items[i]);
    int64_t elapsed = cf__bench_now_ns() - start;
    int64_t rss_after = cf__bench_rss_bytes();
    if (rss_before < 0 || rss_after < 0)
        cf__bench_die("cannot read /proc/self/statm");

    pthread_mutex_lock(&p->mu);
    p->gate_open = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    wait_counted(p);
    check_items(items, n);
    cf__bench_glib_pool_free(p);
    free(items);
    *bytes_per_item = (double)(rss_after - rss_before) / (double)n;
    *ns_per_push = (double)elapsed / (double)n;
}

#else /* !HAVE_GLIB */

#include "bench.h"

bool cf__bench_glib_available(const char **detail)
{
    *detail = "GLib (glib-2.0) was not found by pkg-config when configure ran "
              "(Debian package libglib2.0-dev)";
    return false;
}

cf__bench_glib_pool *cf__bench_glib_pool_new(unsigned threads)
{
    (void)threads;
    cf__bench_die("built without GLib");
}

void cf__bench_glib_pool_free(cf__bench_glib_pool *pool)
{
    (void)pool;
    cf__bench_die("built without GLib");
}

cf__bench_cost cf__bench_glib_tiny(cf__bench_glib_pool *pool, size_t n)
{
    (void)pool;
    (void)n;
    cf__bench_die("built without GLib");
}

cf__bench_cost cf__bench_glib_roundtrip(cf__bench_glib_pool *pool, size_t m, int64_t idle_ns)
{
    (void)pool;
    (void)m;
    (void)idle_ns;
    cf__bench_die("built without GLib");
}

void cf__bench_glib_pending(size_t n, double *bytes_per_item, double *ns_per_push)
{
    (void)n;
    (void)bytes_per_item;
    (void)ns_per_push;
    cf__bench_die("built without GLib");
}

#endif
