/* wire.h: the messages a process pool and its workers exchange (private).
 *
 * Each message is one frame (frame.h) whose payload is a MessagePack array
 * [version, type, fields...]; doc/wire-format.md gives every byte. Arguments
 * and results travel as the task's declaration says (cf_task: params, offsets,
 * result), and a task is named by its registered name, never by an address.
 *
 * Encoding appends one whole frame to a cf__frame_out (on failure nothing is
 * appended). Decoding is two steps: cf__wire_open() reads the header of a
 * payload (version, type, request id), so that the receiver can find what the
 * message is about (the future behind a RESULT), then one cf__wire_decode_*()
 * for that type reads and checks the rest.
 *
 * Decoding trusts nothing: a payload that is not exactly one well-formed
 * message of the expected type, whose values do not match the declaration
 * (count, kind, range, size) or that carries bytes after the message fails
 * with CF_EDECODE and a cf_last_error() message saying where and why.
 *
 * Decoded strings live in the decoder's arena, and decoded byte buffers point
 * into the payload itself: both stay valid until the next decode with the same
 * decoder and while the payload's memory is untouched (for a cf__frame_in
 * payload: until the reassembler's buffer next moves). Copy what must live
 * longer (cf__future_finish_from_slot does, for a result).
 *
 * An encoder needs no state beyond the cf__frame_out; a decoder is one
 * cf__wire_decoder per receiving thread. Neither allocates per message once
 * its buffers have grown to the largest message seen.
 */
#ifndef CF_WIRE_H
#define CF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <cfutures.h>

#include "frame.h"

/* The version every message carries. A decoder accepts only its own. */
#define CF__WIRE_VERSION 1

/* Message types (the second element of every message). */
enum {
    CF__WIRE_HELLO = 1,    /* worker -> parent: started, initializer's outcome */
    CF__WIRE_CALL = 2,     /* parent -> worker: run a task */
    CF__WIRE_RESULT = 3,   /* worker -> parent: a task's result */
    CF__WIRE_FAILED = 4,   /* worker -> parent: a task failed */
    CF__WIRE_SHUTDOWN = 5, /* parent -> worker: finish and exit */
    CF__WIRE_VALUE = 6,    /* either way: one typed value (pipes, queues) */
    CF__WIRE_CHUNK = 7,    /* parent -> worker: run a task over a chunk of a map */
};

/* "HELLO", "CALL", ...; "unknown" for any other value. Never fails. */
const char *cf__wire_type_name(uint32_t type);

/* ---- Encoding ---------------------------------------------------------------- */

/* CALL: run `task` on the packed argument block `args` (its layout is the
 * task's: offsets, params; NULL when the task has no parameters), answering
 * with request id `id`. Strings and byte buffers are copied into the frame.
 * Errors: CF_EUNSUPPORTED (a raw pointer parameter), CF_EINVAL (NULL task, NULL
 * args for a task with parameters, a cf_bytes with NULL data and a nonzero
 * length), CF_ETOOBIG (the message is larger than out's limit), -ENOMEM. */
int cf__wire_encode_call(cf__frame_out *out, uint64_t id, const cf_task *task, const void *args);

/* RESULT: the value the task wrote into its result slot (`slot` holds a C
 * object of type task->result; ignored, may be NULL, for a void result).
 * Errors: CF_EUNSUPPORTED (a raw pointer result), CF_EINVAL (NULL task, NULL
 * slot for a non-void result, bytes with NULL data and a nonzero length),
 * CF_ETOOBIG, -ENOMEM. A worker whose result is too big answers with FAILED
 * (CF_ETOOBIG) instead. */
int cf__wire_encode_result(cf__frame_out *out, uint64_t id, const cf_task *task,
                           const void *slot);

/* FAILED: request `id` failed with `code` (negative: CF_ETASK when the task
 * called cf_task_fail(), or the library's reason), `detail` (the code given to
 * cf_task_fail) and `message` (NULL for none).
 * Errors: CF_EINVAL (code >= 0), CF_ETOOBIG, -ENOMEM. */
int cf__wire_encode_failed(cf__frame_out *out, uint64_t id, int code, int detail,
                           const char *message);

