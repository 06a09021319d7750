"""The adapted and supervised polarity paths on the development sets (issues 17, 23).

One run, the same sentences and folds for every system, beside the default pipeline:

* **supervised**, 5-fold cross-validation (stratified, seed 0): in each fold
  ``configs/polarity.cfg`` is trained with ``spacy train`` on four fifths (a tenth
  of them picks the checkpoint; the test fold is never seen) and
  ``tsunagu.load(polarity=model-best)`` scores the fifth; TF-IDF (lemmas) + logistic
  regression (scikit-learn, C = 1 and C = 10) is trained on the same four fifths.
  Livedoor trains three classes (it has neutral sentences), chABSA two;
* **adapted**: ``tsunagu polarity adapt`` on the set's texts only (no labels), then
  ``tsunagu.load(polarity=DIR)`` on every sentence;
* **default**: ``tsunagu.load()``; also on the 300 sentences of the shipped sample
  corpus (``--sets sample``: ``corpora/sample/ja_sample.jsonl``, ``meta.sentiment``
  positive / negative), default only.

Metrics as in bench_sentiment.py: accuracy by the sign of ``doc._.polarity`` on the
polar sentences (0 counts wrong), three-class macro-F1 of ``doc._.polarity_label``.
Parsed sentences come from bench_sentiment.py's cache (``--cache``).

    python benchmarks/bench_sentiment_trained.py --cache ../exp17 --work ../bench-trained
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sentiment import DATA, REPO, evaluate, parsed_docs, read_rows  # noqa: E402

SAMPLE = REPO / "corpora" / "sample" / "ja_sample.jsonl"


def score_with(nlp, docbin_path: Path):
    """(scores, labels) of the parsed docs in ``docbin_path`` through ``nlp``'s polarity pipes."""
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(docbin_path).get_docs(nlp.vocab))
    pipes = [nlp.get_pipe(n) for n in ("polarity", "polarity_model") if n in nlp.pipe_names]
    for pipe in pipes:
        docs = [pipe(d) for d in docs]
    return [d._.polarity for d in docs], [d._.polarity_label for d in docs]


def write_docbin(docs, rows, path: Path, labels) -> None:
    from spacy.tokens import DocBin

    out = []
    for d, r in zip(docs, rows):
        d = d.copy()
        d.cats = {c: float(r["label"] == c) for c in labels}
        out.append(d)
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=out, store_user_data=True).to_disk(path)


def tfidf_lr(docs, rows, train, test, C):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [" ".join(t.lemma_ for t in d) for d in docs]
    y = numpy.array([r["label"] for r in rows])
    vec = TfidfVectorizer(analyzer=str.split)
    clf = LogisticRegression(C=C, max_iter=3000).fit(vec.fit_transform([texts[i] for i in train]), y[train])
    probs = clf.predict_proba(vec.transform([texts[i] for i in test]))
    classes = list(clf.classes_)
    score = probs[:, classes.index("positive")] - probs[:, classes.index("negative")]
    return list(score), [classes[k] for k in probs.argmax(1)]


