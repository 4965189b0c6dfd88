/* cfutures/future.h: futures, the results of work that finishes later.
 *
 * States: PENDING -> RUNNING -> FINISHED, or PENDING -> CANCELLED. FINISHED
 * means a result or an error. "Done" is FINISHED or CANCELLED; a done future
 * never changes again.
 *
 * Futures are reference counted. cf_submit() hands the caller one reference;
 * the executor keeps its own until it has completed the future, so a future
 * may outlive its executor, and the caller may release it at any time (even
 * before it is done: the work still runs). All functions here are thread-safe.
 *
 * Who completes a future: the library completes the futures it makes
 * (cf_submit's, cf_map_async's...); the caller may cancel them but not set
 * their outcome (cf_future_set_* refuse them with CF_EOWNED). A future made
 * with cf_future_new is the caller's to complete. Either way exactly one
 * outcome wins: the first completion or cancellation; every later attempt
 * fails (CF_ESTATE, or false from cancel) and changes nothing.
 */
#ifndef CFUTURES_FUTURE_H
#define CFUTURES_FUTURE_H

#include <stdarg.h>

#include "common.h"
#include "error.h"
#include "value.h"

typedef struct cf_future cf_future;

typedef enum cf_future_state {
    CF_FUTURE_PENDING = 0,
    CF_FUTURE_RUNNING,
    CF_FUTURE_FINISHED,
    CF_FUTURE_CANCELLED
} cf_future_state;

/* A done-callback. Runs once, when the future becomes done, in the thread
 * that completes or cancels it (a worker, or the thread calling cancel or
 * set_*), with no library lock held; if the future is already done when the
 * callback is added, it runs at once in the adding thread. It may call any
 * cfutures function, including submitting work and releasing `f` (the caller
 * of the callback holds its own reference for the call's duration). Callbacks
 * that complete other futures from inside a callback are queued and run after
 * the current one returns, so long chains never deepen the stack. */
typedef void (*cf_done_fn)(cf_future *f, void *arg);

CF_BEGIN_DECLS

/* ---- Lifetime -------------------------------------------------------------- */

/* Create a pending future that no executor will run: the caller completes it
 * with cf_future_set_running / set_result / set_error, so that other
 * asynchronous sources can join wait() and as_completed(). *out gets one
 * reference. Errors: CF_EINVAL (NULL out), -ENOMEM. */
CF_EXTERN int cf_future_new(cf_future **out);

/* Take one more reference. Returns f. f must be a live future (never NULL). */
CF_EXTERN cf_future *cf_future_retain(cf_future *f);

/* Drop one reference; the last one frees the future (and its result). NULL is
 * ignored. Never blocks, never fails. */
CF_EXTERN void cf_future_release(cf_future *f);

/* ---- Queries (never block) --------------------------------------------------- */

CF_EXTERN cf_future_state cf_future_state_of(const cf_future *f);
CF_EXTERN bool cf_future_done(const cf_future *f);      /* FINISHED or CANCELLED */
CF_EXTERN bool cf_future_running(const cf_future *f);   /* RUNNING */
CF_EXTERN bool cf_future_cancelled(const cf_future *f); /* CANCELLED */
/* FINISHED with an error (a failed task, a crash, a broken pool...). */
CF_EXTERN bool cf_future_failed(const cf_future *f);

/* The type of the result the future will hold (its task's result type), or
 * CF_KIND_VOID for a user future not yet completed. */
CF_EXTERN cf_type cf_future_result_type(const cf_future *f);

/* The name of the task behind the future, or NULL for a user future. */
CF_EXTERN const char *cf_future_task_name(const cf_future *f);

/* "pending", "running", "finished" or "cancelled"; "unknown" for a value
 * outside the enum. The string is static. */
CF_EXTERN const char *cf_future_state_name(cf_future_state state);

/* Describe f in one line for logs, like Python's repr():
 *   <future 0x5581e2a0 task 'hypot2' state=pending>
 *   <future 0x5581e2a0 task 'hypot2' state=finished result=5>
 *   <future 0x5581e2a0 task 'greet' state=finished result="hello, ada">
 *   <future 0x5581e2a0 task 'parse' state=finished error=CF_ETASK "bad input">
 *   <future 0x5581e2a0 state=cancelled data=0x7ffd1000>
 * The task part is absent for a cf_future_new future, `data=` appears when a
 * user pointer is set, and a void result shows no result part. Numbers are
 * printed in full (doubles with %.17g, then trimmed: 25, 0.1, 1e+300); a
 * string result or error message longer than 48 bytes is cut to its first 45
 * bytes followed by "..."; a bytes or struct result shows its size only
 * (result=<bytes 12>, result=<struct 24>); a pointer result its address.
 * Writes at most `size` bytes including the terminating NUL, like snprintf:
 * a longer description is truncated to size - 1 bytes and still
 * NUL-terminated (nothing is written when size is 0, and buf may then be
 * NULL). Returns the length of the whole description (without the NUL), so
 * a return value >= size means it was truncated; never blocks.
 * Errors: CF_EINVAL (NULL f, or NULL buf with size > 0). */
