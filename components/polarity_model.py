"""``tsunagu_polarity_model``: sentence polarity from a trained classifier.

``tsunagu.load(polarity=DIR)`` adds this pipe after ``polarity``. DIR is a pipeline
trained with ``configs/polarity.cfg`` (``spacy train``, labels positive / negative
and optionally neutral) or written by ``tsunagu polarity adapt`` (the same
classifier trained on silver labels, with ``tsunagu_polarity.json`` saying how
much of the compositional score to mix in). Each sentence is classified on its
own (``span.as_doc()``, which keeps the parse the classifier's polarity features
compose over), and

* ``span._.polarity`` of a sentence = (1 - mix) · (P(positive) - P(negative)) +
  mix · composed score, in [-1, 1];
* ``span._.polarity_label``: the most probable class when the classifier has a
  ``neutral`` class, else neutral below the threshold: ``neutral_threshold`` in DIR's
  ``tsunagu_polarity.json``, else the shipped ``NEUTRAL_THRESHOLD`` for an adapted
  model and the pipe's ``neutral_threshold`` (default 0: never) for a supervised one.
  An adapted model also calls a sentence without any compositional evidence neutral,
  as the default scorer does (its classifier saw only sentences with evidence);
* ``doc._.polarity`` / ``doc._.polarity_label``: from the sentences, as for the
  compositional scorer (``tsunagu.polarity.labels``): the mean of the polar
  sentences; neutral when no sentence is polar;
* ``token._.polarity`` and ``span._.polarity_reasons`` stay the composition's:
  they are the evidence the classifier's features were built from.

Spans other than the doc's sentences keep the composed score.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path

from tsunagu.errors import ConfigError, ModelNotFoundError

SENTENCES = "tsunagu_polarity_sentences"  # doc.user_data: {"starts", "scores", "labels"}
META = "tsunagu_polarity.json"  # in DIR: {"kind": "adapted" | "supervised", "mix": float, ...}
POLAR = ("positive", "negative")


@Language.factory(
    "tsunagu_polarity_model",
    default_config={"path": None, "neutral_threshold": 0.0, "batch_size": 64},
    requires=["token.dep"],
    assigns=["span._.polarity", "span._.polarity_label", "doc._.polarity", "doc._.polarity_label"],
)
def make_polarity_model(nlp: Language, name: str, path: Optional[str], neutral_threshold: float,
                        batch_size: int) -> "PolarityModel":
    return PolarityModel(nlp, name, path, neutral_threshold=neutral_threshold, batch_size=batch_size)


class PolarityModel:
    def __init__(self, nlp: Language, name: str = "polarity_model", path: Optional[str] = None, *,
                 neutral_threshold: float = 0.0, batch_size: int = 64) -> None:
        if not 0 <= neutral_threshold < 1:
            raise ConfigError(f"neutral_threshold must be in [0, 1), not {neutral_threshold}.")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, not {batch_size}.")
        self.name, self.path = name, path
        self.neutral_threshold, self.batch_size = neutral_threshold, batch_size
        self.classifier_nlp: Optional[Language] = None
        self.meta: dict = {}

    # -- the trained classifier ----------------------------------------------------

    def _load(self, path: Path) -> None:
        import spacy

        if not (path / "config.cfg").is_file():
            raise ModelNotFoundError(
                f"{path} is not a trained polarity model (no config.cfg). Give the model-best "
                "directory of `spacy train configs/polarity.cfg`, or the output of "
                "`tsunagu polarity adapt`.")
        try:
            nlp = spacy.load(path)
        except Exception as e:
            raise ModelNotFoundError(f"Cannot load the polarity model in {path}: {e}") from e
        pipes = [n for n, p in nlp.pipeline if hasattr(p, "labels") and hasattr(p, "predict")]
        if not pipes:
            raise ModelNotFoundError(f"The pipeline in {path} has no text classifier.")
        labels = list(nlp.get_pipe(pipes[-1]).labels)
        if not set(POLAR) <= set(labels) or not set(labels) <= set(POLAR) | {"neutral"}:
            raise ConfigError(
                f"The classifier in {path} has the labels {labels}; a polarity model has "
                "positive and negative, and optionally neutral.")
        meta_file = path / META
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        mix = float(meta.get("mix", 0.0))
        if not 0 <= mix <= 1:
            raise ConfigError(f"{meta_file}: mix must be in [0, 1], not {mix}.")
        self.classifier_nlp, self.classifier, self.labels = nlp, nlp.get_pipe(pipes[-1]), labels
        self.meta = {"kind": "supervised", **meta, "mix": mix}
        adapted = self.meta["kind"] == "adapted"
        from tsunagu.polarity import NEUTRAL_THRESHOLD

        self.threshold = float(meta.get("neutral_threshold",
                                        NEUTRAL_THRESHOLD if adapted else self.neutral_threshold))
        self.neutral_without_evidence = bool(meta.get("neutral_without_evidence", adapted))

    def _ensure_loaded(self) -> None:
        if self.classifier_nlp is None:
            if self.path is None:
                raise ConfigError("tsunagu_polarity_model needs the path of a trained polarity model.")
            self._load(Path(self.path))

    # -- scoring ---------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: Optional[int] = None):
        from spacy.util import minibatch

        self._ensure_loaded()
        for batch in minibatch(docs, batch_size or self.batch_size):
            sentences = [(doc, sent) for doc in batch for sent in _sentences(doc) if len(sent)]
            probs = self.predict([sent.as_doc() for _, sent in sentences]) if sentences else []
            by_doc: dict = {}
            for (doc, sent), p in zip(sentences, probs):
                by_doc.setdefault(id(doc), []).append((sent, p))
            for doc in batch:
                self._set(doc, by_doc.get(id(doc), []))
                yield doc

    def predict(self, sentence_docs: list) -> numpy.ndarray:
        """(n, labels) probabilities, one row per sentence ``Doc``."""
        scores = self.classifier.predict(sentence_docs)
        if isinstance(scores, tuple):  # tsunagu_textcat_lstm: (probabilities, attention)
            scores = scores[0]
        return numpy.asarray(self.classifier.model.ops.to_numpy(scores), dtype="float64")

    def _set(self, doc: Doc, scored: list) -> None:
        from tsunagu.components.polarity import SETTINGS, WEIGHTS, _evidence_polarity

        if WEIGHTS not in doc.user_data:
            raise ConfigError("tsunagu_polarity_model runs after the tsunagu_polarity pipe, which "
                              "this pipeline lacks or ran later; tsunagu.load(polarity=DIR) "
                              "places it.")
        pos, neg = self.labels.index("positive"), self.labels.index("negative")
        mix = self.meta["mix"]
        starts, scores, labels = [], [], []
        for sent, p in scored:
            value = float(p[pos] - p[neg])
            composed = _evidence_polarity(sent) or 0.0
            if mix:
                value = (1 - mix) * value + mix * composed
            starts.append(sent.start)
            scores.append(value)
            no_evidence = self.neutral_without_evidence and not any(
                t._.polarity is not None for t in sent)
            labels.append("neutral" if no_evidence else self._label(value, p))
        doc.user_data[SENTENCES] = {"starts": starts, "scores": scores, "labels": labels}
        # The threshold stays the composition's: it labels spans other than sentences.
        doc.user_data[SETTINGS] = {**doc.user_data.get(SETTINGS, {}), "scorer": "model"}

    def _label(self, value: float, p: numpy.ndarray) -> str:
        if "neutral" in self.labels:
            best = self.labels[int(numpy.argmax(p))]
            # The score decides between the polar classes when mix moved it.
            return "neutral" if best == "neutral" else ("positive" if value > 0 else "negative")
        if value == 0 or abs(value) < self.threshold:
            return "neutral"
        return "positive" if value > 0 else "negative"

    # -- serialization: the classifier travels inside the pipeline ----------------------

    def to_disk(self, path, *, exclude=tuple()) -> None:
        self._ensure_loaded()
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        model_dir = path / "model"
        if model_dir.exists():
            shutil.rmtree(model_dir)
        self.classifier_nlp.to_disk(model_dir)
        (model_dir / META).write_text(json.dumps(self.meta, indent=1), encoding="utf-8")

    def from_disk(self, path, *, exclude=tuple()) -> "PolarityModel":
        model_dir = Path(path) / "model"
        if model_dir.is_dir():
            self._load(model_dir)
        return self


def _sentences(doc: Doc) -> list:
    return list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]


def sentence_result(doc: Doc, start: int) -> Optional[tuple[float, str]]:
    """The model's (score, label) of the sentence starting at ``start``, if it scored one."""
    result = doc.user_data.get(SENTENCES)
    if not result:
        return None
    try:
        k = result["starts"].index(start)
    except ValueError:
        return None
    return result["scores"][k], result["labels"][k]
