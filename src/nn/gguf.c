/* gguf.c: GGUF v3 reader (mmap, every size checked before use) and writer
 * (serialized key/values in memory, tensor data streamed from the caller's
 * buffers into a temporary file that is renamed into place). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "base/f16.h"
#include "nn/gguf.h"
#include "base/textio.h"

/* Values are copied between the file and host memory with memcpy. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c assumes a little-endian host (GGUF is little-endian)"
#endif

#define HEADER_SIZE 24u

size_t ss__ggml_type_size(int type)
{
    switch (type) {
    case SS_GGML_F32: return 4;
    case SS_GGML_F16: return 2;
    case SS_GGML_I8: return 1;
    case SS_GGML_I16: return 2;
    case SS_GGML_I32: return 4;
    case SS_GGML_I64: return 8;
    case SS_GGML_F64: return 8;
    case SS_GGML_Q8_ROW: return 1; /* plus a f32 scale per row: tensor_nbytes */
    default: return 0;
    }
}

const char *ss__ggml_type_name(int type)
{
    switch (type) {
    case SS_GGML_F32: return "f32";
    case SS_GGML_F16: return "f16";
    case SS_GGML_I8: return "i8";
    case SS_GGML_I16: return "i16";
    case SS_GGML_I32: return "i32";
    case SS_GGML_I64: return "i64";
    case SS_GGML_F64: return "f64";
    case SS_GGML_Q8_ROW: return "q8_row";
    default: return "?";
    }
}

/* Size of a scalar value type; 0 for strings, arrays and unknown types. */
static size_t scalar_size(int type)
{
    switch (type) {
    case SS_GGUF_U8: case SS_GGUF_I8: case SS_GGUF_BOOL: return 1;
    case SS_GGUF_U16: case SS_GGUF_I16: return 2;
    case SS_GGUF_U32: case SS_GGUF_I32: case SS_GGUF_F32: return 4;
    case SS_GGUF_U64: case SS_GGUF_I64: case SS_GGUF_F64: return 8;
    default: return 0;
    }
}

const char *ss__gguf_type_name(int type)
{
    static const char *const names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return type >= 0 && type <= SS_GGUF_F64 ? names[type] : "?";
}

static int is_pow2(uint64_t a) { return a && !(a & (a - 1)); }

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* ================================================================== writer */

typedef struct wtensor {
    char *name;
    int ndim;
    int64_t shape[SS_GGUF_MAX_DIMS];
    int type;      /* in the file */
    int from_f32;  /* data is f32, converted to type on write */
    int owned;     /* data is the writer's to free */
    const void *data;
    uint64_t nbytes; /* in the file */
} wtensor;

struct ss__gguf_writer {
    uint8_t *meta; /* serialized key/values */
    size_t meta_len, meta_cap;
    char **keys;
    size_t n_kv, keys_cap;
    wtensor *t;
    size_t n_t, t_cap;
    uint32_t alignment;
};

int ss__gguf_writer_new(ss__gguf_writer **out)
{
    *out = ss__calloc(1, sizeof **out);
    if (!*out) return ss__fail(SS_ERR_NOMEM, "out of memory");
    (*out)->alignment = SS_GGUF_DEFAULT_ALIGNMENT;
    return SS_OK;
}

void ss__gguf_writer_free(ss__gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) ss_free(w->keys[i]);
    for (size_t i = 0; i < w->n_t; i++) {
        ss_free(w->t[i].name);
        if (w->t[i].owned) ss_free((void *)w->t[i].data);
    }
    ss_free(w->keys);
    ss_free(w->t);
    ss_free(w->meta);
    ss_free(w);
}

static int meta_put(ss__gguf_writer *w, const void *p, size_t n)
{
    if (n > SIZE_MAX / 2 - w->meta_len) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (w->meta_len + n > w->meta_cap) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap < w->meta_len + n) cap *= 2;
        uint8_t *nm = ss__realloc(w->meta, cap);
        if (!nm) return ss__fail(SS_ERR_NOMEM, "out of memory");
        w->meta = nm;
        w->meta_cap = cap;
    }
    if (n) memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
    return SS_OK;
}

static int meta_u32(ss__gguf_writer *w, uint32_t v) { return meta_put(w, &v, 4); }
static int meta_u64(ss__gguf_writer *w, uint64_t v) { return meta_put(w, &v, 8); }
static int meta_str(ss__gguf_writer *w, const char *s, size_t n)
{
    int rc = meta_u64(w, n);
    return rc ? rc : meta_put(w, s, n);
}

/* Starts a key/value: checks the key is new, writes key and type. The caller
 * writes the value and calls kv_end; on failure kv_rollback. */
static int kv_begin(ss__gguf_writer *w, const char *key, int type, size_t *mark)
{
    if (!key || !*key) return ss__fail(SS_ERR_ARG, "gguf: empty key");
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return ss__fail(SS_ERR_ARG, "gguf: key '%s' set twice", key);
    *mark = w->meta_len;
    int rc = meta_str(w, key, strlen(key));
    if (!rc) rc = meta_u32(w, (uint32_t)type);
    if (rc) w->meta_len = *mark;
    return rc;
}

static int kv_end(ss__gguf_writer *w, const char *key, size_t mark, int rc)
{
    if (!rc && w->n_kv == w->keys_cap) {
        size_t cap = w->keys_cap ? w->keys_cap * 2 : 32;
        char **nk = ss__realloc(w->keys, cap * sizeof *nk);
        if (!nk) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        else {
            w->keys = nk;
            w->keys_cap = cap;
        }
    }
    char *k = rc ? NULL : ss__strdup(key);
    if (!rc && !k) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (rc) {
        w->meta_len = mark;
        return rc;
    }
    w->keys[w->n_kv++] = k;
    return SS_OK;
}