/* HELLO: a worker's first message. */
typedef struct cf__wire_hello {
    int32_t pid;          /* the worker's process id (> 0) */
    int code;             /* 0: ready; < 0: the initializer failed (CF_EBROKEN) */
    int detail;           /* with a failure: the code given to cf_task_fail, or
                             the initializer's return value; else 0 */
    const char *message;  /* with a failure: what it said (or NULL); else NULL */
} cf__wire_hello;

/* Errors: CF_EINVAL (pid <= 0, code > 0, a ready HELLO with a detail or a
 * message), CF_ETOOBIG, -ENOMEM. */
int cf__wire_encode_hello(cf__frame_out *out, const cf__wire_hello *hello);

/* VALUE: one value of type `type` (a C object at src; src may be NULL for
 * void), with the type itself, so that a receiver expecting another type is
 * told so. Used by pipes and queues, which carry values rather than calls.
 * Errors: CF_EINVAL (not a value type, NULL src), CF_EUNSUPPORTED (a raw
 * pointer), CF_ETOOBIG, -ENOMEM. */
int cf__wire_encode_value(cf__frame_out *out, cf_type type, const void *src);

/* CHUNK: run a task over `count` consecutive elements of a map, whose
 * arrays live in shared-memory files that travel with the message as
 * attached descriptors (frame.h). A reference names one of those
 * descriptors by its index, the file offset of element 0 of the chunk and
 * the bytes between elements. */
typedef struct cf__wire_ref {
    uint32_t fd;        /* index among the message's descriptors, or CF__WIRE_NO_REF */
    uint64_t offset;
    uint64_t stride;
} cf__wire_ref;
#define CF__WIRE_NO_REF UINT32_MAX

enum {
    CF__WIRE_CHUNK_KEEP_GOING = 1u << 0, /* run every element, whatever fails */
    CF__WIRE_CHUNK_INLINE = 1u << 1,     /* the arguments are in the message */
};

typedef struct cf__wire_chunk {
    const cf_task *task;
    uint64_t first;      /* the map's index of element 0 (for messages) */
    uint64_t count;      /* elements, >= 1 */
    uint32_t flags;      /* CF__WIRE_CHUNK_* */
    int64_t deadline;    /* CLOCK_MONOTONIC ns after which no element starts; 0: none */
    uint32_t nfds;       /* descriptors attached to the message */
    /* Without CF__WIRE_CHUNK_INLINE: where argument k of each element is. */
    cf__wire_ref in[CF_TASK_MAX_PARAMS];
    /* With it: encoding reads argument k of element i at src[k] + i *
     * src_stride[k]; decoding gives `blocks`: `count` argument blocks of
     * task->args_size bytes each, one after the other, in the decoder's
     * memory (strings in its arena). */
    const char *src[CF_TASK_MAX_PARAMS];
    size_t src_stride[CF_TASK_MAX_PARAMS];
    void *blocks;
    cf__wire_ref out;    /* results (fd CF__WIRE_NO_REF: not kept) */
    cf__wire_ref status; /* one int32 per element */
    cf__wire_ref stop;   /* one 32-bit word: nonzero stops the chunk */
} cf__wire_chunk;

/* Encode a CHUNK, attaching fds[0 .. chunk->nfds) to its frame.
 * Errors: as cf__wire_encode_call (CF_EUNSUPPORTED for a raw pointer
 * parameter or result, CF_EINVAL, CF_ETOOBIG, -ENOMEM), and -errno when a
 * descriptor cannot be attached. */
int cf__wire_encode_chunk(cf__frame_out *out, uint64_t id, const cf__wire_chunk *chunk,
                          const int *fds);

/* SHUTDOWN: the worker finishes the calls it has received, then exits.
 * Errors: -ENOMEM. */
int cf__wire_encode_shutdown(cf__frame_out *out);

/* ---- Decoding ---------------------------------------------------------------- */

/* A message whose header has been read. */
typedef struct cf__wire_msg {
    const uint8_t *payload;
    size_t len;
    size_t body;    /* offset of the first field after the header */
    uint32_t type;  /* CF__WIRE_* */
    uint64_t id;    /* request id (CALL, RESULT, FAILED); 0 for the others */
} cf__wire_msg;

