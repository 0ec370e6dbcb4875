/* gguf.c: the GGUF reader/writer and f16 conversion.
 * Round trips of every value type; hand-made broken files (truncated at
 * every offset, bytes flipped, wrong magic/version, huge counts, overflowing
 * shapes, foreign files): each must give a clean error, never a crash (run
 * under ASan/valgrind to see the "no out-of-bounds read, no leak" part). */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/common.h"
#include "base/f16.h"
#include "nn/gguf.h"
#include "tap.h"
#include "base/textio.h"

static char dir[256];
static char path_buf[512];

static const char *tmp(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}


static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ------------------------------------------------------------- f16 */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_f16(void)
{
    struct { float f; uint16_t h; const char *what; } cases[] = {
        {0.0f, 0x0000, "0"},
        {-0.0f, 0x8000, "-0 keeps its sign"},
        {1.0f, 0x3c00, "1"},
        {-2.0f, 0xc000, "-2"},
        {0.5f, 0x3800, "0.5"},
        {65504.0f, 0x7bff, "65504, the largest f16"},
        {65519.0f, 0x7bff, "65519 rounds down to 65504"},
        {65520.0f, 0x7c00, "65520 (a tie) rounds to inf"},
        {1e6f, 0x7c00, "1e6 overflows to inf"},
        {-1e30f, 0xfc00, "-1e30 overflows to -inf"},
        {INFINITY, 0x7c00, "inf"},
        {-INFINITY, 0xfc00, "-inf"},
        {0x1p-14f, 0x0400, "2^-14, the smallest normal"},
        {0x1p-24f, 0x0001, "2^-24, the smallest subnormal"},
        {0x1p-25f, 0x0000, "2^-25 (a tie) rounds to even 0"},
        {0x1.0002p-25f, 0x0001, "just above 2^-25 rounds up to 2^-24"},
        {0x3p-25f, 0x0002, "3*2^-25 (a tie) rounds to even 2*2^-24"},
        {0x5p-25f, 0x0002, "5*2^-25 (a tie) rounds to even 2*2^-24"},
        {0x1p-26f, 0x0000, "2^-26 underflows to 0"},
        {-0x1p-30f, 0x8000, "-2^-30 underflows to -0"},
        {0x1.ff8p-15f, 0x03ff, "the largest subnormal"},
        {0x1.ffcp-15f, 0x0400, "a tie between the largest subnormal and 2^-14 rounds to even 2^-14"},
        {1.0f + 0x1p-11f, 0x3c00, "1 + 2^-11 (a tie) rounds to even 1"},
        {1.0f + 0x3p-11f, 0x3c02, "1 + 3*2^-11 (a tie) rounds to even 1 + 2^-9"},
        {1.0f + 0x1.8p-11f, 0x3c01, "1 + 1.5*2^-11 rounds up"},
        {FLT_MIN, 0x0000, "an f32 normal far below f16 range is 0"},
        {u2f(0x00000001), 0x0000, "an f32 subnormal is 0"},
        {1023.5f, 0x63ff, "1023.5 is exact"},
        {2049.0f, 0x6800, "2049 (a tie) rounds to even 2048"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t h = ss__f32_to_f16(cases[i].f);
        tap_ok(h == cases[i].h, "f32->f16 %s (got 0x%04x, want 0x%04x)", cases[i].what, h, cases[i].h);
    }
    uint16_t hn = ss__f32_to_f16(NAN);
    tap_ok((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "NaN stays NaN (0x%04x)", hn);
    hn = ss__f32_to_f16(u2f(0x7f800001)); /* signalling NaN with only a low payload bit */
    tap_ok((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "a NaN whose payload is in the low bits stays NaN (0x%04x)", hn);

    /* every f16 value: f16 -> f32 -> f16 is the identity (NaNs stay NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ss__f16_to_f32((uint16_t)h);
        uint16_t back = ss__f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !isnan(f) || back != (h | 0x200) : back != h) bad++;
    }
    tap_ok(bad == 0, "all 65536 f16 values survive f16->f32->f16 (%d differ)", bad);
    tap_ok(ss__f16_to_f32(0x0001) == 0x1p-24f && ss__f16_to_f32(0x03ff) == 0x1.ff8p-15f &&
               ss__f16_to_f32(0x7bff) == 65504.0f && ss__f16_to_f32(0xfc00) == -INFINITY &&
               signbit(ss__f16_to_f32(0x8000)),
           "f16->f32 of subnormals, max, -inf and -0");

#ifdef __FLT16_MAX__
    /* compare with the compiler's IEEE conversion on many f32 patterns */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int diff = 0;
    for (int i = 0; i < 2000000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t u = (uint32_t)s;
        if (i & 1) u = (u & 0x8fffffffu) | 0x30000000u; /* dense near the f16 range */
        float f = u2f(u);
        _Float16 ref = (_Float16)f;
        uint16_t rh;
        memcpy(&rh, &ref, 2);
        uint16_t h = ss__f32_to_f16(f);
        if (isnan(f) ? !((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) : h != rh) {
            if (diff++ < 3) tap_diag("0x%08" PRIx32 ": got 0x%04x, compiler 0x%04x", u, h, rh);
        }
    }
    tap_ok(diff == 0, "f32->f16 equals the compiler's _Float16 conversion on 2M patterns (%d differ)", diff);
#else
    tap_ok(1, "# SKIP no _Float16 in this compiler");
#endif
    (void)f2u;
}

/* ------------------------------------------------------- round trip */

static const float t2d[3][5] = {{0, 1, 2, 3, 4}, {-1.5f, 2.25f, 1e-30f, -1e30f, 3.14159265f},
                                {FLT_MAX, -FLT_MIN, 0x1p-140f, 7, 8}};
static const float t1d[7] = {0, 1, -2, 0.5f, 65504, 0x1p-24f, -0.25f}; /* exact in f16 */
static const int32_t ti32[2][3] = {{1, -2, 3}, {INT32_MAX, INT32_MIN, 0}};

static int build_sample(ss__gguf_writer *w, uint32_t alignment)
{
    int rc = 0;
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    if (alignment) rc |= ss__gguf_set_u32(w, "general.alignment", alignment);
    rc |= ss__gguf_set_scalar(w, "t.u8", SS_GGUF_U8, &u8);
    rc |= ss__gguf_set_scalar(w, "t.i8", SS_GGUF_I8, &i8);
    rc |= ss__gguf_set_scalar(w, "t.u16", SS_GGUF_U16, &u16);
    rc |= ss__gguf_set_scalar(w, "t.i16", SS_GGUF_I16, &i16);
    rc |= ss__gguf_set_u32(w, "t.u32", 4000000000u);
    rc |= ss__gguf_set_i32(w, "t.i32", -2000000000);
    rc |= ss__gguf_set_f32(w, "t.f32", 0.1f);
    rc |= ss__gguf_set_bool(w, "t.bool", 1);
    rc |= ss__gguf_set_str(w, "t.str", "héllo wörld");
    rc |= ss__gguf_set_str(w, "t.empty", "");
    rc |= ss__gguf_set_u64(w, "t.u64", UINT64_MAX);
    rc |= ss__gguf_set_i64(w, "t.i64", INT64_MIN);
    rc |= ss__gguf_set_f64(w, "t.f64", 0.1);
    uint8_t bytes[5] = {0, 1, 2, 254, 255};
    int32_t ints[3] = {-1, 0, 1};
    float floats[2] = {1.5f, -0.0f};
    const char *strs[3] = {"a", "", "ccc"};
    rc |= ss__gguf_set_arr(w, "t.arr_u8", SS_GGUF_U8, bytes, 5);
    rc |= ss__gguf_set_arr(w, "t.arr_i32", SS_GGUF_I32, ints, 3);
    rc |= ss__gguf_set_arr(w, "t.arr_f32", SS_GGUF_F32, floats, 2);
    rc |= ss__gguf_set_arr(w, "t.arr_empty", SS_GGUF_U64, NULL, 0);
    rc |= ss__gguf_set_arr_str(w, "t.arr_str", strs, 3);
    int64_t s2[2] = {3, 5}, s1[1] = {7}, si[2] = {2, 3}, s4[4] = {2, 1, 3, 1};
    rc |= ss__gguf_add_tensor_f32(w, "w2d", 2, s2, SS_GGML_F32, &t2d[0][0]);
    rc |= ss__gguf_add_tensor_f32(w, "h1d", 1, s1, SS_GGML_F16, t1d);
    rc |= ss__gguf_add_tensor(w, "ints", 2, si, SS_GGML_I32, &ti32[0][0]);
    rc |= ss__gguf_add_tensor_f32(w, "blk.0.four_d", 4, s4, SS_GGML_F32, t1d);
    return rc;
}

static int write_sample(const char *path, uint32_t alignment)
{
    ss__gguf_writer *w;
    int rc = ss__gguf_writer_new(&w);
    if (rc) return rc;
    rc = build_sample(w, alignment);
    if (!rc) rc = ss__gguf_write(w, path);
    ss__gguf_writer_free(w);
    return rc;
}

static void test_round_trip(void)
{
    const char *p = tmp("sample.gguf");
    int rc = write_sample(p, 0);
    tap_ok(rc == 0, "write a file with every value type (%s)", ss_errmsg());
    ss__gguf *g;
    rc = ss__gguf_open(p, &g);
    tap_ok(rc == 0, "read it back (%s)", ss_errmsg());
    if (rc) return;
    tap_ok(ss__gguf_kv_count(g) == 18 && ss__gguf_tensor_count(g) == 4, "18 keys, 4 tensors");
    uint32_t u32 = 0;
    int32_t i32 = 0;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    float f32 = 0;
    double f64 = 0;
    int b = 0;
    char *s = NULL;
    tap_ok(!ss__gguf_get_u32(g, "t.u8", &u32) && u32 == 200, "u8");
    tap_ok(!ss__gguf_get_i32(g, "t.i8", &i32) && i32 == -100, "i8");
    tap_ok(!ss__gguf_get_u32(g, "t.u16", &u32) && u32 == 60000, "u16");
    tap_ok(!ss__gguf_get_i32(g, "t.i16", &i32) && i32 == -30000, "i16");
    tap_ok(!ss__gguf_get_u32(g, "t.u32", &u32) && u32 == 4000000000u, "u32");
    tap_ok(!ss__gguf_get_i32(g, "t.i32", &i32) && i32 == -2000000000, "i32");
    tap_ok(!ss__gguf_get_f32(g, "t.f32", &f32) && f32 == 0.1f, "f32");
    tap_ok(!ss__gguf_get_bool(g, "t.bool", &b) && b == 1, "bool");
    tap_ok(!ss__gguf_get_str(g, "t.str", &s) && !strcmp(s, "héllo wörld"), "string (UTF-8)");
    ss_free(s);
    s = NULL;
    tap_ok(!ss__gguf_get_str(g, "t.empty", &s) && s && !*s, "empty string");
    ss_free(s);
    tap_ok(!ss__gguf_get_u64(g, "t.u64", &u64) && u64 == UINT64_MAX, "u64 max");
    tap_ok(!ss__gguf_get_i64(g, "t.i64", &i64) && i64 == INT64_MIN, "i64 min");
    tap_ok(!ss__gguf_get_f64(g, "t.f64", &f64) && f64 == 0.1, "f64");
    const void *data;
    uint64_t n;
    tap_ok(!ss__gguf_get_arr(g, "t.arr_u8", SS_GGUF_U8, &data, &n) && n == 5 &&
               !memcmp(data, (uint8_t[]){0, 1, 2, 254, 255}, 5),
           "u8 array");
    int32_t ints[3];
    tap_ok(!ss__gguf_get_arr(g, "t.arr_i32", SS_GGUF_I32, &data, &n) && n == 3 && (memcpy(ints, data, 12), 1) &&
               ints[0] == -1 && ints[1] == 0 && ints[2] == 1,
           "i32 array");
    float fl[2];
    tap_ok(!ss__gguf_get_arr(g, "t.arr_f32", SS_GGUF_F32, &data, &n) && n == 2 && (memcpy(fl, data, 8), 1) &&
               fl[0] == 1.5f && fl[1] == 0 && signbit(fl[1]),
           "f32 array");
    tap_ok(!ss__gguf_get_arr(g, "t.arr_empty", SS_GGUF_U64, &data, &n) && n == 0, "empty array");
    char **strs = NULL;
    tap_ok(!ss__gguf_get_arr_str(g, "t.arr_str", &strs, &n) && n == 3 && !strcmp(strs[0], "a") && !strcmp(strs[1], "") &&
               !strcmp(strs[2], "ccc"),
           "string array");
    ss_free(strs);

    /* type and range errors name the file and the key */
    rc = ss__gguf_get_u32(g, "t.str", &u32);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "sample.gguf") && contains(ss_errmsg(), "'t.str'") &&
               contains(ss_errmsg(), "expected an integer"),
           "a string read as an integer is refused: %s", ss_errmsg());
    rc = ss__gguf_get_u32(g, "t.i32", &u32);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "out of range"), "a negative i32 read as u32: %s", ss_errmsg());
    rc = ss__gguf_get_i32(g, "t.u32", &i32);
    tap_ok(rc == SS_ERR_FORMAT, "4e9 read as i32 is out of range: %s", ss_errmsg());
    rc = ss__gguf_get_i64(g, "t.u64", &i64);
    tap_ok(rc == SS_ERR_FORMAT, "UINT64_MAX read as i64 is out of range: %s", ss_errmsg());
    rc = ss__gguf_get_u64(g, "t.i64", &u64);
    tap_ok(rc == SS_ERR_FORMAT, "INT64_MIN read as u64 is out of range: %s", ss_errmsg());
    tap_ok(!ss__gguf_get_i64(g, "t.u32", &i64) && i64 == 4000000000, "widening u32 -> i64 works");
    rc = ss__gguf_get_u32(g, "no.such.key", &u32);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "'no.such.key' is missing"), "missing key: %s", ss_errmsg());
    rc = ss__gguf_get_arr(g, "t.arr_u8", SS_GGUF_F32, &data, &n);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "array of u8"), "wrong array type: %s", ss_errmsg());
    rc = ss__gguf_get_f32(g, "t.bool", &f32);
    tap_ok(rc == SS_ERR_FORMAT, "a bool is not a float: %s", ss_errmsg());

    /* tensors */
    float out2[3][5], out1[7], out4[7];
    int32_t oi[2][3];
    int64_t s2[2] = {3, 5}, s1[1] = {7}, si[2] = {2, 3}, s4[4] = {2, 1, 3, 1};
    tap_ok(!ss__gguf_read_f32(g, "w2d", 2, s2, &out2[0][0]) && !memcmp(out2, t2d, sizeof t2d),
           "f32 tensor bit-exact (FLT_MAX, subnormals, -FLT_MIN)");
    tap_ok(!ss__gguf_read_f32(g, "h1d", 1, s1, out1) && !memcmp(out1, t1d, sizeof t1d), "f16 tensor of f16-exact values");
    tap_ok(!ss__gguf_read_raw(g, "ints", SS_GGML_I32, 2, si, oi) && !memcmp(oi, ti32, sizeof ti32), "i32 tensor");
    tap_ok(!ss__gguf_read_f32(g, "blk.0.four_d", 4, s4, out4) && !memcmp(out4, t1d, 6 * sizeof(float)), "4-D tensor");
    const ss__gguf_tensor *t = ss__gguf_find_tensor(g, "w2d");
    tap_ok(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 5 && t->type == SS_GGML_F32 && t->nbytes == 60,
           "tensor info: row-major shape (3, 5), f32, 60 bytes");
    int aligned = 1;
    for (size_t i = 0; i < ss__gguf_tensor_count(g); i++) aligned &= ss__gguf_tensor_at(g, i)->offset % 32 == 0;
    tap_ok(aligned && ss__gguf_alignment(g) == 32, "every tensor starts at a multiple of 32");
    /* the file's ne[0] is the fastest dimension: check the raw bytes */
    size_t size;
    const uint8_t *raw = ss__gguf_bytes(g, &size);
    const uint8_t *name = NULL;
    for (size_t i = 0; i + 3 <= size && !name; i++)
        if (!memcmp(raw + i, "w2d", 3) && i >= 8 && raw[i - 8] == 3) name = raw + i; /* u64 length 3, then the name */
    uint64_t ne0 = 0, ne1 = 0;
    if (name) {
        memcpy(&ne0, name + 3 + 4, 8);
        memcpy(&ne1, name + 3 + 12, 8);
    }
    tap_ok(ne0 == 5 && ne1 == 3, "in the file, ne = [5, 3] for a (3, 5) tensor");

    rc = ss__gguf_read_f32(g, "w2d", 2, (int64_t[]){5, 3}, &out2[0][0]);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "has shape (3, 5), expected (5, 3)"), "wrong shape: %s",
           ss_errmsg());
    rc = ss__gguf_read_f32(g, "ints", 2, si, &out2[0][0]);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "type i32"), "i32 read as f32: %s", ss_errmsg());
    rc = ss__gguf_read_f32(g, "nope", 1, s1, out1);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "tensor 'nope' is missing"), "missing tensor: %s", ss_errmsg());
    ss__gguf_close(g);

    /* alignment 64 */
    p = tmp("align64.gguf");
    rc = write_sample(p, 64);
    if (!rc) rc = ss__gguf_open(p, &g);
    tap_ok(rc == 0, "write and read with general.alignment = 64 (%s)", ss_errmsg());
    if (!rc) {
        aligned = ss__gguf_alignment(g) == 64;
        for (size_t i = 0; i < ss__gguf_tensor_count(g); i++) aligned &= ss__gguf_tensor_at(g, i)->offset % 64 == 0;
        tap_ok(aligned && !ss__gguf_read_f32(g, "w2d", 2, s2, &out2[0][0]) && !memcmp(out2, t2d, sizeof t2d),
               "tensors at multiples of 64, data intact");
        ss__gguf_close(g);
    }

    /* rounding to f16 when writing */
    p = tmp("round.gguf");
    float vals[4] = {0.1f, 1e5f, 0x1p-25f, -3.0f};
    ss__gguf_writer *w;
    rc = ss__gguf_writer_new(&w);
    if (!rc) rc = ss__gguf_add_tensor_f32(w, "v", 1, (int64_t[]){4}, SS_GGML_F16, vals);
    if (!rc) rc = ss__gguf_write(w, p);
    ss__gguf_writer_free(w);
    float back[4] = {0};
    if (!rc) rc = ss__gguf_open(p, &g);
    if (!rc) {
        rc = ss__gguf_read_f32(g, "v", 1, (int64_t[]){4}, back);
        ss__gguf_close(g);
    }
    tap_ok(!rc && back[0] == ss__f16_to_f32(ss__f32_to_f16(0.1f)) && isinf(back[1]) && back[2] == 0 && back[3] == -3,
           "f16 tensors are rounded on write (0.1 -> %.8g)", (double)back[0]);
}