int ss__gguf_set_scalar(ss__gguf_writer *w, const char *key, int type, const void *v)
{
    size_t sz = scalar_size(type);
    if (!sz) return ss__fail(SS_ERR_ARG, "gguf: key '%s': type %d is not a scalar", key ? key : "", type);
    if (key && !strcmp(key, "general.alignment")) {
        uint32_t a;
        if (type != SS_GGUF_U32) return ss__fail(SS_ERR_ARG, "gguf: general.alignment must be u32");
        memcpy(&a, v, 4);
        if (!is_pow2(a)) return ss__fail(SS_ERR_ARG, "gguf: alignment %" PRIu32 " is not a power of two", a);
    }
    size_t mark;
    int rc = kv_begin(w, key, type, &mark);
    if (rc) return rc;
    rc = kv_end(w, key, mark, meta_put(w, v, sz));
    if (!rc && !strcmp(key, "general.alignment")) memcpy(&w->alignment, v, 4);
    return rc;
}

int ss__gguf_set_u32(ss__gguf_writer *w, const char *key, uint32_t v) { return ss__gguf_set_scalar(w, key, SS_GGUF_U32, &v); }
int ss__gguf_set_i32(ss__gguf_writer *w, const char *key, int32_t v) { return ss__gguf_set_scalar(w, key, SS_GGUF_I32, &v); }
int ss__gguf_set_u64(ss__gguf_writer *w, const char *key, uint64_t v) { return ss__gguf_set_scalar(w, key, SS_GGUF_U64, &v); }
int ss__gguf_set_i64(ss__gguf_writer *w, const char *key, int64_t v) { return ss__gguf_set_scalar(w, key, SS_GGUF_I64, &v); }
int ss__gguf_set_f32(ss__gguf_writer *w, const char *key, float v) { return ss__gguf_set_scalar(w, key, SS_GGUF_F32, &v); }
int ss__gguf_set_f64(ss__gguf_writer *w, const char *key, double v) { return ss__gguf_set_scalar(w, key, SS_GGUF_F64, &v); }
int ss__gguf_set_bool(ss__gguf_writer *w, const char *key, int v)
{
    uint8_t b = v != 0;
    return ss__gguf_set_scalar(w, key, SS_GGUF_BOOL, &b);
}

int ss__gguf_set_str(ss__gguf_writer *w, const char *key, const char *v)
{
    if (!v) return ss__fail(SS_ERR_ARG, "gguf: key '%s': NULL string", key ? key : "");
    size_t mark;
    int rc = kv_begin(w, key, SS_GGUF_STR, &mark);
    if (rc) return rc;
    return kv_end(w, key, mark, meta_str(w, v, strlen(v)));
}

int ss__gguf_set_arr(ss__gguf_writer *w, const char *key, int elem_type, const void *data, uint64_t n)
{
    size_t sz = scalar_size(elem_type);
    if (!sz) return ss__fail(SS_ERR_ARG, "gguf: key '%s': arrays of %s need ss__gguf_set_arr_str", key ? key : "",
                             ss__gguf_type_name(elem_type));
    if (n > SIZE_MAX / 2 / sz || (n && !data)) return ss__fail(SS_ERR_ARG, "gguf: key '%s': bad array", key ? key : "");
    size_t mark;
    int rc = kv_begin(w, key, SS_GGUF_ARR, &mark);
    if (rc) return rc;
    rc = meta_u32(w, (uint32_t)elem_type);
    if (!rc) rc = meta_u64(w, n);
    if (!rc) rc = meta_put(w, data, (size_t)n * sz);
    return kv_end(w, key, mark, rc);
}

int ss__gguf_set_arr_str(ss__gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!v[i]) return ss__fail(SS_ERR_ARG, "gguf: key '%s': NULL string", key ? key : "");
    size_t mark;
    int rc = kv_begin(w, key, SS_GGUF_ARR, &mark);
    if (rc) return rc;
    rc = meta_u32(w, SS_GGUF_STR);
    if (!rc) rc = meta_u64(w, n);
    for (uint64_t i = 0; i < n && !rc; i++) rc = meta_str(w, v[i], strlen(v[i]));
    return kv_end(w, key, mark, rc);
}

/* Bytes of a tensor of numel elements: numel * the element size, plus for
 * q8_row a f32 scale per row (rows: the product of all dimensions but the
 * last). 0 with *ok = 0 when that overflows. */
static uint64_t tensor_nbytes(int type, int ndim, const int64_t *shape, uint64_t numel, int *ok)
{
    *ok = 1;
    uint64_t n = numel * ss__ggml_type_size(type);
    if (type != SS_GGML_Q8_ROW) return n;
    uint64_t rows = 1;
    for (int d = 0; d + 1 < ndim; d++) {
        uint64_t ne = (uint64_t)shape[d];
        if (ne && rows > ((uint64_t)INT64_MAX / 4) / ne) return *ok = 0, 0;
        rows *= ne;
    }
    if (rows * 4 > (uint64_t)INT64_MAX - n) return *ok = 0, 0;
    return n + rows * 4;
}

