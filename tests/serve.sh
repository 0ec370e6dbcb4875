#!/bin/sh
# serve.sh: `semsearch serve` over HTTP with curl, on an ephemeral loopback
# port: /v1/embeddings equal to `semsearch embed` bit for bit (float and
# base64), /search equal to `semsearch query`, dozens of concurrent clients,
# the bad-request catalogue of docs/robustness.md (each with its status,
# the server still answering after it), the API key, SIGTERM.
. "$top_srcdir/tests/setup.sh"

if ! command -v curl >/dev/null 2>&1; then
    skip "semsearch serve over HTTP" "curl is missing"
    done_testing
    exit
fi
PY=
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import numpy' 2>/dev/null; then PY=$PYTHON3; fi

SPID=
# serve ARGS...: starts a server on a free port; PORT, SPID; its log in $T/log
serve() {
    : > "$T/log"
    $SEMSEARCH serve --port 0 "$@" 2> "$T/log" &
    SPID=$!
    w=0
    PORT=
    while [ -z "$PORT" ]; do
        PORT=$(sed -n 's|^semsearch: serving on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$T/log")
        [ -n "$PORT" ] && break
        if [ $w -ge 600 ] || ! kill -0 $SPID 2>/dev/null; then sed 's/^/# /' "$T/log"; return 1; fi
        sleep 0.05
        w=$((w + 1))
    done
    URL="http://127.0.0.1:$PORT"
}
# stop: SIGTERM, the exit status in $stopped
stop() {
    kill -TERM $SPID 2>/dev/null
    wait $SPID
    stopped=$?
    SPID=
}
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
# http METHOD PATH [CURL ARGS...]: $code, the body in $T/body
http() {
    m=$1; p=$2; shift 2
    code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$URL$p")
}
post() { p=$1; shift; http POST "$p" -H 'Content-Type: application/json' "$@"; }
# status DESC CODE: the last answer had CODE (and an OpenAI error object
# when CODE >= 400), and the server still answers /health
status() {
    got=$code
    good=0
    [ "$got" = "$2" ] || good=1
    if [ "$2" -ge 400 ] && ! grep -q '^{"error":{"message":"[^"]' "$T/body"; then good=1; fi
    ok $good "$1: $2"
    [ $good -eq 0 ] || { echo "# got $got: $(head -c 300 "$T/body")"; }
    h=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
    [ "$h" = 200 ]; ok $? "  and the server still answers /health"
}

# ---------------------------------------------------------------- a database
head -n 200 "$top_srcdir/corpora/coco-captions.txt" > "$T/docs.txt"
sed -n '201,260p' "$top_srcdir/corpora/coco-captions.txt" > "$T/more.txt"
run_ok "index 200 captions with the shipped model" $SEMSEARCH index -d "$T/s.db" "$T/docs.txt"
run_ok "and 60 of another source" $SEMSEARCH index -d "$T/s.db" --source more "$T/more.txt"

serve -d "$T/s.db"; ok $? "serve --port 0 prints the port it listens on ($PORT)"

http GET /health; [ "$code" = 200 ] && grep -q '"status":"ok"' "$T/body"; ok $? "GET /health"
http GET /v1/models
dims=$(printf 'x\n' | $SEMSEARCH embed -f tsv | awk -F'\t' '{ print NF }')
[ "$code" = 200 ] && grep -q '"id":"en-base.gguf"' "$T/body" && grep -q "\"dimensions\":$dims[,}]" "$T/body"
ok $? "GET /v1/models: the model and its dimension"

# ---------------------------------------------------------------- embeddings = embed
printf 'A man is playing a guitar.\nThe cat sits on the mat.\nhello world\nNUL\001control and caf\303\251 \360\237\230\200\nA man is playing a guitar.\n' > "$T/in.txt"
awk 'BEGIN { for (i = 0; i < 300; i++) printf "word%d ", i; print "" }' >> "$T/in.txt"
N=$(wc -l < "$T/in.txt")
if [ -n "$PY" ]; then
    $SEMSEARCH embed -f npy "$T/in.txt" > "$T/ref.npy"
    "$PY" -c '
import json, sys
lines = open(sys.argv[1], encoding="utf-8", errors="surrogateescape").read().split("\n")[:-1]
json.dump({"input": lines, "model": "en-base"}, open(sys.argv[2], "w"))
json.dump({"input": lines, "encoding_format": "base64"}, open(sys.argv[3], "w"))
json.dump({"input": lines[0]}, open(sys.argv[4], "w"))
' "$T/in.txt" "$T/req.json" "$T/req64.json" "$T/req1.json"
    post /v1/embeddings --data-binary @"$T/req.json"; cp "$T/body" "$T/float.json"
    [ "$code" = 200 ]; ok $? "POST /v1/embeddings ($N texts, float)"
    post /v1/embeddings --data-binary @"$T/req64.json"; cp "$T/body" "$T/b64.json"
    [ "$code" = 200 ]; ok $? "POST /v1/embeddings (base64)"
    post /v1/embeddings --data-binary @"$T/req1.json"; cp "$T/body" "$T/one.json"
    [ "$code" = 200 ]; ok $? "POST /v1/embeddings (one string)"
    "$PY" -c '
import base64, json, sys
import numpy as np
d = sys.argv[1]
ref = np.load(d + "/ref.npy")
f = json.load(open(d + "/float.json"))
assert f["object"] == "list" and f["model"] == "en-base.gguf", f.keys()
assert [e["index"] for e in f["data"]] == list(range(len(ref))), "order"
assert all(e["object"] == "embedding" for e in f["data"])
a = np.array([e["embedding"] for e in f["data"]], dtype=np.float64).astype(np.float32)
assert a.shape == ref.shape, (a.shape, ref.shape)
assert np.array_equal(a, ref), "float vectors differ from embed: max %g" % np.abs(a - ref).max()
b = json.load(open(d + "/b64.json"))
v = np.stack([np.frombuffer(base64.b64decode(e["embedding"]), dtype="<f4") for e in b["data"]])
assert np.array_equal(v, ref), "base64 vectors differ from embed"
o = json.load(open(d + "/one.json"))
assert len(o["data"]) == 1 and np.array_equal(np.array(o["data"][0]["embedding"], dtype=np.float32), ref[0])
u = f["usage"]
assert u["prompt_tokens"] == u["total_tokens"] and u["prompt_tokens"] > 20, u
assert f["truncated"] == [len(ref) - 1], f.get("truncated")
assert o["usage"]["prompt_tokens"] == int(sys.argv[2]), (o["usage"], sys.argv[2])  # as tokenize --special
' "$T" "$(head -1 "$T/in.txt" | $SEMSEARCH tokenize --special | wc -w)"
    ok $? "the vectors equal embed's bit for bit (float and base64), in order; usage counts tokens, truncation reported"
else
    skip "embeddings equal embed's bit for bit" "no python3 with numpy"
fi

# ---------------------------------------------------------------- search = query
if [ -n "$PY" ]; then
    qcheck() { # DESC REQUEST_JSON QUERY_ARGS...: /search equals query --json
        d=$1; r=$2; shift 2
        printf '%s' "$r" > "$T/sreq.json"
        post /search --data-binary @"$T/sreq.json"; cp "$T/body" "$T/search.json"
        $SEMSEARCH query -d "$T/s.db" --json "$@" > "$T/query.json" 2>/dev/null
        [ "$code" = 200 ] && "$PY" -c '
import json, sys
d = sys.argv[1]
got = json.load(open(d + "/search.json"))
want = [json.loads(l) for l in open(d + "/query.json")]
got = got["queries"] if "queries" in got else [got]
assert len(got) == len(want) and len(want) > 0, (len(got), len(want))
for g, w in zip(got, want):
    assert g["query"] == w["query"], (g["query"], w["query"])
    assert len(g["results"]) == len(w["results"]), (len(g["results"]), len(w["results"]))
    for a, b in zip(g["results"], w["results"]):
        for k in ("rank", "id", "doc", "text", "source"):
            assert a.get(k) == b.get(k), (k, a.get(k), b.get(k))
        assert abs(a["score"] - b["score"]) <= 6e-7, (a["score"], b["score"])
' "$T"
        ok $? "$d"
    }
    qcheck "/search equals query (hybrid, the database's default)" '{"query":"a dog catching a frisbee","k":5}' -k 5 "a dog catching a frisbee"
    qcheck "/search hybrid:false equals query --vectors" '{"query":"two people on a beach","k":7,"hybrid":false}' -k 7 --vectors "two people on a beach"
    qcheck "/search with source and min_score equals query --source --min-score" \
        '{"query":"a cat","k":20,"source":"more","min_score":0.3,"hybrid":false}' -k 20 --vectors --source more --min-score 0.3 "a cat"
    qcheck "/search align:0 equals query --align 0 (the cosine alone)" \
        '{"query":"two people on a beach","k":7,"hybrid":false,"align":0}' -k 7 --vectors --align 0 "two people on a beach"
    qcheck "/search align:1 equals query --align 1 (hybrid)" '{"query":"a dog catching a frisbee","k":5,"align":1}' \
        -k 5 --align 1 "a dog catching a frisbee"
    printf 'a red bus\na man riding a horse\nkitchen with a stove\n' > "$T/qs.txt"
    qcheck "/search with a list of queries equals query on stdin lines" \
        '{"query":["a red bus","a man riding a horse","kitchen with a stove"],"k":3}' -k 3 - < "$T/qs.txt"
else
    skip "/search equals query" "no python3 with numpy"
fi

# ---------------------------------------------------------------- concurrency
if [ -n "$PY" ]; then
    # 40 clients at once, 1 to 40 texts each, drawn from 120 captions
    head -n 120 "$T/docs.txt" > "$T/pool.txt"
    $SEMSEARCH embed -f npy "$T/pool.txt" > "$T/pool.npy"
    mkdir "$T/cc"
    "$PY" -c '
import json, random, sys
d = sys.argv[1]
lines = open(d + "/pool.txt").read().split("\n")[:-1]
rnd = random.Random(15)
for i in range(40):
    n = 1 + (i * 7) % 40
    idx = [rnd.randrange(len(lines)) for _ in range(n)]
    json.dump(idx, open("%s/cc/%d.idx" % (d, i), "w"))
    body = {"input": [lines[j] for j in idx] if n > 1 or i % 2 else lines[idx[0]]}
    if i % 3 == 0: body["encoding_format"] = "base64"
    json.dump(body, open("%s/cc/%d.req" % (d, i), "w"))
' "$T"
    i=0
    cpids=
    while [ $i -lt 40 ]; do
        curl -s -o "$T/cc/$i.out" -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary @"$T/cc/$i.req" "$URL/v1/embeddings" > "$T/cc/$i.code" &
        cpids="$cpids $!"
        i=$((i + 1))
    done
    wait $cpids
    "$PY" -c '
import base64, json, sys
import numpy as np
d = sys.argv[1]
ref = np.load(d + "/pool.npy")
for i in range(40):
    code = open("%s/cc/%d.code" % (d, i)).read()
    assert code == "200", (i, code)
    idx = json.load(open("%s/cc/%d.idx" % (d, i)))
    r = json.load(open("%s/cc/%d.out" % (d, i)))
    assert [e["index"] for e in r["data"]] == list(range(len(idx))), i
    for e, j in zip(r["data"], idx):
        v = e["embedding"]
        v = np.frombuffer(base64.b64decode(v), dtype="<f4") if isinstance(v, str) else np.array(v, dtype=np.float64).astype(np.float32)
        assert np.array_equal(v, ref[j]), ("client", i, "text", j)
' "$T"
    ok $? "40 concurrent clients of 1 to 40 texts: every answer right and in order"
    curl -s "$URL/metrics" > "$T/metrics"
    batches=$(sed -n 's/^semsearch_batch_inputs_count \([0-9]*\)/\1/p' "$T/metrics")
    echo "# encoder calls so far: $batches, for 40 concurrent requests and 9 before them"
else
    skip "concurrent clients" "no python3 with numpy"
fi

# ---------------------------------------------------------------- metrics
http GET /metrics
grep -q '^semsearch_requests_total{route="/v1/embeddings",status="200"} [1-9]' "$T/body" &&
    grep -q '^semsearch_request_duration_seconds_bucket{route="/v1/embeddings",le="+Inf"} [1-9]' "$T/body" &&
    grep -q '^semsearch_batch_inputs_count [1-9]' "$T/body" &&
    grep -q '^semsearch_tokens_embedded_total [1-9]' "$T/body" &&
    grep -q '^semsearch_queue_depth 0' "$T/body"
ok $? "GET /metrics: requests by route and status, latency histogram, batch sizes, tokens, queue depth"
grep -q '"POST /v1/embeddings" 200 ' "$T/log"; ok $? "one log line per request on stderr"

# ---------------------------------------------------------------- bad requests
post /v1/embeddings -d '{"input": ["a", "b"'; status "truncated JSON" 400
post /v1/embeddings -d 'not json at all'; status "not JSON" 400
post /v1/embeddings -d '[1, 2]'; status "a JSON array, not an object" 400
post /v1/embeddings; status "no body" 400
post /v1/embeddings -d '{"model":"x"}'; status "no input" 400
post /v1/embeddings -d '{"input": 42}'; status "input a number" 400
post /v1/embeddings -d '{"input": ["ok", 7]}'; status "a number among the texts" 400
post /v1/embeddings -d '{"input": [[101, 2023]]}'; status "token ids instead of text" 400
post /v1/embeddings -d '{"input": ""}'; status "an empty text" 400
post /v1/embeddings -d '{"input": []}'; status "an empty list" 400
post /v1/embeddings -d '{"input": "x", "encoding_format": "hex"}'; status "an unknown encoding_format" 400
post /v1/embeddings -d '{"input": "x", "dimensions": 64}'; status "dimensions the model does not give" 400
post /v1/embeddings -d '{"input": "x", "input": "y"}'; status "a duplicated key" 400
printf '{"input":"\377\376 bad utf-8"}' > "$T/bad.json"
post /v1/embeddings --data-binary @"$T/bad.json"; status "invalid UTF-8 in the JSON" 400
awk 'BEGIN { printf "{\"input\":[\"a\""; for (i = 1; i < 100000; i++) printf ",\"a\""; print "]}" }' > "$T/100k.json"
post /v1/embeddings --data-binary @"$T/100k.json"; status "100k inputs (limit 2048)" 400
awk 'BEGIN { printf "{\"input\":\""; for (i = 0; i < 70000; i++) printf "a"; print "\"}" }' > "$T/long.json"
post /v1/embeddings --data-binary @"$T/long.json"; status "a 70 kB text (limit 64 KiB)" 400
head -c 5000000 /dev/zero | tr '\0' 'a' | sed 's/^/{"input":"/; s/$/"}/' > "$T/huge.json"
post /v1/embeddings --data-binary @"$T/huge.json"; status "a 5 MB body (limit 4 MiB)" 413
post /v1/embeddings -H 'Transfer-Encoding: chunked' --data-binary @"$T/huge.json"; status "a 5 MB chunked body, no Content-Length" 413
post /search -d '{"query":"x","k":0}'; status "search: k 0" 400
post /search -d '{"query":"x","k":"5"}'; status "search: k a string" 400
post /search -d '{"query":"x","hybrid":"yes"}'; status "search: hybrid not a boolean" 400
post /search -d '{"query":"x","align":-1}'; status "search: align below 0" 400
post /search -d '{"query":"x","align":"0.3"}'; status "search: align a string" 400
post /search -d '{"query":"x","source":"nope"}'; status "search: a source the database lacks" 400
post /search -d '{"query":"x","kk":3}'; status "search: an unknown field" 400
post /search -d '{"query":"   "}'; status "search: a blank query" 400
http GET /nope; status "an unknown route" 404
http GET /v1/embeddings -D "$T/headers"; status "GET on a POST route" 405
grep -q '^Allow: POST' "$T/headers"; ok $? "  with an Allow header"
http DELETE /search; status "DELETE on /search" 405
http POST /health; status "POST on /health" 405
if [ -n "$PY" ]; then
    # a client that sends half its body and goes; one that sends a header a
    # byte at a time (slow loris) is covered by the timeout below
    "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"input\": [\"half")
