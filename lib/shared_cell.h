/* shared_cell.h: values stored in fixed-size cells of shared memory, for
 * the shared dict and list (private).
 *
 * An encoded value is a cf__cell_hdr and `len` bytes: for numbers and bools
 * the 8 bytes of their widened form (int64, uint64, double, or 0/1), for a
 * string its bytes and NUL (`null` set and no bytes for a NULL string), for
 * byte buffers and structs their bytes. Two values are equal when their
 * encodings are (type and bytes).
 *
 * Values read out of shared memory are first copied, under the
 * container's lock, into memory of the calling thread (cf__cell_tls), then
 * decoded from there: what callers get stays valid while others change the
 * container.
 */
#ifndef CF_SHARED_CELL_H
#define CF_SHARED_CELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfutures/value.h>

typedef struct cf__cell_hdr {
    uint32_t kind, size; /* the value's cf_type */
    uint32_t len;        /* bytes after the header */
    uint32_t null;       /* a NULL string */
} cf__cell_hdr;

/* Room a cell needs for values of up to `max` bytes. */
#define CF__CELL_BYTES(max) (sizeof(cf__cell_hdr) + (max))

/* Check that v may be stored in a cell of up to `max` value bytes: returns
 * 0 (*len: the encoded size, header included) or a recorded CF_EINVAL,
 * CF_EUNSUPPORTED or CF_ETOOBIG; `role` ("key", "value") and `caller`
 * name it in the message. */
int cf__cell_check(const cf_value *v, size_t max, size_t *len, const char *caller,
                   const char *role);

/* Encode a checked value at dst (room for its encoded size). */
void cf__cell_encode(void *dst, const cf_value *v);

/* The encoded size of an encoded value, header included. */
size_t cf__cell_size(const void *enc);

/* Whether two encoded values are equal. */
bool cf__cell_equal(const void *a, const void *b);

/* FNV-1a of an encoded value. */
uint64_t cf__cell_hash(const void *enc);

/* The value an encoding holds; strings, byte buffers and structs refer to
 * enc's bytes. */
void cf__cell_decode(const void *enc, cf_value *out);

/* Memory of the calling thread for values read out (slot 0 or 1: a key and
 * a value at once), n bytes, kept until the thread ends (slot contents are
 * replaced by the next use of the slot). NULL with a recorded -ENOMEM. */
void *cf__cell_tls(int slot, size_t n, const char *caller);

/* Integer kinds: whether `kind` is one, and whether x fits it. */
bool cf__cell_is_int(uint32_t kind);

/* new = old + delta for an encoded integer value, in place (kind kept).
 * Returns 0 (*result: the new value), CF_ETYPE or -ERANGE (recorded;
 * enc unchanged). */
int cf__cell_add_int(void *enc, int64_t delta, int64_t *result, const char *caller);

/* The same for a float or double (F32 rounds to float). */
int cf__cell_add_f64(void *enc, double delta, double *result, const char *caller);

/* Tests only: called (when set) in the middle of a journaled write, with
 * the container's lock held and a cell half written, so that a test can
 * kill the process there. NULL in normal use. */
extern void (*cf__shared_test_hook)(void);

static inline void cf__shared_hook(void)
{
    if (cf__shared_test_hook != NULL)
        cf__shared_test_hook();
}

#endif
