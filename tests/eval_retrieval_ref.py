"""eval_retrieval_ref.py: the queries/corpus/qrels retrieval evaluation
against an independent implementation written from the definitions
(trec_eval / pytrec_eval as BEIR reports them), not from our C. Run by
tests/eval_retrieval.sh; prints TAP.

usage: eval_retrieval_ref.py CHECK_PROGRAM DATA_DIR SCRATCH_DIR SEMSEARCH...

CHECK_PROGRAM is tests/unit/eval_retrieval (--check run / --check bm25);
SEMSEARCH the command, for `eval --json` and `embed` end to end.

Definitions (graded relevance; relevant = relevance >= 1):
  a ranking: the scored documents by score, high first, ties in corpus order,
             the document whose id is the query's id left out, first 100 kept
  nDCG@10    sum_{i<10} rel_i / log2(i+2) / the same for the judged
             relevances sorted high to low (linear gain, as trec_eval)
  recall@k   relevant documents in the top k / relevant documents
  MRR@10     1 / rank of the first relevant document within 10, else 0
  MAP@100    sum over relevant documents in the top 100 of precision at
             their rank / relevant documents
  queries with no judgement, or none >= 1, are skipped (and counted).
BM25 as SQLite FTS5's bm25(): for each query word (repeats count again),
  idf = max(log((N - n + 0.5) / (n + 0.5)), 1e-6) with n the documents that
  hold the word, times f (k1 + 1) / (f + k1 (1 - b + b |D| / avgdl)),
  k1 = 1.2, b = 0.75, |D| and avgdl in tokens."""
import json
import math
import os
import re
import subprocess
import sys

import numpy as np

check_prog, datadir, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
semsearch = sys.argv[4:]
semsearch = semsearch[0].split() if len(semsearch) == 1 else semsearch  # "valgrind ... semsearch"
n_tests = 0
failed = 0


def ok(cond, what):
    global n_tests, failed
    n_tests += 1
    print(("ok" if cond else "not ok"), n_tests, "-", what, flush=True)
    if not cond:
        failed += 1


def close(a, b, tol=1e-12):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# ------------------------------------------------------------ the reference


def read_tsv(path, nf):
    rows = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        f = line.split("\t")
        assert len(f) == nf, (path, line)
        rows.append(f)
    return rows


def load(name):
    corpus = read_tsv(name + ".corpus.tsv", 2)
    queries = read_tsv(name + ".queries.tsv", 2)
    qrels = {}
    for q, d, r in read_tsv(name + ".qrels.tsv", 3):
        qrels.setdefault(q, {})[d] = int(r)
    return corpus, queries, qrels


def ranking(scores, doc_order, qid, depth=100):
    """scores: {docid: score}. High first, ties in corpus order, own id out."""
    docs = [d for d in scores if d != qid]
    docs.sort(key=lambda d: (-scores[d], doc_order[d]))
    return docs[:depth]


def metrics(ranked, judged):
    rel = {d: g for d, g in judged.items() if g >= 1}
    R = len(rel)
    gains = [judged.get(d, 0) if judged.get(d, 0) >= 1 else 0 for d in ranked]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:10]))
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    hit = [1 if g >= 1 else 0 for g in gains]
    mrr = 0.0
    for i, h in enumerate(hit[:10]):
        if h:
            mrr = 1.0 / (i + 1)
            break
    ap, seen = 0.0, 0
    for i, h in enumerate(hit[:100]):
        if h:
            seen += 1
            ap += seen / (i + 1)
    curve = [sum(hit[:k]) / R for k in range(1, 101)]
    return {"ndcg_at_10": dcg / idcg, "recall_at_10": sum(hit[:10]) / R, "recall_at_100": sum(hit[:100]) / R,
            "mrr_at_10": mrr, "map_at_100": ap / R}, curve


