"""Corpus links for the spin model: predicates joined by connectives.

Hatzivassiloglou & McKeown (1997) observed that adjectives joined by "and" tend
to share their orientation and those joined by "but" to oppose it; Takamura et al.
add such pairs to the network as links C. In Japanese the connectives are
conjunctive particles after a predicate: て, し, たり (and) and が, けど, のに, ものの
(but): 安くて美味しい (+), 高いが美味しい (-). GiNZA attaches the first predicate to
the second as ``advcl`` with the particle as its ``mark`` (or ``case`` for が). A
negated predicate (美味しくないが安い) reverses the sign.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Optional

from .network import Network

AND_MARKERS = frozenset({"て", "し", "たり"})
BUT_MARKERS = frozenset({"が", "けど", "けれど", "けれども", "のに", "ものの", "だけど"})
PREDICATES = frozenset({"ADJ", "VERB"})
NEGATORS = frozenset({"ない", "ぬ", "ず", "ん"})
# A cheap filter before parsing: a predicate ending and one of the connectives.
_CANDIDATE = re.compile(r"(く|い|だ|た)(て|し|たり|が|けど|けれど|けれども|のに|ものの)[、，]?")
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def connective_pairs(doc) -> Iterator[tuple[str, str, int]]:
    """(lemma, lemma, +1 | -1) for each pair of predicates joined by a connective."""
    for token in doc:
        if token.dep_ not in ("advcl", "conj") or token.head.i <= token.i:
            continue
        first, first_negated = _predicate(token)
        second, second_negated = _predicate(token.head)
        if first is None or second is None or first.lemma_ == second.lemma_:
            continue
        markers = {c.lemma_ for c in token.children if c.i > token.i and c.dep_ in ("mark", "case")}
        if markers & BUT_MARKERS:
            sign = -1
        elif markers & AND_MARKERS:
            sign = +1
        else:
            continue
        if first_negated != second_negated:
            sign = -sign
        yield first.lemma_, second.lemma_, sign


def is_japanese_negator(token) -> bool:
    """ない/ぬ/ず/ん(ません) as auxiliaries or the non-independent adjective ない."""
    return (token.lemma_ in NEGATORS and token.pos_ in ("AUX", "ADJ")
            and token.tag_.startswith(("助動詞", "形容詞-非自立可能")))


def _predicate(token):
    """The content predicate of ``token`` and whether it is negated."""
    if is_japanese_negator(token):
        content = [c for c in token.children if c.i < token.i and c.pos_ in PREDICATES]
        return (content[-1], True) if content else (None, False)
    if token.pos_ not in PREDICATES:
        return None, False
    negated = any(is_japanese_negator(c) and c.dep_ == "aux" for c in token.children)
    return token, negated


def candidate_sentences(texts: Iterable[str]) -> Iterator[str]:
    """Sentences that may hold a connective pair: only these need parsing."""
    for text in texts:
        for sentence in _SENTENCE.findall(text):
            if _CANDIDATE.search(sentence):
                yield sentence.strip()


def corpus_network(nlp, texts: Iterable[str], *, n_process: int = 1, batch_size: int = 256,
                   limit: Optional[int] = None) -> Network:
    """Parse the candidate sentences of ``texts`` and link their connective pairs."""
    net = Network()
    sentences = candidate_sentences(texts)
    if limit is not None:
        sentences = (s for _, s in zip(range(limit), sentences))
    for doc in nlp.pipe(sentences, n_process=n_process, batch_size=batch_size):
        for a, b, sign in connective_pairs(doc):
            net.link(a, b, sign)
    return net
