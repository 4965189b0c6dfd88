/* cf_queue_put of a std::string: a queue item travels as its bytes (C++ only).
 * expect: the item is not trivially copyable */
#include <cfutures.h>

#include <string>

int use(cf_queue *q);
int use(cf_queue *q)
{
    std::string s = "text";
    return cf_queue_put(q, s, 0);
}
