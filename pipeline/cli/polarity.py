"""``tsunagu polarity adapt``: sentence polarity adapted to a domain's unlabelled text
(``tsunagu.polarity.adapt``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_polarity_commands(sub) -> None:
    polarity = sub.add_parser("polarity", help="sentence polarity: adapt to a domain")
    psub = polarity.add_subparsers(dest="polarity_command", required=True)
    adapt = psub.add_parser(
        "adapt", help="adapt sentence polarity to a corpus without labels",
        description="Corpus links re-solved over the lexicon, silver labels from composition, "
                    "and tsunagu's BiLSTM classifier self-trained on them; use the result with "
                    "tsunagu.load(polarity=DIR).")
    adapt.add_argument("corpus", type=Path, metavar="CORPUS",
                       help="texts of the domain: a .jsonl, .txt, DocBin or directory")
    adapt.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                       help="directory to write (a pipeline for tsunagu.load(polarity=DIR))")
    adapt.add_argument("--input-format", "--format", dest="input_format", default=None,
                       help="corpus format (default: from the path)")
    adapt.add_argument("--confidence", type=float, default=0.2,
                       help="composed |score| a sentence needs to become a silver label (default 0.2)")
    adapt.add_argument("--mix", type=float, default=0.5,
                       help="weight of the composed score beside the classifier's (default 0.5)")
    adapt.add_argument("--rounds", type=int, default=3, help="most self-training rounds (default 3)")
    adapt.add_argument("--max-epochs", type=int, default=8, help="epochs per round (default 8)")
    adapt.add_argument("--work-dir", type=Path, default=None,
                       help="where the parse and finished rounds are kept for a resumed run "
                            "(default: DIR.adapt-work beside DIR)")
    adapt.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    adapt.add_argument("--no-progress", action="store_true")
    adapt.set_defaults(run=run_adapt)


def run_adapt(args: argparse.Namespace) -> int:
    from ..polarity.adapt import adapt

    result = adapt(args.corpus, args.output, input_format=args.input_format,
                   confidence=args.confidence, mix=args.mix, rounds=args.rounds,
                   max_epochs=args.max_epochs, work_dir=args.work_dir, overwrite=args.overwrite,
                   progress=not args.no_progress)
    print(result.summary())
    return 0
