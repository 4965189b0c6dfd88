/* extension.c: the internals libcfutures lends to the project's optional
 * libraries (extension.h): one-line wrappers, exported, around hidden
 * functions. No state of its own.
 */
#include "config.h"

#include "error_priv.h"
#include "extension.h"
#include "map_priv.h"
#include "task_priv.h"

int cf__ext_fail(int code, const char *message)
{
    return cf__fail(code, "%s", message != NULL ? message : cf_strerror(code));
}

void *cf__ext_future_extra(cf_future *f) { return cf__future_extra(f); }
void *cf__ext_future_args(cf_future *f) { return cf__future_args(f); }
void *cf__ext_future_result_slot(cf_future *f) { return cf__future_result_slot(f); }
int cf__ext_future_finish_from_slot(cf_future *f) { return cf__future_finish_from_slot(f); }
int cf__ext_future_start(cf_future *f) { return cf__future_start(f); }

int cf__ext_future_fail(cf_future *f, int code, int detail, const char *origin,
                        const char *message)
{
    return cf__future_fail(f, code, detail, origin, "%s",
                           message != NULL ? message : cf_strerror(code));
}

void cf__ext_future_clear_canceller(cf_future *f) { cf__future_clear_canceller(f); }
bool cf__ext_future_force_cancel(cf_future *f) { return cf__future_force_cancel(f); }
const cf_task *cf__ext_map_chunk_task(void) { return &cf__map_chunk_task; }
uint64_t cf__ext_registry_digest(void) { return cf__task_registry_digest(); }

void cf__ext_frame_out_init(cf__frame_out *out, uint32_t limit) { cf__frame_out_init(out, limit); }
void cf__ext_frame_out_free(cf__frame_out *out) { cf__frame_out_free(out); }

const void *cf__ext_frame_out_data(const cf__frame_out *out, size_t *n)
{
    return cf__frame_out_data(out, n);
}

void cf__ext_frame_out_consume(cf__frame_out *out, size_t n) { cf__frame_out_consume(out, n); }

int cf__ext_wire_encode_call(cf__frame_out *out, uint64_t id, const cf_task *task,
                             const void *args)
{
    return cf__wire_encode_call(out, id, task, args);
}

int cf__ext_wire_encode_result(cf__frame_out *out, uint64_t id, const cf_task *task,
                               const void *slot)
{
    return cf__wire_encode_result(out, id, task, slot);
}

int cf__ext_wire_encode_failed(cf__frame_out *out, uint64_t id, int code, int detail,
                               const char *message)
{
    return cf__wire_encode_failed(out, id, code, detail, message);
}

int cf__ext_wire_encode_chunk(cf__frame_out *out, uint64_t id, const cf__wire_chunk *chunk,
                              const int *fds)
{
    return cf__wire_encode_chunk(out, id, chunk, fds);
}

int cf__ext_wire_open(cf__wire_msg *msg, const void *payload, size_t len)
{
    return cf__wire_open(msg, payload, len);
}

void cf__ext_wire_decoder_init(cf__wire_decoder *dec) { cf__wire_decoder_init(dec); }
void cf__ext_wire_decoder_free(cf__wire_decoder *dec) { cf__wire_decoder_free(dec); }

int cf__ext_wire_decode_call(cf__wire_decoder *dec, const cf__wire_msg *msg, const cf_task **task,
                             void **args)
{
    return cf__wire_decode_call(dec, msg, task, args);
}

int cf__ext_wire_decode_result(cf__wire_decoder *dec, const cf__wire_msg *msg,
                               const cf_task *task, void *slot)
{
    return cf__wire_decode_result(dec, msg, task, slot);
}

int cf__ext_wire_decode_failed(cf__wire_decoder *dec, const cf__wire_msg *msg,
                               cf__wire_failure *failure)
{
    return cf__wire_decode_failed(dec, msg, failure);
}

int cf__ext_wire_decode_chunk(cf__wire_decoder *dec, const cf__wire_msg *msg,
                              cf__wire_chunk *chunk)
{
    return cf__wire_decode_chunk(dec, msg, chunk);
}
