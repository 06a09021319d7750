"""Classifiers for active learning, behind one small interface.

Strategies, sessions and simulations see only::

    model.fit(texts, labels) -> model          # from scratch, on these examples
    model.predict_proba(texts) -> (n, k)       # columns in ``model.labels`` order
    model.doc_vectors(texts) -> (n, d)         # for diversity strategies
    model.clone(seed) -> unfitted copy         # committees, background retraining
    model.train_texts / model.train_labels     # what it was fitted on

Two implementations over spaCy:

* :class:`BowTextcat` (the default): spaCy's ``textcat`` model
  ``spacy.TextCatBOW.v3`` (hashed bag of words, softmax), trained directly through
  thinc on Docs tokenized once and cached. Retraining from scratch on 2,000
  titles takes about a second, so every query round retrains.
* :class:`PipelineClassifier`: any saved spaCy pipeline whose classifier writes
  ``doc.cats`` (``textcat``, tsunagu's LSTM component...); ``fit`` reloads the
  pipeline, re-initializes that component and trains it with ``nlp.update``.
  The component must work from tokens alone (its own embedding layer, not a
  listener of a shared ``tok2vec``); the other components are not run.

Documents are tokenized by a pipeline without components,
:func:`tsunagu.tokenizer.tokenizer_only_nlp` (Sudachi split mode C, texts of any
length), over ``ja_ginza``'s vocabulary with its 300-d static vectors (whose
averages are the document vectors), or a vocabulary of its own where ja_ginza is
missing (document vectors are then hashed bags of words).
"""

from __future__ import annotations

import glob
import random
import threading
import zlib
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .errors import ActiveLearningError

HASH_DIM = 1024


def load_tokenizer_nlp(vectors: Optional[str] = "ja_ginza"):
    """A pipeline without components: tsunagu's tokenizer over the vocabulary (with
    its vectors) of the pipeline package ``vectors``, or over a new vocabulary where
    that package is missing or ``vectors`` is None."""
    import spacy

    from ..tokenizer import tokenizer_only_nlp

    if vectors:
        try:
            import spacy.util

            path = spacy.util.get_package_path(vectors)
            configs = glob.glob(str(Path(path) / "*" / "config.cfg"))
            names = list(spacy.util.load_config(configs[0])["nlp"]["pipeline"]) if configs else []
            return tokenizer_only_nlp(vocab=spacy.load(vectors, exclude=names).vocab)
        except (OSError, ImportError, IndexError):
            pass
    return tokenizer_only_nlp()


class DocCache:
    """Docs by text, tokenized once and shared by every model built on it.

    Tokenizing happens under a lock (Sudachi is not thread-safe); reading cached
    Docs from several threads is safe because nothing writes to them.
    """

    def __init__(self, nlp=None) -> None:
        self.nlp = nlp if nlp is not None else load_tokenizer_nlp()
        self._docs: dict[str, Any] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._docs)

    def docs(self, texts: Sequence[str]) -> list:
        missing = [t for t in dict.fromkeys(texts) if t not in self._docs]
        if missing:
            with self._lock:
                missing = [t for t in missing if t not in self._docs]
                for text in missing:  # the tokenizer only, whatever components follow
                    self._docs[text] = self.nlp.make_doc(text)
        return [self._docs[t] for t in texts]

    @property
    def has_vectors(self) -> bool:
        return self.nlp.vocab.vectors.shape[0] > 0

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Mean static word vector per text, or a hashed bag of words without vectors."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, doc in zip(missing, self.docs(missing)):
                self._vectors[text] = self._doc_vector(doc)
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        return np.stack([self._vectors[t] for t in texts])

    @property
    def dim(self) -> int:
        return self.nlp.vocab.vectors.shape[1] if self.has_vectors else HASH_DIM

    def _doc_vector(self, doc) -> np.ndarray:
        if self.has_vectors:
            rows = [t.vector for t in doc if t.has_vector]
            if rows:
                return np.mean(rows, axis=0).astype("float32")
            return np.zeros(self.dim, dtype="float32")
        v = np.zeros(HASH_DIM, dtype="float32")
        for t in doc:
            v[zlib.crc32(t.lower_.encode()) % HASH_DIM] += 1.0
        return v


