"""``tsunagu_textcat_lstm``: a trainable BiLSTM text classifier writing ``doc.cats``.

Train it with ``python -m spacy train configs/lstm_livedoor.cfg`` (see configs/),
or through spaCy's training API like ``textcat``. One component covers exclusive
classes (one label per document, softmax) and multi-label classification
(``exclusive_classes = false``, a sigmoid per label). Scores are spaCy's
``textcat`` scores (``cats_score``, ``cats_macro_f``, ...), so ``spacy train`` and
``spacy evaluate`` report them as for spaCy's own classifiers.

Besides ``doc.cats`` it writes ``doc._.attention`` (with ``pooling =
"attention"``): one weight per token, the additive attention that pooled the
BiLSTM states, averaged over ensemble members.

Settings of the component (model settings: ``architectures.py``):
    exclusive_classes: one positive label per document (needs >= 2 labels).
    threshold: a label counts as predicted at this probability (multi-label scoring).
    quantize: run inference on an int8 copy of the LSTM and Linear layers
        (``torch.ao.quantization.quantize_dynamic``); training is unaffected.
    n_threads: torch threads; 0: the CPUs this process may use (affinity, cgroup
        quota) that are not busy (load average) when the component is made, at
        least 1. Applies to the whole process.
    top_k: 0: ``doc.cats`` holds every label (spaCy's convention). k > 0: only the k
        most probable labels, with their probabilities; the others are absent.

Very many labels (thousands to hundreds of thousands, exclusive classes): set the
model's ``head`` (``"hierarchical"``, ``"negative"``, ...; ``architectures.py``).
Training then computes the head's loss from the gold label indices, in O(H log C)
or O(H K) per document instead of the O(H C) of scoring every label (the label
counts for the Huffman tree and the noise distribution are taken from the training
examples in ``initialize``). Prediction still computes p(label | doc) for all C
labels (one matrix product; no backward pass, no optimizer step), but a ``doc.cats``
of 50,000 floats per document is ~5 MB of Python objects for nothing: set ``top_k``
(e.g. 10). spaCy's scorer treats an absent label as probability 0, so with
exclusive classes (argmax) accuracy and the P/R/F scores are the same as with all
labels present; only the per-label AUC sees 0 instead of a small probability. With
``top_k`` (exclusive classes) ``score`` computes spaCy's scores from the labels
present, in linear time, instead of spaCy's loop over every label of every
document.
The default (``head = null``, ``top_k = 0``) is the classifier as it always was.

Long documents (the LSTM reads at most ``max_length`` tokens): set the model's
``bow = true`` to add a linear bag-of-words model over the hashed unigrams and
bigrams of all the tokens to the BiLSTM's scores, as spaCy's ``TextCatEnsemble``
does (``architectures.py``; not with a head).

This module is named by a ``spacy_factories`` entry point, so it imports torch
only inside functions.
"""

# No "from __future__ import annotations": spaCy validates initialize()'s
# settings with pydantic, which needs real annotations.
import math
import os
import warnings
from typing import Callable, Iterable, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model

from tsunagu.errors import ConfigError, LabelError

from .architectures import (check_vectors, last_attention, model_head, no_multilabel_head,
                            set_label_counts, torch_module)

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "tsunagu.TextCatBiLSTM.v1"
exclusive_classes = null
hidden_width = 128
depth = 1
dropout = 0.2
pooling = "attention"
freeze_embeddings = false
attr = "NORM"
max_length = 0
ensemble_size = 1
seed = 0
nO = null
head = null
head_options = null
bow = false
bow_buckets = 262144
bow_ngrams = 2
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]
# Beyond this many labels a full doc.cats per document is a cost worth a warning.
MANY_LABELS = 5000


