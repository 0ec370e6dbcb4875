#!/bin/sh
# eval-suite.sh: every dev set at once, for model selection: the model, its
# baseline (TF-IDF cosine; BM25 for retrieval) and the hybrid (retrieval),
# one row per set, then the mean of each kind and of the kinds.
#
# Usage: models/eval-suite.sh [--json] [MODEL [DATA_DIR]]
#   MODEL     a .gguf model (default: the shipped models/en-base.gguf)
#   DATA_DIR  the shared data, holding eval/ (default: $SEMSEARCH_EVAL_DATA,
#             else $SEMSEARCH_DATA when it has an eval/ folder, else
#             ../shared/data beside the checkout)
#   --json    one JSON object (sets, kinds, overall; raw values, not x100,
#             and every file's `semsearch eval --json` line under "files")
# The command is $SEMSEARCH, else the checkout's ./semsearch, else the one on
# PATH. Every set runs in one `semsearch eval` (the model is loaded once).
#
# Kinds and their metric: STS-B, SICK (Spearman), MRPC (AUC), zero-shot STS
# (mean Spearman over eval/zeroshot/*), retrieval (mean nDCG@10 over
# eval/retrieval/*; recall@100 shown too). Other files in eval/ become kinds
# of their own (*.scored.tsv Spearman, *.labeled.tsv AUC). The overall
# mean is over the kinds, each kind weighing the same.
set -eu
json=0
case "${1:-}" in
--json) json=1; shift ;;
-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-}
if [ -n "${2:-}" ]; then D=$2
elif [ -n "${SEMSEARCH_EVAL_DATA:-}" ]; then D=$SEMSEARCH_EVAL_DATA
elif [ -n "${SEMSEARCH_DATA:-}" ] && [ -d "$SEMSEARCH_DATA/eval" ]; then D=$SEMSEARCH_DATA
else D=$top/../shared/data
fi
[ -d "$D/eval" ] || { echo "eval-suite.sh: $D/eval: no such directory (give DATA_DIR)" >&2; exit 1; }
bin=${SEMSEARCH:-$top/semsearch}
[ -x "$bin" ] || bin=semsearch

