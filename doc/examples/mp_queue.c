/* mp_queue.c: producers and consumers in forked child processes, sharing
 * one queue. Each producer puts its jobs, then the parent puts one sentinel
 * per consumer (an empty string), and each consumer stops at its sentinel.
 * A second queue carries the consumers' results back to the parent.
 *
 * Exits 0 when every job was done exactly once.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

enum { PRODUCERS = 2, CONSUMERS = 3, JOBS_EACH = 50 };

/* How long any one put or get may wait (CF_FOREVER would wait without
 * limit): a side that is gone cannot hang the others. */
#define WAIT_S 30.0

/* A job is a string naming a number; its result is the number squared. */
static void produce(cf_queue *jobs, int producer)
{
    for (int i = 0; i < JOBS_EACH; i++) {
        char job[32];
        snprintf(job, sizeof job, "%d", producer * JOBS_EACH + i);
        EXPECT(cf_queue_put(jobs, job, WAIT_S) == 0);
    }
}

static void consume(cf_queue *jobs, cf_queue *results)
{
    for (;;) {
        const char *job; /* valid until this thread's next get */
        EXPECT(cf_queue_get(jobs, &job, WAIT_S) == 0);
        if (strcmp(job, "") == 0)
            return; /* the sentinel */
        int64_t n = atoll(job);
        EXPECT(cf_queue_put(results, n * n, WAIT_S) == 0);
    }
}

static void reap(pid_t pid)
{
    int status;
    EXPECT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    /* Make the queues before forking: the children inherit them. A capacity
     * keeps producers from running far ahead of the consumers. */
    cf_queue *jobs, *results;
    cf_queue_options bounded = {.capacity = 16};
    EXPECT(cf_queue_new(&jobs, &bounded) == 0);
    EXPECT(cf_queue_new(&results, NULL) == 0);

    /* Children leave with _exit, so they never run the parent's exit handlers. */
    pid_t producers[PRODUCERS], consumers[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        EXPECT((consumers[i] = fork()) >= 0);
        if (consumers[i] == 0) {
            consume(jobs, results);
            _exit(0);
        }
    }
    for (int i = 0; i < PRODUCERS; i++) {
        EXPECT((producers[i] = fork()) >= 0);
        if (producers[i] == 0) {
            produce(jobs, i);
            _exit(0);
        }
    }

    for (int i = 0; i < PRODUCERS; i++)
        reap(producers[i]);
    for (int i = 0; i < CONSUMERS; i++)
        EXPECT(cf_queue_put(jobs, "", WAIT_S) == 0); /* one sentinel each */
    for (int i = 0; i < CONSUMERS; i++)
        reap(consumers[i]);

    /* Every job was done once: the squares of 0 .. N-1 add up. */
    const int64_t n = PRODUCERS * JOBS_EACH;
    int64_t sum = 0, square;
    for (int64_t i = 0; i < n; i++) {
        EXPECT(cf_queue_get(results, &square, 0) == 0);
        sum += square;
    }
    EXPECT(cf_queue_get(results, &square, 0) == CF_EEMPTY);
    EXPECT(sum == (n - 1) * n * (2 * n - 1) / 6);
    printf("%lld jobs done by %d consumers, sum of squares %lld\n", (long long)n, CONSUMERS,
           (long long)sum);

    cf_queue_free(jobs);
    cf_queue_free(results);
    return 0;
}
