"""``tsunagu_trf_similarity``: ``doc.similarity`` and ``.vector`` from a transformer.

A pipeline with a transformer and no word vectors has no ``doc.vector``; spaCy's
``similarity`` then warns and returns 0. This component, placed after a
``transformer``, sets user hooks so that

- ``doc.vector`` is the mean of the last hidden states over the document's
  wordpieces (the attention-masked mean pooling of Reimers & Gurevych 2019, the
  classic BERT text-similarity recipe; special tokens count, as in
  sentence-transformers, and with strided windows every window's pieces count),
- ``span.vector`` / ``token.vector`` average the wordpieces aligned to their tokens,
- ``similarity`` is the cosine of those vectors.

Where the vocabulary has word vectors the hooks stay off (``force = false``), so
that adding a transformer does not silently change what similarity means.
"""

from __future__ import annotations

import numpy
from spacy.language import Language
from spacy.tokens import Doc

TRF_DATA = "trf_data"


@Language.factory("tsunagu_trf_similarity", default_config={"force": False})
def make_trf_similarity(nlp: Language, name: str, force: bool):
    return TransformerSimilarity(name=name, force=force)


class TransformerSimilarity:
    def __init__(self, *, name: str = "tsunagu_trf_similarity", force: bool = False):
        self.name = name
        self.force = force

    def pipe(self, docs, batch_size: int = 128):
        for doc in docs:
            yield self(doc)

    def __call__(self, doc: Doc) -> Doc:
        if not Doc.has_extension(TRF_DATA) or getattr(doc._, TRF_DATA, None) is None:
            raise ValueError(f"{self.name}: the document has no transformer output; put the "
                             "component after a 'transformer' component that is enabled")
        if not self.force and doc.vocab.vectors.shape[0] > 0:
            return doc
        doc.user_hooks["vector"] = doc_vector
        doc.user_hooks["has_vector"] = lambda d: True
        doc.user_hooks["similarity"] = _similarity
        doc.user_span_hooks["vector"] = span_vector
        doc.user_span_hooks["has_vector"] = lambda s: True
        doc.user_span_hooks["similarity"] = _similarity
        doc.user_token_hooks["vector"] = lambda t: span_vector(t.doc[t.i: t.i + 1])
        doc.user_token_hooks["has_vector"] = lambda t: True
        doc.user_token_hooks["similarity"] = _similarity
        return doc


def _hidden(doc: Doc) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Last hidden states as (n_pieces, width) and the mask of real (unpadded) pieces."""
    data = getattr(doc._, TRF_DATA)
    hidden = data.model_output.last_hidden_state
    hidden = hidden.get() if hasattr(hidden, "get") else numpy.asarray(hidden)
    mask = data.wordpieces.attention_mask
    mask = mask.get() if hasattr(mask, "get") else numpy.asarray(mask)
    return hidden.reshape(-1, hidden.shape[-1]), mask.reshape(-1).astype(bool)


def doc_vector(doc: Doc) -> numpy.ndarray:
    hidden, mask = _hidden(doc)
    if not mask.any():
        return numpy.zeros(hidden.shape[-1], dtype="float32")
    return hidden[mask].mean(axis=0).astype("float32")


def span_vector(span) -> numpy.ndarray:
    doc = span.doc
    hidden, _ = _hidden(doc)
    align = getattr(doc._, TRF_DATA).align
    rows = numpy.unique(numpy.concatenate(
        [align[i].dataXd.ravel() for i in range(span.start, span.end)] or [numpy.zeros(0, "i")]))
    if len(rows) == 0:
        return numpy.zeros(hidden.shape[-1], dtype="float32")
    return hidden[rows.astype(int)].mean(axis=0).astype("float32")


def _similarity(a, b) -> float:
    u, v = a.vector, b.vector
    norm = float(numpy.linalg.norm(u) * numpy.linalg.norm(v))
    return float(numpy.dot(u, v) / norm) if norm else 0.0