static int add_tensor(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape, int type,
                      const void *data, int from_f32)
{
    size_t esz = ss__ggml_type_size(type);
    if (!name || !*name) return ss__fail(SS_ERR_ARG, "gguf: empty tensor name");
    if (!esz) return ss__fail(SS_ERR_ARG, "gguf: tensor '%s': unsupported type %d", name, type);
    if (ndim < 1 || ndim > SS_GGUF_MAX_DIMS)
        return ss__fail(SS_ERR_ARG, "gguf: tensor '%s': %d dimensions", name, ndim);
    uint64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] && numel > (uint64_t)INT64_MAX / esz / (uint64_t)shape[d]))
            return ss__fail(SS_ERR_ARG, "gguf: tensor '%s': bad shape", name);
        numel *= (uint64_t)shape[d];
    }
    if (numel && !data) return ss__fail(SS_ERR_ARG, "gguf: tensor '%s': NULL data", name);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return ss__fail(SS_ERR_ARG, "gguf: tensor '%s' added twice", name);
    if (w->n_t == w->t_cap) {
        size_t cap = w->t_cap ? w->t_cap * 2 : 64;
        wtensor *nt = ss__realloc(w->t, cap * sizeof *nt);
        if (!nt) return ss__fail(SS_ERR_NOMEM, "out of memory");
        w->t = nt;
        w->t_cap = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = ss__strdup(name);
    if (!t->name) return ss__fail(SS_ERR_NOMEM, "out of memory");
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->type = type;
    t->from_f32 = from_f32;
    t->data = data;
    int ok;
    t->nbytes = tensor_nbytes(type, ndim, shape, numel, &ok);
    if (!ok) {
        ss_free(t->name);
        return ss__fail(SS_ERR_ARG, "gguf: tensor '%s': bad shape", name);
    }
    w->n_t++;
    return SS_OK;
}

int ss__gguf_add_tensor_f32(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape, int file_type,
                            const float *data)
{
    if (file_type != SS_GGML_F32 && file_type != SS_GGML_F16)
        return ss__fail(SS_ERR_ARG, "gguf: tensor '%s': f32 data can be stored as f32 or f16 only", name ? name : "");
    return add_tensor(w, name, ndim, shape, file_type, data, file_type == SS_GGML_F16);
}

int ss__gguf_add_tensor(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape, int type,
                        const void *data)
{
    return add_tensor(w, name, ndim, shape, type, data, 0);
}

int ss__gguf_add_tensor_owned(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape, int type,
                              void *data)
{
    int rc = add_tensor(w, name, ndim, shape, type, data, 0);
    if (rc) {
        ss_free(data);
        return rc;
    }
    w->t[w->n_t - 1].owned = 1;
    return SS_OK;
}

/* Output with a byte position and a sticky error. */
typedef struct wout {
    FILE *f;
    uint64_t pos;
    int err;
} wout;

static void put(wout *o, const void *p, size_t n)
{
    if (o->err || !n) return;
    if (fwrite(p, 1, n, o->f) != n) o->err = errno ? errno : EIO;
    o->pos += n;
}
static void put_u32(wout *o, uint32_t v) { put(o, &v, 4); }
static void put_u64(wout *o, uint64_t v) { put(o, &v, 8); }
static void pad_to(wout *o, uint64_t pos)
{
    static const uint8_t zeros[64];
    while (!o->err && o->pos < pos) put(o, zeros, (size_t)SS_MIN(pos - o->pos, sizeof zeros));
}

int ss__gguf_write(ss__gguf_writer *w, const char *path)
{
    if (!w || !path) return ss__fail(SS_ERR_ARG, "ss__gguf_write: NULL argument");
    /* layout: offsets of every tensor relative to the data section */
    uint64_t *off = ss__calloc(w->n_t ? w->n_t : 1, sizeof *off);
    uint16_t *half = ss__malloc(1 << 16);
    if (!off || !half) {
        ss_free(off);
        ss_free(half);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    uint64_t cur = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        off[i] = align_up(cur, w->alignment);
        cur = off[i] + w->t[i].nbytes;
    }
    ss__atomic a;
    int rc = ss__atomic_open(&a, path);
    if (rc) {
        ss_free(off);
        ss_free(half);
        return rc;
    }
    errno = 0;
    wout o = {a.f, 0, 0};
    put_u32(&o, SS_GGUF_MAGIC);
    put_u32(&o, SS_GGUF_VERSION);
    put_u64(&o, w->n_t);
    put_u64(&o, w->n_kv);
    put(&o, w->meta, w->meta_len);
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_u64(&o, strlen(t->name));
        put(&o, t->name, strlen(t->name));
        put_u32(&o, (uint32_t)t->ndim);
        for (int d = t->ndim - 1; d >= 0; d--) put_u64(&o, (uint64_t)t->shape[d]); /* ne[0] fastest */
        put_u32(&o, (uint32_t)t->type);
        put_u64(&o, off[i]);
    }
    uint64_t data_start = align_up(o.pos, w->alignment);
    for (size_t i = 0; i < w->n_t && !o.err; i++) {
        const wtensor *t = &w->t[i];
        pad_to(&o, data_start + off[i]);
        if (!t->from_f32) {
            put(&o, t->data, (size_t)t->nbytes);
            continue;
        }
        const float *src = t->data;
        size_t n = (size_t)(t->nbytes / 2), chunk = (1 << 16) / sizeof *half;
        for (size_t j = 0; j < n && !o.err; j += chunk) {
            size_t k = SS_MIN(chunk, n - j);
            ss__f32_to_f16_n(src + j, half, k);
            put(&o, half, k * sizeof *half);
        }
    }
    /* an empty data section still ends on the alignment, as ggml writes it */
    pad_to(&o, w->n_t ? o.pos : data_start);
    ss_free(off);
    ss_free(half);
    if (o.err) {
        ss__atomic_abort(&a);
        return ss__fail(SS_ERR_IO, "%s: write failed: %s", path, strerror(o.err));
    }
    return ss__atomic_commit(&a);
}

