/* mp_lock_counter.c: forked children add to counters in shared memory, under
 * a Lock, and as shared values that guard themselves (Python's
 * multiprocessing.Lock and Value).
 *
 * Build: cc -std=c11 mp_lock_counter.c $(pkg-config --cflags --libs cfutures)
 * Exits 0 when the counts add up exactly.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

enum { CHILDREN = 4, ROUNDS = 10000 };

#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* What the children share: made before they are forked. */
static cf_lock *lock;
static cf_shared_array *tally; /* int64_t[2]: plain numbers, guarded by `lock` */
static cf_shared_value *hits;  /* int64_t with a lock of its own */

static int child(int id)
{
    int64_t *t;
    if (cf_shared_array_data(tally, &t) != 0)
        return 1;
    for (int i = 0; i < ROUNDS; i++) {
        /* Two numbers that must change together: one lock around both. */
        if (cf_lock_acquire(lock, 10.0) != 0)
            return 1;
        t[0] += 1;
        t[1] += id;
        cf_lock_release(lock);
        /* One counter: the value's own lock makes each add whole. */
        if (cf_shared_value_add(hits, int64_t, 1, NULL, 10.0) != 0)
            return 1;
    }
    return 0;
}

int main(void)
{
    EXPECT(cf_lock_new(&lock) == 0);
    cf_shared_options no_lock = {.no_lock = true};
    EXPECT(cf_shared_array_new(&tally, int64_t, 2, NULL, &no_lock) == 0);
    EXPECT(cf_shared_value_new(&hits, int64_t, 0, NULL) == 0);

    pid_t pids[CHILDREN];
    for (int id = 0; id < CHILDREN; id++) {
        pids[id] = fork();
        EXPECT(pids[id] >= 0);
        if (pids[id] == 0)
            _exit(child(id));
    }
    for (int id = 0; id < CHILDREN; id++) {
        int status;
        EXPECT(waitpid(pids[id], &status, 0) == pids[id]);
        EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    int64_t rounds, ids, total;
    EXPECT(cf_shared_array_get(tally, 0, &rounds, CF_FOREVER) == 0);
    EXPECT(cf_shared_array_get(tally, 1, &ids, CF_FOREVER) == 0);
    EXPECT(cf_shared_value_get(hits, &total, CF_FOREVER) == 0);
    printf("%lld rounds, ids sum to %lld, %lld hits\n", (long long)rounds, (long long)ids,
           (long long)total);
    EXPECT(rounds == CHILDREN * ROUNDS);
    EXPECT(ids == (int64_t)ROUNDS * (CHILDREN * (CHILDREN - 1) / 2));
    EXPECT(total == CHILDREN * ROUNDS);

    /* Each process releases its own view; the children's ended with them. */
    cf_shared_value_free(hits);
    cf_shared_array_free(tally);
    cf_lock_free(lock);
    return 0;
}