def evaluate(run, queries, qrels, doc_order):
    """run: {qid: {docid: score}}. Means over the scored queries."""
    per, curves, skipped = {}, [], [0, 0]
    for qid, _ in queries:
        judged = qrels.get(qid, {})
        if not judged:
            skipped[0] += 1
            continue
        if not any(g >= 1 for g in judged.values()):
            skipped[1] += 1
            continue
        m, c = metrics(ranking(run.get(qid, {}), doc_order, qid), judged)
        per[qid] = m
        curves.append(c)
    mean = {k: float(np.mean([m[k] for m in per.values()])) for k in next(iter(per.values()))}
    return per, mean, list(np.mean(curves, axis=0)), skipped


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def bm25_all(corpus, query):
    """FTS5 bm25() of every document holding a query word: {docid: score}."""
    toks = {d: words(t) for d, t in corpus}
    N = len(corpus)
    avgdl = sum(len(t) for t in toks.values()) / N
    qw = words(query)[:64]
    out = {}
    for d, t in toks.items():
        if not any(w in t for w in qw):
            continue
        s = 0.0
        for w in qw:
            n = sum(1 for tt in toks.values() if w in tt)
            idf = math.log((N - n + 0.5) / (n + 0.5))
            if idf <= 0:
                idf = 1e-6
            f = t.count(w)
            s += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len(t) / avgdl))
        out[d] = s
    return out


def check_run(name, run, what):
    corpus, queries, qrels = load(name)
    doc_order = {d: i for i, (d, _) in enumerate(corpus)}
    runfile = os.path.join(tmp, "run.tsv")
    with open(runfile, "w") as f:
        for q, ds in run.items():
            for d, s in ds.items():
                f.write(f"{q}\t{d}\t{s!r}\n")
    out = subprocess.run([check_prog, "--check", "run", name, runfile], capture_output=True, text=True).stdout
    per, mean, curve, skipped = evaluate(run, queries, qrels, doc_order)
    got_per, got_mean, got_curve, got_skip = {}, None, None, None
    for line in out.splitlines():
        f = line.split()
        if f[0] == "query":
            got_per[f[1]] = [float(x) for x in f[2:]]
        elif f[0] == "mean":
            got_mean = [float(x) for x in f[1:]]
        elif f[0] == "curve":
            got_curve = [float(x) for x in f[1:]]
        elif f[0] == "skipped":
            got_skip = [int(x) for x in f[1:]]
    keys = ["ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10", "map_at_100"]
    ok(set(got_per) == set(per), f"{what}: the same queries scored ({len(per)})")
    bad = [(q, k) for q in per for k_i, k in enumerate(keys)
           if q in got_per and not close(got_per[q][k_i], per[q][k])]
    ok(not bad, f"{what}: every metric of every query = the reference" + (f" (differ: {bad[:4]})" if bad else ""))
    ok(got_mean is not None and all(close(got_mean[i], mean[k]) for i, k in enumerate(keys)),
       f"{what}: means = the reference ({got_mean} vs {[mean[k] for k in keys]})")
    ok(got_curve is not None and all(close(a, b) for a, b in zip(got_curve, curve)), f"{what}: recall@k, k = 1..100")
    ok(got_skip == skipped, f"{what}: skipped queries counted ({got_skip} vs {skipped})")


# ------------------------------------------------------------ 1. metrics

small = os.path.join(datadir, "ir-small")
corpus, queries, qrels = load(small)
# a crafted run: ties (equal scores), the query's own document on top,
# unjudged and judged-irrelevant documents above relevant ones
run = {
    "q1": {"d2": 0.9, "d1": 0.9, "d5": 0.5, "d3": 0.5, "d4": 0.1},
    "d6": {"d6": 1.0, "d7": 0.7, "d3": 0.7, "d1": 0.2},
    "q3": {"d12": 0.8, "d11": 0.8, "d10": 0.8, "d4": 0.9},
    "q4": {"d4": 1.0},
    "q5": {"d8": 1.0},
    "q6": {"d9": 0.3},  # d1 never retrieved
}
check_run(small, run, "crafted run on ir-small")

# random data: 40 queries over 300 documents, graded 0-3, a fifth of the
# queries unjudged or judged irrelevant only, scores rounded (many ties),
# up to 300 scored documents a query (the @100 cut matters)
rng = np.random.default_rng(20261202)
name = os.path.join(tmp, "rand")
nd, nq = 300, 40
dids = [f"doc{i}" for i in rng.permutation(nd)]
qids = [f"q{i}" for i in range(nq)]
qids[3], qids[7] = dids[10], dids[20]  # queries that are also documents
with open(name + ".corpus.tsv", "w") as f:
    for d in dids:
        f.write(f"{d}\ttext of {d}\n")
