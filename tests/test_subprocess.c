/* test_subprocess.c: programs run as children through cfutures/subprocess.h,
 * with real programs from the system (sh, cat, tee, env, grep, ls, sleep):
 * output, input and both at once (10 MB each way), a timeout that loses
 * nothing, a missing program and a missing working directory, environment
 * and working directory, signals (sent, and reset in the child), stderr
 * merged into stdout, given descriptors, no descriptor leaking into the
 * child, a child that does not read its input, 1000 runs leaving no zombie
 * and no descriptor, and argument checks.
 *
 * Waits are bounded by DEADLINE_S; a child that must not finish on its own
 * blocks on something the test controls (a FIFO, or sleep 600), never on
 * the clock.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"

static void expect_rc(int rc, int want)
{
    ck_assert_msg(rc == want, "got %s, expected %s (%s)", cf_err_name(rc), cf_err_name(want),
                  cf_last_error());
}

static cf_subprocess *spawn(const char *const argv[], const cf_subprocess_options *opts)
{
    cf_subprocess *p = NULL;
    expect_rc(cf_subprocess_spawn(&p, argv, opts), 0);
    ck_assert_ptr_nonnull(p);
    return p;
}

static int returncode(cf_subprocess *p)
{
    int code = 12345;
    expect_rc(cf_subprocess_returncode(p, &code), 0);
    return code;
}

/* `n` bytes of a pattern that is not periodic in small steps. */
static char *pattern(size_t n)
{
    char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        b[i] = (char)(x & 0xff);
    }
    return b;
}

static void expect_bytes(cf_bytes got, const void *want, size_t len, const char *what)
{
    ck_assert_msg(got.len == len, "%s: %zu bytes, expected %zu", what, got.len, len);
    ck_assert_msg(memcmp(got.data, want, len) == 0, "%s: the bytes differ", what);
    ck_assert_msg(((const char *)got.data)[len] == '\0', "%s: no NUL after the data", what);
}

static void expect_text(cf_bytes got, const char *want, const char *what)
{
    ck_assert_msg(got.len == strlen(want) && memcmp(got.data, want, got.len) == 0,
                  "%s: got \"%s\", expected \"%s\"", what, (const char *)got.data, want);
}

/* ---- Output, input, both ---------------------------------------------------------- */

START_TEST(subprocess_check_output_and_failure)
{
    const char *const echo[] = {"echo", "hi", "there", NULL};
    cf_subprocess *p;
    expect_rc(cf_subprocess_check_output(&p, echo, NULL, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "hi there\n", "echo");
    ck_assert_int_eq(returncode(p), 0);
    cf_subprocess_free(p);

    const char *const fail[] = {"sh", "-c", "echo partial; exit 3", NULL};
    expect_rc(cf_subprocess_check_output(&p, fail, NULL, DEADLINE_S), CF_ETASK);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "status 3"));
    ck_assert_int_eq(returncode(p), 3);
    expect_text(cf_subprocess_output(p), "partial\n", "sh");
    cf_subprocess_free(p);

    int code = -1;
    const char *const f[] = {"false", NULL};
    expect_rc(cf_subprocess_call(f, NULL, DEADLINE_S, &code), 0);
    ck_assert_int_eq(code, 1);
}
END_TEST

START_TEST(subprocess_ten_megabytes_each_way_at_once)
{
    /* tee copies its input to stdout and to stderr: 10 MB in, 10 MB out on
     * each pipe, all at once; any pipe left unserved would deadlock it. */
    size_t n = (size_t)10 << 20;
    char *in = pattern(n);
    const char *const tee[] = {"tee", "/dev/stderr", NULL};
    cf_subprocess_options o = {.stdin_mode = CF_SUBPROCESS_PIPE,
                               .stdout_mode = CF_SUBPROCESS_PIPE,
                               .stderr_mode = CF_SUBPROCESS_PIPE};
    cf_subprocess *p = spawn(tee, &o);
    cf_bytes out, err;
    expect_rc(cf_subprocess_communicate(p, in, n, &out, &err, DEADLINE_S), 0);
    expect_bytes(out, in, n, "stdout");
    expect_bytes(err, in, n, "stderr");
    ck_assert_int_eq(returncode(p), 0);
    /* Once collected, a further call returns the same at once. */
    cf_bytes again;
    expect_rc(cf_subprocess_communicate(p, NULL, 0, &again, NULL, 0), 0);
    ck_assert_ptr_eq(again.data, out.data);
    ck_assert_uint_eq(again.len, n);
    cf_subprocess_free(p);
    free(in);
}
END_TEST

