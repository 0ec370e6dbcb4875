"""eval_ref.py: our evaluation metrics against scipy and scikit-learn on
random data (run by tests/eval_ref.sh; prints TAP).

usage: eval_ref.py CHECK_PROGRAM SEMSEARCH SCRATCH_DIR

CHECK_PROGRAM is tests/unit/eval, whose `--check TASK` mode reads data on
stdin and prints our values; SEMSEARCH is the command (eval --json)."""
import json
import re
import subprocess
import sys
import unicodedata

import numpy as np
from scipy import stats
from sklearn import metrics
from sklearn.feature_extraction.text import TfidfVectorizer

check_prog, semsearch, tmp = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
semsearch = semsearch[0].split() if len(semsearch) == 1 else semsearch  # "valgrind ... semsearch"
n_tests = 0
failed = 0


def ok(cond, what):
    global n_tests, failed
    n_tests += 1
    print(("ok" if cond else "not ok"), n_tests, "-", what, flush=True)
    if not cond:
        failed += 1


def close(a, b, tol, what):
    good = a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    ok(good, f"{what} ({a!r} vs {b!r})")


def run_check(task, data):
    out = subprocess.run([check_prog, "--check", task], input=data, capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        k, v = line.split(" ", 1)
        res[k] = v if v.startswith("error") else float(v)
    return res


rng = np.random.default_rng(20261128)

# ------------------------------------------------------------ correlations
for case in range(6):
    n = int(rng.integers(20, 400))
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(size=n)
    if case >= 2:  # ties on one side, then on both
        y = np.round(y * 2) / 2
    if case >= 4:
        x = np.round(x)
    data = "".join(f"{a!r} {b!r}\n" for a, b in zip(x, y))
    r = run_check("corr", data)
    close(r["pearson"], stats.pearsonr(x, y)[0], 1e-12, f"pearson = scipy, n={n}, case {case}")
    close(r["spearman"], stats.spearmanr(x, y)[0], 1e-12, f"spearman = scipy (ties: {case >= 2}), n={n}")

r = run_check("corr", "1 1\n2 1\n3 1\n")
ok(r["pearson"] == "error:10" and r["spearman"] == "error:10", "constant scores: SS_ERR_RANGE where scipy gives NaN")
r = run_check("corr", "1 2\n")
ok(r["pearson"] == "error:10", "one pair: SS_ERR_RANGE")

# ------------------------------------------------------ pair classification
for case in range(6):
    n = int(rng.integers(30, 500))
    label = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(int)
    score = rng.normal(size=n) + label * rng.uniform(0.2, 2.0)
    if case % 2 == 1:  # many ties
        score = np.round(score * 3) / 3
    data = "".join(f"{s!r} {l}\n" for s, l in zip(score, label))
    r = run_check("pairs", data)
    tag = f"n={n}, ties={case % 2 == 1}"
    close(r["auc"], metrics.roc_auc_score(label, score), 1e-12, f"AUC = sklearn roc_auc_score, {tag}")
    close(r["average_precision"], metrics.average_precision_score(label, score), 1e-12,
          f"AP = sklearn average_precision_score, {tag}")
    prec, rec, _ = metrics.precision_recall_curve(label, score)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1s = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0)
    close(r["f1"], f1s.max(), 1e-12, f"best F1 = max F1 of sklearn precision_recall_curve, {tag}")
    # brute force: every distinct score as "predict 1 when >=", and "all 0"
    cands = [np.inf] + sorted(set(score.tolist()), reverse=True)
    accs = [metrics.accuracy_score(label, (score >= t).astype(int)) for t in cands]
    close(r["accuracy"], max(accs), 1e-12, f"best accuracy = brute force, {tag}")
    # our thresholds really give our numbers
    pred = (score >= r["accuracy_threshold"]).astype(int)
    close(metrics.accuracy_score(label, pred), r["accuracy"], 1e-12, f"accuracy at our threshold, {tag}")
    pred = (score >= r["f1_threshold"]).astype(int)
    close(metrics.f1_score(label, pred), r["f1"], 1e-12, f"F1 at our threshold, {tag}")
    close(metrics.precision_score(label, pred), r["precision"], 1e-12, f"precision at our threshold, {tag}")
    close(metrics.recall_score(label, pred), r["recall"], 1e-12, f"recall at our threshold, {tag}")

r = run_check("pairs", "0.1 1\n0.5 1\n0.3 1\n")
ok(r["auc"] == "error:10" and r["f1"] != "error:10" and r["accuracy"] == 1.0,
   "one class: AUC is SS_ERR_RANGE (sklearn raises), F1/accuracy defined")
r = run_check("pairs", "0.1 0\n0.5 0\n")
ok(r["auc"] == "error:10" and r["average_precision"] == "error:10" and r["f1"] == "error:10",
   "no positives: AUC, AP, F1 are SS_ERR_RANGE")