def supervised(name, docs, rows, work: Path, epochs: int, log):
    from sklearn.model_selection import StratifiedKFold

    import tsunagu

    y = numpy.array([r["label"] for r in rows])
    labels = sorted(set(y))
    out = {s: ([0.0] * len(rows), [None] * len(rows)) for s in ("supervised", "tfidf_lr_C1", "tfidf_lr_C10")}
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(y, y)
    times = []
    for k, (train, test) in enumerate(folds):
        fold = work / name / f"fold{k}"
        inner_dev = train[::10]
        inner_train = numpy.setdiff1d(train, inner_dev)
        write_docbin([docs[i] for i in inner_train], [rows[i] for i in inner_train], fold / "train.spacy", labels)
        write_docbin([docs[i] for i in inner_dev], [rows[i] for i in inner_dev], fold / "dev.spacy", labels)
        write_docbin([docs[i] for i in test], [rows[i] for i in test], fold / "test.spacy", labels)
        model = fold / "model" / "model-best"
        if not model.is_dir():
            start = time.time()
            subprocess.run([sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "polarity.cfg"),
                            "-o", str(fold / "model"), "--paths.train", str(fold / "train.spacy"),
                            "--paths.dev", str(fold / "dev.spacy"), "--training.max_epochs", str(epochs)],
                           check=True, stdout=subprocess.DEVNULL)
            times.append(time.time() - start)
        nlp = tsunagu.load(polarity=model)
        scores, labs = score_with(nlp, fold / "test.spacy")
        for j, i in enumerate(test):
            out["supervised"][0][i], out["supervised"][1][i] = scores[j], labs[j]
        for C in (1, 10):
            s, lab = tfidf_lr(docs, rows, train, test, C)
            for j, i in enumerate(test):
                out[f"tfidf_lr_C{C}"][0][i], out[f"tfidf_lr_C{C}"][1][i] = s[j], lab[j]
        log(f"{name} fold {k}: done")
    return out, times


def adapted(name, rows, work: Path, log, given=None):
    if given:
        return Path(given)
    out = work / f"adapted-{name}"
    if not out.is_dir():
        texts = work / f"{name}-texts.jsonl"
        with open(texts, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
        start = time.time()
        subprocess.run([sys.executable, "-m", "tsunagu", "polarity", "adapt", str(texts), "-o", str(out),
                        "--no-progress"], check=True)
        log(f"adapted {name} in {time.time() - start:.0f} s")
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chabsa", type=Path, default=DATA / "chabsa" / "train.jsonl")
    ap.add_argument("--livedoor", type=Path, default=DATA / "livedoor-polarity" / "dev.jsonl")
    ap.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "out" / "sentiment-cache")
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "sentiment-trained")
    ap.add_argument("--epochs", type=int, default=12, help="max_epochs (the config's default)")
    ap.add_argument("--adapted-chabsa", help="an existing `tsunagu polarity adapt` output for chABSA")
    ap.add_argument("--adapted-livedoor", help="the same for Livedoor")
    ap.add_argument("--sets", default="chabsa,livedoor")
    ap.add_argument("--no-supervised", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "sentiment_trained.json")
    args = ap.parse_args(argv)
    import tsunagu

    def log(message):
        print(message, file=sys.stderr, flush=True)

    command = " ".join(sys.argv[1:] if argv is None else argv)
    results = {"command": f"python benchmarks/bench_sentiment_trained.py {command}"}
    default_nlp = tsunagu.load()
    for name in args.sets.split(","):
        if name == "sample":
            rows = [{**r, "label": r["meta"]["sentiment"]} for r in read_rows(SAMPLE)]
            parsed_docs(name, rows, args.cache)
            s, lab = score_with(default_nlp, args.cache / "sample.spacy")
            results[name] = {"default": evaluate("chabsa", s, lab, rows)}  # two classes, as chABSA
            log(json.dumps(results[name]))
            continue
        rows = read_rows(getattr(args, name))
        docs = parsed_docs(name, rows, args.cache)
        cache = args.cache / f"{name}.spacy"
        res = {}
        s, lab = score_with(default_nlp, cache)
        res["default"] = evaluate(name, s, lab, rows)
        directory = adapted(name, rows, args.work, log, getattr(args, f"adapted_{name}"))
        s, lab = score_with(tsunagu.load(polarity=directory), cache)
        res["adapted"] = evaluate(name, s, lab, rows)
        res["adapted"]["meta"] = json.loads((directory / "tsunagu_polarity.json").read_text())
        if not args.no_supervised:
            sup, times = supervised(name, docs, rows, args.work, args.epochs, log)
            for system, (s, lab) in sup.items():
                res[system] = evaluate(name, s, lab, rows)
            res["supervised"]["train_seconds"] = [round(t) for t in times]
        results[name] = res
        log(json.dumps({k: {m: v for m, v in r.items() if m not in ("per_category", "meta")}
                        for k, r in res.items()}, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return results


if __name__ == "__main__":
    main()
