/* f16.h: IEEE 754 binary16 <-> binary32 conversion, for f16 model files.
 * f32 -> f16 rounds to nearest, ties to even; values beyond the f16 range
 * become +-inf, tiny ones f16 subnormals or +-0; NaN stays NaN (quiet, with
 * the top payload bits kept). f16 -> f32 is exact. */
#ifndef SS_F16_H
#define SS_F16_H

#include <stddef.h>
#include <stdint.h>

uint16_t ss__f32_to_f16(float f);
float ss__f16_to_f32(uint16_t h);
void ss__f32_to_f16_n(const float *src, uint16_t *dst, size_t n);

#endif
