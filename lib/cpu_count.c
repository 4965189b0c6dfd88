/* cpu_count.c: how many CPUs this process may use (cpu_count.h).
 *
 * Design notes
 * - The affinity mask is what the scheduler lets this process use (taskset,
 *   cpusets, container runtimes); the online count overstates it. The mask
 *   is read with a set grown until the kernel accepts its size, so machines
 *   beyond CPU_SETSIZE CPUs count right.
 * - A cgroup v2 CPU quota (cpu.max: "<quota> <period>" in microseconds)
 *   limits CPU time rather than CPUs: a process with a quota of 2 CPUs on a
 *   64-CPU machine that starts 64 busy threads is throttled for most of each
 *   period. The quota, rounded up, lowers the count. Each level from the
 *   process's cgroup up to the root may set one; the lowest counts. The
 *   process's cgroup comes from /proc/self/cgroup (its "0::" line), and the
 *   hierarchy is looked for at /sys/fs/cgroup, where systemd and container
 *   runtimes mount it. cgroup v1 is not read.
 * - Nothing is cached: a pool created after the mask changes sees the change.
 */
#include "config.h"

#include "cpu_count.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CF_CGROUP_ROOT "/sys/fs/cgroup"

static size_t cf__affinity_count(void)
{
    for (size_t ncpus = CPU_SETSIZE; ncpus <= ((size_t)1 << 20); ncpus *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpus);
        if (set == NULL)
            return 0;
        size_t size = CPU_ALLOC_SIZE(ncpus);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            size_t n = (size_t)CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return n;
        }
        int err = errno;
        CPU_FREE(set);
        if (err != EINVAL)
            return 0;
    }
    return 0;
}

size_t cf__cpu_max_parse(const char *text)
{
    if (text == NULL)
        return 0;
    while (*text == ' ' || *text == '\t')
        text++;
    if (strncmp(text, "max", 3) == 0)
        return 0;
    char *end;
    errno = 0;
    unsigned long long quota = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *text == '-' || quota == 0)
        return 0;
    unsigned long long period = 100000; /* the kernel's default */
    if (*end == ' ' || *end == '\t') {
        const char *p = end + strspn(end, " \t");
        if (*p != '\0' && *p != '\n') {
            if (*p == '-')
                return 0;
            period = strtoull(p, &end, 10);
            if (errno != 0 || end == p || period == 0)
                return 0;
        }
    }
    end += strspn(end, " \t\n");
    if (*end != '\0')
        return 0;
    unsigned long long cpus = quota / period + (quota % period != 0);
    return cpus > 0 ? (size_t)cpus : 1;
}

size_t cf__cpu_max_read(const char *path)
{
    FILE *in = fopen(path, "re");
    if (in == NULL)
        return 0;
    char line[128];
    size_t n = fgets(line, sizeof line, in) != NULL ? cf__cpu_max_parse(line) : 0;
    fclose(in);
    return n;
}

size_t cf__cpu_max_walk(const char *root, const char *cgroup)
{
    size_t len = strlen(root) + strlen(cgroup) + sizeof "/cpu.max";
    char *path = malloc(len);
    if (path == NULL)
        return 0;
    char *dir = malloc(strlen(cgroup) + 1);
    if (dir == NULL) {
        free(path);
        return 0;
    }
    strcpy(dir, cgroup);
    size_t best = 0;
    for (;;) {
        size_t dlen = strlen(dir);
        while (dlen > 0 && dir[dlen - 1] == '/')
            dir[--dlen] = '\0';
        snprintf(path, len, "%s%s%s/cpu.max", root, dlen > 0 && dir[0] != '/' ? "/" : "", dir);
        size_t n = cf__cpu_max_read(path);
        if (n > 0 && (best == 0 || n < best))
            best = n;
        if (dlen == 0)
            break;
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            dir[0] = '\0';
        else
            *slash = '\0';
    }
    free(dir);
    free(path);
    return best;
}

/* The process's cgroup v2 path from /proc/self/cgroup, into buf: false when
 * there is none (cgroup v1 only, or no /proc). */
static int cf__own_cgroup(char *buf, size_t size)
{
    FILE *in = fopen("/proc/self/cgroup", "re");
    if (in == NULL)
        return 0;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        if (strncmp(line, "0::", 3) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(buf, size, "%s", line + 3);
        found = 1;
        break;
    }
    fclose(in);
    return found;
}

size_t cf__cpu_count(void)
{
    size_t n = cf__affinity_count();
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (size_t)online : 1;
    }
    char cgroup[4096];
    if (cf__own_cgroup(cgroup, sizeof cgroup)) {
        size_t quota = cf__cpu_max_walk(CF_CGROUP_ROOT, cgroup);
        if (quota > 0 && quota < n)
            n = quota;
    }
    return n;
}