@Language.factory(
    "tsunagu_textcat_lstm",
    assigns=["doc.cats", "doc._.attention"],
    default_config={
        "model": DEFAULT_MODEL,
        "exclusive_classes": True,
        "threshold": 0.5,
        "quantize": False,
        "n_threads": 0,
        "top_k": 0,
    },
    default_score_weights={
        "cats_score": 1.0,
        "cats_score_desc": None,
        "cats_micro_p": None,
        "cats_micro_r": None,
        "cats_micro_f": None,
        "cats_macro_p": None,
        "cats_macro_r": None,
        "cats_macro_f": None,
        "cats_macro_auc": None,
        "cats_f_per_type": None,
    },
)
def make_textcat_lstm(nlp: Language, name: str, model: Model, exclusive_classes: bool,
                      threshold: float, quantize: bool, n_threads: int,
                      top_k: int = 0) -> "TextCatLSTM":
    return TextCatLSTM(nlp.vocab, model, name, exclusive_classes=exclusive_classes,
                       threshold=threshold, quantize=quantize, n_threads=n_threads, top_k=top_k)


class TextCatLSTM(TrainablePipe):
    """Document classifier on ``tsunagu.TextCatBiLSTM.v1`` (or any model that maps
    docs to a (n_docs, n_labels) array of probabilities)."""

    def __init__(self, vocab: Vocab, model: Model, name: str = "textcat_lstm", *,
                 exclusive_classes: bool = True, threshold: float = 0.5,
                 quantize: bool = False, n_threads: int = 0, top_k: int = 0) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self._rehearsal_model = None
        self.threshold = threshold
        self.quantize = quantize
        # Labels (and the kind of classes they were trained as) are saved with the weights.
        self.cfg = {"labels": [], "exclusive_classes": bool(exclusive_classes)}
        declared = model.attrs.get("exclusive_classes", "absent")
        if declared is None:
            set_exclusive_classes(model, bool(exclusive_classes))
        elif declared != "absent" and bool(declared) != bool(exclusive_classes):
            raise ConfigError(
                f"The component '{name}' has exclusive_classes = {exclusive_classes} but its model "
                f"has exclusive_classes = {declared}. Set both the same (or leave the model's null)."
            )
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], not {threshold!r}.")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
            raise ConfigError(f"top_k must be an integer >= 0 (0: every label), not {top_k!r}.")
        self.top_k = top_k
        self.head = model_head(model)
        if self.head is not None and not exclusive_classes:
            raise ConfigError(f"The component '{name}' has exclusive_classes = false, but "
                              + no_multilabel_head(self.head))
        self._index_cache: tuple = (None, 0, {})
        module = torch_module(model)
        if quantize and module is None:
            raise ConfigError("quantize = true needs the tsunagu.TextCatBiLSTM.v1 architecture.")
        if module is not None:
            module.quantize = bool(quantize)
        self.n_threads = configure_threads(n_threads)

    @property
    def exclusive_classes(self) -> bool:
        return self.cfg["exclusive_classes"]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def _label_index(self) -> dict:
        """{label: column}, kept between batches (50,000 labels: ~5 ms to rebuild)."""
        labels = self.cfg["labels"]
        if self._index_cache[0] is not labels or self._index_cache[1] != len(labels):
            self._index_cache = (labels, len(labels), {label: j for j, label in enumerate(labels)})
        return self._index_cache[2]

    def add_label(self, label: str) -> int:
        if not isinstance(label, str) or not label:
            raise LabelError(f"A label must be a non-empty string, not {label!r}.")
        index = self._label_index()  # not `in self.labels`: O(C) per label, O(C^2) in all
        if label in index:
            return 0
        self._allow_extra_label()
        labels = self.cfg["labels"]
        labels.append(label)
        index[label] = len(labels) - 1
        self._index_cache = (labels, len(labels), index)
        self.vocab.strings.add(label)
        return 1

    # -- training -------------------------------------------------------------

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *,
                   nlp: Optional[Language] = None, labels: Optional[Sequence[str]] = None) -> None:
        """Take the labels from the examples (or ``labels``), check every example,
        and initialize the model from a sample (its vocab holds the vectors)."""
        validate_get_examples(get_examples, "TextCatLSTM.initialize")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        found: set[str] = set()
        sample: List[Doc] = []
        annotations = []  # checked once the labels are known
        for eg in get_examples():
            found.update(eg.reference.cats)
            annotations.append((dict(eg.reference.cats), _snippet(eg.reference)))
            if len(sample) < 10:
                sample.append(eg.predicted)
        if labels is None:
            for label in sorted(found):
                self.add_label(label)
        if not self.labels:
            raise LabelError(
                f"The component '{self.name}' found no labels: the training documents have no "
                "doc.cats. Make labelled DocBins with `tsunagu corpus to-spacy`."
            )
        if self.exclusive_classes and len(self.labels) < 2:
            raise LabelError(
                f"Exclusive classes need at least two labels; the training data has only "
                f"{self.labels[0]!r}. For yes/no decisions use exclusive_classes = false."
            )
        index = self._label_index()
        for i, (cats, snippet) in enumerate(annotations):
            self._check_cats(cats, i, snippet, index)
        if not sample:
            raise LabelError(f"The component '{self.name}' got no training examples.")
        if self.head is not None:
            # Examples per label: the Huffman tree gives frequent labels short paths;
            # the sampling heads draw negatives from counts ** power.
            counts = numpy.zeros(len(self.labels), dtype="float64")
            for cats, _ in annotations:
                for label, value in cats.items():
                    if value == 1.0:
                        counts[index[label]] += 1
            set_label_counts(self.model, counts)
        if len(self.labels) > MANY_LABELS and not self.top_k:
            warnings.warn(f"The classifier '{self.name}' has {len(self.labels)} labels and "
                          "top_k = 0: every doc.cats will hold all of them. Set top_k (e.g. 10) "
                          "to keep only the most probable labels.", stacklevel=2)
        label_sample = self.model.ops.alloc2f(len(sample), len(self.labels))
        self.model.initialize(X=sample, Y=label_sample)

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd=None,
               losses: Optional[dict] = None) -> dict:
        """Without a head: spaCy's update (``get_loss``'s ``P - Y``). With a head: the
        model takes the documents and their gold label indices and returns each
        ensemble member's ``head.loss`` (mean over the documents); its backward pass
        is fed ``d_loss = n_docs``, the gradient of the loss summed over documents,
        which is the scale of ``P - Y`` per document. Documents without ``cats``
        are left out."""
        if self.head is None:
            return super().update(examples, drop=drop, sgd=sgd, losses=losses)
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        validate_examples(examples, "TextCatLSTM.update")
        docs, targets = self._gold_indices(list(examples))
        if not docs:
            return losses
        member_losses, backprop = self.model.begin_update((docs, targets))
        backprop(self.model.ops.alloc1f(len(member_losses)) + float(len(docs)))
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += float(numpy.mean(self.model.ops.to_numpy(member_losses)))
        return losses

    def _gold_indices(self, examples: List[Example]) -> tuple[List[Doc], numpy.ndarray]:
        """The annotated examples' predicted docs and the column of their positive label."""
        index = self._label_index()
        docs, targets = [], []
        for i, eg in enumerate(examples):
            cats = eg.reference.cats
            self._check_cats(cats, i, eg.reference, index)
            if cats:
                docs.append(eg.predicted)
                targets.append(next(index[label] for label, v in cats.items() if v == 1.0))
        return docs, numpy.asarray(targets, dtype="int64")

    def get_loss(self, examples: Iterable[Example], scores) -> tuple[float, numpy.ndarray]:
        """Cross-entropy (exclusive) or binary cross-entropy (multi-label) per
        document, and its gradient in the convention of thinc's output layers:
        ``P - Y`` on the annotated entries."""
        validate_examples(examples, "TextCatLSTM.get_loss")
        examples = list(examples)
        truths, not_missing = self._examples_to_truth(examples)
        scores = self.model.ops.to_numpy(scores)
        d_scores = ((scores - truths) * not_missing).astype("float32")
        p = numpy.clip(scores, 1e-7, 1 - 1e-7)
        if self.exclusive_classes:
            losses = -(truths * numpy.log(p)).sum(axis=1) * not_missing.max(axis=1)
        else:
            bce = -(truths * numpy.log(p) + (1 - truths) * numpy.log(1 - p))
            losses = (bce * not_missing).sum(axis=1)
        n = max(1.0, float(not_missing.max(axis=1).sum()))
        return float(losses.sum() / n), d_scores

    def _examples_to_truth(self, examples: List[Example]):
        index = self._label_index()
        truths = numpy.zeros((len(examples), len(self.labels)), dtype="float32")
        not_missing = numpy.ones_like(truths)
        for i, eg in enumerate(examples):
            cats = eg.reference.cats
            self._check_cats(cats, i, eg.reference, index)
            if not cats:
                not_missing[i] = 0.0  # no annotation: no gradient
                continue
            for label, value in cats.items():
                truths[i, index[label]] = value
            if not self.exclusive_classes:
                for label, j in index.items():
                    if label not in cats:
                        not_missing[i, j] = 0.0
        return truths, not_missing

    def _check_cats(self, cats: dict, i: int, where, index: dict) -> None:
        """Raise ``LabelError`` unless ``cats`` fit the labels; ``where`` (a Doc or
        its snippet) names the document in the message."""
        if not cats:
            return
        snippet = _snippet(where) if isinstance(where, Doc) else where
        unknown = [label for label in cats if label not in index]
        if unknown:
            raise LabelError(
                f"Document {i} ({snippet}) has the label(s) {', '.join(map(repr, unknown))}, "
                f"which the classifier '{self.name}' does not know; its labels are "
                f"{_some(self.labels)}. Its labels come from the training data: a label that "
                "appears only in dev or test data cannot be predicted."
            )
        values = list(cats.values())
        if any(not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0 for v in values):
            raise LabelError(f"Document {i} ({snippet}) has cats values outside "
                             f"[0, 1]: {dict(cats)}.")
        if self.exclusive_classes and (sum(1 for v in values if v == 1.0) != 1
                                       or any(v not in (0.0, 1.0) for v in values)):
            raise LabelError(
                f"Document {i} ({snippet}) has cats {dict(cats)}, but with exclusive "
                "classes each document needs exactly one label at 1.0 (the others 0.0 or absent). "
                "For documents with several labels set exclusive_classes = false "
                "(and make the DocBins with `tsunagu corpus to-spacy --multilabel`)."
            )

    # -- prediction -----------------------------------------------------------

    def predict(self, docs: Iterable[Doc]):
        """Probabilities (n_docs, n_labels) and, with attention pooling, one array
        of token weights per document (else None)."""
        docs = list(docs)
        if not docs:
            return self.model.ops.alloc2f(0, len(self.labels)), []
        scores = self.model.predict(docs)
        return self.model.ops.to_numpy(scores), last_attention(self.model)

    def set_annotations(self, docs: Iterable[Doc], predictions) -> None:
        """``doc.cats`` from the probabilities (every label, or with ``top_k`` the k
        most probable, most probable first); ``doc._.attention`` from the attention
        weights (``predictions`` may also be a bare score array)."""
        if isinstance(predictions, tuple):
            scores, attention = predictions
        else:
            scores, attention = predictions, None
        labels = self.labels
        index = self._label_index()
        top = None
        if self.top_k and self.top_k < len(labels) and len(scores):
            # argpartition: O(C) per document, then only k to sort.
            top = numpy.argpartition(-scores, self.top_k - 1, axis=1)[:, :self.top_k]
        for i, doc in enumerate(docs):
            if top is None:
                for j, label in enumerate(labels):
                    doc.cats[label] = float(scores[i, j])
            else:
                # This component's labels from an earlier prediction go: doc.cats is
                # the latest top k, not a mix.
                for label in [label for label in doc.cats if label in index]:
                    del doc.cats[label]
                best = top[i][numpy.argsort(-scores[i, top[i]], kind="stable")]
                for j in best:
                    doc.cats[labels[j]] = float(scores[i, j])
            if attention is not None:
                weights = numpy.zeros(len(doc), dtype="float32")
                weights[:len(attention[i])] = attention[i]
                doc._.attention = weights.tolist()

    def score(self, examples: Iterable[Example], **kwargs) -> dict:
        """spaCy's text classification scores. With exclusive classes the top label
        is the prediction (threshold 0); multi-label uses ``threshold``.

        With exclusive classes and ``top_k`` the same scores come from
        ``_score_sparse``, in time linear in the predicted and gold entries:
        ``Scorer.score_cats`` visits every label of every document in Python
        (~1 µs each: 4 s for 200 documents x 20,000 labels, minutes per evaluation
        of a dev set with 100,000 labels)."""
        validate_examples(examples, "TextCatLSTM.score")
        examples = list(examples)
        index = self._label_index()
        for i, eg in enumerate(examples):
            self._check_cats(eg.reference.cats, i, eg.reference, index)
        if self.exclusive_classes and self.top_k and not set(kwargs) - {"threshold"}:
            scores = self._score_sparse(examples, index)
            if scores is not None:
                return scores
        kwargs.setdefault("threshold", 0.0 if self.exclusive_classes else self.threshold)
        return Scorer.score_cats(examples, "cats", labels=self.labels,
                                 multi_label=not self.exclusive_classes, **kwargs)

    def _score_sparse(self, examples: List[Example], index: dict) -> Optional[dict]:
        """``Scorer.score_cats(examples, "cats", labels, multi_label=False)`` from the
        entries present in ``doc.cats`` (an absent label scores 0, as there).

        P/R/F: spaCy's argmax rule and ``PRFScore`` objects, so the same floats.
        AUC of label c: in spaCy, the ROC area of (score of c, [gold is c]) over
        every document, i.e. the Mann-Whitney statistic
            AUC_c = (#{(p, n): s_p > s_n} + ½ #{(p, n): s_p = s_n}) / (n_pos · n_neg),
        p over the documents whose gold label is c, n over all others. Most
        negatives lack c and score 0: they are counted, not listed. Equal to
        spaCy's trapezoidal ROC area up to rounding. None (spaCy's scorer then)
        if a document has no predicted label."""
        from collections import defaultdict

        from spacy.scorer import PRFScore

        labels = self.labels
        f_per_type = {label: PRFScore() for label in labels}
        positives, negatives = defaultdict(list), defaultdict(list)
        for eg in examples:
            pred = {k: v for k, v in eg.predicted.cats.items() if k in index}
            gold = {k: v for k, v in eg.reference.cats.items() if k in index}
            if not pred:
                return None
            gold_positive = {k for k, v in gold.items() if v}
            for label in gold_positive:
                positives[label].append(pred.get(label, 0.0))
            for label, value in pred.items():
                if label not in gold_positive:
                    negatives[label].append(value)
            pred_label = max(pred.items(), key=lambda it: it[1])[0]
            if gold:
                gold_label = max(gold.items(), key=lambda it: it[1])[0]
                if pred_label == gold_label:
                    f_per_type[pred_label].tp += 1
                else:
                    f_per_type[gold_label].fn += 1
                    f_per_type[pred_label].fp += 1
            else:
                f_per_type[pred_label].fp += 1
        auc_per_type = dict.fromkeys(labels)
        for label, pos in positives.items():
            n_neg = len(examples) - len(pos)
            if n_neg == 0:
                continue  # one class only: not binary, as in spaCy
            listed = numpy.sort(numpy.asarray(negatives.get(label, []), dtype="float64"))
            zeros = n_neg - len(listed)  # negatives without the label: score 0
            pos = numpy.asarray(pos, dtype="float64")
            below = numpy.searchsorted(listed, pos, "left") + zeros * (pos > 0.0)
            ties = (numpy.searchsorted(listed, pos, "right") - numpy.searchsorted(listed, pos, "left")
                    + zeros * (pos == 0.0))
            auc_per_type[label] = float((below + 0.5 * ties).sum() / (len(pos) * n_neg))
        micro = PRFScore()
        for prf in f_per_type.values():
            micro += prf
        n_cats = len(f_per_type) + 1e-100
        macro_f = sum(prf.fscore for prf in f_per_type.values()) / n_cats
        return {
            "cats_score": macro_f,
            "cats_score_desc": "macro F",
            "cats_micro_p": micro.precision,
            "cats_micro_r": micro.recall,
            "cats_micro_f": micro.fscore,
            "cats_macro_p": sum(prf.precision for prf in f_per_type.values()) / n_cats,
            "cats_macro_r": sum(prf.recall for prf in f_per_type.values()) / n_cats,
            "cats_macro_f": macro_f,
            "cats_macro_auc": sum(v for v in auc_per_type.values() if v is not None) / n_cats,
            "cats_f_per_type": {k: v.to_dict() for k, v in f_per_type.items()},
            "cats_auc_per_type": auc_per_type,
        }

    # -- serialization --------------------------------------------------------

    def from_disk(self, path, *, exclude=tuple()) -> "TextCatLSTM":
        try:
            super().from_disk(path, exclude=exclude)
        except (ValueError, OSError, KeyError) as e:
            raise self._load_error(f"{path}/model", e) from e
        self._after_load()
        return self

    def from_bytes(self, bytes_data, *, exclude=tuple()) -> "TextCatLSTM":
        try:
            super().from_bytes(bytes_data, exclude=exclude)
        except (ValueError, OSError, KeyError) as e:
            raise self._load_error("its bytes", e) from e
        self._after_load()
        return self

    def _load_error(self, where, error: Exception) -> Exception:
        from tsunagu.errors import ModelLoadError, TsunaguError

        if isinstance(error, TsunaguError):
            return error
        # thinc's msgpack reports a cut-off file as "Unpack failed: incomplete input".
        return ModelLoadError(f"The weights of component '{self.name}' ({where}) are truncated or "
                              f"corrupt ({type(error).__name__}: {error}); copy the pipeline again "
                              "or re-train it.")

    def _after_load(self) -> None:
        self.head = model_head(self.model)
        declared = self.model.attrs.get("exclusive_classes")
        if declared is not None and bool(declared) != self.exclusive_classes:
            raise ConfigError(f"The saved classifier '{self.name}' was trained with "
                              f"exclusive_classes = {declared}; the config says "
                              f"{self.exclusive_classes}.")
        module = torch_module(self.model)
        if module is not None:
            module.quantize = bool(self.quantize)
        # spaCy loads the pipeline's vocab (and vectors) before its components.
        check_vectors(self.model, self.vocab.vectors, where=f"Loading '{self.name}': ")


