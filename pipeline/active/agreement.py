"""How far a session's annotators agree: Cohen's κ per pair, Krippendorff's α overall.

Cohen's kappa (Cohen, 1960) for two annotators on the examples both labelled::

    κ = (p_o − p_e) / (1 − p_e)

with ``p_o`` the fraction of those examples they gave the same label and ``p_e``
the agreement expected by chance from each annotator's own label frequencies.
Krippendorff's alpha (Krippendorff, 2004; nominal level) covers every annotator
at once and tolerates missing answers::

    α = 1 − D_o / D_e

with ``D_o`` the observed disagreement among the answers given to each example
(pairs of answers within an example) and ``D_e`` the disagreement expected from
all answers pooled. Both are 1 for perfect agreement and 0 for chance; they are
undefined (``None`` here, with the reason) when nobody could disagree: fewer
than two shared examples, or one label used by everybody.

The computations are scikit-learn's ``cohen_kappa_score`` and the ``krippendorff``
package's ``alpha``; this module gathers the answers from the label store. An
example's answer is each annotator's latest label that is not undone; skips are
not answers. Multi-label answers compare as their whole label set.

    >>> report = agreement(store, store.session("news"))   # doctest: +SKIP
    >>> report.alpha, [(p.first, p.second, p.kappa) for p in report.pairs]
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from .store import LabelStore, Session


@dataclass
class PairAgreement:
    first: str
    second: str
    shared: int                 # examples both labelled
    agreed: int                 # of those, with the same label
    kappa: Optional[float]
    note: str = ""              # why kappa is None

    @property
    def observed(self) -> Optional[float]:
        return self.agreed / self.shared if self.shared else None


@dataclass
class Disagreement:
    example_id: str
    text: str
    answers: dict[str, str]     # annotator -> label
    reviewed: Optional[str] = None


@dataclass
class AgreementReport:
    session: str
    labels: list[str]
    annotators: list[str]
    examples: int               # examples with at least one label
    overlapping: int            # examples with labels from two or more annotators
    alpha: Optional[float]
    alpha_note: str
    pairs: list[PairAgreement]
    # confusion[a][b]: how often, for two annotators on one example, one said a
    # and the other b (each unordered pair of answers counted once in each order,
    # so the matrix is symmetric, as Krippendorff's coincidence matrix).
    confusion: dict[str, dict[str, int]]
    disagreements: list[Disagreement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for p, d in zip(out["pairs"], self.pairs):
            p["observed"] = d.observed
        return out


def _answer_label(labels: list[str]) -> str:
    return "+".join(labels)


def agreement(store: LabelStore, session: Session) -> AgreementReport:
    """Pairwise κ, overall α, the label confusion and the disagreements of ``session``."""
    from sklearn.metrics import cohen_kappa_score

    by_example: dict[str, dict[str, str]] = {}
    texts: dict[str, str] = {}
    for a in store.answers(session):
        if a.action != "label":
            continue
        by_example.setdefault(a.example_id, {})[a.annotator] = _answer_label(a.labels)
        texts[a.example_id] = a.text
    annotators = sorted({name for answers in by_example.values() for name in answers})
    given = {v for answers in by_example.values() for v in answers.values()}
    # The session's labels in their order, then any multi-label combinations.
    values = [l for l in session.labels if l in given] + sorted(given - set(session.labels))

    pairs = []
    for first, second in itertools.combinations(annotators, 2):
        shared = [(e[first], e[second]) for e in by_example.values() if first in e and second in e]
        agreed = sum(x == y for x, y in shared)
        kappa, note = None, ""
        if len(shared) < 2:
            note = f"{len(shared)} shared example(s); κ needs two or more"
        elif len({v for pair in shared for v in pair}) < 2:
            note = "both gave one and the same label to every shared example; κ is undefined"
        else:
            k = float(cohen_kappa_score([x for x, _ in shared], [y for _, y in shared]))
            kappa, note = (None, "undefined for these answers") if np.isnan(k) else (k, "")
        pairs.append(PairAgreement(first, second, len(shared), agreed, kappa, note))

    overlapping = {eid: answers for eid, answers in by_example.items() if len(answers) >= 2}
    alpha, alpha_note = _alpha(overlapping, annotators, values)

    confusion = {v: {w: 0 for w in values} for v in values}
    for answers in overlapping.values():
        for x, y in itertools.combinations(list(answers.values()), 2):
            confusion[x][y] += 1
            confusion[y][x] += 1

    reviews = store.reviews(session)
    disagreements = [
        Disagreement(eid, texts[eid], dict(sorted(answers.items())),
                     _answer_label(reviews[eid].labels) if eid in reviews else None)
        for eid, answers in overlapping.items() if len(set(answers.values())) > 1]
    return AgreementReport(session.name, list(session.labels), annotators, len(by_example), len(overlapping),
                           alpha, alpha_note, pairs, confusion, disagreements)


def _alpha(overlapping: dict[str, dict[str, str]], annotators: list[str],
           values: list[str]) -> tuple[Optional[float], str]:
    import krippendorff

    if len(overlapping) < 1 or len(annotators) < 2:
        return None, "no example has answers from two annotators"
    used = {v for answers in overlapping.values() for v in answers.values()}
    if len(used) < 2:
        return None, "every answer on the shared examples is the same label; α is undefined"
    code = {v: i for i, v in enumerate(values)}
    data = np.full((len(annotators), len(overlapping)), np.nan)
    row = {name: i for i, name in enumerate(annotators)}
    for j, answers in enumerate(overlapping.values()):
        for name, value in answers.items():
            data[row[name], j] = code[value]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), ""


def format_report(report: AgreementReport, *, max_examples: int = 20, max_chars: int = 80) -> str:
    """The report as text for a terminal."""
    lines = [f"session {report.session}: {report.examples} labelled examples, {report.overlapping} "
             f"labelled by two or more of {len(report.annotators)} annotators "
             f"({', '.join(report.annotators) or 'none'})"]
    lines.append("Krippendorff's alpha (nominal): "
                 + (f"{report.alpha:.3f}" if report.alpha is not None else f"- ({report.alpha_note})"))
    if report.pairs:
        lines.append("Cohen's kappa per pair:")
        for p in report.pairs:
            k = f"{p.kappa:.3f}" if p.kappa is not None else f"- ({p.note})"
            obs = f", agreed on {p.agreed}/{p.shared}" if p.shared else ""
            lines.append(f"  {p.first} / {p.second}: {k}{obs}")
    if report.confusion and report.overlapping:
        values = list(report.confusion)
        width = max(len(v) for v in values) + 2
        lines.append("label confusion between annotators (pairs of answers on one example):")
        lines.append(" " * width + "".join(v.rjust(width) for v in values))
        for v in values:
            lines.append(v.ljust(width) + "".join(str(report.confusion[v][w]).rjust(width) for w in values))
    lines.append(f"{len(report.disagreements)} example(s) with different labels"
                 + (" (review them with `tsunagu annotate NAME --review --web`):" if report.disagreements else ""))
    for d in report.disagreements[:max_examples]:
        text = " ".join(d.text.split())
        text = text[:max_chars] + ("…" if len(text) > max_chars else "")
        answers = ", ".join(f"{name}={label}" for name, label in d.answers.items())
        reviewed = f" → reviewed {d.reviewed}" if d.reviewed else ""
        lines.append(f"  {d.example_id}: {answers}{reviewed}  {text}")
    if len(report.disagreements) > max_examples:
        lines.append(f"  … and {len(report.disagreements) - max_examples} more (--json lists all)")
    return "\n".join(lines)
