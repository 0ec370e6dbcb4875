"""serve_peer.py: the Python peer of bench/serve.sh.

What a Python user would deploy for the same model: the PyTorch reference of
the encoder (tests/torch_ref.py reads the GGUF weights) behind FastAPI on
uvicorn (Debian: python3-fastapi, python3-uvicorn, python3-sentencepiece,
python3-torch), serving POST /v1/embeddings in the OpenAI shape that
`semsearch serve` speaks (input: a string or a list; encoding_format float or
base64; usage; errors as {"error": {...}}), plus GET /health.

    serve_peer.py serve [-m MODEL] [--port N] [--threads N] [--reuseport]
        Prints "serve_peer: serving on http://127.0.0.1:PORT" on stderr
        (--port 0, the default: a free port) once it accepts connections.
        --reuseport lets several processes share the port (what uvicorn
        --workers N does with a shared socket): bench/serve.sh starts one
        per core that way.
    serve_peer.py compare URL LINES F32
        Posts the lines of LINES (one request, a list) to URL/v1/embeddings
        and compares each vector with the same row of F32 (`semsearch embed
        -f f32` output): prints the lowest cosine and the largest absolute
        difference; exits 1 if a cosine is below 0.999.

Tokenization is semsearch's: the SentencePiece model embedded in the GGUF
(tokenizer.semsearch.spm, loaded with the sentencepiece module, which applies
the model's own normalization rules as libsentencepiece does in C), after
semsearch's text normalization (ss_normalize: NFKC, control characters
dropped, newlines and tabs as spaces, default-ignorable code points dropped,
whitespace runs collapsed and trimmed; with the model's SS_NORM_SPLIT_PUNCT,
punctuation and symbols split off words) redone here with unicodedata -- the
default-ignorable set is approximated by category Cf plus the variation
selectors and Hangul fillers; for ordinary text the ids are the same. Then
[CLS] ... [SEP], truncated to the model's window, as ss_tokenizer_encode_batch.

The server is the plain deployment: one uvicorn worker, one request is one
forward pass (no dynamic batching), the endpoint an `async def` (the forward of
a short text is shorter than a thread-pool hop), PyTorch intra-op threads 1 by
default (--threads; per-request work is a few hundred microseconds, where more
threads only add synchronization).
"""
import argparse
import base64
import json
import os
import socket
import sys
import unicodedata
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


# ------------------------------------------------------------------ text

_NEWLINES = "\t\n\x0b\x0c\r\x85\u2028\u2029"
_ASCII_SPACE = " \t\n\r\x0b\x0c"


def _ignorable(ch):
    o = ord(ch)
    return (unicodedata.category(ch) == "Cf" or o == 0x034F or 0x115F <= o <= 0x1160
            or 0x17B4 <= o <= 0x17B5 or 0x180B <= o <= 0x180F or o == 0x3164
            or 0xFE00 <= o <= 0xFE0F or o == 0xFFA0 or 0xE0000 <= o <= 0xE0FFF)


def _space(ch):
    return ch in _ASCII_SPACE or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def normalize(text, split_punct=False):
    """ss_normalize with SS_NORM_NFKC (and SS_NORM_SPLIT_PUNCT), in Python."""
    kept = []
    for ch in text:
        if ch in _NEWLINES:
            kept.append(" ")
        elif unicodedata.category(ch) == "Cc" or _ignorable(ch):
            continue
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate: invalid UTF-8 in C
            kept.append("\ufffd")
        else:
            kept.append(ch)
    s = unicodedata.normalize("NFKC", "".join(kept))
    out, pending = [], False
    for ch in s:
        if _space(ch):
            pending = bool(out)
        else:
            p = split_punct and unicodedata.category(ch)[0] in "PS"
            if pending or (p and out):
                out.append(" ")
            pending = p
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------ model

