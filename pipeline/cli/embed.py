"""``tsunagu embed``: word2vec embeddings: train, inspect, query."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def add_embed_commands(sub) -> None:
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

    from ..embeddings import Word2VecSettings, train_embeddings

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
    from ..embeddings import load_keyed_vectors, read_meta
    from ..tokenized import keys_of_text

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
    from ..embeddings import convert_pickled_directory, write_word2vec_binary
    from ..errors import UnsafeFileError

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
    from ..embeddings import read_meta

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
