"""``tsunagu apply``: a document collection through the pipeline (local or Ray engine)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .options import add_pipeline_options, load_nlp, parse_overrides, positive_int


def add_apply_command(sub) -> None:
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
    apply.add_argument("--n-process", type=positive_int, default=1, help="worker processes")
    apply.add_argument("--batch-size", type=positive_int, default=64, help="documents per batch")
    apply.add_argument("--max-chars", type=positive_int, default=None,
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
    ray.add_argument("--num-actors", type=positive_int, default=None,
                     help="pipelines loaded at once (default: the cluster's CPUs / --actor-cpus)")
    ray.add_argument("--actor-cpus", type=float, default=1.0, help="CPUs per actor")
    add_pipeline_options(apply)
    apply.set_defaults(run=_run_apply)


def _run_apply(args: argparse.Namespace) -> int:
    from ..batch import apply_corpus, check_apply_paths

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
    nlp = load_nlp(args)
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
    from ..batch_ray import PipelineSpec, apply_corpus_ray

    if args.n_process != 1:
        raise ConfigError("--n-process is the local engine's; with --engine ray use --num-actors.")
    if args.polarity is not None:
        raise ConfigError("--polarity is not passed to Ray actors: save the pipeline once with "
                          "tsunagu.load(polarity=DIR).to_disk(PATH) and give --pipeline PATH.")
    spec = PipelineSpec.from_paths(args.pipeline, parse_overrides(args.overrides),
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
