/* A task taking a std::string: the library copies arguments as bytes, which
 * would tear a C++ object apart (C++ only).
 * expect: parameter 0 is not trivially copyable */
#include <cfutures.h>

#include <string>

static size_t length(std::string s)
{
    return s.size();
}
CF_TASK(size_t, length, std::string);