s.close()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{\"input\": \"a whole request\"}           ")
s.close()  # gone before the answer
' "$PORT"
    ok $? "clients that disconnect mid-request and before their answer"
    h=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health"); [ "$h" = 200 ]; ok $? "  and the server still answers /health"
fi
kill -0 $SPID; ok $? "the server is still running after the catalogue"
if [ -n "$PY" ]; then
    "$PY" "$top_srcdir/tests/serve_fuzz.py" "$PORT" 400 15; ok $? "400 fuzzed requests (mutated bytes, JSON values, headers, lengths): no 5xx, /health after"
fi

# ---------------------------------------------------------------- SIGTERM
if [ -n "$PY" ]; then
    # a request in flight when SIGTERM comes is answered
    "$PY" -c '
import json, sys
json.dump({"input": ["sentence number %d about a dog in the park" % i for i in range(2000)]}, open(sys.argv[1], "w"))
' "$T/big.json"
    curl -s -o "$T/big.out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/big.json" \
        "$URL/v1/embeddings" > "$T/big.code" &
    cpid=$!
    sleep 0.3
fi
stop
[ $stopped -eq 0 ]; ok $? "SIGTERM: exits 0"
if [ -n "$PY" ]; then
    wait $cpid
    [ "$(cat "$T/big.code")" = 200 ] && "$PY" -c 'import json,sys; assert len(json.load(open(sys.argv[1]))["data"]) == 2000' "$T/big.out"
    ok $? "  and the request in flight got its whole answer"
