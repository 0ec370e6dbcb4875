/* gguf.h: a generic reader and writer of GGUF v3 files (the llama.cpp/ggml
 * model format), used for model files and training checkpoints.
 *
 * Layout: "GGUF" u32 version=3, u64 tensor_count, u64 kv_count; kv_count
 * key/values (key: u64 length + bytes; u32 value type; value); tensor_count
 * tensor infos (name, u32 n_dims, u64 ne[n_dims] fastest dimension first,
 * u32 ggml type, u64 offset into the data section); padding to the alignment
 * (key general.alignment, u32, default 32); the data section, each tensor at
 * an aligned offset. All integers are little-endian.
 *
 * Shapes in this API are row-major, as in C and model.h: shape[0] is the
 * slowest dimension; the file stores them reversed (ne[0] = shape[ndim-1]).
 *
 * Reading maps the file and checks every count, length, offset and size
 * against the file size before using it; every failure is an SS_ERR_* status
 * with a message naming the file. */
#ifndef SS_GGUF_H
#define SS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "semsearch.h"

#define SS_GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define SS_GGUF_VERSION 3
#define SS_GGUF_DEFAULT_ALIGNMENT 32
#define SS_GGUF_MAX_DIMS 4

/* Value types of key/values (gguf_type). */
enum {
    SS_GGUF_U8 = 0, SS_GGUF_I8 = 1, SS_GGUF_U16 = 2, SS_GGUF_I16 = 3,
    SS_GGUF_U32 = 4, SS_GGUF_I32 = 5, SS_GGUF_F32 = 6, SS_GGUF_BOOL = 7,
    SS_GGUF_STR = 8, SS_GGUF_ARR = 9, SS_GGUF_U64 = 10, SS_GGUF_I64 = 11,
    SS_GGUF_F64 = 12
};

/* Tensor element types (ggml_type) this code reads and writes; ggml's
 * quantized types are refused. SS_GGML_Q8_ROW is semsearch's own: int8 with
 * a f32 scale per row (layout in nn/quant.h), an id far above ggml's. */
enum {
    SS_GGML_F32 = 0, SS_GGML_F16 = 1, SS_GGML_I8 = 24, SS_GGML_I16 = 25,
    SS_GGML_I32 = 26, SS_GGML_I64 = 27, SS_GGML_F64 = 28, SS_GGML_Q8_ROW = 1000
};

/* Bytes of one element of a ggml type, 0 if unsupported. */
size_t ss__ggml_type_size(int type);
const char *ss__ggml_type_name(int type); /* "f32", "f16", ..., "?" */
const char *ss__gguf_type_name(int type); /* "u8", ..., "string", "array", "?" */

/* ------------------------------------------------------------------ writer */

typedef struct ss__gguf_writer ss__gguf_writer;

int ss__gguf_writer_new(ss__gguf_writer **out);
void ss__gguf_writer_free(ss__gguf_writer *w);

/* Key/values, written in the order set; values are copied. A key set twice
 * is SS_ERR_ARG. Setting "general.alignment" (u32, a power of two) changes
 * the alignment of the data section. */
int ss__gguf_set_u32(ss__gguf_writer *w, const char *key, uint32_t v);
int ss__gguf_set_i32(ss__gguf_writer *w, const char *key, int32_t v);
int ss__gguf_set_u64(ss__gguf_writer *w, const char *key, uint64_t v);
int ss__gguf_set_i64(ss__gguf_writer *w, const char *key, int64_t v);
int ss__gguf_set_f32(ss__gguf_writer *w, const char *key, float v);
int ss__gguf_set_f64(ss__gguf_writer *w, const char *key, double v);
int ss__gguf_set_bool(ss__gguf_writer *w, const char *key, int v);
int ss__gguf_set_str(ss__gguf_writer *w, const char *key, const char *v);
/* Any scalar type given as raw little-endian bytes (u8..f64, bool). */
int ss__gguf_set_scalar(ss__gguf_writer *w, const char *key, int type, const void *v);
/* An array of n numeric (or bool) elements of elem_type, from host memory. */
int ss__gguf_set_arr(ss__gguf_writer *w, const char *key, int elem_type, const void *data, uint64_t n);
int ss__gguf_set_arr_str(ss__gguf_writer *w, const char *key, const char *const *v, uint64_t n);

/* A tensor from f32 data, stored as file_type SS_GGML_F32 or SS_GGML_F16
 * (rounded to nearest even). data is NOT copied: it must stay valid until
 * ss__gguf_write returns. */
int ss__gguf_add_tensor_f32(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape,
                            int file_type, const float *data);
/* A tensor of any supported type, data already in that type (not copied). */
int ss__gguf_add_tensor(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape,
                        int type, const void *data);

/* The same, data allocated with ss__malloc and taken over by the writer
 * (freed with it, or at once on failure). */
int ss__gguf_add_tensor_owned(ss__gguf_writer *w, const char *name, int ndim, const int64_t *shape, int type,
                              void *data);

