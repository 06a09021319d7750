"""``tsunagu corpus to-spacy``: labelled records to train/dev/test DocBins.

Any corpus tsunagu reads becomes three ``.spacy`` files for ``spacy train``:

* the split is by record id and reproducible (:func:`tsunagu.splits.split_records`,
  the rule ``tsunagu al simulate`` splits by too): within each label (the first
  label of multi-label records) records are ordered by a hash of ``seed`` and their
  id, and the first 80% (say) go to train, the next 10% to dev, the rest to test.
  The same corpus and seed give the same split whatever the reading order, and
  every label is represented in each part in proportion;
* documents are tokenized with tsunagu's tokenizer only (Sudachi through
  ``tsunagu.JapaneseTokenizer.v1``: tokens, lemma, norm, tag, POS, reading); no
  parser runs, which is what a classifier's training data needs and is fast.
  ``parse``: the whole ``tsunagu.load()`` pipeline but its polarity pipe runs and the
  parse is stored too (for classifiers with polarity features, configs/polarity.cfg);
* ``doc.cats`` is one-hot over all labels for exclusive classes, or 1.0/0.0 per
  label with ``multilabel``; ``doc.user_data`` keeps the record id and meta;
* files are written atomically, with ``meta.json`` (labels, counts, split, seed):
  all four into a fresh temporary directory inside OUTDIR, then renamed into
  place. Existing ones are replaced only with ``overwrite``, and OUTDIR may not be
  the corpus, lie inside a corpus directory, or hold an output that is the corpus
  file itself.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from .atomic import check_distinct_paths, fsync_dir, make_temp_dir, refuse_existing, write_synced
from .errors import ConfigError, CorpusError
from .splits import SPLITS, check_fractions, split_records

OUTPUT_FILES = tuple(f"{name}.spacy" for name in SPLITS) + ("meta.json",)
# Token attributes stored (ORTH and SPACY always are); no parse, no entities.
DOCBIN_ATTRS = ["ORTH", "NORM", "LEMMA", "TAG", "POS", "MORPH"]
# --parse: also the dependency parse, for classifiers with polarity features.
PARSED_ATTRS = DOCBIN_ATTRS + ["HEAD", "DEP", "SENT_START", "ENT_IOB", "ENT_TYPE"]


@dataclass
class DocBinSummary:
    out_dir: Path
    labels: list[str]
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> label -> docs
    tokens: dict[str, int] = field(default_factory=dict)
    skipped_empty: int = 0

    def table(self) -> str:
        """Documents per label and split, as a text table."""
        width = max([len(label) for label in self.labels] + [5])
        lines = [f"{'label':<{width}}  " + "  ".join(f"{s:>6}" for s in SPLITS)]
        rows = [(label, [self.counts[s][label] for s in SPLITS]) for label in self.labels]
        rows.append(("total", [sum(self.counts[s].values()) for s in SPLITS]))
        rows.append(("tokens", [self.tokens[s] for s in SPLITS]))
        for name, values in rows:
            lines.append(f"{name:<{width}}  " + "  ".join(f"{v:>6}" for v in values))
        return "\n".join(lines)


def labelled_records(items: Iterable[Any], *, multilabel: bool = False) -> tuple[list, int]:
    """The records to convert, and the number of empty texts skipped. Raises
    ``CorpusError`` for unreadable or unlabelled records, duplicate ids, texts that
    are not strings, several labels without ``multilabel``, or an empty corpus."""
    from tsunagu.corpora import RejectedRecord

    records, unlabelled, several, seen, duplicates = [], [], [], set(), []
    skipped = 0
    for item in items:
        if isinstance(item, RejectedRecord):  # only with on_error="reject"
            raise CorpusError(f"{item.id}: {item.reason}")
        if not isinstance(item.text, str):
            raise CorpusError(f"{item.id}: the text is a {type(item.text).__name__}, not a string.")
        if item.id in seen:
            duplicates.append(item.id)
        seen.add(item.id)
        if not item.labels:
            unlabelled.append(item.id)
        elif len(set(item.labels)) > 1 and not multilabel:
            several.append(item.id)
        if not item.text.strip():
            skipped += 1
            continue
        records.append(item)
    if unlabelled:
        raise CorpusError(
            f"{len(unlabelled)} record(s) have no label (first: {', '.join(unlabelled[:3])}). A "
            "classifier's training data needs a label on every record: for JSONL, a 'label' or "
            "'labels' field, or --label-field to take them from another field (e.g. meta.category)."
        )
    if several:
        raise CorpusError(
            f"{len(several)} record(s) have several labels (first: {', '.join(several[:3])}), but "
            "exclusive classes take one per document. Pass --multilabel for multi-label data."
        )
    if duplicates:
        raise CorpusError(f"{len(duplicates)} duplicate record id(s) (first: "
                          f"{', '.join(duplicates[:3])}); the split is by id, so ids must be unique.")
    if not records:
        raise CorpusError("The corpus has no documents with text" +
                          (f" ({skipped} empty ones skipped)." if skipped else "."))
    return records, skipped


def corpus_to_docbins(
    corpus: Union[str, Path],
    out_dir: Union[str, Path],
    *,
    input_format: Optional[str] = None,
    reader_options: Optional[dict] = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    multilabel: bool = False,
    split_mode: str = "C",
    n_process: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    parse: bool = False,
) -> DocBinSummary:
    """Write ``out_dir/{train,dev,test}.spacy`` and ``meta.json``; see the module doc."""
    from spacy.tokens import DocBin
    from tqdm import tqdm

    from tsunagu.corpora import read_corpus

    fractions = check_fractions(fractions)
    out_dir = Path(out_dir)
    outputs = {f"OUTDIR/{name}": out_dir / name for name in OUTPUT_FILES}
    check_distinct_paths(inputs={"CORPUS": corpus}, outputs={"OUTDIR": out_dir, **outputs})
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"OUTDIR {out_dir} is a file, not a directory; give a directory to write "
                          "train.spacy, dev.spacy, test.spacy and meta.json into.")
    for path in outputs.values():
        refuse_existing(path, overwrite, "output")
    records, skipped = labelled_records(
        read_corpus(corpus, format=input_format, **(reader_options or {})), multilabel=multilabel)
    labels = sorted({label for r in records for label in r.labels})
    if len(labels) < 2 and not multilabel:
        raise CorpusError(f"The corpus has a single label ({labels[0]!r}); a classifier with "
                          "exclusive classes needs at least two.")
    parts = split_records(records, fractions, seed)
    summary = DocBinSummary(out_dir, labels, skipped_empty=skipped)
    if parse:
        import tsunagu

        # Parsed as tsunagu.load() parses at run time (its own polarity scores are not
        # stored: a classifier computes its features from the parse).
        nlp = tsunagu.load(split_mode=split_mode, exclude=["polarity"])
    else:
        from .tokenizer import tokenizer_only_nlp

        nlp = tokenizer_only_nlp(split_mode)
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(records), desc="parsing" if parse else "tokenizing", unit="doc", disable=not progress)
    # A private directory (mkdtemp) on OUTDIR's file system: nothing can be planted
    # in it, and its files are renamed into place only once all four are written.
    staging = make_temp_dir(out_dir, "to-spacy")
    try:
        for name in SPLITS:
            part = parts[name]
            docbin = DocBin(attrs=PARSED_ATTRS if parse else DOCBIN_ATTRS, store_user_data=True)
            counts: Counter = Counter()
            n_tokens = 0
            texts = (r.text for r in part)
            for record, doc in zip(part, nlp.pipe(texts, batch_size=64, n_process=n_process)):
                doc.cats = {label: float(label in record.labels) for label in labels}
                doc.user_data["id"] = record.id
                if record.meta:
                    doc.user_data["meta"] = _plain(record.meta)
                docbin.add(doc)
                counts[record.labels[0]] += 1
                n_tokens += len(doc)
                bar.update(1)
            summary.counts[name] = counts
            summary.tokens[name] = n_tokens
            write_synced(staging / f"{name}.spacy", docbin.to_bytes())
        meta = {"source": str(corpus), "format": input_format,
                "reader_options": reader_options or {}, "labels": labels, "multilabel": multilabel,
                "split": list(fractions), "seed": seed,
                "split_mode": split_mode, "parsed": parse, "skipped_empty": skipped,
                "documents": {name: dict(summary.counts[name]) for name in SPLITS},
                "tokens": summary.tokens}
        write_synced(staging / "meta.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        for name in OUTPUT_FILES:
            os.replace(staging / name, out_dir / name)
        fsync_dir(out_dir)
    finally:
        bar.close()
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _plain(value: Any) -> Any:
    """Meta as plain JSON types (DocBin user data is msgpack)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))
