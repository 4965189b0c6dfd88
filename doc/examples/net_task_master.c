/* net_task_master.c: the task master of the classic pair (Python's
 * multiprocessing.managers example): it serves a task queue and a result
 * queue on the network, puts ten numbers in, and takes their squares out,
 * computed by task workers (net_task_worker.c) that connect from anywhere
 * with the same authkey.
 *
 *     net_task_master [ADDRESS [ENDPOINT_FILE [WORKERS]]]
 *
 * ADDRESS defaults to tcp://127.0.0.1:* (any free port); the address it got
 * is printed, and written to ENDPOINT_FILE when given. The authkey is
 * $CF_NET_AUTHKEY, or "cfutures example authkey". It waits for WORKERS
 * (default 1) workers to say they are done, and exits 0 when every square
 * came back right.
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

/* How long any one get may wait: a worker that never comes cannot hang us. */
#define WAIT_S 60.0

int main(int argc, char **argv)
{
    const char *address = argc > 1 ? argv[1] : "tcp://127.0.0.1:*";
    const char *authkey = getenv("CF_NET_AUTHKEY");
    if (authkey == NULL)
        authkey = "cfutures example authkey";
    int workers = argc > 3 ? atoi(argv[3]) : 1;

    /* Python: task_queue = queue.Queue(); result_queue = queue.Queue() */
    cf_queue *tasks, *results;
    EXPECT(cf_queue_new(&tasks, NULL) == 0);
    EXPECT(cf_queue_new(&results, NULL) == 0);

    /* Python: QueueManager.register('get_task_queue', ...);
     *         QueueManager(address=..., authkey=b'...').start() */
    cf_net_keys keys;
    EXPECT(cf_net_keys_from_secret(&keys, authkey, strlen(authkey)) == 0);
    cf_net_server *srv;
    EXPECT(cf_net_server_new(&srv, address, &(cf_net_options){.keys = &keys}) == 0);
    EXPECT(cf_net_server_add_queue(srv, "tasks", tasks) == 0);
    EXPECT(cf_net_server_add_queue(srv, "results", results) == 0);
    printf("serving on %s\n", cf_net_server_endpoint(srv));
    fflush(stdout);
    if (argc > 2) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
        FILE *f = fopen(tmp, "w");
        EXPECT(f != NULL);
        fprintf(f, "%s\n", cf_net_server_endpoint(srv));
        EXPECT(fclose(f) == 0 && rename(tmp, argv[2]) == 0);
    }

    /* Ten numbers in; then close the task queue: workers take what is
     * left and stop. */
    for (int64_t n = 1; n <= 10; n++)
        EXPECT(cf_queue_put(tasks, n, 0) == 0);
    EXPECT(cf_queue_close(tasks) == 0);

    /* Their squares out, in any order; a worker puts -1 when it is done. */
    int64_t sum = 0;
    int squares = 0, done = 0;
    while (squares < 10 || done < workers) {
        int64_t r;
        EXPECT(cf_queue_get(results, &r, WAIT_S) == 0);
        if (r < 0) {
            done++;
            continue;
        }
        printf("result: %lld\n", (long long)r);
        sum += r;
        squares++;
    }
    EXPECT(squares == 10 && sum == 385); /* 1 + 4 + ... + 100 */

    cf_net_server_free(srv);
    cf_net_keys_wipe(&keys);
    cf_queue_free(tasks);
    cf_queue_free(results);
    puts("master exit.");
    return 0;
}