# ---------------------------------------------------------------- retrieval
def ref_retrieval(sim, rels, skips):
    """recall@k, MRR@10 by sorting; nDCG@10 by sklearn (no ties in sim)."""
    out = {"recall_at_1": [], "recall_at_5": [], "recall_at_10": [], "mrr_at_10": [], "ndcg_at_10": []}
    for q in range(sim.shape[0]):
        keep = np.array([d for d in range(sim.shape[1]) if d != skips[q]])
        s = sim[q, keep].astype(np.float64)
        relv = np.isin(keep, rels[q]).astype(int)
        # ties: non-relevant first, then lower index (lexsort: last key first)
        order = np.lexsort((np.arange(len(s)), relv, -s))
        ranked = relv[order]
        for k in (1, 5, 10):
            out[f"recall_at_{k}"].append(ranked[:k].sum() / len(rels[q]))
        hits = np.nonzero(ranked[:10])[0]
        out["mrr_at_10"].append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
        out["ndcg_at_10"].append(metrics.ndcg_score([relv], [s], k=10) if len(set(s)) == len(s) else None)
    return out


for case in range(3):
    nq, nd = int(rng.integers(5, 40)), int(rng.integers(12, 120))
    sim = rng.normal(size=(nq, nd)).astype(np.float32)
    rels, skips = [], []
    for q in range(nq):
        sk = int(rng.integers(0, nd)) if case != 1 else -1
        pool = [d for d in range(nd) if d != sk]
        rels.append(sorted(rng.choice(pool, size=int(rng.integers(1, 6)), replace=False).tolist()))
        skips.append(sk)
        for d in rels[-1]:  # relevant documents score a little higher
            sim[q, d] += np.float32(rng.uniform(0, 1.5))
    data = f"{nq} {nd}\n" + "\n".join(" ".join(repr(float(v)) for v in row) for row in sim) + "\n"
    data += "".join(f"{skips[q]} {len(rels[q])} {' '.join(map(str, rels[q]))}\n" for q in range(nq))
    r = run_check("retrieval", data)
    ref = ref_retrieval(sim, rels, skips)
    for key in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10"):
        close(r[key], float(np.mean(ref[key])), 1e-9, f"{key} = numpy ranking, {nq}x{nd}, case {case}")
    close(r["ndcg_at_10"], float(np.mean(ref["ndcg_at_10"])), 1e-9, f"ndcg_at_10 = sklearn ndcg_score, case {case}")

# ties broken against the scorer: a constant similarity earns the worst ranks
sim = np.zeros((2, 30), dtype=np.float32)
rels, skips = [[1, 2], [0]], [0, -1]
data = "2 30\n" + "\n".join(" ".join("0" for _ in range(30)) for _ in range(2)) + "\n0 2 1 2\n-1 1 0\n"
r = run_check("retrieval", data)
ref = ref_retrieval(sim, rels, skips)
ok(r["mrr_at_10"] == 0 and r["recall_at_10"] == 0 and np.mean(ref["mrr_at_10"]) == 0,
   "tied similarities give no credit (relevant documents ranked last)")

# -------------------------------------------------------------------- TF-IDF
WORDS = ("a man woman dog cat is are the playing runs on in guitar piano street park red blue "
         "small big two three children ball water Café naïve é").split()


def analyzer(s):
    return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", s).casefold())


def sentence(lo=2, hi=9):
    words = rng.choice(WORDS, size=int(rng.integers(lo, hi)))
    words = [w.upper() if rng.random() < 0.1 else w for w in words]
    return " ".join(words) + rng.choice([".", "!", "", ",", " ?"])


texts = [sentence() for _ in range(60)] + ["!!!", "..."]
raw = subprocess.run([check_prog, "--check", "tfidf"], input="\n".join(texts) + "\n", capture_output=True,
                     text=True, check=True).stdout
ours = np.array([[float(v) for v in line.split()] for line in raw.splitlines()])
X = TfidfVectorizer(analyzer=analyzer).fit_transform(texts)
ref = (X @ X.T).toarray()
ok(ours is not None and ours.shape == ref.shape, "TF-IDF cosine matrix has the right shape")
close(float(np.abs(ours - ref).max()), 0.0, 1e-12,
      "TF-IDF cosines = sklearn TfidfVectorizer (smooth idf, l2) with the same words")

# ------------------------------------------------------- the command, --json


def cli_json(path, *extra):
    out = subprocess.run(semsearch + ["eval", "--json", *extra, path], capture_output=True, text=True)
    if out.returncode != 0:
        print("# " + out.stderr.replace("\n", "\n# "))
        return None
    return json.loads(out.stdout)


def tfidf_pair_sims(a, b):
    X = TfidfVectorizer(analyzer=analyzer).fit_transform(a + b)
    n = len(a)
    # single precision, as semsearch keeps similarities (ties stay ties)
    return np.asarray(X[:n].multiply(X[n:]).sum(1)).ravel().astype(np.float32).astype(np.float64)


def mutate(s, k):
    """s with k of its words replaced by random ones: a graded paraphrase."""
    words = s.split()
    for i in rng.choice(len(words), size=min(k, len(words)), replace=False):
        words[i] = str(rng.choice(WORDS))
    return " ".join(words)


