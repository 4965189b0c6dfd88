/* cf_future_set_result with an int *: only the listed value types (a raw
 * pointer goes as a void *).
 * expect: _Generic.*not compatible with any association|controlling expression type .int \*. not compatible
 * expect-c++: use of deleted function|call to deleted function */
#include <cfutures.h>

int use(cf_future *f);
int use(cf_future *f)
{
    static int n;
    return cf_future_set_result(f, &n);
}
