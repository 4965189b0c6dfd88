/* support.h: what the Check programs under tests/ share (tests/support.c,
 * built once as tests/libsupport.la and linked into every tests/test_<unit>
 * program but test_malloc_private, which tests how the library links).
 *
 * - Time: a monotonic clock, the one generous deadline tests wait with, and
 *   the way a test polls for an event: EVENTUALLY(condition), or a loop of
 *   its own paced by keep_polling(). Tests never sleep to order events.
 * - Check: running a suite from main().
 * - Futures: user futures (also as gates that hold a task until the test
 *   opens them), results and failures checked in one call, and two readers
 *   of a future's private fields (future_priv.h).
 * - Executors: pools created or the test fails.
 * - Pipes between processes ("channels"): a test creates them before a
 *   process pool, its workers inherit them, and tasks announce themselves
 *   on them and wait on them for the test's go-ahead.
 * - Tasks for process pool tests, defined here once; each test program
 *   declares with CF_TASK the ones it submits (the declaration registers the
 *   task in that program).
 * - /proc: this process's descriptors, threads and children, and whether a
 *   process or thread is gone.
 *
 * Unless its comment says that it returns a failure, a helper that fails
 * fails the calling test (ck_assert). Every wait is bounded by DEADLINE_S.
 */
#ifndef CF_TESTS_SUPPORT_H
#define CF_TESTS_SUPPORT_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cfutures.h>

/* ---- Time and deadlines ------------------------------------------------------------ */

/* How long a test waits for any one event before it fails: generous, so that
 * only a real hang fails a test, also under valgrind or a sanitizer. */
#define DEADLINE_S 30.0

/* CLOCK_MONOTONIC in seconds; in nanoseconds (the same clock in every
 * process of the machine). */
double now_s(void);
int64_t now_ns(void);

/* Paces a loop that polls for an event: false once `deadline` (a now_s()
 * time) has passed; otherwise pauses for a moment and returns true. The
 * loop checks the event itself each time round:
 *
 *     double deadline = now_s() + DEADLINE_S;
 *     while (!event_happened())
 *         ck_assert_msg(keep_polling(deadline), "the event did not happen");
 */
bool keep_polling(double deadline);

/* Polls `cond` (an expression, evaluated again each time round) until it
 * holds or DEADLINE_S passes: true when it held. */
#define EVENTUALLY(cond)                                                                \
    __extension__({                                                                     \
        double eventually_deadline_ = now_s() + DEADLINE_S;                             \
        bool eventually_held_;                                                          \
        while (!(eventually_held_ = (cond)) && keep_polling(eventually_deadline_)) {    \
        }                                                                               \
        eventually_held_;                                                               \
    })

/* ---- Check ---------------------------------------------------------------------- */

/* RUNNING_ON_VALGRIND: nonzero under valgrind (0 when its header is absent). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* A checked fixture for tests whose child processes exit() (crashing
 * workers, started processes): under LeakSanitizer such a child would look
 * for leaks in the memory it inherited, report what only the test's own
 * stacks point to, and exit with another status. With this fixture only the
 * test's own process is checked for leaks. */
void check_leaks_in_this_process_only(void);

/* Runs every test of `s` (each in its own process, Check's default), frees
 * the runner, and returns main()'s exit status: EXIT_SUCCESS when all passed. */
int run_suite(Suite *s);

/* ---- Futures -------------------------------------------------------------------- */

/* A new user future (cf_future_new): pending, one reference. Also a gate: a
 * task that waits on it is held until the test opens it. */
cf_future *new_future(void);

/* A user future already finished with the int `value`. */
cf_future *finished_future(int value);

/* Opens a gate: finishes the user future with the int 1. */
void open_gate(cf_future *gate);

/* Fails the test unless `got` and `want` are the same type; `what` names it
 * in the message. */
void assert_type_eq(cf_type got, cf_type want, const char *what);

/* Waits (at most DEADLINE_S) for f's int32_t result and returns it; fails
 * the test, naming the task and the error, unless f finished with one. */
int32_t result_i32(cf_future *f);

/* The same, and the result must be `want`. */
void expect_value_i32(cf_future *f, int32_t want);

