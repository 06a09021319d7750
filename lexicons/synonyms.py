"""Links from the Sudachi dictionary: synonym groups, normalized forms, compounds.

SudachiDict (Works Applications; Apache 2.0) gives many lemmas the ids of their
synonym groups (``Morpheme.synonym_group_ids()``; the group contents are in a
separate synonym file, not needed here: two words sharing an id are synonyms).
98% of the synonym pairs among the Tohoku words share a sign. Each group is one
hub node (``〔syn:ID〕``) linked to its words, so that a group of n words adds n
links, not n(n-1)/2, and a word in several groups is not over-counted.

``normalized_form`` joins orthographic variants (あきらめる, 諦める; いい, 良い), and
a compound Sudachi splits (医療不信 -> 医療 + 不信, 3連敗 -> 連敗) can be linked to its
parts, its last part (the head of a Japanese compound) weighing more.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Optional

from .network import Network

HUB = "〔syn:{}〕"
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "接頭辞", "接尾辞"})
HEAD_SHARE = 0.6


def _dictionary(dictionary=None):
    if dictionary is not None:
        return dictionary
    from sudachipy import Dictionary

    return Dictionary(dict="core")


def lemma_entries(word: str, dictionary) -> list:
    """The dictionary's entries for ``word`` as a lemma (``lookup`` also returns
    conjugated forms of other words: いい is a form of 言う)."""
    return [m for m in dictionary.lookup(word) if m.dictionary_form() == word]


def sudachi_lemmas(words: Iterable[str], dictionary=None) -> set:
    """The words of ``words`` that are lemmas (dictionary forms) in Sudachi's dictionary:
    the forms GiNZA gives ``token.lemma_``."""
    dictionary = _dictionary(dictionary)
    return {w for w in words if lemma_entries(w, dictionary)}


def synonym_network(words: Iterable[str], *, dictionary=None, synonym_weight: float = 1.0,
                    normalized_weight: float = 1.0) -> Network:
    """Each word of ``words`` that is a Sudachi lemma linked to the hubs of its
    synonym groups (``synonym_weight``) and to its normalized form where that differs
    (``normalized_weight``). ``dictionary``: a ``sudachipy.Dictionary`` (default
    SudachiDict-core)."""
    dictionary = _dictionary(dictionary)
    net = Network()
    for word in words:
        groups: set = set()
        normalized: set = set()
        for m in lemma_entries(word, dictionary):
            groups.update(m.synonym_group_ids())
            if m.normalized_form() != word:
                normalized.add(m.normalized_form())
        if synonym_weight:
            for group in groups:
                net.link(word, HUB.format(group), synonym_weight)
        if normalized_weight:
            for other in normalized:
                net.link(word, other, normalized_weight)
    return net


def synonym_groups(words: Iterable[str], dictionary=None) -> dict:
    """Synonym group id -> the words of ``words`` in it (for inspection and tests)."""
    dictionary = _dictionary(dictionary)
    out: dict = defaultdict(set)
    for word in words:
        for m in lemma_entries(word, dictionary):
            for group in m.synonym_group_ids():
                out[group].add(word)
    return dict(out)


def compound_parts(word: str, tokenizer, head_share: float = HEAD_SHARE) -> list[tuple[str, float]]:
    """(part, share of the link weight) for a word Sudachi's mode-A ``tokenizer`` splits
    into content morphemes: the last (the head) ``head_share``, the others the rest; a
    single part takes it all. Empty when the word does not split."""
    parts = [m.dictionary_form() for m in tokenizer.tokenize(word)
             if m.part_of_speech()[0] in CONTENT_POS and m.dictionary_form() != word]
    parts = [p for p in parts if not p.isascii()]
    if not parts:
        return []
    if len(parts) == 1:
        return [(parts[0], 1.0)]
    rest = (1.0 - head_share) / (len(parts) - 1)
    return [(part, head_share if k == len(parts) - 1 else rest) for k, part in enumerate(parts)]


def compound_network(words: Iterable[str], *, dictionary=None, weight: float = 1.0,
                     head_share: float = HEAD_SHARE, only_unknown: bool = True,
                     known: Optional[set] = None) -> Network:
    """Each word Sudachi splits (mode A) into two or more content morphemes linked to
    their dictionary forms: the last (the head) with ``head_share`` of ``weight``,
    the others sharing the rest (``compound_parts``). With ``only_unknown``, only words
    not in ``known`` (e.g. the JMdict headwords, which have their own glosses)."""
    from sudachipy import SplitMode

    dictionary = _dictionary(dictionary)
    tokenizer = dictionary.create(SplitMode.A)
    net = Network()
    for word in words:
        if only_unknown and known is not None and word in known:
            continue
        for part, share in compound_parts(word, tokenizer, head_share):
            net.link(word, part, weight * share)
    return net
