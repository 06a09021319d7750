"""Domain pre-training of a small Japanese BERT on Livedoor, then fine-tuning on
Livedoor titles against the BiLSTM and spaCy's TextCatBOW (same split, same run).

    python benchmarks/bench_transformer.py [--max-steps 2000] [--threads 1]
        [--models trf lstm bow] [--skip-pretrain]

1. Pre-training: ``tsunagu transformer pretrain`` on the *training* articles only
   (title + body of the 80% train split of benchmarks/bench_textcat.py, read from
   its DocBin), so no test article's text is seen, with the CLI's default model
   (4 layers, 256 wide, WordPiece 8,000 over Sudachi mode A, 128-piece blocks,
   batch 32). Resumable: run again to continue an interrupted pre-training.
2. Fine-tuning and test: ``benchmarks/bench_textcat.py --fields title --models trf
   lstm bow`` with ``$TSUNAGU_BENCH_TRANSFORMER`` pointing at the pre-trained model
   (configs/trf_livedoor_title.cfg; the LSTM is configs/lstm_livedoor_title.cfg,
   the shipped 3-seed ensemble). Training time is the wall time of ``spacy train``; docs/s counts the
   pipeline's components on pre-tokenized documents (for the transformer that
   includes its own Sudachi + WordPiece tokenization).

Results: printed; pre-training metadata in benchmarks/out/trf/bert-small/
tsunagu-pretrain.json; classifier rows appended to benchmarks/out/textcat/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "trf"
MODEL = OUT / "bert-small"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-steps", type=int, default=2000, help="pre-training optimizer steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for pre-training")
    parser.add_argument("--models", nargs="+", default=["trf", "lstm", "bow"], choices=["trf", "lstm", "bow"])
    parser.add_argument("--skip-pretrain", action="store_true", help="use the model already in " + str(MODEL))
    parser.add_argument("--tag", default="", help="name of this run in the results")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_textcat import make_docbins

    title_body = make_docbins("title+body")
    make_docbins("title")
    if not args.skip_pretrain:
        command = [sys.executable, "-m", "tsunagu", "transformer", "pretrain", str(title_body / "train.spacy"),
                   "-o", str(MODEL), "--max-steps", str(args.max_steps), "--threads", str(args.threads)]
        print("$ tsunagu " + " ".join(command[3:]), flush=True)
        subprocess.run(command, check=True)
    meta = json.loads((MODEL / "tsunagu-pretrain.json").read_text(encoding="utf-8"))
    d = meta["data"]
    print(f"\npre-training: {d['documents']:,} training articles, {d['pieces']:,} wordpieces, "
          f"{meta['steps']} steps x {meta['tokens_per_step']:,} pieces = "
          f"{meta['steps'] * meta['tokens_per_step'] / max(1, d['pieces']):.2f} epochs, "
          f"{meta['seconds_total'] / 60:.1f} min; held-out masked-LM perplexity "
          f"{meta['valid_mlm_perplexity']:.1f}", flush=True)
    env = dict(os.environ, TSUNAGU_BENCH_TRANSFORMER=str(MODEL))
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_textcat.py"), "--fields", "title",
               "--models", *args.models] + (["--tag", args.tag] if args.tag else [])
    subprocess.run(command, check=True, env=env)


if __name__ == "__main__":
    main()
