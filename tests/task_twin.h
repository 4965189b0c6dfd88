/* task_twin.h: tasks for test_task.c's identity tests.
 *
 * header_bump is a task declared in a header: each unit that includes this
 * one registers its own copy, under one key, which must count as one task.
 * twin_submit_other submits task_twin.c's `static` task `twin`, whose name
 * test_task.c also gives to a different static function. */
#ifndef TASK_TWIN_H
#define TASK_TWIN_H

#include <cfutures.h>

static inline int32_t header_bump(int32_t x)
{
    return x + 1000;
}
CF_TASK(int32_t, header_bump, int32_t);

/* Submit task_twin.c's own `twin(x)` (which returns -x) to ex. */
int twin_submit_other(cf_future **f, cf_executor *ex, int32_t x);
/* Submit header_bump(x) from task_twin.c's copy of the header's task. */
int twin_submit_header(cf_future **f, cf_executor *ex, int32_t x);
/* The descriptor of task_twin.c's `twin`. */
const cf_task *twin_other_task(void);

#endif