/* ---------------------------------------------------------- writer errors */

static void test_writer_errors(void)
{
    ss__gguf_writer *w;
    int rc = ss__gguf_writer_new(&w);
    tap_ok(rc == 0, "writer");
    if (rc) return;
    rc = ss__gguf_set_u32(w, "k", 1);
    tap_ok(ss__gguf_set_u32(w, "k", 2) == SS_ERR_ARG && contains(ss_errmsg(), "twice"), "a key set twice: %s",
           ss_errmsg());
    tap_ok(ss__gguf_set_u32(w, "general.alignment", 3) == SS_ERR_ARG, "alignment 3 refused: %s", ss_errmsg());
    tap_ok(ss__gguf_set_u64(w, "general.alignment", 64) == SS_ERR_ARG, "a u64 alignment refused: %s", ss_errmsg());
    float x[2] = {1, 2};
    rc = ss__gguf_add_tensor_f32(w, "x", 1, (int64_t[]){2}, SS_GGML_F32, x);
    tap_ok(!rc && ss__gguf_add_tensor_f32(w, "x", 1, (int64_t[]){2}, SS_GGML_F32, x) == SS_ERR_ARG,
           "a tensor added twice: %s", ss_errmsg());
    tap_ok(ss__gguf_add_tensor_f32(w, "y", 5, (int64_t[]){1, 1, 1, 1, 2}, SS_GGML_F32, x) == SS_ERR_ARG,
           "5 dimensions refused");
    tap_ok(ss__gguf_add_tensor_f32(w, "y", 1, (int64_t[]){2}, SS_GGML_I32, x) == SS_ERR_ARG,
           "f32 data stored as i32 refused");
    tap_ok(ss__gguf_add_tensor(w, "y", 1, (int64_t[]){2}, 2 /* Q4_0 */, x) == SS_ERR_ARG, "quantized types refused");
    tap_ok(ss__gguf_add_tensor_f32(w, "y", 2, (int64_t[]){INT64_MAX / 2, 4}, SS_GGML_F32, x) == SS_ERR_ARG,
           "an overflowing shape refused");
    const char *bad = tmp("no/such/dir/x.gguf");
    rc = ss__gguf_write(w, bad);
    tap_ok(rc == SS_ERR_IO && contains(ss_errmsg(), "x.gguf"), "an unwritable path: %s", ss_errmsg());
    /* the existing file survives a failed write: write good, then fail */
    const char *p = tmp("keep.gguf");
    rc = ss__gguf_write(w, p);
    size_t n0, n1;
    uint8_t *before = tap_read_file(p, &n0);
    chmod(dir, 0500); /* no temporary file can be created beside it */
    int rc2 = SS_OK;
    if (geteuid() != 0)
        rc2 = ss__gguf_write(w, p);
    else {
        /* root ignores permissions: the write runs in a child as nobody, in a
         * directory that nobody owns and cannot write */
        if (chown(dir, 65534, 65534) == 0) {
            pid_t pid = fork();
            if (pid == 0) {
                if (setgid(65534) || setuid(65534)) _exit(2);
                _exit(ss__gguf_write(w, p) == SS_ERR_IO ? 0 : 1);
            }
            int st = 0;
            rc2 = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0
                      ? SS_ERR_IO : SS_OK;
            if (chown(dir, 0, 0)) rc2 = SS_OK;
        }
    }
    chmod(dir, 0700);
    uint8_t *after = tap_read_file(p, &n1);
    tap_ok(!rc && rc2 == SS_ERR_IO && before && after && n0 == n1 && !memcmp(before, after, n0),
           "a failed write leaves the old file intact (%s)", rc2 == SS_ERR_IO ? "refused" : "written");
    free(before);
    free(after);
    ss__gguf_writer_free(w);
    ss__gguf_writer_free(NULL);
    ss__gguf_close(NULL);
}

