/* worker.h: what a process-pool worker runs (private). */
#ifndef CF_WORKER_H
#define CF_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include <cfutures.h>

/* Answers wait in their worker to go back with those of the calls after
 * them (one write for a run of small calls) only while those calls look
 * short: the call before ran the same task in less than
 * CF__WORKER_SHORT_CALL_NS, and the oldest waiting answer is younger than
 * CF__WORKER_ANSWER_DELAY_NS. A worker that dies loses the answers waiting
 * in it: their calls run again. */
#define CF__WORKER_SHORT_CALL_NS 50000
#define CF__WORKER_ANSWER_DELAY_NS 500000

/* What a worker says without a message: which call it runs, and since when.
 * One per worker slot, in memory shared by the pool and every worker (mapped
 * before the fork server starts); written only by the worker in that slot
 * and, before it starts a worker there, by the pool. Request ids grow with
 * every call sent to a slot, so "started > finished" means that call is
 * running now, and once the worker is dead the values say which call it died
 * in and which ones finished. */
typedef struct cf__beacon {
    _Atomic uint64_t started;  /* id of the last call the worker started, or 0 */
    _Atomic uint64_t finished; /* id of the last call whose answer it queued, or 0 */
    _Atomic int64_t since;     /* when it started `started` (CLOCK_MONOTONIC ns);
                                  written before `started` */
    char pad[64 - 3 * sizeof(uint64_t)];
} cf__beacon;

/* Settings a worker needs. Written before the fork server starts and never
 * changed after, so every worker (a fork of the server) sees them as they are. */
typedef struct cf__worker_config {
    cf_initializer_fn initializer;
    void *initializer_arg;
    uint32_t max_frame_size;
    cf__beacon *beacons; /* shared; indexed by slot */
} cf__worker_config;

/* The worker's main loop (a cf__worker_main_fn for the fork server): `arg` is
 * a cf__worker_config. Returns the process's exit status: 0 after SHUTDOWN or
 * when the pool closed the socket, 1 when the initializer failed. */
int cf__worker_main(int sock, uint32_t slot, void *arg);

#endif
