/* faults.c: allocation failure through whole pipelines, as the CLI runs
 * them: load a model and embed; index into a store and query it; train with
 * checkpoints. Each allocation fails in turn (ss__fail_alloc_after for ours,
 * a countdown in SQLite's allocator for SQLite's): every run ends in an
 * error code or success, never a crash; nothing leaks (ASan, valgrind); the
 * files already on disk stay whole. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/common.h"
#include "nn/model.h"
#include "tap.h"
#include "tiny.h"
#include "base/textio.h"
#include "train/train.h"
#include "train/trainset.h"

static char dir[256];

static const char *path_of(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* ---------------------------------------------- SQLite's allocator, failing */

static sqlite3_mem_methods sqlite_mem;
static long sqlite_countdown; /* 0: never fail; n: the nth allocation fails, and all after it */

static void *sq_malloc(int n)
{
    if (sqlite_countdown > 0 && --sqlite_countdown == 0) {
        sqlite_countdown = 1; /* keep failing: SQLite retries */
        return NULL;
    }
    return sqlite_mem.xMalloc(n);
}

static void *sq_realloc(void *p, int n)
{
    if (sqlite_countdown > 0 && --sqlite_countdown == 0) {
        sqlite_countdown = 1;
        return NULL;
    }
    return sqlite_mem.xRealloc(p, n);
}

static void sqlite_fail_after(long n) { sqlite_countdown = n; }

static int install_sqlite_allocator(void)
{
    sqlite3_mem_methods m;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_mem) != SQLITE_OK) return 0;
    m = sqlite_mem;
    m.xMalloc = sq_malloc;
    m.xRealloc = sq_realloc;
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK;
}

/* ------------------------------------------------------------------ files */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = tap_read_file(a, &na), *y = tap_read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* Files in dir whose name has ".tmp" or starts with '.': a failed write left
 * its temporary file behind. */
static int stray_temps(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp") || (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
            n++;
    if (d) closedir(d);
    return n;
}

static int is_failure_code(int rc)
{
    return rc == SS_ERR_NOMEM || rc == SS_ERR_IO || rc == SS_ERR_SQL;
}

static int run_index_n(const char *db, int ndocs);

/* ------------------------------------ a VFS whose file operations fail */

/* Wraps the default VFS: while io_countdown runs, the nth read, write,
 * truncate, sync, size or lock call (and every one after it) fails as a
 * failing disk would (SQLITE_FULL for writes, SQLITE_IOERR_* otherwise). */
typedef struct fault_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated just after */
} fault_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_io;
static long io_countdown;

static int io_fails(void)
{
    if (io_countdown > 0 && --io_countdown == 0) {
        io_countdown = 1;
        return 1;
    }
    return 0;
}

