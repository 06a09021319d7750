"""Sentence polarity by composition over GiNZA's dependency parse.

The polarity of a sentence is built from the polarities of its words by rules that
follow the syntax, in the spirit of Choi & Cardie (EMNLP 2008, "Learning with
compositional semantics as structural inference for subsentential sentiment
analysis") and of Nakagawa, Inui & Kurohashi (NAACL 2010, "Dependency tree-based
sentiment classification using CRFs with hidden variables"), whose polarity
*reversal* is propagated along Japanese dependency trees. The rules, applied to
each sentence of a parsed ``Doc``:

1. **Prior polarity** (``tsunagu.polarity.prior``): content words get their lexicon
   polarity, on a quantile scale; words the profile fixes (増益 +, 減収 -) get that
   sign; quantities the profile knows (売上高, 損失) are topics, not evidence.
2. **Shifters** (``tsunagu.polarity.markers``): a change predicate takes its polarity
   from the quantity it governs (its subject or object, the subject of the light
   verb it complements in 減少となる, or the noun it modifies): an increase keeps it,
   a decrease reverses it (売上高が減少 -, 損失が減少 +); level predicates (高い,
   少ない) do the same when the quantity's direction is known; removal predicates
   reverse the polarity of their object (赤字を解消 +). Numeric change tokens
   (``15％減``, ``△``) change the nearest quantity to their left outside the
   parenthesis they sit in. The quantity's direction comes from the profile, else
   from its own lexicon polarity (人気が上昇 +, 不安が高まる -).
3. **Negation**: ない/ぬ/ず/ん and なし flip the evidence of the predicate they
   negate, or of its dependents when it has none (良い天気ではない); two negations
   cancel (美味しくないわけではない).
4. **Weights**: evidence after the last contrast marker (が, けど, しかし ...) weighs
   ``contrast_weight`` times more, evidence in the main clause (outside every
   adverbial clause: Japanese puts the main clause last) ``main_clause_weight``
   times more, and evidence inside a hypothetical (〜ば/〜たら/〜なら), a wish
   (〜たい), an obligation (〜べき) or a question (〜か) ``modal_weight`` times.
   Words inside a parenthesis of the previous period's figures (profile) are skipped.

The sentence score is the weighted sum of its evidence divided by the sum of the
weights plus one pseudo-observation of polarity zero (``PSEUDO_COUNT``), so that one
weak word gives a weak score and agreeing evidence a stronger one; it lies in
(-1, 1). Each piece of evidence keeps the tokens and rules that made it
(``Evidence.reason``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Optional, Union

from spacy.tokens import Doc, Span, Token

from tsunagu.lexicons.corpus import is_japanese_negator

from . import markers as M
from .prior import Prior, Priors
from .profiles import Profile

PSEUDO_COUNT = 1.0
SCORED_POS = frozenset({"ADJ", "VERB", "NOUN", "ADV", "INTJ"})
NOMINAL = frozenset({"NOUN", "PROPN", "PRON", "NUM"})
CONTENT = frozenset({"ADJ", "VERB", "NOUN", "PROPN", "ADV"})
OPEN = "（(「『【［[〈《"
CLOSE = "）)」』】］]〉》"
NUMERIC_UNITS = frozenset({"%", "％", "ポイント", "割", "パーセント"})
MINUS_SIGNS = frozenset({"△", "▲"})


@dataclass(frozen=True)
class Settings:
    """Which rules run and how much each weighs; ``Settings()`` is the default."""

    negation: bool = True
    shifters: bool = True
    removal: bool = True
    numeric: bool = True
    previous_period: bool = True
    quantity_topics: bool = True
    contrast_weight: float = 2.0
    main_clause_weight: float = 1.5
    modal_weight: float = 0.5
    noun_weight: float = 1.0
    verb_weight: float = 0.5
    # Scale of positive priors; None: the lexicon's balance (tsunagu.polarity.prior).
    positive_weight: Optional[float] = None
    word_classes: str = "evaluative"
    adjectives_uncut: bool = True
    # Common nouns count when negative (事故, 被害): the lexicon's surplus of positive
    # spins sits on descriptive nouns, its negative spins are reliable.
    negative_nouns: bool = False

    def without(self, group: str) -> "Settings":
        """These settings with one rule group off (for ablations)."""
        off = {"negation": {"negation": False}, "shifters": {"shifters": False},
               "removal": {"removal": False}, "numeric": {"numeric": False},
               "previous_period": {"previous_period": False},
               "quantity_topics": {"quantity_topics": False},
               "contrast": {"contrast_weight": 1.0}, "main_clause": {"main_clause_weight": 1.0},
               "modality": {"modal_weight": 1.0}}
        if group not in off:
            raise ValueError(f"Unknown rule group {group!r}; groups: {', '.join(off)}")
        return replace(self, **off[group])


RULE_GROUPS = ("negation", "shifters", "removal", "numeric", "previous_period", "quantity_topics",
               "contrast", "main_clause", "modality")


@dataclass
class Evidence:
    """One piece of polar evidence, anchored at a token."""

    i: int
    value: float
    rules: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    weight: float = 1.0
    negated: bool = False

    def reason(self, doc: Doc) -> dict:
        return {"token": doc[self.i].text, "i": self.i, "value": round(self.value, 4),
                "weight": round(self.weight, 3), "rules": list(self.rules),
                "tokens": [doc[j].text for j in sorted(set(self.tokens))]}


class Composer:
    """Composes evidence over the sentences of a parsed ``Doc``."""

    def __init__(self, prior: Union[Prior, Priors], profile: Optional[Profile] = None,
                 settings: Optional[Settings] = None) -> None:
        self.prior = prior if isinstance(prior, Priors) else Priors([prior])
        self.profile = profile or Profile()
        self.settings = settings or Settings()

    def evidence(self, doc: Doc) -> list[Evidence]:
        """All evidence of ``doc``, sentence by sentence, with weights set."""
        sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
        out: list[Evidence] = []
        for sent in sentences:
            out.extend(self.sentence_evidence(sent))
        return out

    def sentence_evidence(self, sent: Span) -> list[Evidence]:
        s = self.settings
        skipped = self._skipped(sent)
        ev: dict[int, Evidence] = {}
        for t in sent:
            if t.i in skipped:
                continue
            e = self._prior_evidence(t)
            if e is not None:
                ev[t.i] = e
        if s.shifters or s.removal or s.numeric:
            for t in sent:
                if t.i not in skipped:
                    self._shift(t, sent, ev, skipped)
        if s.negation:
            for t in sent:
                if _is_negator(t):
                    self._negate(t, sent, ev)
        weights = self._weights(sent)
        for e in ev.values():
            e.weight = weights[e.i - sent.start]
        return sorted(ev.values(), key=lambda e: e.i)

    # -- 1. prior polarity ------------------------------------------------------

    def _prior_evidence(self, t: Token) -> Optional[Evidence]:
        if t.pos_ not in SCORED_POS or _is_negator(t):
            return None
        common_noun = False
        if self.settings.word_classes == "evaluative" and not is_evaluative_class(t):
            if not (self.settings.negative_nouns and t.tag_.startswith("名詞-普通名詞-一般")):
                return None
            common_noun = True
        lemma = t.lemma_ or t.text
        fixed = self.profile.fixed.get(lemma)
        if fixed is not None:
            return Evidence(t.i, float(fixed), [f"profile:{lemma}{_sign(fixed)}"], [t.i])
        if self.settings.quantity_topics and t.pos_ in NOMINAL and self.profile.direction(lemma):
            return None  # a quantity is what changes, not a judgement
        # Adjectives proper (形容詞) evaluate far more often than nouns and verbs, so
        # even their weakly connected lexicon entries count (面白い sits low: its
        # many gloss links dilute its spin).
        cut = not (self.settings.adjectives_uncut and t.tag_.startswith("形容詞"))
        value, balance = self.prior.lookup(lemma, t.pos_, cut=cut)
        if not value and t.text != lemma:
            value, balance = self.prior.lookup(t.text, t.pos_, cut=cut)
        if not value or (common_noun and value > 0):
            return None
        if t.tag_.startswith("名詞"):
            value *= self.settings.noun_weight
        elif t.tag_.startswith("動詞"):
            value *= self.settings.verb_weight
        if value > 0:
            w = self.settings.positive_weight
            value *= balance if w is None else w
        return Evidence(t.i, value, [f"lexicon:{lemma}"], [t.i])

    # -- 2. shifters -------------------------------------------------------------

    def _shift(self, t: Token, sent: Span, ev: dict[int, Evidence], skipped: set[int]) -> None:
        s = self.settings
        lemma = t.lemma_
        kind = direction = None
        if s.numeric and t.text in MINUS_SIGNS and t.i + 1 < sent.end and t.nbor(1).pos_ == "NUM":
            kind, direction = "numeric", -1
        elif s.numeric and lemma in ("増", "減") and _after_number(t):
            kind, direction = "numeric", M.CHANGE[lemma]
        elif s.shifters and lemma in M.CHANGE and t.pos_ in ("VERB", "NOUN", "ADJ"):
            kind, direction = "change", M.CHANGE[lemma]
        elif s.shifters and lemma in M.LEVEL and t.pos_ == "ADJ":
            kind, direction = "level", M.LEVEL[lemma]
        elif s.removal and lemma in M.REMOVAL and t.pos_ in ("VERB", "NOUN"):
            kind, direction = "removal", -1
        if kind is None:
            return
        if kind == "numeric":
            argument = self._numeric_quantity(t, sent, skipped)
        else:
            argument = self._argument(t, ev)
        if argument is None:
            if kind in ("level", "numeric"):
                return  # descriptive without a known quantity (背が高い)
            return  # change and removal predicates keep their own prior
        a, quantity, why = argument
        if kind == "removal" and quantity > 0 and why.startswith("profile"):
            return  # 受注を回避 is not said; a profile quantity is not removed
        value = direction * quantity
        used = [a.i] + [j for j in ev if j != t.i and a.left_edge.i <= j <= a.right_edge.i and j < t.i]
        for j in used:
            ev.pop(j, None)
        ev[t.i] = Evidence(t.i, max(-1.0, min(1.0, value)),
                           [f"{kind}:{lemma}{_sign(direction)}", why], [t.i, a.i])

    def _argument(self, t: Token, ev: dict[int, Evidence]):
        """The quantity a change or removal predicate governs, with its direction."""
        candidates = [c for c in reversed(list(t.lefts)) if c.dep_ in M.ARGUMENT_DEPS]
        head = t.head
        if head.i != t.i and head.i > t.i and head.lemma_ in M.LIGHT:
            candidates += [c for c in reversed(list(head.lefts))
                           if c.dep_ in ("nsubj", "obj", "nsubj:pass") and c.i < t.i]
        if t.dep_ in ("acl", "amod") and head.i > t.i and head.pos_ in NOMINAL:
            candidates.append(head)
        for c in candidates:
            found = self._quantity(c, ev)
            if found is not None:
                return (c, *found)
        return None

    def _quantity(self, c: Token, ev: dict[int, Evidence]):
        if c.i in ev:
            return ev[c.i].value, f"argument:{c.lemma_}{_sign(ev[c.i].value)}"
        direction = self.profile.direction(c.lemma_) if c.pos_ in NOMINAL else None
        if direction:
            return float(direction), f"profile:{c.lemma_}{_sign(direction)}"
        # The strongest evidence inside the argument phrase (人気の高さが上昇).
        inside = [ev[j] for j in ev if c.left_edge.i <= j <= c.right_edge.i]
        if inside:
            best = max(inside, key=lambda e: abs(e.value))
            return best.value, f"argument:{c.doc[best.i].lemma_}{_sign(best.value)}"
        return None

    def _numeric_quantity(self, t: Token, sent: Span, skipped: set[int]):
        """The nearest profile quantity left of ``t`` and outside its parenthesis."""
        depth = 0
        for j in range(t.i - 1, sent.start - 1, -1):
            u = t.doc[j]
            if u.text and u.text[0] in CLOSE:
                depth += 1
            elif u.text and u.text[0] in OPEN:
                depth = max(0, depth - 1)
            if j in skipped or u.pos_ not in NOMINAL:
                continue
            direction = self.profile.direction(u.lemma_)
            if direction:
                return u, float(direction), f"profile:{u.lemma_}{_sign(direction)}"
        return None

    # -- 3. negation ---------------------------------------------------------------

    def _negate(self, negator: Token, sent: Span, ev: dict[int, Evidence]) -> None:
        target = _negation_target(negator)
        if target is None:
            return
        if target.i in ev:
            hits = [target.i]
        else:
            hits = [j for j in ev if target.left_edge.i <= j < negator.i and j >= sent.start]
        for j in hits:
            e = ev[j]
            e.value, e.negated = -e.value, not e.negated
            e.rules.append(f"negation:{negator.text}")
            e.tokens.append(negator.i)

    # -- 4. weights --------------------------------------------------------------

    def _weights(self, sent: Span) -> list[float]:
        s = self.settings
        n = len(sent)
        weights = [1.0] * n
        if s.contrast_weight != 1.0:
            marker = None
            for t in sent:
                if _is_contrast(t):
                    marker = t.i
            if marker is not None:
                for j in range(marker + 1, sent.end):
                    weights[j - sent.start] *= s.contrast_weight
        if s.main_clause_weight != 1.0:
            for t in sent:
                if not _in_adverbial_clause(t, sent):
                    weights[t.i - sent.start] *= s.main_clause_weight
        if s.modal_weight != 1.0:
            scoped: set[int] = set()
            for t in sent:
                p = _modal_predicate(t)
                if p is not None:
                    scoped.update(range(max(p.left_edge.i, sent.start), min(p.i, sent.end - 1) + 1))
            for j in scoped:
                weights[j - sent.start] *= s.modal_weight
        return weights

    def _skipped(self, sent: Span) -> set[int]:
        """Tokens inside a parenthesis of the previous period's figures."""
        if not self.settings.previous_period or not self.profile.previous:
            return set()
        skipped: set[int] = set()
        start = None
        for t in sent:
            if t.text in ("（", "("):
                start = t.i
            elif t.text in ("）", ")") and start is not None:
                inner = sent.doc[start + 1: t.i].text
                if self.profile.is_previous_period(inner):
                    skipped.update(range(start, t.i + 1))
                start = None
        return skipped