/* Writes the file: a temporary file beside path, then rename; on failure no
 * file is created or replaced. The writer can be written again. */
int ss__gguf_write(ss__gguf_writer *w, const char *path);

/* ------------------------------------------------------------------ reader */

typedef struct ss__gguf ss__gguf;

typedef struct ss__gguf_kv {
    const char *key;     /* NUL-terminated */
    int type;            /* SS_GGUF_* */
    int arr_type;        /* element type when type == SS_GGUF_ARR */
    uint64_t n;          /* array: element count; string: byte length; else 1 */
    const uint8_t *data; /* the value's bytes in the mapping (unaligned: use
                            memcpy); string: its bytes; array: first element */
} ss__gguf_kv;

typedef struct ss__gguf_tensor {
    const char *name; /* NUL-terminated */
    int ndim;
    int64_t shape[SS_GGUF_MAX_DIMS]; /* row-major: shape[0] is the slowest */
    int type;                        /* SS_GGML_* */
    uint64_t numel, nbytes;
    uint64_t offset;  /* absolute, in the file */
    const void *data; /* in the mapping (aligned to the file's alignment) */
} ss__gguf_tensor;

/* Maps and validates path. Errors: SS_ERR_IO (cannot open/read),
 * SS_ERR_FORMAT (not GGUF, truncated, corrupt), SS_ERR_NOMEM. */
int ss__gguf_open(const char *path, ss__gguf **out);
/* The same from an open regular file of fsize bytes (fd stays the caller's). */
int ss__gguf_open_fd(int fd, uint64_t fsize, const char *path, ss__gguf **out);
void ss__gguf_close(ss__gguf *g);
/* 1 if the file at path starts with the GGUF magic (no error recorded). */
int ss__gguf_sniff(const char *path);

const char *ss__gguf_path(const ss__gguf *g);
const void *ss__gguf_bytes(const ss__gguf *g, size_t *size); /* the whole file */
uint32_t ss__gguf_alignment(const ss__gguf *g);

size_t ss__gguf_kv_count(const ss__gguf *g);
const ss__gguf_kv *ss__gguf_kv_at(const ss__gguf *g, size_t i);
const ss__gguf_kv *ss__gguf_find_kv(const ss__gguf *g, const char *key); /* NULL if absent */
size_t ss__gguf_tensor_count(const ss__gguf *g);
const ss__gguf_tensor *ss__gguf_tensor_at(const ss__gguf *g, size_t i);
const ss__gguf_tensor *ss__gguf_find_tensor(const ss__gguf *g, const char *name);

/* Typed getters: SS_OK, or SS_ERR_FORMAT naming the file and the key when it
 * is absent, of another type, or out of range. Integer getters accept any
 * integer type whose value fits; float getters accept f32 and f64. */
int ss__gguf_get_u32(const ss__gguf *g, const char *key, uint32_t *v);
int ss__gguf_get_i32(const ss__gguf *g, const char *key, int32_t *v);
int ss__gguf_get_u64(const ss__gguf *g, const char *key, uint64_t *v);
int ss__gguf_get_i64(const ss__gguf *g, const char *key, int64_t *v);
int ss__gguf_get_f32(const ss__gguf *g, const char *key, float *v);
int ss__gguf_get_f64(const ss__gguf *g, const char *key, double *v);
int ss__gguf_get_bool(const ss__gguf *g, const char *key, int *v);
/* A NUL-terminated copy (ss_free); a string holding NUL is SS_ERR_FORMAT. */
int ss__gguf_get_str(const ss__gguf *g, const char *key, char **v);
/* A numeric array of elem_type: *data points into the mapping, unaligned. */
int ss__gguf_get_arr(const ss__gguf *g, const char *key, int elem_type, const void **data, uint64_t *n);
/* A string array as n NUL-terminated strings in one block (one ss_free). */
int ss__gguf_get_arr_str(const ss__gguf *g, const char *key, char ***v, uint64_t *n);

/* Reads tensor name into dst as f32 (from f32, f16 or q8_row), after checking that it
 * exists and has exactly this row-major shape: SS_ERR_FORMAT otherwise, with
 * a message such as "m.gguf: tensor 'x' has shape (4, 8), expected (4, 16)". */
int ss__gguf_read_f32(const ss__gguf *g, const char *name, int ndim, const int64_t *shape, float *dst);
/* The checks of ss__gguf_read_f32 without reading: lets a loader validate
 * every tensor before allocating for any. */
int ss__gguf_check_f32(const ss__gguf *g, const char *name, int ndim, const int64_t *shape);
/* A q8_row tensor as stored: q (numel int8) and scale (one per row), with
 * the checks of ss__gguf_read_f32 (shape, scales finite and >= 0, no -128). */
int ss__gguf_read_q8_row(const ss__gguf *g, const char *name, int ndim, const int64_t *shape, int8_t *q,
                         float *scale);
/* The same for a tensor of exactly type (copied as is, nbytes into dst). */
int ss__gguf_read_raw(const ss__gguf *g, const char *name, int type, int ndim, const int64_t *shape,
                      void *dst);

#endif