/* ================================================================== reader */

struct ss__gguf {
    char *path;
    const uint8_t *map;
    size_t size;
    uint32_t alignment;
    ss__gguf_kv *kv;
    size_t n_kv;
    ss__gguf_tensor *t;
    size_t n_t;
};

typedef struct cur {
    const uint8_t *p;
    uint64_t size, pos;
    const char *path;
} cur;

/* Checks that n more bytes exist; the message says what needed them. */
static int need(const cur *c, uint64_t n, const char *fmt, ...) SS_PRINTF(3, 4);
static int need(const cur *c, uint64_t n, const char *fmt, ...)
{
    if (n <= c->size - c->pos) return SS_OK;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ss__fail(SS_ERR_FORMAT, "%s: truncated: %s needs %" PRIu64 " bytes at offset %" PRIu64
                                   " but the file has %" PRIu64,
                    c->path, what, n, c->pos, c->size);
}

static uint32_t get32(cur *c)
{
    uint32_t v;
    memcpy(&v, c->p + c->pos, 4);
    c->pos += 4;
    return v;
}

static uint64_t get64(cur *c)
{
    uint64_t v;
    memcpy(&v, c->p + c->pos, 8);
    c->pos += 8;
    return v;
}

/* A GGUF string as a NUL-terminated copy; what names it for messages. */
static int read_name(cur *c, char **out, const char *what, uint64_t index)
{
    int rc = need(c, 8, "the length of %s #%" PRIu64, what, index);
    if (rc) return rc;
    uint64_t len = get64(c);
    if ((rc = need(c, len, "%s #%" PRIu64, what, index))) return rc;
    const char *s = (const char *)c->p + c->pos;
    if (memchr(s, '\0', (size_t)len))
        return ss__fail(SS_ERR_FORMAT, "%s: corrupt: %s #%" PRIu64 " holds a NUL byte", c->path, what, index);
    if (!(*out = ss__strndup(s, (size_t)len))) return ss__fail(SS_ERR_NOMEM, "out of memory");
    c->pos += len;
    return SS_OK;
}

/* Parses the value of key kv->key of type kv->type at the cursor. */
static int read_value(cur *c, ss__gguf_kv *kv)
{
    const char *k = kv->key;
    size_t sz = scalar_size(kv->type);
    int rc;
    if (sz) {
        if ((rc = need(c, sz, "the value of key '%s'", k))) return rc;
        kv->n = 1;
        kv->data = c->p + c->pos;
        c->pos += sz;
        return SS_OK;
    }
    if (kv->type == SS_GGUF_STR) {
        if ((rc = need(c, 8, "the length of key '%s'", k))) return rc;
        kv->n = get64(c);
        if ((rc = need(c, kv->n, "the string of key '%s'", k))) return rc;
        kv->data = c->p + c->pos;
        c->pos += kv->n;
        return SS_OK;
    }
    if (kv->type != SS_GGUF_ARR)
        return ss__fail(SS_ERR_FORMAT, "%s: corrupt: key '%s' has unknown value type %d", c->path, k, kv->type);
    if ((rc = need(c, 12, "the array header of key '%s'", k))) return rc;
    uint32_t et = get32(c);
    kv->n = get64(c);
    kv->data = c->p + c->pos;
    if (et > SS_GGUF_F64)
        return ss__fail(SS_ERR_FORMAT, "%s: corrupt: array '%s' has unknown element type %" PRIu32, c->path, k, et);
    kv->arr_type = (int)et;
    if (et == SS_GGUF_ARR)
        return ss__fail(SS_ERR_FORMAT, "%s: key '%s' is an array of arrays, which is not supported", c->path, k);
    if (et == SS_GGUF_STR) {
        if (kv->n > (c->size - c->pos) / 8)
            return ss__fail(SS_ERR_FORMAT, "%s: truncated: array '%s' claims %" PRIu64
                                           " strings but only %" PRIu64 " bytes remain",
                            c->path, k, kv->n, c->size - c->pos);
        for (uint64_t i = 0; i < kv->n; i++) {
            if ((rc = need(c, 8, "string %" PRIu64 " of array '%s'", i, k))) return rc;
            uint64_t len = get64(c);
            if ((rc = need(c, len, "string %" PRIu64 " of array '%s'", i, k))) return rc;
            c->pos += len;
        }
        return SS_OK;
    }
    sz = scalar_size((int)et);
    if (kv->n > (c->size - c->pos) / sz) {
        if (kv->n > UINT64_MAX / sz)
            return ss__fail(SS_ERR_FORMAT, "%s: corrupt: array '%s' claims %" PRIu64 " elements", c->path, k, kv->n);
        return ss__fail(SS_ERR_FORMAT, "%s: truncated: array '%s' needs %" PRIu64 " bytes at offset %" PRIu64
                                       " but the file has %" PRIu64,
                        c->path, k, kv->n * sz, c->pos, c->size);
    }
    c->pos += kv->n * sz;
    return SS_OK;
}