/* ------------------------------------------------------ hand-made files */

typedef struct buf {
    uint8_t b[4096];
    size_t n;
} buf;

static void b_put(buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void b_u32(buf *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(buf *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(buf *b, const char *s)
{
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_header(buf *b, uint32_t version, uint64_t nt, uint64_t nkv)
{
    b->n = 0;
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, nt);
    b_u64(b, nkv);
}
static void b_pad(buf *b, size_t a)
{
    while (b->n % a) b->b[b->n++] = 0;
}
/* one f32 tensor info with ne = {ne0} at offset */
static void b_tensor(buf *b, const char *name, uint32_t type, uint64_t ne0, uint64_t off)
{
    b_str(b, name);
    b_u32(b, 1);
    b_u64(b, ne0);
    b_u32(b, type);
    b_u64(b, off);
}

/* Opens b as a file: expects SS_ERR_FORMAT (or code) with msg in the message. */
static void expect_fail(const buf *b, int code, const char *msg, const char *what)
{
    const char *p = tmp("crafted.gguf");
    write_bytes(p, b->b, b->n);
    ss__gguf *g = NULL;
    int rc = ss__gguf_open(p, &g);
    tap_ok(rc == code && !g && contains(ss_errmsg(), "crafted.gguf") && contains(ss_errmsg(), msg), "%s: %s", what,
           ss_errmsg());
    ss__gguf_close(g);
}

static void test_crafted(void)
{
    buf b;
    /* a good minimal file first, to be sure the builder is right */
    b_header(&b, 3, 1, 1);
    b_str(&b, "a");
    b_u32(&b, SS_GGUF_U32);
    b_u32(&b, 7);
    b_tensor(&b, "x", SS_GGML_F32, 2, 0);
    b_pad(&b, 32);
    float two[2] = {1, 2};
    b_put(&b, two, 8);
    const char *p = tmp("crafted.gguf");
    write_bytes(p, b.b, b.n);
    ss__gguf *g;
    int rc = ss__gguf_open(p, &g);
    tap_ok(rc == 0, "a hand-made minimal file reads (%s)", ss_errmsg());
    if (!rc) ss__gguf_close(g);

    b_header(&b, 3, 0, 0);
    memcpy(b.b, "GGML", 4);
    expect_fail(&b, SS_ERR_FORMAT, "not a GGUF file", "wrong magic");
    b_header(&b, 2, 0, 0);
    expect_fail(&b, SS_ERR_FORMAT, "version 2 is not supported", "version 2");
    b_header(&b, 0x03000000u, 0, 0);
    expect_fail(&b, SS_ERR_FORMAT, "big-endian", "a big-endian file");
    b_header(&b, 3, 0, 0);
    b.n = 20;
    expect_fail(&b, SS_ERR_FORMAT, "truncated: the header needs 24 bytes", "a short header");
    b_header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, SS_ERR_FORMAT, "cannot fit", "kv count 2^64-1");
    b_header(&b, 3, UINT64_MAX / 2, 0);
    expect_fail(&b, SS_ERR_FORMAT, "cannot fit", "tensor count 2^63");
    b_header(&b, 3, 0, 1);
    b_u64(&b, UINT64_MAX);
    b_u64(&b, 0);
    b_u64(&b, 0);
    expect_fail(&b, SS_ERR_FORMAT, "truncated: key #0", "key length 2^64-1");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_STR);
    b_u64(&b, (uint64_t)1 << 62);
    expect_fail(&b, SS_ERR_FORMAT, "the string of key 'k'", "string length 2^62");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_ARR);
    b_u32(&b, SS_GGUF_F64);
    b_u64(&b, (uint64_t)1 << 61);
    expect_fail(&b, SS_ERR_FORMAT, "array 'k' claims 2305843009213693952 elements",
                "array count 2^61 of f64 (the byte count would overflow)");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_ARR);
    b_u32(&b, SS_GGUF_I32);
    b_u64(&b, 3);
    b_u32(&b, 1);
    expect_fail(&b, SS_ERR_FORMAT, "truncated: array 'k' needs 12 bytes at offset 49 but the file has 53",
                "an i32 array cut short");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_ARR);
    b_u32(&b, SS_GGUF_STR);
    b_u64(&b, UINT64_MAX);
    expect_fail(&b, SS_ERR_FORMAT, "claims", "string array count 2^64-1");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_ARR);
    b_u32(&b, SS_GGUF_ARR);
    b_u64(&b, 0);
    expect_fail(&b, SS_ERR_FORMAT, "array of arrays", "nested arrays");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, 13);
    b_u32(&b, 0);
    expect_fail(&b, SS_ERR_FORMAT, "unknown value type 13", "unknown value type");
    b_header(&b, 3, 0, 1);
    b_u64(&b, 3);
    b_put(&b, "a\0b", 3);
    b_u32(&b, SS_GGUF_U8);
    b_put(&b, "x", 1);
    expect_fail(&b, SS_ERR_FORMAT, "NUL", "a key holding NUL");
    b_header(&b, 3, 0, 2);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_U8);
    b_put(&b, "x", 1);
    b_str(&b, "k");
    b_u32(&b, SS_GGUF_U8);
    b_put(&b, "y", 1);
    expect_fail(&b, SS_ERR_FORMAT, "'k' appears twice", "a duplicate key");
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, SS_GGUF_U32);
    b_u32(&b, 24);
    expect_fail(&b, SS_ERR_FORMAT, "power of two", "alignment 24");
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, SS_GGUF_U32);
    b_u32(&b, 0);
    expect_fail(&b, SS_ERR_FORMAT, "power of two", "alignment 0");

    /* tensor infos */
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "x", SS_GGML_F32, 4, 0);
    b_pad(&b, 32);
    b_put(&b, two, 8); /* 8 of the 16 bytes */
    expect_fail(&b, SS_ERR_FORMAT, "truncated: tensor 'x' needs 16 bytes at offset 64 but the file has 72",
                "tensor data cut short");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "x", SS_GGML_F32, 2, (uint64_t)1 << 63);
    b_pad(&b, 32);
    b_put(&b, two, 8);
    expect_fail(&b, SS_ERR_FORMAT, "truncated: tensor 'x'", "tensor offset 2^63");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "x", SS_GGML_F32, 2, UINT64_MAX - 31);
    b_pad(&b, 32);
    b_put(&b, two, 8);
    expect_fail(&b, SS_ERR_FORMAT, "tensor 'x'", "tensor offset near 2^64 (the sum would wrap)");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "x", SS_GGML_F32, 2, 4);
    b_pad(&b, 32);
    b_put(&b, two, 8);
    b_put(&b, two, 8);
    expect_fail(&b, SS_ERR_FORMAT, "not a multiple of the alignment", "a misaligned tensor");
    b_header(&b, 3, 1, 0);
    b_str(&b, "x");
    b_u32(&b, 2);
    b_u64(&b, (uint64_t)1 << 62);
    b_u64(&b, (uint64_t)1 << 62);
    b_u32(&b, SS_GGML_F32);
    b_u64(&b, 0);
    b_pad(&b, 32);
    expect_fail(&b, SS_ERR_FORMAT, "too large", "a shape whose element count overflows");
    b_header(&b, 3, 1, 0);
    b_str(&b, "x");
    b_u32(&b, 1);
    b_u64(&b, (uint64_t)1 << 63);
    b_u32(&b, SS_GGML_F32);
    b_u64(&b, 0);
    b_pad(&b, 32);
    expect_fail(&b, SS_ERR_FORMAT, "has dimension", "a dimension of 2^63 (negative as int64)");
    b_header(&b, 3, 1, 0);
    b_str(&b, "x");
    b_u32(&b, 5);
    for (int i = 0; i < 5; i++) b_u64(&b, 1);
    b_u32(&b, SS_GGML_F32);
    b_u64(&b, 0);
    expect_fail(&b, SS_ERR_FORMAT, "5 dimensions", "5 dimensions");
    b_header(&b, 3, 1, 0);
    b_str(&b, "x");
    b_u32(&b, 0);
    b_u32(&b, SS_GGML_F32);
    b_u64(&b, 0);
    b_u64(&b, 0);
    b_u64(&b, 0);
    expect_fail(&b, SS_ERR_FORMAT, "0 dimensions", "0 dimensions");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "q", 2 /* Q4_0 */, 32, 0);
    b_pad(&b, 32);
    b_put(&b, two, 8);
    b_put(&b, two, 8);
    b_put(&b, two, 2);
    expect_fail(&b, SS_ERR_FORMAT, "ggml type 2, which semsearch cannot read", "a quantized tensor");
    b_header(&b, 3, 2, 0);
    b_tensor(&b, "x", SS_GGML_F32, 2, 0);
    b_tensor(&b, "x", SS_GGML_F32, 2, 32);
    b_pad(&b, 32);
    b_put(&b, two, 8);
    b_pad(&b, 32);
    b_put(&b, two, 8);
    expect_fail(&b, SS_ERR_FORMAT, "'x' appears twice", "a duplicate tensor");
    b_header(&b, 3, 2, 0);
    b_tensor(&b, "x", SS_GGML_F32, 16, 0);
    b_tensor(&b, "y", SS_GGML_F32, 2, 32);
    b_pad(&b, 32);
    for (int i = 0; i < 8; i++) b_put(&b, two, 8);
    expect_fail(&b, SS_ERR_FORMAT, "overlap", "overlapping tensors");

    /* foreign and odd files */
    write_bytes(tmp("text.txt"), "hello\n", 6);
    rc = ss__gguf_open(tmp("text.txt"), &g);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "text.txt: not a GGUF file"), "a text file: %s", ss_errmsg());
    write_bytes(tmp("empty"), "", 0);
    rc = ss__gguf_open(tmp("empty"), &g);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "not a GGUF file (empty)"), "an empty file: %s", ss_errmsg());
    rc = ss__gguf_open("/proc/self/exe", &g);
    tap_ok(rc != 0, "an executable: %s", ss_errmsg());
    rc = ss__gguf_open(dir, &g);
    tap_ok(rc == SS_ERR_IO && contains(ss_errmsg(), "is a directory"), "a directory: %s", ss_errmsg());
    rc = ss__gguf_open(tmp("missing.gguf"), &g);
    tap_ok(rc == SS_ERR_IO && contains(ss_errmsg(), "missing.gguf: No such file"), "a missing file: %s", ss_errmsg());
    tap_ok(ss__gguf_sniff(tmp("sample.gguf")) == 1 && ss__gguf_sniff(tmp("text.txt")) == 0 &&
               ss__gguf_sniff(tmp("missing.gguf")) == 0,
           "sniff tells GGUF from other files");
}

