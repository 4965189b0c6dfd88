/* cf_shared_value_new with a struct: shared values hold numbers only.
 * expect: a shared value holds bool, an integer type, float or double
 * expect-c++: a shared value holds bool, an integer type, float or double */
#include <cfutures.h>

struct point {
    double x, y;
};

int use(void);
int use(void)
{
    cf_shared_value *v;
    return cf_shared_value_new(&v, struct point, ((struct point){0, 0}), NULL);
}
