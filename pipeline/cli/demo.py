"""``tsunagu demo``: the full pipeline on the shipped sample corpus."""

from __future__ import annotations

import argparse
from collections import Counter

from .options import add_pipeline_options, load_nlp


def add_demo_command(sub) -> None:
    demo = sub.add_parser("demo", help="run the full pipeline on the shipped sample corpus")
    demo.add_argument("-n", "--show", type=int, default=3, help="documents to show in detail")
    add_pipeline_options(demo)
    demo.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from tsunagu.corpora import read_jsonl, sample_corpus_path

    nlp = load_nlp(args)
    records = list(read_jsonl(sample_corpus_path()))
    print(f"tsunagu demo: pipeline {' -> '.join(nlp.pipe_names)} over {len(records)} documents "
          f"of the shipped sample corpus ({sample_corpus_path().name})\n")
    ents: Counter = Counter()
    lemmas: dict[str, Counter] = {}
    n_tokens = 0
    docs = nlp.pipe(r.text for r in records)
    for i, (record, doc) in enumerate(zip(records, docs)):
        n_tokens += len(doc)
        ents.update(f"{e.text}/{e.label_}" for e in doc.ents)
        counter = lemmas.setdefault(record.label or "-", Counter())
        counter.update(t.lemma_ for t in doc
                       if t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ") and not t.is_stop)
        if i < args.show:
            _print_doc(record, doc)
    print(f"processed {len(records)} documents, {n_tokens} tokens")
    print("most frequent entities: " + ", ".join(f"{k} ({v})" for k, v in ents.most_common(8)))
    print("most frequent content lemmas per category:")
    for label, counter in sorted(lemmas.items()):
        print(f"  {label:<12} " + " ".join(w for w, _ in counter.most_common(8)))
    return 0


def _print_doc(record, doc) -> None:
    print(f"[{record.id}] {doc.text}  (label: {record.label})")
    print(f"  {'text':<10}{'lemma':<10}{'reading':<12}{'pos':<7}{'dep':<10}head  inflection")
    for t in doc:
        print(f"  {t.text:<10}{t.lemma_:<10}{(t._.reading or ''):<12}{t.pos_:<7}{t.dep_:<10}"
              f"{t.head.i:<6}{t._.inflection or ''}")
    print("  bunsetu: " + " | ".join(s.text for s in doc._.bunsetu))
    print("  entities: " + (", ".join(f"{e.text} ({e.label_})" for e in doc.ents) or "none"))
    _print_polarity(doc)
    print()


def _print_polarity(doc, reasons: int = 3) -> None:
    """Each sentence's polarity and label with its strongest evidence, then the document's."""
    if doc._.polarity is None:
        return
    sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    for k, sent in enumerate(sentences):
        evidence = sent._.polarity_reasons or []
        why = "; ".join(f"{r['token']} {r['value']:+.2f} ({', '.join(r['rules']) or 'lexicon'})"
                        for r in evidence[:reasons]) or "no evidence"
        print(f"  sentence {k + 1}: {sent._.polarity_label} {sent._.polarity:+.2f}  because {why}")
    print(f"  document: {doc._.polarity_label} {doc._.polarity:+.2f}")
