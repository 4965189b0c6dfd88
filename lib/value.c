/* value.c: type names and comparison, dynamic values, and moving values
 * between a cf_value and a C object of a given cf_type. */
#include "config.h"

#include <string.h>

#include <cfutures.h>

#include "error_priv.h"

const char *cf_kind_name(uint32_t kind)
{
    static const char *const names[CF_KIND_COUNT_] = {
        [CF_KIND_VOID] = "void",     [CF_KIND_BOOL] = "bool",     [CF_KIND_I8] = "int8",
        [CF_KIND_U8] = "uint8",      [CF_KIND_I16] = "int16",     [CF_KIND_U16] = "uint16",
        [CF_KIND_I32] = "int32",     [CF_KIND_U32] = "uint32",    [CF_KIND_I64] = "int64",
        [CF_KIND_U64] = "uint64",    [CF_KIND_F32] = "float",     [CF_KIND_F64] = "double",
        [CF_KIND_STR] = "string",    [CF_KIND_BYTES] = "bytes",   [CF_KIND_STRUCT] = "struct",
        [CF_KIND_PTR] = "pointer",
    };
    return kind < CF_KIND_COUNT_ ? names[kind] : "unknown";
}

bool cf_type_equal(cf_type a, cf_type b)
{
    return a.kind == b.kind && a.size == b.size;
}

static cf_value cf__make(uint32_t kind, uint32_t size)
{
    cf_value v;
    memset(&v, 0, sizeof v);
    v.type.kind = kind;
    v.type.size = size;
    return v;
}

#define CF__SIGNED_CTOR(fn, T, kind)                                               \
    cf_value fn(T x)                                                               \
    {                                                                              \
        cf_value v = cf__make(kind, sizeof(T));                                    \
        v.as.i = x;                                                                \
        return v;                                                                  \
    }
#define CF__UNSIGNED_CTOR(fn, T, kind)                                             \
    cf_value fn(T x)                                                               \
    {                                                                              \
        cf_value v = cf__make(kind, sizeof(T));                                    \
        v.as.u = x;                                                                \
        return v;                                                                  \
    }
CF__SIGNED_CTOR(cf_value_i8, int8_t, CF_KIND_I8)
CF__SIGNED_CTOR(cf_value_i16, int16_t, CF_KIND_I16)
CF__SIGNED_CTOR(cf_value_i32, int32_t, CF_KIND_I32)
CF__SIGNED_CTOR(cf_value_i64, int64_t, CF_KIND_I64)
CF__UNSIGNED_CTOR(cf_value_u8, uint8_t, CF_KIND_U8)
CF__UNSIGNED_CTOR(cf_value_u16, uint16_t, CF_KIND_U16)
CF__UNSIGNED_CTOR(cf_value_u32, uint32_t, CF_KIND_U32)
CF__UNSIGNED_CTOR(cf_value_u64, uint64_t, CF_KIND_U64)

cf_value cf_value_bool(bool x)
{
    cf_value v = cf__make(CF_KIND_BOOL, sizeof(bool));
    v.as.b = x;
    return v;
}

cf_value cf_value_f32(float x)
{
    cf_value v = cf__make(CF_KIND_F32, sizeof(float));
    v.as.f = x;
    return v;
}

cf_value cf_value_f64(double x)
{
    cf_value v = cf__make(CF_KIND_F64, sizeof(double));
    v.as.f = x;
    return v;
}

cf_value cf_value_str(const char *s)
{
    cf_value v = cf__make(CF_KIND_STR, sizeof(const char *));
    v.as.str = s;
    return v;
}

cf_value cf_value_bytes(const void *data, size_t len)
{
    cf_value v = cf__make(CF_KIND_BYTES, sizeof(cf_bytes));
    v.as.bytes.data = data;
    v.as.bytes.len = len;
    return v;
}

cf_value cf_value_struct(const void *data, size_t size)
{
    /* Wider than a cf_type can say: a value of no valid kind, which every
     * use refuses, rather than a truncated size. */
    if (size > UINT32_MAX)
        return cf__make(CF_KIND_COUNT_, UINT32_MAX);
    cf_value v = cf__make(CF_KIND_STRUCT, (uint32_t)size);
    v.as.data = data;
    return v;
}

cf_value cf_value_ptr(void *p)
{
    cf_value v = cf__make(CF_KIND_PTR, sizeof(void *));
    v.as.ptr = p;
    return v;
}

cf_value cf_value_void(void)
{
    return cf__make(CF_KIND_VOID, 0);
}

/* The standard integer types, mapped by size (CF_VALUE). */
cf_value cf__value_char(char x)
{
    return (char)-1 < 0 ? cf_value_i8((int8_t)x) : cf_value_u8((uint8_t)x);
}

cf_value cf__value_int(int x)
{
    return cf_value_i32(x);
}

cf_value cf__value_uint(unsigned int x)
{
    return cf_value_u32(x);
}

