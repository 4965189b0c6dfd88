/* mp_shared_dict.c: a dict and a list shared by processes (doc/managers.md).
 *
 * Four processes count words into one shared dict with atomic increments
 * (a get-then-set would lose counts) and append what they did to a shared
 * list; the parent prints the totals.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

static const char *const words[] = {"apple", "pear", "apple", "fig", "apple", "pear"};

int main(void)
{
    cf_shared_dict *counts;
    cf_shared_list *log;
    cf_shared_container_options opts = {.capacity = 16, .key_bytes = 16, .value_bytes = 32};
    if (cf_shared_dict_new(&counts, &opts) != 0 || cf_shared_list_new(&log, &opts) != 0) {
        fprintf(stderr, "cannot make the containers: %s\n", cf_last_error());
        return 1;
    }
    enum { WORKERS = 4 };
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
                if (cf_shared_dict_add(counts, cf_value_str(words[i]), 1, NULL) != 0)
                    _exit(1);
            char line[32];
            snprintf(line, sizeof line, "worker %d done", w);
            _exit(cf_shared_list_append(log, cf_value_str(line)) == 0 ? 0 : 1);
        }
    }
    int failed = 0;
    for (int w = 0; w < WORKERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    /* Every entry, in the dict's own order. */
    size_t cursor = 0;
    cf_value key, value;
    while (cf_shared_dict_next(counts, &cursor, &key, &value) == 0)
        printf("%-6s %lld\n", key.as.str, (long long)value.as.i);
    printf("%zu workers reported\n", cf_shared_list_len(log));

    int64_t apples = 0;
    cf_value v;
    if (cf_shared_dict_get(counts, cf_value_str("apple"), &v) == 0)
        apples = v.as.i;
    cf_shared_dict_free(counts);
    cf_shared_list_free(log);
    return failed || apples != 3 * WORKERS;
}
