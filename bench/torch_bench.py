"""torch_bench.py: the PyTorch side of bench/encoder.sh.

    torch_bench.py train|infer THREADS B T SECONDS [f32|bf16]

THREADS 0 keeps PyTorch's default intra-op thread count. The model is
tests/torch_ref.py's Encoder with the default semsearch configuration
(d_model 256, 4 layers, 4 heads, FFN 1024, vocabulary 16000, dropout 0.1),
random weights and random token ids. A training step is what
ss__trainer_step does: forward of both sides with dropout, symmetric in-batch
InfoNCE, backward, global-norm clipping to 1.0, AdamW (no decay on LayerNorm
weights and biases). bf16: the same under torch.autocast("cpu", bfloat16),
PyTorch's own mixed precision (matrix products in bf16 through oneDNN).
Prints one key=value line like encoder_bench.
"""
import contextlib
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import torch  # noqa: E402
from torch_ref import Encoder, infonce  # noqa: E402

CFG = dict(vocab_size=16000, max_len=128, d_model=256, n_layers=4, n_heads=4, d_ff=1024,
           pooling="mean", dropout=0.1, eps=1e-5)


def forward_flops(B, T):
    C, F, L = CFG["d_model"], CFG["d_ff"], CFG["n_layers"]
    return B * T * (2 * (3 * C * C + C * C + 2 * C * F) + 4.0 * T * C) * L


def main(argv):
    mode, threads, B, T, secs = argv[1], int(argv[2]), int(argv[3]), int(argv[4]), float(argv[5])
    prec = argv[6] if len(argv) > 6 else "f32"
    amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if prec == "bf16" else contextlib.nullcontext
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Encoder(CFG, seed=1)
    ids_a = torch.randint(4, CFG["vocab_size"], (B, T))
    ids_b = torch.randint(4, CFG["vocab_size"], (B, T))
    mask = torch.ones(B, T, dtype=torch.bool)
    iters = 0
    if mode == "train":
        model.train()
        decay = [p for n, p in model.p.items() if p.dim() == 2]
        no_decay = [p for n, p in model.p.items() if p.dim() != 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=5e-4, betas=(0.9, 0.999), eps=1e-8)

        def step():
            opt.zero_grad(set_to_none=True)
            with amp():
                loss = infonce(model(ids_a, mask).float(), model(ids_b, mask).float(), 0.05)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        step()  # warm up
        t0 = time.perf_counter()
        while iters < 2 or time.perf_counter() - t0 < secs:
            step()
            iters += 1
        flops = 3 * 2 * forward_flops(B, T) * iters
    else:
        model.eval()
        with torch.inference_mode(), amp():
            model(ids_a, mask)
            t0 = time.perf_counter()
            while iters < 2 or time.perf_counter() - t0 < secs:
                model(ids_a, mask)
                iters += 1
        flops = forward_flops(B, T) * iters
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("side=torch what=%s prec=%s threads=%d B=%d T=%d iters=%d per_s=%.2f gflops=%.1f rss_mb=%.1f"
          % (mode, prec, torch.get_num_threads(), B, T, iters, iters * B / dt, flops / dt / 1e9, rss))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