cf_value cf__value_long(long x)
{
    return sizeof(long) == 8 ? cf_value_i64(x) : cf_value_i32((int32_t)x);
}

cf_value cf__value_ulong(unsigned long x)
{
    return sizeof(long) == 8 ? cf_value_u64(x) : cf_value_u32((uint32_t)x);
}

/* Copy the n low-order bytes of an integer (little or big endian alike). */
#define CF__STORE_INT(T, src)                                                      \
    do {                                                                           \
        T x_ = (T)(src);                                                           \
        memcpy(out, &x_, sizeof x_);                                               \
    } while (0)

int cf_value_store(const cf_value *v, cf_type type, void *out)
{
    if (v == NULL)
        return cf__fail(CF_EINVAL, "cf_value_store: NULL value");
    if (!cf_type_equal(v->type, type))
        return cf__fail(CF_ETYPE, "cf_value_store: value is %s, wanted %s",
                        cf_kind_name(v->type.kind), cf_kind_name(type.kind));
    if (type.kind == CF_KIND_VOID)
        return 0;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_value_store: NULL out");
    switch (type.kind) {
    case CF_KIND_BOOL: CF__STORE_INT(bool, v->as.b); break;
    case CF_KIND_I8: CF__STORE_INT(int8_t, v->as.i); break;
    case CF_KIND_U8: CF__STORE_INT(uint8_t, v->as.u); break;
    case CF_KIND_I16: CF__STORE_INT(int16_t, v->as.i); break;
    case CF_KIND_U16: CF__STORE_INT(uint16_t, v->as.u); break;
    case CF_KIND_I32: CF__STORE_INT(int32_t, v->as.i); break;
    case CF_KIND_U32: CF__STORE_INT(uint32_t, v->as.u); break;
    case CF_KIND_I64: CF__STORE_INT(int64_t, v->as.i); break;
    case CF_KIND_U64: CF__STORE_INT(uint64_t, v->as.u); break;
    case CF_KIND_F32: CF__STORE_INT(float, v->as.f); break;
    case CF_KIND_F64: CF__STORE_INT(double, v->as.f); break;
    case CF_KIND_STR: memcpy(out, &v->as.str, sizeof v->as.str); break;
    case CF_KIND_BYTES: memcpy(out, &v->as.bytes, sizeof v->as.bytes); break;
    case CF_KIND_PTR: memcpy(out, &v->as.ptr, sizeof v->as.ptr); break;
    case CF_KIND_STRUCT:
        if (type.size > 0 && v->as.data == NULL)
            return cf__fail(CF_EINVAL, "cf_value_store: struct value without data");
        memcpy(out, v->as.data, type.size);
        break;
    default:
        return cf__fail(CF_EINVAL, "cf_value_store: unknown kind %u", type.kind);
    }
    return 0;
}

#define CF__LOAD(T, field)                                                         \
    do {                                                                           \
        T x_;                                                                      \
        memcpy(&x_, src, sizeof x_);                                               \
        v->as.field = x_;                                                          \
    } while (0)

int cf_value_load(cf_value *v, cf_type type, const void *src)
{
    if (v == NULL)
        return cf__fail(CF_EINVAL, "cf_value_load: NULL value");
    if (type.kind >= CF_KIND_COUNT_)
        return cf__fail(CF_EINVAL, "cf_value_load: unknown kind %u", type.kind);
    *v = cf__make(type.kind, type.size);
    if (type.kind == CF_KIND_VOID)
        return 0;
    if (src == NULL)
        return cf__fail(CF_EINVAL, "cf_value_load: NULL source");
    switch (type.kind) {
    case CF_KIND_BOOL: CF__LOAD(bool, b); break;
    case CF_KIND_I8: CF__LOAD(int8_t, i); break;
    case CF_KIND_U8: CF__LOAD(uint8_t, u); break;
    case CF_KIND_I16: CF__LOAD(int16_t, i); break;
    case CF_KIND_U16: CF__LOAD(uint16_t, u); break;
    case CF_KIND_I32: CF__LOAD(int32_t, i); break;
    case CF_KIND_U32: CF__LOAD(uint32_t, u); break;
    case CF_KIND_I64: CF__LOAD(int64_t, i); break;
    case CF_KIND_U64: CF__LOAD(uint64_t, u); break;
    case CF_KIND_F32: CF__LOAD(float, f); break;
    case CF_KIND_F64: CF__LOAD(double, f); break;
    case CF_KIND_STR: memcpy(&v->as.str, src, sizeof v->as.str); break;
    case CF_KIND_BYTES: memcpy(&v->as.bytes, src, sizeof v->as.bytes); break;
    case CF_KIND_PTR: memcpy(&v->as.ptr, src, sizeof v->as.ptr); break;
    default: v->as.data = src; break; /* CF_KIND_STRUCT */
    }
    return 0;
}