fi
grep -q 'SIGTERM: finishing the requests in flight' "$T/log"; ok $? "  saying so"

# ---------------------------------------------------------------- API key, limits
serve --api-key s3cret --max-body 2048 --max-inputs 3 --timeout 2 -q
ok $? "serve --api-key --max-body --max-inputs --timeout"
post /v1/embeddings -d '{"input":"x"}'; status "no key" 401
post /v1/embeddings -H 'Authorization: Bearer wrong' -d '{"input":"x"}'; status "a wrong key" 401
post /v1/embeddings -H 'Authorization: Bearer s3cre' -d '{"input":"x"}'; status "a key one byte short" 401
post /v1/embeddings -H 'Authorization: Bearer s3cret' -d '{"input":"x"}'; [ "$code" = 200 ]; ok $? "the right key: 200"
http GET /v1/models; status "GET /v1/models without the key" 401
post /v1/embeddings -H 'Authorization: Bearer s3cret' -d '{"input":["a","b","c","d"]}'; status "4 inputs (--max-inputs 3)" 400
post /v1/embeddings -H 'Authorization: Bearer s3cret' --data-binary @"$T/long.json"; status "a 70 kB body (--max-body 2048)" 413
post /search -H 'Authorization: Bearer s3cret' -d '{"query":"x"}'; status "search without -d" 400
# the package where bootstrap.sh check puts it, unless NODE_PATH says otherwise
[ -n "${NODE_PATH:-}" ] || [ ! -d "$top_srcdir/.npm-test/node_modules" ] || export NODE_PATH="$top_srcdir/.npm-test/node_modules"
if command -v node >/dev/null 2>&1 && node -e "require('openai')" 2>/dev/null; then
    node "$top_srcdir/tests/serve_openai.js" "$URL/v1" s3cret "$dims" > "$T/node.out" 2>&1
    ok $? "the official OpenAI Node client: embeddings (base64 and float), models, 401, 400"
    [ -s "$T/node.out" ] && grep -v '^ok$' "$T/node.out" | head -10 | sed 's/^/# /'
