"""Build a polarity lexicon from WordNet with the spin model, and evaluate lexicons."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy

from .lexicon import Lexicon, LexiconError, read_lexicon
from .field import DEFAULT_STRENGTH, DEFAULT_TOP
from .network import Network
from .spin import SpinResult, magnetization_curve, mean_field, select_beta

TURNEY_LITTMAN_SEEDS = {w: 1 for w in "good nice excellent positive fortunate correct superior".split()}
TURNEY_LITTMAN_SEEDS.update({w: -1 for w in "bad nasty poor negative unfortunate wrong inferior".split()})
DEFAULT_BETAS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05)
BETA_SELECTION = ("magnetization", "loo")
# A field solve gets this many times the field-free iterations. Where it converges
# it takes a few hundred (the joint Japanese network: ~170 at β 0.95); where it does
# not, it oscillates for ever, and every iteration of a million-word network costs
# 50 ms, so the cap decides how soon β steps down.
FIELD_SOLVE_FACTOR = 1.25


@dataclass
class BuildResult:
    lexicon: Lexicon
    beta: float
    curve: list = field(default_factory=list)  # (beta, magnetization, loo_error or None)
    solution: Optional[SpinResult] = None  # every word's spin, the written ones and the rest
    words: list = field(default_factory=list)  # the network's words, in the order of solution.spins

    def scores(self, select: Optional[Callable[[str], bool]] = None) -> dict:
        """word -> spin for every oriented network word (or those ``select`` keeps)."""
        return {w: float(x) for w, x in zip(self.words, self.solution.spins)
                if x != 0 and (select is None or select(w))}


def build_lexicon(network: Network, seeds: dict[str, int], *, betas: Sequence[float] = DEFAULT_BETAS,
                  beta: Optional[float] = None, select: str = "magnetization",
                  source: Union[str, Sequence[str]] = "", max_iter: int = 400,
                  only: Optional[set] = None, field_vectors=None,
                  field_strength: float = DEFAULT_STRENGTH, field_top: int = DEFAULT_TOP,
                  fields: Sequence[tuple] = (), drop_quantile: float = 0.0,
                  log: Optional[Callable[[str], None]] = None) -> BuildResult:
    """Solve the spin model on ``network`` with ``seeds`` and return the lexicon.

    beta: a fixed β; otherwise one of ``betas`` chosen by ``select``: the largest β
    whose magnetization stays near 0 (Takamura et al.), or the smallest
    leave-one-out error on the seeds (ties: the larger β). ``only``: the words to
    write (e.g. the Japanese lemmas of a bilingual network); default all.

    field_vectors: word vectors (gensim ``KeyedVectors``) for an external field
    (``tsunagu.lexicons.field``): β is chosen on the field-free model, then the
    model is solved again at that β with the field of strength ``field_strength``
    learnt from the seeds and the ``field_top`` most confident words.

    fields: several such fields, ``(keyed_vectors, strength, name)``, learnt in turn,
    each from the solution with the fields before it (English vectors orient the
    English words, whose confident spins then teach a classifier on Japanese vectors).
    A field solve that does not converge is no solution: β then steps down the grid
    (near the critical β the field slows the fixed point until it never settles).

    drop_quantile: leave out the written words whose |score| is in this lowest
    quantile: too little evidence reached them for their sign to mean much
    (benchmarks/RESULTS.md: accuracy by |score| decile)."""
    if select not in BETA_SELECTION:
        raise LexiconError(f"beta selection must be one of {', '.join(BETA_SELECTION)}, not {select!r}.")
    missing = sorted(w for w in seeds if w not in network.words)
    if missing:
        raise LexiconError(f"Seed words not in the network: {', '.join(missing)}")
    if len({v for v in seeds.values()}) < 2:
        raise LexiconError("Seeds need both positive and negative words.")
    weights = network.weights()
    index = {network.words[w]: float(v) for w, v in seeds.items()}
    grid = [beta] if beta is not None else list(betas)
    results = magnetization_curve(weights, index, grid, max_iter=max_iter)
    loo = [_loo_error(weights, index, r, max_iter) for r in results] if select == "loo" and beta is None else None
    if beta is not None:
        chosen = results[0]
    elif select == "loo":
        best = min(loo)
        chosen = max((r for r, e in zip(results, loo) if e == best), key=lambda r: r.beta)
    else:
        chosen = select_beta(results)
    curve = [(r.beta, r.magnetization, loo[k] if loo else None) for k, r in enumerate(results)]
    words = network.index_to_word
    fields = list(fields)
    if field_vectors is not None and field_strength > 0:
        fields.insert(0, (field_vectors, field_strength, "vectors"))
    field_notes: list[str] = []
    stepped = ""
    if fields:
        candidates = [chosen] if beta is not None else sorted(
            (r for r in results if r.beta <= chosen.beta), key=lambda r: -r.beta)
        for k, start in enumerate(candidates):
            solved, field_notes = _solve_with_fields(weights, words, index, start, fields, field_top,
                                                     int(FIELD_SOLVE_FACTOR * max_iter), log)
            if solved.converged or k == len(candidates) - 1:
                break
            if log:
                log(f"  the field solve at beta {start.beta} did not converge; trying beta {candidates[k + 1].beta}")
        if solved.beta != chosen.beta:
            stepped = f"; the field solve at beta {chosen.beta} did not converge, so beta stepped down"
        chosen = solved
    entries = {}
    for i, x in enumerate(chosen.spins):
        if x == 0 or (only is not None and words[i] not in only):
            continue  # not connected to any seed (no evidence), or not asked for
        tags = network.pos.get(words[i], set())
        entries[(words[i], next(iter(tags)) if len(tags) == 1 else "*")] = float(numpy.clip(x, -1, 1))
    threshold_note = None
    if drop_quantile > 0 and entries:
        if not 0 < drop_quantile < 1:
            raise LexiconError(f"drop_quantile must be in [0, 1), not {drop_quantile}.")
        cut = float(numpy.quantile(numpy.abs(list(entries.values())), drop_quantile))
        kept = {key: v for key, v in entries.items() if abs(v) > cut}
        threshold_note = (f"threshold: the {drop_quantile:.0%} of words with the smallest |score| (<= {cut:.3g}) "
                          f"left out as too weakly connected to orient ({len(entries) - len(kept):,} words)")
        entries = kept
    sources = [source] if isinstance(source, str) else list(source)
    header = [
        "tsunagu polarity lexicon (spin model, Takamura, Inui & Okumura 2005)",
        *[f"source: {s}" for s in sources if s],
        f"network: {len(network.words)} words, {len(network.links)} links",
        "seeds: " + ", ".join(f"{w}{'+' if v > 0 else '-'}" for w, v in sorted(seeds.items())),
        f"beta: {chosen.beta} ({'fixed' if beta is not None else 'selected by ' + select}{stepped}); "
        f"magnetization {chosen.magnetization:+.5f}",
        *field_notes,
        "score: mean-field spin in [-1, 1]; sign = orientation, magnitude = confidence",
    ]
    if threshold_note:
        header.append(threshold_note)
    return BuildResult(Lexicon(entries, header), chosen.beta, curve, chosen, words)


def _solve_with_fields(weights, words, index, start: SpinResult, fields, top: int, max_iter: int, log):
    """Learn each field in turn from the solution so far and re-solve at ``start``'s β."""
    from .field import vector_field

    total = numpy.zeros(len(words))
    result, notes = start, []
    for keyed_vectors, strength, name in fields:
        vf = vector_field(keyed_vectors, words, index, result.spins, strength=strength, top=top)
        total += vf.field
        result = mean_field(weights, index, start.beta, init=result.spins, field=total, max_iter=max_iter)
        notes.append(f"field: vector classifier (strength {strength:g}) on {name}, "
                     f"trained on {vf.trained_on} seeds and "
                     f"confident words; {vf.with_vectors} words have a vector")
        if log:
            log(f"  field {name} at beta {start.beta}: {result.iterations} iterations, "
                f"{'converged' if result.converged else 'not converged'}")
        if not result.converged:
            break
    return result, notes


