"""Simulated active learning: the loop replayed with gold labels as the oracle.

For each strategy and seed: label ``seed_size`` random pool examples, then repeat
{train from scratch, evaluate on the test part, ask the strategy for ``batch``
more, reveal their gold labels} until ``budget`` labels. The learning curve
(accuracy against labels) is averaged over seeds; its area, normalized by the
width of the label range, is the mean accuracy over the run (higher is better).

Without ``--test``, the gold records are split by :func:`tsunagu.splits.split_records`,
the rule ``tsunagu corpus to-spacy`` splits by: the pool is the train part, and
the test part is the test set of the DocBins written from the same records and
seed.

The stopping criterion (:class:`~tsunagu.active.strategies.StabilizingPredictions`)
is tracked on a fixed random stop set of unlabelled pool examples, and the round
at which it would have stopped is recorded.

Every (strategy, seed) run is written to ``DIR/runs/`` atomically when it ends; a
re-run of the same command skips finished runs, so an interrupted simulation
resumes. The CSV, JSON and PNG summaries are rebuilt from the runs each time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..atomic import atomic_file, write_atomically
from ..splits import split_records  # noqa: F401  (re-exported: the split `al simulate` uses)
from .errors import ActiveLearningError
from .strategies import Pool, StabilizingPredictions, make_strategy

FORMAT_VERSION = 1


@dataclass
class SimulationSettings:
    seed_size: int = 50
    batch: int = 50
    budget: int = 1000
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    stop_set_size: int = 500
    stop_threshold: float = 0.99
    stop_window: int = 3
    target_fraction: float = 0.95
    reference: bool = True  # train on the whole pool too: the accuracy to reach
    stop_at_target: bool = False  # end a run once it reaches the target accuracy
    model: dict[str, Any] = field(default_factory=dict)  # BowTextcat settings
    model_dir: Optional[str] = None

    def validate(self) -> "SimulationSettings":
        if self.seed_size < 1 or self.batch < 1:
            raise ActiveLearningError("seed size and batch must be at least 1")
        if self.budget < self.seed_size:
            raise ActiveLearningError(f"budget ({self.budget}) is below the seed size ({self.seed_size})")
        if not self.seeds:
            raise ActiveLearningError("give at least one seed")
        return self


# --------------------------------------------------------------------------- data


def labelled_records(items) -> list:
    """Records with exactly one label (single-label classification)."""
    out = [r for r in items if hasattr(r, "labels") and isinstance(r.text, str) and r.text.strip()
           and len(r.labels) == 1]
    if not out:
        raise ActiveLearningError("the gold corpus has no single-labelled records")
    return out


# --------------------------------------------------------------------------- loop


def simulate_run(pool_texts: list[str], pool_labels: list[str], test_texts: list[str],
                 test_labels: list[str], labels: list[str], strategy_spec: str,
                 model_factory: Callable[[int], Any], settings: SimulationSettings, seed: int,
                 progress: Optional[Callable[[str], None]] = None,
                 target: Optional[float] = None) -> dict[str, Any]:
    """One seed of one strategy; returns the curve and timings. With ``target``
    the run ends at the first round whose accuracy reaches it."""
    n = len(pool_texts)
    rng = np.random.default_rng(seed)
    labelled = [int(i) for i in rng.choice(n, min(settings.seed_size, n), replace=False)]
    in_labelled = np.zeros(n, dtype=bool)
    in_labelled[labelled] = True
    stop_idx = rng.choice(n, min(settings.stop_set_size, n), replace=False)
    stop_texts = [pool_texts[i] for i in stop_idx]
    stopper = StabilizingPredictions(settings.stop_threshold, settings.stop_window)
    strategy = make_strategy(strategy_spec, seed=seed)
    test_y = np.array(test_labels)
    ids = [str(i) for i in range(n)]
    rows, stopped_at = [], None
    while True:
        t0 = time.perf_counter()
        model = model_factory(seed).fit([pool_texts[i] for i in labelled], [pool_labels[i] for i in labelled])
        fit_s = time.perf_counter() - t0
        accuracy = float(np.mean(np.array(model.predict(test_texts)) == test_y))
        stop = stopper.update(model.predict_proba(stop_texts).argmax(axis=1))
        if stop and stopped_at is None:
            stopped_at = len(labelled)
        row = {"labels": len(labelled), "accuracy": accuracy,
               "kappa": stopper.kappas[-1] if stopper.kappas else None,
               "fit_seconds": fit_s, "query_seconds": None}
        rows.append(row)
        if progress:
            progress(f"{strategy_spec} seed {seed}: {len(labelled)} labels, accuracy {accuracy:.3f}")
        if len(labelled) >= settings.budget or in_labelled.all():
            break
        if target is not None and accuracy >= target:
            break
        remaining = np.flatnonzero(~in_labelled)
        pool = Pool([ids[i] for i in remaining], [pool_texts[i] for i in remaining])
        t0 = time.perf_counter()
        chosen = strategy.select(pool, model, min(settings.batch, settings.budget - len(labelled)))
        row["query_seconds"] = time.perf_counter() - t0
        for c in chosen:
            i = int(c)
            if in_labelled[i]:
                raise ActiveLearningError(f"strategy {strategy_spec} chose a labelled example")
            in_labelled[i] = True
            labelled.append(i)
    return {"strategy": strategy_spec, "seed": seed, "curve": rows, "stopped_at": stopped_at}


def reference_accuracy(pool_texts, pool_labels, test_texts, test_labels, model_factory, seed: int) -> float:
    model = model_factory(seed).fit(pool_texts, pool_labels)
    return float(np.mean(np.array(model.predict(test_texts)) == np.array(test_labels)))


def labels_to_reach(curve: list[dict], target: float) -> Optional[int]:
    """The first label count whose accuracy is at least ``target`` (None: never)."""
    for row in curve:
        if row["accuracy"] >= target:
            return row["labels"]
    return None


def area_under_curve(x: Sequence[float], y: Sequence[float]) -> float:
    """Trapezoidal area under y(x), divided by the x range: the mean accuracy."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x[-1] == x[0]:
        return float(y[0]) if len(y) else 0.0
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) / (x[-1] - x[0]))


