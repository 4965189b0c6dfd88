/* test_error.c: error codes, their names and messages, and cf_last_error().
 *
 * The expected names and messages come from CF_ERROR_TABLE itself, so a code
 * added to the table is checked without touching this file. cf_last_error()
 * is per thread: each check that a call records a message runs that call in a
 * fresh thread, whose message starts empty.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "support.h"

typedef struct error_entry {
    int code;
    const char *name;
    const char *message;
} error_entry;

static const error_entry error_table[] = {
#define ENTRY(name, value, msg) {name, #name, msg},
    CF_ERROR_TABLE(ENTRY)
#undef ENTRY
};
#define N_ERRORS (sizeof error_table / sizeof error_table[0])

START_TEST(error_codes_in_library_range)
{
    for (size_t i = 0; i < N_ERRORS; i++) {
        ck_assert_int_le(error_table[i].code, -4000);
        for (size_t j = i + 1; j < N_ERRORS; j++)
            ck_assert_int_ne(error_table[i].code, error_table[j].code);
    }
}
END_TEST

START_TEST(error_names_match_table)
{
    for (size_t i = 0; i < N_ERRORS; i++) {
        const char *name = cf_err_name(error_table[i].code);
        ck_assert_ptr_nonnull(name);
        ck_assert_str_eq(name, error_table[i].name);
    }
    ck_assert_str_eq(cf_err_name(CF_ETIMEDOUT), "CF_ETIMEDOUT");
    ck_assert_str_eq(cf_err_name(CF_EAMBIGUOUS), "CF_EAMBIGUOUS");
    ck_assert_str_eq(cf_err_name(CF_EOWNED), "CF_EOWNED");
    ck_assert_int_eq(CF_EOWNED, -4024);
    ck_assert_str_eq(cf_err_name(CF_EINTERRUPTED), "CF_EINTERRUPTED");
    ck_assert_int_eq(CF_EINTERRUPTED, -4025);
    ck_assert_ptr_nonnull(strstr(cf_strerror(CF_EINTERRUPTED), "interrupted"));
}
END_TEST

START_TEST(error_names_distinct)
{
    for (size_t i = 0; i < N_ERRORS; i++)
        for (size_t j = i + 1; j < N_ERRORS; j++)
            ck_assert_str_ne(cf_err_name(error_table[i].code), cf_err_name(error_table[j].code));
}
END_TEST

START_TEST(error_messages_match_table)
{
    for (size_t i = 0; i < N_ERRORS; i++) {
        const char *msg = cf_strerror(error_table[i].code);
        ck_assert_ptr_nonnull(msg);
        ck_assert_uint_gt(strlen(msg), 0);
        ck_assert_str_eq(msg, error_table[i].message);
        ck_assert_str_ne(msg, "unknown error");
    }
}
END_TEST

START_TEST(error_errno_codes)
{
    ck_assert_str_eq(cf_err_name(-ENOMEM), "ENOMEM");
    ck_assert_str_eq(cf_err_name(-EAGAIN), "EAGAIN");
    ck_assert_str_eq(cf_err_name(-EINVAL), "EINVAL");
    ck_assert_str_eq(cf_err_name(-ETIMEDOUT), "ETIMEDOUT");

    const int codes[] = {-ENOMEM, -EAGAIN, -EINVAL, -EPIPE, -ECHILD};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *msg = cf_strerror(codes[i]);
        ck_assert_ptr_nonnull(msg);
        ck_assert_uint_gt(strlen(msg), 0);
        ck_assert_str_ne(msg, "unknown error");
        ck_assert_str_ne(msg, "success");
    }
    /* A system error never reads as the library's code of the same meaning. */
    ck_assert_str_ne(cf_err_name(-ETIMEDOUT), cf_err_name(CF_ETIMEDOUT));
}
END_TEST

START_TEST(error_zero_is_success)
{
    ck_assert_str_eq(cf_err_name(0), "0");
    ck_assert_str_eq(cf_strerror(0), "success");
}
END_TEST

START_TEST(error_unknown_codes)
{
    /* Gaps around the table, positive codes, errno values no system has,
     * and the extremes of int. */
    const int codes[] = {-4000, -4100, -3999, -100000, 1, 42, 4001, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ck_assert_msg(strcmp(cf_err_name(codes[i]), "unknown") == 0,
                      "cf_err_name(%d) = \"%s\"", codes[i], cf_err_name(codes[i]));
        ck_assert_msg(strcmp(cf_strerror(codes[i]), "unknown error") == 0,
                      "cf_strerror(%d) = \"%s\"", codes[i], cf_strerror(codes[i]));
    }
    /* Just past the last code of the table. */
    int past = error_table[N_ERRORS - 1].code - 1;
    ck_assert_str_eq(cf_err_name(past), "unknown");
    ck_assert_str_eq(cf_strerror(past), "unknown error");
}
END_TEST

START_TEST(error_version)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", CF_VERSION_MAJOR, CF_VERSION_MINOR, CF_VERSION_PATCH);
    ck_assert_ptr_nonnull(cf_version());
    ck_assert_str_eq(cf_version(), want);
}
END_TEST

/* Names and messages are static strings, safe to read from many threads. */
static void *read_names(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++)
        for (size_t i = 0; i < N_ERRORS; i++)
            if (strcmp(cf_err_name(error_table[i].code), error_table[i].name) != 0 ||
                strcmp(cf_strerror(error_table[i].code), error_table[i].message) != 0)
                return (void *)1;
    return NULL;
}

START_TEST(error_names_from_threads)
{
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, read_names, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *failed;
        ck_assert_int_eq(pthread_join(threads[i], &failed), 0);
        ck_assert_ptr_null(failed);
    }
}
END_TEST

