/* mp_event_gate.c: forked children get ready, then wait at an Event until
 * the parent opens the gate (Python's multiprocessing.Event).
 *
 * Build: cc -std=c11 mp_event_gate.c $(pkg-config --cflags --libs cfutures)
 * Exits 0 when every child went through the gate, and none before it opened.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

enum { CHILDREN = 3 };

#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static cf_event *gate;        /* opened by the parent */
static cf_semaphore *ready;   /* each child releases one when it is ready */
static cf_shared_value *early; /* children that got through before the gate opened */
static cf_shared_value *opened; /* true once the parent opened the gate */

static int child(void)
{
    /* ... set up whatever the child needs, then say so ... */
    if (cf_semaphore_release(ready) != 0)
        return 1;
    if (cf_event_wait(gate, 30.0) != 0) /* CF_ETIMEDOUT if the gate stays shut */
        return 1;
    bool was_open;
    if (cf_shared_value_get(opened, &was_open, CF_FOREVER) != 0)
        return 1;
    if (!was_open && cf_shared_value_add(early, int32_t, 1, NULL, CF_FOREVER) != 0)
        return 1;
    return 0;
}

int main(void)
{
    EXPECT(cf_event_new(&gate) == 0);
    EXPECT(cf_semaphore_new(&ready, 0) == 0);
    EXPECT(cf_shared_value_new(&early, int32_t, 0, NULL) == 0);
    EXPECT(cf_shared_value_new(&opened, bool, false, NULL) == 0);

    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        EXPECT(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(child());
    }

    /* Wait until every child is ready, then open the gate for all at once. */
    for (int i = 0; i < CHILDREN; i++)
        EXPECT(cf_semaphore_acquire(ready, 30.0) == 0);
    EXPECT(!cf_event_is_set(gate));
    EXPECT(cf_shared_value_set(opened, bool, true, CF_FOREVER) == 0);
    EXPECT(cf_event_set(gate) == 0);
    printf("gate open for %d children\n", CHILDREN);

    for (int i = 0; i < CHILDREN; i++) {
        int status;
        EXPECT(waitpid(pids[i], &status, 0) == pids[i]);
        EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int32_t n;
    EXPECT(cf_shared_value_get(early, &n, CF_FOREVER) == 0);
    EXPECT(n == 0);

    cf_shared_value_free(opened);
    cf_shared_value_free(early);
    cf_semaphore_free(ready);
    cf_event_free(gate);
    return 0;
}
