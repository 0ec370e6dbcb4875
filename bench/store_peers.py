"""store_peers.py: FAISS IndexFlatIP and sqlite-vec (vec0) on the vectors that
store_bench wrote, for bench/store.sh. Prints "key<TAB>value" lines.

    store_peers.py DB VEC0_SO [NQ]

DB.f32 holds the (N, DIM) float32 vectors in document order (document i+1 is
row i), DB.queries.f32 the queries, DB.top10.txt semsearch's exact top 10
(row numbers) for each query, to check that every engine answers the same.
Runs with Debian's python3 (python3-numpy, python3-faiss); sqlite-vec comes
from the npm package sqlite-vec (its vec0.so, loaded into Python's sqlite3,
i.e. Debian's libsqlite3)."""
import os
import sqlite3
import sys
import time

import numpy as np

db, vec0 = sys.argv[1], sys.argv[2]
nq = int(sys.argv[3]) if len(sys.argv) > 3 else 100
threads = int(os.environ.get("SEMSEARCH_THREADS", "2"))
X = np.fromfile(db + ".f32", dtype=np.float32)
Q = np.fromfile(db + ".queries.f32", dtype=np.float32)
dim = int(os.environ.get("DIM", "256"))
X = X.reshape(-1, dim)
Q = Q.reshape(-1, dim)[:nq]
ours = [list(map(int, l.split())) for l in open(db + ".top10.txt")][:nq]
n = X.shape[0]


def out(k, v):
    print(f"{k}\t{v}", flush=True)


def recall(got):
    hit = sum(len(set(g[:10]) & set(o)) for g, o in zip(got, ours))
    return hit / (10 * len(ours))


# ------------------------------------------------------------------ FAISS
try:
    import faiss

    faiss.omp_set_num_threads(threads)
    t = time.perf_counter()
    index = faiss.IndexFlatIP(dim)
    index.add(X)
    out("faiss_add_per_s", f"{n / (time.perf_counter() - t):.0f}")
    index.search(Q[:1], 10)  # warm
    ts, got = [], []
    for i in range(len(Q)):
        t = time.perf_counter()
        _, I = index.search(Q[i : i + 1], 10)
        ts.append((time.perf_counter() - t) * 1e3)
        got.append(list(I[0]))
    out("faiss_single_ms_median", f"{np.median(ts):.2f}")
    t = time.perf_counter()
    _, I = index.search(Q, 10)
    out(f"faiss_batch{len(Q)}_ms_per_query", f"{(time.perf_counter() - t) * 1e3 / len(Q):.3f}")
    out("faiss_recall_vs_semsearch", f"{recall(got):.4f}")
    del index
except ImportError:
    out("faiss", "not installed (apt-get install python3-faiss)")

# ------------------------------------------------------------- sqlite-vec
path = db + ".vec0.db"
fresh = not os.path.exists(path)
con = sqlite3.connect(path)
con.enable_load_extension(True)
con.load_extension(vec0)
out("sqlite_vec_version", con.execute("select vec_version()").fetchone()[0])
if fresh:
    con.execute(f"create virtual table v using vec0(embedding float[{dim}] distance_metric=cosine)")
    t = time.perf_counter()
    B = 10000
    with con:
        for i in range(0, n, B):
            con.executemany(
                "insert into v(rowid, embedding) values (?, ?)",
                ((i + j, X[i + j].tobytes()) for j in range(min(B, n - i))),
            )
    out("sqlite_vec_insert_per_s", f"{n / (time.perf_counter() - t):.0f}")
nv = min(len(Q), int(os.environ.get("VEC_QUERIES", "20")))
sql = "select rowid from v where embedding match ? and k = 10 order by distance"
con.execute(sql, (Q[0].tobytes(),)).fetchall()  # warm
ts, got = [], []
for i in range(nv):
    t = time.perf_counter()
    rows = con.execute(sql, (Q[i].tobytes(),)).fetchall()
    ts.append((time.perf_counter() - t) * 1e3)
    got.append([r[0] for r in rows])
out("sqlite_vec_single_ms_median", f"{np.median(ts):.2f}")
hit = sum(len(set(g) & set(o)) for g, o in zip(got, ours[:nv]))
out("sqlite_vec_recall_vs_semsearch", f"{hit / (10 * nv):.4f}")
con.close()
