"""Registered pieces for ``spacy train`` configs: a corpus reader for pre-tokenized
DocBins and a length-bucketing batcher.

``tsunagu.DocBinCorpus.v1``: spaCy's ``spacy.Corpus.v1`` re-tokenizes every
document's text with the pipeline's tokenizer on every epoch (it builds the
predicted ``Doc`` with ``nlp.make_doc``). For a Japanese classifier that is
Sudachi over the whole corpus each epoch, several times the cost of the model
itself. DocBins made by ``tsunagu corpus to-spacy`` are already tokenized by
tsunagu's tokenizer, so this reader copies each reference ``Doc`` (without its
``cats``) as the predicted one. Use it only with DocBins tokenized by the same
tokenizer and split mode as the pipeline.

``tsunagu.batch_by_length.v1``: sorts a window of examples by length and cuts it
into batches of at most ``size`` padded tokens, then shuffles the batches. Packed
sequences already spare the LSTM the padding; similar lengths also keep every
time step's batch full.

This module is named by entry points, so it imports nothing heavy.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Union

from spacy import registry
from spacy.tokens import DocBin
from spacy.training import Example

from .errors import ConfigError, CorpusError


@registry.readers("tsunagu.DocBinCorpus.v1")
def create_docbin_corpus(path: Optional[Union[str, Path]], limit: int = 0) -> Callable:
    """Examples from one ``.spacy`` file (or every ``.spacy`` file of a directory),
    tokenized as stored; documents without tokens are skipped, as spaCy's reader does.
    ``limit``: at most this many examples (0: all)."""
    if path is None:
        raise ConfigError("The corpus path is not set: give it on the command line, e.g. "
                          "`spacy train CONFIG --paths.train train.spacy --paths.dev dev.spacy`.")
    return DocBinCorpus(path, limit=limit)


class DocBinCorpus:
    def __init__(self, path: Union[str, Path], limit: int = 0) -> None:
        self.path = Path(path)
        self.limit = limit
        if not self.path.exists():
            raise CorpusError(f"No DocBin at {self.path}. Make one with `tsunagu corpus to-spacy`.")

    def files(self) -> List[Path]:
        if self.path.is_dir():
            files = sorted(self.path.rglob("*.spacy"))
            if not files:
                raise CorpusError(f"No .spacy files in {self.path}.")
            return files
        return [self.path]

    def __call__(self, nlp) -> Iterator[Example]:
        n = 0
        for file in self.files():
            try:
                docbin = DocBin().from_disk(file)
            except Exception as e:
                raise CorpusError(f"{file} is not a readable spaCy DocBin: {e}") from e
            for reference in docbin.get_docs(nlp.vocab):
                if len(reference) == 0:
                    continue
                predicted = reference.copy()
                predicted.cats = {}
                yield Example(predicted, reference)
                n += 1
                if self.limit and n >= self.limit:
                    return


@registry.batchers("tsunagu.batch_by_length.v1")
def configure_batch_by_length(size: int, window: int = 2000, max_length: int = 0,
                              get_length: Optional[Callable[[Any], int]] = None) -> Callable:
    """Batches of similar-length items, at most ``size`` padded tokens each (a
    single longer item makes its own batch). ``window`` items are sorted at a time;
    ``max_length`` caps the counted length (the model's truncation, 0: none)."""
    if not isinstance(size, int) or size < 1:
        raise ConfigError(f"batch size must be a positive number of tokens, not {size!r}.")
    if window < 1:
        raise ConfigError(f"window must be >= 1, not {window!r}.")

    def batcher(items: Iterable[Any]) -> Iterator[List[Any]]:
        return batch_by_length(items, size, window=window, max_length=max_length,
                               get_length=get_length)

    return batcher


def batch_by_length(items: Iterable[Any], size: int, *, window: int = 2000, max_length: int = 0,
                    get_length: Optional[Callable[[Any], int]] = None,
                    rng: Optional[random.Random] = None) -> Iterator[List[Any]]:
    length_of = get_length or len
    shuffle = (rng or random).shuffle
    buffer: List[Any] = []

    def flush() -> Iterator[List[Any]]:
        lengths = [max(1, length_of(x)) for x in buffer]
        if max_length:
            lengths = [min(n, max_length) for n in lengths]
        order = sorted(range(len(buffer)), key=lengths.__getitem__)
        batches: List[List[Any]] = []
        batch: List[Any] = []
        longest = 0
        for i in order:
            n = lengths[i]
            if batch and max(longest, n) * (len(batch) + 1) > size:
                batches.append(batch)
                batch, longest = [], 0
            batch.append(buffer[i])
            longest = max(longest, n)
        if batch:
            batches.append(batch)
        shuffle(batches)
        yield from batches

    for item in items:
        buffer.append(item)
        if len(buffer) >= window:
            yield from flush()
            buffer = []
    if buffer:
        yield from flush()
