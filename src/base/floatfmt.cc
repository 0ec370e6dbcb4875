/* floatfmt.cc: see floatfmt.h. C++ only for std::to_chars. */
#include "base/floatfmt.h"

#include <charconv>

size_t ss__format_float(char *buf, float x)
{
    std::to_chars_result r = std::to_chars(buf, buf + SS__FLOAT_CHARS, x);
    return r.ec == std::errc() ? (size_t)(r.ptr - buf) : 0;
}
