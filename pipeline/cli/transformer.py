"""``tsunagu transformer pretrain``: domain pre-training of a small Japanese BERT."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_transformer_commands(sub) -> None:
    trf = sub.add_parser("transformer", help="local transformers: pre-train a small Japanese BERT")
    tsub = trf.add_subparsers(title="transformer commands", metavar="COMMAND")

    p = tsub.add_parser(
        "pretrain", help="WordPiece vocabulary + masked-LM pre-training on a corpus",
        description="Split CORPUS into Sudachi words, learn a WordPiece vocabulary, and pre-train a "
        "BERT with masked-language modelling. DIR becomes a Hugging Face model directory that "
        "transformers.AutoModel, AutoTokenizer and spacy-transformers load. Interrupted runs "
        "resume from the last checkpoint in DIR/checkpoints when the command is run again.")
    p.add_argument("corpus", type=Path, help="any corpus tsunagu reads (text, JSONL, dir, DocBin, Livedoor)")
    p.add_argument("-o", "--output", type=Path, required=True, help="model directory to write")
    p.add_argument("--format", default=None, help="corpus format (default: guessed)")
    p.add_argument("--fields", choices=("title", "body", "title+body"), default=None,
                   help="Livedoor: which part of each article")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--split-mode", choices=("A", "B", "C"), default="A",
                   help="Sudachi split mode of the word stage (A: shortest words)")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate-size", type=int, default=1024)
    p.add_argument("--max-length", type=int, default=128, help="wordpieces per pre-training block")
    p.add_argument("--max-position", type=int, default=512, help="positions the model can take")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--grad-accumulation", type=int, default=1,
                   help="batches per optimizer step (effective batch = batch size x this)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup-ratio", type=float, default=0.06)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides --epochs)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop (with a checkpoint to resume from) after this much training time")
    p.add_argument("--save-steps", type=int, default=200)
    p.add_argument("--valid-percent", type=int, default=2,
                   help="share of documents held out for the masked-LM perplexity")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mixed-precision", action="store_true", help="fp16/bf16 on a CUDA GPU (no-op on CPU)")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--fresh", action="store_true", help="discard an existing run in DIR")
    p.add_argument("--overwrite", action="store_true",
                   help="replace DIR when it holds something other than a run of this command "
                   "(a run is resumed, or discarded with --fresh)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run_pretrain)


def _run_pretrain(args: argparse.Namespace) -> int:
    from tsunagu.corpora import Record, read_corpus

    from ..trf.pretrain import PretrainSettings, pretrain

    settings = PretrainSettings(
        vocab_size=args.vocab_size, split_mode=args.split_mode, hidden_size=args.hidden_size,
        layers=args.layers, heads=args.heads, intermediate_size=args.intermediate_size,
        max_length=args.max_length, max_position=args.max_position, batch_size=args.batch_size,
        grad_accumulation=args.grad_accumulation, learning_rate=args.lr, warmup_ratio=args.warmup_ratio,
        weight_decay=args.weight_decay, epochs=args.epochs, max_steps=args.max_steps, minutes=args.minutes,
        save_steps=args.save_steps, valid_percent=args.valid_percent, seed=args.seed,
        mixed_precision=args.mixed_precision, gradient_checkpointing=args.gradient_checkpointing).validate()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ..atomic import check_distinct_paths, check_output_holds_no_input

    check_distinct_paths(inputs={"CORPUS": args.corpus}, outputs={"--output": args.output})
    if args.fresh or args.overwrite:
        check_output_holds_no_input(args.output, {"CORPUS": args.corpus})
    options = {"fields": args.fields} if args.fields else {}
    texts = (r.text for r in read_corpus(args.corpus, args.format, on_error="reject", **options)
             if isinstance(r, Record) and isinstance(r.text, str))
    meta = pretrain(texts, args.output, settings, source=str(args.corpus.resolve()),
                    progress=not args.no_progress, fresh=args.fresh, overwrite=args.overwrite)
    d = meta["data"]
    ppl = meta["valid_mlm_perplexity"]
    state = ("finished" if meta["finished"]
             else f"stopped at step {meta['steps']} of {meta['max_steps']} (run again to resume)")
    print(f"{args.output}: {d['documents']:,} documents, {d['pieces']:,} wordpieces "
          f"(vocabulary {d['vocabulary']:,}, {d['unknown_rate']:.2%} unknown), {d['train_blocks']:,} blocks; "
          f"{meta['steps']} steps in {meta['seconds_total']:.0f} s, {state}; held-out masked-LM perplexity "
          f"{'n/a' if ppl is None else f'{ppl:.1f}'}")
    return 0