#define REAL(f) (((fault_file *)(f))->real)
static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return io_fails() ? SQLITE_IOERR_READ : REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    return io_fails() ? SQLITE_FULL : REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    return io_fails() ? SQLITE_IOERR_TRUNCATE : REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int f_sync(sqlite3_file *f, int fl)
{
    return io_fails() ? SQLITE_IOERR_FSYNC : REAL(f)->pMethods->xSync(REAL(f), fl);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *n)
{
    return io_fails() ? SQLITE_IOERR_FSTAT : REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int f_lock(sqlite3_file *f, int l) { return io_fails() ? SQLITE_IOERR_LOCK : REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_check(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int f_fctl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return io_fails() ? SQLITE_IOERR_SHMMAP : REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void f_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shmunmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
    /* no memory-mapped reads: every read goes through f_read */
    (void)f, (void)o, (void)n;
    *pp = NULL;
    return SQLITE_OK;
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    (void)f, (void)o, (void)p;
    return SQLITE_OK;
}

static int f_open(sqlite3_vfs *v, const char *name, sqlite3_file *file, int flags, int *out)
{
    (void)v;
    fault_file *ff = (fault_file *)file;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    file->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &fault_io : NULL;
    return rc;
}

static int install_fault_vfs(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs) return 0;
    fault_vfs = *real_vfs;
    fault_vfs.zName = "faults";
    fault_vfs.szOsFile = (int)sizeof(fault_file) + real_vfs->szOsFile;
    fault_vfs.xOpen = f_open;
    fault_io = (sqlite3_io_methods){3,        f_close,  f_read,   f_write,      f_truncate, f_sync,    f_size,
                                    f_lock,   f_unlock, f_check,  f_fctl,       f_sector,   f_devchar, f_shmmap,
                                    f_shmlock, f_shmbarrier, f_shmunmap, f_fetch, f_unfetch};
    return sqlite3_vfs_register(&fault_vfs, 1) == SQLITE_OK;
}

/* A copy of a database with 3 documents gets 2 more (6 texts, 1 repeated) under failing I/O:
 * afterwards it holds 3 or 5, passes integrity_check, and a run without
 * failures completes it. */
static int io_runs, io_bad_code, io_broken;

static long count_docs(const char *path, int *integrity_ok)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    *integrity_ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM documents", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        *integrity_ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = tap_read_file(from, &n);
    FILE *f = fopen(to, "wb");
    int ok = b && f && fwrite(b, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    free(b);
    return ok;
}

static void test_io_errors(void)
{
    const char *pristine = path_of("three.db"), *work = path_of("work.db");
    char wal[600], shm[600];
    snprintf(wal, sizeof wal, "%s-wal", work);
    snprintf(shm, sizeof shm, "%s-shm", work);
    int rc = run_index_n(pristine, 3), integ = 0;
    if (!tap_ok(!rc && count_docs(pristine, &integ) == 3 && integ, "a database with 3 documents")) return;
    int done = 0;
    long n;
    for (n = 1; n < 5000 && !done; n++) {
        unlink(wal);
        unlink(shm);
        if (!copy_file(pristine, work)) break;
        io_countdown = n;
        rc = run_index_n(work, 6);
        io_countdown = 0;
        io_runs++;
        if (!rc) {
            done = 1;
            break;
        }
        if (rc != SS_ERR_IO && rc != SS_ERR_SQL) {
            if (io_bad_code++ < 3) tap_diag("I/O failure %ld: code %d: %s", n, rc, ss_errmsg());
        }
        long k = count_docs(work, &integ);
        if (!integ || (k != 3 && k != 5)) {
            if (io_broken++ < 3) tap_diag("I/O failure %ld: %ld documents, integrity %d", n, k, integ);
            continue;
        }
        /* and a run without failures completes it */
        if (run_index_n(work, 6) || count_docs(work, &integ) != 5 || !integ) {
            if (io_broken++ < 3) tap_diag("I/O failure %ld: the re-run did not complete: %s", n, ss_errmsg());
        }
    }
    tap_ok(done && io_runs > 20 && !io_bad_code && !io_broken,
           "index under failing reads, writes, syncs and locks: %d failure points, each an error (%d wrong codes), "
           "the database whole after each (%d not) and completed by a re-run",
           io_runs - 1, io_bad_code, io_broken);
}

/* A save killed half-way leaves PATH.tmp.PID.XXXXXX behind: the next save of
 * PATH removes it once that process is gone, and leaves a live one's alone. */
static void test_stale_temps(void)
{
    const char *target = path_of("saved.bin");
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int st;
    waitpid(pid, &st, 0);
    char dead[700], live[700], other[700];
    snprintf(dead, sizeof dead, "%s.tmp.%ld.abcdef", target, (long)pid);
    snprintf(live, sizeof live, "%s.tmp.%ld.abcdef", target, (long)getppid());
    snprintf(other, sizeof other, "%s.tmp.%ld.abcdef", path_of("other.bin"), (long)pid);
    write_file(dead, "half");
    write_file(live, "half");
    write_file(other, "half");
    int rc = ss__write_file_atomic(target, "whole", 5);
    tap_ok(!rc && access(dead, F_OK) != 0 && access(live, F_OK) == 0 && access(other, F_OK) == 0,
           "a save removes its path's temporary files of dead processes only");
    unlink(live);
    unlink(other);
    unlink(target);
}

/* ------------------------------------------------------------ pipelines */

static const char *model_path;

/* load + embed: what `semsearch embed` does. */
static int run_embed(void)
{
    ss_model *m = NULL;
    int rc = ss_model_load(model_path, &m);
    const char *texts[3] = {"a dog runs on the beach", "", "two cats \xff sleep"};
    size_t lens[3] = {strlen(texts[0]), 0, strlen(texts[2])};
    float out[3 * 8];
    if (!rc) rc = ss_embed(m, texts, lens, 3, 2, out);
    ss_model_free(m);
    return rc;
}

/* open, declare the model, index (the library's pipeline: filter, embed,
 * add), query (f32, int8), delete: what `semsearch index` and `query` do. */
static int run_index_n(const char *db, int ndocs)
{
    ss_model *m = NULL;
    ss_store *s = NULL;
    ss_indexer *ix = NULL;
    int rc = ss_model_load(model_path, &m);
    if (!rc) rc = ss_store_open(db, SS_STORE_CREATE, &s);
    ss_store_model sm = {0};
    if (!rc) {
        sm.name = "tiny";
        sm.fingerprint = ss_model_fingerprint(m);
        sm.path = model_path;
        sm.dim = ss_model_dim(m);
        rc = ss_store_use_model(s, &sm);
    }
    enum { N = 6 };
    const char *texts[N] = {"a dog", "a cat", "a bird", "a dog", "the sea", "a dog and a cat"};
    size_t lens[N];
    for (int i = 0; i < N; i++) lens[i] = strlen(texts[i]);
    ss_index_options io;
    ss_index_options_init(&io);
    if (!rc) rc = ss_indexer_open(s, m, &io, &ix);
    for (int i = 0; !rc && i < ndocs; i++) rc = ss_indexer_add(ix, texts[i], lens[i], NULL, 0, NULL, "faults");
    if (!rc) rc = ss_indexer_flush(ix);
    ss_indexer_free(ix);
    float vecs[2 * 8];
    if (!rc) rc = ss_embed(m, texts, lens, 2, 0, vecs);
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = 4;
    ss_hit h[4];
    int c = 4;
    if (!rc) rc = ss_store_query(s, vecs, 1, &o, h, &c);
    o.precision = SS_PREC_INT8;
    c = 4;
    if (!rc) rc = ss_store_query(s, vecs + 8, 1, &o, h, &c);
    size_t del = 0;
    if (!rc) rc = ss_store_delete_source(s, "nothing", &del);
    ss_store_close(s);
    ss_model_free(m);
    return rc;
}

static int run_index(const char *db) { return run_index_n(db, 6); }

/* A short training run with a checkpoint at every step over an existing
 * checkpoint and output: what `semsearch train --save-every 1` does. */
static int run_train(void)
{
    ss_model *m = NULL;
    ss__trainset *ts = NULL;
    int rc = ss_model_load(model_path, &m);
    if (!rc) rc = ss__trainset_new(&ts);
    ss__load_opts lo = {0};
    if (!rc) rc = ss__trainset_load(ts, path_of("pairs.groups.tsv"), 1.0, &lo);
    ss__train_opts o;
    ss__train_opts_init(&o);
    o.batch_size = 4;
    o.steps = 3;
    o.save_every = 1;
    o.checkpoint = path_of("run.ckpt.gguf");
    o.output = path_of("run.gguf");
    o.seed = 5;
    ss__train_result res;
    memset(&res, 0, sizeof res);
    if (!rc) rc = ss__train_run(m, ts, &o, NULL, &res);
    ss__train_history_free(&res.hist);
    ss__trainset_free(ts);
    ss_model_free(m);
    return rc;
}

/* The files a run leaves must load; the ones it did not get to are the old ones. */
static int files_whole(void)
{
    ss_model *m = NULL;
    int ok = 1;
    const char *files[2] = {"run.ckpt.gguf", "run.gguf"};
    for (int i = 0; i < 2; i++) {
        if (ss_model_load(path_of(files[i]), &m)) ok = 0;
        ss_model_free(m);
        m = NULL;
    }
    return ok && stray_temps() == 0;
}

/* Runs fn with the nth of our allocations failing, for n = 1, 2, ... until
 * it succeeds; then the same with SQLite's allocations when sqlite is set.
 * check() (may be NULL) must hold after every failed run. */
static void each_failure(const char *what, int (*fn)(void *), void *arg, int sqlite, int (*check)(void))
{
    int ours = 0, theirs = 0, bad = 0, broken = 0, done = 0;
    for (long n = 1; n < 20000 && !done; n++) {
        ss__fail_alloc_after(n);
        int rc = fn(arg);
        ss__fail_alloc_after(0);
        if (!rc) done = 1;
        else {
            ours++;
            if (!is_failure_code(rc)) {
                bad++;
                if (bad < 4) tap_diag("%s: allocation %ld: code %d: %s", what, n, rc, ss_errmsg());
            }
            if (check && !check()) broken++;
        }
    }
    tap_ok(done && ours > 10 && !bad && !broken,
           "%s: %d of our allocations failing in turn: each an error (%d wrong codes, %d left broken files)", what,
           ours, bad, broken);
    if (!sqlite) return;
    done = bad = broken = 0;
    /* SQLite allocates thousands of times: every one of the first 400, then
     * every 7th (a full sweep took a minute) */
    for (long n = 1; n < 20000 && !done; n += n < 400 ? 1 : 7) {
        sqlite_fail_after(n);
        int rc = fn(arg);
        sqlite_fail_after(0);
        if (!rc) done = 1;
        else {
            theirs++;
            if (!is_failure_code(rc)) {
                bad++;
                if (bad < 4) tap_diag("%s: SQLite allocation %ld: code %d: %s", what, n, rc, ss_errmsg());
            }
            if (check && !check()) broken++;
        }
    }
    tap_ok(done && theirs > 10 && !bad && !broken,
           "%s: %d of SQLite's allocations failing in turn: each an error (%d wrong codes)", what, theirs, bad);
}

static int call_embed(void *arg)
{
    (void)arg;
    return run_embed();
}

static int call_index_new(void *arg)
{
    (void)arg;
    const char *db = path_of("new.db");
    unlink(db);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    return run_index(db);
}

/* an existing database: afterwards it must still hold its documents */
static int call_index_old(void *arg)
{
    (void)arg;
    return run_index(path_of("old.db"));
}

static int old_db_whole(void)
{
    int integrity_ok;
    return count_docs(path_of("old.db"), &integrity_ok) == 5 && integrity_ok;
}

static int call_train(void *arg)
{
    (void)arg;
    return run_train();
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/ss-faults-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    int sq = install_sqlite_allocator();
    tap_ok(sq, "SQLite's allocator wrapped");
    tap_ok(install_fault_vfs(), "a VFS that fails on demand is the default");
    ss_set_threads(1);

    ss_tokenizer *tok = NULL;
    ss_model *m = NULL;
    ss_config c;
    int rc = ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok);
    if (!rc) {
        tiny_config(&c, tok);
        rc = ss_model_init(&c, tok, 1, &m);
    }
    model_path = strdup(path_of("tiny.gguf"));
    if (!rc) rc = ss_model_save(m, model_path, SS_DTYPE_F32);
    ss_model_free(m);
    ss_tokenizer_free(tok);
    if (!tap_ok(!rc, "a tiny model (%s)", rc ? ss_errmsg() : "saved")) return tap_done();

    test_stale_temps();
    each_failure("load + embed", call_embed, NULL, 0, NULL);
    each_failure("index into a new database + query", call_index_new, NULL, sq, NULL);

    /* an existing database with five documents */
    rc = run_index(path_of("old.db"));
    tap_ok(!rc && old_db_whole(), "a database with 5 documents");
    each_failure("index into an existing database + query", call_index_old, NULL, sq, old_db_whole);

    /* training over an existing checkpoint and model: one good run first */
    write_file(path_of("pairs.groups.tsv"), "a dog runs\ta dog is running\n"
                                           "a cat sleeps\ta cat is sleeping\n"
                                           "the sea is blue\tthe ocean is blue\n"
                                           "two men talk\ttwo people are talking\n"
                                           "a red car\ta car that is red\n"
                                           "a child plays\ta kid is playing\n"
                                           "the sun sets\tsunset over the hills\n"
                                           "a bird sings\ta bird is singing\n");
    rc = run_train();
    tap_ok(!rc && files_whole(), "a first training run (%s)", rc ? ss_errmsg() : "ok");
    test_io_errors();
    each_failure("train with a checkpoint at every step", call_train, NULL, 0, files_whole);
    /* the last run succeeded: the files are the ones of a complete run again */
    char *a = strdup(path_of("run.gguf"));
    rc = run_train();
    tap_ok(!rc && files_whole() && same_file(a, path_of("run.gguf")),
           "after all that, a run gives the same model as the first");
    free(a);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) tap_diag("could not remove %s", dir);
    free((void *)model_path);
    return tap_done();
}