# --------------------------------------------------------------------------- driver


def run_simulations(pool_texts: list[str], pool_labels: list[str], test_texts: list[str],
                    test_labels: list[str], labels: list[str], strategies: Sequence[str],
                    settings: SimulationSettings, out_dir: Path, *, model_factory=None,
                    overwrite: bool = False, log: Optional[Callable[[str], None]] = None,
                    compute: bool = True) -> dict[str, Any]:
    """All strategies x seeds, resumable, then the summaries in ``out_dir``.
    ``compute=False`` summarizes the finished runs only."""
    settings.validate()
    for spec in strategies:
        make_strategy(spec)  # fail before any work on a bad name
    out_dir = Path(out_dir)
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    data_digest = hashlib.sha1(json.dumps([pool_texts, pool_labels, test_texts, test_labels],
                                          ensure_ascii=False).encode()).hexdigest()[:16]
    config = {"format": FORMAT_VERSION, "data": data_digest, "labels": labels,
              "settings": {k: v for k, v in asdict(settings).items() if k != "seeds"}}
    config_path = out_dir / "config.json"
    if config_path.exists() and not overwrite:
        old = json.loads(config_path.read_text())
        if old != config:
            raise ActiveLearningError(f"{out_dir} holds a simulation with other data or settings; "
                                      "use another directory or --overwrite")
    elif overwrite:
        for f in runs_dir.glob("*.json"):
            f.unlink()
    atomic_write_text(config_path, json.dumps(config, indent=2, ensure_ascii=False))
    if model_factory is None:
        model_factory = default_model_factory(labels, settings)

    reference = None
    if settings.reference:
        ref_path = runs_dir / "reference.json"
        if ref_path.exists():
            reference = json.loads(ref_path.read_text())
        else:
            accs = []
            for seed in settings.seeds:
                t0 = time.perf_counter()
                accs.append(reference_accuracy(pool_texts, pool_labels, test_texts, test_labels,
                                               model_factory, seed))
                if log:
                    log(f"reference (all {len(pool_texts)} pool labels) seed {seed}: accuracy "
                        f"{accs[-1]:.3f} ({time.perf_counter() - t0:.1f} s)")
            reference = {"accuracies": accs, "mean": float(np.mean(accs)), "labels": len(pool_texts)}
            atomic_write_text(ref_path, json.dumps(reference))

    runs = []
    for spec in strategies:
        for seed in settings.seeds:
            path = runs_dir / f"{_slug(spec)}__seed{seed}.json"
            if path.exists():
                runs.append(json.loads(path.read_text()))
                continue
            if not compute:
                continue
            t0 = time.perf_counter()
            target = (reference["mean"] * settings.target_fraction
                      if settings.stop_at_target and reference else None)
            run = simulate_run(pool_texts, pool_labels, test_texts, test_labels, labels, spec,
                               model_factory, settings, seed, target=target)
            run["seconds"] = time.perf_counter() - t0
            atomic_write_text(path, json.dumps(run))
            runs.append(run)
            if log:
                last = run["curve"][-1]
                log(f"{spec} seed {seed}: {last['labels']} labels, accuracy {last['accuracy']:.3f}, "
                    f"{run['seconds']:.0f} s")
    summary = summarize(runs, reference, settings)
    write_outputs(out_dir, runs, summary, reference, settings)
    return summary


