/* cf_condition_new over a semaphore: only a cf_lock, a cf_rlock or NULL.
 * expect: _Generic|generic
 * expect-c++: the lock must be a cf_lock \*, a cf_rlock \* or NULL */
#include <cfutures.h>

int use(cf_semaphore *sem);
int use(cf_semaphore *sem)
{
    cf_condition *cond;
    return cf_condition_new(&cond, sem);
}
