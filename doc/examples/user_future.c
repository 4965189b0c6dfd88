/* user_future.c: futures completed by the program itself, to bring another
 * source of asynchronous results (here, a thread reading lines from a pipe)
 * into cf_wait() and cf_as_completed() next to the pool's futures.
 *
 * Exits 0 when every outcome is the expected one.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

enum { LINES = 4 };

/* The other source: a thread that completes one future per line it reads. */
struct line_reader {
    int fd;
    cf_future *lines[LINES]; /* the reader's own references */
};

static void *read_lines(void *arg)
{
    struct line_reader *r = (struct line_reader *)arg;
    FILE *in = fdopen(r->fd, "r");
    char line[256];
    for (int i = 0; i < LINES; i++) {
        cf_future *f = r->lines[i];
        /* Claim the future before doing its work; skip it if cancelled. */
        if (cf_future_set_running(f) == 0) {
            if (in != NULL && fgets(line, sizeof line, in) != NULL) {
                line[strcspn(line, "\n")] = '\0';
                cf_future_set_result(f, line); /* the string is copied */
            } else {
                cf_future_set_error(f, -EPIPE, "line %d: the input ended", i + 1);
            }
        }
        cf_future_release(f);
    }
    if (in != NULL)
        fclose(in);
    else
        close(r->fd);
    return NULL;
}

static int count_words(const char *text)
{
    int words = 0;
    for (const char *p = text; *p != '\0'; p++)
        if (*p != ' ' && (p == text || p[-1] == ' '))
            words++;
    return words;
}
CF_TASK(int, count_words, const char *);

int main(void)
{
    cf_executor *ex;
    EXPECT(cf_thread_pool_new(&ex, NULL) == 0);

    /* One future per line to come; the second is not wanted after all. */
    cf_future *lines[LINES];
    struct line_reader reader;
    for (int i = 0; i < LINES; i++) {
        EXPECT(cf_future_new(&lines[i]) == 0);
        reader.lines[i] = cf_future_retain(lines[i]);
    }
    EXPECT(cf_future_cancel(lines[1]));

    int fds[2];
    EXPECT(pipe(fds) == 0);
    reader.fd = fds[0];
    pthread_t thread;
    EXPECT(pthread_create(&thread, NULL, read_lines, &reader) == 0);
    const char input[] = "alpha\nbeta\n";
    EXPECT(write(fds[1], input, strlen(input)) == (ssize_t)strlen(input));
    close(fds[1]);

    /* Wait for the lines and a task of the pool together. */
    cf_future *all[LINES + 1];
    for (int i = 0; i < LINES; i++)
        all[i] = lines[i];
    EXPECT(cf_submit(&all[LINES], ex, count_words, "wait on any future") == 0);
    size_t n_done = 0;
    EXPECT(cf_wait(all, LINES + 1, CF_ALL_COMPLETED, 30.0, NULL, &n_done) == 0);
    EXPECT(n_done == LINES + 1);

    for (int i = 0; i < LINES; i++) {
        const char *text = NULL;
        int rc = cf_future_result(lines[i], &text, 0.0);
        if (rc == 0)
            printf("line %d: %s\n", i, text); /* valid while we hold lines[i] */
        else
            printf("line %d: %s (%s)\n", i, cf_err_name(rc), cf_last_error());
    }
    const char *text;
    EXPECT(cf_future_result(lines[0], &text, 0.0) == 0 && strcmp(text, "alpha") == 0);
    EXPECT(cf_future_result(lines[1], &text, 0.0) == CF_ECANCELLED);
    EXPECT(cf_future_result(lines[2], &text, 0.0) == 0 && strcmp(text, "beta") == 0);
    EXPECT(cf_future_result(lines[3], &text, 0.0) == -EPIPE);
    EXPECT(cf_future_error(lines[3])->code == -EPIPE);
    int words = 0;
    EXPECT(cf_future_result(all[LINES], &words, 0.0) == 0 && words == 4);

    /* The first outcome stays: completing a done future is refused. */
    EXPECT(cf_future_set_result(lines[0], "again") == CF_ESTATE);
    EXPECT(cf_future_result(lines[0], &text, 0.0) == 0 && strcmp(text, "alpha") == 0);

    EXPECT(pthread_join(thread, NULL) == 0);
    for (int i = 0; i <= LINES; i++)
        cf_future_release(all[i]);
    cf_executor_free(ex);
    return 0;
}
