"""Prior polarity of a word: a lexicon's score put on a scale that does not depend
on how the lexicon was built.

Spin-model lexicons give a word's orientation as the sign of its spin and the
confidence as its magnitude, but the magnitudes' scale changes from one build to
the next (from ~1e-4 to ~1e-1 away from the seeds). The prior of a word is
therefore ``sign(score) × q``, with q the quantile of |score| among the lexicon's
entries (0 for the least confident entry, 1 for the seeds), so that two lexicons of
different scale give the same priors when they rank words the same way. Entries
whose quantile is below ``min_quantile`` are treated as unknown.

A lexicon propagated from a few seeds over a graph is rarely balanced: the
prototype Japanese lexicon of issue 16 has two positive entries for each negative
one, and the surplus sits on frequent descriptive words (使う, 開催, 会議). The
``balance`` factor, n_negative / n_positive (at most 1), scales positive priors so
that both orientations carry the same total mass, as a class-prior correction
would; it is computed from the lexicon, not tuned.

With several lexicons (a shipped one and a user's), each is put on its own scale and
the last one that knows a word decides, as in ``Lexicon.update``. Quantiles, the
``min_quantile`` cut and the balance are for lexicons propagated over large graphs;
a lexicon of fewer than ``LARGE`` entries is taken to be hand-made: its scores are
used as written, in [-1, 1], all of them, without balance.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy

from tsunagu.lexicons.lexicon import Lexicon

LARGE = 1000


class Prior:
    def __init__(self, lexicon: Lexicon, *, min_quantile: float = 0.0) -> None:
        self.lexicon = lexicon
        self.large = len(lexicon) >= LARGE
        self.min_quantile = min_quantile if self.large else 0.0
        magnitudes = numpy.abs(numpy.fromiter(lexicon.entries.values(), dtype="float64",
                                              count=len(lexicon.entries)))
        self._sorted = numpy.sort(magnitudes[magnitudes > 0])
        signs = numpy.sign(numpy.fromiter(lexicon.entries.values(), dtype="float64",
                                          count=len(lexicon.entries)))
        positive, negative = int((signs > 0).sum()), int((signs < 0).sum())
        self.balance = min(1.0, negative / positive) if positive and negative and self.large else 1.0

    def quantile(self, score: float) -> float:
        n = len(self._sorted)
        if n == 0 or score == 0:
            return 0.0
        # Rank of |score| among the entries, ties at their upper end (seeds -> 1).
        return float(numpy.searchsorted(self._sorted, abs(score), side="right")) / n

    def raw(self, word: str, upos: Optional[str] = None) -> Optional[float]:
        return self.lexicon.score(word, upos)

    def __call__(self, word: str, upos: Optional[str] = None, *, cut: bool = True) -> float:
        """The prior in [-1, 1]; 0.0 for a word the lexicon does not know (or, with
        ``cut``, knows with a quantile under ``min_quantile``)."""
        score = self.lexicon.score(word, upos)
        if not score:
            return 0.0
        if not self.large:
            return float(score)
        q = self.quantile(score)
        if cut and q < self.min_quantile:
            return 0.0
        return q if score > 0 else -q


class Priors:
    """Several lexicons, each on its own scale; later ones win."""

    def __init__(self, lexicons: Sequence[Union[Lexicon, Prior]], *, min_quantile: float = 0.0) -> None:
        self.priors = [x if isinstance(x, Prior) else Prior(x, min_quantile=min_quantile) for x in lexicons]

    def lookup(self, word: str, upos: Optional[str] = None, *, cut: bool = True) -> tuple[float, float]:
        """(prior, balance of the lexicon that gave it); (0.0, 1.0) when none knows the word."""
        for prior in reversed(self.priors):
            if prior.lexicon.score(word, upos):
                return prior(word, upos, cut=cut), prior.balance
        return 0.0, 1.0

    def __call__(self, word: str, upos: Optional[str] = None) -> float:
        return self.lookup(word, upos)[0]