# pairs whose gold score follows word overlap, with noise: correlations far from 0
n = 300
a = [sentence(4, 12) for _ in range(n)]
ks = rng.integers(0, 8, size=n)
b = [mutate(x, int(k)) for x, k in zip(a, ks)]
gold = np.clip(np.round((5 - 0.7 * ks + rng.normal(0, 1, size=n)) * 4) / 4, 0, 5)
path = f"{tmp}/rand.scored.tsv"
with open(path, "w", encoding="utf-8") as f:
    f.writelines(f"{x}\t{y}\t{g}\n" for x, y, g in zip(a, b, gold))
res = cli_json(path, "--baseline-only")
sims = tfidf_pair_sims(a, b)
ok(res is not None and res["task"] == "sts" and res["pairs"] == n and "model" not in res,
   "eval -B --json on a scored file")
if res:
    close(res["tfidf"]["spearman"], stats.spearmanr(sims, gold)[0], 1e-8, "CLI TF-IDF Spearman = scipy on sklearn TF-IDF")
    close(res["tfidf"]["pearson"], stats.pearsonr(sims, gold)[0], 1e-8, "CLI TF-IDF Pearson = scipy on sklearn TF-IDF")

label = (ks + rng.normal(0, 2, size=n) < 3.5).astype(int)
path = f"{tmp}/rand.labeled.tsv"
with open(path, "w", encoding="utf-8") as f:
    f.writelines(f"{x}\t{y}\t{l}\n" for x, y, l in zip(a, b, label))
res = cli_json(path, "--baseline-only")
ok(res is not None and res["task"] == "pairs" and res["positive"] == int(label.sum()), "eval -B --json on a labeled file")
if res:
    close(res["tfidf"]["auc"], metrics.roc_auc_score(label, sims), 1e-8, "CLI TF-IDF AUC = sklearn")
    close(res["tfidf"]["average_precision"], metrics.average_precision_score(label, sims), 1e-8, "CLI TF-IDF AP = sklearn")

groups = []
for _ in range(80):
    base = sentence(4, 10)
    groups.append([mutate(base, int(rng.integers(1, 5))) for _ in range(int(rng.integers(2, 6)))])
path = f"{tmp}/rand.groups.tsv"
with open(path, "w", encoding="utf-8") as f:
    f.writelines("\t".join(g) + "\n" for g in groups)
res = cli_json(path, "--baseline-only")
flat = [t for g in groups for t in g]
ok(res is not None and res["queries"] == len(groups) and res["texts"] == len(flat), "eval -B --json on a groups file")
if res:
    X = TfidfVectorizer(analyzer=analyzer).fit_transform(flat)
    starts = np.cumsum([0] + [len(g) for g in groups])
    qs = starts[:-1]
    sim = (X[qs] @ X.T).toarray().astype(np.float32)
    rels = [list(range(starts[i] + 1, starts[i + 1])) for i in range(len(groups))]
    ref = ref_retrieval(sim, rels, list(qs))
    for key in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10"):
        close(res["tfidf"][key], float(np.mean(ref[key])), 1e-9, f"CLI TF-IDF {key} = numpy on sklearn TF-IDF")

# the model path: cosines of `semsearch embed` vectors, scored by scipy
model = f"{tmp}/tiny.gguf"
vocab = sys.argv[0].rsplit("/", 2)[0] + "/vocab/en-16k.model"
made = subprocess.run(semsearch + ["model", "init", "-v", vocab, "--d-model", "32", "--layers", "1", "--heads", "2",
                                   "--ffn", "64", "-o", model], capture_output=True, text=True)
if made.returncode != 0:
    print(f"ok {n_tests + 1} - model path # SKIP cannot make a model: {made.stderr.strip()[:200]}")
    n_tests += 1
else:
    path = f"{tmp}/rand.scored.tsv"
    res = cli_json(path, "-m", model, "--baseline")
    emb = []
    for col in (a, b):
        src = f"{tmp}/col.txt"
        with open(src, "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in col)
        subprocess.run(semsearch + ["embed", "-m", model, "--format", "npy", "-o", f"{tmp}/col.npy", src], check=True,
                       capture_output=True)
        emb.append(np.load(f"{tmp}/col.npy").astype(np.float64))
    cos = (emb[0] * emb[1]).sum(1).astype(np.float32).astype(np.float64)
    ok(res is not None and "model" in res and "tfidf" in res and res["model_file"] == model,
       "eval -m --baseline --json has both systems")
    if res:
        close(res["model"]["spearman"], stats.spearmanr(cos, gold)[0], 1e-6, "CLI model Spearman = scipy on embed cosines")
        close(res["model"]["pearson"], stats.pearsonr(cos, gold)[0], 1e-6, "CLI model Pearson = scipy on embed cosines")
        close(res["tfidf"]["spearman"], stats.spearmanr(sims, gold)[0], 1e-8, "the baseline does not depend on the model")

print(f"1..{n_tests}")
sys.exit(1 if failed else 0)