/* Every prefix of a valid file fails cleanly; every flipped byte in its
 * header and infos either reads or fails cleanly. */
static void test_damage(void)
{
    size_t n;
    uint8_t *good = tap_read_file(tmp("sample.gguf"), &n);
    if (!good) {
        tap_ok(0, "read sample.gguf");
        return;
    }
    const char *p = tmp("damaged.gguf");
    int bad = 0, clean = 1;
    for (size_t len = 0; len < n; len++) {
        write_bytes(p, good, len);
        ss__gguf *g = NULL;
        int rc = ss__gguf_open(p, &g);
        if (rc == 0) {
            bad++;
            ss__gguf_close(g);
        } else if (rc != SS_ERR_FORMAT || !contains(ss_errmsg(), "damaged.gguf")) {
            if (clean) tap_diag("length %zu: rc %d: %s", len, rc, ss_errmsg());
            clean = 0;
        }
    }
    tap_ok(bad == 0 && clean, "every one of the %zu truncations is refused with a message naming the file", n);

    /* find where the data section starts: the first tensor's offset */
    ss__gguf *g0;
    size_t data_start = n;
    if (!ss__gguf_open(tmp("sample.gguf"), &g0)) {
        data_start = (size_t)ss__gguf_tensor_at(g0, 0)->offset;
        ss__gguf_close(g0);
    }
    int accepted = 0, refused = 0, odd = 0;
    static const uint8_t flips[] = {0xff, 0x80, 0x01, 0x7f};
    for (size_t i = 0; i < data_start; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            good[i] ^= flips[f];
            write_bytes(p, good, n);
            good[i] ^= flips[f];
            ss__gguf *g = NULL;
            int rc = ss__gguf_open(p, &g);
            if (rc == 0) {
                /* a flip inside a string or a value: everything stays readable */
                for (size_t k = 0; k < ss__gguf_kv_count(g); k++) (void)ss__gguf_kv_at(g, k)->key[0];
                accepted++;
                ss__gguf_close(g);
            } else if (rc == SS_ERR_FORMAT || rc == SS_ERR_NOMEM) refused++;
            else odd++;
        }
    tap_ok(odd == 0 && refused > 0, "flipped bytes in the first %zu bytes: %d refused cleanly, %d still readable",
           data_start, refused, accepted);
    free(good);
}

