/* children.h: forked child processes for the tests of the cross-process
 * objects (locks, semaphores, events, conditions, barriers, shared values).
 *
 * A child runs one function and ends with _exit(its return value): it never
 * returns into Check's runner. It dies with the test's process
 * (PR_SET_PDEATHSIG), so a failing test leaves no child behind. Children
 * stay single-threaded. Every wait here is bounded by DEADLINE_S.
 */
#ifndef CF_TESTS_CHILDREN_H
#define CF_TESTS_CHILDREN_H

#include <stddef.h>
#include <sys/types.h>

/* Forks a child that runs fn(arg) and exits with its return value. */
pid_t fork_child(int (*fn)(void *arg), void *arg);

/* Waits for child `pid` to end and returns its wait status; fails the test
 * when it is still running after DEADLINE_S. */
int reap_child(pid_t pid);

/* Reaps child `pid`, which must have exited with status `code`. */
void expect_exit(pid_t pid, int code);

/* Kills child `pid` with SIGKILL and reaps it (it must have died of it). */
void kill_child(pid_t pid);

/* Polls until child `pid` sleeps (state 'S'): a child that announced it is
 * about to block, and then sleeps, is blocked. Fails the test after
 * DEADLINE_S. */
void wait_asleep(pid_t pid);

/* Zeroed memory of `size` bytes shared with the children forked afterwards
 * (an anonymous shared mapping), for a test's own bookkeeping; and its
 * release. */
void *map_shared(size_t size);
void unmap_shared(void *p, size_t size);

/* How many shared mappings ("rw-s") /proc/self/maps lists: one per live
 * object made with cf__pshared_alloc, and whatever else the process shares. */
int count_shared_maps(void);

#endif
