/* cfutures/task.h: declaring plain C functions as tasks.
 *
 *     static double hypot2(double a, double b) { return a * a + b * b; }
 *     CF_TASK(double, hypot2, double, double);
 *
 * CF_TASK(R, name, P1, ..., Pn) (0 <= n <= CF_TASK_MAX_PARAMS) declares, in the
 * current translation unit:
 *   - the task descriptor (a cf_task: name, result and parameter types, and a
 *     trampoline that calls the function from a packed argument block);
 *   - a typed submit function behind cf_submit(), so that a call with the wrong
 *     number or kind of arguments does not compile (see executor.h);
 *   - a load-time registration, so that cf_task_find("name") finds it. A task
 *     declared in several translation units of one program registers once per
 *     unit; that is harmless as long as every registration names the same
 *     function.
 * Identity: a task is its name, the file it was declared in and the line,
 * its key "name@file:line" (file as __FILE__ spells it). Two `static`
 * functions of one name in two files are two tasks, and each runs its own
 * code on every executor, a process pool included (its workers are forked
 * from the same program, so a key means the same declaration there). A
 * CF_TASK in a header (a `static inline` function) registers once per unit
 * that includes it, under one key: those copies are the same task. Only
 * different functions sharing name, file and line (same-named files
 * compiled from different directories) cannot be told apart: a process pool
 * then fails their futures with CF_EAMBIGUOUS.
 * It must appear at file scope, after the function's declaration. R, P1..Pn are
 * the types listed in value.h. The function runs exactly as if called directly.
 */
#ifndef CFUTURES_TASK_H
#define CFUTURES_TASK_H

#include <stdarg.h>
#include <stddef.h>

#include "common.h"
#include "value.h"

#define CF_TASK_MAX_PARAMS 8

/* A task descriptor. Built by CF_TASK; read-only to users. */
typedef struct cf_task {
    const char *name;               /* the function's name */
    void (*fn)(void);               /* the function's address (identity) */
    void (*call)(void *args, void *result); /* runs fn on a packed argument block */
    /* Runs fn on element i of argument arrays (map): argument k is at
     * in[k] + i * stride[k]; the result is stored at `result`. */
    void (*call_at)(const char *const *in, const size_t *stride, size_t i, void *result);
    cf_type result;                 /* result type (CF_KIND_VOID for void) */
    uint32_t nparams;
    cf_type params[CF_TASK_MAX_PARAMS];
    uint32_t offsets[CF_TASK_MAX_PARAMS]; /* where each argument sits in the block */
    uint32_t args_size;             /* size of the packed argument block */
    uint32_t args_align;            /* its alignment */
    const char *file;               /* where CF_TASK was written */
    int line;
    struct cf_task *cf__next;       /* registry link: the library's */
} cf_task;

CF_BEGIN_DECLS

/* Find the task registered under `name`, a plain name ("hypot2") or a key
 * ("hypot2@src/geometry.c:12", see Identity above). On success *out is the
 * descriptor, valid while the module that declared it stays loaded.
 * Errors: CF_EINVAL (NULL name or out), CF_ENOTFOUND (none), CF_EAMBIGUOUS
 * (several registrations under that name or key are different functions;
 * cf_last_error() names two of their keys' files and lines). */
CF_EXTERN int cf_task_find(const char *name, const cf_task **out);

/* Call from inside a running task to make it fail: its future fails with
 * CF_ETASK, and the cf_error carries `code` (as `detail`) and the formatted
 * message. The task should return right after (its return value is ignored).
 * Calling it twice keeps the last message. From a worker initializer, it gives
 * the message that breaks the pool.
 * Returns 0, or CF_ESTATE when the calling thread is not running a task or an
 * initializer, or -ENOMEM when the message could not be stored. */
