/* fork_server.h: a single-threaded process that forks the process pool's
 * workers (private).
 *
 * Forking a process that runs other threads copies locks those threads may
 * hold, and the child deadlocks on them later. So the pool forks one server
 * process when it starts (its dispatcher thread does so first, while the
 * thread creating the pool waits, so no other thread of the pool exists yet)
 * and asks it for every worker afterwards: the server never runs another
 * thread, and each worker is a fork of it, so it sees the application's
 * memory as it was when the pool started.
 *
 * The server is also the workers' parent: it reaps every one of them and
 * reports how each ended, and it delivers kills, so a pid is never signalled
 * after it was reaped (no pid-reuse race). Workers die with the server, and
 * the server with the thread that started it (PR_SET_PDEATHSIG), hence with
 * the application.
 *
 * All requests and events travel over one SOCK_SEQPACKET socketpair and are
 * asynchronous: the pool's dispatcher polls cf__fork_server_fd() and reads
 * events (SPAWNED, EXITED) as they come. One thread at a time uses a server.
 */
#ifndef CF_FORK_SERVER_H
#define CF_FORK_SERVER_H

#include <stdint.h>
#include <sys/types.h>

typedef struct cf__fork_server cf__fork_server;

/* Runs in each new worker process, with `sock` its end of the socketpair to
 * the pool. Returns the worker's exit status. */
typedef int (*cf__worker_main_fn)(int sock, uint32_t slot, void *arg);

typedef enum cf__fork_event_kind {
    CF__FORK_SPAWNED = 1, /* slot's worker started: pid */
    CF__FORK_SPAWN_FAILED, /* slot's worker could not be forked: error (-errno) */
    CF__FORK_EXITED,      /* pid ended: wait status */
} cf__fork_event_kind;

typedef struct cf__fork_event {
    cf__fork_event_kind kind;
    uint32_t slot;
    pid_t pid;
    int status; /* CF__FORK_EXITED: the wait status; CF__FORK_SPAWN_FAILED: -errno */
} cf__fork_event;

/* Fork the server. Signals are blocked around the fork. The server dies when
 * the calling thread ends: call this from a thread that outlives the server
 * (the process pool's dispatcher thread). Returns 0 or -errno. */
int cf__fork_server_start(cf__fork_server **out, cf__worker_main_fn main, void *arg);

/* The fd to poll for events (readable) and hang-ups (the server died). */
int cf__fork_server_fd(const cf__fork_server *s);

/* Ask for a new worker in `slot`, talking over `worker_sock` (the server
 * passes it to the worker; the caller keeps and closes its own copy). The
 * answer comes as a SPAWNED or SPAWN_FAILED event. Returns 0 or -errno. */
int cf__fork_server_spawn(cf__fork_server *s, uint32_t slot, int worker_sock);

/* Ask the server to send `sig` to worker `pid` if it has not been reaped.
 * Returns 0 or -errno (the request could not be sent). */
int cf__fork_server_kill(cf__fork_server *s, pid_t pid, int sig);

/* Read one event without blocking. Returns 0 with *ev set, -EAGAIN when none
 * is ready, or -EPIPE when the server is gone. */
int cf__fork_server_next_event(cf__fork_server *s, cf__fork_event *ev);

/* Stop the server: it kills (SIGKILL) and reaps every worker still alive and
 * exits; this waits for it and frees s. Works whether or not the server is
 * still alive, and whoever else holds a copy of the channel. NULL is ignored. */
void cf__fork_server_stop(cf__fork_server *s);

#endif