static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* Finds a duplicate among n names (each at stride bytes from base). */
static const char *find_duplicate(const void *base, size_t n, size_t stride, int *nomem)
{
    *nomem = 0;
    if (n < 2) return NULL;
    const char *const **v = ss__malloc(n * sizeof *v);
    if (!v) {
        *nomem = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) v[i] = (const char *const *)((const char *)base + i * stride);
    qsort(v, n, sizeof *v, cmp_name_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (!strcmp(*v[i - 1], *v[i])) dup = *v[i];
    ss_free(v);
    return dup;
}

static int cmp_offset(const void *a, const void *b)
{
    const ss__gguf_tensor *x = *(const ss__gguf_tensor *const *)a, *y = *(const ss__gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse_tensor_info(cur *c, uint64_t i, ss__gguf_tensor *t)
{
    int rc = read_name(c, (char **)&t->name, "tensor name", i);
    if (rc) return rc;
    if ((rc = need(c, 4, "the dimension count of tensor '%s'", t->name))) return rc;
    uint32_t nd = get32(c);
    if (nd < 1 || nd > SS_GGUF_MAX_DIMS)
        return ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensor '%s' has %" PRIu32 " dimensions (1 to %d allowed)", c->path,
                        t->name, nd, SS_GGUF_MAX_DIMS);
    t->ndim = (int)nd;
    if ((rc = need(c, 8 * (uint64_t)nd + 12, "the shape and type of tensor '%s'", t->name))) return rc;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t ne = get64(c);
        if (ne > (uint64_t)INT64_MAX)
            return ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensor '%s' has dimension %" PRIu64, c->path, t->name, ne);
        t->shape[nd - 1 - d] = (int64_t)ne; /* file: fastest first; here: row-major */
    }
    uint32_t type = get32(c);
    t->offset = get64(c); /* relative for now */
    size_t esz = ss__ggml_type_size((int)type);
    if (!esz)
        return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' has ggml type %" PRIu32 ", which semsearch cannot read"
                                       " (only f32, f16, q8_row and plain integer types, no ggml quantized ones)",
                        c->path, t->name, type);
    t->type = (int)type;
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t ne = (uint64_t)t->shape[d];
        if (ne && numel > (uint64_t)INT64_MAX / esz / ne)
            return ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensor '%s' is too large", c->path, t->name);
        numel *= ne;
    }
    t->numel = numel;
    int ok;
    t->nbytes = tensor_nbytes(t->type, t->ndim, t->shape, numel, &ok);
    if (!ok) return ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensor '%s' is too large", c->path, t->name);
    return SS_OK;
}

/* Makes room for element i of an array of cap elements (zeroed). */
static int grow(void **arr, size_t *cap, size_t i, size_t size)
{
    if (i < *cap) return SS_OK;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = ss__realloc(*arr, ncap * size);
    if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *arr = p;
    *cap = ncap;
    return SS_OK;
}

static int parse(ss__gguf *g)
{
    cur c = {g->map, g->size, 0, g->path};
    int rc;
    if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0)
        return ss__fail(SS_ERR_FORMAT, "%s: not a GGUF file%s", g->path, g->size ? "" : " (empty)");
    if ((rc = need(&c, HEADER_SIZE, "the header"))) return rc;
    c.pos = 4;
    uint32_t version = get32(&c);
    if (version != SS_GGUF_VERSION)
        return ss__fail(SS_ERR_FORMAT, "%s: GGUF version %" PRIu32 " is not supported (expected %d%s)", g->path,
                        version, SS_GGUF_VERSION, version == 0x03000000u ? "; a big-endian file?" : "");
    uint64_t n_t = get64(&c), n_kv = get64(&c);
    /* every key/value takes at least 13 bytes, every tensor info 32 */
    uint64_t rest = g->size - c.pos;
    if (n_kv > rest / 13)
        return ss__fail(SS_ERR_FORMAT, "%s: corrupt or truncated: %" PRIu64 " key/values cannot fit in %" PRIu64
                                       " bytes",
                        g->path, n_kv, rest);
    if (n_t > rest / 32)
        return ss__fail(SS_ERR_FORMAT, "%s: corrupt or truncated: %" PRIu64 " tensors cannot fit in %" PRIu64 " bytes",
                        g->path, n_t, rest);
    /* the arrays grow as entries parse, so that a file claiming many
     * entries costs memory only for those it really holds */
    size_t kv_cap = 0, t_cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if ((rc = grow((void **)&g->kv, &kv_cap, (size_t)i, sizeof *g->kv))) return rc;
        ss__gguf_kv *kv = &g->kv[i];
        if ((rc = read_name(&c, (char **)&kv->key, "key", i))) return rc;
        g->n_kv = (size_t)i + 1;
        if ((rc = need(&c, 4, "the type of key '%s'", kv->key))) return rc;
        kv->type = (int)get32(&c);
        if ((rc = read_value(&c, kv))) return rc;
    }
    int nomem;
    const char *dup = find_duplicate(g->kv, g->n_kv, sizeof *g->kv, &nomem);
    if (nomem) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (dup) return ss__fail(SS_ERR_FORMAT, "%s: corrupt: key '%s' appears twice", g->path, dup);

    g->alignment = SS_GGUF_DEFAULT_ALIGNMENT;
    const ss__gguf_kv *al = ss__gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a = 0;
        if (al->type == SS_GGUF_U32) memcpy(&a, al->data, 4);
        if (al->type != SS_GGUF_U32 || !is_pow2(a))
            return ss__fail(SS_ERR_FORMAT, "%s: corrupt: general.alignment must be a u32 power of two", g->path);
        g->alignment = a;
    }

    for (uint64_t i = 0; i < n_t; i++) {
        if ((rc = grow((void **)&g->t, &t_cap, (size_t)i, sizeof *g->t))) return rc;
        g->n_t = (size_t)i + 1;
        if ((rc = parse_tensor_info(&c, i, &g->t[i]))) return rc;
    }
    dup = find_duplicate(g->t, g->n_t, sizeof *g->t, &nomem);
    if (nomem) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (dup) return ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensor '%s' appears twice", g->path, dup);

    uint64_t data_start = align_up(c.pos, g->alignment);
    for (size_t i = 0; i < g->n_t; i++) {
        ss__gguf_tensor *t = &g->t[i];
        if (t->offset % g->alignment)
            return ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensor '%s' offset %" PRIu64
                                           " is not a multiple of the alignment %" PRIu32,
                            g->path, t->name, t->offset, g->alignment);
        if (t->offset > UINT64_MAX - data_start || data_start + t->offset > g->size ||
            t->nbytes > g->size - (data_start + t->offset))
            return ss__fail(SS_ERR_FORMAT, "%s: truncated: tensor '%s' needs %" PRIu64 " bytes at offset %" PRIu64
                                           " but the file has %" PRIu64,
                            g->path, t->name, t->nbytes,
                            t->offset > UINT64_MAX - data_start ? t->offset : data_start + t->offset,
                            (uint64_t)g->size);
        t->offset += data_start;
        t->data = g->map + t->offset;
    }
    /* tensors must not overlap */
    if (g->n_t > 1) {
        const ss__gguf_tensor **v = ss__malloc(g->n_t * sizeof *v);
        if (!v) return ss__fail(SS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < g->n_t; i++) v[i] = &g->t[i];
        qsort(v, g->n_t, sizeof *v, cmp_offset);
        for (size_t i = 1; i < g->n_t; i++)
            if (v[i - 1]->offset + v[i - 1]->nbytes > v[i]->offset) {
                rc = ss__fail(SS_ERR_FORMAT, "%s: corrupt: tensors '%s' and '%s' overlap", g->path, v[i - 1]->name,
                              v[i]->name);
                break;
            }
        ss_free(v);
    }
    return rc;
}