class Model:
    """The GGUF's weights and tokenizer in PyTorch (float32, inference only)."""

    def __init__(self, path, threads):
        import numpy as np
        import sentencepiece as spm
        import torch
        import torch.nn.functional as F
        from torch_ref import Encoder, config_from_kv, pool, read_gguf

        self.np, self.torch, self.F, self.pool = np, torch, F, pool
        torch.set_num_threads(threads)
        kv, tensors = read_gguf(path)
        cfg = config_from_kv(kv)
        cfg["dropout"] = 0.0
        self.cfg = cfg
        self.name = os.path.basename(path)
        self.sp = spm.SentencePieceProcessor(model_proto=kv["tokenizer.semsearch.spm"])
        self.bos, self.eos = self.sp.bos_id(), self.sp.eos_id()
        self.pad = max(self.sp.pad_id(), 0)
        flags = kv.get("tokenizer.semsearch.norm_flags", 1)
        if flags & ~5:
            raise SystemExit("serve_peer.py: %s: tokenizer flags %d (casefold) not reproduced"
                             % (path, flags))
        self.nfkc = bool(flags & 1)
        self.split_punct = bool(flags & 4)  # SS_NORM_SPLIT_PUNCT
        out_norm = kv.get("semsearch.output_norm", 1)
        if cfg["n_layers"] == 0 and not out_norm:
            # a static model: token + position embeddings, pooled, L2-normalized
            self.wte = torch.from_numpy(tensors["token_embd.weight"].copy())
            self.wpe = torch.from_numpy(tensors["pos_embd.weight"].copy())
            self.encoder = None
        elif out_norm:
            self.encoder = Encoder(cfg, tensors)
            self.encoder.eval()
        else:
            raise SystemExit("serve_peer.py: %s: layers without an output norm: not in "
                             "tests/torch_ref.py" % path)

    def tokenize(self, text):
        if self.nfkc:
            text = normalize(text, self.split_punct)
        ids = self.sp.encode(text)
        extra = (self.bos >= 0) + (self.eos >= 0)
        ids = ids[:self.cfg["max_len"] - extra]
        return ([self.bos] if self.bos >= 0 else []) + ids + ([self.eos] if self.eos >= 0 else [])

    def embed(self, texts):
        """Returns (B, C) float32 numpy unit vectors and the token count."""
        torch = self.torch
        seqs = [self.tokenize(t) for t in texts]
        T = max(len(s) for s in seqs)
        ids = torch.tensor([s + [self.pad] * (T - len(s)) for s in seqs], dtype=torch.long)
        mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs], dtype=torch.bool)
        with torch.inference_mode():
            if self.encoder is not None:
                v = self.encoder(ids, mask)
            else:
                v = self.pool(self.wte[ids] + self.wpe[:T], mask, self.cfg["pooling"])
        return v.numpy(), sum(len(s) for s in seqs)


# ------------------------------------------------------------------ server

def make_app(model):
    from typing import List, Optional, Union

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    app = FastAPI()

    class EmbeddingRequest(BaseModel):
        input: Union[str, List[str]]
        model: Optional[str] = None
        encoding_format: Optional[str] = "float"

    def error(status, message, code):
        return JSONResponse(status_code=status, content={"error": {
            "message": message, "type": "invalid_request_error", "param": None, "code": code}})

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        return error(400, str(exc), "invalid_request")

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.post("/v1/embeddings")
    async def embeddings(req: EmbeddingRequest):
        texts = [req.input] if isinstance(req.input, str) else req.input
        if not texts:
            return error(400, "'input' is empty", "invalid_input")
        for i, t in enumerate(texts):
            if not t:
                return error(400, "'input'[%d] is empty" % i if len(texts) > 1 or
                             not isinstance(req.input, str) else "'input' is empty",
                             "invalid_input")
        fmt = req.encoding_format or "float"
        if fmt not in ("float", "base64"):
            return error(400, "'encoding_format' must be float or base64", "invalid_input")
        vecs, tokens = model.embed(texts)
        data = []
        for i, v in enumerate(vecs):
            emb = (base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")
                   if fmt == "base64" else v.tolist())
            data.append({"object": "embedding", "index": i, "embedding": emb})
        return {"object": "list", "data": data, "model": model.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    return app


def serve(args):
    import uvicorn

    model = Model(args.model, args.threads)
    app = make_app(model)
    # proto IPPROTO_TCP, as uvicorn's own sockets from getaddrinfo: asyncio
    # sets TCP_NODELAY on accepted sockets only then (else Nagle holds the
    # body h11 writes after the headers for the client's delayed ACK, 40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if args.reuseport:  # more processes on one port: the kernel spreads connections
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=2048)
    server = uvicorn.Server(config)

    orig_startup = server.startup

    async def startup(sockets=None):
        await orig_startup(sockets=sockets)
        print("serve_peer: serving on http://%s:%d (model %s, %d-d, torch %d thread(s))"
              % (args.host, port, model.name, model.cfg["d_model"], args.threads),
              file=sys.stderr, flush=True)
    server.startup = startup
    server.run(sockets=[sock])
    return 0


def compare(args):
    import numpy as np

    with open(args.lines, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    ref = np.fromfile(args.f32, dtype="<f4")
    ref = ref.reshape(len(lines), -1)
    body = json.dumps({"input": lines}).encode("utf-8")
    req = urllib.request.Request(args.url.rstrip("/") + "/v1/embeddings", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        got = json.load(r)
    vec = np.array([d["embedding"] for d in sorted(got["data"], key=lambda d: d["index"])],
                   dtype=np.float64)
    cos = (vec * ref).sum(axis=1) / (np.linalg.norm(vec, axis=1) * np.linalg.norm(ref, axis=1))
    diff = np.abs(vec - ref).max()
    print("compare: %d sentences, lowest cosine %.7f, largest difference %.2e"
          % (len(lines), cos.min(), diff))
    return 0 if cos.min() > 0.999 else 1


def main(argv):
    ap = argparse.ArgumentParser(prog="serve_peer.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("-m", "--model", default=os.path.join(HERE, "..", "models", "en-base.gguf"))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("-p", "--port", type=int, default=0)
    s.add_argument("-t", "--threads", type=int, default=1)
    s.add_argument("--reuseport", action="store_true",
                   help="SO_REUSEPORT: start several processes on one port (uvicorn --workers)")
    c = sub.add_parser("compare")
    c.add_argument("url")
    c.add_argument("lines")
    c.add_argument("f32")
    args = ap.parse_args(argv[1:])
    return serve(args) if args.cmd == "serve" else compare(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
