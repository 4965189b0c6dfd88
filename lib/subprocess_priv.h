/* subprocess_priv.h: the handle behind cfutures/subprocess.h, shared by
 * lib/subprocess.c (starting, waiting, signalling) and
 * lib/subprocess_communicate.c (feeding and collecting the pipes, run, call,
 * check_output) (private).
 */
#ifndef CF_SUBPROCESS_PRIV_H
#define CF_SUBPROCESS_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cfutures/subprocess.h>

/* Output collected from one pipe: data[0..len) then a NUL; cap bytes. */
typedef struct cf__sub_buf {
    char *data;
    size_t len, cap;
} cf__sub_buf;

struct cf_subprocess {
    pid_t pid;
    int pidfd;                /* readable once the child has exited; -1 without pidfds */
    char *name;               /* argv[0], for messages */

    /* The parent's pipe ends, -1 when not a pipe or closed. Only the thread
     * that communicates (one at a time) touches them and the fields below. */
    int in_fd, out_fd, err_fd;
    cf__sub_buf out, err;
    bool comm_started;        /* communicate has been called */
    const void *input;        /* what the first communicate was given */
    size_t input_len, input_pos;

    pthread_mutex_t mu;       /* guards the fields below */
    bool reaped;
    bool lost;                /* someone else reaped it: no status */
    int status;               /* its wait status, once reaped */
};

/* Reap the child before `deadline` (lib/clock.h; a past one checks once).
 * Returns 0 once reaped, CF_ETIMEDOUT, or -ECHILD (reaped by someone else);
 * records a message naming `caller` on failure. */
int cf__subprocess_reap(cf_subprocess *p, int64_t deadline, const char *caller);

/* The child's returncode from a wait status: its exit status, or -signal. */
int cf__subprocess_code(int status);

#endif