else
    skip "the official OpenAI Node client" "node or its openai package missing (npm install openai; NODE_PATH)"
fi
if [ -n "$PY" ]; then
    "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")  # and then nothing
s.settimeout(10)
t = time.time()
try:
    data = s.recv(100)
except socket.timeout:
    sys.exit("still open after 10 s")
assert time.time() - t < 8, time.time() - t
' "$PORT"
    ok $? "a slow-loris client is disconnected after --timeout 2"
fi
h=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health"); [ "$h" = 200 ]; ok $? "/health needs no key"
stop; [ $stopped -eq 0 ]; ok $? "exits 0"
[ ! -s "$T/log" ] || ! grep -q '"POST' "$T/log"; ok $? "--quiet: no request log"

# ---------------------------------------------------------------- --allow-write
serve -d "$T/w.db" --allow-write -q; ok $? "serve --allow-write on a new database"
post /documents -d '{"documents":[{"text":"a dog runs in the park","id":"d1","source":"s1","meta":{"x":1}},{"text":"a cat sleeps on a sofa","id":"d2"},{"text":"a red bus on the street","source":"s2"}]}'
[ "$code" = 200 ] && grep -q '"added":3,"skipped":0' "$T/body"; ok $? "POST /documents adds 3"
post /documents -d '{"documents":[{"text":"a dog runs in the park"}]}'
[ "$code" = 200 ] && grep -q '"added":0,"skipped":1' "$T/body"; ok $? "a text already stored is skipped, as by index"
post /search -d '{"query":"a dog","k":3}'; cp "$T/body" "$T/w-search.json"
$SEMSEARCH query -d "$T/w.db" --json -k 3 "a dog" > "$T/w-query.json" 2>/dev/null
if [ -n "$PY" ]; then
    "$PY" -c '