/* Failing the k-th allocation anywhere in write or read leaks nothing
 * (checked by ASan/valgrind) and reports SS_ERR_NOMEM. */
static void test_alloc_failures(void)
{
    int all_ok = 1, k;
    for (k = 1; k < 200; k++) {
        ss__fail_alloc_after(k);
        int rc = write_sample(tmp("nomem.gguf"), 0);
        ss__fail_alloc_after(0);
        if (rc == 0) break;
        if (rc != SS_ERR_NOMEM) all_ok = 0;
    }
    tap_ok(all_ok && k < 200, "writing: each of the first %d allocations failing gives SS_ERR_NOMEM", k - 1);
    all_ok = 1;
    for (k = 1; k < 200; k++) {
        ss__gguf *g = NULL;
        ss__fail_alloc_after(k);
        int rc = ss__gguf_open(tmp("sample.gguf"), &g);
        ss__fail_alloc_after(0);
        if (rc == 0) {
            ss__gguf_close(g);
            break;
        }
        if (rc != SS_ERR_NOMEM) all_ok = 0;
    }
    tap_ok(all_ok && k < 200, "reading: each of the first %d allocations failing gives SS_ERR_NOMEM", k - 1);
}

/* A signal that ends the process in the middle of a write (train's second
 * Ctrl-C during a checkpoint) removes the temporary file first. */
static void on_int(int sig)
{
    ss__atomic_unlink_live();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void test_signal_cleanup(void)
{
    const char *p = tmp("interrupted.gguf");
    pid_t pid = fork();
    if (pid == 0) {
        ss__atomic a, b;
        if (ss__atomic_open(&a, p) || ss__atomic_open(&b, tmp("other.bin"))) _exit(3);
        static char zeros[1 << 20];
        fwrite(zeros, 1, sizeof zeros, a.f);
        fflush(a.f);
        signal(SIGINT, on_int);
        raise(SIGINT);
        _exit(4);
    }
    int st = 0;
    int died = pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGINT;
    int left = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) left++;
    if (d) closedir(d);
    tap_ok(died && left == 0, "a signal during two atomic writes leaves no temporary file (%d left)", left);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/ss-gguf-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_f16();
    test_round_trip();
    test_writer_errors();
    test_crafted();
    test_damage();
    test_alloc_failures();
    test_signal_cleanup();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) tap_diag("could not remove %s", dir);
    return tap_done();
}
