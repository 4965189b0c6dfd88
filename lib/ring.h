/* ring.h: a ring of length-prefixed records in memory shared between
 * processes, whose every change is one store (private).
 *
 * The ring lives in memory from cf__pshared_alloc() (pshared.h) and is
 * changed only under a lock its user holds: a robust mutex, whose holder may
 * die at any instruction. So that a death never leaves a half-made change,
 * each change is committed by a single store:
 * - the ring's state (where the oldest record starts, where free space
 *   starts, how many records were ever appended and removed) is kept twice;
 *   a change writes the spare copy, then one store of `version` makes the
 *   spare copy the current one;
 * - a record's bytes are written into free space before the commit that
 *   adds it, and copied out (cf__ring_front) before the commit that removes
 *   it (cf__ring_pop).
 * A holder that dies leaves the ring exactly as it was before its change or
 * exactly as after it: the next holder has nothing to repair.
 *
 * A record is a 4-byte length (host order) followed by that many bytes,
 * wrapping around the end of the data area. Readers without the lock take a
 * consistent snapshot of the counts with cf__ring_counts() (the version read
 * before and after, as a sequence lock does).
 */
#ifndef CF_RING_H
#define CF_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of the length in front of each record. */
#define CF__RING_RECORD_HEADER 4u

typedef struct cf__ring_state {
    _Atomic uint64_t head;     /* byte position of the oldest record */
    _Atomic uint64_t tail;     /* byte position where the next record goes */
    _Atomic uint64_t appended; /* records ever appended */
    _Atomic uint64_t removed;  /* records ever removed */
} cf__ring_state;

/* Positions only grow; a position's byte is data[position % size]. */
typedef struct cf__ring {
    _Atomic uint64_t version; /* commits so far: state[version & 1] is current */
    cf__ring_state state[2];
    uint64_t size;            /* bytes in data[]; set once by cf__ring_init */
    uint8_t data[];
} cf__ring;

/* What a ring with `size` data bytes occupies (header included), or 0 when
 * that does not fit in a size_t. */
size_t cf__ring_footprint(size_t size);

/* Set up a ring in zeroed memory of cf__ring_footprint(size) bytes, before
 * any other process uses it. size >= CF__RING_RECORD_HEADER. */
void cf__ring_init(cf__ring *r, size_t size);

/* The largest record the ring can ever hold (when empty). */
size_t cf__ring_max_record(const cf__ring *r);

/* The rest needs the lock that serializes the ring's users. */

/* Records held now. */
uint64_t cf__ring_count(const cf__ring *r);

/* Records ever appended. */
uint64_t cf__ring_appended(const cf__ring *r);

/* Whether a record of len bytes fits in the free space now. */
bool cf__ring_fits(const cf__ring *r, size_t len);

/* Append a record of len bytes (cf__ring_fits must hold). */
void cf__ring_push(cf__ring *r, const void *rec, size_t len);

/* The oldest record's length (the ring must hold one). */
size_t cf__ring_front_len(const cf__ring *r);

/* Copy the oldest record (cf__ring_front_len bytes) to dst; the ring keeps it. */
void cf__ring_front(const cf__ring *r, void *dst);

/* Remove the oldest record (the ring must hold one). */
void cf__ring_pop(cf__ring *r);

/* Without the lock: records ever appended and ever removed, as of one
 * moment (never torn). Never blocks (retries while a commit lands). */
void cf__ring_counts(const cf__ring *r, uint64_t *appended, uint64_t *removed);

/* Test seam: when set, called by cf__ring_push and cf__ring_pop with the
 * change written but not committed (`push` tells which), under the user's
 * lock. Tests stop or kill a process there, at the worst moment. NULL in
 * normal use. */
extern void (*cf__ring_test_hook)(const cf__ring *r, bool push);

#endif