int ss__gguf_open(const char *path, ss__gguf **out)
{
    if (!out || !path) return ss__fail(SS_ERR_ARG, "ss__gguf_open: NULL argument");
    *out = NULL;
    int fd;
    uint64_t size;
    int rc = ss__open_regular(path, &fd, &size);
    if (rc) return rc;
    rc = ss__gguf_open_fd(fd, size, path, out);
    close(fd);
    return rc;
}

int ss__gguf_open_fd(int fd, uint64_t fsize, const char *path, ss__gguf **out)
{
    *out = NULL;
    if (fsize > SIZE_MAX) return ss__fail(SS_ERR_IO, "%s: too large to map", path);
    ss__gguf *g = ss__calloc(1, sizeof *g);
    if (g) g->path = ss__strdup(path);
    if (!g || !g->path) {
        ss__gguf_close(g);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    g->size = (size_t)fsize;
    if (g->size) {
        void *m = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            g->size = 0;
            ss__gguf_close(g);
            return ss__fail(SS_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        g->map = m;
    }
    int rc = parse(g);
    if (rc) {
        ss__gguf_close(g);
        return rc;
    }
    *out = g;
    return SS_OK;
}

void ss__gguf_close(ss__gguf *g)
{
    if (!g) return;
    if (g->map) munmap((void *)g->map, g->size);
    for (size_t i = 0; i < g->n_kv; i++) ss_free((void *)g->kv[i].key);
    for (size_t i = 0; i < g->n_t; i++) ss_free((void *)g->t[i].name);
    ss_free(g->kv);
    ss_free(g->t);
    ss_free(g->path);
    ss_free(g);
}

int ss__gguf_sniff(const char *path)
{
    int fd;
    uint64_t size;
    if (ss__open_regular(path, &fd, &size)) return 0; /* the loader reports it */
    char m[4];
    int is = pread(fd, m, 4, 0) == 4 && !memcmp(m, "GGUF", 4);
    close(fd);
    ss__clear_error();
    return is;
}

const char *ss__gguf_path(const ss__gguf *g) { return g->path; }
const void *ss__gguf_bytes(const ss__gguf *g, size_t *size)
{
    *size = g->size;
    return g->map;
}
uint32_t ss__gguf_alignment(const ss__gguf *g) { return g->alignment; }
size_t ss__gguf_kv_count(const ss__gguf *g) { return g->n_kv; }
const ss__gguf_kv *ss__gguf_kv_at(const ss__gguf *g, size_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }
size_t ss__gguf_tensor_count(const ss__gguf *g) { return g->n_t; }
const ss__gguf_tensor *ss__gguf_tensor_at(const ss__gguf *g, size_t i) { return i < g->n_t ? &g->t[i] : NULL; }

const ss__gguf_kv *ss__gguf_find_kv(const ss__gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const ss__gguf_tensor *ss__gguf_find_tensor(const ss__gguf *g, const char *name)
{
    for (size_t i = 0; i < g->n_t; i++)
        if (!strcmp(g->t[i].name, name)) return &g->t[i];
    return NULL;
}

/* ------------------------------------------------------------ typed getters */

static int find_typed(const ss__gguf *g, const char *key, const ss__gguf_kv **kv)
{
    *kv = ss__gguf_find_kv(g, key);
    if (!*kv) return ss__fail(SS_ERR_FORMAT, "%s: key '%s' is missing", g->path, key);
    return SS_OK;
}

static int wrong_type(const ss__gguf *g, const ss__gguf_kv *kv, const char *expected)
{
    return ss__fail(SS_ERR_FORMAT, "%s: key '%s' has type %s, expected %s", g->path, kv->key,
                    ss__gguf_type_name(kv->type), expected);
}

/* An integer value as sign + magnitude, so that every range check is exact. */
static int get_int(const ss__gguf *g, const char *key, int *neg, uint64_t *mag)
{
    const ss__gguf_kv *kv;
    int rc = find_typed(g, key, &kv);
    if (rc) return rc;
    int64_t s = 0;
    uint64_t u = 0;
    int is_signed = 0;
    switch (kv->type) {
    case SS_GGUF_U8: u = kv->data[0]; break;
    case SS_GGUF_U16: { uint16_t v; memcpy(&v, kv->data, 2); u = v; break; }
    case SS_GGUF_U32: { uint32_t v; memcpy(&v, kv->data, 4); u = v; break; }
    case SS_GGUF_U64: memcpy(&u, kv->data, 8); break;
    case SS_GGUF_I8: { int8_t v; memcpy(&v, kv->data, 1); s = v; is_signed = 1; break; }
    case SS_GGUF_I16: { int16_t v; memcpy(&v, kv->data, 2); s = v; is_signed = 1; break; }
    case SS_GGUF_I32: { int32_t v; memcpy(&v, kv->data, 4); s = v; is_signed = 1; break; }
    case SS_GGUF_I64: memcpy(&s, kv->data, 8); is_signed = 1; break;
    default: return wrong_type(g, kv, "an integer");
    }
    *neg = is_signed && s < 0;
    *mag = !is_signed ? u : s < 0 ? (uint64_t)(-(s + 1)) + 1 : (uint64_t)s;
    return SS_OK;
}

static int out_of_range(const ss__gguf *g, const char *key, int neg, uint64_t mag, const char *type)
{
    return ss__fail(SS_ERR_FORMAT, "%s: key '%s' = %s%" PRIu64 " is out of range for %s", g->path, key, neg ? "-" : "",
                    mag, type);
}

int ss__gguf_get_u32(const ss__gguf *g, const char *key, uint32_t *v)
{
    int neg;
    uint64_t mag;
    int rc = get_int(g, key, &neg, &mag);
    if (rc) return rc;
    if (neg || mag > UINT32_MAX) return out_of_range(g, key, neg, mag, "u32");
    *v = (uint32_t)mag;
    return SS_OK;
}

int ss__gguf_get_i32(const ss__gguf *g, const char *key, int32_t *v)
{
    int neg;
    uint64_t mag;
    int rc = get_int(g, key, &neg, &mag);
    if (rc) return rc;
    if (neg ? mag > (uint64_t)INT32_MAX + 1 : mag > INT32_MAX) return out_of_range(g, key, neg, mag, "i32");
    *v = neg ? (int32_t)(-(int64_t)(mag - 1) - 1) : (int32_t)mag;
    return SS_OK;
}

int ss__gguf_get_u64(const ss__gguf *g, const char *key, uint64_t *v)
{
    int neg;
    uint64_t mag;
    int rc = get_int(g, key, &neg, &mag);
    if (rc) return rc;
    if (neg) return out_of_range(g, key, neg, mag, "u64");
    *v = mag;
    return SS_OK;
}

int ss__gguf_get_i64(const ss__gguf *g, const char *key, int64_t *v)
{
    int neg;
    uint64_t mag;
    int rc = get_int(g, key, &neg, &mag);
    if (rc) return rc;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX) return out_of_range(g, key, neg, mag, "i64");
    *v = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return SS_OK;
}

int ss__gguf_get_f64(const ss__gguf *g, const char *key, double *v)
{
    const ss__gguf_kv *kv;
    int rc = find_typed(g, key, &kv);
    if (rc) return rc;
    if (kv->type == SS_GGUF_F32) {
        float f;
        memcpy(&f, kv->data, 4);
        *v = f;
    } else if (kv->type == SS_GGUF_F64) memcpy(v, kv->data, 8);
    else return wrong_type(g, kv, "a float");
    return SS_OK;
}

int ss__gguf_get_f32(const ss__gguf *g, const char *key, float *v)
{
    double d;
    int rc = ss__gguf_get_f64(g, key, &d);
    if (!rc) *v = (float)d;
    return rc;
}

int ss__gguf_get_bool(const ss__gguf *g, const char *key, int *v)
{
    const ss__gguf_kv *kv;
    int rc = find_typed(g, key, &kv);
    if (rc) return rc;
    if (kv->type != SS_GGUF_BOOL) return wrong_type(g, kv, "a bool");
    *v = kv->data[0] != 0;
    return SS_OK;
}

int ss__gguf_get_str(const ss__gguf *g, const char *key, char **v)
{
    const ss__gguf_kv *kv;
    int rc = find_typed(g, key, &kv);
    if (rc) return rc;
    if (kv->type != SS_GGUF_STR) return wrong_type(g, kv, "a string");
    if (memchr(kv->data, '\0', (size_t)kv->n))
        return ss__fail(SS_ERR_FORMAT, "%s: key '%s' holds a NUL byte", g->path, key);
    if (!(*v = ss__strndup((const char *)kv->data, (size_t)kv->n))) return ss__fail(SS_ERR_NOMEM, "out of memory");
    return SS_OK;
}

int ss__gguf_get_arr(const ss__gguf *g, const char *key, int elem_type, const void **data, uint64_t *n)
{
    const ss__gguf_kv *kv;
    int rc = find_typed(g, key, &kv);
    if (rc) return rc;
    if (kv->type != SS_GGUF_ARR || kv->arr_type != elem_type) {
        if (kv->type == SS_GGUF_ARR)
            return ss__fail(SS_ERR_FORMAT, "%s: key '%s' is an array of %s, expected an array of %s", g->path, key,
                            ss__gguf_type_name(kv->arr_type), ss__gguf_type_name(elem_type));
        char what[48];
        snprintf(what, sizeof what, "an array of %s", ss__gguf_type_name(elem_type));
        return wrong_type(g, kv, what);
    }
    *data = kv->data;
    *n = kv->n;
    return SS_OK;
}

int ss__gguf_get_arr_str(const ss__gguf *g, const char *key, char ***v, uint64_t *n)
{
    const void *data;
    uint64_t cnt;
    int rc = ss__gguf_get_arr(g, key, SS_GGUF_STR, &data, &cnt);
    if (rc) return rc;
    /* lengths were validated by parse(): the walk stays inside the file */
    const uint8_t *p = data;
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        if (memchr(p + 8, '\0', (size_t)len))
            return ss__fail(SS_ERR_FORMAT, "%s: string %" PRIu64 " of array '%s' holds a NUL byte", g->path, i, key);
        bytes += len + 1;
        p += 8 + len;
    }
    if (cnt > (SIZE_MAX - bytes) / sizeof(char *)) return ss__fail(SS_ERR_NOMEM, "out of memory");
    char **out = ss__malloc((size_t)(cnt * sizeof(char *) + bytes));
    if (!out) return ss__fail(SS_ERR_NOMEM, "out of memory");
    char *s = (char *)(out + cnt);
    p = data;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        memcpy(s, p + 8, (size_t)len);
        s[len] = '\0';
        out[i] = s;
        s += len + 1;
        p += 8 + len;
    }
    *v = out;
    *n = cnt;
    return SS_OK;
}