CF_EXTERN int cf_task_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
CF_EXTERN int cf_task_failv(int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Who owns a returned string or byte buffer (one rule for cf_submit, cf_map,
 * cf_starmap, cf_map_generate, on every executor): the library copies a
 * string (const char *, char *) or cf_bytes result when the task returns,
 * and never keeps or frees the task's own pointer. So a task may return a
 * literal, a static or thread-local buffer, or one of its arguments. Where
 * the copies go: a future owns its copy (valid while the future is held,
 * see cf_future_result); a map's out[i] is a copy made with malloc() that
 * the caller frees with free() (out[i].data for cf_bytes), and elements
 * that did not succeed hold NULL; a generated map's copies are freed after
 * on_chunk returns. A task that builds a fresh buffer returns it through
 * cf_string_take() or cf_bytes_take(), and the library frees it after the
 * copy. */

/* Hand a malloc'ed string to the library: returns s, which the library
 * frees with free() once the running task's result has been copied (so
 * `return cf_string_take(strdup(x));` neither leaks nor dangles). s must
 * come from malloc (strdup, asprintf, ...) and not be used after the task
 * returns. Outside a running task it does nothing and s stays the caller's.
 * NULL is returned as NULL. If there is no memory to record s, the task
 * fails with CF_ETASK (detail -ENOMEM) and s is not freed. */
CF_EXTERN char *cf_string_take(char *s);
/* The same for a byte buffer: returns {data, len}; data (from malloc, or
 * NULL) is freed with free() after the result has been copied. */
CF_EXTERN cf_bytes cf_bytes_take(void *data, size_t len);

/* Internal: called by CF_TASK's load-time constructor and destructor. */
CF_EXTERN void cf__task_register(cf_task *task);
CF_EXTERN void cf__task_unregister(cf_task *task);

CF_END_DECLS

/* ---- CF_TASK machinery ---------------------------------------------------- */

#define CF__CAT(a, b) CF__CAT_(a, b)
#define CF__CAT_(a, b) a##b
#define CF__FIRST(...) CF__FIRST_(__VA_ARGS__, ~)
#define CF__FIRST_(a, ...) a
#define CF__NARGS(...)                                                             \
    CF__NARGS_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, ~)
#define CF__NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, n, \
                   ...)                                                            \
    n
/* 0 when the list is a name alone, 1 when parameter types follow it. */
#define CF__HAS_PARAMS(...)                                                        \
    CF__NARGS_(__VA_ARGS__, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ~)

/* Apply F to the first element (with a context and its index) and G to each
 * later one. */
#define CF__MAP(F, G, c, ...) CF__CAT(CF__MAP_, CF__NARGS(__VA_ARGS__))(F, G, c, __VA_ARGS__)
#define CF__MAP_1(F, G, c, a) F(c, 0, a)
#define CF__MAP_2(F, G, c, a, b) F(c, 0, a) G(c, 1, b)
#define CF__MAP_3(F, G, c, a, b, d) F(c, 0, a) G(c, 1, b) G(c, 2, d)
#define CF__MAP_4(F, G, c, a, b, d, e) F(c, 0, a) G(c, 1, b) G(c, 2, d) G(c, 3, e)
#define CF__MAP_5(F, G, c, a, b, d, e, f)                                          \
    F(c, 0, a) G(c, 1, b) G(c, 2, d) G(c, 3, e) G(c, 4, f)
#define CF__MAP_6(F, G, c, a, b, d, e, f, g)                                       \
    F(c, 0, a) G(c, 1, b) G(c, 2, d) G(c, 3, e) G(c, 4, f) G(c, 5, g)
#define CF__MAP_7(F, G, c, a, b, d, e, f, g, h)                                    \
    F(c, 0, a) G(c, 1, b) G(c, 2, d) G(c, 3, e) G(c, 4, f) G(c, 5, g) G(c, 6, h)
#define CF__MAP_8(F, G, c, a, b, d, e, f, g, h, k)                                 \
    F(c, 0, a) G(c, 1, b) G(c, 2, d) G(c, 3, e) G(c, 4, f) G(c, 5, g) G(c, 6, h)    \
    G(c, 7, k)
/* More than CF_TASK_MAX_PARAMS parameters: CF_TASK does not compile. */
#define CF__MAP_9(F, G, c, ...) CF__TOO_MANY_PARAMETERS_max_8
#define CF__MAP_10 CF__MAP_9
#define CF__MAP_11 CF__MAP_9
#define CF__MAP_12 CF__MAP_9
#define CF__MAP_13 CF__MAP_9
#define CF__MAP_14 CF__MAP_9
#define CF__MAP_15 CF__MAP_9

#define CF__P_MEMBER(c, i, T) T a##i;
#define CF__P_TYPE_FIRST(c, i, T) T
#define CF__P_TYPE_NEXT(c, i, T) , T
#define CF__P_DECL_NEXT(c, i, T) , T a##i
#define CF__P_USE_FIRST(c, i, T) a->a##i
#define CF__P_USE_NEXT(c, i, T) , a->a##i
#define CF__P_NAME_FIRST(c, i, T) a##i
#define CF__P_NAME_NEXT(c, i, T) , a##i
#define CF__P_TAG(c, i, T) CF__TYPE_INIT(T),
#define CF__P_AT_FIRST(c, i, T) *(const CF__SAME_TYPE(T) *)(const void *)(in[i] + i_ * stride[i])
#define CF__P_AT_NEXT(c, i, T) , CF__P_AT_FIRST(c, i, T)
#define CF__P_ARRAY(c, i, T) , const CF__SAME_TYPE(T) *a##i
#define CF__P_OFFSET(c, i, T) (uint32_t) offsetof(struct cf__args_##c, a##i),

