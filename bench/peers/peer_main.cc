// peer_main.cc: cf-bench-peer, the thread pools cf-bench compares the
// cfutures thread pool with, one process per measurement (bench_sched.c).
//
// Design notes: each peer is compiled in when configure found its library
// (HAVE_TBB, HAVE_ASIO, HAVE_UV, HAVE_GLIB, _OPENMP); otherwise the program
// prints "skip <reason>" and cf-bench skips that peer with the reason. The
// measurements mirror cf-bench's own for cfutures:
//   tiny  <peer> <threads> <n> <runs>: one warm-up run, then <runs> runs of
//         n tiny tasks (add two ints, the result written where the caller
//         reads it) submitted and all waited for; prints the elapsed and
//         the process CPU nanoseconds of each run;
//   idle  <peer> <threads> <n> <window_ms>: n tiny tasks, then the CPU time
//         the process uses over the window while its main thread sleeps;
//   mixed <peer> <threads> <us,us,...> <runs>: tasks that sleep the given
//         microseconds, submitted at once; the makespan of each run, on a
//         fresh pool (the first run) and on the warmed pool.
// The pool is created once per process and reused, as a long-lived program
// would; its threads are the peer's own.
#include "config.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#ifdef HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif
#ifdef HAVE_ASIO
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#endif
#ifdef HAVE_UV
#include <uv.h>
#endif
#ifdef HAVE_GLIB
#include <glib.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