/* --------------------------------------------------------------- tensors */

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

static int find_checked(const ss__gguf *g, const char *name, int ndim, const int64_t *shape,
                        const ss__gguf_tensor **out)
{
    const ss__gguf_tensor *t = ss__gguf_find_tensor(g, name);
    if (!t) return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' is missing", g->path, name);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char have[128], want[128];
        fmt_shape(have, sizeof have, t->ndim, t->shape);
        fmt_shape(want, sizeof want, ndim, shape);
        return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", g->path, name, have, want);
    }
    *out = t;
    return SS_OK;
}

/* The tensor exists with this shape and an f32, f16 or q8_row type. */
static int find_checked_float(const ss__gguf *g, const char *name, int ndim, const int64_t *shape,
                              const ss__gguf_tensor **out)
{
    int rc = find_checked(g, name, ndim, shape, out);
    if (rc) return rc;
    int type = (*out)->type;
    if (type != SS_GGML_F32 && type != SS_GGML_F16 && type != SS_GGML_Q8_ROW)
        return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' has type %s, expected f32, f16 or q8_row", g->path, name,
                        ss__ggml_type_name(type));
    return SS_OK;
}

int ss__gguf_check_f32(const ss__gguf *g, const char *name, int ndim, const int64_t *shape)
{
    const ss__gguf_tensor *t;
    return find_checked_float(g, name, ndim, shape, &t);
}

