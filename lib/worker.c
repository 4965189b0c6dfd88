/* worker.c: the loop a process-pool worker runs, in its own process.
 *
 * Design notes
 * - Single-threaded (a thread started in a fork of a multi-threaded process
 *   is what ThreadSanitizer refuses, and what the fork server exists to
 *   avoid), blocking I/O on its socketpair end. It reads whatever the pool
 *   sent, runs every complete CALL in order, queues each answer, and sends
 *   what is queued when the batch is done, so the pool's pipelining turns
 *   into few system calls.
 * - Queued answers go out before a call starts, unless that call looks short:
 *   the call before it ran the same task in under CF__WORKER_SHORT_CALL_NS,
 *   and the oldest queued answer is younger than CF__WORKER_ANSWER_DELAY_NS.
 *   So a run of small calls answers in one write, and an answer never waits
 *   behind a call of another task, or of a task that was slow last time (it
 *   may wait behind one call that is unexpectedly slow).
 * - Before each call the worker writes its request id and the time to its
 *   beacon (shared memory, worker.h), and after queueing the answer it
 *   writes the id as finished: that is how the pool knows which call a dead
 *   worker was running, and for how long a call has run, with no message.
 * - First it runs the initializer (inside a failure context, so that
 *   cf_task_fail() gives the message) and says HELLO with the outcome; after
 *   a failed initializer it exits.
 * - A task's failure (cf_task_fail) is answered with FAILED; a call that does
 *   not decode (unknown task, arguments that do not match its declaration)
 *   is answered with FAILED and the decoder's reason, so one bad frame fails
 *   one future and the worker goes on.
 * - The worker ends on SHUTDOWN or when the pool closes its end. It never
 *   returns through the application's exit path (atexit handlers belong to
 *   the application): the fork server _exit()s with its status, after the
 *   worker flushed stdio. A task that calls exit() does not run them either:
 *   the fork server registered cf__child_skip_atexit(), which turns it into
 *   _exit() with the same status.
 */
#include "config.h"

#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "frame.h"
#include "map_priv.h"
#include "task_priv.h"
#include "wire.h"

/* Where a task writes its result: grown to the largest result type seen. */
typedef struct cf__result_scratch {
    void *mem;
    size_t size;
} cf__result_scratch;

static void *cf__scratch_for(cf__result_scratch *s, size_t size)
{
    if (size < 16)
        size = 16;
    if (size > s->size) {
        void *mem = cf__realloc(s->mem, size);
        if (mem == NULL)
            return NULL;
        s->mem = mem;
        s->size = size;
    }
    return s->mem;
}

/* The worker's state between calls. */
typedef struct cf__worker {
    int sock;
    cf__beacon *beacon;
    cf__frame_out out;
    cf__wire_decoder dec;
    cf__result_scratch scratch;
    int64_t oldest;           /* when the oldest queued answer was queued, or CF__NO_DEADLINE */
    const cf_task *last_task; /* the previous call's task (NULL if it did not run) */
    int64_t last_ns;          /* how long it ran */
} cf__worker;

/* Send every queued answer, blocking. Returns 0 or -errno. */
static int cf__worker_flush(cf__worker *wk)
{
    wk->oldest = CF__NO_DEADLINE;
    for (;;) {
        int rc = cf__frame_out_send(&wk->out, wk->sock);
        if (rc != -EAGAIN)
            return rc;
    }
}

static void cf__answer_failed(cf__frame_out *out, uint64_t id, int code, int detail,
                              const char *message)
{
    if (cf__wire_encode_failed(out, id, code, detail, message) != 0)
        cf__wire_encode_failed(out, id, code, detail, NULL);
}

/* Run one CALL and queue its answer. Returns 0, or -errno when the answers
 * before it could not be sent (the pool is gone). */