/* Read the header of a payload: version, type, field count, request id.
 * A SHUTDOWN is complete after this; every other type needs its decode call.
 * Errors: CF_EDECODE (not a message of this version). */
int cf__wire_open(cf__wire_msg *msg, const void *payload, size_t len);

/* Decoding state: the arena behind decoded strings, and the argument block
 * (also scratch space for a large result). */
typedef struct cf__wire_decoder {
    char *arena;            /* decoded strings, NUL-terminated */
    size_t arena_len;
    size_t arena_cap;
    void *block_mem;        /* allocation behind the argument block */
    size_t block_mem_size;
    /* Tasks found by name, newest first, valid while the registry's
     * generation is `recent_gen` (cf__task_registry_generation). */
    const cf_task *recent[4];
    uint64_t recent_gen;
} cf__wire_decoder;

/* An empty decoder (allocates nothing yet); free releases its memory and
 * leaves it empty. Never fail. */
void cf__wire_decoder_init(cf__wire_decoder *dec);
void cf__wire_decoder_free(cf__wire_decoder *dec);

/* CALL: find the task by name (cf_task_find) and fill a fresh argument block
 * with the decoded arguments, in the task's layout: *args is ready for
 * task->call (NULL when the task has no parameters). The block and the
 * strings it points to belong to the decoder (see the top of this file).
 * Errors: CF_EDECODE (not a CALL, malformed, or the arguments do not match the
 * task's declaration, including any raw pointer parameter), CF_ENOTFOUND and
 * CF_EAMBIGUOUS (from cf_task_find), -ENOMEM. */
int cf__wire_decode_call(cf__wire_decoder *dec, const cf__wire_msg *msg, const cf_task **task,
                         void **args);

/* RESULT: decode the value into `slot`, a C object of type task->result (the
 * task behind msg->id, as the caller knows it; slot may be NULL for a void
 * result). A string or byte buffer result is stored as a pointer into the
 * decoder's memory or the payload (see the top of this file).
 * Errors: CF_EDECODE (not a RESULT, malformed, or not a value of the declared
 * type), CF_EINVAL (NULL task, NULL slot with a non-void result), -ENOMEM. */
int cf__wire_decode_result(cf__wire_decoder *dec, const cf__wire_msg *msg, const cf_task *task,
                           void *slot);

/* FAILED: what cf__wire_encode_failed() sent (message NULL when none).
 * Errors: CF_EDECODE, -ENOMEM. */
typedef struct cf__wire_failure {
    int code;
    int detail;
    const char *message;
} cf__wire_failure;

int cf__wire_decode_failed(cf__wire_decoder *dec, const cf__wire_msg *msg,
                           cf__wire_failure *failure);

/* VALUE: the type the message announces (so that a receiver that takes any
 * type can prepare a destination). Errors: CF_EDECODE. */
int cf__wire_value_type(const cf__wire_msg *msg, cf_type *type);

/* VALUE: decode the value into dst, a C object of type `type` (dst may be
 * NULL for void). Strings and byte buffers point into the decoder's memory
 * or the payload (see the top of this file); dst is untouched on failure.
 * Errors: CF_ETYPE (the message holds another type), CF_EDECODE, CF_EINVAL
 * (NULL dst), -ENOMEM. */
int cf__wire_decode_value(cf__wire_decoder *dec, const cf__wire_msg *msg, cf_type type,
                          void *dst);

/* CHUNK: decode into *chunk (task found by name, references checked
 * against nfds; with CF__WIRE_CHUNK_INLINE the argument blocks decoded).
 * chunk->nfds is set as soon as it is read, even when a later field fails,
 * so that the receiver can take that many descriptors off its queue.
 * Errors: CF_EDECODE, CF_ENOTFOUND, CF_EAMBIGUOUS, -ENOMEM. */
int cf__wire_decode_chunk(cf__wire_decoder *dec, const cf__wire_msg *msg, cf__wire_chunk *chunk);

/* HELLO: what cf__wire_encode_hello() sent. Errors: CF_EDECODE, -ENOMEM. */
int cf__wire_decode_hello(cf__wire_decoder *dec, const cf__wire_msg *msg, cf__wire_hello *hello);

#endif
