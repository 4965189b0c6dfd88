/* dynamic.c: find tasks by name at run time and call them with dynamic
 * values, as an interpreter, an RPC server or a language binding would.
 *
 * Each command is a line of text: a task's name, then its arguments.
 * Exits 0 when every outcome is the expected one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

/* Report an unexpected outcome and exit: this program doubles as a test. */
#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* CF_TASK registers each task under its function's name when the program
 * loads. */
static double scale(double x, int32_t factor)
{
    return x * factor;
}
CF_TASK(double, scale, double, int32_t);

static int64_t repeated_length(const char *s, uint16_t times)
{
    return (int64_t)strlen(s) * times;
}
CF_TASK(int64_t, repeated_length, const char *, uint16_t);

static const char *greeting(bool formal)
{
    return formal ? "Good evening." : "Hi!"; /* the result string is copied */
}
CF_TASK(const char *, greeting, bool);

/* A dynamic value of type `type` parsed from text (which it refers to). */
static int value_from_text(cf_type type, const char *text, cf_value *out)
{
    char *end = NULL;
    switch (type.kind) {
    case CF_KIND_BOOL:
        *out = cf_value_bool(strcmp(text, "true") == 0);
        break;
    case CF_KIND_I32:
        *out = cf_value_i32((int32_t)strtol(text, &end, 10));
        break;
    case CF_KIND_U16:
        *out = cf_value_u16((uint16_t)strtoul(text, &end, 10));
        break;
    case CF_KIND_F64:
        *out = cf_value_f64(strtod(text, &end));
        break;
    case CF_KIND_STR:
        *out = cf_value_str(text);
        break;
    default:
        return CF_EUNSUPPORTED;
    }
    return end == NULL || *end == '\0' ? 0 : CF_EINVAL;
}

/* Format a result of any type. */
static void format_value(const cf_value *v, char *buf, size_t size)
{
    switch (v->type.kind) {
    case CF_KIND_F64:
        snprintf(buf, size, "%g", v->as.f);
        break;
    case CF_KIND_I64:
        snprintf(buf, size, "%lld", (long long)v->as.i);
        break;
    case CF_KIND_STR:
        snprintf(buf, size, "\"%s\"", v->as.str);
        break;
    default:
        snprintf(buf, size, "(a %s)", cf_kind_name(v->type.kind));
        break;
    }
}

/* Run one command, print its outcome and format its result into `out`.
 * Returns 0 or the error code. */
static int run_command(cf_executor *ex, const char *command, char *out, size_t size)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", command);
    const char *name = strtok(buf, " ");
    const cf_task *task;
    int rc = cf_task_find(name, &task);
    if (rc != 0) {
        printf("%s -> %s (%s)\n", command, cf_err_name(rc), cf_last_error());
        return rc;
    }

    /* Parse each argument as the type the task's descriptor gives. */
    cf_value args[CF_TASK_MAX_PARAMS];
    size_t nargs = 0;
    for (char *word; (word = strtok(NULL, " ")) != NULL; nargs++) {
        if (nargs == CF_TASK_MAX_PARAMS) {
            printf("%s -> too many arguments\n", command);
            return CF_EINVAL;
        }
        if (nargs >= task->nparams) {
            args[nargs] = cf_value_str(word); /* cf_submit_values refuses the count */
            continue;
        }
        if (value_from_text(task->params[nargs], word, &args[nargs]) != 0) {
            printf("%s -> cannot pass '%s' as %s\n", command, word,
                   cf_kind_name(task->params[nargs].kind));
            return CF_EINVAL;
        }
    }

    cf_future *f;
    rc = cf_submit_values(&f, ex, task, args, nargs);
    if (rc != 0) {
        printf("%s -> %s (%s)\n", command, cf_err_name(rc), cf_last_error());
        return rc;
    }
    cf_value result;
    rc = cf_future_value(f, &result, 10.0);
    if (rc == 0) {
        format_value(&result, out, size); /* result refers to the future's memory */
        printf("%s -> %s\n", command, out);
    } else {
        printf("%s -> %s (%s)\n", command, cf_err_name(rc), cf_last_error());
    }
    cf_future_release(f);
    return rc;
}

int main(void)
{
    cf_executor *ex;
    EXPECT(cf_thread_pool_new(&ex, NULL) == 0);

    const struct {
        const char *command;
        int expected;
        const char *result;
    } commands[] = {
        {"scale 2.5 4", 0, "10"},
        {"repeated_length abc 3", 0, "9"},
        {"greeting true", 0, "\"Good evening.\""},
        {"cube 3", CF_ENOTFOUND, ""},       /* no task of that name */
        {"scale 2.5", CF_EINVAL, ""},       /* too few arguments */
        {"greeting true 2", CF_EINVAL, ""}, /* too many arguments */
        {"scale 2.5 x", CF_EINVAL, ""},     /* "x" is not an int32 */
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char result[64] = "";
        EXPECT(run_command(ex, commands[i].command, result, sizeof result) ==
               commands[i].expected);
        EXPECT(strcmp(result, commands[i].result) == 0);
    }

    /* cf_submit_values checks every argument's type against the task's. */
    const cf_task *scale_task;
    EXPECT(cf_task_find("scale", &scale_task) == 0);
    cf_value wrong[] = {cf_value_f64(2.5), cf_value_i64(4)};
    cf_future *f;
    int rc = cf_submit_values(&f, ex, scale_task, wrong, 2);
    printf("scale(double, int64) -> %s (%s)\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_ETYPE && f == NULL);

    cf_executor_free(ex);
    return 0;
}
