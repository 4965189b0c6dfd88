/* extension.h: the few internals that the project's optional libraries
 * (libcfutures-mpi) need from libcfutures (private to the project).
 *
 * libcfutures exports only cf_ names, and its internal cf__ functions are
 * hidden. An optional library that implements an executor must still build
 * and complete futures and speak the wire format, so libcfutures exports this
 * thin set of wrappers (cf__ext_*): each calls the internal function of the
 * same name without the ext_ part, with the same contract (see
 * future_priv.h, wire.h, frame.h, task_priv.h). They are no public API: an
 * optional library must come from the same build as libcfutures.
 */
#ifndef CF_EXTENSION_H
#define CF_EXTENSION_H

#include <cfutures.h>

#include "executor_priv.h"
#include "future_priv.h"
#include "map_priv.h"
#include "wire.h"

CF_BEGIN_DECLS

/* cf__fail(code, "%s", message): record cf_last_error() text, return code. */
CF_EXTERN int cf__ext_fail(int code, const char *message);

/* Futures (future_priv.h). */
CF_EXTERN void *cf__ext_future_extra(cf_future *f);
CF_EXTERN void *cf__ext_future_args(cf_future *f);
CF_EXTERN void *cf__ext_future_result_slot(cf_future *f);
CF_EXTERN int cf__ext_future_finish_from_slot(cf_future *f);
/* PENDING -> RUNNING for the library's own futures (future_priv.h). */
CF_EXTERN int cf__ext_future_start(cf_future *f);
CF_EXTERN int cf__ext_future_fail(cf_future *f, int code, int detail, const char *origin,
                                  const char *message);
CF_EXTERN void cf__ext_future_clear_canceller(cf_future *f);
CF_EXTERN bool cf__ext_future_force_cancel(cf_future *f);

/* The task a map submits per chunk (map_priv.h): on an executor whose ops
 * say shares_memory, its one argument points at a cf__map_chunk whose `run`
 * describes the elements. */
CF_EXTERN const cf_task *cf__ext_map_chunk_task(void);

/* A digest of the task registry: every registered task's name, parameter
 * and result types (kinds and sizes), argument offsets, size and alignment.
 * Two processes of the same build have the same digest; a build that
 * declares other tasks or lays out a struct otherwise almost surely not.
 * It does not depend on the order of registration. */
CF_EXTERN uint64_t cf__ext_registry_digest(void);

/* Frames (frame.h). */
CF_EXTERN void cf__ext_frame_out_init(cf__frame_out *out, uint32_t limit);
CF_EXTERN void cf__ext_frame_out_free(cf__frame_out *out);
CF_EXTERN const void *cf__ext_frame_out_data(const cf__frame_out *out, size_t *n);
CF_EXTERN void cf__ext_frame_out_consume(cf__frame_out *out, size_t n);

/* The wire format (wire.h). */
CF_EXTERN int cf__ext_wire_encode_call(cf__frame_out *out, uint64_t id, const cf_task *task,
                                       const void *args);
CF_EXTERN int cf__ext_wire_encode_result(cf__frame_out *out, uint64_t id, const cf_task *task,
                                         const void *slot);
CF_EXTERN int cf__ext_wire_encode_failed(cf__frame_out *out, uint64_t id, int code, int detail,
                                         const char *message);
CF_EXTERN int cf__ext_wire_encode_chunk(cf__frame_out *out, uint64_t id,
                                        const cf__wire_chunk *chunk, const int *fds);
CF_EXTERN int cf__ext_wire_open(cf__wire_msg *msg, const void *payload, size_t len);
CF_EXTERN void cf__ext_wire_decoder_init(cf__wire_decoder *dec);
CF_EXTERN void cf__ext_wire_decoder_free(cf__wire_decoder *dec);
CF_EXTERN int cf__ext_wire_decode_call(cf__wire_decoder *dec, const cf__wire_msg *msg,
                                       const cf_task **task, void **args);
CF_EXTERN int cf__ext_wire_decode_result(cf__wire_decoder *dec, const cf__wire_msg *msg,
                                         const cf_task *task, void *slot);
CF_EXTERN int cf__ext_wire_decode_failed(cf__wire_decoder *dec, const cf__wire_msg *msg,
                                         cf__wire_failure *failure);
CF_EXTERN int cf__ext_wire_decode_chunk(cf__wire_decoder *dec, const cf__wire_msg *msg,
                                        cf__wire_chunk *chunk);

CF_END_DECLS

#endif
