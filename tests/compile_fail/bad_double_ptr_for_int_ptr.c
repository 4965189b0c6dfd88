/* cf_submit with a double * where the task takes an int *.
 * expect: from incompatible pointer type|incompatible pointer types passing .double \*.
 * expect-c++: cannot convert .double\*. to .int\*.|no known conversion from .double \*. to .int \*. */
#include <cfutures.h>

static void fill(int *out, int n)
{
    *out = n;
}
CF_TASK(void, fill, int *, int);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    cf_future *f;
    double d;
    return cf_submit(&f, ex, fill, &d, 1);
}