import json, sys
g = json.load(open(sys.argv[1])); w = json.loads(open(sys.argv[2]).read())
assert [(r["id"], r["doc"], r["text"], r.get("source"), r.get("meta")) for r in g["results"]] == \
       [(r["id"], r["doc"], r["text"], r.get("source"), r.get("meta")) for r in w["results"]], (g, w)
assert g["results"][0]["id"] == "d1" and g["results"][0]["meta"] == {"x": 1}
' "$T/w-search.json" "$T/w-query.json"
    ok $? "the added documents are searched, as query finds them in the file (id, source, meta)"
fi
http DELETE /documents -d '{"id":"d1"}'; [ "$code" = 200 ] && grep -q '"deleted":1' "$T/body"; ok $? "DELETE /documents by id"
http DELETE /documents -d '{"source":"s2"}'; [ "$code" = 200 ] && grep -q '"deleted":1' "$T/body"; ok $? "DELETE /documents by source"
post /search -d '{"query":"a dog","k":5}'
[ "$code" = 200 ] && ! grep -q '"d1"' "$T/body" && ! grep -q 'red bus' "$T/body"; ok $? "deleted documents are no longer found"
post /documents -d '{"documents":[{"text":"x","id":5}]}'; status "an id that is not a string" 400
post /documents -d '{"documents":[{"txt":"x"}]}'; status "a document without text" 400
post /documents -d '{"documents":[]}'; status "no documents" 400
http DELETE /documents -d '{"id":"a","source":"b"}'; status "DELETE with both id and source" 400
http PUT /documents; status "PUT /documents" 405
stop; [ $stopped -eq 0 ]; ok $? "exits 0"
serve -d "$T/w.db" -q
post /documents -d '{"documents":[{"text":"x"}]}'; status "POST /documents without --allow-write" 403
http DELETE /documents -d '{"id":"d2"}'; status "DELETE /documents without --allow-write" 403
stop
run_fails "--allow-write without -d" "allow-write needs -d" $SEMSEARCH serve --allow-write --port 0

