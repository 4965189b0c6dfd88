/* A task of nine parameters (the limit is CF_TASK_MAX_PARAMS, 8).
 * expect: CF__TOO_MANY_PARAMETERS_max_8
 * expect-c++: CF__TOO_MANY_PARAMETERS_max_8 */
#include <cfutures.h>

static int nine(int a, int b, int c, int d, int e, int f, int g, int h, int i)
{
    return a + b + c + d + e + f + g + h + i;
}
CF_TASK(int, nine, int, int, int, int, int, int, int, int, int);