/* Waits (at most DEADLINE_S) for f, which must fail with `code`: cancelled
 * for CF_ECANCELLED (then there is no error: returns NULL), otherwise
 * failed with an error of that code and a message, which it returns. */
const cf_error *expect_failure(cf_future *f, int code);

/* The error must come from process `pid` (its origin is "process <pid>"). */
void expect_origin_is(const cf_error *e, pid_t pid);

/* Whether f's listener list is non-empty; only valid while no other thread
 * touches f. */
bool has_listeners(const cf_future *f);

/* f's reference count. */
uint32_t refs_of(const cf_future *f);

/* ---- Executors ------------------------------------------------------------------- */

/* A thread pool / a process pool made with `opts` (NULL: the defaults). */
cf_executor *new_thread_pool(const cf_thread_pool_options *opts);
cf_executor *new_process_pool(const cf_process_pool_options *opts);

/* The same with only max_workers set. */
cf_executor *new_thread_pool_of(size_t max_workers);
cf_executor *new_process_pool_of(size_t max_workers);

/* ---- Pipes between processes ------------------------------------------------------- */

/* A pipe, both ends close-on-exec (forked workers inherit them; a pool must
 * be created after the channels its tasks use). */
typedef struct chan {
    int rd, wr;
} chan;

chan new_chan(void);
void close_chan(chan c);

/* Reads one int32_t from fd (the pid a task announced), waiting at most
 * DEADLINE_S for it. */
int32_t read_i32(int fd);

/* Lets n tasks waiting on c (gate(), below) go: one byte each. */
void release(chan c, int n);

/* Reads / writes exactly n bytes, retrying on EINTR. Returns 0, or -1 on an
 * error or end of file (for code that must not fail the test itself, such
 * as a forked worker's). */
int read_full(int fd, void *buf, size_t n);
int write_full(int fd, const void *buf, size_t n);

/* Writes exactly n bytes; on failure ends the calling process with status
 * 99. For tasks in worker processes, which have no test to fail. */
void write_all(int fd, const void *data, size_t n);

/* ---- Tasks for process pool tests ---------------------------------------------------- */

/* The worker's pid; its parent's (the pool's fork server). */
int32_t worker_pid(void);
int32_t server_pid(void);

/* Announces the worker (writes its pid to `started`), then waits for one
 * byte on `release_fd`; returns the pid. */
int32_t gate(int32_t started, int32_t release_fd);

/* Announces the worker on `started`, then never returns. */
int32_t hang(int32_t started);

/* The 64-bit FNV-1a hash of n bytes. */
uint64_t fnv1a(const void *data, size_t n);

/* Eight parameters of different kinds, folded into one number (tests of
 * tasks with many parameters check each result against a direct call). */
uint64_t mix8(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g, int64_t h);

/* ---- /proc ------------------------------------------------------------------------ */

/* How many descriptors this process has open. */
int count_fds(void);

/* State ('R', 'S', 'Z', ...) and parent of a process; false when it is gone. */
bool proc_stat(pid_t pid, char *state, pid_t *ppid);

/* The parent of a process, or 0 when it is gone. */
pid_t parent_of(pid_t pid);

/* How many processes have `parent` as their parent; when `zombies` is not
 * NULL, sets it to how many of them are zombies. */
int count_children_of(pid_t parent, int *zombies);

/* How many children this process has (zombies included). */
int count_children(void);

/* Whether /proc lists process `pid` (a zombie still is listed). */
bool process_exists(pid_t pid);

/* Polls until /proc has no process `pid` (it was reaped): false when it is
 * still there after DEADLINE_S. */
bool process_gone(pid_t pid);

/* The scheduler state of this process's thread `tid` ('R', 'S', ...), or
 * '?' when it is gone. */
char thread_state(pid_t tid);

/* Polls until this process has no thread `tid`: false when it is still
 * there after DEADLINE_S. */
bool thread_gone(pid_t tid);

/* How many threads of this process are named `name` / have a name that
 * starts with `prefix`. A thread that has just exited may still be listed,
 * without a name. */
int count_threads_named(const char *name);
int count_threads_prefixed(const char *prefix);

/* The id of a thread of this process named `name`, or 0 when none is. */
pid_t thread_named(const char *name);

#endif