# a text longer than the model's window: split into passages as index does
awk 'BEGIN { for (i = 0; i < 400; i++) printf "word%d ", i; print "" }' > "$T/long.txt"
{ printf '{"documents":[{"text":"'; tr -d '\n' < "$T/long.txt"; printf '","id":"long"}]}'; } > "$T/longdoc.json"
$SEMSEARCH index -d "$T/pi.db" "$T/long.txt" 2> "$T/pi.log"
np=$(sed -n 's/.*split into \([0-9]*\) passages.*/\1/p' "$T/pi.log")
serve -d "$T/p.db" --allow-write -q; ok $? "serve --allow-write (passages)"
post /documents --data-binary @"$T/longdoc.json"
[ "$code" = 200 ] && [ -n "$np" ] && grep -q "\"added\":1,\"skipped\":0,\"split\":1,\"passages\":$np}" "$T/body"
ok $? "a document longer than the window is split into the $np passages index makes"
post /documents --data-binary @"$T/longdoc.json"
[ "$code" = 200 ] && grep -q '"added":0,"skipped":1,"split":0,"passages":0' "$T/body"; ok $? "sent again: skipped before embedding, as by index"
[ "$($SEMSEARCH info -d "$T/p.db" | sed -n 's/^passages\t//p')" = "$($SEMSEARCH info -d "$T/pi.db" | sed -n 's/^passages\t//p')" ]
ok $? "the database holds as many passage vectors as index's"
for w in word3 word200 word390; do
    post /search -d "{\"query\":\"$w\",\"k\":1,\"hybrid\":false}"; cp "$T/body" "$T/ps.json"
    $SEMSEARCH query -d "$T/pi.db" --vectors --json -k 1 "$w" > "$T/pq.json" 2>/dev/null
    if [ -n "$PY" ]; then
        "$PY" -c '
