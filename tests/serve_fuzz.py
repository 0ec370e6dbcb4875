"""serve_fuzz.py PORT N SEED: black-box fuzzing of `semsearch serve`'s
request handling (tests/serve.sh runs it, under ASan in CI).

Seeds are whole HTTP requests (request line, headers, JSON body) for every
route; each of N rounds mutates one (bytes flipped, inserted, deleted or
repeated; a JSON value replaced by another type or a huge one; a header
dropped, doubled or given a wrong length; the request cut anywhere), sends
it on its own connection, closes the sending side and reads the answer.
Fails on a 5xx answer (but 503, overload) or when the server stops
answering /health; prints the statuses seen. Deterministic for a SEED."""
import errno
import json
import random
import socket
import sys

port, rounds, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)


def req(method, path, body=None, headers=()):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"] + list(headers)
    b = b""
    if body is not None:
        b = body if isinstance(body, bytes) else json.dumps(body).encode()
        h += ["Content-Type: application/json", "Content-Length: %d" % len(b)]
    return ("\r\n".join(h) + "\r\n\r\n").encode() + b


seeds = [
    req("POST", "/v1/embeddings", {"input": ["a dog in a park", "a cat"], "model": "m"}),
    req("POST", "/v1/embeddings", {"input": "one text", "encoding_format": "base64"}),
    req("POST", "/v1/embeddings", {"input": ["x"] * 30, "dimensions": 512}),
    req("POST", "/search", {"query": "a red bus", "k": 3, "hybrid": False}),
    req("POST", "/search", {"query": ["a", "b c"], "k": 2, "source": "more", "min_score": 0.1}),
    req("GET", "/v1/models"),
    req("GET", "/health"),
    req("GET", "/metrics"),
    req("DELETE", "/documents", {"id": "x"}),
    req("POST", "/v1/embeddings", b'{"input":"caf\xc3\xa9 \\u0000 \\ud83d\\ude00"}'),
]
values = [None, True, 0, -1, 2**63, 1e308, "", "x" * 70000, [], [[]], {}, [1, 2], {"a": 1}, "\u0000", "\ud800"]


def mutate(s):
    s = bytearray(s)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(9)
        i = rnd.randrange(len(s) + 1)
        if op == 0 and s:
            s[min(i, len(s) - 1)] = rnd.randrange(256)
        elif op == 1:
            s[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op == 2:
            del s[i:i + rnd.randint(1, 16)]
        elif op == 3:
            j = rnd.randrange(len(s) + 1)
            s[i:i] = s[min(i, j):max(i, j)][:4096]
        elif op == 4:
            s = s[:i]
        elif op == 5:  # a JSON body with one value replaced
            head, sep, body = bytes(s).partition(b"\r\n\r\n")
            try:
                d = json.loads(body)
                if isinstance(d, dict) and d:
                    d[rnd.choice(list(d))] = rnd.choice(values)
                    b = json.dumps(d).encode("utf-8", "surrogatepass")
                    head = b"\r\n".join(l for l in head.split(b"\r\n") if not l.lower().startswith(b"content-length"))
                    s = bytearray(head + b"\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
            except ValueError:
                pass
        elif op == 6:  # a header dropped or doubled
            lines = bytes(s).split(b"\r\n")
            k = rnd.randrange(1, max(2, len(lines)))
            if rnd.random() < 0.5:
                del lines[k:k + 1]
            else:
                lines.insert(k, lines[min(k, len(lines) - 1)])
            s = bytearray(b"\r\n".join(lines))
        elif op == 7:  # a wrong Content-Length
            s = bytearray(bytes(s).replace(b"Content-Length: ", b"Content-Length: %d" % rnd.choice([0, 1, 99, 10**9]), 1))
        else:  # chunked
            s = bytearray(bytes(s).replace(b"Content-Length", b"Transfer-Encoding: chunked\r\nX-Old-Length", 1))
    return bytes(s)


def send(data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        out = b""
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed first (an early 4xx): read what it sent
            pass
        while True:
            k = s.recv(65536)
            if not k:
                break
            out += k
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    except OSError as e:  # ENOTCONN and the like: the server closed the connection; not a server error
        if e.errno not in (errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET):
            raise
    finally:
        s.close()
    return out


seen = {}
bad = []
for n in range(rounds):
    data = mutate(rnd.choice(seeds))
    out = send(data)
    st = out[9:12].decode("ascii", "replace") if out.startswith(b"HTTP/1.") else "-"
    seen[st] = seen.get(st, 0) + 1
    if st.startswith("5") and st != "503":
        bad.append((n, st, data[:200], out[:300]))
health = send(req("GET", "/health"))
print("# statuses:", " ".join("%s:%d" % kv for kv in sorted(seen.items())))
for b in bad[:5]:
    print("# round %d: %s for %r -> %r" % b)
if bad or b" 200 " not in health[:20]:
    sys.exit(1)
