/* cfutures/value.h: the types a task's parameters and result may have, and a
 * dynamic value for callers that build calls at run time.
 *
 * Supported types, and how they travel:
 *   bool, int8..64_t, uint8..64_t (and the standard integer types of those
 *   sizes), float, double            copied by value
 *   const char * / char *             strings: copied at submit (NULL allowed)
 *   cf_bytes                          byte buffer: the bytes are copied at submit
 *   plain structs (typedef'd)         copied as bytes (must hold no pointers
 *                                     that matter to the task on another process)
 *   void * and other raw pointers     passed as is; only on executors that share
 *                                     memory (thread pools); others refuse them
 *   void                              as a result type only
 */
#ifndef CFUTURES_VALUE_H
#define CFUTURES_VALUE_H

#include <limits.h>

#include "common.h"

typedef enum cf_kind {
    CF_KIND_VOID = 0,
    CF_KIND_BOOL,
    CF_KIND_I8,
    CF_KIND_U8,
    CF_KIND_I16,
    CF_KIND_U16,
    CF_KIND_I32,
    CF_KIND_U32,
    CF_KIND_I64,
    CF_KIND_U64,
    CF_KIND_F32,
    CF_KIND_F64,
    CF_KIND_STR,
    CF_KIND_BYTES,
    CF_KIND_STRUCT,
    CF_KIND_PTR,
    CF_KIND_COUNT_
} cf_kind;

/* A type: its kind and the size of its C representation in bytes (for
 * CF_KIND_STRUCT, sizeof the struct; 0 for void). */
typedef struct cf_type {
    uint32_t kind;
    uint32_t size;
} cf_type;

/* A byte buffer parameter or result. As a parameter, `data` is copied at
 * submit and points at that copy while the task runs. As a result, the task's
 * bytes are copied when it returns. */
typedef struct cf_bytes {
    const void *data;
    size_t len;
} cf_bytes;

/* A dynamically typed value that refers to (does not own) its data.
 * Integers are widened into i or u, floats into f; a string is `str`; a byte
 * buffer is `bytes`; a struct is `data` pointing at type.size bytes. */
typedef struct cf_value {
    cf_type type;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        const char *str;
        cf_bytes bytes;
        const void *data;
        void *ptr;
    } as;
} cf_value;

/* --- Compile-time type tags (used by CF_TASK and the typed macros). ------- */

#define CF__SINT_KIND(size)                                                        \
    ((size) == 1 ? CF_KIND_I8 : (size) == 2 ? CF_KIND_I16 : (size) == 4 ? CF_KIND_I32 : CF_KIND_I64)
#define CF__UINT_KIND(size)                                                        \
    ((size) == 1 ? CF_KIND_U8 : (size) == 2 ? CF_KIND_U16 : (size) == 4 ? CF_KIND_U32 : CF_KIND_U64)

#ifdef __cplusplus
/* In C++, the same selections as templates (cplusplus.h). */
#include "cplusplus.h"
#define CF__KIND_OF_PTR(p)                                                         \
    (::cf__cxx::kind<::std::remove_pointer<::std::decay<decltype(p)>::type>::type>::value)
#define CF__TYPE_INIT(T) {::cf__cxx::kind<T>::value, ::cf__cxx::size<T, 0>::value}
#define CF_TYPE_OF(T) (::cf__cxx::type_of<T>())
#define CF__TYPE_OF_OUT(out) (::cf__cxx::type_of_out<decltype(out)>())
#else
/* Kind of a pointer's pointee type, from an expression of type T *.
 * Raw pointers and structs are told apart by the compiler's type class. */
