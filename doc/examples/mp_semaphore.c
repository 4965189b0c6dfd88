/* mp_semaphore.c: a Semaphore lets at most two of six forked children work
 * at once (Python's multiprocessing.BoundedSemaphore guarding a scarce
 * resource).
 *
 * Build: cc -std=c11 mp_semaphore.c $(pkg-config --cflags --libs cfutures)
 * Exits 0 when no more than two children ever worked at the same time.
 */
#define _POSIX_C_SOURCE 200809L

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

enum { CHILDREN = 6, SLOTS = 2, JOBS = 50 };

#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static cf_semaphore *slots;
static cf_shared_array *stats; /* int32_t: [0] working now, [1] the most ever, [2] jobs done */

/* A child's calls either succeed or end it with status 1. */
#define TRY(call)                                                                  \
    do {                                                                           \
        if ((call) != 0)                                                           \
            return 1;                                                              \
    } while (0)

static int child(void)
{
    cf_rlock *lock = cf_shared_array_lock(stats);
    for (int job = 0; job < JOBS; job++) {
        TRY(cf_semaphore_acquire(slots, 30.0));
        /* Count in, and record the high-water mark: holding the array's lock
         * makes the three accesses one update (they take it again inside). */
        int32_t now, most;
        TRY(cf_rlock_acquire(lock, 30.0));
        TRY(cf_shared_array_add(stats, int32_t, 0, 1, &now, CF_FOREVER));
        TRY(cf_shared_array_get(stats, 1, &most, CF_FOREVER));
        if (now + 1 > most)
            TRY(cf_shared_array_set(stats, int32_t, 1, now + 1, CF_FOREVER));
        TRY(cf_rlock_release(lock));

        sched_yield(); /* the work */

        TRY(cf_shared_array_add(stats, int32_t, 2, 1, NULL, 30.0));
        TRY(cf_shared_array_add(stats, int32_t, 0, -1, NULL, 30.0));
        TRY(cf_semaphore_release(slots));
    }
    return 0;
}

int main(void)
{
    EXPECT(cf_semaphore_new_bounded(&slots, SLOTS) == 0);
    EXPECT(cf_shared_array_new(&stats, int32_t, 3, NULL, NULL) == 0);

    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        EXPECT(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(child());
    }
    for (int i = 0; i < CHILDREN; i++) {
        int status;
        EXPECT(waitpid(pids[i], &status, 0) == pids[i]);
        EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    int32_t *s;
    EXPECT(cf_shared_array_data(stats, &s) == 0);
    printf("%d jobs, at most %d at once\n", s[2], s[1]);
    EXPECT(s[2] == CHILDREN * JOBS);
    EXPECT(s[1] >= 1 && s[1] <= SLOTS);
    EXPECT(cf_semaphore_value(slots) == SLOTS);
    /* Bounded: one release too many is refused. */
    EXPECT(cf_semaphore_release(slots) == CF_ESTATE);

    cf_shared_array_free(stats);
    cf_semaphore_free(slots);
    return 0;
}