with open(name + ".queries.tsv", "w") as f:
    for q in qids:
        f.write(f"{q}\tquery {q}\n")
run = {}
with open(name + ".qrels.tsv", "w") as f:
    for i, q in enumerate(qids):
        if i % 5 == 0:
            continue  # unjudged
        judged = rng.choice(nd, size=int(rng.integers(1, 25)), replace=False)
        for j in judged:
            g = 0 if i % 5 == 1 else int(rng.integers(0, 4))
            f.write(f"{q}\t{dids[j]}\t{g}\n")
for q in qids:
    k = int(rng.integers(5, nd))
    docs = rng.choice(nd, size=k, replace=False)
    run[q] = {dids[j]: float(np.round(rng.random(), 1)) for j in docs}
check_run(name, run, "random graded run with ties")

# ------------------------------------------------------------ 2. BM25


def check_bm25(name, what):
    corpus, queries, _ = load(name)
    out = subprocess.run([check_prog, "--check", "bm25", name], capture_output=True, text=True).stdout
    got = {}
    for line in out.splitlines():
        q, d, s = line.split("\t")
        got.setdefault(q, []).append((d, float(s)))
    worst, same_sets, n = 0.0, True, 0
    for qid, text in queries:
        ref = bm25_all(corpus, text)
        top = sorted(ref.values(), reverse=True)[:100]
        mine = got.get(qid, [])
        if len(mine) != len(top):
            same_sets = False
            continue
        for d, s in mine:
            n += 1
            worst = max(worst, abs(s - ref.get(d, float("nan"))) / max(1.0, abs(s)))
        same_sets &= all(close(a, b, 1e-9) for a, b in zip(sorted((s for _, s in mine), reverse=True), top))
    ok(same_sets and n > 0, f"{what}: FTS5 finds the documents of the top 100 of the naive BM25 ({n} scores)")
    ok(worst < 1e-9, f"{what}: every BM25 score = the naive FTS5 formula (worst relative error {worst:.2e})")


check_bm25(small, "ir-small")
# a toy corpus of random words: repeated words, long and short documents
vocab = [f"w{i}" for i in range(60)]
name = os.path.join(tmp, "toy")
with open(name + ".corpus.tsv", "w") as f:
    for i in range(150):
        n = int(rng.integers(1, 30))
        f.write(f"t{i}\t" + " ".join(vocab[int(min(59, rng.exponential(12)))] for _ in range(n)) + "\n")
with open(name + ".queries.tsv", "w") as f:
    for i in range(30):
        n = int(rng.integers(1, 6))
        f.write(f"tq{i}\t" + " ".join(vocab[int(rng.integers(0, 60))] for _ in range(n)) + "\n")
with open(name + ".qrels.tsv", "w") as f:
    f.write("tq0\tt0\t1\n")
check_bm25(name, "random toy corpus")

# ------------------------------------------------------------ 3. end to end


def eval_json(*args):
    p = subprocess.run(semsearch + ["eval", "--json", *args], capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else None


def embed(texts):
    path = os.path.join(tmp, "texts.txt")
    with open(path, "w") as f:
        f.write("".join(t + "\n" for t in texts))
    npy = os.path.join(tmp, "vec.npy")
    subprocess.run(semsearch + ["embed", "--format", "npy", "-o", npy, path], check=True, capture_output=True)
    return np.load(npy).astype(np.float64)


def hybrid_ref(model_run, bm25_run, queries, doc_order):
    """query --hybrid's default: 0.5 x model + 0.5 x BM25, each min-max
    scaled over its own top-100 list, 0 where a document is not in it."""
    hyb = {}
    for q, _ in queries:
        fused = {}
        for w, r in ((0.5, model_run[q]), (0.5, bm25_run[q])):
            top = ranking(r, doc_order, q)
            if not top:
                continue
            lo, hi = min(r[d] for d in top), max(r[d] for d in top)
            for d in top:
                fused[d] = fused.get(d, 0.0) + w * ((r[d] - lo) / (hi - lo) if hi > lo else 1.0)
        hyb[q] = {d: float(np.float32(s)) for d, s in fused.items()}
    return hyb


def piece_ids(texts):
    """The shipped model's word pieces of each text, as `semsearch tokenize`
    gives them (no [CLS]/[SEP])."""
    path = os.path.join(tmp, "pieces.txt")
    with open(path, "w") as f:
        f.write("".join(t + "\n" for t in texts))
    out = subprocess.run(semsearch + ["tokenize", path], check=True, capture_output=True, text=True).stdout
    return [[int(x) for x in line.split()] for line in out.splitlines()]


def align_ref(table, window, q_ids, cand_ids):
    """The soft term alignment from its definition (semsearch.h,
    ss_model_align): idf over the candidates, squared as the weight; the
    query's pieces' best cosine among the candidate's, their weighted mean
    (at least 0)."""
    rows = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-30)
    q_ids = q_ids[:window]
    cand_ids = [c[:window] for c in cand_ids]
    n = len(cand_ids)
    df = {}
    for c in cand_ids:
        for t in set(c):
            df[t] = df.get(t, 0) + 1
    idf = lambda t: math.log((n + 1) / (df.get(t, 0) + 1)) + 1
    out = []
    for c in cand_ids:
        if not q_ids or not c:
            out.append(0.0)
            continue
        sim = rows[q_ids] @ rows[c].T
        qw = np.array([idf(t) ** 2 for t in q_ids])
        out.append(max(float((sim.max(1) * qw).sum() / qw.sum()), 0.0))
    return out


