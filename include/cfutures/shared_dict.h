/* cfutures/shared_dict.h: a dict and a list shared by related processes:
 * the containers of Python's multiprocessing.Manager (dict(), list()),
 * kept in shared memory instead of a server process, with the atomic
 * read-modify-write operations that a get-then-set across processes lacks.
 *
 * Who may use one: the process that created it and every process forked
 * from it afterwards (with fork(), or by anything in cfutures that forks),
 * from any of their threads, exactly as for cf_queue (queue.h): anonymous
 * shared memory, no file, no descriptor.
 *
 * Keys and values are dynamic values (value.h, cf_value) of any kind but a
 * raw pointer: numbers, bools, strings (NULL allowed), byte buffers,
 * structs (copied as bytes), and void (a value that carries nothing, like
 * None). They are copied in when stored and out when read. Keys compare by
 * type and bytes: cf_value_i32(1) and cf_value_i64(1) are different keys,
 * as are 0.0 and -0.0; a float NaN equals itself.
 *
 * Fixed capacity: each container is sized once, at creation, and never
 * grows (no allocation ever happens in shared memory after that). A dict
 * holds at most `capacity` entries and a list `capacity` items; keys and
 * values have a largest size in bytes (a string counts its bytes and its
 * NUL, a number 8 bytes). Storing past those limits fails with CF_EFULL
 * (no room) or CF_ETOOBIG (the value or key is too large), changing
 * nothing. The memory taken, all mapped at creation, is about 4/3 *
 * capacity * (key bytes + value bytes + 56) for a dict (a third more slots
 * than entries) and capacity * (value bytes + 16) for a list.
 *
 * A process killed at any point, even inside an operation holding the
 * container's lock, deadlocks no one and leaves no half-written entry: the
 * next process to take the lock finishes or drops the dead one's
 * operation (a journal of one step) and goes on; callers see no error.
 *
 * Values read out (get, pop, setdefault, next, the list's get and pop)
 * refer to memory of the calling thread, valid until its next call that
 * reads a value out of any shared dict or list: copy strings, byte buffers
 * and structs to keep them.
 *
 * Every operation is one short hold of the container's lock (a robust
 * process-shared mutex), waited for without a time limit; none waits for
 * anything else. len and the iteration read a consistent state, but others
 * may change it at once.
 *
 * Errors common to every call: CF_EINVAL (a NULL container or out
 * pointer, a key or value of an unknown kind or with NULL data and a
 * nonzero length); CF_EUNSUPPORTED (a raw pointer as key or value).
 */
#ifndef CFUTURES_SHARED_DICT_H
#define CFUTURES_SHARED_DICT_H

#include "common.h"
#include "error.h"
#include "value.h"

typedef struct cf_shared_dict cf_shared_dict;
typedef struct cf_shared_list cf_shared_list;

/* Defaults for the options' zero fields. */
#define CF_SHARED_DEFAULT_CAPACITY ((size_t)1024)
#define CF_SHARED_DEFAULT_KEY_BYTES ((size_t)64)
#define CF_SHARED_DEFAULT_VALUE_BYTES ((size_t)256)
/* The most entries or items a container may be made for (2^24), and the
 * largest key or value size (16 MiB). */
#define CF_SHARED_MAX_CAPACITY ((size_t)1 << 24)
#define CF_SHARED_MAX_BYTES ((size_t)1 << 24)

typedef struct cf_shared_container_options {
    size_t capacity;    /* entries (dict) or items (list); 0: CF_SHARED_DEFAULT_CAPACITY */
    size_t key_bytes;   /* dict only: largest key; 0: CF_SHARED_DEFAULT_KEY_BYTES */
    size_t value_bytes; /* largest value; 0: CF_SHARED_DEFAULT_VALUE_BYTES */
} cf_shared_container_options;

CF_BEGIN_DECLS

/* ---- dict ------------------------------------------------------------------------ */

/* Create an empty dict; `opts` may be NULL (the defaults). Never blocks.
 * Errors: CF_EINVAL (NULL out, a capacity or size above the maxima),
 * -ENOMEM or -errno (the shared mapping). */
CF_EXTERN int cf_shared_dict_new(cf_shared_dict **out, const cf_shared_container_options *opts);

/* Drop the calling process's handle (unmaps it here only; the others keep
 * theirs). No thread of this process may use it afterwards. NULL is
 * ignored. Never fails. */
CF_EXTERN void cf_shared_dict_free(cf_shared_dict *d);

/* d[key] = value. Errors: CF_EFULL (a new key and `capacity` entries
 * already), CF_ETOOBIG (key or value too large). */
CF_EXTERN int cf_shared_dict_set(cf_shared_dict *d, cf_value key, cf_value value);

/* *out = d[key]. Errors: -ENOENT (no such key). */
CF_EXTERN int cf_shared_dict_get(cf_shared_dict *d, cf_value key, cf_value *out);

/* *out = whether key is in d. */
CF_EXTERN int cf_shared_dict_contains(cf_shared_dict *d, cf_value key, bool *out);

