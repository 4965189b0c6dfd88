/* cf_queue_put of a raw pointer: it would mean nothing in another process.
 * expect: a raw pointer cannot travel between processes
 * expect-c++: a raw pointer cannot travel between processes */
#include <cfutures.h>

int use(cf_queue *q);
int use(cf_queue *q)
{
    static int n;
    return cf_queue_put(q, &n, 0);
}
