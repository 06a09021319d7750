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

``scorer = "composition"`` (the default) composes sentence polarity over GiNZA's
parse instead (``tsunagu.polarity.composition``: negation, change and removal
shifters, contrast, main clause, modality, domain ``profiles``); then
``token._.polarity`` is the evidence a token contributes after composition
(None for words the rules consumed, such as the 売上高 of 売上高が減少, whose
evidence sits on 減少), ``span._.polarity`` is Σ w·v / (Σ w + 1) over that
evidence, ``span._.polarity_label`` is neutral below ``neutral_threshold``, and
``span._.polarity_reasons`` lists the tokens and rules behind the score.
``scorer = "mean"`` is the behaviour described above (tsunagu 0.x), also used for
documents without a dependency parse (English, blank pipelines).
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
from tsunagu.polarity import (NEUTRAL_THRESHOLD, PSEUDO_COUNT, RULE_GROUPS, Composer, Priors,
                              Settings, document_label, document_score, label, read_profiles)

WEIGHTS = "tsunagu_polarity_weights"
# {"scorer": ..., "threshold": ...} of the component that scored the doc. Read with a
# fallback to the shipped defaults, since joining the pieces of a long document
# (tsunagu.pieces) keeps only the user_data keys it knows.
SETTINGS = "tsunagu_polarity_settings"
SCORERS = ("composition", "mean")
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
    default_config={"lexicons": [], "contrast_weight": 2.0, "negation": True,
                    "scorer": "composition", "profiles": ["business"],
                    "neutral_threshold": NEUTRAL_THRESHOLD, "main_clause_weight": 1.5,
                    "modal_weight": 0.5, "min_quantile": 0.7, "positive_weight": None,
                    "verb_weight": 0.5, "disable_rules": []},
    assigns=["token._.polarity", "token._.negated", "token._.polarity_rules", "span._.polarity",
             "span._.polarity_label", "span._.polarity_reasons", "doc._.polarity",
             "doc._.polarity_label"],
)
def make_polarity(nlp: Language, name: str, lexicons: list[str], contrast_weight: float,
                  negation: bool, scorer: str, profiles: list[str], neutral_threshold: float,
                  main_clause_weight: float, modal_weight: float, min_quantile: float,
                  positive_weight: Optional[float], verb_weight: float,
                  disable_rules: list[str]) -> "PolarityScorer":
    return PolarityScorer(name, lexicons, contrast_weight=contrast_weight, negation=negation,
                          scorer=scorer, profiles=profiles, neutral_threshold=neutral_threshold,
                          main_clause_weight=main_clause_weight, modal_weight=modal_weight,
                          min_quantile=min_quantile, positive_weight=positive_weight,
                          verb_weight=verb_weight, disable_rules=disable_rules)


class PolarityScorer:
    def __init__(self, name: str = "polarity", lexicons: Optional[list[str]] = None, *,
                 contrast_weight: float = 2.0, negation: bool = True, scorer: str = "composition",
                 profiles: Optional[list[str]] = ("business",),
                 neutral_threshold: float = NEUTRAL_THRESHOLD, main_clause_weight: float = 1.5,
                 modal_weight: float = 0.5, min_quantile: float = 0.7,
                 positive_weight: Optional[float] = None,
                 verb_weight: float = 0.5, disable_rules: Optional[list[str]] = None) -> None:
        from tsunagu.lexicons.lexicon import Lexicon, read_lexicon

        if contrast_weight <= 0:
            raise ConfigError(f"contrast_weight must be positive, not {contrast_weight}.")
        if scorer not in SCORERS:
            raise ConfigError(f"scorer must be one of {', '.join(SCORERS)}, not {scorer!r}.")
        if not 0 <= neutral_threshold < 1:
            raise ConfigError(f"neutral_threshold must be in [0, 1), not {neutral_threshold}.")
        unknown = set(disable_rules or []) - set(RULE_GROUPS)
        if unknown:
            raise ConfigError(f"Unknown rule group(s) in disable_rules: {', '.join(sorted(unknown))}; "
                              f"groups: {', '.join(RULE_GROUPS)}.")
        self.name, self.contrast_weight, self.negation = name, contrast_weight, negation
        self.scorer, self.neutral_threshold = scorer, neutral_threshold
        self.profiles = list(profiles or [])
        # Each lexicon is kept apart too: composition puts each on its own scale.
        self.lexicons = [read_lexicon(path) for path in lexicons or []]
        self.lexicon = Lexicon()
        for lexicon in self.lexicons:
            self.lexicon.update(lexicon)
        settings = Settings(negation=negation, contrast_weight=contrast_weight,
                            main_clause_weight=main_clause_weight, modal_weight=modal_weight,
                            positive_weight=positive_weight, verb_weight=verb_weight)
        for group in disable_rules or []:
            settings = settings.without(group)
        self.settings, self.min_quantile = settings, min_quantile
        self._composer: Optional[Composer] = None

    @property
    def composer(self) -> Composer:
        if self._composer is None:  # built lazily: from_disk may replace the lexicon
            self._composer = Composer(Priors(self.lexicons, min_quantile=self.min_quantile),
                                      read_profiles(self.profiles), self.settings)
        return self._composer

    def __call__(self, doc: Doc) -> Doc:
        composing = self.scorer == "composition" and doc.has_annotation("DEP")
        doc.user_data[SETTINGS] = {"scorer": "composition" if composing else "mean",
                                   "threshold": self.neutral_threshold}
        if composing:
            return self._compose(doc)
        return self._mean(doc)

    def _compose(self, doc: Doc) -> Doc:
        weights = numpy.zeros(len(doc))
        for token in doc:
            token._.polarity, token._.negated, token._.polarity_rules = None, False, None
        for e in self.composer.evidence(doc):
            token = doc[e.i]
            token._.polarity, token._.negated, token._.polarity_rules = float(e.value), e.negated, e.rules
            weights[e.i] = e.weight
        doc.user_data[WEIGHTS] = weights
        return doc

    def _mean(self, doc: Doc) -> Doc:
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
            token._.polarity_rules = (["lexicon"] + (["negation"] if negated[token.i] else [])
                                      if scores[token.i] != 0 else None)
        doc.user_data[WEIGHTS] = _contrast_weights(doc, self.contrast_weight)
        return doc

    def to_disk(self, path, *, exclude=tuple()) -> None:
        from tsunagu.lexicons.lexicon import write_lexicon

        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_lexicon(self.lexicon, path / "lexicon.tsv")
        # The lexicons one by one as well, each on its own scale for composition.
        for k, lexicon in enumerate(self.lexicons):
            write_lexicon(lexicon, path / f"lexicon-{k}.tsv")

    def from_disk(self, path, *, exclude=tuple()) -> "PolarityScorer":
        from tsunagu.lexicons.lexicon import read_lexicon

        file = Path(path) / "lexicon.tsv"
        if file.exists():
            self.lexicon = read_lexicon(file)
            parts = sorted(Path(path).glob("lexicon-*.tsv"), key=lambda p: int(p.stem.split("-")[1]))
            self.lexicons = [read_lexicon(p) for p in parts] or [self.lexicon]
            self._composer = None
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