/* del d[key]. Errors: -ENOENT. */
CF_EXTERN int cf_shared_dict_delete(cf_shared_dict *d, cf_value key);

/* Remove key and give its value (out may be NULL). Errors: -ENOENT. */
CF_EXTERN int cf_shared_dict_pop(cf_shared_dict *d, cf_value key, cf_value *out);

/* d.setdefault(key, dflt): when key is absent, store dflt under it; *out
 * (may be NULL) gets the value now under key. Errors: CF_EFULL,
 * CF_ETOOBIG (as for set). */
CF_EXTERN int cf_shared_dict_setdefault(cf_shared_dict *d, cf_value key, cf_value dflt,
                                        cf_value *out);

/* Atomically: if d[key] equals *expected (same type and bytes), or key is
 * absent and expected is NULL, set d[key] = desired and *swapped = true;
 * otherwise change nothing and *swapped = false (swapped may be NULL).
 * Errors: CF_EFULL, CF_ETOOBIG (as for set). */
CF_EXTERN int cf_shared_dict_compare_and_set(cf_shared_dict *d, cf_value key,
                                             const cf_value *expected, cf_value desired,
                                             bool *swapped);

/* Atomically d[key] += delta, for a value of any integer kind (its kind is
 * kept; a missing key starts as an int64_t 0); *result (may be NULL) gets
 * the new value. Errors: CF_ETYPE (the value is not an integer), -ERANGE
 * (the new value does not fit the kind; nothing changes), CF_EFULL,
 * CF_ETOOBIG. */
CF_EXTERN int cf_shared_dict_add(cf_shared_dict *d, cf_value key, int64_t delta,
                                 int64_t *result);

/* The same for a float or double value (a missing key starts as a double
 * 0.0). Errors: CF_ETYPE (not a float or double), CF_EFULL, CF_ETOOBIG. */
CF_EXTERN int cf_shared_dict_add_f64(cf_shared_dict *d, cf_value key, double delta,
                                     double *result);

/* How many entries d holds. Never blocks but for the lock; 0 for NULL. */
CF_EXTERN size_t cf_shared_dict_len(cf_shared_dict *d);

/* Remove every entry. Errors: only the common ones. */
CF_EXTERN int cf_shared_dict_clear(cf_shared_dict *d);

/* Iterate: start with *cursor = 0; each call gives the next entry (key and
 * value, either may be NULL) and advances *cursor, until CF_EEXHAUSTED.
 * Entries present for the whole iteration are given exactly once; entries
 * added or removed meanwhile may or may not be; the dict is never locked
 * between calls. Errors: CF_EEXHAUSTED (no more entries). */
CF_EXTERN int cf_shared_dict_next(cf_shared_dict *d, size_t *cursor, cf_value *key,
                                  cf_value *value);

/* ---- list ------------------------------------------------------------------------ */

/* Indexes: 0 is the first item, -1 the last (as in Python); an index out
 * of range is -ERANGE. */

/* Create an empty list (opts->key_bytes is ignored). Errors: as for
 * cf_shared_dict_new. */
CF_EXTERN int cf_shared_list_new(cf_shared_list **out, const cf_shared_container_options *opts);

/* As cf_shared_dict_free. */
CF_EXTERN void cf_shared_list_free(cf_shared_list *l);

/* Add value at the end. Errors: CF_EFULL (`capacity` items already),
 * CF_ETOOBIG. */
CF_EXTERN int cf_shared_list_append(cf_shared_list *l, cf_value value);

/* *out = l[index]. Errors: -ERANGE. */
CF_EXTERN int cf_shared_list_get(cf_shared_list *l, ptrdiff_t index, cf_value *out);

/* l[index] = value. Errors: -ERANGE, CF_ETOOBIG. */
CF_EXTERN int cf_shared_list_set(cf_shared_list *l, ptrdiff_t index, cf_value value);

/* Remove l[index] and give it (out may be NULL); the items after it move
 * down one. Errors: -ERANGE (also for an empty list). */
CF_EXTERN int cf_shared_list_pop(cf_shared_list *l, ptrdiff_t index, cf_value *out);

/* Atomically: if l[index] equals *expected (type and bytes), set it to
 * desired; *swapped (may be NULL) says whether it did. Errors: -ERANGE,
 * CF_ETOOBIG. */
CF_EXTERN int cf_shared_list_compare_and_set(cf_shared_list *l, ptrdiff_t index,
                                             const cf_value *expected, cf_value desired,
                                             bool *swapped);

/* Atomically l[index] += delta for an integer item (kind kept); *result
 * may be NULL. Errors: -ERANGE (index, or the sum does not fit),
 * CF_ETYPE. */
CF_EXTERN int cf_shared_list_add(cf_shared_list *l, ptrdiff_t index, int64_t delta,
                                 int64_t *result);

/* How many items l holds; 0 for NULL. */
CF_EXTERN size_t cf_shared_list_len(cf_shared_list *l);

/* Remove every item. */
CF_EXTERN int cf_shared_list_clear(cf_shared_list *l);

CF_END_DECLS

#endif