CF_EXTERN int cf_future_describe(const cf_future *f, char *buf, size_t size);

/* ---- The user's pointer ------------------------------------------------------ */

/* Attach a pointer of the caller's to f (like libuv's handle->data), e.g. the
 * job a future belongs to, so that a future coming back from cf_wait or
 * cf_as_completed leads straight to it. The library never reads through it
 * nor frees it. It may be set at submit (cf_submit_options.data) or at any
 * time later, by any thread, before or after f is done; the last store wins.
 * Never fails; f must not be NULL. */
CF_EXTERN void cf_future_set_data(cf_future *f, void *data);

/* The pointer last stored by cf_future_set_data (or at submit); NULL if none.
 * A thread that reads it after the future was handed over (cf_wait, a
 * done-callback, a queue...) sees every store made before the hand-over. */
CF_EXTERN void *cf_future_data(const cf_future *f);

/* ---- Waiting and reading the outcome ---------------------------------------- */

/* Wait up to `timeout` seconds (CF_FOREVER: no limit; 0: poll) for f to be done.
 * Returns 0 when done (whatever the outcome), CF_ETIMEDOUT when not done in
 * time, CF_EINTERRUPTED when it had to block and cf_interrupt_waits() was
 * called (wait.h), CF_EINVAL on a NaN timeout or a NULL f. */
CF_EXTERN int cf_future_wait(cf_future *f, double timeout);

/* Wait for f as cf_future_wait() does, then give its outcome:
 *   0               finished with a result, stored in *out;
 *   CF_ETIMEDOUT    not done in time (the future is unchanged);
 *   CF_EINTERRUPTED cf_interrupt_waits() was called while it had to block
 *                   (the future is unchanged);
 *   CF_ECANCELLED   cancelled;
 *   the error code  failed: CF_ETASK (the task called cf_task_fail),
 *                   CF_ECRASHED, CF_EBROKEN, ...; cf_future_error() says more;
 *   CF_ETYPE        out's type is not the result's type (nothing stored);
 *   CF_EINVAL       NaN timeout.
 * `out` points at a C object of the task's result type; the macro takes its
 * type from the pointer: `double r; cf_future_result(f, &r, 1.0)`. Pass NULL
 * to ignore the value (always allowed). A string result is stored as a
 * `const char *` and a cf_bytes result as a pointer into the future: both
 * stay valid while the caller holds its reference. */
