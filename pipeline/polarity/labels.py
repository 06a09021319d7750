"""From scores to labels: sentences, then documents.

A sentence is ``positive`` or ``negative`` when the magnitude of its score reaches
the confidence threshold (``NEUTRAL_THRESHOLD`` by default, chosen by 5-fold
cross-validation on the development sets, benchmarks/bench_sentiment.py), else
``neutral`` (and always neutral without evidence). A document's score is the mean of
its polar sentences' scores, so that neutral sentences do not pull it toward zero;
a document without polar sentences is neutral, and its score is the mean of its
sentences' (sub-threshold) scores. Its label is the sign of its score.
"""

from __future__ import annotations

from typing import Sequence

# Chosen by 5-fold cross-validation of the Livedoor development sentences' three-class
# macro-F1 (benchmarks/bench_sentiment.py; folds chose 0.29-0.31; curve in
# benchmarks/plots/sentiment_threshold.png), with the issue-16 prototype lexicon. The
# scale of sentence scores follows the lexicon's balance, so re-run the benchmark
# when the shipped lexicon changes.
NEUTRAL_THRESHOLD = 0.3
LABELS = ("positive", "negative", "neutral")


def label(score: float, threshold: float = NEUTRAL_THRESHOLD) -> str:
    if score == 0 or abs(score) < threshold:
        return "neutral"
    return "positive" if score > 0 else "negative"


def document_score(sentence_scores: Sequence[float], threshold: float = NEUTRAL_THRESHOLD) -> float:
    polar = [s for s in sentence_scores if label(s, threshold) != "neutral"]
    values = polar or [s for s in sentence_scores if s != 0]
    return float(sum(values) / len(values)) if values else 0.0


def document_label(sentence_scores: Sequence[float], threshold: float = NEUTRAL_THRESHOLD) -> str:
    if all(label(s, threshold) == "neutral" for s in sentence_scores):
        return "neutral"
    value = document_score(sentence_scores, threshold)
    return "neutral" if value == 0 else ("positive" if value > 0 else "negative")
