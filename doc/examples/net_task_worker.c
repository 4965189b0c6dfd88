/* net_task_worker.c: the task worker of the classic pair: connects to the
 * task master's queues (net_task_master.c) with the same authkey, takes
 * numbers, puts back their squares, and stops when the task queue is
 * closed and empty.
 *
 *     net_task_worker ADDRESS
 *
 * The authkey is $CF_NET_AUTHKEY, or "cfutures example authkey".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>
#include <cfutures/net.h>

#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

#define WAIT_S 60.0

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ADDRESS (as net_task_master prints it)\n", argv[0]);
        return 2;
    }
    const char *authkey = getenv("CF_NET_AUTHKEY");
    if (authkey == NULL)
        authkey = "cfutures example authkey";

    /* Python: QueueManager(address=..., authkey=b'...').connect();
     *         task = m.get_task_queue(); result = m.get_result_queue() */
    cf_net_keys keys;
    EXPECT(cf_net_keys_from_secret(&keys, authkey, strlen(authkey)) == 0);
    cf_net_options opts = {.keys = &keys};
    cf_net_queue *tasks, *results;
    EXPECT(cf_net_queue_connect(&tasks, argv[1], "tasks", &opts) == 0);
    EXPECT(cf_net_queue_connect(&results, argv[1], "results", &opts) == 0);

    for (;;) {
        int64_t n;
        int rc = cf_net_queue_get(tasks, &n, WAIT_S);
        if (rc == CF_ECLOSED)
            break; /* no more tasks */
        EXPECT(rc == 0);
        printf("run task %lld * %lld...\n", (long long)n, (long long)n);
        EXPECT(cf_net_queue_put(results, n * n, WAIT_S) == 0);
    }
    EXPECT(cf_net_queue_put(results, (int64_t)-1, WAIT_S) == 0); /* done */

    cf_net_queue_free(tasks);
    cf_net_queue_free(results);
    cf_net_keys_wipe(&keys);
    puts("worker exit.");
    return 0;
}
