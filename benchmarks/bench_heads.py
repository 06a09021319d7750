"""Time per training step (forward + backward) of each large-output head against the
full softmax and torch.nn.AdaptiveLogSoftmaxWithLoss, in the same run.

Classes follow a Zipf distribution (counts 1/rank), as words do; hidden 256, batch
512 by default. Heads are timed in turns (round robin) so that any background load
falls on all of them alike; the median of ``--steps`` steps is reported.

    python benchmarks/bench_heads.py [--vocab 10000 100000 500000] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tsunagu.heads import make_head

CONFIGS = [
    ("full", {}),
    ("hierarchical", {"sparse": True}),
    ("hierarchical", {"sparse": True, "tree": "balanced"}),
    ("negative", {"sparse": True, "n_samples": 5}),
    ("nce", {"sparse": True, "n_samples": 20}),
    ("sampled", {"sparse": True, "n_samples": 1024}),
    ("hierarchical", {}),
    ("negative", {"n_samples": 5}),
]


class Adaptive(torch.nn.Module):
    """The peer: torch's adaptive softmax (Grave et al. 2017), cutoffs at 2% and 20%."""

    def __init__(self, hidden: int, n: int) -> None:
        super().__init__()
        self.m = torch.nn.AdaptiveLogSoftmaxWithLoss(hidden, n, cutoffs=[n // 50, n // 5], div_value=4.0)

    def loss(self, hidden, target):
        return self.m(hidden, target).loss


def label(kind: str, options: dict) -> str:
    extra = [f"{k}={v}" for k, v in options.items() if k != "sparse"]
    if options.get("sparse"):
        extra.append("sparse grads")
    return kind + (f" ({', '.join(extra)})" if extra else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads; hidden {args.hidden}, batch {args.batch}; "
          f"median of {args.steps} steps (forward + backward, gradients cleared in between)")
    for n in args.vocab:
        counts = 1.0 / torch.arange(1, n + 1, dtype=torch.float64)
        heads = [(label(k, o), make_head(k, args.hidden, n, counts=counts, **o)) for k, o in CONFIGS]
        heads.append(("torch AdaptiveLogSoftmaxWithLoss", Adaptive(args.hidden, n)))
        hidden = torch.randn(args.batch, args.hidden, requires_grad=True)
        target = torch.multinomial((counts / counts.sum()).float(), args.batch, replacement=True)
        times: dict[str, list[float]] = {name: [] for name, _ in heads}
        for step in range(args.steps + 1):
            for name, head in heads:
                head.zero_grad(set_to_none=True)
                hidden.grad = None
                start = time.perf_counter()
                head.loss(hidden, target).backward()
                if step:  # the first round warms up allocators and caches
                    times[name].append(time.perf_counter() - start)
        full = statistics.median(times[heads[0][0]])
        print(f"\nvocabulary {n:,}")
        for name, _ in heads:
            t = statistics.median(times[name])
            print(f"  {name:<42} {t * 1000:9.1f} ms   {full / t:6.1f}x vs full softmax")
        del heads


if __name__ == "__main__":
    main()