def _loo_error(weights, seeds: dict[int, float], full: SpinResult, max_iter: int) -> float:
    wrong = 0
    for i, label in seeds.items():
        rest = {j: v for j, v in seeds.items() if j != i}
        x = mean_field(weights, rest, full.beta, init=full.spins, max_iter=max_iter).spins
        wrong += numpy.sign(x[i]) != label
    return wrong / len(seeds)


def read_seeds(spec: Union[str, Path, None]) -> dict[str, int]:
    """``None`` or ``turney-littman`` for the 14 seeds of Turney & Littman; else a
    file of ``word<TAB>+1|-1`` lines."""
    if spec in (None, "turney-littman"):
        return dict(TURNEY_LITTMAN_SEEDS)
    path = Path(spec)
    if not path.is_file():
        raise LexiconError(f"Seed file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte order mark is not part of a word
    except UnicodeDecodeError as e:
        raise LexiconError(f"{path}: not valid UTF-8 (byte {e.start}); save the seed file as UTF-8") from None
    seeds = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or parts[1].strip() not in ("+1", "-1", "1"):
            raise LexiconError(f"{path}:{lineno}: expected 'word<TAB>+1' or 'word<TAB>-1'")
        seeds[parts[0].strip()] = int(parts[1])
    if not seeds:
        raise LexiconError(f"{path} has no seeds: expected 'word<TAB>+1' and 'word<TAB>-1' lines")
    return seeds


def read_gold(path: Union[str, Path]) -> dict[str, int]:
    """Gold orientations: a tsunagu lexicon TSV; the General Inquirer table (Harvard
    IV-4 CSV: sense numbers merged, words tagged both dropped); or JSON maps of word
    -> label as in the Japanese Sentiment Polarity Dictionary (ポジ/ネガ, p/n; a
    directory of such files is read whole, multi-word entries and words with both
    labels are dropped)."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".json":
        return _read_json_gold(sorted(path.glob("*.json")) if path.is_dir() else [path])
    if not path.is_file():
        raise LexiconError(f"Gold file not found: {path}")
    with open(path, "rb") as f:
        first = f.readline()
    # The General Inquirer's table is Latin-1; one saved with a byte order mark is UTF-8.
    encoding = "utf-8-sig" if first.startswith(b"\xef\xbb\xbf") else "latin-1"
    if first.removeprefix(b"\xef\xbb\xbf").startswith(b"Entry,Source,Positiv"):
        pos, neg = set(), set()
        with open(path, encoding=encoding, newline="") as f:
            for row in csv.DictReader(f):
                word = re.sub(r"#\d+$", "", row["Entry"]).lower()
                if row["Positiv"]:
                    pos.add(word)
                if row["Negativ"]:
                    neg.add(word)
        gold = {w: 1 for w in pos - neg}
        gold.update({w: -1 for w in neg - pos})
        return gold
    lexicon = read_lexicon(path)
    return {w: (1 if s > 0 else -1) for (w, _), s in lexicon.entries.items() if s != 0}


def _read_json_gold(files) -> dict[str, int]:
    import json

    if not files:
        raise LexiconError("No JSON gold files found.")
    labels: dict[str, set] = {}
    for file in files:
        if not file.is_file():
            raise LexiconError(f"Gold file not found: {file}")
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LexiconError(f"{file}: not a JSON map of word -> label ({e})") from None
        if not isinstance(data, dict):
            raise LexiconError(f"{file}: not a JSON map of word -> label")
        for word, label in data.items():
            if " " in word or not isinstance(label, str):
                continue
            sign = 1 if label.startswith(("ポジ", "p")) else -1 if label.startswith(("ネガ", "n")) else 0
            if sign:
                labels.setdefault(word, set()).add(sign)
    return {w: next(iter(v)) for w, v in labels.items() if len(v) == 1}


def evaluate(lexicon: Lexicon, gold: dict[str, int], top_k: Sequence[int] = (100, 500, 1000)) -> dict:
    """Coverage, accuracy over covered gold words (overall and per POS) and the
    precision of the ``k`` most confident covered words. ``accuracy`` is None when
    the lexicon covers none of the gold words (it is undefined, not 0), and
    ``coverage`` is None when there are no gold words."""
    by_word: dict[str, tuple[float, str]] = {}
    for (word, pos), score in lexicon.entries.items():
        if word not in by_word or abs(score) > abs(by_word[word][0]):
            by_word[word] = (score, pos)
    covered = [(w, g, *by_word[w]) for w, g in gold.items() if w in by_word and by_word[w][0] != 0]
    correct = [(numpy.sign(s) == g) for _, g, s, _ in covered]
    per_pos: dict[str, list] = {}
    for (_, g, s, pos), ok in zip(covered, correct):
        per_pos.setdefault(pos, []).append(ok)
    ranked = sorted(zip(covered, correct), key=lambda item: -abs(item[0][2]))
    return {
        "gold": len(gold),
        "covered": len(covered),
        "coverage": len(covered) / len(gold) if gold else None,
        "accuracy": float(numpy.mean(correct)) if correct else None,
        "per_pos": {p: (len(v), float(numpy.mean(v))) for p, v in sorted(per_pos.items())},
        "precision_at": {k: float(numpy.mean([ok for _, ok in ranked[:k]])) for k in top_k if k <= len(ranked)},
    }


def plot_beta_curve(curve, path: Union[str, Path], chosen: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    betas = [b for b, _, _ in curve]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot(betas, [m for _, m, _ in curve], marker="o", label="magnetization")
    if curve and curve[0][2] is not None:
        ax.plot(betas, [e for _, _, e in curve], marker="s", label="leave-one-out error on seeds")
    ax.axvline(chosen, color="grey", linestyle="--", label=f"chosen β = {chosen}")
    ax.set_xlabel("β")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
