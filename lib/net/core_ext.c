/* core_ext.c: the table of internals libcfutures lends libcfutures-net
 * (core_ext.h says why). Part of libcfutures itself, whether or not the
 * network library is built, so that the core's exports do not depend on
 * how it was configured. Holds no state.
 */
#include "config.h"

#include "core_ext.h"
#include "error_priv.h"
#include "future_priv.h"

const cf__net_core cf__net_core_v1 = {
    .fail = cf__fail,
    .future_args = cf__future_args,
    .future_extra = cf__future_extra,
    .future_result_slot = cf__future_result_slot,
    .future_finish_from_slot = cf__future_finish_from_slot,
    .future_start = cf__future_start,
    .future_fail = cf__future_fail,
    .frame_out_init = cf__frame_out_init,
    .frame_out_free = cf__frame_out_free,
    .frame_out_data = cf__frame_out_data,
    .frame_out_consume = cf__frame_out_consume,
    .wire_type_name = cf__wire_type_name,
    .wire_encode_call = cf__wire_encode_call,
    .wire_encode_result = cf__wire_encode_result,
    .wire_encode_failed = cf__wire_encode_failed,
    .wire_encode_value = cf__wire_encode_value,
    .wire_open = cf__wire_open,
    .wire_decoder_init = cf__wire_decoder_init,
    .wire_decoder_free = cf__wire_decoder_free,
    .wire_decode_call = cf__wire_decode_call,
    .wire_decode_result = cf__wire_decode_result,
    .wire_decode_failed = cf__wire_decode_failed,
    .wire_value_type = cf__wire_value_type,
    .wire_decode_value = cf__wire_decode_value,
};