def end_to_end(name, what):
    corpus, queries, qrels = load(name)
    doc_order = {d: i for i, (d, _) in enumerate(corpus)}
    # the reference does not stem; --align 0: the cosine alone
    res = eval_json("--no-stem", "--align", "0", name)
    ok(res is not None and {"model", "bm25", "hybrid"} <= set(res), f"{what}: eval --json has model, bm25, hybrid")
    if res is None:
        return
    D = embed([t for _, t in corpus])
    Q = embed([t for _, t in queries])
    keys = ["ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10", "map_at_100"]
    model_run = {q: {d: float(v) for (d, _), v in zip(corpus, (Q[i] @ D.T).astype(np.float32))}
                 for i, (q, _) in enumerate(queries)}
    bm25_run = {q: bm25_all(corpus, t) for q, t in queries}
    for sysname, r in (("model", model_run), ("bm25", bm25_run)):
        _, mean, _, _ = evaluate(r, queries, qrels, doc_order)
        good = all(close(res[sysname][k], mean[k], 1e-9) for k in keys)
        ok(good, f"{what}: {sysname} metrics = exact cosine / naive BM25 ranked by the reference "
                 f"({[round(res[sysname][k], 6) for k in keys]} vs {[round(mean[k], 6) for k in keys]})")
    _, mean, _, _ = evaluate(hybrid_ref(model_run, bm25_run, queries, doc_order), queries, qrels, doc_order)
    good = all(close(res["hybrid"][k], mean[k], 1e-9) for k in keys)
    ok(good, f"{what}: hybrid = 0.5 cosine + 0.5 BM25, min-max scaled, of both top-100 lists "
             f"({[round(res['hybrid'][k], 6) for k in keys]} vs {[round(mean[k], 6) for k in keys]})")
    # the default: the shipped (static) model's top 100 rescored as cosine +
    # 0.25 x the alignment, which the hybrid then fuses
    res = eval_json("--no-stem", name)
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from torch_ref import read_gguf
    except ImportError as e:
        print(f"ok {n_tests + 1} - # SKIP the alignment reference needs torch_ref ({e})")
        globals()["n_tests"] += 1
        return
    kv, tensors = read_gguf(os.path.join(os.environ.get("top_srcdir", "."), "models", "en-base.gguf"))
    table = tensors["token_embd.weight"].astype(np.float64)
    window = int(kv["semsearch.context_length"]) - 2
    ok(int(kv["semsearch.block_count"]) == 0 and res is not None and abs(res["settings"]["align"] - 0.25) < 1e-6,
       f"{what}: a static model: eval aligns at 0.25 by default")
    d_ids, q_ids = piece_ids([t for _, t in corpus]), piece_ids([t for _, t in queries])
    aligned = {}
    for i, (q, _) in enumerate(queries):
        cand = ranking(model_run[q], doc_order, q)
        al = align_ref(table, window, q_ids[i], [d_ids[doc_order[d]] for d in cand])
        aligned[q] = {d: float(np.float32(model_run[q][d] + np.float32(0.25) * np.float32(a)))
                      for d, a in zip(cand, al)}
    for sysname, r in (("model", aligned), ("hybrid", hybrid_ref(aligned, bm25_run, queries, doc_order))):
        _, mean, _, _ = evaluate(r, queries, qrels, doc_order)
        good = res is not None and all(close(res[sysname][k], mean[k], 1e-9) for k in keys)
        ok(good, f"{what}: {sysname} with the alignment = the reference's cosine + 0.25 x alignment "
                 f"({[round(res[sysname][k], 6) for k in keys] if res else None} vs "
                 f"{[round(mean[k], 6) for k in keys]})")