class _Base:
    labels: list[str]

    def __init__(self, labels: Sequence[str], cache: Optional[DocCache], seed: int) -> None:
        labels = list(labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ActiveLearningError(f"need at least two distinct labels, got {labels}")
        self.labels = labels
        self.cache = cache
        self.seed = seed
        self.train_texts: list[str] = []
        self.train_labels: list[str] = []
        self.fitted = False

    def _targets(self, labels: Sequence[str]) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.labels)}
        try:
            y = np.array([index[name] for name in labels], dtype=int)
        except KeyError as e:
            raise ActiveLearningError(f"label {e.args[0]!r} is not one of {self.labels}") from None
        return y

    def doc_vectors(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache.vectors(list(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def _uniform(self, n: int) -> np.ndarray:
        return np.full((n, len(self.labels)), 1.0 / len(self.labels), dtype="float32")


class BowTextcat(_Base):
    """spaCy's ``TextCatBOW.v3`` (exclusive classes) trained from scratch by ``fit``.

    Training: Adam (``learn_rate``), minibatches of ``batch_size`` (smaller for
    small data: at least 8 batches an epoch), ``epochs`` passes but at least
    ``min_updates`` updates, so that a 50-example seed set is not undertrained.
    ``length`` is the size of the hashed feature table; Adam updates all of it
    each step, so it is the main cost (2**16 trains 2,000 titles in ~1 s).
    """

    def __init__(self, labels: Sequence[str], *, cache: Optional[DocCache] = None, epochs: int = 10,
                 batch_size: int = 64, learn_rate: float = 0.005, length: int = 2 ** 16,
                 ngram_size: int = 2, min_updates: int = 200, seed: int = 0) -> None:
        super().__init__(labels, cache if cache is not None else DocCache(), seed)
        self.settings = dict(epochs=epochs, batch_size=batch_size, learn_rate=learn_rate,
                             length=length, ngram_size=ngram_size, min_updates=min_updates)
        self.model = None

    def clone(self, seed: Optional[int] = None) -> "BowTextcat":
        return BowTextcat(self.labels, cache=self.cache, seed=self.seed if seed is None else seed,
                          **self.settings)

    def _build(self):
        from spacy import registry

        cfg = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True,
               "ngram_size": self.settings["ngram_size"], "no_output_layer": False,
               "length": self.settings["length"], "nO": len(self.labels)}
        return registry.resolve({"model": cfg})["model"]

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "BowTextcat":
        from thinc.api import Adam

        texts, labels = list(texts), list(labels)
        if len(texts) != len(labels):
            raise ActiveLearningError(f"{len(texts)} texts but {len(labels)} labels")
        y = self._targets(labels)
        docs = self.cache.docs(texts)
        self.train_texts, self.train_labels = texts, labels
        model = self._build()
        k = len(self.labels)
        model.initialize(X=docs[:8] or self.cache.docs([""]), Y=np.zeros((min(8, max(1, len(docs))), k),
                                                                             dtype="float32"))
        if docs:
            s = self.settings
            bs = max(1, min(s["batch_size"], max(8, len(docs) // 8)))
            steps_per_epoch = -(-len(docs) // bs)
            epochs = max(s["epochs"], -(-s["min_updates"] // steps_per_epoch))
            opt = Adam(s["learn_rate"])
            eye = np.eye(k, dtype="float32")
            order = list(range(len(docs)))
            rng = random.Random(self.seed)
            for _ in range(epochs):
                rng.shuffle(order)
                for start in range(0, len(order), bs):
                    batch = order[start:start + bs]
                    scores, backprop = model.begin_update([docs[i] for i in batch])
                    backprop((scores - eye[y[batch]]) / len(batch))
                    model.finish_update(opt)
        self.model = model
        self.fitted = bool(docs)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.model is None or not self.fitted:
            return self._uniform(len(texts))
        docs = self.cache.docs(texts)
        out = [self.model.predict(docs[i:i + 2048]) for i in range(0, len(docs), 2048)]
        return np.concatenate(out).astype("float32") if out else self._uniform(0)

    def __repr__(self) -> str:
        return f"BowTextcat({', '.join(f'{k}={v}' for k, v in self.settings.items())})"


class PipelineClassifier(_Base):
    """A saved spaCy pipeline's ``doc.cats`` component, re-initialized and trained
    by ``fit`` (``epochs`` passes of ``nlp.update``, minibatches of ``batch_size``).
    ``component`` defaults to the last component with labels (textcat-like)."""

    def __init__(self, path: Path, labels: Sequence[str], *, component: Optional[str] = None,
                 epochs: int = 10, batch_size: int = 32, seed: int = 0,
                 cache: Optional[DocCache] = None, _base=None) -> None:
        import spacy

        self.path = Path(path)
        if _base is None:
            if not self.path.exists():
                raise ActiveLearningError(f"no spaCy pipeline at {self.path}")
            _base = spacy.load(self.path)
        self._base_nlp = _base
        name = component or _classifier_name(_base)
        if name not in _base.pipe_names:
            raise ActiveLearningError(f"{self.path} has no component {name!r} "
                                      f"(components: {', '.join(_base.pipe_names)})")
        extra = set(getattr(_base.get_pipe(name), "labels", ())) - set(labels)
        if extra:
            raise ActiveLearningError(f"{self.path}'s {name} knows labels {sorted(extra)} that this "
                                      f"session does not have; use a pipeline trained on {list(labels)} "
                                      "or an untrained one")
        super().__init__(labels, cache if cache is not None else DocCache(_base), seed)
        self.component = name
        self.epochs, self.batch_size = epochs, batch_size
        self.nlp = None

    def clone(self, seed: Optional[int] = None) -> "PipelineClassifier":
        return PipelineClassifier(self.path, self.labels, component=self.component, epochs=self.epochs,
                                  batch_size=self.batch_size, seed=self.seed if seed is None else seed,
                                  cache=self.cache, _base=self._base_nlp)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "PipelineClassifier":
        import spacy
        from spacy.training import Example
        from spacy.util import fix_random_seed, minibatch

        texts, labels = list(texts), list(labels)
        y = self._targets(labels)
        self.train_texts, self.train_labels = texts, labels
        if not texts:
            self.nlp, self.fitted = None, False
            return self
        fix_random_seed(self.seed)
        nlp = spacy.load(self.path, vocab=self._base_nlp.vocab)
        others = [n for n in nlp.pipe_names if n != self.component]
        examples = [Example.from_dict(doc.copy(), {"cats": {l: float(i == yi) for i, l in enumerate(self.labels)}})
                    for doc, yi in zip(self.cache.docs(texts), y)]
        pipe = nlp.get_pipe(self.component)
        try:
            pipe.initialize(lambda: examples, nlp=nlp, labels=self.labels)
        except TypeError:
            pipe.initialize(lambda: examples, nlp=nlp)
        opt = nlp.create_optimizer()
        rng = random.Random(self.seed)
        for _ in range(self.epochs):
            rng.shuffle(examples)
            for batch in minibatch(examples, self.batch_size):
                nlp.update(batch, sgd=opt, exclude=others)
        self.nlp, self.fitted = nlp, True
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.nlp is None:
            return self._uniform(len(texts))
        pipe = self.nlp.get_pipe(self.component)
        docs = [d.copy() for d in self.cache.docs(texts)]
        out = np.zeros((len(texts), len(self.labels)), dtype="float32")
        for i, doc in enumerate(pipe.pipe(docs, batch_size=256)):
            out[i] = [doc.cats.get(l, 0.0) for l in self.labels]
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.maximum(total, 1e-12), 1.0 / len(self.labels))


def _classifier_name(nlp) -> str:
    for name, pipe in reversed(nlp.pipeline):
        if hasattr(pipe, "labels") and ("textcat" in name or "textcat" in type(pipe).__name__.lower()
                                        or "cats" in str(getattr(pipe, "cfg", ""))):
            return name
    for name, pipe in reversed(nlp.pipeline):
        if hasattr(pipe, "labels") and hasattr(pipe, "update"):
            return name
    raise ActiveLearningError(f"no classifier (a component that writes doc.cats) in pipeline "
                              f"{', '.join(nlp.pipe_names) or '(empty)'}")


def make_model(labels: Sequence[str], model_dir: Optional[Path] = None, *, seed: int = 0,
               cache: Optional[DocCache] = None, **settings: Any):
    """The default :class:`BowTextcat`, or a :class:`PipelineClassifier` over ``model_dir``."""
    if model_dir is not None:
        return PipelineClassifier(Path(model_dir), labels, seed=seed, cache=cache, **settings)
    return BowTextcat(labels, cache=cache, seed=seed, **settings)
