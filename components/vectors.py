"""``tsunagu_vectors``: serve word vectors trained by ``tsunagu embed train``.

The pipeline's own ``nlp.vocab.vectors`` belong to GiNZA: its tok2vec reads them as
static features, so replacing them would silently change parsing and NER. This
component therefore keeps the trained vectors in a ``Vocab`` of its own and makes
``token.vector``, ``token.has_vector``, ``token.similarity``, ``span.vector`` and
``doc.vector`` / ``doc.similarity`` use them through spaCy's user hooks. Each token is
looked up by the key form the vectors were trained on (lemma, norm or surface,
read from the vectors' ``meta.json``); tokens without a vector get a zero vector
and ``has_vector == False``. A span's or document's vector is the mean of its
tokens that have one.

This module is named by a ``spacy_factories`` entry point, so it imports nothing
heavy at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy
from spacy.language import Language
from spacy.strings import get_string_id
from spacy.tokens import Doc
from spacy.util import ensure_path

from tsunagu.errors import ConfigError
from tsunagu.vectorkeys import token_key

ROWS = "tsunagu_vector_rows"


@Language.factory(
    "tsunagu_vectors",
    default_config={"path": None},
    assigns=["token._.vector_key"],
)
def make_token_vectors(nlp: Language, name: str, path: Optional[str]) -> "TokenVectors":
    return TokenVectors(name, path)


class TokenVectors:
    def __init__(self, name: str = "token_vectors", path: Optional[str] = None) -> None:
        self.name = name
        self.vocab = None
        self.meta: dict = {}
        if path is not None:
            self.load_vectors(path)

    @property
    def key(self) -> str:
        return self.meta["key"]

    def load_vectors(self, path) -> None:
        from tsunagu.embeddings import load_spacy_vocab, read_meta

        self.meta = read_meta(path)
        self.vocab = load_spacy_vocab(path)
        self._zeros = numpy.zeros((self.vocab.vectors.shape[1],), dtype="float32")

    def __call__(self, doc: Doc) -> Doc:
        if self.vocab is None:
            raise ConfigError(
                f"The '{self.name}' component has no vectors. Give their directory: "
                "tsunagu.load(vectors=DIR), or nlp.add_pipe('tsunagu_vectors', "
                "config={'path': DIR})."
            )
        vectors = self.vocab.vectors
        key2row = vectors.key2row
        rows = numpy.full(len(doc), -1, dtype="int64")
        for token in doc:
            key = token_key(token, self.key)
            token._.vector_key = key
            if key is not None:
                rows[token.i] = key2row.get(get_string_id(key), -1)
        doc.user_data[ROWS] = rows
        data = vectors.data
        zeros = self._zeros

        def token_vector(token):
            row = rows[token.i]
            return data[row] if row >= 0 else zeros

        def span_vector(span):
            r = rows[span.start:span.end]
            r = r[r >= 0]
            return data[r].mean(axis=0) if len(r) else zeros

        doc.user_token_hooks["vector"] = token_vector
        doc.user_token_hooks["has_vector"] = lambda token: bool(rows[token.i] >= 0)
        doc.user_span_hooks["vector"] = span_vector
        doc.user_span_hooks["has_vector"] = lambda span: bool((rows[span.start:span.end] >= 0).any())
        doc.user_hooks["vector"] = lambda d: span_vector(d[:])
        doc.user_hooks["has_vector"] = lambda d: bool((rows >= 0).any())
        return doc

    def to_disk(self, path, *, exclude=tuple()) -> None:
        """The vectors as a spaCy Vocab (numpy and msgpack: nothing that runs code when
        loaded) and their meta.json."""
        import json

        from tsunagu.atomic import write_atomically

        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.vocab is not None:
            self.vocab.to_disk(path / "spacy_vocab")
            write_atomically(path / "meta.json", json.dumps(self.meta, ensure_ascii=False).encode("utf-8"))

    def from_disk(self, path, *, exclude=tuple()) -> "TokenVectors":
        path = Path(path)
        if (path / "meta.json").exists():
            self.load_vectors(path)
        return self
