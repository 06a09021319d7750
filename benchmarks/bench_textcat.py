"""Livedoor news classification (9 categories): tsunagu's BiLSTM against spaCy's own
``TextCatBOW`` and ``TextCatEnsemble``, same split, same run.

    python benchmarks/bench_textcat.py [--fields title title+body] [--models lstm bow ensemble]
        [--set title:components.textcat_lstm.model.pooling=max ...] [--tag NAME]

1. DocBins: ``tsunagu corpus to-spacy`` logic, fixed 80/10/10 split by article
   (stratified by category, seed 0), titles only and title + body; reused when
   present with the same settings (benchmarks/out/textcat/livedoor-FIELDS/).
2. Training: ``python -m spacy train`` in a subprocess for every model, so each is
   trained the way a user would. The LSTM uses configs/lstm_livedoor_title.cfg or
   configs/lstm_livedoor.cfg (overrides with --set); spaCy's models use the config
   of ``spacy init config -l ja -p textcat`` ("efficiency": TextCatBOW;
   "accuracy": TextCatEnsemble = Tok2Vec with ja_ginza's static vectors + BOW, the
   CNN narrowed to width 96, depth 4 to be trainable on 2 CPU cores), with tsunagu's
   tokenizer and DocBin reader. Training time is the wall time of ``spacy train``
   (initialization included). model-best (best dev cats_score) is evaluated.
3. Test: accuracy and macro-F1 (argmax) on the test split; inference docs/s of the
   pipeline's components on pre-tokenized documents (tokenization, the same for all
   models, excluded; best of 2 passes, batch 256); for the LSTM also int8
   (``quantize = true``) accuracy, docs/s and the int8 / float speed ratio.

Results are printed and appended to benchmarks/out/textcat/results.jsonl. Every
model trains and predicts with 1 thread (``TSUNAGU_BENCH_THREADS``): spaCy's
own models are single-threaded, and on the shared 2-core machine 2 torch threads
were several times slower than 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parents[1]
LIVEDOOR = ROOT.parent / "shared" / "data" / "livedoor" / "text"
OUT = ROOT / "benchmarks" / "out" / "textcat"
CONFIGS = {"title": ROOT / "configs" / "lstm_livedoor_title.cfg",
           "title+body": ROOT / "configs" / "lstm_livedoor.cfg"}
# The transformer config cuts long documents into windows, so it serves both fields.
TRF_CONFIG = ROOT / "configs" / "trf_livedoor_title.cfg"
TRANSFORMER = os.environ.get("TSUNAGU_BENCH_TRANSFORMER", str(ROOT / "benchmarks" / "out" / "trf" / "bert-small"))
THREADS = int(os.environ.get("TSUNAGU_BENCH_THREADS", "1"))
SPLIT = (0.8, 0.1, 0.1)
SEED = 0


def make_docbins(fields: str) -> Path:
    from tsunagu.docbins import corpus_to_docbins

    out = OUT / f"livedoor-{fields}"
    meta_path = out / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (meta.get("reader_options") == {"fields": fields} and meta.get("seed") == SEED
                and meta.get("split") == list(SPLIT)):
            return out
    corpus_to_docbins(LIVEDOOR, out, input_format="livedoor", reader_options={"fields": fields},
                      fractions=SPLIT, seed=SEED, overwrite=True, n_process=2)
    return out


def spacy_textcat_config(kind: str, fields: str):
    """spaCy's own textcat recipe (``spacy init config``), on tsunagu's tokens."""
    from spacy.cli.init_config import init_config

    config = init_config(lang="ja", pipeline=["textcat"],
                         optimize="efficiency" if kind == "bow" else "accuracy", gpu=False)
    config["nlp"]["tokenizer"] = {"@tokenizers": "tsunagu.JapaneseTokenizer.v1", "split_mode": "C",
                                  "chunk_bytes": 40000}
    for name in ("train", "dev"):
        config["corpora"][name] = {"@readers": "tsunagu.DocBinCorpus.v1",
                                   "path": f"${{paths.{name}}}", "limit": 0}
    training = config["training"]
    if kind == "ensemble":
        config["paths"]["vectors"] = "ja_ginza"
        encode = config["components"]["tok2vec"]["model"]["encode"]
        encode["width"], encode["depth"] = 96, 4
        training["max_epochs"] = 8 if fields == "title" else 2
        training["eval_frequency"] = 200
    else:
        training["max_epochs"] = 10
        training["eval_frequency"] = 200
    training["patience"] = 2000
    training["logger"]["progress_bar"] = False
    return config


def train(kind: str, fields: str, data: Path, tag: str, sets: list[str]) -> tuple[Path, float]:
    from spacy import util

    run_dir = OUT / "runs" / f"{fields}-{kind}{('-' + tag) if tag else ''}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if kind == "lstm":
        config = util.load_config(CONFIGS[fields], interpolate=False)
    elif kind == "trf":
        config = util.load_config(TRF_CONFIG, interpolate=False)
        config["paths"]["transformer"] = TRANSFORMER
    else:
        config = spacy_textcat_config(kind, fields)
    config_path = run_dir / "config.cfg"
    config.to_disk(config_path)
    overrides = ["--components.textcat_lstm.n_threads", str(THREADS)] if kind == "lstm" else []
    for item in sets:
        key, _, value = item.partition("=")
        overrides += [f"--{key}", value]
    command = [sys.executable, "-m", "spacy", "train", str(config_path), "-o", str(run_dir / "model"),
               "--paths.train", str(data / "train.spacy"), "--paths.dev", str(data / "dev.spacy"),
               *overrides]
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS),
               OPENBLAS_NUM_THREADS=str(THREADS), PYTHONUNBUFFERED="1")
    print(f"$ {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    with open(run_dir / "train.log", "w", encoding="utf-8") as log:
        proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"spacy train failed; see {run_dir / 'train.log'}")
    return run_dir / "model" / "model-best", seconds


def evaluate(model_dir: Path, test: Path, quantize: bool = False) -> dict:
    import spacy
    from spacy.tokens import DocBin

    config = {"components.textcat_lstm.quantize": True} if quantize else {}
    nlp = spacy.load(model_dir, config=config)
    references = list(DocBin().from_disk(test).get_docs(nlp.vocab))
    labels = sorted(references[0].cats)
    gold = numpy.array([max(d.cats, key=d.cats.get) for d in references])
    best = float("inf")
    for _ in range(2):
        docs = [d.copy() for d in references]
        for d in docs:
            d.cats = {}
        start = time.perf_counter()
        for _, proc in nlp.pipeline:
            docs = list(proc.pipe(docs, batch_size=256))
        best = min(best, time.perf_counter() - start)
    pred = numpy.array([max(d.cats, key=d.cats.get) for d in docs])
    f1s = []
    for label in labels:
        tp = numpy.sum((pred == label) & (gold == label))
        p = tp / max(1, numpy.sum(pred == label))
        r = tp / max(1, numpy.sum(gold == label))
        f1s.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return {"accuracy": float(numpy.mean(pred == gold)), "macro_f1": float(numpy.mean(f1s)),
            "docs_per_s": len(docs) / best, "n_test": len(docs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fields", nargs="+", default=["title", "title+body"],
                        choices=["title", "title+body"])
    parser.add_argument("--models", nargs="+", default=["lstm", "bow", "ensemble"],
                        choices=["lstm", "bow", "ensemble", "trf"],
                        help="trf: configs/trf_livedoor_title.cfg on the model in "
                        "$TSUNAGU_BENCH_TRANSFORMER (default benchmarks/out/trf/bert-small, "
                        "made by benchmarks/bench_transformer.py)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELDS[:MODEL]:KEY=VALUE",
                        help="config override for MODEL (default lstm) on FIELDS (title or "
                        "title+body), e.g. title:components.textcat_lstm.model.ensemble_size=3 "
                        "or title+body:ensemble:training.max_steps=1000")
    parser.add_argument("--tag", default="", help="name of this LSTM or transformer variant in the results")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(THREADS)
    results = []
    for fields in args.fields:
        data = make_docbins(fields)
        for kind in args.models:
            sets = _overrides(args.set, fields, kind)
            model_dir, seconds = train(kind, fields, data, args.tag if kind in ("lstm", "trf") else "", sets)
            row = {"fields": fields, "model": kind, "tag": args.tag if kind in ("lstm", "trf") else "",
                   "overrides": sets, "train_s": seconds, **evaluate(model_dir, data / "test.spacy")}
            if kind == "lstm":
                q = evaluate(model_dir, data / "test.spacy", quantize=True)
                row.update({"int8_accuracy": q["accuracy"], "int8_macro_f1": q["macro_f1"],
                            "int8_docs_per_s": q["docs_per_s"],
                            "int8_speed_ratio": q["docs_per_s"] / row["docs_per_s"]})
            row["time"] = time.strftime("%Y-%m-%d %H:%M")
            results.append(row)
            print(_format(row), flush=True)
            with open(OUT / "results.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print("\nfields      model      accuracy  macro-F1  train s  docs/s   int8 acc  int8/float")
    for row in results:
        print(_format(row))


def _overrides(items: list[str], fields: str, kind: str) -> list[str]:
    out = []
    for item in items:
        parts = item.split("=", 1)[0].split(":")
        where, model = parts[0], parts[1] if len(parts) == 3 else "lstm"
        if where == fields and model == kind:
            out.append(item.split(":", len(parts) - 1)[-1])
    return out


def _format(row: dict) -> str:
    name = row["model"] + (f"[{row['tag']}]" if row.get("tag") else "")
    line = (f"{row['fields']:<11} {name:<10} {row['accuracy']:8.4f}  {row['macro_f1']:8.4f}  "
            f"{row['train_s']:7.0f}  {row['docs_per_s']:7.0f}")
    if "int8_accuracy" in row:
        line += f"  {row['int8_accuracy']:8.4f}  {row['int8_speed_ratio']:9.2f}x"
    return line


if __name__ == "__main__":
    main()
