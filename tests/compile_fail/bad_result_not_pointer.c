/* cf_future_result reading into a variable instead of through a pointer.
 * expect: invalid type argument of unary|indirection requires pointer operand
 * expect-c++: cannot convert .double. to .void\*.|no known conversion from .double. to .void \*. */
#include <cfutures.h>

int use(cf_future *f);
int use(cf_future *f)
{
    double r = 0;
    return cf_future_result(f, r, 1.0);
}
