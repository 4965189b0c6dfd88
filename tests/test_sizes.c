/* test_sizes.c: sizes no buffer or array can have, at every public entry
 * point that takes a size or a count, fail with an error code and a message:
 * never a wrapped computation, a short allocation written past, a crash or a
 * hang. Each test is one entry point.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "support.h"

static int64_t add3(int64_t a, int32_t b, int8_t c)
{
    return a + b + c;
}
CF_TASK(int64_t, add3, int64_t, int32_t, int8_t);

static size_t blob_len(cf_bytes b)
{
    return b.len;
}
CF_TASK(size_t, blob_len, cf_bytes);

static int32_t neg(int32_t x)
{
    return -x;
}
CF_TASK(int32_t, neg, int32_t);

/* A source that must never be called. */
static size_t never(void *tuples, size_t max, size_t first, void *arg)
{
    (void)tuples, (void)max, (void)first, (void)arg;
    ck_abort_msg("the source ran although the map could not be laid out");
    return 0;
}

static void drop_chunk(const cf_map_chunk *c, void *arg)
{
    (void)c, (void)arg;
}

static void expect_error(int rc, int want)
{
    ck_assert_msg(rc == want, "got %s (%s), wanted %s", cf_err_name(rc), cf_last_error(),
                  cf_err_name(want));
    ck_assert_uint_gt(strlen(cf_last_error()), 0);
}

START_TEST(sizes_map_generate_chunk_size)
{
    /* The case: SIZE_MAX / 4 elements per chunk; and its neighbours. */
    const size_t sizes[] = {SIZE_MAX / 4, SIZE_MAX / 4 + 1, SIZE_MAX / 2, SIZE_MAX - 63,
                            SIZE_MAX, (size_t)PTRDIFF_MAX};
    for (int kind = 0; kind < 2; kind++) {
        cf_executor *ex = kind == 0 ? new_thread_pool_of(2) : new_process_pool_of(2);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            cf_map_options o = {.chunk_size = sizes[i], .on_chunk = drop_chunk};
            expect_error(cf_map_generate(ex, add3, &o, never, NULL), CF_ETOOBIG);
            ck_assert_msg(strstr(cf_last_error(), "add3") != NULL, "%s", cf_last_error());
        }
        cf_map_options o = {.chunk_size = 16, .max_chunks_in_flight = SIZE_MAX / 8,
                            .on_chunk = drop_chunk};
        expect_error(cf_map_generate(ex, add3, &o, never, NULL), CF_ETOOBIG);
        cf_executor_free(ex);
    }
}
END_TEST

START_TEST(sizes_map_element_count)
{
    /* n elements whose arrays would exceed PTRDIFF_MAX bytes cannot be. */
    static int64_t a[4];
    static int32_t b[4];
    static int8_t c[4];
    static int64_t out[4];
    cf_executor *ex = new_thread_pool_of(2);
    const size_t ns[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 8 + 1};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        expect_error(cf_map(ex, add3, NULL, ns[i], out, a, b, c), CF_EINVAL);
        CF_ARGS(add3) tuples[1];
        expect_error(cf_starmap(ex, add3, NULL, ns[i], out, tuples), CF_EINVAL);
        cf_future *f = (cf_future *)&f;
        expect_error(cf_map_async(&f, ex, add3, NULL, ns[i], out, a, b, c), CF_EINVAL);
        ck_assert_ptr_null(f);
    }
    /* Huge chunk sizes and windows on a real array are clamped, and work. */
    for (int i = 0; i < 4; i++)
        a[i] = i, b[i] = 10 * i, c[i] = (int8_t)i;
    cf_map_options o = {.chunk_size = SIZE_MAX, .max_chunks_in_flight = SIZE_MAX};
    ck_assert_int_eq(cf_map(ex, add3, &o, 4, out, a, b, c), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(out[i], 12 * i);
    cf_executor_free(ex);
}
END_TEST

START_TEST(sizes_submit_bytes)
{
    /* A byte buffer claiming more bytes than memory holds is refused before
     * anything is copied (the copy's size used to wrap). */
    static char buf[8];
    for (int kind = 0; kind < 2; kind++) {
        cf_executor *ex = kind == 0 ? new_thread_pool_of(1) : new_process_pool_of(1);
        const size_t lens[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            cf_future *f = (cf_future *)&f;
            expect_error(cf_submit(&f, ex, blob_len, (cf_bytes){buf, lens[i]}), CF_EINVAL);
            ck_assert_ptr_null(f);
            cf_value v = cf_value_bytes(buf, lens[i]);
            expect_error(cf_submit_values(&f, ex, &cf__task_blob_len, &v, 1), CF_EINVAL);
        }
        cf_executor_free(ex);
    }
}
END_TEST