def _settings(doc: Doc) -> dict:
    return doc.user_data.get(SETTINGS) or {"scorer": "composition", "threshold": NEUTRAL_THRESHOLD}


def _sentences(doc: Doc) -> list[Span]:
    return list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]


def _model_result(span: Span) -> Optional[tuple]:
    """A trained polarity model's (score, label) when ``span`` is a sentence it scored
    (``tsunagu_polarity_model``)."""
    doc = span.doc
    if _settings(doc)["scorer"] != "model" or not len(span):
        return None
    sentence = span.sent if doc.has_annotation("SENT_START") else doc[:]
    if (sentence.start, sentence.end) != (span.start, span.end):
        return None
    from tsunagu.components.polarity_model import sentence_result

    return sentence_result(doc, span.start)


def _model_sentences(doc: Doc) -> Optional[tuple[list, list]]:
    from tsunagu.components.polarity_model import SENTENCES

    if _settings(doc)["scorer"] != "model" or SENTENCES not in doc.user_data:
        return None
    result = doc.user_data[SENTENCES]
    return list(result["scores"]), list(result["labels"])


def span_polarity(span: Span) -> Optional[float]:
    """Composition: Σ w·v / (Σ w + 1) over the span's evidence; mean: Σ w·v / Σ w;
    a sentence scored by a trained model (``tsunagu_polarity_model``): its score."""
    model = _model_result(span)
    if model is not None:
        return float(model[0])
    return _evidence_polarity(span)


def _evidence_polarity(span: Span) -> Optional[float]:
    doc = span.doc
    weights = doc.user_data.get(WEIGHTS)
    if weights is None:
        return None
    pseudo = 0.0 if _settings(doc)["scorer"] == "mean" else PSEUDO_COUNT
    total = norm = 0.0
    for t in span:
        p = t._.polarity
        if p is not None:
            total += weights[t.i] * p
            norm += weights[t.i]
    return float(total / (norm + pseudo)) if norm else 0.0


def span_label(span: Span) -> Optional[str]:
    model = _model_result(span)
    if model is not None:
        return model[1]
    value = span_polarity(span)
    return None if value is None else label(value, _settings(span.doc)["threshold"])


def span_reasons(span: Span) -> Optional[list[dict]]:
    """The evidence behind the span's score: token, value, weight and rules, strongest first."""
    weights = span.doc.user_data.get(WEIGHTS)
    if weights is None:
        return None
    items = [{"token": t.text, "i": t.i, "value": round(t._.polarity, 4),
              "weight": round(float(weights[t.i]), 3), "rules": list(t._.polarity_rules or [])}
             for t in span if t._.polarity is not None]
    return sorted(items, key=lambda r: -abs(r["value"] * r["weight"]))


def doc_polarity(doc: Doc) -> Optional[float]:
    """Composition: the mean of the polar sentences (of all sentences with evidence
    when none is polar); mean: the mean of the sentences with any polar token."""
    if WEIGHTS not in doc.user_data:
        return None
    settings = _settings(doc)
    sentences = _sentences(doc)
    model = _model_sentences(doc)
    if model is not None:
        scores, labels = model
        polar = [s for s, lab in zip(scores, labels) if lab != "neutral"]
        values = polar or [s for s in scores if s != 0]
        return float(numpy.mean(values)) if values else 0.0
    if settings["scorer"] == "composition":
        return document_score([span_polarity(s) for s in sentences], settings["threshold"])
    values = [span_polarity(s) for s in sentences if any(t._.polarity is not None for t in s)]
    return float(numpy.mean(values)) if values else 0.0


def doc_label(doc: Doc) -> Optional[str]:
    if WEIGHTS not in doc.user_data:
        return None
    settings = _settings(doc)
    model = _model_sentences(doc)
    if model is not None:
        if all(lab == "neutral" for lab in model[1]):
            return "neutral"
        value = doc_polarity(doc)
        return "neutral" if value == 0 else ("positive" if value > 0 else "negative")
    if settings["scorer"] == "composition":
        return document_label([span_polarity(s) for s in _sentences(doc)], settings["threshold"])
    return label(doc_polarity(doc), settings["threshold"])