START_TEST(subprocess_timeout_then_communicate_again_gets_everything)
{
    /* The child copies its input, then copies a FIFO that only the test
     * writes to: it cannot finish before the test lets it. */
    char dir[] = "/tmp/cf-subprocess-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    size_t n = (size_t)2 << 20;
    char *in = pattern(n);
    const char *const sh[] = {"sh", "-c", "cat; cat \"$0\"; echo done >&2", fifo, NULL};
    cf_subprocess_options o = {.stdin_mode = CF_SUBPROCESS_PIPE,
                               .stdout_mode = CF_SUBPROCESS_PIPE,
                               .stderr_mode = CF_SUBPROCESS_PIPE};
    cf_subprocess *p = spawn(sh, &o);
    cf_bytes out, err;
    expect_rc(cf_subprocess_communicate(p, in, n, &out, &err, 0.2), CF_ETIMEDOUT);
    ck_assert_uint_le(out.len, n);
    ck_assert_int_eq(memcmp(out.data, in, out.len), 0);
    expect_rc(cf_subprocess_poll(p, NULL), CF_ETIMEDOUT);
    /* A different input is refused on a repeated call. */
    expect_rc(cf_subprocess_communicate(p, in, n - 1, &out, &err, 0), CF_EINVAL);

    /* Put "tail" in the FIFO (opened read-write: it neither blocks nor
     * needs a reader yet) and go on communicating in short rounds, each
     * timing out and continuing, until the child has copied it; then the
     * end of file lets it finish. */
    int fd = open(fifo, O_RDWR | O_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write_full(fd, "tail", 4), 0);
    double deadline = now_s() + DEADLINE_S;
    int rc;
    while ((rc = cf_subprocess_communicate(p, in, n, &out, &err, 0.05)) == CF_ETIMEDOUT
           && out.len < n + 4)
        ck_assert_msg(keep_polling(deadline), "the child never copied the FIFO");
    expect_rc(rc, CF_ETIMEDOUT); /* it waits for the FIFO's end of file */
    close(fd);
    expect_rc(cf_subprocess_communicate(p, in, n, &out, &err, DEADLINE_S), 0);
    ck_assert_uint_eq(out.len, n + 4);
    ck_assert_int_eq(memcmp(out.data, in, n), 0);
    ck_assert_int_eq(memcmp((const char *)out.data + n, "tail", 4), 0);
    expect_text(err, "done\n", "stderr");
    ck_assert_int_eq(returncode(p), 0);
    cf_subprocess_free(p);
    free(in);
    unlink(fifo);
    rmdir(dir);
}
END_TEST

START_TEST(subprocess_child_that_does_not_read_its_input)
{
    /* `true` exits without reading: the writes fail with EPIPE, and the
     * SIGPIPE they raise must not reach this process (default: it dies). */
    signal(SIGPIPE, SIG_DFL);
    size_t n = (size_t)4 << 20;
    char *in = pattern(n);
    const char *const t[] = {"true", NULL};
    cf_subprocess *p;
    expect_rc(cf_subprocess_run(&p, t, NULL, in, n, DEADLINE_S), 0);
    ck_assert_int_eq(returncode(p), 0);
    cf_subprocess_free(p);
    sigset_t pending;
    sigpending(&pending);
    ck_assert(!sigismember(&pending, SIGPIPE));
    free(in);
}
END_TEST

START_TEST(subprocess_run_timeout_kills_and_keeps_output)
{
    const char *const sh[] = {"sh", "-c", "echo before; exec sleep 600", NULL};
    cf_subprocess_options o = {.stdout_mode = CF_SUBPROCESS_PIPE};
    cf_subprocess *p;
    expect_rc(cf_subprocess_run(&p, sh, &o, NULL, 0, 0.3), CF_ETIMEDOUT);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(returncode(p), -SIGKILL);
    /* What came before the timeout may still be in the pipe: one more
     * communicate collects it (the killed child's pipe has ended). How much
     * the child wrote before the kill depends on the machine's speed: a
     * prefix of its line. */
    cf_bytes out;
    expect_rc(cf_subprocess_communicate(p, NULL, 0, &out, NULL, DEADLINE_S), 0);
    ck_assert_uint_le(out.len, 7);
    ck_assert_int_eq(memcmp(out.data, "before\n", out.len), 0);
    cf_subprocess_free(p);
}
END_TEST