tmp=$(mktemp -d "${TMPDIR:-/tmp}/eval-suite.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The sets: kind TAB set TAB metric key TAB path, in a fixed order.
E=$D/eval
: >"$tmp/sets"
add() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$tmp/sets"; }
for f in "$E"/stsb*.scored.tsv "$E"/sick*.scored.tsv "$E"/msrp*.labeled.tsv "$E"/mrpc*.labeled.tsv \
    "$E"/*.scored.tsv "$E"/*.scored.tsv.gz "$E"/*.labeled.tsv "$E"/*.labeled.tsv.gz; do
    [ -f "$f" ] || continue
    awk -F'\t' -v f="$f" '$4 == f { found = 1 } END { exit !found }' "$tmp/sets" && continue # listed already
    b=$(basename "$f"); b=${b%.gz}; b=${b%.tsv}
    case "$b" in
    stsb*) kind=STS-B ;; sick*) kind=SICK ;; msrp* | mrpc*) kind=MRPC ;; *) kind=${b%%.*} ;;
    esac
    case "$b" in *.scored) metric=spearman ;; *) metric=auc ;; esac
    add "$kind" "${b%.*}" "$metric" "$f"
done
for f in "$E"/zeroshot/*.scored.tsv "$E"/zeroshot/*.scored.tsv.gz; do
    [ -f "$f" ] || continue
    b=$(basename "$f"); b=${b%.gz}; b=${b%.scored.tsv}
    add "zero-shot STS" "$b" spearman "$f"
done
for f in "$E"/retrieval/*.queries.tsv; do
    [ -f "$f" ] || continue
    add retrieval "$(basename "${f%.queries.tsv}")" ndcg_at_10 "${f%.queries.tsv}"
done
for f in "$E"/retrieval/*/corpus.jsonl; do # BEIR directories
    [ -f "$f" ] || continue
    d=$(dirname "$f")
    add retrieval "$(basename "$d")" ndcg_at_10 "$d"
done
[ -s "$tmp/sets" ] || { echo "eval-suite.sh: no dev sets in $E" >&2; exit 1; }

# One run over every set (files in the order of the list).
set --
while IFS='	' read -r kind name metric path; do set -- "$@" "$path"; done <"$tmp/sets"
start=$(date +%s)
if [ -n "$model" ]; then
    "$bin" eval --json --baseline -m "$model" "$@" >"$tmp/eval.jsonl"
else
    "$bin" eval --json --baseline "$@" >"$tmp/eval.jsonl"
fi
secs=$(($(date +%s) - start))

awk -v json="$json" -v secs="$secs" -v data="$D" -F'\t' '
# the number after "key": inside the "sys":{...} object of a line
function num(line, sys, key,    i, s, j) {
    i = index(line, "\"" sys "\":{")
    if (!i) return ""
    s = substr(line, i + length(sys) + 4)
    j = index(s, "}")
    s = substr(s, 1, j)
    i = index(s, "\"" key "\":")
    if (!i) return ""
    s = substr(s, i + length(key) + 3)
    match(s, /^[-+0-9.eE]+/)
    return RSTART ? substr(s, 1, RLENGTH) : ""
}
function str(line, key,    i, s, j) {
    i = index(line, "\"" key "\":\"")
    if (!i) return ""
    s = substr(line, i + length(key) + 4)
    j = index(s, "\"")
    return substr(s, 1, j - 1)
}
function jnum(v) { return v == "" ? "null" : sprintf("%.10g", v) }
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function x100(v) { return v == "" ? "-" : sprintf("%.2f", 100 * v) }
function addkind(k, m) { if (!(k in kseen)) { kseen[k] = 1; korder[++nk] = k; kmetric[k] = m } }
function acc(k, sys, v) { if (v != "") { ksum[k, sys] += v; kcnt[k, sys]++ } }
function mean(k, sys) { return kcnt[k, sys] ? ksum[k, sys] / kcnt[k, sys] : "" }
NR == FNR { kind[NR] = $1; name[NR] = $2; metric[NR] = $3; n = NR; next }
{
    i = FNR; line[i] = $0
    model_file = model_file == "" ? str($0, "model_file") : model_file
    task = str($0, "task")
    m = metric[i]
    base = task == "retrieval" && index($0, "\"bm25\":{") ? "bm25" : "tfidf"
    v[i, "model"] = num($0, "model", m); v[i, "baseline"] = num($0, base, m); v[i, "hybrid"] = num($0, "hybrid", m)
    if (m == "ndcg_at_10") {
        r100[i, "model"] = num($0, "model", "recall_at_100"); r100[i, "baseline"] = num($0, "bm25", "recall_at_100")
        r100[i, "hybrid"] = num($0, "hybrid", "recall_at_100")
    }
    addkind(kind[i], m)
    acc(kind[i], "model", v[i, "model"]); acc(kind[i], "baseline", v[i, "baseline"]); acc(kind[i], "hybrid", v[i, "hybrid"])
    nsets[kind[i]]++
}
END {
    for (t = 1; t <= nk; t++) {
        k = korder[t]
        if (mean(k, "model") != "") { om += mean(k, "model"); omn++ }
        if (mean(k, "baseline") != "") { ob += mean(k, "baseline"); obn++ }
    }
    overall_m = omn ? om / omn : ""; overall_b = obn ? ob / obn : ""
    label["spearman"] = "spearman"; label["auc"] = "auc"; label["ndcg_at_10"] = "ndcg@10"
    if (json) {
        printf "{\"model_file\":%s,\"data\":%s,\"seconds\":%d,\"sets\":[", jstr(model_file), jstr(data), secs
        for (i = 1; i <= n; i++) {
            printf "%s{\"kind\":%s,\"set\":%s,\"metric\":%s,\"model\":%s,\"baseline\":%s,\"hybrid\":%s", (i > 1 ? "," : ""),
                jstr(kind[i]), jstr(name[i]), jstr(metric[i]), jnum(v[i, "model"]), jnum(v[i, "baseline"]), jnum(v[i, "hybrid"])
            if (metric[i] == "ndcg_at_10")
                printf ",\"recall_at_100\":{\"model\":%s,\"baseline\":%s,\"hybrid\":%s}", jnum(r100[i, "model"]),
                    jnum(r100[i, "baseline"]), jnum(r100[i, "hybrid"])
            printf "}"
        }
        printf "],\"kinds\":["
        for (t = 1; t <= nk; t++) {
            k = korder[t]
            printf "%s{\"kind\":%s,\"metric\":%s,\"sets\":%d,\"model\":%s,\"baseline\":%s,\"hybrid\":%s}", (t > 1 ? "," : ""),
                jstr(k), jstr(kmetric[k]), nsets[k], jnum(mean(k, "model")), jnum(mean(k, "baseline")), jnum(mean(k, "hybrid"))
        }
        printf "],\"overall\":{\"model\":%s,\"baseline\":%s},\"files\":[", jnum(overall_m), jnum(overall_b)
        for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "," : ""), line[i]
        printf "]}\n"
        exit
    }
    printf "semsearch eval suite: %s on %s/eval (%d sets, %d s); x100\n", model_file, data, n, secs
    printf "baseline: TF-IDF cosine (BM25 for retrieval); retrieval: model and hybrid as query --vectors and query --hybrid\n(their top 100 reranked by soft term alignment as query does by default: weight 0.25 for a static model)\n\n"
    printf "%-14s %-28s %-10s %8s %9s %8s\n", "kind", "set", "metric", "model", "baseline", "hybrid"
    for (i = 1; i <= n; i++) {
        printf "%-14s %-28s %-10s %8s %9s %8s\n", kind[i], name[i], label[metric[i]], x100(v[i, "model"]),
            x100(v[i, "baseline"]), x100(v[i, "hybrid"])
        if (metric[i] == "ndcg_at_10")
            printf "%-14s %-28s %-10s %8s %9s %8s\n", "", "", "recall@100", x100(r100[i, "model"]), x100(r100[i, "baseline"]),
                x100(r100[i, "hybrid"])
    }
    printf "\nmean per kind\n"
    printf "%-14s %-28s %-10s %8s %9s %8s\n", "kind", "sets", "metric", "model", "baseline", "hybrid"
    for (t = 1; t <= nk; t++) {
        k = korder[t]
        printf "%-14s %-28d %-10s %8s %9s %8s\n", k, nsets[k], label[kmetric[k]], x100(mean(k, "model")),
            x100(mean(k, "baseline")), x100(mean(k, "hybrid"))
    }
    printf "%-14s %-28s %-10s %8s %9s %8s\n", "overall", nk " kinds, each weighing 1", "mean", x100(overall_m), x100(overall_b), ""
}' "$tmp/sets" "$tmp/eval.jsonl"
