/* cfutures/cplusplus.h: what the typed macros stand on when the headers are
 * compiled as C++ (included by value.h; nothing here for C).
 *
 * C's typed macros select on types with _Generic, which C++ lacks. Here the
 * same selections are templates, so that a C++ caller of cf_submit, CF_TASK,
 * cf_map, cf_future_result, ... gets exactly the types a C caller gets, and
 * the same misuses (a wrong argument count or type, an array of the wrong
 * element type, a non-pointer `out`) fail to compile. C++ adds one check C
 * cannot make: a value the library copies as bytes (a task's parameters and
 * result, a queue item, a pipe message) must be trivially copyable.
 *
 * Everything lives in namespace cf__cxx, with C++ linkage even when the
 * headers are included inside an extern "C" block. Internal: use the macros.
 */
#ifndef CFUTURES_CPLUSPLUS_H
#define CFUTURES_CPLUSPLUS_H

#ifdef __cplusplus

#include "value.h"

extern "C++" {
#include <climits>
#include <cstddef>
#include <type_traits>

namespace cf__cxx {

/* T itself, so that `const identity_t<T>` qualifies the whole of T, as C's
 * `const __typeof__(T)` does. */
template <class T> struct identity { typedef T type; };
template <class T> using identity_t = typename identity<T>::type;

/* The cf_kind of the C type T, as C's CF__KIND_OF_PTR((T *)0) gives it:
 * the listed types by exact match (an enumeration as its underlying type,
 * as C makes it compatible with one), then any other pointer as a raw
 * pointer and anything else as a struct. */
template <class T, bool = std::is_enum<T>::value> struct kind;
template <class T> struct kind<T, true> : kind<typename std::underlying_type<T>::type> {};
template <class T>
struct kind<T, false>
    : std::integral_constant<uint32_t, (std::is_pointer<T>::value
                                        || std::is_member_pointer<T>::value
                                        || std::is_null_pointer<T>::value)
                                           ? (uint32_t)CF_KIND_PTR
                                           : (uint32_t)CF_KIND_STRUCT> {};
#define CF__CXX_KIND(T, k)                                                         \
    template <> struct kind<T, false> : std::integral_constant<uint32_t, (uint32_t)(k)> {}
CF__CXX_KIND(void, CF_KIND_VOID);
CF__CXX_KIND(const void, CF_KIND_VOID);
CF__CXX_KIND(bool, CF_KIND_BOOL);
CF__CXX_KIND(char, CHAR_MIN < 0 ? CF_KIND_I8 : CF_KIND_U8);
CF__CXX_KIND(signed char, CF_KIND_I8);
CF__CXX_KIND(unsigned char, CF_KIND_U8);
CF__CXX_KIND(short, CF_KIND_I16);
CF__CXX_KIND(unsigned short, CF_KIND_U16);
CF__CXX_KIND(int, CF__SINT_KIND(sizeof(int)));
CF__CXX_KIND(unsigned int, CF__UINT_KIND(sizeof(int)));
CF__CXX_KIND(long, CF__SINT_KIND(sizeof(long)));
CF__CXX_KIND(unsigned long, CF__UINT_KIND(sizeof(long)));
CF__CXX_KIND(long long, CF_KIND_I64);
CF__CXX_KIND(unsigned long long, CF_KIND_U64);
CF__CXX_KIND(float, CF_KIND_F32);
CF__CXX_KIND(double, CF_KIND_F64);
CF__CXX_KIND(char *, CF_KIND_STR);
CF__CXX_KIND(const char *, CF_KIND_STR);
CF__CXX_KIND(cf_bytes, CF_KIND_BYTES);
#undef CF__CXX_KIND

/* sizeof(T), and `none` for void (which has no size). */
template <class T, uint32_t none> struct size : std::integral_constant<uint32_t, (uint32_t)sizeof(T)> {};
template <uint32_t none> struct size<void, none> : std::integral_constant<uint32_t, none> {};
template <uint32_t none> struct size<const void, none> : std::integral_constant<uint32_t, none> {};

/* The cf_type of T (CF__TYPE_INIT, CF_TYPE_OF). */
template <class T> constexpr cf_type type_of()
{
    return cf_type{kind<T>::value, size<T, 0>::value};
}

/* The cf_type that an `out` argument of type P asks for (CF__TYPE_OF_OUT):
 * that of what it points to. A void pointer, nullptr or NULL (an integer
 * in C++) asks for nothing, as in C; any other non-pointer is refused when
 * the macro converts it to void *. */
template <class P, bool = std::is_pointer<P>::value> struct out_type {
    static constexpr cf_type value() { return cf_type{(uint32_t)CF_KIND_VOID, 1}; }
};
template <class P> struct out_type<P, true> {
    typedef typename std::remove_pointer<P>::type T;
    static constexpr cf_type value() { return cf_type{kind<T>::value, size<T, 1>::value}; }
};
template <class P> constexpr cf_type type_of_out()
{
    return out_type<typename std::decay<P>::type>::value();
}

/* Values the library copies as bytes: a C++ object that is not trivially
 * copyable would be torn apart (or its resources shared) by the copy. */
template <class T> struct copyable_as_bytes
    : std::integral_constant<bool, std::is_void<T>::value || std::is_trivially_copyable<T>::value> {};

/* CF__STORE_RESULT: *(R *)ret = call(), or just call() for a void R. */
template <class R> struct store_result {
    template <class F> static void run(void *ret, F call) { *static_cast<R *>(ret) = call(); }
};
template <> struct store_result<void> {
    template <class F> static void run(void *, F call) { call(); }
};

/* CF__SHARED_ASSERT_NUMERIC: bool, an integer type, float or double. */
template <class T> struct numeric
    : std::integral_constant<bool, kind<T>::value >= (uint32_t)CF_KIND_BOOL
                                       && kind<T>::value <= (uint32_t)CF_KIND_F64> {};

} /* namespace cf__cxx */
} /* extern "C++" */

#endif /* __cplusplus */
#endif
