/* cf_shared_value_add of int64_t storing the former value into a double.
 * expect: incompatible pointer type
 * expect-c++: cannot convert .double\*. to .int64_t\*.|cannot initialize a variable of type .int64_t \*. .* with an rvalue of type .double \*. */
#include <cfutures.h>

int use(cf_shared_value *v);
int use(cf_shared_value *v)
{
    double old;
    return cf_shared_value_add(v, int64_t, 1, &old, CF_FOREVER);
}
