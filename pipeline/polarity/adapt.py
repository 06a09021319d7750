"""Sentence polarity adapted to a domain from its unlabelled text.

``tsunagu polarity adapt CORPUS -o DIR`` (``adapt()``) has no labels, only the
domain's texts, and does three things:

1. **Corpus links** (Takamura, Inui & Okumura, ACL 2005, the C links; after
   Hatzivassiloglou & McKeown, ACL 1997): predicates joined by and-connectives
   (て, し, たり) tend to share their orientation, those joined by but-connectives
   (が, けど, のに) to oppose it (``tsunagu.lexicons.corpus``). The linked predicates
   form a network whose external field is the shipped lexicon's score, re-solved
   by mean field (``tsunagu.lexicons.spin``): x = tanh(β (W x + h)). Words whose
   sign the domain's usage contradicts move; DIR/lexicon.tsv holds the solved
   words and overrides the shipped lexicon at run time.
2. **Silver labels**: every sentence is scored by composition over the parse
   (``tsunagu.polarity.composition``) with that lexicon; those with
   |score| >= ``confidence`` become positive / negative training sentences. A
   fifth of the sentences (by a hash of their text) is held out of training.
3. **Self-training**: tsunagu's BiLSTM classifier (``configs/polarity.cfg``: bag of
   words plus the composition's features) is trained on the silver sentences, and
   its P(positive) - P(negative) is mixed with the composed score:
   s = (1 - mix) · model + mix · composition. The next round relabels with s and
   retrains; rounds continue while the agreement on the held-out sentences
   (model alone vs. composition alone, where composition is confident) improves,
   up to ``rounds``. The classifier generalises from the confident sentences to the
   domain's vocabulary, which composition cannot know; the mix keeps composition's
   rules where the classifier has seen too little.

Resumable: the parse and each finished round are kept in ``work_dir`` (default
``DIR.adapt-work``) and reused when the same command runs again; DIR is written
atomically at the end, and the work directory is removed.

>>> adapt("reports.jsonl", "polarity-reports")  # doctest: +SKIP
>>> nlp = tsunagu.load(polarity="polarity-reports")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

import numpy

from tsunagu.errors import ConfigError, CorpusError

MIN_SENTENCES = 100
MIN_SILVER_PER_CLASS = 20
HELD_OUT = 0.2
PathLike = Union[str, Path]


@dataclass
class AdaptResult:
    out_dir: Path
    sentences: int
    silver: dict
    linked_words: int
    moved_words: int
    rounds: list = field(default_factory=list)  # [{"round", "silver", "agreement"}]
    best_round: int = 0

    def summary(self) -> str:
        lines = [f"{self.sentences} sentences; corpus links over {self.linked_words} predicates "
                 f"({self.moved_words} changed sign)"]
        for r in self.rounds:
            mark = "  <- kept" if r["round"] == self.best_round else ""
            lines.append(f"round {r['round']}: {r['silver']} silver sentences, held-out agreement "
                         f"{r['agreement']:.3f}{mark}")
        lines.append(f"wrote {self.out_dir}")
        return "\n".join(lines)


def polarity_config_path() -> Path:
    return Path(str(resources.files("tsunagu") / "configs" / "polarity.cfg"))


def adapt(corpus: PathLike, out_dir: PathLike, *, input_format: Optional[str] = None,
          confidence: float = 0.2, mix: float = 0.5, rounds: int = 3, max_epochs: int = 8,
          work_dir: Optional[PathLike] = None, overwrite: bool = False, progress: bool = True,
          log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> AdaptResult:
    """Adapt sentence polarity to CORPUS's domain and write DIR (see the module doc)."""
    from tsunagu.atomic import check_distinct_paths, refuse_existing, replaced_directory

    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), not {confidence}.")
    if not 0 <= mix < 1:
        raise ConfigError(f"mix must be in [0, 1), not {mix}.")
    if rounds < 1 or max_epochs < 1:
        raise ConfigError("rounds and max_epochs must be >= 1.")
    corpus, out_dir = Path(corpus), Path(out_dir)
    if not corpus.exists():
        raise CorpusError(f"No corpus at {corpus}.")
    work = Path(work_dir) if work_dir else out_dir.with_name(out_dir.name + ".adapt-work")
    check_distinct_paths(inputs={"CORPUS": corpus}, outputs={"-o": out_dir, "--work-dir": work})
    refuse_existing(out_dir, overwrite, "output directory")
    work.mkdir(parents=True, exist_ok=True)
    settings = {"corpus": _fingerprint(corpus), "format": input_format, "confidence": confidence,
                "mix": mix, "max_epochs": max_epochs}
    _check_work(work, settings)

    docs = _parsed_sentences(corpus, input_format, work, progress, log)
    texts = [d.text for d in docs]
    held = numpy.array([_held_out(t) for t in texts])

    from tsunagu.lexicons.lexicon import write_lexicon

    lexicon, linked, moved = corpus_lexicon(docs)
    write_lexicon(lexicon, work / "lexicon.tsv")
    composed = numpy.array(_composed_scores(docs, work / "lexicon.tsv"))
    confident_held = held & (numpy.abs(composed) >= confidence)
    result = AdaptResult(out_dir, len(docs), {}, linked, moved)

    current = composed
    best_agreement, best_round = -1.0, 0
    for k in range(1, rounds + 1):
        labels = numpy.where(current > 0, "positive", "negative")
        silver = ~held & (numpy.abs(current) >= confidence)
        counts = {c: int(((labels == c) & silver).sum()) for c in ("positive", "negative")}
        if min(counts.values()) < MIN_SILVER_PER_CLASS:
            if k == 1:
                raise CorpusError(
                    f"Only {counts['positive']} positive and {counts['negative']} negative sentences "
                    f"of {len(docs)} reach the confidence {confidence}: too few to train on "
                    f"(at least {MIN_SILVER_PER_CLASS} each). Give a larger corpus of the domain, "
                    "or a lower --confidence.")
            break
        model_dir = _train_round(work, k, docs, labels, silver, held, max_epochs, log)
        model = _model_scores(model_dir, work / "sentences.spacy")
        agreement = float(((model > 0) == (composed > 0))[confident_held].mean()) \
            if confident_held.any() else 0.0
        result.rounds.append({"round": k, "silver": int(silver.sum()), "counts": counts,
                              "agreement": round(agreement, 4)})
        log(f"round {k}: {int(silver.sum())} silver sentences {counts}, held-out agreement "
            f"{agreement:.3f}")
        if agreement <= best_agreement:
            break
        best_agreement, best_round = agreement, k
        current = (1 - mix) * model + mix * composed
    result.best_round = best_round
    result.silver = result.rounds[best_round - 1]["counts"]

    with replaced_directory(out_dir) as tmp:
        shutil.copytree(work / f"round-{best_round}" / "model" / "model-best", tmp, dirs_exist_ok=True)
        shutil.copy2(work / "lexicon.tsv", tmp / "lexicon.tsv")
        from .labels import NEUTRAL_THRESHOLD

        meta = {"kind": "adapted", "mix": mix, "confidence": confidence,
                "neutral_threshold": NEUTRAL_THRESHOLD, "neutral_without_evidence": True,
                "rounds": result.rounds,
                "best_round": best_round, "sentences": len(docs), "linked_words": linked,
                "moved_words": moved, "corpus": str(corpus), "lexicon": "lexicon.tsv"}
        (tmp / "tsunagu_polarity.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                                   encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return result


# -- the steps ----------------------------------------------------------------------

def _fingerprint(path: Path) -> dict:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {"path": str(path.resolve()), "files": len(files),
            "size": sum(p.stat().st_size for p in files),
            "mtime": max((p.stat().st_mtime for p in files), default=0)}


def _check_work(work: Path, settings: dict) -> None:
    file = work / "settings.json"
    if file.is_file():
        old = json.loads(file.read_text(encoding="utf-8"))
        if old != json.loads(json.dumps(settings)):
            # Another corpus or other settings: what was kept is not reusable.
            shutil.rmtree(work)
            work.mkdir(parents=True)
    file.write_text(json.dumps(settings), encoding="utf-8")


def _held_out(text: str) -> bool:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF < HELD_OUT


def _parsed_sentences(corpus: Path, input_format, work: Path, progress: bool, log) -> list:
    """The corpus's sentences as parsed ``Doc``s (one per sentence), kept in work/."""
    from spacy.tokens import DocBin
    from tqdm import tqdm

    import tsunagu
    from tsunagu.atomic import write_atomically
    from tsunagu.corpora import iter_texts
    from tsunagu.tokenizer import tokenizer_only_nlp

    path = work / "sentences.spacy"
    if path.is_file():
        docs = list(DocBin().from_disk(path).get_docs(tokenizer_only_nlp().vocab))
        log(f"reusing the parse of {len(docs)} sentences in {path}")
        return docs
    texts = [t for t in iter_texts(corpus, input_format) if t and t.strip()]
    if not texts:
        raise CorpusError(f"{corpus} holds no text to adapt to.")
    nlp = tsunagu.load(exclude=["polarity"])
    seen, docs = set(), []
    bar = tqdm(total=len(texts), desc="parsing", unit="text", disable=not progress)
    for doc in nlp.pipe(texts, batch_size=32):
        for sent in doc.sents:
            if len(sent) >= 3 and sent.text not in seen:
                seen.add(sent.text)
                docs.append(sent.as_doc())
        bar.update(1)
    bar.close()
    if len(docs) < MIN_SENTENCES:
        raise CorpusError(f"{corpus} has {len(docs)} distinct sentences; adapting needs at least "
                          f"{MIN_SENTENCES} from the domain.")
    write_atomically(path, DocBin(docs=docs, store_user_data=True).to_bytes())
    return docs


def corpus_lexicon(docs: Iterable, *, beta: float = 1.0, field_strength: float = 1.0):
    """(lexicon of the corpus-linked predicates, linked, changed sign): the mean-field
    solution over the and/but links with the shipped lexicon's scores as the field."""
    from collections import defaultdict

    import scipy.sparse as sp

    from tsunagu.lexicons.corpus import connective_pairs
    from tsunagu.lexicons.lexicon import Lexicon, read_lexicon
    from tsunagu.lexicons.spin import mean_field

    counts: dict = defaultdict(float)
    for doc in docs:
        for a, b, sign in connective_pairs(doc):
            counts[tuple(sorted((a, b)))] += sign
    pairs = {k: v for k, v in counts.items() if v != 0}
    words = sorted({w for pair in pairs for w in pair})
    out = Lexicon()
    if not words:
        return out, 0, 0
    index = {w: i for i, w in enumerate(words)}
    rows, cols, vals = [], [], []
    for (a, b), v in pairs.items():
        rows += [index[a], index[b]]
        cols += [index[b], index[a]]
        vals += [float(numpy.sign(v) * numpy.log1p(abs(v)))] * 2
    n = len(words)
    weights = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    degree = numpy.asarray(abs(weights).sum(axis=1)).ravel()
    weights = sp.diags(1 / numpy.sqrt(numpy.maximum(degree, 1))) @ weights \
        @ sp.diags(1 / numpy.sqrt(numpy.maximum(degree, 1)))
    shipped = read_lexicon("tsunagu:ja")
    prior = numpy.array([shipped.score(w) or 0.0 for w in words])
    scale = numpy.quantile(numpy.abs(prior[prior != 0]), 0.9) if (prior != 0).any() else 1.0
    field_ = field_strength * numpy.clip(prior / (scale or 1.0), -1, 1)
    solved = mean_field(weights, {}, beta, field=field_, init=field_).spins
    moved = 0
    keys: dict = defaultdict(list)
    for (w, pos) in shipped.entries:
        keys[w].append(pos)
    for w, x, p in zip(words, solved, prior):
        if p == 0 and abs(x) < 1e-6:
            continue
        # Back on the shipped lexicon's scale, so that composition's quantiles hold;
        # under each part of speech the shipped lexicon has, so that it overrides them.
        for pos in keys.get(w) or ["*"]:
            out.entries[(w, pos)] = float(x * (scale or 1.0))
        moved += int(p != 0 and numpy.sign(x) != numpy.sign(p))
    out.header = ["tsunagu polarity adapt: corpus-linked predicates re-solved with the shipped "
                  "lexicon as the field; overrides tsunagu:ja"]
    return out, n, moved


def adapted_scorer(lexicon: PathLike):
    """A ``PolarityScorer`` over the shipped lexicon with DIR/lexicon.tsv's entries
    over it (one lexicon, so that its quantile scale is the shipped one's)."""
    from tsunagu.components.polarity import PolarityScorer

    pipe = PolarityScorer("polarity", ["tsunagu:ja"])
    use_adapted_lexicon(pipe, lexicon)
    return pipe


def use_adapted_lexicon(pipe, lexicon: PathLike) -> None:
    from tsunagu.lexicons.lexicon import read_lexicon

    adapted = read_lexicon(lexicon)
    if not pipe.lexicons:
        raise ConfigError("The polarity pipe has no lexicon for the adapted entries to override.")
    pipe.lexicons[0].update(adapted)
    pipe.lexicon.update(adapted)
    pipe._composer = None


def _composed_scores(docs: list, lexicon: Path) -> list:
    from tsunagu.components.polarity import span_polarity
    from tsunagu.extensions import register_extensions

    register_extensions()
    pipe = adapted_scorer(lexicon)
    return [span_polarity(pipe(doc.copy())[:]) or 0.0 for doc in docs]


def _train_round(work: Path, k: int, docs: list, labels, silver, held, max_epochs: int, log) -> Path:
    from spacy.tokens import DocBin

    from tsunagu.atomic import write_atomically

    round_dir = work / f"round-{k}"
    model_dir = round_dir / "model"
    if (round_dir / "done").is_file() and (model_dir / "model-best").is_dir():
        log(f"round {k}: reusing {model_dir}")
        return model_dir / "model-best"
    if round_dir.exists():
        shutil.rmtree(round_dir)
    round_dir.mkdir(parents=True)
    train, dev = [], []
    index = numpy.flatnonzero(silver)
    # A tenth of the silver sentences picks the best checkpoint; the held-out fifth
    # stays out of training altogether.
    for n, i in enumerate(index):
        doc = docs[i].copy()
        doc.cats = {"positive": float(labels[i] == "positive"),
                    "negative": float(labels[i] == "negative")}
        (dev if n % 10 == 0 else train).append(doc)
    write_atomically(round_dir / "train.spacy", DocBin(docs=train, store_user_data=True).to_bytes())
    write_atomically(round_dir / "dev.spacy", DocBin(docs=dev, store_user_data=True).to_bytes())
    from spacy.cli.train import train as spacy_train

    log(f"round {k}: training on {len(train)} silver sentences ({len(dev)} to pick the checkpoint)")
    spacy_train(polarity_config_path(), model_dir, overrides={
        "paths.train": str(round_dir / "train.spacy"), "paths.dev": str(round_dir / "dev.spacy"),
        "training.max_epochs": max_epochs})
    (round_dir / "done").write_text("ok", encoding="utf-8")
    return model_dir / "model-best"


def _model_scores(model_dir: Path, sentences: Path) -> numpy.ndarray:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.load(model_dir)
    # In the model's vocab, which holds the vectors it was trained with.
    docs = list(DocBin().from_disk(sentences).get_docs(nlp.vocab))
    pipe = nlp.get_pipe("textcat_lstm")
    out = []
    for start in range(0, len(docs), 256):
        probs = pipe.predict(docs[start:start + 256])[0]
        pos, neg = list(pipe.labels).index("positive"), list(pipe.labels).index("negative")
        out.extend(probs[:, pos] - probs[:, neg])
    return numpy.asarray(out, dtype="float64")


def describe(result: AdaptResult) -> dict:
    return asdict(result) | {"out_dir": str(result.out_dir)}
