"""Query strategies and the stopping criterion, on hand-made probabilities."""

import numpy as np
import pytest

from tsunagu.active import ActiveLearningError
from tsunagu.active.strategies import (
    CoreSet, Entropy, Hybrid, LeastConfidence, Margin, Pool, QueryByCommittee, RandomSampling,
    StabilizingPredictions, cohen_kappa, entropy, k_center_greedy, make_strategy, margin,
    vote_entropy,
)


class FakeModel:
    """predict_proba from a table; doc_vectors from another; clones vote by seed."""

    labels = ["a", "b", "c"]

    def __init__(self, proba, vectors=None, train_texts=(), votes=None, seed=0):
        self.proba, self.vectors, self.votes, self.seed = proba, vectors or {}, votes, seed
        self.train_texts = list(train_texts)
        self.train_labels = ["a"] * len(self.train_texts)
        self.fits = 0

    def predict_proba(self, texts):
        if self.votes is not None:  # committee member: one-hot of its vote
            return np.eye(3)[[self.votes[t][self.seed % len(self.votes[t])] for t in texts]]
        return np.array([self.proba[t] for t in texts], dtype=float)

    def doc_vectors(self, texts):
        return np.array([self.vectors[t] for t in texts], dtype=float)

    def clone(self, seed):
        return FakeModel(self.proba, self.vectors, self.train_texts, self.votes, seed)

    def fit(self, texts, labels):
        self.fits += 1
        return self


PROBA = {
    "sure": [0.98, 0.01, 0.01],
    "tie_low_entropy": [0.45, 0.45, 0.10],
    "tie_high_entropy": [0.40, 0.40, 0.20],
    "flat": [0.34, 0.33, 0.33],
    "leaning": [0.70, 0.20, 0.10],
}


def pool_of(names):
    return Pool([f"id-{n}" for n in names], list(names))


def test_scores_match_their_formulas():
    p = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    assert np.allclose(margin(p), [0.5, 0.0])
    assert np.allclose(entropy(p), [-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)), np.log(2)])
    votes = np.array([[0, 0], [0, 1], [0, 2]])  # 3 members x 2 examples
    assert np.allclose(vote_entropy(votes, 3), [0.0, np.log(3)])


def test_uncertainty_strategies_rank_and_break_ties():
    model = FakeModel(PROBA)
    pool = pool_of(["sure", "leaning", "tie_low_entropy", "tie_high_entropy", "flat"])
    # both ties have margin 0; the higher-entropy one comes first, the sure one last
    assert Margin().select(pool, model, 5) == ["id-tie_high_entropy", "id-tie_low_entropy", "id-flat",
                                              "id-leaning", "id-sure"]
    assert LeastConfidence().select(pool, model, 2) == ["id-flat", "id-tie_high_entropy"]
    assert Entropy().select(pool, model, 1) == ["id-flat"]
    assert len(Margin().select(pool, model, 99)) == 5
    with pytest.raises(ActiveLearningError):
        Margin().select(pool, model, 0)


def test_exact_ties_are_broken_at_random_not_by_position():
    proba = {f"t{i}": [0.5, 0.5, 0.0] for i in range(50)}
    pool = pool_of(list(proba))
    firsts = {Margin(seed=s).select(pool, FakeModel(proba), 1)[0] for s in range(10)}
    assert len(firsts) > 3


def test_random_is_seeded_and_without_replacement():
    pool = pool_of([f"x{i}" for i in range(100)])
    a, b = RandomSampling(seed=1).select(pool, None, 30), RandomSampling(seed=1).select(pool, None, 30)
    assert a == b and len(set(a)) == 30
    assert a != RandomSampling(seed=2).select(pool, None, 30)


def test_query_by_committee_prefers_disagreement():
    votes = {"agree": [0, 0, 0], "split2": [0, 1, 1], "split3": [0, 1, 2]}
    model = FakeModel({k: [1 / 3] * 3 for k in votes}, votes=votes, train_texts=["l1", "l2"])
    qbc = QueryByCommittee(members=3, seed=0)
    assert qbc.select(pool_of(list(votes)), model, 3) == ["id-split3", "id-split2", "id-agree"]
    with pytest.raises(ActiveLearningError):
        QueryByCommittee(members=1)


def test_k_center_greedy_covers_clusters_and_avoids_labelled_ones():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    points = np.concatenate([c + rng.normal(0, 0.1, (25, 2)) for c in centers])
    picked = k_center_greedy(points, np.zeros((0, 2)), 4, rng)
    assert sorted({int(i) // 25 for i in picked}) == [0, 1, 2, 3]
    # with two clusters already labelled, the next two picks come from the other two
    picked = k_center_greedy(points, centers[:2], 2, rng)
    assert sorted({int(i) // 25 for i in picked}) == [2, 3]
    assert len(set(k_center_greedy(points, np.zeros((0, 2)), 100, rng).tolist())) == 100


def test_coreset_and_hybrid_use_vectors():
    names = ["n0", "n1", "far", "flat_near", "flat_far"]
    vectors = {"n0": [1, 0], "n1": [0.99, 0.05], "far": [0, 1], "flat_near": [0.98, 0.1],
               "flat_far": [-1, 0.05], "lab": [1, 0.01]}
    proba = {"n0": [0.9, 0.05, 0.05], "n1": [0.9, 0.05, 0.05], "far": [0.9, 0.05, 0.05],
             "flat_near": [0.34, 0.33, 0.33], "flat_far": [0.4, 0.35, 0.25]}
    model = FakeModel(proba, vectors, train_texts=["lab"])
    got = CoreSet().select(pool_of(names), model, 2)
    assert set(got) == {"id-far", "id-flat_far"}  # farthest from the labelled example and each other
    # diversity first: shortlist of 2 = {far, flat_far}; the uncertain one of them first
    assert Hybrid(shortlist=2).select(pool_of(names), model, 1) == ["id-flat_far"]
    # uncertainty first: the 2 smallest margins {flat_near, flat_far}, then the farther one
    assert Hybrid(shortlist=2, first="uncertainty").select(pool_of(names), model, 1) == ["id-flat_far"]


def test_make_strategy_parses_options():
    s = make_strategy("hybrid:shortlist=3,first=uncertainty", seed=4)
    assert isinstance(s, Hybrid) and s.shortlist == 3 and s.first == "uncertainty"
    assert make_strategy("qbc:members=5").members == 5
    assert isinstance(make_strategy("least-confidence"), LeastConfidence)
    with pytest.raises(ActiveLearningError, match="unknown strategy"):
        make_strategy("nope")
    with pytest.raises(ActiveLearningError, match="bad options"):
        make_strategy("margin:shortlist=2")


def test_cohen_kappa_and_stabilizing_predictions():
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0)
    stop = StabilizingPredictions(threshold=0.99, window=2)
    base = np.array([0, 1, 2] * 10)
    changed = base.copy()
    changed[:6] = 0
    assert not stop.update(base)
    assert not stop.update(changed)       # kappa < 1
    assert not stop.update(changed)       # mean of last 2 still < 0.99
    assert stop.update(changed)           # two identical rounds in a row
    assert stop.kappas[-1] == 1.0
    with pytest.raises(ActiveLearningError):
        stop.update(base[:5])
