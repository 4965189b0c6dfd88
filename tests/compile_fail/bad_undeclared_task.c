/* cf_submit of a function never declared with CF_TASK.
 * expect: (implicit declaration of function|undeclared).*cf__submit_not_a_task
 * expect-c++: cf__submit_not_a_task. was not declared|undeclared identifier .cf__submit_not_a_task. */
#include <cfutures.h>

static double not_a_task(double a)
{
    return a;
}

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    cf_future *f;
    return cf_submit(&f, ex, not_a_task, 1.0);
}