end_to_end(small, "ir-small")


def same_as_query(what):
    """eval's model and hybrid rankings are what `query` and `query --hybrid`
    return from a database of the corpus (one without identical texts, which
    index stores once, and without a query that is also a document)."""
    corpus, queries, qrels = load(small)
    corpus = [(d, t) for d, t in corpus if d != "d7"]
    queries = [("q2" if q == "d6" else q, t) for q, t in queries]
    qrels = {("q2" if q == "d6" else q): {d: g for d, g in j.items() if d != "d7"} for q, j in qrels.items()}
    name = os.path.join(tmp, "nodup")
    with open(name + ".corpus.tsv", "w") as f:
        f.write("".join(f"{d}\t{t}\n" for d, t in corpus))
    with open(name + ".queries.tsv", "w") as f:
        f.write("".join(f"{q}\t{t}\n" for q, t in queries))
    with open(name + ".qrels.tsv", "w") as f:
        f.write("".join(f"{q}\t{d}\t{g}\n" for q, j in qrels.items() for d, g in j.items()))
    # unstemmed, both: the BM25 run below is checked against the naive
    # reference, which does not stem (coco_as_query runs the default)
    res = eval_json("--no-stem", "--runs", os.path.join(tmp, "nodup"), name)
    runs = {}
    for sysname in ("model", "bm25", "hybrid"):
        for line in open(os.path.join(tmp, f"nodup.{sysname}.trec")):
            q, _, d, rank, score, tag = line.split()
            runs.setdefault(sysname, {}).setdefault(q, []).append(d)
    db = os.path.join(tmp, "nodup.db")
    subprocess.run(semsearch + ["index", "-q", "--no-stem", "-d", db, "--text-column", "2", "--id-column", "1",
                                name + ".corpus.tsv"], check=True, capture_output=True)
    doc_order = {d: i for i, (d, _) in enumerate(corpus)}
    keys = ["ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10", "map_at_100"]
    for sysname, extra in (("model", ["--vectors"]), ("hybrid", ["--hybrid"])):
        out = subprocess.run(semsearch + ["query", "-d", db, "-k", "100", "--json", *extra],
                             input="".join(t + "\n" for _, t in queries), capture_output=True, text=True,
                             check=True).stdout
        run, same_lists = {}, True
        for (q, _), line in zip(queries, out.splitlines()):
            hits = json.loads(line)["results"]
            run[q] = {h["id"]: float(len(hits) - i) for i, h in enumerate(hits)}  # the order query gives
            if q in runs[sysname]:
                same_lists &= runs[sysname][q] == [h["id"] for h in hits]
        ok(same_lists and len(runs[sysname]) == 3,
           f"{what}: eval --runs: the {sysname} ranking of every query is the list `query {' '.join(extra + ['-k', '100'])}` returns")
        _, mean, _, _ = evaluate(run, queries, qrels, doc_order)
        ok(res is not None and all(close(res[sysname][k], mean[k], 1e-9) for k in keys),
           f"{what}: eval's {sysname} = the ranking `query {' '.join(extra + ['-k', '100'])}` returns "
           f"(nDCG@10 {res[sysname]['ndcg_at_10']:.6f} vs {mean['ndcg_at_10']:.6f})")


same_as_query("a database of ir-small")



