/* mp_pipe.c: a Pipe between two children. A producer sends readings (a
 * struct) and a closing note (a string); a consumer receives them until end
 * of file and returns a summary as its task result. Each process closes the
 * ends it does not use, so the consumer sees end of file once the producer
 * is done.
 *
 * Exits 0 when the summary is the expected one.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>

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

enum { READINGS = 1000 };

/* Structs travel as their bytes: these have no padding, whose bytes would be
 * undefined (memory checkers report sending them). */
typedef struct reading {
    int64_t sensor;
    double value;
} reading;

typedef struct summary {
    int64_t count;
    double total;
    int64_t notes;
} summary;

/* The producer (a plain function): sends on tx, never receives. */
static void produce(void *arg)
{
    cf_pipe_end **ends = (cf_pipe_end **)arg; /* {rx, tx}, this process's copies */
    cf_pipe_close(ends[0]);
    for (int i = 0; i < READINGS; i++) {
        reading r = {.sensor = i % 4, .value = i * 0.5};
        EXPECT(cf_pipe_send(ends[1], r, CF_FOREVER) == 0);
    }
    EXPECT(cf_pipe_send(ends[1], "that was all", CF_FOREVER) == 0);
    cf_pipe_close(ends[1]); /* end of file for the consumer */
}

/* The consumer (a task): receives until end of file, returns a summary. */
static summary consume(cf_pipe_end *rx, cf_pipe_end *tx)
{
    cf_pipe_close(tx); /* or its own copy would keep the pipe open */
    summary s = {0};
    for (;;) {
        reading r;
        int rc = cf_pipe_recv(rx, &r, CF_FOREVER);
        if (rc == CF_EEOF)
            break;
        if (rc == CF_ETYPE) { /* not a reading: take it as a string */
            const char *note;
            EXPECT(cf_pipe_recv(rx, &note, CF_FOREVER) == 0);
            printf("consumer: note \"%s\"\n", note);
            s.notes++;
            continue;
        }
        EXPECT(rc == 0);
        s.count++;
        s.total += r.value;
    }
    cf_pipe_close(rx);
    return s;
}
CF_TASK(summary, consume, cf_pipe_end *, cf_pipe_end *);

int main(void)
{
    cf_pipe_end *ends[2]; /* ends[0] receives, ends[1] sends */
    EXPECT(cf_pipe_new(&ends[0], &ends[1], false) == 0);

    cf_process *producer, *consumer;
    EXPECT(cf_process_start(&consumer, NULL, consume, ends[0], ends[1]) == 0);
    EXPECT(cf_process_start_fn(&producer, NULL, produce, ends) == 0);
    /* The children have their own copies: the parent keeps none. */
    cf_pipe_close(ends[0]);
    cf_pipe_close(ends[1]);

    summary s;
    EXPECT(cf_process_result(consumer, &s, 30.0) == 0);
    EXPECT(cf_process_join(producer, 30.0) == 0);
    int code;
    EXPECT(cf_process_exitcode(producer, &code) == 0 && code == 0);
    printf("%s received %lld readings totalling %g, and %d note\n", cf_process_name(consumer),
           (long long)s.count, s.total, (int)s.notes);
    EXPECT(s.count == READINGS && s.total == 0.5 * READINGS * (READINGS - 1) / 2 &&
           s.notes == 1);
    cf_process_free(producer);
    cf_process_free(consumer);
    return 0;
}
