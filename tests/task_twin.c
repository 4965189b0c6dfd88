/* task_twin.c: a second translation unit for test_task.c: a `static` task
 * with the same name as one there, and a second copy of a header's task. */
#include "config.h"

#include "task_twin.h"

static int32_t twin(int32_t x)
{
    return -x;
}
CF_TASK(int32_t, twin, int32_t);

int twin_submit_other(cf_future **f, cf_executor *ex, int32_t x)
{
    return cf_submit(f, ex, twin, x);
}

int twin_submit_header(cf_future **f, cf_executor *ex, int32_t x)
{
    return cf_submit(f, ex, header_bump, x);
}

const cf_task *twin_other_task(void)
{
    return &cf__task_twin;
}
