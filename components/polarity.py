"""``tsunagu_polarity``: score tokens, sentences and documents with polarity lexicons.

* ``token._.polarity``: the lexicon score of the token (looked up by lemma and part
  of speech, then by surface; content words only where the doc has POS tags), flipped when the token is negated
  (``token._.negated``). Japanese: ない/ぬ/ず/ん(ません) negate the predicate they
  attach to; GiNZA makes ない the head of an adjective (美味しく→ない) but an
  auxiliary of a verb (行き←ません), and both are followed. Negating a predicate
  without polarity of its own flips the polar words it governs (良い天気ではない).
  English: not/no/never/n't negate their head where the text is parsed, else the
  next polar word within three tokens.
* ``span._.polarity`` (sentences) and ``doc._.polarity``: the weighted mean of the
  polar tokens, in [-1, 1]; in a sentence with a contrast (が, けど, のに, しかし,
  but, however...) the tokens after the last contrast marker weigh
  ``contrast_weight`` times more, because the clause after it carries the
  judgement (値段は高いが、味は最高だ). A document is the mean of its sentences with
  any polar token; 0.0 when there are none.

Lexicons are TSV files (``tsunagu.lexicons.lexicon``); later ones in ``lexicons``
override earlier ones entry by entry, so a user lexicon listed last wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import ensure_path

from tsunagu.errors import ConfigError
from tsunagu.lexicons.corpus import BUT_MARKERS as JA_CONTRAST_PARTICLES
from tsunagu.lexicons.corpus import is_japanese_negator

WEIGHTS = "tsunagu_polarity_weights"
EN_NEGATORS = {"not", "n't", "no", "never", "nothing", "nobody", "neither", "nor", "without", "hardly"}
JA_CONTRAST_CONJUNCTIONS = {"しかし", "でも", "だが", "けれど", "けれども", "ところが", "だけど"}
EN_CONTRAST = {"but", "however", "yet"}
CONTENT = {"ADJ", "VERB", "NOUN", "PROPN", "ADV"}
# Parts of speech looked up in the lexicons. Networks built from corpora give
# function words (が, を, ない) scores near zero but not zero, which would only add
# noise to sentence means; negators act through negation instead.
SCORED_POS = {"ADJ", "VERB", "NOUN", "ADV", "INTJ"}


@Language.factory(
    "tsunagu_polarity",
    default_config={"lexicons": [], "contrast_weight": 2.0, "negation": True},
    assigns=["token._.polarity", "token._.negated", "span._.polarity", "doc._.polarity"],
)
def make_polarity(nlp: Language, name: str, lexicons: list[str], contrast_weight: float,
                  negation: bool) -> "PolarityScorer":
    return PolarityScorer(name, lexicons, contrast_weight=contrast_weight, negation=negation)


class PolarityScorer:
    def __init__(self, name: str = "polarity", lexicons: Optional[list[str]] = None, *,
                 contrast_weight: float = 2.0, negation: bool = True) -> None:
        from tsunagu.lexicons.lexicon import Lexicon, read_lexicon

        if contrast_weight <= 0:
            raise ConfigError(f"contrast_weight must be positive, not {contrast_weight}.")
        self.name, self.contrast_weight, self.negation = name, contrast_weight, negation
        self.lexicon = Lexicon()
        for path in lexicons or []:
            self.lexicon.update(read_lexicon(path))

    def __call__(self, doc: Doc) -> Doc:
        scores = numpy.zeros(len(doc))
        tagged = doc.has_annotation("POS")
        for token in doc:
            if (tagged and token.pos_ not in SCORED_POS) or _is_negator(token):
                continue  # particles, auxiliaries, names: no orientation of their own
            s = self.lexicon.score(token.lemma_ or token.lower_, token.pos_)
            if s is None and token.lower_ != token.lemma_:
                s = self.lexicon.score(token.lower_, token.pos_)
            scores[token.i] = s or 0.0
        negated = numpy.zeros(len(doc), dtype=bool)
        if self.negation:
            for token in doc:
                for target in _negated_by(token, scores):
                    negated[target] = ~negated[target]
        for token in doc:
            token._.negated = bool(negated[token.i])
            value = -scores[token.i] if negated[token.i] else scores[token.i]
            token._.polarity = float(value) if scores[token.i] != 0 else None
        doc.user_data[WEIGHTS] = _contrast_weights(doc, self.contrast_weight)
        return doc

    def to_disk(self, path, *, exclude=tuple()) -> None:
        from tsunagu.lexicons.lexicon import write_lexicon

        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_lexicon(self.lexicon, path / "lexicon.tsv")

    def from_disk(self, path, *, exclude=tuple()) -> "PolarityScorer":
        from tsunagu.lexicons.lexicon import read_lexicon

        file = Path(path) / "lexicon.tsv"
        if file.exists():
            self.lexicon = read_lexicon(file)
        return self


def _is_negator(token) -> bool:
    return is_japanese_negator(token) or token.lower_ in EN_NEGATORS


def _negated_by(token, scores) -> list[int]:
    """Indices of the polar tokens that ``token`` negates (none if not a negator)."""
    if not _is_negator(token):
        return []
    doc = token.doc
    if token.lower_ in EN_NEGATORS:
        if doc.has_annotation("DEP") and token.dep_ == "neg" and token.head.i != token.i:
            return _polar_in(token.head, token, scores)
        for t in doc[token.i + 1: token.i + 4]:
            if scores[t.i] != 0:
                return [t.i]
        return []
    target = None
    if token.head.i != token.i and token.head.i < token.i:
        # ません, ず: auxiliaries of the predicate; climb past で/は of ではない.
        target = token.head
        while target.pos_ in ("AUX", "ADP") and target.head.i != target.i:
            target = target.head
    else:
        # 美味しくない: ない heads the adjective it negates.
        left = [c for c in token.children if c.i < token.i and c.pos_ in CONTENT]
        if left:
            target = left[-1]
        else:
            for t in reversed(doc[max(0, token.i - 3): token.i]):
                if t.pos_ in CONTENT:
                    target = t
                    break
    return _polar_in(target, token, scores) if target is not None else []


def _polar_in(target, negator, scores) -> list[int]:
    if scores[target.i] != 0:
        return [target.i]
    return [t.i for t in target.subtree if t.i < negator.i and scores[t.i] != 0]


def _contrast_weights(doc: Doc, weight: float) -> numpy.ndarray:
    weights = numpy.ones(len(doc))
    sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    for sent in sentences:
        marker = None
        for t in sent:
            if ((t.pos_ == "SCONJ" or t.tag_.startswith("助詞-接続助詞")) and t.lemma_ in JA_CONTRAST_PARTICLES) \
                    or (t.lemma_ in JA_CONTRAST_CONJUNCTIONS and t.pos_ in ("CCONJ", "CONJ")) \
                    or t.lower_ in EN_CONTRAST:
                marker = t.i
        if marker is not None:
            weights[marker + 1: sent.end] = weight
    return weights


def span_polarity(span: Span) -> Optional[float]:
    doc = span.doc
    weights = doc.user_data.get(WEIGHTS)
    if weights is None:
        return None
    total = norm = 0.0
    for t in span:
        p = t._.polarity
        if p is not None:
            total += weights[t.i] * p
            norm += weights[t.i]
    return float(total / norm) if norm else 0.0


def doc_polarity(doc: Doc) -> Optional[float]:
    if WEIGHTS not in doc.user_data:
        return None
    sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    values = [span_polarity(s) for s in sentences if any(t._.polarity is not None for t in s)]
    return float(numpy.mean(values)) if values else 0.0
