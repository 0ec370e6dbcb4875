"""torch_ref.py: the semsearch encoder in PyTorch, as a reference.

Used by tests/torch-parity.sh (embeddings, loss and every parameter gradient
of the InfoNCE loss must agree with the C implementation) and by
bench/encoder.sh (the PyTorch side of the benchmark).

The architecture follows src/nn/encoder.h: token + learned position embeddings,
pre-LayerNorm blocks (fused qkv, key padding mask, GELU with the tanh
approximation), a final LayerNorm, mean/CLS/max/mean+max pooling over real tokens,
L2 normalization; dropout on embeddings, attention probabilities and both
residual branches. Weights come from a semsearch GGUF file (f32 or f16),
read by the small pure-Python reader below.

    python3 torch_ref.py DIR...    compare against parity_dump output in DIR
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

# ------------------------------------------------------------------ GGUF

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_GGML = {0: (np.float32, 4), 1: (np.float16, 2)}


class _Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.o)[0]
        self.o += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.d[self.o:self.o + n].decode("utf-8")
        self.o += n
        return s

    def value(self, t):
        if t in _SCALARS:
            return self.take(_SCALARS[t])
        if t == _STRING:
            return self.string()
        if t == _ARRAY:
            et, n = self.take("<I"), self.take("<Q")
            if et == 0:  # u8 blobs (the tokenizer) as bytes
                v = bytes(self.d[self.o:self.o + n])
                self.o += n
                return v
            return [self.value(et) for _ in range(n)]
        raise ValueError("GGUF: unknown value type %d" % t)


def read_gguf(path):
    """Returns (key/values, {name: numpy array}) with C (row-major) shapes."""
    with open(path, "rb") as f:
        data = f.read()
    r = _Reader(data)
    if data[:4] != b"GGUF":
        raise ValueError("%s: not a GGUF file" % path)
    r.o = 4
    version = r.take("<I")
    if version != 3:
        raise ValueError("%s: GGUF version %d" % (path, version))
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    kv = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        ttype, off = r.take("<I"), r.take("<Q")
        infos.append((name, dims[::-1], ttype, off))  # GGUF lists dims fastest first
    align = kv.get("general.alignment", 32)
    start = (r.o + align - 1) // align * align
    tensors = {}
    for name, shape, ttype, off in infos:
        dt, size = _GGML[ttype]
        n = int(np.prod(shape))
        a = np.frombuffer(data, dtype=dt, count=n, offset=start + off)
        tensors[name] = a.astype(np.float32).reshape(shape)
    return kv, tensors


def config_from_kv(kv):
    return dict(vocab_size=kv["semsearch.vocab_size"], max_len=kv["semsearch.context_length"],
                d_model=kv["semsearch.embedding_length"], n_layers=kv["semsearch.block_count"],
                n_heads=kv["semsearch.attention.head_count"],
                d_ff=kv["semsearch.feed_forward_length"],
                pooling=kv.get("semsearch.pooling", "mean"),
                dropout=kv.get("semsearch.dropout", 0.1),
                eps=kv.get("semsearch.attention.layer_norm_epsilon", 1e-5))

# ------------------------------------------------------------------ model


def tensor_names(cfg):
    """The tensor order of the parameter buffer (= ss__model_tensors)."""
    names = ["token_embd.weight", "pos_embd.weight"]
    for l in range(cfg["n_layers"]):
        for t in ("ln1.weight", "ln1.bias", "attn_qkv.weight", "attn_qkv.bias",
                  "attn_out.weight", "attn_out.bias", "ln2.weight", "ln2.bias",
                  "ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias"):
            names.append("blk.%d.%s" % (l, t))
    return names + ["out_norm.weight", "out_norm.bias"]


def tensor_shapes(cfg):
    V, L, C, F_ = cfg["vocab_size"], cfg["max_len"], cfg["d_model"], cfg["d_ff"]
    blk = {"ln1.weight": (C,), "ln1.bias": (C,), "attn_qkv.weight": (3 * C, C),
           "attn_qkv.bias": (3 * C,), "attn_out.weight": (C, C), "attn_out.bias": (C,),
           "ln2.weight": (C,), "ln2.bias": (C,), "ffn_up.weight": (F_, C), "ffn_up.bias": (F_,),
           "ffn_down.weight": (C, F_), "ffn_down.bias": (C,)}
    out = {"token_embd.weight": (V, C), "pos_embd.weight": (L, C),
           "out_norm.weight": (C,), "out_norm.bias": (C,)}
    for name in tensor_names(cfg):
        if name.startswith("blk."):
            out[name] = blk[name.split(".", 2)[2]]
    return out


class Encoder(torch.nn.Module):
    """Parameters are held in a dict keyed by the GGUF tensor names."""

    def __init__(self, cfg, tensors=None, dtype=torch.float32, seed=0):
        super().__init__()
        self.cfg = cfg
        gen = torch.Generator().manual_seed(seed)
        self.p = torch.nn.ParameterDict()
        for name, shape in tensor_shapes(cfg).items():
            if tensors is not None:
                t = torch.from_numpy(np.array(tensors[name], dtype=np.float32))
            elif name.endswith(".bias"):
                t = torch.zeros(shape)
            elif ".ln" in name or name.startswith("out_norm"):
                t = torch.ones(shape)
            else:
                t = torch.randn(shape, generator=gen) * 0.02
            # ParameterDict keys may not contain '.'
            self.p[name.replace(".", "_")] = torch.nn.Parameter(t.to(dtype))

    def w(self, name):
        return self.p[name.replace(".", "_")]

    def forward(self, ids, mask):
        """ids (B,T) long, mask (B,T) bool -> (B,C) unit vectors."""
        cfg = self.cfg
        B, T = ids.shape
        C, NH = cfg["d_model"], cfg["n_heads"]
        hs = C // NH
        p = cfg["dropout"] if self.training else 0.0
        eps = cfg["eps"]
        x = self.w("token_embd.weight")[ids] + self.w("pos_embd.weight")[:T]
        x = F.dropout(x, p, self.training)
        keymask = ~mask[:, None, None, :]  # (B,1,1,T): True where the key is padding
        for l in range(cfg["n_layers"]):
            pre = "blk.%d." % l
            h = F.layer_norm(x, (C,), self.w(pre + "ln1.weight"), self.w(pre + "ln1.bias"), eps)
            qkv = F.linear(h, self.w(pre + "attn_qkv.weight"), self.w(pre + "attn_qkv.bias"))
            q, k, v = qkv.split(C, dim=-1)
            q = q.view(B, T, NH, hs).transpose(1, 2)
            k = k.view(B, T, NH, hs).transpose(1, 2)
            v = v.view(B, T, NH, hs).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            att = att.masked_fill(keymask, float("-inf")).softmax(dim=-1)
            att = F.dropout(att, p, self.training)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            y = F.linear(y, self.w(pre + "attn_out.weight"), self.w(pre + "attn_out.bias"))
            x = x + F.dropout(y, p, self.training)
            h = F.layer_norm(x, (C,), self.w(pre + "ln2.weight"), self.w(pre + "ln2.bias"), eps)
            h = F.gelu(F.linear(h, self.w(pre + "ffn_up.weight"), self.w(pre + "ffn_up.bias")),
                       approximate="tanh")
            h = F.linear(h, self.w(pre + "ffn_down.weight"), self.w(pre + "ffn_down.bias"))
            x = x + F.dropout(h, p, self.training)
        x = F.layer_norm(x, (C,), self.w("out_norm.weight"), self.w("out_norm.bias"), eps)
        return pool(x, mask, cfg["pooling"])


def pool(x, mask, pooling):
    """(B, T, C) token vectors, (B, T) mask -> (B, D) unit vectors: mean, cls, max, or
    meanmax (the mean and the max each normalized, side by side, / sqrt 2: D = 2C)."""
    def unit(v):
        return F.normalize(v, p=2.0, dim=-1, eps=1e-12)
    if pooling == "cls":
        return unit(x[:, 0])
    m = mask[:, :, None].to(x.dtype)
    mean = (x * m).sum(dim=1) / m.sum(dim=1)
    mx = x.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values
    if pooling == "max":
        return unit(mx)
    if pooling == "meanmax":
        return torch.cat([unit(mean), unit(mx)], dim=-1) / math.sqrt(2.0)
    return unit(mean)


def infonce(a, b, temperature, symmetric=True):
    logits = a @ b.t() / temperature
    target = torch.arange(a.shape[0])
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.t(), target))
    return loss

# ------------------------------------------------------------------ parity


def _read_batches(path):
    with open(path) as f:
        lines = f.read().split("\n")
    B, Ta, Tb, temp = lines[0].split()
    B, Ta, Tb, temp = int(B), int(Ta), int(Tb), float(temp)
    rows = [[int(v) for v in ln.split()] for ln in lines[1:1 + 4 * B]]
    ids_a, mask_a = rows[0:B], rows[B:2 * B]
    ids_b, mask_b = rows[2 * B:3 * B], rows[3 * B:4 * B]
    return (torch.tensor(ids_a), torch.tensor(mask_a).bool(), torch.tensor(ids_b),
            torch.tensor(mask_b).bool(), temp)


def parity(d, tap):
    """Compares the C results in directory d with PyTorch (float64)."""
    kv, tensors = read_gguf(d + "/model.gguf")
    cfg = config_from_kv(kv)
    cfg["dropout"] = 0.0
    pool = cfg["pooling"]
    model = Encoder(cfg, tensors, dtype=torch.float64)
    model.eval()
    ids_a, mask_a, ids_b, mask_b, temp = _read_batches(d + "/batch.txt")
    ea, eb = model(ids_a, mask_a), model(ids_b, mask_b)
    loss = infonce(ea, eb, temp)
    loss.backward()
    C, B = ea.shape[1], ids_a.shape[0]  # the vectors: 2 d_model wide for meanmax
    ca = np.fromfile(d + "/emb_a.f32", dtype="<f4").reshape(B, C)
    cb = np.fromfile(d + "/emb_b.f32", dtype="<f4").reshape(B, C)
    diff = max(np.abs(ca - ea.detach().numpy()).max(), np.abs(cb - eb.detach().numpy()).max())
    tap(diff <= 1e-5, "%s pooling: embeddings agree with PyTorch (max diff %.2e)" % (pool, diff))
    with open(d + "/loss.txt") as f:
        closs = float(f.read())
    ld = abs(closs - loss.item())
    tap(ld <= 1e-5 * max(1.0, abs(loss.item())),
        "%s pooling: InfoNCE loss agrees (%.8f vs %.8f)" % (pool, closs, loss.item()))
    grads = np.fromfile(d + "/grads.f32", dtype="<f4")
    off, worst, worst_name, bad = 0, 0.0, "", []
    shapes = tensor_shapes(cfg)
    for name in tensor_names(cfg):
        n = int(np.prod(shapes[name]))
        g_c = grads[off:off + n].astype(np.float64)
        g_t = model.w(name).grad.detach().numpy().reshape(-1)
        off += n
        scale = np.abs(g_t).max()
        err = np.abs(g_c - g_t).max() / scale if scale > 0 else np.abs(g_c).max()
        if err > worst:
            worst, worst_name = err, name
        if not err <= 1e-4:
            bad.append("%s %.2e" % (name, err))
    tap(off == grads.size, "%s pooling: gradient buffer size matches (%d floats)" % (pool, off))
    tap(not bad, "%s pooling: every parameter gradient agrees to 1e-4 relative "
        "(worst %.2e in %s)%s" % (pool, worst, worst_name, (": " + ", ".join(bad)) if bad else ""))


def main(argv):
    n, failed = [0], [0]

    def tap(cond, what):
        n[0] += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", n[0], what))
        if not cond:
            failed[0] += 1

    torch.set_num_threads(1)
    for d in argv[1:]:
        parity(d, tap)
    print("1..%d" % n[0])
    return 1 if failed[0] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
