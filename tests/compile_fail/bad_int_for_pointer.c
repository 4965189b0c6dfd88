/* cf_submit with an integer where the task takes a string.
 * expect: makes pointer from integer without a cast|incompatible integer to pointer conversion
 * expect-c++: invalid conversion from .int. to .const char\*.|no known conversion from .int. to .const char \*. */
#include <cfutures.h>

static int length(const char *s)
{
    return s != 0;
}
CF_TASK(int, length, const char *);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    cf_future *f;
    return cf_submit(&f, ex, length, 42);
}
