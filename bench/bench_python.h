/* bench_python.h: running a Python peer (bench/peers/<script>) and reading
 * the one JSON line it prints.
 *
 * Python's figures are measured in a process of its own, running first and
 * alone; the script does its own warm-up run and prints the elapsed
 * nanoseconds of each measured run. When python3 is missing, fails or runs
 * out of time, the caller gets the reason instead and skips Python's
 * figures with it.
 */
#ifndef CF_BENCH_PYTHON_H
#define CF_BENCH_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_stats.h"

#ifndef CF_BENCH_PEERS_DIR
#error "CF_BENCH_PEERS_DIR (where bench/peers/ is) must be defined"
#endif

/* Run `python3 CF_BENCH_PEERS_DIR/<script> args...` (args NULL-terminated),
 * in a process group of its own that is killed whole after limit_ns.
 * Returns what it printed on stdout (NUL-terminated, the caller frees it),
 * or NULL with *skipped set to why there is nothing to read (the caller
 * frees it). What it printed on stderr is passed on to ours. */
char *cf__bench_python_run(const char *script, char *const args[], int64_t limit_ns,
                           char **skipped);

/* The string value of "key" in the JSON object `line`, into buf. */
bool cf__bench_json_string(const char *line, const char *key, char *buf, size_t size);

/* The array of `want` positive numbers of "key" in `line`, appended to s. */
bool cf__bench_json_numbers(const char *line, const char *key, size_t want,
                            cf__bench_series *s);

/* Set *skipped to "unexpected output from <script>: '<its last line>'". */
void cf__bench_python_malformed(const char *script, const char *out, char **skipped);

#endif
