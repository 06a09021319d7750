"""``tsunagu_language_model``: score documents with an LSTM language model.

Sets ``token._.surprisal`` (-log2 p(token | the tokens before it), in bits) and
``doc._.perplexity`` (2 to the mean surprisal, counting the end-of-document token
as the model was trained to predict it) with a model trained by ``tsunagu lm train``
(``tsunagu.language_model``). Tokens are looked up by the key form the model was
trained on (``meta.json``); unknown words are scored as <unk>.

This module is named by a ``spacy_factories`` entry point: torch and the model are
imported only when the component is built.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path

from tsunagu.errors import ConfigError
from tsunagu.vectorkeys import token_key


@Language.factory(
    "tsunagu_language_model",
    default_config={"model": None, "batch_size": 32},
    assigns=["token._.surprisal", "doc._.perplexity"],
)
def make_language_model(nlp: Language, name: str, model: Optional[str], batch_size: int) -> "LanguageModelScorer":
    return LanguageModelScorer(name, model, batch_size=batch_size)


class LanguageModelScorer:
    def __init__(self, name: str = "language_model", model: Optional[str] = None, *, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be positive, not {batch_size}.")
        self.name, self.batch_size = name, batch_size
        self.model = self.vocab = None
        self.meta: dict = {}
        if model is not None:
            self.load(model)

    def load(self, path) -> None:
        from tsunagu.language_model import load_language_model

        self.model, self.vocab, self.meta = load_language_model(path)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: Optional[int] = None):
        from spacy.util import minibatch

        for batch in minibatch(docs, size=batch_size or self.batch_size):
            self._score(batch)
            yield from batch

    def _score(self, docs: list[Doc]) -> None:
        import torch
        from torch.nn.utils.rnn import pad_sequence

        if self.model is None:
            raise ConfigError(f"{self.name}: no language model loaded; set components.{self.name}.model "
                              "to a directory from `tsunagu lm train`.")
        key = self.meta.get("key", "orth")
        positions, inputs, targets = [], [], []
        for doc in docs:
            keyed = [(t, token_key(t, key)) for t in doc]
            kept = [t for t, k in keyed if k is not None]
            ids = [self.vocab.index.get(k, 0) for _, k in keyed if k is not None] + [1]  # + </s>
            positions.append(kept)
            inputs.append(torch.tensor([1] + ids[:-1]))  # </s> starts every document
            targets.append(torch.tensor(ids))
        x = pad_sequence(inputs, batch_first=True)
        y = pad_sequence(targets, batch_first=True)
        with torch.no_grad():
            logp, _ = self.model.log_prob_of(x, y)
        bits = (-logp / math.log(2)).tolist()
        for doc, kept, row, target in zip(docs, positions, bits, targets):
            for token, value in zip(kept, row):
                token._.surprisal = float(value)
            n = len(target)
            doc._.perplexity = float(2 ** (sum(row[:n]) / n))

    def to_disk(self, path, *, exclude=tuple()) -> None:
        import shutil

        from tsunagu.language_model import save_language_model

        path = ensure_path(path)
        if self.model is not None:
            save_language_model(self.model, self.vocab, Path(path), self.meta)
        else:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)

    def from_disk(self, path, *, exclude=tuple()) -> "LanguageModelScorer":
        if (Path(path) / "model.pt").exists():
            self.load(path)
        return self