START_TEST(sizes_value_struct)
{
    /* A struct value wider than a cf_type can describe has no valid type:
     * every use refuses it instead of truncating its size. */
    static char data[16];
    cf_value v = cf_value_struct(data, (size_t)UINT32_MAX + 2);
    ck_assert_uint_eq(v.type.kind, CF_KIND_COUNT_);
    int64_t out;
    ck_assert_int_ne(cf_value_store(&v, CF_TYPE_OF(int64_t), &out), 0);
    cf_future *f;
    ck_assert_int_eq(cf_future_new(&f), 0);
    ck_assert_int_ne(cf_future_set_value(f, &v), 0);
    cf_future_release(f);
}
END_TEST

START_TEST(sizes_shared_memory)
{
    const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4095, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        ck_assert_ptr_null(cf_shared_alloc(sizes[i]));
    cf_shared_array *arr = NULL;
    const size_t ns[] = {SIZE_MAX, SIZE_MAX / 8 + 1, SIZE_MAX / 16};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int rc = cf_shared_array_new(&arr, double, ns[i], NULL, NULL);
        ck_assert_msg(rc == -ENOMEM || rc == CF_EINVAL, "%s", cf_err_name(rc));
        ck_assert_ptr_null(arr);
    }
}
END_TEST

START_TEST(sizes_queue)
{
    cf_queue *q = NULL;
    const size_t rings[] = {SIZE_MAX, SIZE_MAX - 63, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; i++) {
        int rc = cf_queue_new(&q, &(cf_queue_options){.ring_bytes = rings[i]});
        ck_assert_msg(rc == CF_EINVAL || rc == -ENOMEM, "%s", cf_err_name(rc));
        ck_assert_ptr_null(q);
    }
    /* Capacity is a count, not memory: any value is fine. */
    ck_assert_int_eq(cf_queue_new(&q, &(cf_queue_options){.capacity = SIZE_MAX}), 0);
    cf_queue_free(q);
}
END_TEST

START_TEST(sizes_pipe)
{
    cf_pipe_end *a, *b;
    ck_assert_int_eq(cf_pipe_new(&a, &b, false), 0);
    static char buf[8];
    const size_t lens[] = {SIZE_MAX, CF_PIPE_MAX_MESSAGE + 1, (size_t)UINT32_MAX + 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int rc = cf_pipe_send_bytes(b, buf, lens[i], 0);
        ck_assert_msg(rc == CF_ETOOBIG || rc == CF_EINVAL, "%s (%s)", cf_err_name(rc),
                      cf_last_error());
    }
    cf_pipe_close(a);
    cf_pipe_close(b);
}
END_TEST

START_TEST(sizes_pool_workers)
{
    cf_executor *ex = NULL;
    const size_t counts[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)UINT32_MAX + 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        int rc = cf_process_pool_new(&ex, &(cf_process_pool_options){.max_workers = counts[i]});
        ck_assert_msg(rc == CF_EINVAL || rc == -ENOMEM, "%s (%s)", cf_err_name(rc),
                      cf_last_error());
        ck_assert_ptr_null(ex);
    }
    /* A thread pool starts its threads on demand: a huge bound is only a
     * bound, and maps on it size their windows without overflow. */
    ck_assert_int_eq(cf_thread_pool_new(&ex, &(cf_thread_pool_options){.max_workers = SIZE_MAX}),
                     0);
    int32_t in[100], out[100];
    for (int32_t i = 0; i < 100; i++)
        in[i] = i;
    ck_assert_int_eq(cf_map(ex, neg, NULL, 100, out, in), 0);
    for (int32_t i = 0; i < 100; i++)
        ck_assert_int_eq(out[i], -i);
    cf_executor_free(ex);
}
END_TEST

static Suite *sizes_suite(void)
{
    Suite *s = suite_create("sizes");
    TCase *tc = tcase_create("absurd");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sizes_map_generate_chunk_size);
    tcase_add_test(tc, sizes_map_element_count);
    tcase_add_test(tc, sizes_submit_bytes);
    tcase_add_test(tc, sizes_value_struct);
    tcase_add_test(tc, sizes_shared_memory);
    tcase_add_test(tc, sizes_queue);
    tcase_add_test(tc, sizes_pipe);
    tcase_add_test(tc, sizes_pool_workers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(sizes_suite());
}
