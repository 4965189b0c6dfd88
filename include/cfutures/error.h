/* cfutures/error.h: error codes, their names and messages, and the error a
 * failed future carries.
 *
 * Codes are negative. System errors are -errno (-ENOMEM, -EAGAIN, ...); the
 * library's own codes are the CF_E* values below, all at or below -4000 so
 * they never collide with -errno. One table (CF_ERROR_TABLE) generates the
 * enum, cf_err_name() and cf_strerror().
 */
#ifndef CFUTURES_ERROR_H
#define CFUTURES_ERROR_H

#include "common.h"

/* X(name, value, message) */
#define CF_ERROR_TABLE(X)                                                          \
    X(CF_ETIMEDOUT, -4001, "timed out waiting")                                    \
    X(CF_ECANCELLED, -4002, "the future was cancelled")                            \
    X(CF_ETASK, -4003, "the task reported a failure")                              \
    X(CF_ESTATE, -4004, "invalid state for this operation")                        \
    X(CF_ESHUTDOWN, -4005, "the executor is shut down")                            \
    X(CF_EBROKEN, -4006, "the pool is broken (a worker initializer failed)")       \
    X(CF_ETYPE, -4007, "type mismatch")                                            \
    X(CF_EINVAL, -4008, "invalid argument")                                        \
    X(CF_ENOTFOUND, -4009, "no task registered under that name")                   \
    X(CF_EUNSUPPORTED, -4010, "not supported here")                                \
    X(CF_EDEADLOCK, -4011, "the call would deadlock")                              \
    X(CF_ECRASHED, -4012, "the worker died while running the task")                \
    X(CF_EDECODE, -4013, "malformed or mismatched frame")                          \
    X(CF_ETOOBIG, -4014, "frame larger than the size limit")                       \
    X(CF_ETASKTIMEOUT, -4015, "the task ran past its time limit")                  \
    X(CF_ETERMINATED, -4016, "the worker was terminated by shutdown")              \
    X(CF_EEXHAUSTED, -4017, "no more futures")                                     \
    X(CF_EAMBIGUOUS, -4018, "several different tasks are registered under that name") \
    X(CF_EOWNERDEAD, -4019, "acquired, but the previous holder died holding it")   \
    X(CF_EEOF, -4020, "the other end is closed")                                   \
    X(CF_EFULL, -4021, "the queue is full")                                        \
    X(CF_EEMPTY, -4022, "the queue is empty")                                      \
    X(CF_ECLOSED, -4023, "the object is closed")                                  \
    X(CF_EOWNED, -4024, "the future is completed by the library, not by the caller") \
    X(CF_EINTERRUPTED, -4025, "the wait was interrupted (cf_interrupt_waits)")

typedef enum cf_errc {
#define CF__ERRC_ENUM(name, value, msg) name = (value),
    CF_ERROR_TABLE(CF__ERRC_ENUM)
#undef CF__ERRC_ENUM
} cf_errc;

/* Why a future failed. Owned by the future: valid while the caller holds a
 * reference to it. Every failed future has its own cf_error. */
typedef struct cf_error {
    int code;           /* what cf_future_result() returns: CF_ETASK, CF_ECRASHED, ... */
    int detail;         /* CF_ETASK: the code the task gave cf_task_fail();
                           CF_ECRASHED: the signal number, or the exit status; else 0 */
    const char *message; /* human-readable, never NULL */
    const char *task;    /* the task's registered name, or NULL for user futures */
    const char *origin;  /* where it ran: "thread cf_2", "process 1234"; or NULL */
} cf_error;

CF_BEGIN_DECLS

/* A message for any code the library returns: its own CF_E* codes, -errno
 * values, and 0 ("success"). Unknown codes give "unknown error". Thread-safe;
 * the string is static. Never fails. */
CF_EXTERN const char *cf_strerror(int code);

/* The symbolic name of a code: "CF_ETIMEDOUT", "ENOMEM" (for -ENOMEM), "0",
 * or "unknown". Thread-safe; the string is static. Never fails. */
CF_EXTERN const char *cf_err_name(int code);

/* A detailed message about the last failing call made by this thread
 * ("cf_submit: argument 2 of task 'hypot2' is a double, got a string").
 * Calls that fail set it; calls that succeed leave it alone. Valid until this
 * thread's next call into the library. Never NULL (empty when nothing failed). */
CF_EXTERN const char *cf_last_error(void);

CF_END_DECLS

#endif
