/* cpu_count.h: how many CPUs this process may use (private).
 *
 * Both pools take their default worker count from cf__cpu_count(). The
 * cgroup parser is separate so that tests can feed it a string or a file.
 */
#ifndef CF_CPU_COUNT_H
#define CF_CPU_COUNT_H

#include <stddef.h>

/* The CPUs this process may run on: the number in its affinity mask
 * (sched_getaffinity), lowered to a cgroup v2 CPU quota when one is set on
 * the process's cgroup or an ancestor (cpu.max, rounded up). At least 1;
 * the online CPU count when the mask cannot be read. */
size_t cf__cpu_count(void);

/* Parse the contents of a cgroup v2 cpu.max file, "<quota> <period>" or
 * "max <period>" (period optional): the quota in CPUs rounded up (at least
 * 1), or 0 when there is no limit or the text is not in that form. */
size_t cf__cpu_max_parse(const char *text);

/* Read and parse the cpu.max file at `path`: 0 when it is absent, unlimited
 * or unreadable. */
size_t cf__cpu_max_read(const char *path);

/* The lowest cpu.max limit from the cgroup whose path (as in
 * /proc/self/cgroup's "0::<path>" line) is `cgroup` up to the root, under
 * the cgroup v2 mount point `root`: 0 for none. */
size_t cf__cpu_max_walk(const char *root, const char *cgroup);

#endif
