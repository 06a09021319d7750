"""Why a word has its score: the links of the network that pull on it.

In the mean-field spin model a word's spin is x̄_i = tanh(β (Σ_j w_ij x̄_j + h_i)):
each linked word j pulls with w_ij x̄_j, its link weight times its own score. A
lexicon file keeps only the scores, so ``explain_word`` rebuilds the links of one
word from the same sources the build used (JMdict glosses and forms, Sudachi
synonym groups, normalized forms and compound parts, ja_ginza's vector rows) and
shows each with the score of what it links to, grouped and summed by source:

    >>> ex = explain_word("赤字", read_lexicon("tsunagu:ja"))   # doctest: +SKIP
    >>> print(format_explanation(ex))                            # doctest: +SKIP
    赤字  -0.0006  negative ...
      JMdict gloss "deficit" -> deficit (en -0.62) ...

The pulls are raw link weight × score: the build also divides each link by the
square root of both ends' degrees, so a word with many links hears each one less.
English scores come from an English lexicon (default the shipped ``tsunagu:en``),
which the joint build's English side resembles but does not equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy

from .lexicon import Lexicon, LexiconError, read_lexicon

MAX_PER_SOURCE = 8


@dataclass
class Link:
    source: str  # "JMdict gloss", "JMdict form", "Sudachi synonym", ...
    other: str  # the linked word
    weight: float  # signed link weight before degree normalisation
    score: Optional[float]  # the linked word's score (None: not in the lexicons)
    detail: str = ""  # the gloss, the synonym group...

    @property
    def pull(self) -> float:
        return self.weight * self.score if self.score is not None else 0.0


@dataclass
class Explanation:
    word: str
    score: Optional[float]
    rank: Optional[int]  # by |score|, 1 = most confident
    size: int  # words in the lexicon
    links: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # sources that could not be consulted, and why

    def by_source(self) -> dict:
        out: dict[str, list] = {}
        for link in self.links:
            out.setdefault(link.source, []).append(link)
        return out


def explain_word(word: str, lexicon: Lexicon, *, english: Union[Lexicon, str, Path, None] = "tsunagu:en",
                 jmdict: Union[str, Path, None] = "installed", synonyms: bool = True,
                 vectors: Optional[str] = "package:ja_ginza", weights: Optional[dict] = None) -> Explanation:
    """The score of ``word`` in ``lexicon`` and the links that decided it.

    english: the lexicon that scores English gloss words (a path or a Lexicon;
    None: ``lexicon`` itself). jmdict: a JMdict database, "installed" for
    jamdict-data, None to skip. vectors: a spaCy package with static vectors, None to
    skip. weights: link weights per kind (default the joint build's)."""
    from .assemble import JOINT_JMDICT_WEIGHTS, STATIC_VECTORS_WEIGHT

    weights = {**JOINT_JMDICT_WEIGHTS, "synonyms": 0.05, "compounds": 0.05, "vectors": STATIC_VECTORS_WEIGHT,
               **(weights or {})}
    if not word or not word.strip():
        raise LexiconError("Which word? explain_word needs a non-empty word.")
    score = lexicon.score(word)
    magnitudes = numpy.sort(numpy.abs(numpy.fromiter(lexicon.entries.values(), dtype="float64")))[::-1]
    rank = int(numpy.searchsorted(-magnitudes, -abs(score), side="left")) + 1 if score is not None else None
    out = Explanation(word, score, rank, len(lexicon))
    if english is None:
        english_lexicon = lexicon
    elif isinstance(english, Lexicon):
        english_lexicon = english
    else:
        english_lexicon = read_lexicon(english)
    if jmdict is not None:
        _jmdict_links(out, word, lexicon, english_lexicon, jmdict, weights)
    if synonyms:
        _sudachi_links(out, word, lexicon, weights)
    if vectors is not None:
        _vector_links(out, word, lexicon, vectors, weights["vectors"])
    return out


def _jmdict_links(out: Explanation, word: str, lexicon: Lexicon, english: Lexicon, jmdict, weights) -> None:
    from .jmdict import SENSE_DECAY, english_lookup, gloss_terms, read_jmdict

    try:
        entries = read_jmdict(None if str(jmdict) == "installed" else jmdict, forms=[word])
    except LexiconError as e:
        out.notes.append(f"JMdict not consulted: {e}")
        return
    known = {w for w, _ in english.entries}
    lemma_of = english_lookup(None, known)
    for entry in entries:
        for rank, sense in enumerate(entry.senses, 1):
            if sense.only_forms and word not in sense.only_forms:
                continue
            scale = rank ** -SENSE_DECAY
            for gloss in sense.glosses:
                for lemma, value in gloss_terms(gloss, lemma_of):
                    out.links.append(Link("JMdict gloss", lemma, weights["gloss"] * scale * value,
                                          english.score(lemma), f"sense {rank}: {gloss}"))
            for kind, others, sign in (("xref", sense.xrefs, 1), ("antonym", sense.antonyms, -1)):
                for other in others:
                    out.links.append(Link(f"JMdict {kind}", other, sign * weights[kind] * scale,
                                          lexicon.score(other), f"sense {rank}"))
        for other in entry.forms:
            if other != word and not other.isascii():
                out.links.append(Link("JMdict form", other, weights["forms"], lexicon.score(other),
                                      f"entry {entry.idseq}"))


def _sudachi_links(out: Explanation, word: str, lexicon: Lexicon, weights) -> None:
    from sudachipy import SplitMode

    from .synonyms import _dictionary, compound_parts, lemma_entries

    dictionary = _dictionary()
    groups, normalized = set(), set()
    for m in lemma_entries(word, dictionary):
        groups.update(m.synonym_group_ids())
        if m.normalized_form() != word:
            normalized.add(m.normalized_form())
    for other in normalized:
        out.links.append(Link("Sudachi normalized form", other, weights["synonyms"], lexicon.score(other)))
    if groups:
        # Group contents are not in the dictionary: the lexicon's words that share a group id.
        for other in dict.fromkeys(w for w, _ in lexicon.entries):  # each word once, not per POS
            if other != word and any(set(m.synonym_group_ids()) & groups
                                     for m in lemma_entries(other, dictionary)):
                out.links.append(Link("Sudachi synonym", other, weights["synonyms"], lexicon.score(other),
                                      "group " + ",".join(map(str, sorted(groups)))))
    parts = compound_parts(word, dictionary.create(SplitMode.A))
    for k, (part, share) in enumerate(parts):
        out.links.append(Link("compound part", part, weights["compounds"] * share, lexicon.score(part),
                              "head" if k == len(parts) - 1 else ""))


def _vector_links(out: Explanation, word: str, lexicon: Lexicon, spec: str, weight: float, k: int = 10,
                  min_similarity: float = 0.5) -> None:
    from .ja_vectors import read_static_vectors
    from .network import unit_rows

    try:
        vectors = read_static_vectors(spec)
    except LexiconError as e:
        out.notes.append(f"vectors not consulted: {e}")
        return
    row_of = vectors.row_of()
    if word not in row_of:
        out.notes.append(f"{word} has no vector in {spec}")
        return
    row = row_of[word]
    members: dict[int, list] = {}
    for key, r in row_of.items():
        if lexicon.score(key) is not None:
            members.setdefault(r, []).append(key)
    table = unit_rows(vectors.table)
    similarity = table @ table[row]
    similarity[row] = -2
    nearest = [int(r) for r in numpy.argsort(-similarity)[:k] if similarity[r] >= min_similarity]
    for r, how in [(row, "same vector row")] + [(r, f"row cosine {similarity[r]:.2f}") for r in nearest]:
        keys = sorted((key for key in members.get(r, []) if key != word), key=lambda w: -abs(lexicon.score(w)))
        for key in keys[:3]:
            out.links.append(Link("ja_ginza vectors", key, weight, lexicon.score(key), how))


def format_explanation(ex: Explanation, per_source: int = MAX_PER_SOURCE) -> str:
    """A readable report: the score, then each source's strongest pulls and their sum."""
    if ex.score is None:
        lines = [f"{ex.word}: not in the lexicon ({ex.size:,} words): no link reached it from a seed, or "
                 "its |score| was under the build's threshold"]
    else:
        label = "positive" if ex.score > 0 else "negative" if ex.score < 0 else "neutral"
        lines = [f"{ex.word}: {ex.score:+.4g} ({label}); confidence rank {ex.rank:,} of {ex.size:,} "
                 f"(top {ex.rank / ex.size:.0%})"]
    for source, links in ex.by_source().items():
        total = sum(link.pull for link in links)
        lines.append(f"  {source}: {len(links)} link{'s' if len(links) != 1 else ''}, pull {total:+.3g}")
        for link in sorted(links, key=lambda x: -abs(x.pull))[:per_source]:
            score = "not scored" if link.score is None else f"{link.score:+.3g}"
            lines.append(f"    {link.other:<16} weight {link.weight:+.3g} × score {score:<10} = "
                         f"{link.pull:+.3g}" + (f"   ({link.detail})" if link.detail else ""))
    if not ex.links:
        lines.append("  no links found in the consulted sources")
    lines += [f"  note: {n}" for n in ex.notes]
    return "\n".join(lines)
