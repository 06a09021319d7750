"""Active learning on Livedoor titles (9 classes): labels needed to reach 95% of the
all-labels accuracy, per query strategy against random sampling, and the time of a
query round on the full pool.

Data: Livedoor news titles, split 80/10/10 by article id (stratified, seed 0); the
pool is the train part (5,894 titles), accuracy is measured on the test part. The
model is tsunagu.active's default, spaCy's TextCatBOW (uni+bigrams), retrained from
scratch every round; the reference is the same model trained on the whole pool.
Every seed starts from its own 50 random labels and then queries batches of 50.
Runs end when they reach the target (``--stop-at-target``, on by default: what is
measured is where they reach it), else at the budget.

Runs are resumable (one JSON per strategy and seed under OUT/runs); several
processes may share OUT with disjoint ``--strategies``; ``--report`` rebuilds the
summaries from all finished runs.

    python benchmarks/bench_active.py [--strategies margin random ...] [--seeds 0 1 2]
        [--batch 50] [--budget 4000] [--out benchmarks/out/active] [--report]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tsunagu.active.models import BowTextcat, DocCache
from tsunagu.active.simulate import SimulationSettings, labelled_records, run_simulations, stderr_log
from tsunagu.active.strategies import Pool, make_strategy
from tsunagu.corpora import read_livedoor
from tsunagu.splits import split_records

ROOT = Path(__file__).resolve().parents[1]
LIVEDOOR = ROOT.parent / "shared" / "data" / "livedoor" / "text"
ALL = ["margin", "random", "hybrid", "least_confidence", "entropy", "qbc", "coreset"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--livedoor", type=Path, default=LIVEDOOR)
    ap.add_argument("--strategies", nargs="+", default=ALL)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--seed-size", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--budget", type=int, default=4000)
    ap.add_argument("--no-stop-at-target", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "active")
    ap.add_argument("--report", action="store_true", help="only rebuild summaries and time queries")
    ap.add_argument("--timing-labels", type=int, default=1000,
                    help="labels of the model used to time one query round")
    args = ap.parse_args()

    records = labelled_records(read_livedoor(args.livedoor, fields="title"))
    parts = split_records(records, (0.8, 0.1, 0.1), seed=0)
    pool, test = parts["train"], parts["test"]
    labels = sorted({r.label for r in records})
    print(f"Livedoor titles: pool {len(pool)}, test {len(test)}, {len(labels)} labels", flush=True)
    settings = SimulationSettings(seed_size=args.seed_size, batch=args.batch, budget=args.budget,
                                  seeds=args.seeds, stop_at_target=not args.no_stop_at_target)
    texts, gold = [r.text for r in pool], [r.label for r in pool]
    cache = DocCache()
    t0 = time.perf_counter()
    cache.docs(texts + [r.text for r in test])
    print(f"tokenized {len(texts) + len(test)} titles in {time.perf_counter() - t0:.1f} s", flush=True)
    factory = lambda seed: BowTextcat(labels, cache=cache, seed=seed)  # noqa: E731
    if args.report:  # finished runs only: never compute new ones
        done = {json.loads(p.read_text())["strategy"] for p in (args.out / "runs").glob("*__seed*.json")}
        args.strategies = [s for s in ALL if s in done] + [s for s in sorted(done) if s not in ALL]
    summary = run_simulations(texts, gold, [r.text for r in test], [r.label for r in test], labels,
                              args.strategies, settings, args.out, model_factory=factory, log=stderr_log,
                              compute=not args.report)
    if args.report:
        summary["query_round_seconds"] = time_queries(args, texts, gold, labels, cache)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
        print_table(summary, settings)
    return 0


def time_queries(args, texts, gold, labels, cache) -> dict:
    """One query round (batch of ``--batch``) on the full pool, model trained on
    ``--timing-labels`` random labels; median of 3, strategies in turns."""
    rng = np.random.default_rng(0)
    idx = rng.choice(len(texts), args.timing_labels, replace=False)
    t0 = time.perf_counter()
    model = BowTextcat(labels, cache=cache).fit([texts[i] for i in idx], [gold[i] for i in idx])
    fit_s = time.perf_counter() - t0
    full = Pool([str(i) for i in range(len(texts))], texts)
    times: dict[str, list] = {s: [] for s in args.strategies}
    for _ in range(3):
        for spec in args.strategies:
            strategy = make_strategy(spec, seed=0)
            t0 = time.perf_counter()
            strategy.select(full, model, args.batch)
            times[spec].append(time.perf_counter() - t0)
    out = {s: statistics.median(v) for s, v in times.items()}
    out["_fit_seconds"] = fit_s
    return out


def print_table(summary: dict, settings: SimulationSettings) -> None:
    ref, target = summary["reference_accuracy"], summary["target_accuracy"]
    print(f"\nall-pool accuracy {ref:.3f}; target (95%) {target:.3f}; seeds {settings.seeds}; "
          f"seed set {settings.seed_size}, batch {settings.batch}, budget {settings.budget}")
    print("| strategy | labels to target per seed | mean | vs random | AUC (common range) | query round (s) |")
    print("|---|---|---|---|---|---|")
    q = summary.get("query_round_seconds", {})
    for spec, e in summary["strategies"].items():
        per = ", ".join(str(v) if v is not None else f">{settings.budget}" for v in e["labels_to_target"])
        mean = e.get("labels_to_target_mean")
        frac = e.get("fraction_of_random")
        print(f"| {spec} | {per} | {mean:.0f} |" if mean else f"| {spec} | {per} | - |", end="")
        print(f" {frac:.0%} |" if frac else " - |", f"{e['auc_mean']:.3f} (to {e['labels'][-1]}) |",
              f"{q.get(spec, float('nan')):.2f} |")
    print(f"(query round = scoring and choosing {settings.batch} of the full pool with a model trained "
          f"on 1000 labels, fit {q.get('_fit_seconds', float('nan')):.2f} s, not included)")


if __name__ == "__main__":
    sys.exit(main())