/* ---- Starting ---------------------------------------------------------------------- */

START_TEST(subprocess_missing_program_is_reported_at_once)
{
    int fds = count_fds();
    const char *const nope[] = {"cf-no-such-program", "x", NULL};
    cf_subprocess *p = (cf_subprocess *)1;
    cf_subprocess_options o = {.stdin_mode = CF_SUBPROCESS_PIPE,
                               .stdout_mode = CF_SUBPROCESS_PIPE,
                               .stderr_mode = CF_SUBPROCESS_PIPE};
    expect_rc(cf_subprocess_spawn(&p, nope, &o), -ENOENT);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "cf-no-such-program"));
    const char *const abs_nope[] = {"/nonexistent/prog", NULL};
    expect_rc(cf_subprocess_spawn(&p, abs_nope, NULL), -ENOENT);
    const char *const not_exec[] = {"/etc/passwd", NULL};
    expect_rc(cf_subprocess_spawn(&p, not_exec, NULL), -EACCES);
    expect_rc(cf_subprocess_call(nope, NULL, DEADLINE_S, NULL), -ENOENT);
    expect_rc(cf_subprocess_check_output(&p, nope, NULL, DEADLINE_S), -ENOENT);
    ck_assert_ptr_null(p);
    /* A missing working directory is named as such. */
    const char *const t[] = {"true", NULL};
    cf_subprocess_options in_missing = {.cwd = "/nonexistent/dir"};
    expect_rc(cf_subprocess_spawn(&p, t, &in_missing), -ENOENT);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "working directory"));
    ck_assert_int_eq(count_fds(), fds);
    ck_assert_int_eq(count_children(), 0);
}
END_TEST

