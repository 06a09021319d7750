"""``tsunagu info``: the pipeline's components, vectors and config."""

from __future__ import annotations

import argparse

from .options import add_pipeline_options, load_nlp, version


def add_info_command(sub) -> None:
    info = sub.add_parser("info", help="show the pipeline: components, vectors, config")
    info.add_argument("--config-text", action="store_true", help="print the full config")
    add_pipeline_options(info)
    info.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    nlp = load_nlp(args)
    print(f"tsunagu {version()}  spaCy pipeline '{nlp.meta.get('name', 'pipeline')}' (lang={nlp.lang})")
    print(f"tokenizer: {type(nlp.tokenizer).__name__} (Sudachi split mode {nlp.tokenizer.split_mode})")
    for name in nlp.pipe_names:
        print(f"  {name:<20} {type(nlp.get_pipe(name)).__name__}")
    rows, width = nlp.vocab.vectors.shape
    print(f"vectors: {rows} x {width}")
    if args.config_text:
        print(nlp.config.to_str())
    return 0