def score(evidence: Iterable[Evidence]) -> float:
    """Σ w·v / (Σ w + PSEUDO_COUNT): in (-1, 1), 0.0 without evidence."""
    total = norm = 0.0
    for e in evidence:
        total += e.weight * e.value
        norm += e.weight
    return total / (norm + PSEUDO_COUNT) if norm else 0.0


# Sudachi word classes that can carry an evaluation of their own: adjectives,
# adjectival nouns, verbal nouns and independent verbs and adverbs. Common nouns
# (事業, 円, 当社), counters, proper nouns, affixes and the dependent verbs (なる,
# ある, いる) name things; a lexicon built by propagation over a graph gives them
# small but non-zero scores, which would only add noise to sentences.
EVALUATIVE_TAGS = ("形容詞", "形状詞-一般", "名詞-普通名詞-形状詞可能", "名詞-普通名詞-サ変形状詞可能",
                   "名詞-普通名詞-サ変可能", "動詞-一般", "副詞", "感動詞")


def is_evaluative_class(t: Token) -> bool:
    return t.tag_.startswith(EVALUATIVE_TAGS)


def _sign(x: float) -> str:
    return "+" if x > 0 else "-"


def _is_negator(t: Token) -> bool:
    return is_japanese_negator(t) or (t.lemma_ in M.NEGATING_NOUNS and t.pos_ in ("NOUN", "ADJ", "AUX"))


