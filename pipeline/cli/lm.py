"""``tsunagu lm train|eval``: the LSTM language model from the command line."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

from ..errors import ConfigError
from ..heldout import is_held_out
from .options import parse_key_values


def add_lm_commands(sub) -> None:
    lm = sub.add_parser("lm", help="word-level LSTM language models with large-output heads")
    lsub = lm.add_subparsers(title="lm commands", metavar="COMMAND")

    train = lsub.add_parser(
        "train", help="train an LSTM language model on a corpus",
        description="Tokenize CORPUS with SudachiPy, hold out a fixed share of its documents, "
        "train an LSTM language model with the chosen output head and report the held-out "
        "perplexity. Interrupted runs resume from the last epoch's checkpoint.")
    train.add_argument("corpus", type=Path, help="any corpus tsunagu reads (text, JSONL, dir, Livedoor)")
    train.add_argument("-o", "--output", type=Path, required=True, help="model directory to write")
    train.add_argument("--head", default="hierarchical",
                       choices=("full", "hierarchical", "negative", "nce", "sampled"))
    train.add_argument("--head-option", action="append", default=[], metavar="KEY=VALUE",
                       help="head option, e.g. n_samples=20 or tree=balanced (repeatable)")
    train.add_argument("--embed-size", type=int, default=128)
    train.add_argument("--hidden-size", type=int, default=256)
    train.add_argument("--layers", type=int, default=1)
    train.add_argument("--dropout", type=float, default=0.2)
    train.add_argument("--max-vocab", type=int, default=50_000)
    train.add_argument("--min-count", type=int, default=2)
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--minutes", type=float, default=None, help="stop after this much training time")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--bptt", type=int, default=35)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--key", choices=("orth", "lemma", "norm"), default="orth",
                       help="token form the model predicts (default: surface)")
    train.add_argument("--split-mode", choices=("A", "B", "C"), default="C")
    train.add_argument("--valid-percent", type=int, default=5,
                       help="share of documents held out (chosen by a hash of their id)")
    train.add_argument("--format", default=None, help="corpus format (default: guessed)")
    train.add_argument("--fields", choices=("title", "body", "title+body"), default=None,
                       help="Livedoor: which part of each article")
    train.add_argument("--threads", type=int, default=None)
    train.add_argument("--overwrite", action="store_true",
                       help="replace an existing model directory (a checkpoint in DIR.partial "
                       "is still resumed)")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(run=_run_train)

    evaluate = lsub.add_parser("eval", help="perplexity of a model on a corpus")
    evaluate.add_argument("model", type=Path)
    evaluate.add_argument("corpus", type=Path)
    evaluate.add_argument("--format", default=None)
    evaluate.add_argument("--fields", choices=("title", "body", "title+body"), default=None)
    evaluate.set_defaults(run=_run_eval)


def tokenized_records(corpus: Path, fmt, fields, key: str, split_mode: str, progress: bool,
                      skipped: Optional[Counter] = None):
    """(id, sentences of keys) for each readable record with text. Records that cannot
    be tokenized (no text, text that is not valid Unicode) are counted in ``skipped``
    by reason."""
    from tsunagu.corpora import Record, read_corpus

    from ..tokenized import keys_of_text, text_problem

    skipped = Counter() if skipped is None else skipped
    options = {"fields": fields} if fields else {}
    records = read_corpus(corpus, fmt, on_error="reject", **options)
    if progress:
        from tqdm import tqdm

        records = tqdm(records, unit="doc", desc="tokenizing", dynamic_ncols=True)
    for record in records:
        why = text_problem(record.text) if isinstance(record, Record) else "unreadable"
        if why is not None:
            skipped[why] += 1
            continue
        yield record.id, keys_of_text(record.text, key, split_mode)


def _run_train(args: argparse.Namespace) -> int:
    from ..language_model import LMSettings, train_language_model

    if not 0 < args.valid_percent < 100:
        raise ConfigError("--valid-percent must be between 1 and 99.")
    settings = LMSettings(head=args.head,
                          head_options=parse_key_values(args.head_option, "--head-option", "n_samples=20"),
                          embed_size=args.embed_size, hidden_size=args.hidden_size, layers=args.layers,
                          dropout=args.dropout, max_vocab=args.max_vocab, min_count=args.min_count,
                          bptt=args.bptt, batch_size=args.batch_size, lr=args.lr, epochs=args.epochs,
                          minutes=args.minutes, threads=args.threads).validate()
    from ..atomic import check_distinct_paths, check_output_holds_no_input, refuse_existing

    # Before tokenizing and training, which take minutes.
    partial = args.output.with_name(args.output.name + ".partial")
    check_distinct_paths(inputs={"CORPUS": args.corpus},
                         outputs={"--output": args.output, "its checkpoint directory": partial})
    check_output_holds_no_input(args.output, {"CORPUS": args.corpus})
    refuse_existing(args.output, args.overwrite, "language model directory (--output)")
    train, valid, skipped = [], [], Counter()
    for rid, sentences in tokenized_records(args.corpus, args.format, args.fields, args.key,
                                            args.split_mode, not args.no_progress, skipped):
        (valid if is_held_out(rid, args.valid_percent) else train).extend(sentences)
    if skipped:
        print(f"skipped {sum(skipped.values())} records: "
              + "; ".join(f"{n} {why}" for why, n in skipped.items()), file=sys.stderr)
    meta = train_language_model(train, valid, args.output, settings, progress=not args.no_progress,
                                meta={"key": args.key, "split_mode": args.split_mode,
                                      "corpus": str(args.corpus.resolve()),
                                      "valid_percent": args.valid_percent,
                                      "rejected": sum(skipped.values()), "rejected_reasons": dict(skipped)},
                                overwrite=args.overwrite)
    t = meta["training"]
    ppl = meta["valid_perplexity"]
    print(f"{args.output}: vocabulary {meta['vocabulary']:,}, {meta['train_tokens']:,} training tokens, "
          f"{t['steps']} steps in {t['seconds']:.0f} s ({t['tokens_per_second']:,.0f} tokens/s); "
          f"held-out perplexity {'n/a (too little held-out text)' if ppl is None else f'{ppl:.1f}'}")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from ..language_model import load_language_model, perplexity, stream_of

    model, vocab, meta = load_language_model(args.model)
    sentences = [s for _, doc in tokenized_records(args.corpus, args.format, args.fields, meta["key"],
                                                   meta["split_mode"], False) for s in doc]
    stream = stream_of(sentences, vocab)
    print(f"perplexity {perplexity(model, stream):.2f} over {stream.numel() - 1:,} tokens")
    return 0