def same_ranking(a, b, tol=1e-5):
    """Two rankings [(doc, score), ...] agree: the same score at every rank
    and each document's score the same in both, within tol. Documents whose
    scores differ by less than tol may trade places (eval embeds the corpus in
    batches, index and query in other batches: the encoder's matrix products
    then round differently in the last bit, which can reorder near-ties,
    hybrid's float sums above all); every other document keeps its rank."""
    if len(a) != len(b):
        return False
    if any(abs(x[1] - y[1]) > tol for x, y in zip(a, b)):
        return False
    sa, sb = dict(a), dict(b)
    cut = min(x[1] for x in a) + tol if a else 0
    for d, s in sa.items():
        if d in sb:
            if abs(sb[d] - s) > tol:
                return False
        elif s > cut:  # only a near-tie at the bottom may fall off the list
            return False
    return all(d in sa or s <= cut for d, s in sb.items())


def coco_as_query(what):
    """The same on 100 caption groups (about 500 captions): the lists of all
    100 queries, model and hybrid, equal what query returns."""
    seen, corpus, queries, qrels = set(), [], [], {}
    for g, line in enumerate(open(os.path.join(datadir, "coco-100.groups.tsv"), encoding="utf-8")):
        caps = [c for c in line.rstrip("\n").split("\t") if c.strip()]
        ids = []
        for c in caps:
            if c in seen:
                continue
            seen.add(c)
            corpus.append((f"c{len(corpus)}", c))
            ids.append(corpus[-1][0])
        if len(ids) >= 2:
            queries.append((f"g{g}", caps[0]))
            qrels[f"g{g}"] = {d: 1 for d in ids[1:]}
    name = os.path.join(tmp, "coco")
    with open(name + ".corpus.tsv", "w") as f:
        f.write("".join(f"{d}\t{t}\n" for d, t in corpus))
    with open(name + ".queries.tsv", "w") as f:
        f.write("".join(f"{q}\t{t}\n" for q, t in queries))
    with open(name + ".qrels.tsv", "w") as f:
        f.write("".join(f"{q}\t{d}\t{g}\n" for q, j in qrels.items() for d, g in j.items()))
    if eval_json("--runs", name, name) is None:
        ok(False, f"{what}: eval --runs")
        return
    db = name + ".db"
    subprocess.run(semsearch + ["index", "-q", "-d", db, "--text-column", "2", "--id-column", "1",
                                name + ".corpus.tsv"], check=True, capture_output=True)
    for sysname, extra in (("model", ["--vectors"]), ("hybrid", ["--hybrid"])):
        mine = {}
        for line in open(f"{name}.{sysname}.trec"):
            q, _, d, rank, score, tag = line.split()
            mine.setdefault(q, []).append((d, float(score)))
        out = subprocess.run(semsearch + ["query", "-d", db, "-k", "100", "--json", *extra],
                             input="".join(t + "\n" for _, t in queries), capture_output=True, text=True,
                             check=True).stdout
        diff = [q for (q, _), line in zip(queries, out.splitlines())
                if not same_ranking(mine.get(q, []), [(h["id"], h["score"]) for h in json.loads(line)["results"]])]
        ok(not diff and len(mine) == len(queries),
           f"{what}: the {sysname} lists of all {len(queries)} queries (top 100 of {len(corpus)}) = "
           f"`query {' '.join(extra + ['-k', '100'])}`, near-ties (1e-5) in either order" + (f" (differ: {diff[:5]})" if diff else ""))


coco_as_query("COCO captions")

# the BM25 run: the naive BM25 ranking, scores included
corpus, queries, qrels = load(small)
doc_order = {d: i for i, (d, _) in enumerate(corpus)}
got = {}
for line in open(os.path.join(tmp, "nodup.bm25.trec")):
    q, _, d, rank, score, tag = line.split()
    got.setdefault(q, []).append((d, float(score)))
corpus = [(d, t) for d, t in corpus if d != "d7"]
good = True
for q, t in queries:
    q = "q2" if q == "d6" else q
    if q not in got:
        continue
    ref = bm25_all(corpus, t)
    want = sorted(ref.values(), reverse=True)[:100]
    good &= len(got[q]) == len(want) and all(close(s, w, 1e-8) for (_, s), w in zip(got[q], want))
    good &= all(close(ref[d], s, 1e-8) for d, s in got[q])
ok(good and len(got) == 3, "eval --runs: the BM25 run holds the naive BM25 scores, best first")
print(f"1..{n_tests}")
sys.exit(1 if failed else 0)