def set_exclusive_classes(model: Model, exclusive: bool) -> None:
    """Set the output activation of a ``tsunagu.TextCatBiLSTM.v1`` model."""
    for node in model.walk():
        if "exclusive_classes" in node.attrs:
            node.attrs["exclusive_classes"] = exclusive


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def idle_cpus() -> int:
    """``available_cpus()`` less those busy with other work (the 1-minute load
    average), at least 1."""
    n = available_cpus()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        return n
    return max(1, min(n, int(n - busy + 0.5)))


def configure_threads(n_threads: int) -> int:
    """Set torch's intra-op threads: ``n_threads``, or with 0 the CPUs that are
    free for it: torch's default is the host's core count, and a torch thread
    pool larger than the CPUs actually free makes OpenMP threads wait on each
    other (an LSTM step ran 7x slower with 2 threads than with 1 on 2 cores busy
    with another job). Applies to the whole process."""
    import torch

    if not isinstance(n_threads, int) or n_threads < 0:
        raise ConfigError(f"n_threads must be an integer >= 0, not {n_threads!r}.")
    n = n_threads or min(torch.get_num_threads(), idle_cpus())
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _some(labels: Sequence[str], n: int = 30) -> str:
    """The labels, or the first n of very many (an error message, not a dump)."""
    if len(labels) <= n:
        return ", ".join(labels)
    return f"{', '.join(labels[:n])}, ... ({len(labels)} in all)"


def _snippet(doc: Doc) -> str:
    text = doc.text.replace("\n", " ")
    return repr(text[:30] + ("…" if len(text) > 30 else ""))