def _negation_target(negator: Token) -> Optional[Token]:
    head = negator.head
    if head.i != negator.i and head.i < negator.i:
        # ません, ず, ではない: climb past the auxiliaries and particles in between.
        target = head
        while target.pos_ in ("AUX", "ADP") and target.head.i != target.i:
            target = target.head
        return target
    # 美味しくない, 問題はない: ない heads what it negates.
    left = [c for c in negator.children if c.i < negator.i and c.pos_ in CONTENT]
    if left:
        return left[-1]
    for t in reversed(negator.doc[max(0, negator.i - 3): negator.i]):
        if t.pos_ in CONTENT:
            return t
    return None


def _after_number(t: Token) -> bool:
    """増/減 right after a figure: 15.5％減, 2億円増, 3割減."""
    if t.i == 0:
        return False
    before = t.nbor(-1)
    return before.pos_ == "NUM" or before.lemma_ in NUMERIC_UNITS or before.text in NUMERIC_UNITS \
        or before.lemma_ == "円"


def _is_contrast(t: Token) -> bool:
    if t.lemma_ in M.CONTRAST_PARTICLES and (t.pos_ == "SCONJ" or t.tag_.startswith("助詞-接続助詞")):
        return True
    return t.lemma_ in M.CONTRAST_CONJUNCTIONS and t.pos_ in ("CCONJ", "CONJ", "ADV")


def _in_adverbial_clause(t: Token, sent: Span) -> bool:
    node = t
    for _ in range(len(sent)):
        if node.dep_ == "advcl":
            return True
        if node.head.i == node.i:
            return False
        node = node.head
    return False


def _modal_predicate(t: Token) -> Optional[Token]:
    """The predicate whose clause ``t`` makes hypothetical, wished, obliged or asked."""
    inflection = t.morph.get("Inflection")
    modal = (
        (t.lemma_ in M.CONDITIONAL_PARTICLES and t.pos_ in ("SCONJ", "ADP", "AUX"))
        or any("仮定形" in v for v in inflection)
        or (t.lemma_ in M.WISH_AUXILIARIES and t.pos_ in ("AUX", "ADJ") and t.i > 0)
        or (t.lemma_ in M.OBLIGATION_AUXILIARIES and t.pos_ == "AUX")
        or (t.lemma_ in M.QUESTION_PARTICLES and t.tag_.startswith("助詞-終助詞"))
    )
    if not modal:
        return None
    node = t
    while node.pos_ in ("AUX", "SCONJ", "ADP", "PART") and node.head.i != node.i:
        node = node.head
    return node