static int cf__run_call(cf__worker *wk, const cf__wire_msg *msg)
{
    int64_t start = cf__now_ns();
    atomic_store_explicit(&wk->beacon->since, start, memory_order_relaxed);
    atomic_store_explicit(&wk->beacon->started, msg->id, memory_order_release);
    const cf_task *task = NULL;
    void *args, *slot = NULL;
    const char *why = NULL; /* why the call cannot run */
    int code = cf__wire_decode_call(&wk->dec, msg, &task, &args);
    if (code != 0) {
        why = cf_last_error();
    } else if ((slot = cf__scratch_for(&wk->scratch, task->result.size)) == NULL) {
        code = -ENOMEM;
        why = "no memory for the task's result";
    }
    if (wk->oldest != CF__NO_DEADLINE) {
        bool looks_short = code == 0 && task == wk->last_task &&
                           wk->last_ns < CF__WORKER_SHORT_CALL_NS &&
                           start - wk->oldest < CF__WORKER_ANSWER_DELAY_NS;
        if (!looks_short && cf__worker_flush(wk) != 0)
            return -EPIPE;
    }

    cf__fail_ctx ctx = {0};
    if (code == 0) {
        cf__fail_ctx_enter(&ctx);
        task->call(args, slot);
        cf__fail_ctx_leave(&ctx);
    }
    int64_t end = cf__now_ns();
    wk->last_task = task;
    wk->last_ns = end - start;

    if (code != 0) {
        cf__answer_failed(&wk->out, msg->id, code, 0, why);
    } else if (ctx.failed) {
        cf__answer_failed(&wk->out, msg->id, CF_ETASK, ctx.code, ctx.message);
    } else {
        int rc = cf__wire_encode_result(&wk->out, msg->id, task, slot);
        if (rc != 0)
            cf__answer_failed(&wk->out, msg->id, rc, 0, cf_last_error());
    }
    if (wk->oldest == CF__NO_DEADLINE)
        wk->oldest = end;
    atomic_store_explicit(&wk->beacon->finished, msg->id, memory_order_release);
    cf__free(ctx.message);
    return 0;
}

/* Run one CHUNK of a map (map_chunk.c) and queue its answer: RESULT when
 * every element succeeded, else FAILED with the first failure. Chunks are
 * long: queued answers go out first. Returns 0, or -errno when the answers
 * could not be sent, or CF_EDECODE when the descriptors the chunk announces
 * did not come (the stream is no longer ours to trust). */
static int cf__run_chunk(cf__worker *wk, cf__frame_in *in, const cf__wire_msg *msg)
{
    atomic_store_explicit(&wk->beacon->since, cf__now_ns(), memory_order_relaxed);
    atomic_store_explicit(&wk->beacon->started, msg->id, memory_order_release);
    if (wk->oldest != CF__NO_DEADLINE && cf__worker_flush(wk) != 0)
        return -EPIPE;
    cf__wire_chunk chunk;
    int code = cf__wire_decode_chunk(&wk->dec, msg, &chunk);
    const char *why = code != 0 ? cf_last_error() : NULL;
    int fds[CF__MAP_MAX_FDS];
    uint32_t taken = 0;
    while (taken < chunk.nfds && taken < CF__MAP_MAX_FDS && (fds[taken] = cf__frame_in_take_fd(in)) >= 0)
        taken++;
    bool lost = taken < chunk.nfds;
    cf__map_ran ran = {.first_failed = SIZE_MAX};
    if (code == 0 && lost) {
        code = CF_EDECODE;
        why = "CHUNK: its descriptors did not arrive";
    }
    if (code == 0) {
        code = cf__map_chunk_serve(&chunk, fds, &ran);
        why = code != 0 ? cf_last_error() : NULL;
    }
    for (uint32_t i = 0; i < taken; i++)
        close(fds[i]);
    if (code != 0)
        cf__answer_failed(&wk->out, msg->id, code, 0, why);
    else if (ran.failed > 0)
        cf__answer_failed(&wk->out, msg->id, CF_ETASK, ran.detail,
                          ran.message != NULL ? ran.message : "the task failed");
    else if (cf__wire_encode_result(&wk->out, msg->id, &cf__map_chunk_task, NULL) != 0)
        cf__answer_failed(&wk->out, msg->id, -ENOMEM, 0, NULL);
    cf__free(ran.message);
    wk->oldest = cf__now_ns();
    wk->last_task = NULL;
    atomic_store_explicit(&wk->beacon->finished, msg->id, memory_order_release);
    return lost ? CF_EDECODE : 0;
}