START_TEST(subprocess_environment_and_cwd)
{
    cf_subprocess *p;
    const char *const env[] = {"env", NULL};
    const char *const only[] = {"CF_ONLY=1", "CF_TWO=b", NULL};
    cf_subprocess_options o = {.stdout_mode = CF_SUBPROCESS_PIPE, .env = only};
    expect_rc(cf_subprocess_check_output(&p, env, &o, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "CF_ONLY=1\nCF_TWO=b\n", "replaced environment");
    cf_subprocess_free(p);

    /* Added over a replaced environment: the later entry wins, once. */
    const char *const add[] = {"CF_TWO=c", "CF_THREE=3", "CF_THREE=4", NULL};
    o.env_add = add;
    expect_rc(cf_subprocess_check_output(&p, env, &o, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "CF_ONLY=1\nCF_TWO=c\nCF_THREE=4\n", "added");
    cf_subprocess_free(p);

    /* Added over the parent's: the parent's value replaced, the rest kept. */
    setenv("CF_TEST_OVER", "old", 1);
    setenv("CF_TEST_KEPT", "kept", 1);
    const char *const over[] = {"CF_TEST_OVER=new", NULL};
    cf_subprocess_options o2 = {.env_add = over};
    const char *const sh[] = {"sh", "-c", "echo $CF_TEST_OVER $CF_TEST_KEPT; env | grep -c "
                              "CF_TEST_OVER", NULL};
    expect_rc(cf_subprocess_check_output(&p, sh, &o2, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "new kept\n1\n", "over the parent's");
    cf_subprocess_free(p);

    const char *const bad[] = {"NOEQUALS", NULL};
    cf_subprocess_options o3 = {.env_add = bad};
    expect_rc(cf_subprocess_spawn(&p, env, &o3), CF_EINVAL);

    const char *const pwd[] = {"pwd", NULL};
    cf_subprocess_options in_root = {.cwd = "/"};
    expect_rc(cf_subprocess_check_output(&p, pwd, &in_root, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "/\n", "cwd");
    cf_subprocess_free(p);
    /* A relative program path is taken from the child's directory. */
    cf_subprocess_options in_bin = {.cwd = "/bin"};
    const char *const rel[] = {"./echo", "relative", NULL};
    expect_rc(cf_subprocess_check_output(&p, rel, &in_bin, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "relative\n", "relative path");
    cf_subprocess_free(p);
}
END_TEST

START_TEST(subprocess_signals)
{
    /* What the parent ignores or blocks does not reach the child. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    const char *const grep[] = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL};
    cf_subprocess *p;
    expect_rc(cf_subprocess_check_output(&p, grep, NULL, DEADLINE_S), 0);
    unsigned long long blocked = 1, ignored = 1;
    ck_assert_int_eq(sscanf(cf_subprocess_output(p).data, "SigBlk: %llx SigIgn: %llx", &blocked,
                            &ignored), 2);
    ck_assert_uint_eq(blocked, 0);
    /* Bits 31 and 32: glibc's internal signals 32 and 33 (below SIGRTMIN,
     * which no program under glibc can use), which its posix_spawn leaves
     * ignored. Every other signal is at its default. */
    ck_assert_msg((ignored & ~(3ULL << 31)) == 0, "the child ignores signals %llx", ignored);
    cf_subprocess_free(p);

    const char *const sleeper[] = {"sleep", "600", NULL};
    p = spawn(sleeper, NULL);
    int code;
    expect_rc(cf_subprocess_poll(p, &code), CF_ETIMEDOUT);
    expect_rc(cf_subprocess_wait(p, &code, 0.05), CF_ETIMEDOUT);
    expect_rc(cf_subprocess_terminate(p), 0);
    expect_rc(cf_subprocess_wait(p, &code, DEADLINE_S), 0);
    ck_assert_int_eq(code, -SIGTERM);
    /* Once reaped, signals are not sent (the pid may be another's). */
    expect_rc(cf_subprocess_kill(p), 0);
    expect_rc(cf_subprocess_poll(p, &code), 0);
    ck_assert_int_eq(code, -SIGTERM);
    cf_subprocess_free(p);

    p = spawn(sleeper, NULL);
    expect_rc(cf_subprocess_send_signal(p, SIGUSR1), 0);
    expect_rc(cf_subprocess_wait(p, &code, DEADLINE_S), 0);
    ck_assert_int_eq(code, -SIGUSR1);
    expect_rc(cf_subprocess_send_signal(p, 12345), 0); /* reaped: nothing sent */
    cf_subprocess_free(p);

    p = spawn(sleeper, NULL);
    expect_rc(cf_subprocess_send_signal(p, 12345), -EINVAL);
    expect_rc(cf_subprocess_kill(p), 0);
    expect_rc(cf_subprocess_wait(p, &code, DEADLINE_S), 0);
    ck_assert_int_eq(code, -SIGKILL);
    cf_subprocess_free(p);

    /* A new session: the child leads its own. */
    cf_subprocess_options session = {.new_session = true, .stdout_mode = CF_SUBPROCESS_PIPE};
    const char *const ps[] = {"sh", "-c", "cut -d' ' -f6 /proc/$$/stat; echo $$", NULL};
    expect_rc(cf_subprocess_check_output(&p, ps, &session, DEADLINE_S), 0);
    int sid = 0, pid = 0;
    ck_assert_int_eq(sscanf(cf_subprocess_output(p).data, "%d %d", &sid, &pid), 2);
    ck_assert_int_eq(sid, pid);
    cf_subprocess_free(p);
}
END_TEST

START_TEST(subprocess_stderr_to_stdout_and_given_descriptors)
{
    const char *const sh[] = {"sh", "-c", "echo out; echo err >&2; echo out2", NULL};
    cf_subprocess_options o = {.stdout_mode = CF_SUBPROCESS_PIPE,
                               .stderr_mode = CF_SUBPROCESS_STDOUT};
    cf_subprocess *p;
    expect_rc(cf_subprocess_run(&p, sh, &o, NULL, 0, DEADLINE_S), 0);
    expect_text(cf_subprocess_output(p), "out\nerr\nout2\n", "merged");
    expect_text(cf_subprocess_errors(p), "", "stderr");
    cf_subprocess_free(p);

    /* stdout to /dev/null, stderr to a descriptor of ours. */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    cf_subprocess_options o2 = {.stdout_mode = CF_SUBPROCESS_DEVNULL,
                                .stderr_mode = CF_SUBPROCESS_FD, .stderr_fd = fileno(f),
                                .stdin_mode = CF_SUBPROCESS_DEVNULL};
    expect_rc(cf_subprocess_run(&p, sh, &o2, NULL, 0, DEADLINE_S), 0);
    cf_subprocess_free(p);
    char buf[32] = "";
    rewind(f);
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    ck_assert_str_eq(buf, "err\n");
    ck_assert_ptr_null(fgets(buf, sizeof buf, f));
    fclose(f);

    /* Descriptors below 3 given for another stream: stdout goes to our
     * stderr's descriptor... which is a pipe we read here. */
    int saved = dup(2);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    dup2(pfd[1], 2);
    close(pfd[1]);
    cf_subprocess_options o3 = {.stdout_mode = CF_SUBPROCESS_FD, .stdout_fd = 2,
                                .stderr_mode = CF_SUBPROCESS_DEVNULL};
    expect_rc(cf_subprocess_run(&p, sh, &o3, NULL, 0, DEADLINE_S), 0);
    cf_subprocess_free(p);
    dup2(saved, 2);
    close(saved);
    char got[32] = "";
    ck_assert_int_eq(read_full(pfd[0], got, 9), 0);
    ck_assert_int_eq(memcmp(got, "out\nout2\n", 9), 0);
    close(pfd[0]);
}
END_TEST

START_TEST(subprocess_no_descriptor_leaks_into_the_child)
{
    /* An inheritable descriptor of ours (no close-on-exec) stays ours. */
    int leak = dup(1);
    ck_assert_int_ge(leak, 3);
    int wide = fcntl(1, F_DUPFD, 200);
    ck_assert_int_ge(wide, 200);
    const char *const ls[] = {"ls", "-1", "/proc/self/fd", NULL};
    cf_subprocess_options o = {.stdin_mode = CF_SUBPROCESS_PIPE,
                               .stderr_mode = CF_SUBPROCESS_PIPE};
    cf_subprocess *p;
    expect_rc(cf_subprocess_check_output(&p, ls, &o, DEADLINE_S), 0);
    /* 0, 1, 2 and the directory ls is reading. */
    expect_text(cf_subprocess_output(p), "0\n1\n2\n3\n", "the child's descriptors");
    cf_subprocess_free(p);
    close(leak);
    close(wide);
}
END_TEST

START_TEST(subprocess_a_thousand_runs_leave_nothing_behind)
{
    int fds = count_fds();
    const char *const t[] = {"true", NULL};
    const char *const echo[] = {"echo", "x", NULL};
    cf_subprocess_options all_pipes = {.stdin_mode = CF_SUBPROCESS_PIPE,
                                       .stdout_mode = CF_SUBPROCESS_PIPE,
                                       .stderr_mode = CF_SUBPROCESS_PIPE};
    /* Under valgrind every child is traced too: 100 runs there. */
    int runs = RUNNING_ON_VALGRIND ? 100 : 1000;
    for (int i = 0; i < runs; i++) {
        cf_subprocess *p;
        switch (i % 4) {
        case 0: {
            int code = -1;
            expect_rc(cf_subprocess_call(t, NULL, DEADLINE_S, &code), 0);
            ck_assert_int_eq(code, 0);
            break;
        }
        case 1:
            expect_rc(cf_subprocess_check_output(&p, echo, NULL, DEADLINE_S), 0);
            expect_text(cf_subprocess_output(p), "x\n", "echo");
            cf_subprocess_free(p);
            break;
        case 2:
            expect_rc(cf_subprocess_run(&p, echo, &all_pipes, "in", 2, DEADLINE_S), 0);
            cf_subprocess_free(p);
            break;
        default:
            /* Freed without being waited for: free reaps it. */
            p = spawn(echo, &all_pipes);
            cf_subprocess_free(p);
            break;
        }
    }
    ck_assert_int_eq(count_fds(), fds);
    int zombies = -1;
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 0);
    ck_assert_int_eq(zombies, 0);
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(subprocess_statuses_stolen_by_someone_else)
{
    const char *const t[] = {"true", NULL};
    cf_subprocess *p = spawn(t, NULL);
    /* The program reaps it behind the library's back. */
    ck_assert_int_eq(waitpid(cf_subprocess_pid(p), NULL, 0), cf_subprocess_pid(p));
    int code;
    expect_rc(cf_subprocess_wait(p, &code, DEADLINE_S), -ECHILD);
    cf_subprocess_free(p);
}
END_TEST

START_TEST(subprocess_invalid_arguments)
{
    cf_subprocess *p = NULL;
    const char *const t[] = {"true", NULL};
    const char *const empty[] = {NULL};
    const char *const blank[] = {"", NULL};
    expect_rc(cf_subprocess_spawn(NULL, t, NULL), CF_EINVAL);
    expect_rc(cf_subprocess_spawn(&p, NULL, NULL), CF_EINVAL);
    expect_rc(cf_subprocess_spawn(&p, empty, NULL), CF_EINVAL);
    expect_rc(cf_subprocess_spawn(&p, blank, NULL), CF_EINVAL);
    cf_subprocess_options o = {.stdin_mode = CF_SUBPROCESS_STDOUT};
    expect_rc(cf_subprocess_spawn(&p, t, &o), CF_EINVAL);
    cf_subprocess_options o2 = {.stdout_mode = (cf_subprocess_stdio)77};
    expect_rc(cf_subprocess_spawn(&p, t, &o2), CF_EINVAL);
    cf_subprocess_options o3 = {.stdout_mode = CF_SUBPROCESS_FD, .stdout_fd = -1};
    expect_rc(cf_subprocess_spawn(&p, t, &o3), CF_EINVAL);
    cf_subprocess_options o4 = {.stdout_mode = CF_SUBPROCESS_FD, .stdout_fd = 1000};
    expect_rc(cf_subprocess_spawn(&p, t, &o4), -EBADF);
    ck_assert_ptr_null(p);
    expect_rc(cf_subprocess_run(&p, t, &(cf_subprocess_options){.stdin_mode =
                                                                  CF_SUBPROCESS_DEVNULL},
                                "x", 1, DEADLINE_S), CF_EINVAL);
    expect_rc(cf_subprocess_run(&p, t, NULL, NULL, 3, DEADLINE_S), CF_EINVAL);
    expect_rc(cf_subprocess_run(&p, t, NULL, NULL, 0, NAN), CF_EINVAL);
    cf_subprocess_options o5 = {.stdout_mode = CF_SUBPROCESS_DEVNULL};
    expect_rc(cf_subprocess_check_output(&p, t, &o5, DEADLINE_S), CF_EINVAL);

    p = spawn(t, NULL);
    expect_rc(cf_subprocess_communicate(p, "x", 1, NULL, NULL, DEADLINE_S), CF_EINVAL);
    expect_rc(cf_subprocess_communicate(p, NULL, 0, NULL, NULL, NAN), CF_EINVAL);
    expect_rc(cf_subprocess_wait(p, NULL, NAN), CF_EINVAL);
    int code;
    expect_rc(cf_subprocess_returncode(p, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_subprocess_stdin_fd(p), -1);
    ck_assert_int_eq(cf_subprocess_stdout_fd(p), -1);
    ck_assert_int_eq(cf_subprocess_stderr_fd(p), -1);
    expect_rc(cf_subprocess_wait(p, &code, DEADLINE_S), 0);
    ck_assert_int_eq(code, 0);
    cf_subprocess_free(p);

    expect_rc(cf_subprocess_communicate(NULL, NULL, 0, NULL, NULL, 0), CF_EINVAL);
    expect_rc(cf_subprocess_wait(NULL, NULL, 0), CF_EINVAL);
    expect_rc(cf_subprocess_poll(NULL, NULL), CF_EINVAL);
    expect_rc(cf_subprocess_send_signal(NULL, SIGTERM), CF_EINVAL);
    expect_rc(cf_subprocess_returncode(NULL, &code), CF_EINVAL);
    expect_rc(cf_subprocess_close_stdin(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_subprocess_pid(NULL), 0);
    ck_assert_uint_eq(cf_subprocess_output(NULL).len, 0);
    cf_subprocess_free(NULL);
}
END_TEST

static Suite *subprocess_suite(void)
{
    Suite *s = suite_create("subprocess");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, subprocess_check_output_and_failure);
    tcase_add_test(tc, subprocess_ten_megabytes_each_way_at_once);
    tcase_add_test(tc, subprocess_timeout_then_communicate_again_gets_everything);
    tcase_add_test(tc, subprocess_child_that_does_not_read_its_input);
    tcase_add_test(tc, subprocess_run_timeout_kills_and_keeps_output);
    tcase_add_test(tc, subprocess_missing_program_is_reported_at_once);
    tcase_add_test(tc, subprocess_environment_and_cwd);
    tcase_add_test(tc, subprocess_signals);
    tcase_add_test(tc, subprocess_stderr_to_stdout_and_given_descriptors);
    tcase_add_test(tc, subprocess_no_descriptor_leaks_into_the_child);
    tcase_add_test(tc, subprocess_a_thousand_runs_leave_nothing_behind);
    tcase_add_test(tc, subprocess_statuses_stolen_by_someone_else);
    tcase_add_test(tc, subprocess_invalid_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(subprocess_suite());
}