#define cf_future_result(f, out, timeout)                                          \
    cf__future_result((f), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__future_result(cf_future *f, cf_type type, void *out, double timeout);

/* The outcome as a dynamic value (for bindings): like cf_future_result, but
 * *out gets the result whatever its type, referring to the future's memory. */
CF_EXTERN int cf_future_value(cf_future *f, cf_value *out, double timeout);

/* The error of a failed future, or NULL (not done, a result, or cancelled).
 * Never blocks. Valid while the caller holds its reference. */
CF_EXTERN const cf_error *cf_future_error(const cf_future *f);

/* ---- Cancelling and callbacks ----------------------------------------------- */

/* Cancel a pending future: returns true when f is now CANCELLED (it was
 * pending, or already cancelled); false once it is running or finished.
 * Waiters wake and done-callbacks run (in this thread) at once. */
CF_EXTERN bool cf_future_cancel(cf_future *f);

/* Cancel f even if it is running, where its executor can stop a running task
 * (process pools: the worker running it is killed and replaced). Returns true
 * when f is now CANCELLED (it was pending, running on such an executor, or
 * already cancelled); false when it is finished, or running where it cannot
 * be stopped (thread pools, user futures). Waiters wake and callbacks run. */
CF_EXTERN bool cf_future_cancel_running(cf_future *f);

/* Add a done-callback (see cf_done_fn); callbacks run in the order added
 * (one added while another thread is completing the future may run at once,
 * in the adding thread, before the completer has run the earlier ones).
 * Errors: CF_EINVAL (NULL fn), -ENOMEM (then fn never runs). */
CF_EXTERN int cf_future_add_done_callback(cf_future *f, cf_done_fn fn, void *arg);

/* ---- The completing side (futures made with cf_future_new) ----------------- *
 * Whoever completes or cancels a future must hold a reference to it for the
 * duration of the call (waiters woken by it may drop theirs at once).
 * The three functions below refuse a future the library made and completes
 * itself (cf_submit's, a map's) with CF_EOWNED, changing nothing: its task's
 * outcome is the only one it can get, apart from a cancellation. */

/* Mark f running. Returns 0; CF_ECANCELLED when f was cancelled (waiters have
 * been told; the work must not run); CF_ESTATE when f is not pending;
 * CF_EOWNED (an executor's future); CF_EINVAL (NULL f). */
CF_EXTERN int cf_future_set_running(cf_future *f);

/* Finish f with a result. The value is copied (strings, bytes and structs
 * included). Returns 0, or CF_ESTATE when f is already done (the first outcome
 * stays), CF_EOWNED (an executor's future: unchanged), CF_EINVAL (NULL
 * argument, unknown kind, a struct or bytes value without data), or -ENOMEM
 * (f unchanged). When several threads race to complete or cancel f, exactly
 * one wins and the others get CF_ESTATE (or false). Wakes waiters and runs
 * done-callbacks in this thread. The macro takes any supported C value:
 * `cf_future_set_result(f, 3.5)`, `cf_future_set_result(f, "text")`. */
CF_EXTERN int cf_future_set_value(cf_future *f, const cf_value *v);

/* Finish f with an error: `code` becomes the cf_error's code (and what
 * cf_future_result() returns; it must be negative), the message is formatted.
 * Errors: CF_ESTATE (already done; first outcome stays), CF_EOWNED (an
 * executor's future: unchanged), CF_EINVAL (NULL argument, code >= 0).
 * Never fails for lack of memory: an error whose message cannot be stored
 * gets a fixed one. */
CF_EXTERN int cf_future_set_error(cf_future *f, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

CF_END_DECLS

#ifndef __cplusplus
/* Build a dynamic value from a C expression of a supported scalar or string type. */
#define CF_VALUE(x)                                                                \
    _Generic((x),                                                                  \
        bool: cf_value_bool,                                                       \
        char: cf__value_char,                                                      \
        signed char: cf_value_i8,                                                  \
        unsigned char: cf_value_u8,                                                \
        short: cf_value_i16,                                                       \
        unsigned short: cf_value_u16,                                              \
        int: cf__value_int,                                                        \
        unsigned int: cf__value_uint,                                              \
        long: cf__value_long,                                                      \
        unsigned long: cf__value_ulong,                                            \
        long long: cf_value_i64,                                                   \
        unsigned long long: cf_value_u64,                                          \
        float: cf_value_f32,                                                       \
        double: cf_value_f64,                                                      \
        char *: cf_value_str,                                                      \
        const char *: cf_value_str,                                                \
        void *: cf_value_ptr)(x)

#define cf_future_set_result(f, x)                                                 \
    (__extension__({                                                               \
        cf_value cf__v_ = CF_VALUE(x);                                             \
        cf_future_set_value((f), &cf__v_);                                         \
    }))
#endif

CF_BEGIN_DECLS
/* Internal helpers for CF_VALUE on the standard integer types. */
CF_EXTERN cf_value cf__value_char(char v);
CF_EXTERN cf_value cf__value_int(int v);
CF_EXTERN cf_value cf__value_uint(unsigned int v);
CF_EXTERN cf_value cf__value_long(long v);
CF_EXTERN cf_value cf__value_ulong(unsigned long v);
CF_END_DECLS

#ifdef __cplusplus
/* In C++, CF_VALUE's selection is an overload set: the listed types match
 * exactly, as they do in _Generic, and any other type picks the deleted
 * template (no conversion sneaks in). A string literal decays to
 * const char *; nullptr is a raw pointer. Unlike C, C++'s `true` is a bool
 * and 'c' a char, so they make bool and char values. */
extern "C++" {
namespace cf__cxx {
template <class T> cf_value value(T) = delete;
inline cf_value value(bool v) { return cf_value_bool(v); }
inline cf_value value(char v) { return cf__value_char(v); }
inline cf_value value(signed char v) { return cf_value_i8(v); }
inline cf_value value(unsigned char v) { return cf_value_u8(v); }
inline cf_value value(short v) { return cf_value_i16(v); }
inline cf_value value(unsigned short v) { return cf_value_u16(v); }
inline cf_value value(int v) { return cf__value_int(v); }
inline cf_value value(unsigned int v) { return cf__value_uint(v); }
inline cf_value value(long v) { return cf__value_long(v); }
inline cf_value value(unsigned long v) { return cf__value_ulong(v); }
inline cf_value value(long long v) { return cf_value_i64(v); }
inline cf_value value(unsigned long long v) { return cf_value_u64(v); }
inline cf_value value(float v) { return cf_value_f32(v); }
inline cf_value value(double v) { return cf_value_f64(v); }
inline cf_value value(char *v) { return cf_value_str(v); }
inline cf_value value(const char *v) { return cf_value_str(v); }
inline cf_value value(void *v) { return cf_value_ptr(v); }
inline cf_value value(std::nullptr_t) { return cf_value_ptr(nullptr); }
inline int future_set_result(cf_future *f, cf_value v) { return cf_future_set_value(f, &v); }
} /* namespace cf__cxx */
} /* extern "C++" */
#define CF_VALUE(x) (::cf__cxx::value(x))
#define cf_future_set_result(f, x) (::cf__cxx::future_set_result((f), CF_VALUE(x)))
#endif

#endif