/* Run the initializer; fill the HELLO. Returns true when the worker may serve. */
static bool cf__initialize(const cf__worker_config *cfg, cf__wire_hello *hello, char **message)
{
    memset(hello, 0, sizeof *hello);
    hello->pid = (int32_t)getpid();
    *message = NULL;
    if (cfg->initializer == NULL)
        return true;
    cf__fail_ctx ctx;
    cf__fail_ctx_enter(&ctx);
    int rc = cfg->initializer(cfg->initializer_arg);
    cf__fail_ctx_leave(&ctx);
    if (rc == 0 && !ctx.failed) {
        cf__free(ctx.message);
        return true;
    }
    hello->code = CF_EBROKEN;
    hello->detail = ctx.failed ? ctx.code : rc;
    *message = ctx.message != NULL
                   ? ctx.message
                   : cf__asprintf("the initializer returned %d", rc);
    hello->message = *message;
    return false;
}

/* Before it blocks on its socket, a worker polls it for a moment (yielding
 * the CPU between polls): the pool's next call often follows an answer
 * within microseconds, and a sleeping worker would cost a wake-up on the
 * path of every serial round trip. */
#define CF__WORKER_POLL_NS 30000

static void cf__worker_linger(int sock)
{
    int64_t until = cf__now_ns() + CF__WORKER_POLL_NS;
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    while (poll(&pfd, 1, 0) == 0 && cf__now_ns() < until)
        sched_yield();
}

int cf__worker_main(int sock, uint32_t slot, void *arg)
{
    const cf__worker_config *cfg = arg;
    cf__worker wk = {.sock = sock, .beacon = &cfg->beacons[slot], .oldest = CF__NO_DEADLINE};
    cf__frame_in in;
    cf__frame_out_init(&wk.out, cfg->max_frame_size);
    cf__frame_in_init(&in, cfg->max_frame_size);
    cf__wire_decoder_init(&wk.dec);

    cf__wire_hello hello;
    char *message;
    bool ready = cf__initialize(cfg, &hello, &message);
    int status = 0;
    if (cf__wire_encode_hello(&wk.out, &hello) != 0 || cf__worker_flush(&wk) != 0 || !ready)
        status = 1;
    cf__free(message);

    bool running = status == 0;
    while (running) {
        cf__worker_linger(sock);
        size_t received;
        int rc = cf__frame_in_recv(&in, sock, &received);
        if (rc != 0 || received == 0)
            break; /* the pool closed its end, or the socket broke */
        const uint8_t *payload;
        size_t len;
        while (running && (rc = cf__frame_in_next(&in, &payload, &len)) == 0) {
            cf__wire_msg msg;
            if (cf__wire_open(&msg, payload, len) != 0) {
                status = 2; /* not our protocol: nothing sensible to answer */
                running = false;
            } else if (msg.type == CF__WIRE_CALL) {
                running = cf__run_call(&wk, &msg) == 0;
            } else if (msg.type == CF__WIRE_CHUNK) {
                running = cf__run_chunk(&wk, &in, &msg) == 0;
            } else if (msg.type == CF__WIRE_SHUTDOWN) {
                running = false;
            }
        }
        if (rc == CF_ETOOBIG)
            status = 3, running = false;
        if (cf__worker_flush(&wk) != 0)
            break;
    }
    fflush(NULL);
    cf__free(wk.scratch.mem);
    cf__wire_decoder_free(&wk.dec);
    cf__frame_in_free(&in);
    cf__frame_out_free(&wk.out);
    close(sock);
    return status;
}
