/* children.c: forked child processes for the tests (children.h). */
#include "config.h"

#include "children.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

pid_t fork_child(int (*fn)(void *arg), void *arg)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(98);
        _exit(fn(arg));
    }
    return pid;
}

int reap_child(pid_t pid)
{
    double deadline = now_s() + DEADLINE_S;
    for (;;) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return status;
        ck_assert_msg(got == 0 || errno == EINTR, "waitpid(%d): %s", (int)pid,
                      got < 0 ? cf_strerror(-errno) : "unexpected pid");
        ck_assert_msg(keep_polling(deadline), "child %d did not end", (int)pid);
    }
}

void expect_exit(pid_t pid, int code)
{
    int status = reap_child(pid);
    ck_assert_msg(WIFEXITED(status), "child %d did not exit (status 0x%x)", (int)pid, status);
    ck_assert_msg(WEXITSTATUS(status) == code, "child %d exited with %d, expected %d", (int)pid,
                  WEXITSTATUS(status), code);
}

void kill_child(pid_t pid)
{
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = reap_child(pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "child %d did not die of SIGKILL (status 0x%x)", (int)pid, status);
}

void wait_asleep(pid_t pid)
{
    char state = '?';
    pid_t ppid;
    ck_assert_msg(EVENTUALLY(proc_stat(pid, &state, &ppid) && state == 'S'),
                  "child %d does not sleep (state %c)", (int)pid, state);
}

void *map_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

void unmap_shared(void *p, size_t size)
{
    ck_assert_int_eq(munmap(p, size), 0);
}

int count_shared_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL) {
        char perms[8];
        if (sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's')
            n++;
    }
    fclose(f);
    return n;
}