import json, sys
g = json.load(open(sys.argv[1]))["results"][0]; w = json.loads(open(sys.argv[2]).read())["results"][0]
assert g["passage"] == w["passage"] and abs(g["score"] - w["score"]) < 1e-6, (g, w)
' "$T/ps.json" "$T/pq.json"
    else
        grep -o '"passage":{[^}]*}' "$T/ps.json" > "$T/a"; grep -o '"passage":{[^}]*}' "$T/pq.json" > "$T/b"; cmp -s "$T/a" "$T/b"
    fi
    ok $? "/search '$w' finds the passage query finds in index's database"
done
stop
serve -d "$T/pc.db" --allow-write --no-passages -q
post /documents --data-binary @"$T/longdoc.json"
[ "$code" = 200 ] && grep -q '"split":0,"passages":0,"cut":1' "$T/body"; ok $? "--no-passages: the long text is cut, and counted"
stop
run_fails "--passage-tokens beyond the window" "window" $SEMSEARCH serve -d "$T/p.db" --allow-write --passage-tokens 100000 --port 0
run_fails "--passage-overlap not below --passage-tokens" "passage-overlap" $SEMSEARCH serve -d "$T/p.db" --allow-write --passage-tokens 20 --passage-overlap 20 --port 0
run_fails "--no-passages with --passage-tokens" "no-passages" $SEMSEARCH serve --no-passages --passage-tokens 20 --port 0

run_fails "a non-loopback address without --api-key is refused" "refusing to listen on 0.0.0.0" $SEMSEARCH serve --host 0.0.0.0 --port 0
run_fails "an unknown host" "--host" $SEMSEARCH serve --host no.such.host.invalid --port 0
run_fails "a bad port" "--port" $SEMSEARCH serve --port 70000
run_fails "a missing database" "nope.db" $SEMSEARCH serve -d "$T/nope.db" --port 0

done_testing
