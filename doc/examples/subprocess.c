/* subprocess.c: run programs as children (doc/subprocess.md).
 *
 * check_output for a program's output, run with input through a pipe, a
 * missing program reported at once, and a timeout that loses nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cfutures.h>

int main(void)
{
    /* check_output: the output of `echo`, or why it failed. */
    const char *const echo[] = {"echo", "hello from a child", NULL};
    cf_subprocess *p;
    int rc = cf_subprocess_check_output(&p, echo, NULL, 10.0);
    if (rc != 0) {
        fprintf(stderr, "check_output: %s (%s)\n", cf_strerror(rc), cf_last_error());
        cf_subprocess_free(p);
        return 1;
    }
    printf("echo said: %s", (const char *)cf_subprocess_output(p).data);
    cf_subprocess_free(p);

    /* run: feed `tr` its input, collect stdout and stderr (stderr merged). */
    const char *const tr[] = {"tr", "a-z", "A-Z", NULL};
    cf_subprocess_options opts = {.stdout_mode = CF_SUBPROCESS_PIPE,
                                  .stderr_mode = CF_SUBPROCESS_STDOUT};
    const char text[] = "shout this\n";
    rc = cf_subprocess_run(&p, tr, &opts, text, strlen(text), 10.0);
    if (rc != 0) {
        fprintf(stderr, "run: %s (%s)\n", cf_strerror(rc), cf_last_error());
        cf_subprocess_free(p);
        return 1;
    }
    int code;
    cf_subprocess_returncode(p, &code);
    printf("tr returned %d and said: %s", code, (const char *)cf_subprocess_output(p).data);
    cf_subprocess_free(p);

    /* A missing program is an error of the call itself. */
    const char *const missing[] = {"no-such-program-here", NULL};
    rc = cf_subprocess_spawn(&p, missing, NULL);
    printf("spawning a missing program: %s\n", cf_err_name(rc));
    if (rc != -ENOENT)
        return 1;

    /* A communicate that times out loses nothing: the child printed a line
     * and then sleeps; after the timeout, kill it and call communicate
     * again for everything it wrote (Python's documented pattern). */
    const char *const sh[] = {"sh", "-c", "echo first line; exec sleep 60", NULL};
    cf_subprocess_options piped = {.stdout_mode = CF_SUBPROCESS_PIPE};
    rc = cf_subprocess_spawn(&p, sh, &piped);
    if (rc != 0) {
        fprintf(stderr, "spawn: %s (%s)\n", cf_strerror(rc), cf_last_error());
        return 1;
    }
    cf_bytes out;
    rc = cf_subprocess_communicate(p, NULL, 0, &out, NULL, 0.2);
    printf("communicate with a 0.2 s timeout: %s\n", cf_err_name(rc));
    cf_subprocess_kill(p);
    rc = cf_subprocess_communicate(p, NULL, 0, &out, NULL, 10.0);
    cf_subprocess_returncode(p, &code);
    printf("after kill: %s, return code %d, output: %s", cf_err_name(rc), code,
           (const char *)out.data);
    cf_subprocess_free(p);
    return rc == 0 && code == -9 ? 0 : 1;
}