int64_t now_ns(clockid_t clock = CLOCK_MONOTONIC)
{
    timespec ts;
    clock_gettime(clock, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const char *what)
{
    std::fprintf(stderr, "cf-bench-peer: %s\n", what);
    std::exit(1);
}

void sleep_us(int64_t us)
{
    timespec ts{time_t(us / 1000000), long(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int add(int a, int b)
{
    return a + b;
}

// A pool: run n tiny tasks (results into out[]) and wait for all; run
// tasks of the given durations and wait for all.
struct pool {
    virtual ~pool() = default;
    virtual void tiny(size_t n, int *out) = 0;
    virtual void sleeps(const std::vector<int64_t> &us) = 0;
};

#ifdef HAVE_TBB
struct tbb_pool : pool {
    oneapi::tbb::task_arena arena;
    explicit tbb_pool(unsigned threads) : arena(int(threads)) {}
    void tiny(size_t n, int *out) override
    {
        arena.execute([&] {
            oneapi::tbb::task_group g;
            for (size_t i = 0; i < n; i++)
                g.run([out, i] { out[i] = add(int(i), 1); });
            g.wait();
        });
    }
    void sleeps(const std::vector<int64_t> &us) override
    {
        arena.execute([&] {
            oneapi::tbb::task_group g;
            for (int64_t d : us)
                g.run([d] { sleep_us(d); });
            g.wait();
        });
    }
};
#endif

#ifdef HAVE_ASIO
struct asio_pool : pool {
    boost::asio::thread_pool tp;
    explicit asio_pool(unsigned threads) : tp(threads) {}
    void tiny(size_t n, int *out) override
    {
        std::vector<std::future<int>> fs;
        fs.reserve(n);
        for (size_t i = 0; i < n; i++) {
            auto task = std::make_shared<std::packaged_task<int()>>([i] { return add(int(i), 1); });
            fs.push_back(task->get_future());
            boost::asio::post(tp, [task] { (*task)(); });
        }
        for (size_t i = 0; i < n; i++)
            out[i] = fs[i].get();
    }
    void sleeps(const std::vector<int64_t> &us) override
    {
        std::vector<std::future<void>> fs;
        for (int64_t d : us) {
            auto task = std::make_shared<std::packaged_task<void()>>([d] { sleep_us(d); });
            fs.push_back(task->get_future());
            boost::asio::post(tp, [task] { (*task)(); });
        }
        for (auto &f : fs)
            f.get();
    }
};
#endif

#ifdef _OPENMP
struct omp_pool : pool {
    unsigned threads;
    explicit omp_pool(unsigned t) : threads(t) {}
    // One thread creates the tasks, the team runs them; the team's threads
    // persist between parallel regions (libgomp keeps them).
    void tiny(size_t n, int *out) override
    {
#pragma omp parallel num_threads(threads)
#pragma omp single
        {
            for (size_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
                out[i] = add(int(i), 1);
            }
#pragma omp taskwait
        }
    }
    void sleeps(const std::vector<int64_t> &us) override
    {
        size_t n = us.size();
        const int64_t *d = us.data();
#pragma omp parallel num_threads(threads)
#pragma omp single
        {
            for (size_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
                sleep_us(d[i]);
            }
#pragma omp taskwait
        }
    }
};
#endif

#ifdef HAVE_UV
// libuv's thread pool is process-wide, sized by UV_THREADPOOL_SIZE before
// its first use; the loop's thread (here, main) runs the after-work callbacks.
struct uv_pool : pool {
    uv_loop_t loop;
    struct item {
        uv_work_t req;
        int *out;
        int64_t us;
        int i;
    };
    explicit uv_pool(unsigned threads)
    {
        std::string size = std::to_string(threads);
        setenv("UV_THREADPOOL_SIZE", size.c_str(), 1);
        if (uv_loop_init(&loop) != 0)
            die("uv_loop_init failed");
    }
    ~uv_pool() override { uv_loop_close(&loop); }
    void run(std::vector<item> &items, uv_work_cb work)
    {
        size_t done = 0;
        loop.data = &done;
        for (auto &it : items) {
            it.req.data = &it;
            if (uv_queue_work(&loop, &it.req, work, [](uv_work_t *req, int) {
                    ++*static_cast<size_t *>(req->loop->data);
                }) != 0)
                die("uv_queue_work failed");
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        if (done != items.size())
            die("libuv lost work");
    }
    void tiny(size_t n, int *out) override
    {
        std::vector<item> items(n);
        for (size_t i = 0; i < n; i++)
            items[i] = item{{}, out, 0, int(i)};
        run(items, [](uv_work_t *req) {
            auto *it = static_cast<item *>(req->data);
            it->out[it->i] = add(it->i, 1);
        });
    }
    void sleeps(const std::vector<int64_t> &us) override
    {
        std::vector<item> items(us.size());
        for (size_t i = 0; i < us.size(); i++)
            items[i] = item{{}, nullptr, us[i], int(i)};
        run(items, [](uv_work_t *req) { sleep_us(static_cast<item *>(req->data)->us); });
    }
};
#endif

#ifdef HAVE_GLIB
struct glib_pool : pool {
    GThreadPool *gp;
    GMutex mu;
    GCond cond;
    size_t left = 0;
    struct item {
        glib_pool *self;
        int *out;
        int64_t us;
        int i;
    };
    explicit glib_pool(unsigned threads)
    {
        g_mutex_init(&mu);
        g_cond_init(&cond);
        gp = g_thread_pool_new(&glib_pool::work, this, int(threads), TRUE, nullptr);
    }
    ~glib_pool() override
    {
        g_thread_pool_free(gp, FALSE, TRUE);
        g_mutex_clear(&mu);
        g_cond_clear(&cond);
    }
    static void work(gpointer data, gpointer user)
    {
        auto *it = static_cast<item *>(data);
        auto *self = static_cast<glib_pool *>(user);
        if (it->out != nullptr)
            it->out[it->i] = add(it->i, 1);
        else
            sleep_us(it->us);
        g_mutex_lock(&self->mu);
        if (--self->left == 0)
            g_cond_signal(&self->cond);
        g_mutex_unlock(&self->mu);
    }
    void run(std::vector<item> &items)
    {
        left = items.size();
        for (auto &it : items)
            g_thread_pool_push(gp, &it, nullptr);
        g_mutex_lock(&mu);
        while (left > 0)
            g_cond_wait(&cond, &mu);
        g_mutex_unlock(&mu);
    }
    void tiny(size_t n, int *out) override
    {
        std::vector<item> items(n);
        for (size_t i = 0; i < n; i++)
            items[i] = item{this, out, 0, int(i)};
        run(items);
    }
    void sleeps(const std::vector<int64_t> &us) override
    {
        std::vector<item> items(us.size());
        for (size_t i = 0; i < us.size(); i++)
            items[i] = item{this, nullptr, us[i], int(i)};
        run(items);
    }
};
#endif

// The pool named `peer`, or nullptr with *why set when it was not built.
std::unique_ptr<pool> make_pool(const std::string &peer, unsigned threads, const char **why)
{
    *why = "unknown peer";
#ifdef HAVE_TBB
    if (peer == "tbb")
        return std::make_unique<tbb_pool>(threads);
#else
    if (peer == "tbb")
        *why = "oneTBB not found by configure (Debian: libtbb-dev)";
#endif
#ifdef HAVE_ASIO
    if (peer == "asio")
        return std::make_unique<asio_pool>(threads);
#else
    if (peer == "asio")
        *why = "Boost.Asio not found by configure (Debian: libboost-dev)";
#endif
#ifdef _OPENMP
    if (peer == "omp")
        return std::make_unique<omp_pool>(threads);
#else
    if (peer == "omp")
        *why = "the C++ compiler has no OpenMP (configure's AC_OPENMP)";
#endif
#ifdef HAVE_UV
    if (peer == "uv")
        return std::make_unique<uv_pool>(threads);
#else
    if (peer == "uv")
        *why = "libuv not found by configure (Debian: libuv1-dev)";
#endif
#ifdef HAVE_GLIB
    if (peer == "glib")
        return std::make_unique<glib_pool>(threads);
#else
    if (peer == "glib")
        *why = "GLib not found by configure (Debian: libglib2.0-dev)";
#endif
    return nullptr;
}

void check(const int *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] != int(i) + 1)
            die("a tiny task gave a wrong result");
}

unsigned long parse(const char *text)
{
    char *end;
    unsigned long v = std::strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v == 0)
        die("bad number");
    return v;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 6) {
        std::fprintf(stderr, "usage: cf-bench-peer tiny|idle|mixed <peer> <threads> <n|durations> "
                             "<runs|window_ms>\n");
        return 2;
    }
    std::string mode = argv[1], peer = argv[2];
    unsigned threads = unsigned(parse(argv[3]));
    const char *why;
    std::unique_ptr<pool> p = make_pool(peer, threads, &why);
    if (!p) {
        std::printf("skip %s\n", why);
        return 0;
    }
    if (mode == "tiny" || mode == "idle") {
        size_t n = parse(argv[4]);
        unsigned long last = parse(argv[5]);
        std::vector<int> out(n);
        p->tiny(n, out.data()); // warm-up: starts the threads
        check(out.data(), n);
        if (mode == "idle") {
            int64_t cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns();
            sleep_us(int64_t(last) * 1000);
            int64_t cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0, wall = now_ns() - t0;
            std::printf("cpu_ns=%lld window_ns=%lld\n", (long long)cpu, (long long)wall);
            return 0;
        }
        std::string ns, cpu;
        for (unsigned long run = 0; run < last; run++) {
            std::fill(out.begin(), out.end(), 0);
            int64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns();
            p->tiny(n, out.data());
            int64_t t = now_ns() - t0, c = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
            check(out.data(), n);
            ns += (run ? "," : "") + std::to_string(t);
            cpu += (run ? "," : "") + std::to_string(c);
        }
        std::printf("ns=%s cpu=%s\n", ns.c_str(), cpu.c_str());
        return 0;
    }
    if (mode == "mixed") {
        std::vector<int64_t> us;
        for (const char *s = argv[4]; *s;) {
            char *end;
            long long v = std::strtoll(s, &end, 10);
            if (end == s || v < 0)
                die("bad duration list");
            us.push_back(v);
            s = *end == ',' ? end + 1 : end;
            if (*end != ',' && *end != '\0')
                die("bad duration list");
        }
        unsigned long runs = parse(argv[5]);
        std::string ns;
        for (unsigned long run = 0; run <= runs; run++) {
            int64_t t0 = now_ns();
            p->sleeps(us);
            ns += (run ? "," : "") + std::to_string(now_ns() - t0);
        }
        // The first run is on a fresh pool, the others on the warmed one.
        std::printf("ns=%s\n", ns.c_str());
        return 0;
    }
    die("unknown mode");
}
