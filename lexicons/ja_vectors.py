"""Neighbour links from a spaCy package's static vectors (ja_ginza's chiVe vectors).

ja_ginza ships word2vec vectors (chiVe, Works Applications; trained on the NWJC web
corpus, billions of words) pruned to 20,000 rows: its 480,000 keys map to those rows,
each pruned word to the row of its nearest kept word. Words that share a row are
thus not 20 independent neighbours but one point, and linking each to each would
add spurious cliques. Here each row is one hub node (``〔vec:ROW〕``), each word
linked to its row's hub, and each hub to its ``k`` nearest hubs; so a row's words
reach the rest of the network through one link each.

For a Tohoku word, 76% of its 10 nearest Tohoku neighbours share its sign (random
52%): distributional neighbours also include antonyms (良い/悪い share contexts),
so these links weigh less than dictionary links.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy

from .lexicon import LexiconError
from .network import Network, _nearest_pairs, unit_rows

HUB = "〔vec:{}〕"
PACKAGE_PREFIX = "package:"
# Keys worth a node: some kana or kanji (the vocabulary also holds numbers, Latin
# words and symbols, which would merge with English nodes or mean nothing).
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ヵヶ]")


class StaticVectors:
    """Keys, their row numbers, and the rows of a spaCy ``Vectors`` table."""

    def __init__(self, keys: list, rows: numpy.ndarray, table: numpy.ndarray, name: str = "") -> None:
        self.keys = keys
        self.rows = rows
        self.table = table
        self.name = name

    def __len__(self) -> int:
        return len(self.keys)

    def row_of(self) -> dict:
        return dict(zip(self.keys, self.rows.tolist()))


def vocab_dir(spec: Union[str, Path]) -> Path:
    """A spaCy ``vocab`` folder (with ``vectors``, ``key2row``, ``strings.json``)
    from ``package:NAME`` (an installed spaCy package, e.g. ja_ginza), a pipeline
    folder or the vocab folder itself."""
    text = str(spec)
    if text.startswith(PACKAGE_PREFIX):
        import importlib.util

        name = text[len(PACKAGE_PREFIX):]
        found = importlib.util.find_spec(name)
        if found is None or not found.submodule_search_locations:
            raise LexiconError(f"No installed spaCy package {name!r} (pip install {name}).")
        base = Path(list(found.submodule_search_locations)[0])
        candidates = sorted(base.glob("*/vocab")) + [base / "vocab"]
    else:
        base = Path(text)
        candidates = [base, base / "vocab"]
    for folder in candidates:
        if (folder / "key2row").is_file() and (folder / "strings.json").is_file():
            return folder
    raise LexiconError(f"No spaCy vectors (vocab/key2row, vocab/strings.json) under {spec}.")


def read_static_vectors(spec: Union[str, Path] = "package:ja_ginza") -> StaticVectors:
    """The vectors of a spaCy package or pipeline folder, without loading the
    pipeline (ja_ginza's parser and Sudachi are not needed)."""
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    folder = vocab_dir(spec)
    strings = StringStore().from_disk(folder / "strings.json")
    vectors = Vectors().from_disk(folder)
    keys, rows = [], []
    for key, row in vectors.key2row.items():
        if key in strings:
            keys.append(strings[key])
            rows.append(row)
    return StaticVectors(keys, numpy.asarray(rows, dtype="int64"), numpy.asarray(vectors.data), str(spec))


def vector_network(vectors: StaticVectors, *, k: int = 10, min_similarity: float = 0.5,
                   weight: float = 1.0, member_weight: float = 1.0,
                   words: Optional[Iterable[str]] = None, japanese_only: bool = True,
                   chunk: int = 2048) -> Network:
    """Row hubs linked to their ``k`` nearest rows (cosine >= ``min_similarity``,
    links of ``weight``) and each key linked to its row's hub (``member_weight``).

    ``words``: only these keys get a node (e.g. the Japanese words of a JMdict
    network); default every key (with ``japanese_only``, keys with kana or kanji).
    Hubs no kept key maps to are left out."""
    allowed = set(words) if words is not None else None
    members: dict[int, list] = {}
    for key, row in zip(vectors.keys, vectors.rows.tolist()):
        if allowed is not None and key not in allowed:
            continue
        if japanese_only and not _JAPANESE.search(key):
            continue
        members.setdefault(row, []).append(key)
    net = Network()
    for row, keys in members.items():
        hub = HUB.format(row)
        for key in keys:
            net.link(key, hub, member_weight)
    used = numpy.array(sorted(members), dtype="int64")
    if len(used) < 2 or weight == 0:
        return net
    table = unit_rows(vectors.table[used])
    k = min(k, len(used) - 1)
    for i, j in zip(*_nearest_pairs(table, numpy.arange(len(used)), k, min_similarity, chunk)):
        net.link(HUB.format(used[i]), HUB.format(used[j]), weight)
    return net


def is_hub(word: str) -> bool:
    """Whether ``word`` is a hidden node of these networks, not a word."""
    return word.startswith("〔") and word.endswith("〕")