#ifdef __cplusplus
/* T as one type, so that `const CF__SAME_TYPE(T)` qualifies the whole of it. */
#define CF__SAME_TYPE(T) ::cf__cxx::identity_t<T>
#define CF__ALIGNOF(T) alignof(T)
/* Store the result of `call` (of type R, possibly void) at `ret`. */
#define CF__STORE_RESULT(R, ret, call)                                             \
    ::cf__cxx::store_result<R>::run((ret), [&]() -> R { return call; })
/* A task's result and parameters are copied as bytes (C++ only: in C every
 * type is). */
#define CF__P_CHECK(c, i, T)                                                       \
    static_assert(::cf__cxx::copyable_as_bytes<T>::value,                          \
                  "CF_TASK(" #c "): parameter " #i " is not trivially copyable");
#define CF__RESULT_CHECK(R, name)                                                  \
    static_assert(::cf__cxx::copyable_as_bytes<R>::value,                          \
                  "CF_TASK(" #name "): the result type is not trivially copyable");
#else
#define CF__SAME_TYPE(T) __typeof__(T)
#define CF__ALIGNOF(T) _Alignof(T)
/* Store the result of `call` (of type R, possibly void) at `ret`. */
#define CF__STORE_RESULT(R, ret, call)                                             \
    (*_Generic((R *)0, void *: (char *)(ret), default: (R *)(ret)) =               \
         _Generic((R *)0, void *: ((call), 0), default: (call)))
#define CF__RESULT_CHECK(R, name)
#define CF__P_CHECK(c, i, T)
#endif

/* Load-time registration, so that cf_task_find() sees the task. */
#define CF__TASK_REGISTRATION(name)                                                \
    __attribute__((constructor)) static void cf__register_##name(void)             \
    {                                                                              \
        cf__task_register(&cf__task_##name);                                       \
    }                                                                              \
    __attribute__((destructor)) static void cf__unregister_##name(void)            \
    {                                                                              \
        cf__task_unregister(&cf__task_##name);                                     \
    }

/* A task without parameters. */
#define CF__TASK_0(R, name)                                                        \
    CF__RESULT_CHECK(R, name)                                                      \
    static void cf__call_##name(void *args, void *ret)                             \
    {                                                                              \
        (void)args;                                                                \
        CF__STORE_RESULT(R, ret, name());                                          \
    }                                                                              \
    static void cf__call_at_##name(const char *const *in, const size_t *stride,     \
                                   size_t i, void *ret)                            \
    {                                                                              \
        (void)in, (void)stride, (void)i;                                           \
        CF__STORE_RESULT(R, ret, name());                                          \
    }                                                                              \
    static cf_task cf__task_##name = {#name,     (void (*)(void))name,             \
                                      cf__call_##name, cf__call_at_##name,          \
                                      CF__TYPE_INIT(R),                            \
                                      0,         {{0, 0}},                         \
                                      {0},       0,                                \
                                      1,         __FILE__,                         \
                                      __LINE__,  NULL};                            \
    CF__TASK_REGISTRATION(name)                                                    \
    __attribute__((unused)) static inline int cf__submit_##name(                    \
        const struct cf_submit_options *opts, struct cf_future **fut,              \
        struct cf_executor *ex, R (*fn)(void))                                     \
    {                                                                              \
        (void)fn;                                                                  \
        return cf__submit_task(fut, ex, opts, &cf__task_##name, NULL);             \
    }                                                                              \
    __attribute__((unused)) static inline int cf__map_##name(                       \
        struct cf_future **fut, bool async, struct cf_executor *ex, R (*fn)(void),  \
        const struct cf_map_options *opts, size_t n, R *out)                       \
    {                                                                              \
        (void)fn;                                                                  \
        return cf__map_arrays(fut, async, ex, opts, &cf__task_##name, n, out, NULL, 0); \
    }                                                                              \
    extern int cf__task_declared_##name

/* A task with parameters P... (its argument block is struct cf__args_##name). */
#define CF__TASK_1(R, name, ...)                                                   \
    CF__RESULT_CHECK(R, name)                                                      \
    CF__MAP(CF__P_CHECK, CF__P_CHECK, name, __VA_ARGS__)                           \
    struct cf__args_##name {                                                       \
        CF__MAP(CF__P_MEMBER, CF__P_MEMBER, name, __VA_ARGS__)                     \
    };                                                                             \
    static void cf__call_##name(void *args, void *ret)                             \
    {                                                                              \
        struct cf__args_##name *a = (struct cf__args_##name *)args;                \
        CF__STORE_RESULT(R, ret,                                                   \
                         name(CF__MAP(CF__P_USE_FIRST, CF__P_USE_NEXT, name, __VA_ARGS__))); \
    }                                                                              \
    static void cf__call_at_##name(const char *const *in, const size_t *stride,     \
                                   size_t i_, void *ret)                           \
    {                                                                              \
        CF__STORE_RESULT(R, ret,                                                   \
                         name(CF__MAP(CF__P_AT_FIRST, CF__P_AT_NEXT, name, __VA_ARGS__))); \
    }                                                                              \
    static cf_task cf__task_##name = {                                             \
        #name,                                                                     \
        (void (*)(void))name,                                                      \
        cf__call_##name,                                                           \
        cf__call_at_##name,                                                        \
        CF__TYPE_INIT(R),                                                          \
        CF__NARGS(__VA_ARGS__),                                                    \
        {CF__MAP(CF__P_TAG, CF__P_TAG, name, __VA_ARGS__)},                        \
        {CF__MAP(CF__P_OFFSET, CF__P_OFFSET, name, __VA_ARGS__)},                  \
        sizeof(struct cf__args_##name),                                            \
        CF__ALIGNOF(struct cf__args_##name),                                       \
        __FILE__,                                                                  \
        __LINE__,                                                                  \
        NULL};                                                                     \
    CF__TASK_REGISTRATION(name)                                                    \
    __attribute__((unused)) static inline int cf__submit_##name(                    \
        const struct cf_submit_options *opts, struct cf_future **fut,              \
        struct cf_executor *ex,                                                    \
        R (*fn)(CF__MAP(CF__P_TYPE_FIRST, CF__P_TYPE_NEXT, name, __VA_ARGS__))      \
            CF__MAP(CF__P_DECL_NEXT, CF__P_DECL_NEXT, name, __VA_ARGS__))          \
    {                                                                              \
        struct cf__args_##name a_ = {                                              \
            CF__MAP(CF__P_NAME_FIRST, CF__P_NAME_NEXT, name, __VA_ARGS__)};        \
        (void)fn;                                                                  \
        return cf__submit_task(fut, ex, opts, &cf__task_##name, &a_);              \
    }                                                                              \
    __attribute__((unused)) static inline int cf__map_##name(                       \
        struct cf_future **fut, bool async, struct cf_executor *ex,                \
        R (*fn)(CF__MAP(CF__P_TYPE_FIRST, CF__P_TYPE_NEXT, name, __VA_ARGS__)),     \
        const struct cf_map_options *opts,                                         \
        size_t n, R *out CF__MAP(CF__P_ARRAY, CF__P_ARRAY, name, __VA_ARGS__))      \
    {                                                                              \
        const void *in_[] = {CF__MAP(CF__P_NAME_FIRST, CF__P_NAME_NEXT, name, __VA_ARGS__)}; \
        (void)fn;                                                                  \
        return cf__map_arrays(fut, async, ex, opts, &cf__task_##name, n, out, in_,  \
                              0);                                                  \
    }                                                                              \
    __attribute__((unused)) static inline int cf__starmap_##name(                   \
        struct cf_future **fut, bool async, struct cf_executor *ex,                \
        R (*fn)(CF__MAP(CF__P_TYPE_FIRST, CF__P_TYPE_NEXT, name, __VA_ARGS__)),     \
        const struct cf_map_options *opts,                                         \
        size_t n, R *out, const struct cf__args_##name *tuples)                    \
    {                                                                              \
        const void *in_[] = {tuples};                                              \
        (void)fn;                                                                  \
        return cf__map_arrays(fut, async, ex, opts, &cf__task_##name, n, out, in_,  \
                              sizeof *tuples);                                     \
    }                                                                              \
    extern int cf__task_declared_##name