#define CF__KIND_OF_PTR(p)                                                         \
    _Generic((p),                                                                  \
        void *: CF_KIND_VOID,                                                      \
        const void *: CF_KIND_VOID,                                                \
        bool *: CF_KIND_BOOL,                                                      \
        char *: (CHAR_MIN < 0 ? CF_KIND_I8 : CF_KIND_U8),                                                \
        signed char *: CF_KIND_I8,                                                 \
        unsigned char *: CF_KIND_U8,                                               \
        short *: CF_KIND_I16,                                                      \
        unsigned short *: CF_KIND_U16,                                             \
        int *: CF__SINT_KIND(sizeof(int)),                                                  \
        unsigned int *: CF__UINT_KIND(sizeof(int)),                                \
        long *: CF__SINT_KIND(sizeof(long)),                                                \
        unsigned long *: CF__UINT_KIND(sizeof(long)),                              \
        long long *: CF_KIND_I64,                                                  \
        unsigned long long *: CF_KIND_U64,                                         \
        float *: CF_KIND_F32,                                                      \
        double *: CF_KIND_F64,                                                     \
        char **: CF_KIND_STR,                                                      \
        const char **: CF_KIND_STR,                                                \
        cf_bytes *: CF_KIND_BYTES,                                                 \
        default: (__extension__ __builtin_classify_type(                           \
                      *_Generic((p), void *: (char *)0, const void *: (char *)0,   \
                                default: (p))) == 5                                \
                      ? CF_KIND_PTR                                                \
                      : CF_KIND_STRUCT))

/* The cf_type of the C type T (T may be void), as a braced initializer (usable
 * in static initializers) and as a value. */
#define CF__TYPE_INIT(T)                                                           \
    {(uint32_t)CF__KIND_OF_PTR((T *)0),                                            \
     (uint32_t)(sizeof(*_Generic((T *)0, void *: (char *)0, default: (T *)0))      \
                * (CF__KIND_OF_PTR((T *)0) != CF_KIND_VOID))}
#define CF_TYPE_OF(T) ((cf_type)CF__TYPE_INIT(T))

/* The cf_type that `out` (a pointer to where a value goes) asks for;
 * a void * (e.g. NULL) asks for nothing (CF_KIND_VOID). */
#define CF__TYPE_OF_OUT(out)                                                       \
    ((cf_type){(uint32_t)CF__KIND_OF_PTR(out),                                     \
               (uint32_t)sizeof(*_Generic((out), void *: (char *)0,                \
                                          const void *: (char *)0,                 \
                                          default: (out)))})
#endif

CF_BEGIN_DECLS

/* A short name for a kind: "double", "int32", "string", "struct", ...
 * Unknown kinds give "unknown". Never fails. */
CF_EXTERN const char *cf_kind_name(uint32_t kind);

/* True when `a` and `b` are the same type (same kind, and same size). */
CF_EXTERN bool cf_type_equal(cf_type a, cf_type b);

/* Constructors for dynamic values. They never fail and copy nothing.
 * cf_value_struct with a size above UINT32_MAX (more than a cf_type can
 * describe) gives a value of kind CF_KIND_COUNT_, which every function
 * taking a value refuses (CF_EINVAL or CF_ETYPE). */
CF_EXTERN cf_value cf_value_bool(bool v);
CF_EXTERN cf_value cf_value_i8(int8_t v);
CF_EXTERN cf_value cf_value_u8(uint8_t v);
CF_EXTERN cf_value cf_value_i16(int16_t v);
CF_EXTERN cf_value cf_value_u16(uint16_t v);
CF_EXTERN cf_value cf_value_i32(int32_t v);
CF_EXTERN cf_value cf_value_u32(uint32_t v);
CF_EXTERN cf_value cf_value_i64(int64_t v);
CF_EXTERN cf_value cf_value_u64(uint64_t v);
CF_EXTERN cf_value cf_value_f32(float v);
CF_EXTERN cf_value cf_value_f64(double v);
CF_EXTERN cf_value cf_value_str(const char *s);
CF_EXTERN cf_value cf_value_bytes(const void *data, size_t len);
CF_EXTERN cf_value cf_value_struct(const void *data, size_t size);
CF_EXTERN cf_value cf_value_ptr(void *p);
CF_EXTERN cf_value cf_value_void(void);

/* Store `v` into *out, a C object of type `type` (as CF_TYPE_OF gives).
 * Strings and byte buffers are stored as pointers to v's data (not copied).
 * Errors: CF_ETYPE when v's type is not `type`; CF_EINVAL on a NULL out with
 * a non-void type. */
CF_EXTERN int cf_value_store(const cf_value *v, cf_type type, void *out);

/* Build a value from a C object of type `type` at `src` (the inverse of
 * cf_value_store); the value refers to src's data. Errors: CF_EINVAL for an
 * unknown kind or a NULL src with a non-void type. */
CF_EXTERN int cf_value_load(cf_value *v, cf_type type, const void *src);

CF_END_DECLS

#endif
