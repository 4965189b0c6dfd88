/* net_netns_helper.c: the two ends of tests/test_net_netns.sh, which runs
 * them in two network namespaces and cuts the link between them.
 *
 *   net_netns_helper master ADDRESS FILE   a network executor on ADDRESS; its
 *       endpoint goes to FILE once it listens, FILE.running once a call that
 *       never ends runs on the worker. Exits 0 when that call then fails for
 *       the worker's silence (heartbeat timeout), 1 otherwise.
 *   net_netns_helper worker ADDRESS         a remote worker; exits 0 when it
 *       gives up on the silent executor (-ETIMEDOUT), 1 otherwise.
 *   net_netns_helper qserver ADDRESS FILE   serves a queue "q" holding one
 *       item; its endpoint goes to FILE. Serves until killed.
 *   net_netns_helper qclient ADDRESS FILE   gets the item, writes FILE, then
 *       waits for another without limit: exits 0 when that get fails with
 *       -ETIMEDOUT (the server silent), 1 otherwise.
 *
 * Both use heartbeats of 0.2 s and a heartbeat timeout of 2 s, and the
 * authkey "netns test".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cfutures.h>
#include <cfutures/net.h>

static int64_t square(int64_t n)
{
    return n * n;
}
CF_TASK(int64_t, square, int64_t);

static int32_t forever(int32_t unused)
{
    (void)unused;
    for (;;)
        pause();
    return 0;
}
CF_TASK(int32_t, forever, int32_t);

#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static void write_file(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    EXPECT(f != NULL);
    fprintf(f, "%s\n", text);
    EXPECT(fclose(f) == 0 && rename(tmp, path) == 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s master ADDRESS FILE | worker ADDRESS\n", argv[0]);
        return 2;
    }
    cf_net_keys keys;
    EXPECT(cf_net_keys_from_secret(&keys, "netns test", 10) == 0);
    cf_net_options o = {.keys = &keys, .heartbeat = 0.2, .heartbeat_timeout = 2.0,
                        .connect_timeout = 30.0};
    if (strcmp(argv[1], "worker") == 0) {
        int rc = cf_net_worker_run(argv[2], &o, 1);
        printf("worker: %s: %s\n", cf_err_name(rc), cf_last_error());
        return rc == -110 /* -ETIMEDOUT */ ? 0 : 1;
    }
    if (strcmp(argv[1], "qserver") == 0 && argc == 4) {
        cf_queue *q;
        cf_net_server *srv;
        EXPECT(cf_queue_new(&q, NULL) == 0 && cf_queue_put(q, 42, 0) == 0);
        EXPECT(cf_net_server_new(&srv, argv[2], &o) == 0);
        EXPECT(cf_net_server_add_queue(srv, "q", q) == 0);
        write_file(argv[3], cf_net_server_endpoint(srv));
        for (;;)
            pause();
    }
    if (strcmp(argv[1], "qclient") == 0 && argc == 4) {
        cf_net_queue *q;
        int32_t v;
        EXPECT(cf_net_queue_connect(&q, argv[2], "q", &o) == 0);
        EXPECT(cf_net_queue_get(q, &v, 60.0) == 0 && v == 42);
        write_file(argv[3], "got");
        int rc = cf_net_queue_get(q, &v, CF_FOREVER);
        printf("qclient: %s: %s\n", cf_err_name(rc), cf_last_error());
        cf_net_queue_free(q);
        return rc == -110 /* -ETIMEDOUT */ ? 0 : 1;
    }
    EXPECT(argc == 4 && strcmp(argv[1], "master") == 0);
    cf_executor *ex;
    EXPECT(cf_net_executor_new(&ex, argv[2], &o) == 0);
    write_file(argv[3], cf_net_executor_endpoint(ex));
    EXPECT(cf_net_executor_wait_workers(ex, 1, 60.0) == 0);
    cf_future *sq, *blocked;
    EXPECT(cf_submit(&sq, ex, square, (int64_t)7) == 0);
    int64_t r;
    EXPECT(cf_future_result(sq, &r, 60.0) == 0 && r == 49);
    EXPECT(cf_submit(&blocked, ex, forever, 0) == 0);
    while (!cf_future_running(blocked))
        EXPECT(cf_future_wait(blocked, 0.05) == CF_ETIMEDOUT);
    char running[4096];
    snprintf(running, sizeof running, "%s.running", argv[3]);
    write_file(running, "running");
    /* The test cuts the link now: the call must fail, not hang. */
    int32_t v;
    int rc = cf_future_result(blocked, &v, 120.0);
    const cf_error *e = cf_future_error(blocked);
    printf("master: %s: %s\n", cf_err_name(rc), e != NULL ? e->message : cf_last_error());
    EXPECT(rc == CF_ECRASHED && e != NULL && strstr(e->message, "heartbeat") != NULL);
    cf_future_release(sq);
    cf_future_release(blocked);
    EXPECT(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 60.0) == 0);
    cf_executor_free(ex);
    cf_net_keys_wipe(&keys);
    return 0;
}
