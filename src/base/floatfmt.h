/* floatfmt.h: a float as the shortest decimal text that reads back as the
 * same float (C++17 std::to_chars, which libstdc++ implements with Ryu).
 * Several times faster than printf("%.9g"), and never longer. */
#ifndef SS_FLOATFMT_H
#define SS_FLOATFMT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the longest text ss__format_float writes ("-1.1754944e-38" is 14) */
#define SS__FLOAT_CHARS 24

/* Writes x to buf (room for SS__FLOAT_CHARS, no NUL added) and returns the
 * length: "0.25", "-3e-05", "1.2345679e+20". x must be finite (a non-finite
 * x gives "nan" or "inf", which JSON cannot carry). */
size_t ss__format_float(char *buf, float x);

#ifdef __cplusplus
}
#endif

#endif