/* A q8_row tensor (quant.h) dequantized into dst, and/or as is into q and
 * scale, after checking every scale (finite, >= 0) and value (not -128). */
static int read_q8_row(const ss__gguf *g, const ss__gguf_tensor *t, float *dst, int8_t *q, float *scale)
{
    size_t cols = t->ndim ? (size_t)t->shape[t->ndim - 1] : 1;
    size_t rows = cols ? (size_t)(t->numel / cols) : 0;
    const uint8_t *p = t->data, *v = p + 4 * rows;
    for (size_t r = 0; r < rows; r++) {
        float s;
        memcpy(&s, p + 4 * r, 4);
        if (!(s >= 0.0f) || isinf(s))
            return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' (q8_row): row %zu has the scale %g", g->path, t->name,
                            r, (double)s);
        const int8_t *x = (const int8_t *)(v + r * cols);
        for (size_t c = 0; c < cols; c++) {
            if (x[c] == -128)
                return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' (q8_row): value -128 at row %zu, column %zu "
                                "(the range is -127..127)", g->path, t->name, r, c);
            if (dst) dst[r * cols + c] = (float)x[c] * s;
        }
        if (scale) scale[r] = s;
    }
    if (q) memcpy(q, v, rows * cols);
    return SS_OK;
}

int ss__gguf_read_f32(const ss__gguf *g, const char *name, int ndim, const int64_t *shape, float *dst)
{
    const ss__gguf_tensor *t;
    int rc = find_checked_float(g, name, ndim, shape, &t);
    if (rc) return rc;
    if (t->type == SS_GGML_F32) {
        memcpy(dst, t->data, (size_t)t->nbytes);
    } else if (t->type == SS_GGML_F16) {
        const uint8_t *p = t->data; /* aligned only to the file's alignment, maybe 1 */
        for (uint64_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = ss__f16_to_f32(h);
        }
    } else {
        return read_q8_row(g, t, dst, NULL, NULL);
    }
    return SS_OK;
}

int ss__gguf_read_q8_row(const ss__gguf *g, const char *name, int ndim, const int64_t *shape, int8_t *q,
                         float *scale)
{
    const ss__gguf_tensor *t;
    int rc = find_checked(g, name, ndim, shape, &t);
    if (rc) return rc;
    if (t->type != SS_GGML_Q8_ROW)
        return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' has type %s, expected q8_row", g->path, name,
                        ss__ggml_type_name(t->type));
    return read_q8_row(g, t, NULL, q, scale);
}

int ss__gguf_read_raw(const ss__gguf *g, const char *name, int type, int ndim, const int64_t *shape, void *dst)
{
    const ss__gguf_tensor *t;
    int rc = find_checked(g, name, ndim, shape, &t);
    if (rc) return rc;
    if (t->type != type)
        return ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' has type %s, expected %s", g->path, name,
                        ss__ggml_type_name(t->type), ss__ggml_type_name(type));
    memcpy(dst, t->data, (size_t)t->nbytes);
    return SS_OK;
}
