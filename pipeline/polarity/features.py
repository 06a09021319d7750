"""The compositional scorer's output as features for a trained classifier.

A classifier trained on labelled sentences (``configs/polarity.cfg``) or on silver
labels (``tsunagu polarity adapt``) sees, besides the words, what composition
decided for each piece of evidence: its sign after negation and shifting, the rules
that fired and the lemma that carried it (``減少`` shifted positive by 損失が減少 is a
different feature from ``減少`` reversing 売上高), and the sentence's composed
score in one of ten bins. The words alone cannot tell the two 減少 apart; composition
alone cannot learn a domain's vocabulary; the features let the model weigh both.

Features are strings, hashed to 64-bit keys (spaCy's ``hash_string``) for the
classifier's bag-of-words table. They need a dependency parse: make training
DocBins with ``tsunagu corpus to-spacy --parse``.

>>> features = CompositionFeatures(["tsunagu:ja"], ["business"])
>>> features.strings(nlp("損失が減少した。"))  # doctest: +SKIP
['pol+', 'pol+|減少', 'pol+|rule:shift', 'polbin7']
"""

from __future__ import annotations

from functools import lru_cache
from typing import List, Optional, Sequence

import numpy
from spacy.tokens import Doc

from tsunagu.errors import ConfigError

from .composition import Composer, score
from .labels import document_score

BINS = 10  # score bins over [-1, 1]


@lru_cache(maxsize=4)
def _composer(lexicons: tuple, profiles: tuple) -> Composer:
    # The polarity component's own defaults, so that the features say what
    # tsunagu.load()'s sentence scores say.
    from tsunagu.components.polarity import PolarityScorer

    return PolarityScorer("polarity", list(lexicons), profiles=list(profiles)).composer


class CompositionFeatures:
    """Feature strings (and keys) of a parsed ``Doc`` from composition over ``lexicons``
    (paths or ``tsunagu:ja``) with domain ``profiles``; the composer is built on first
    use and shared by every classifier with the same settings."""

    def __init__(self, lexicons: Sequence[str], profiles: Sequence[str] = ()) -> None:
        if not lexicons:
            raise ConfigError("polarity_features needs at least one lexicon (e.g. [\"tsunagu:ja\"]).")
        self.lexicons, self.profiles = tuple(str(p) for p in lexicons), tuple(profiles)

    @property
    def composer(self) -> Composer:
        return _composer(self.lexicons, self.profiles)

    def strings(self, doc: Doc) -> List[str]:
        if len(doc) and not doc.has_annotation("DEP"):
            raise ConfigError(
                "The classifier's polarity features compose over the dependency parse, and this "
                "document has none. Make training DocBins with `tsunagu corpus to-spacy --parse`, "
                "and run the classifier after the parser (tsunagu.load(polarity=DIR) does).")
        evidence = self.composer.evidence(doc) if len(doc) else []
        out: List[str] = []
        for e in evidence:
            sign = "+" if e.value > 0 else "-"
            out += [f"pol{sign}", f"pol{sign}|{doc[e.i].lemma_}"]
            out += [f"pol{sign}|rule:{r.split(':')[0]}" for r in e.rules]
        sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
        scores = [score([e for e in evidence if s.start <= e.i < s.end]) for s in sentences]
        value = document_score(scores) if evidence else 0.0
        out.append(f"polbin{min(BINS - 1, int((value + 1) / 2 * BINS))}" if evidence else "pol0")
        return out

    def keys(self, doc: Doc) -> numpy.ndarray:
        from spacy.strings import hash_string

        return numpy.fromiter((hash_string(s) for s in self.strings(doc)), dtype="uint64")


def make_features(enabled: bool, lexicons: Sequence[str], profiles: Sequence[str]) -> Optional[CompositionFeatures]:
    return CompositionFeatures(lexicons, profiles) if enabled else None