struct cf_future;
struct cf_executor;
struct cf_submit_options;
struct cf_map_options;

CF_BEGIN_DECLS
/* Internal: the typed submit functions generated by CF_TASK end here.
 * `args` is the packed argument block (NULL for a task without parameters);
 * `opts` may be NULL. */
CF_EXTERN int cf__submit_task(struct cf_future **fut, struct cf_executor *ex,
                              const struct cf_submit_options *opts, const cf_task *task,
                              const void *args);
/* Internal: the typed map functions generated by CF_TASK end here (map.h).
 * `in` has one array per parameter (zip), or, when tuple_size is nonzero,
 * one array of argument blocks of that size (starmap). */
CF_EXTERN int cf__map_arrays(struct cf_future **fut, bool async, struct cf_executor *ex,
                             const struct cf_map_options *opts, const cf_task *task, size_t n,
                             void *out, const void *const *in, size_t tuple_size);
CF_END_DECLS

/* The argument tuple type of a task with parameters: a struct whose members
 * a0, a1, ... are its parameters in order (for cf_starmap). */
#define CF_ARGS(task) struct cf__args_##task

#define CF_TASK(R, ...) CF__CAT(CF__TASK_, CF__HAS_PARAMS(__VA_ARGS__))(R, __VA_ARGS__)

#endif