def default_model_factory(labels, settings: SimulationSettings):
    from .models import BowTextcat, DocCache, PipelineClassifier

    if settings.model_dir:
        base = PipelineClassifier(Path(settings.model_dir), labels, **settings.model)
        return lambda seed: base.clone(seed=seed)
    cache = DocCache()
    return lambda seed: BowTextcat(labels, cache=cache, seed=seed, **settings.model)


def summarize(runs: list[dict], reference: Optional[dict], settings: SimulationSettings) -> dict[str, Any]:
    target = reference["mean"] * settings.target_fraction if reference else None
    out: dict[str, Any] = {"reference_accuracy": reference["mean"] if reference else None,
                           "target_accuracy": target, "strategies": {}}
    by_strategy: dict[str, list] = defaultdict(list)
    for run in runs:
        by_strategy[run["strategy"]].append(run)
    for spec, group in by_strategy.items():
        # runs may end early (stop_at_target): average over the rounds all seeds have
        rounds = min(len(r["curve"]) for r in group)
        xs = [r["labels"] for r in group[0]["curve"]][:rounds]
        accs = np.array([[row["accuracy"] for row in r["curve"][:rounds]] for r in group])
        mean, std = accs.mean(axis=0), accs.std(axis=0)
        aucs = [area_under_curve(xs, a) for a in accs]
        query = [row["query_seconds"] for r in group for row in r["curve"] if row["query_seconds"] is not None]
        fit = [row["fit_seconds"] for r in group for row in r["curve"]]
        entry = {
            "seeds": [r["seed"] for r in group], "labels": xs,
            "mean": mean.round(5).tolist(), "std": std.round(5).tolist(),
            "auc_mean": float(np.mean(aucs)), "auc_std": float(np.std(aucs)),
            "auc_of_mean_curve": area_under_curve(xs, mean),
            "query_seconds_mean": float(np.mean(query)) if query else None,
            "fit_seconds_mean": float(np.mean(fit)),
            "stopped_at": [r["stopped_at"] for r in group],
        }
        if target is not None:
            reach = [labels_to_reach(r["curve"], target) for r in group]
            entry["labels_to_target"] = reach
            entry["labels_to_target_mean"] = (float(np.mean(reach)) if all(v is not None for v in reach)
                                              else None)
        out["strategies"][spec] = entry
    rand = out["strategies"].get("random", {}).get("labels_to_target_mean")
    if rand:
        for entry in out["strategies"].values():
            m = entry.get("labels_to_target_mean")
            entry["fraction_of_random"] = m / rand if m else None
    return out


def write_outputs(out_dir: Path, runs, summary, reference, settings) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["strategy", "seed", "labels", "accuracy", "kappa", "fit_seconds", "query_seconds"])
    for run in runs:
        for row in run["curve"]:
            w.writerow([run["strategy"], run["seed"], row["labels"], f"{row['accuracy']:.5f}",
                        "" if row["kappa"] is None else f"{row['kappa']:.5f}", f"{row['fit_seconds']:.4f}",
                        "" if row["query_seconds"] is None else f"{row['query_seconds']:.4f}"])
    atomic_write_text(out_dir / "curves.csv", buf.getvalue())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["strategy", "labels", "accuracy_mean", "accuracy_std", "seeds"])
    for spec, e in summary["strategies"].items():
        for x, m, s in zip(e["labels"], e["mean"], e["std"]):
            w.writerow([spec, x, f"{m:.5f}", f"{s:.5f}", len(e["seeds"])])
    atomic_write_text(out_dir / "learning_curve.csv", buf.getvalue())
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    plot_curves(out_dir / "learning_curve.png", summary, settings)


def plot_curves(path: Path, summary: dict, settings: SimulationSettings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for spec, e in summary["strategies"].items():
        x, m, s = np.array(e["labels"]), np.array(e["mean"]), np.array(e["std"])
        ax.plot(x, m, label=f"{spec} (AUC {e['auc_mean']:.3f})")
        ax.fill_between(x, m - s, m + s, alpha=0.2)
    if summary.get("reference_accuracy"):
        ax.axhline(summary["reference_accuracy"], color="k", lw=0.8, ls="--", label="all pool labels")
        ax.axhline(summary["target_accuracy"], color="grey", lw=0.8, ls=":",
                   label=f"{settings.target_fraction:.0%} of it")
    ax.set_xlabel("labelled examples")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Active learning: mean ± std over {len(settings.seeds)} seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    try:
        with atomic_file(path, "wb") as f:
            fig.savefig(f, format="png", dpi=110)
    finally:
        plt.close(fig)


def atomic_write_text(path: Path, text: str) -> None:
    write_atomically(Path(path), text.encode("utf-8"))


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_=." else "_" for c in spec)


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
