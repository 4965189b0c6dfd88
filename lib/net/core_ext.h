/* core_ext.h: what libcfutures lends its optional network library
 * (libcfutures-net) of its internals (private, never installed).
 *
 * libcfutures exports only cf_ names, and its internal cf__ functions are
 * hidden, so another shared library cannot call them. libcfutures-net needs
 * a few of them: the wire format's encoders and decoders (a remote call
 * travels exactly as a process pool's call does), the completing side of a
 * future (an executor's job), and cf_last_error()'s recorder. The core
 * exports one table of pointers to them, cf__net_core_v1; libcfutures-net
 * calls through it and through nothing else of the core's internals.
 *
 * The table is versioned by its name: a change to any signature below is a
 * new table (cf__net_core_v2), so that a libcfutures-net built against
 * another core fails to link instead of calling the wrong thing. Both
 * libraries are built from one source tree, so in practice they match.
 */
#ifndef CF_NET_CORE_EXT_H
#define CF_NET_CORE_EXT_H

#include <cfutures.h>

#include "frame.h"
#include "wire.h"

typedef struct cf__net_core {
    /* error_priv.h */
    int (*fail)(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    /* future_priv.h */
    void *(*future_args)(cf_future *f);
    void *(*future_extra)(cf_future *f);
    void *(*future_result_slot)(cf_future *f);
    int (*future_finish_from_slot)(cf_future *f);
    int (*future_start)(cf_future *f);
    int (*future_fail)(cf_future *f, int code, int detail, const char *origin, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
    /* frame.h: output buffers (the encoders append whole frames to them) */
    void (*frame_out_init)(cf__frame_out *out, uint32_t limit);
    void (*frame_out_free)(cf__frame_out *out);
    const void *(*frame_out_data)(const cf__frame_out *out, size_t *n);
    void (*frame_out_consume)(cf__frame_out *out, size_t n);
    /* wire.h */
    const char *(*wire_type_name)(uint32_t type);
    int (*wire_encode_call)(cf__frame_out *out, uint64_t id, const cf_task *task,
                            const void *args);
    int (*wire_encode_result)(cf__frame_out *out, uint64_t id, const cf_task *task,
                              const void *slot);
    int (*wire_encode_failed)(cf__frame_out *out, uint64_t id, int code, int detail,
                              const char *message);
    int (*wire_encode_value)(cf__frame_out *out, cf_type type, const void *src);
    int (*wire_open)(cf__wire_msg *msg, const void *payload, size_t len);
    void (*wire_decoder_init)(cf__wire_decoder *dec);
    void (*wire_decoder_free)(cf__wire_decoder *dec);
    int (*wire_decode_call)(cf__wire_decoder *dec, const cf__wire_msg *msg, const cf_task **task,
                            void **args);
    int (*wire_decode_result)(cf__wire_decoder *dec, const cf__wire_msg *msg,
                              const cf_task *task, void *slot);
    int (*wire_decode_failed)(cf__wire_decoder *dec, const cf__wire_msg *msg,
                              cf__wire_failure *failure);
    int (*wire_value_type)(const cf__wire_msg *msg, cf_type *type);
    int (*wire_decode_value)(cf__wire_decoder *dec, const cf__wire_msg *msg, cf_type type,
                             void *dst);
} cf__net_core;

#if defined(CF_BUILDING_LIBRARY)
__attribute__((visibility("default")))
#endif
extern const cf__net_core cf__net_core_v1;

#endif
