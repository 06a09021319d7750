"""``tsunagu corpus``: corpus conversions (``to-spacy``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_corpus_commands(sub) -> None:
    corpus = sub.add_parser("corpus", help="convert labelled corpora (DocBins for spacy train)")
    csub = corpus.add_subparsers(title="corpus commands", metavar="COMMAND")

    to_spacy = csub.add_parser(
        "to-spacy", help="labelled records -> train/dev/test .spacy files",
        description="Tokenize the labelled records of CORPUS with tsunagu's tokenizer and write "
        "OUTDIR/train.spacy, dev.spacy and test.spacy (doc.cats set) for `spacy train`, split "
        "by record id with a fixed seed, stratified by label. OUTDIR may not be CORPUS or inside it; "
        "existing outputs are replaced only with --overwrite.")
    to_spacy.add_argument("corpus", type=Path,
                          help="any corpus tsunagu reads (.jsonl, .txt, dir, Livedoor, .spacy)")
    to_spacy.add_argument("out_dir", type=Path, metavar="OUTDIR", help="directory to write")
    to_spacy.add_argument("--input-format", "--format", dest="input_format",
                          choices=("text", "jsonl", "dir", "livedoor", "docbin"), default=None,
                          help="corpus format (default: guessed from CORPUS)")
    to_spacy.add_argument("--fields", choices=("title", "body", "title+body"), default=None,
                          help="Livedoor: which part of each article (default title+body)")
    to_spacy.add_argument("--label-field", default=None,
                          help="JSONL: dotted path of the labels (e.g. meta.category)")
    to_spacy.add_argument("--split", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                          metavar=("TRAIN", "DEV", "TEST"), help="fractions (default 0.8 0.1 0.1)")
    to_spacy.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    to_spacy.add_argument("--multilabel", action="store_true",
                          help="records may have several labels (doc.cats 1.0/0.0 per label)")
    to_spacy.add_argument("--split-mode", choices=("A", "B", "C"), default="C",
                          help="Sudachi unit; must match the training config's tokenizer")
    to_spacy.add_argument("--parse", action="store_true",
                          help="store tsunagu.load()'s dependency parse too (needed by classifiers "
                               "with polarity features, e.g. configs/polarity.cfg)")
    to_spacy.add_argument("--n-process", type=int, default=1, help="tokenizer processes")
    to_spacy.add_argument("--overwrite", action="store_true",
                          help="replace existing train/dev/test.spacy and meta.json in OUTDIR "
                          "(without it, the command refuses to touch them)")
    to_spacy.add_argument("--no-progress", action="store_true")
    to_spacy.set_defaults(run=run_to_spacy)


def run_to_spacy(args: argparse.Namespace) -> int:
    from ..docbins import corpus_to_docbins

    options = {}
    if args.fields:
        options["fields"] = args.fields
    if args.label_field:
        options["label_field"] = args.label_field
    summary = corpus_to_docbins(
        args.corpus, args.out_dir, input_format=args.input_format, reader_options=options,
        fractions=args.split, seed=args.seed, multilabel=args.multilabel,
        split_mode=args.split_mode, n_process=args.n_process, overwrite=args.overwrite,
        progress=not args.no_progress, parse=args.parse,
    )
    print(summary.table())
    if summary.skipped_empty:
        print(f"skipped {summary.skipped_empty} record(s) with empty text")
    print(f"wrote {', '.join(str(args.out_dir / f'{s}.spacy') for s in ('train', 'dev', 'test'))}")
    return 0