/* ---- cf_last_error --------------------------------------------------------- */

/* Runs `call` in a new thread and reports what it returned and the thread's
 * cf_last_error() before and after. */
typedef struct fresh_call {
    int (*call)(void);
    int rc;
    char before[512];
    char after[512];
    bool before_null, after_null;
} fresh_call;

static void *fresh_call_main(void *arg)
{
    fresh_call *fc = arg;
    const char *s = cf_last_error();
    fc->before_null = s == NULL;
    if (s != NULL)
        snprintf(fc->before, sizeof fc->before, "%s", s);
    fc->rc = fc->call();
    s = cf_last_error();
    fc->after_null = s == NULL;
    if (s != NULL)
        snprintf(fc->after, sizeof fc->after, "%s", s);
    return NULL;
}

static fresh_call run_fresh(int (*call)(void))
{
    fresh_call fc = {.call = call};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fresh_call_main, &fc), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    return fc;
}

static int set_error_code_zero(void)
{
    cf_future *f;
    ck_assert_int_eq(cf_future_new(&f), 0);
    int rc = cf_future_set_error(f, 0, "not an error code");
    ck_assert(!cf_future_done(f));
    cf_future_release(f);
    return rc;
}

static int set_error_code_positive(void)
{
    cf_future *f;
    ck_assert_int_eq(cf_future_new(&f), 0);
    int rc = cf_future_set_error(f, EINVAL, "a positive errno");
    ck_assert(!cf_future_done(f));
    cf_future_release(f);
    return rc;
}

static int future_new_null(void)
{
    return cf_future_new(NULL);
}

static int task_find_missing(void)
{
    const cf_task *t = NULL;
    return cf_task_find("no_task_is_registered_under_this_name", &t);
}

static int wait_nan(void)
{
    cf_future *f;
    ck_assert_int_eq(cf_future_new(&f), 0);
    int rc = cf_future_wait(f, NAN);
    cf_future_release(f);
    return rc;
}

static int succeed(void)
{
    cf_future *f;
    int rc = cf_future_new(&f);
    cf_future_release(f);
    return rc;
}

START_TEST(error_last_error_empty_in_new_thread)
{
    fresh_call fc = run_fresh(succeed);
    ck_assert_int_eq(fc.rc, 0);
    ck_assert(!fc.before_null);
    ck_assert(!fc.after_null);
    ck_assert_str_eq(fc.before, "");
    ck_assert_str_eq(fc.after, ""); /* a successful call records nothing */
}
END_TEST

START_TEST(error_last_error_set_error_zero)
{
    fresh_call fc = run_fresh(set_error_code_zero);
    ck_assert_int_eq(fc.rc, CF_EINVAL);
    ck_assert_str_eq(fc.before, "");
    ck_assert(!fc.after_null);
    ck_assert_uint_gt(strlen(fc.after), 0);
}
END_TEST

START_TEST(error_last_error_set_error_positive)
{
    fresh_call fc = run_fresh(set_error_code_positive);
    ck_assert_int_eq(fc.rc, CF_EINVAL);
    ck_assert_uint_gt(strlen(fc.after), 0);
}
END_TEST

START_TEST(error_last_error_other_failures)
{
    int (*const calls[])(void) = {future_new_null, task_find_missing, wait_nan};
    const int expected[] = {CF_EINVAL, CF_ENOTFOUND, CF_EINVAL};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        fresh_call fc = run_fresh(calls[i]);
        ck_assert_int_eq(fc.rc, expected[i]);
        ck_assert_msg(strlen(fc.after) > 0, "call %zu failed with %s but left no message", i,
                      cf_err_name(fc.rc));
    }
}
END_TEST

START_TEST(error_last_error_kept_by_success)
{
    ck_assert_int_eq(set_error_code_zero(), CF_EINVAL);
    char saved[512];
    snprintf(saved, sizeof saved, "%s", cf_last_error());
    ck_assert_uint_gt(strlen(saved), 0);
    ck_assert_int_eq(succeed(), 0);
    ck_assert_str_eq(cf_last_error(), saved);
}
END_TEST

/* A failure in one thread leaves another thread's message alone. */
START_TEST(error_last_error_per_thread)
{
    ck_assert_int_eq(cf_future_new(NULL), CF_EINVAL);
    char saved[512];
    snprintf(saved, sizeof saved, "%s", cf_last_error());
    ck_assert_uint_gt(strlen(saved), 0);

    fresh_call fc = run_fresh(task_find_missing);
    ck_assert_int_eq(fc.rc, CF_ENOTFOUND);
    ck_assert_str_eq(fc.before, "");
    ck_assert_str_ne(fc.after, "");
    ck_assert_str_eq(cf_last_error(), saved);
}
END_TEST

static Suite *error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_codes_in_library_range);
    tcase_add_test(tc, error_names_match_table);
    tcase_add_test(tc, error_names_distinct);
    tcase_add_test(tc, error_messages_match_table);
    tcase_add_test(tc, error_errno_codes);
    tcase_add_test(tc, error_zero_is_success);
    tcase_add_test(tc, error_unknown_codes);
    tcase_add_test(tc, error_version);
    tcase_add_test(tc, error_names_from_threads);
    tcase_add_test(tc, error_last_error_empty_in_new_thread);
    tcase_add_test(tc, error_last_error_set_error_zero);
    tcase_add_test(tc, error_last_error_set_error_positive);
    tcase_add_test(tc, error_last_error_other_failures);
    tcase_add_test(tc, error_last_error_kept_by_success);
    tcase_add_test(tc, error_last_error_per_thread);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(error_suite());
}
