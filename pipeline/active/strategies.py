"""Query strategies: which unlabelled examples to label next.

Every strategy is one small class with one method::

    ids = strategy.select(pool, model, n)

``pool`` is a :class:`Pool` (ids and texts of the unlabelled examples), ``model`` a
fitted classifier with the :class:`Classifier` interface (``predict_proba``,
``doc_vectors``, ``clone``/``fit`` and the data it was fitted on), ``n`` the batch
size. The result is a list of ``n`` pool ids, most informative first. Strategies
know nothing of spaCy; scores are computed with vectorized numpy.

Ties (frequent with few labels, when many probabilities are equal) are broken by a
second score and then by a seeded random order, never by pool position, which
would favour whatever the source lists first.

The stopping criterion :class:`StabilizingPredictions` watches how much the
predictions on a fixed unlabelled stop set still change between consecutive models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence

import numpy as np

from .errors import ActiveLearningError

EPS = 1e-12


@dataclass
class Pool:
    """The unlabelled examples a strategy chooses from."""

    ids: list[str]
    texts: list[str]

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise ActiveLearningError(f"pool has {len(self.ids)} ids but {len(self.texts)} texts")

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int]) -> "Pool":
        return Pool([self.ids[i] for i in indices], [self.texts[i] for i in indices])


class Classifier(Protocol):
    """What strategies need of a model (see :mod:`tsunagu.active.models`)."""

    labels: list[str]
    train_texts: list[str]
    train_labels: list[str]

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "Classifier": ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def doc_vectors(self, texts: Sequence[str]) -> np.ndarray: ...

    def clone(self, seed: int) -> "Classifier": ...


# --------------------------------------------------------------------------- scores


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """``1 - max_y P(y|x)``: higher is more uncertain."""
    return 1.0 - proba.max(axis=1)


def margin(proba: np.ndarray) -> np.ndarray:
    """``P(y1|x) - P(y2|x)`` of the two most probable labels: lower is more uncertain."""
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy ``-sum_y P(y|x) log P(y|x)``: higher is more uncertain."""
    p = np.clip(proba, EPS, 1.0)
    return -(proba * np.log(p)).sum(axis=1)


def vote_entropy(votes: np.ndarray, n_labels: int) -> np.ndarray:
    """Vote entropy of a committee: ``-sum_y V(y)/C log V(y)/C`` where ``V(y)`` is the
    number of the ``C`` members voting ``y``. ``votes``: (members, examples) label indices."""
    members = votes.shape[0]
    counts = np.zeros((votes.shape[1], n_labels))
    for row in votes:
        counts[np.arange(votes.shape[1]), row] += 1
    share = counts / members
    return -(share * np.log(np.clip(share, EPS, 1.0))).sum(axis=1)


def _rank(primary: np.ndarray, secondary: Optional[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Indices by ascending ``primary``, ties by ascending ``secondary``, then at random."""
    noise = rng.random(len(primary))
    keys = [noise] + ([secondary] if secondary is not None else []) + [primary]
    return np.lexsort(keys)


def _check_n(pool: Pool, n: int) -> int:
    if n < 1:
        raise ActiveLearningError(f"batch size must be at least 1, not {n}")
    return min(n, len(pool))


# --------------------------------------------------------------------------- strategies


class QueryStrategy:
    """Base class: ``select(pool, model, n) -> ids`` (most informative first)."""

    name = "base"
    needs_fit = True

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def select(self, pool: Pool, model: Optional[Classifier], n: int) -> list[str]:
        n = _check_n(pool, n)
        if n == 0:
            return []
        order = self.order(pool, model, n)
        return [pool.ids[i] for i in order[:n]]

    def order(self, pool: Pool, model: Optional[Classifier], n: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomSampling(QueryStrategy):
    """Uniform sampling without replacement: the baseline every strategy must beat."""

    name = "random"
    needs_fit = False

    def order(self, pool, model, n):
        return self.rng.permutation(len(pool))


class LeastConfidence(QueryStrategy):
    """Least confidence (Lewis & Gale 1994; Settles 2009, sec. 3.1):
    ``x* = argmax_x 1 - P(y_hat|x)``, ``y_hat`` the most probable label.
    Ties broken by entropy (higher first)."""

    name = "least_confidence"

    def order(self, pool, model, n):
        proba = model.predict_proba(pool.texts)
        return _rank(-least_confidence(proba), -entropy(proba), self.rng)


class Margin(QueryStrategy):
    """Margin sampling (Scheffer et al. 2001): ``x* = argmin_x P(y1|x) - P(y2|x)``
    over the two most probable labels. Ties (equal margins, e.g. all-uniform
    predictions of an untrained model) broken by entropy, higher first, then at random."""

    name = "margin"

    def order(self, pool, model, n):
        proba = model.predict_proba(pool.texts)
        return _rank(margin(proba), -entropy(proba), self.rng)


class Entropy(QueryStrategy):
    """Maximum entropy (Settles 2009, sec. 3.1; Shannon 1948):
    ``x* = argmax_x -sum_y P(y|x) log P(y|x)``."""

    name = "entropy"

    def order(self, pool, model, n):
        proba = model.predict_proba(pool.texts)
        return _rank(-entropy(proba), margin(proba), self.rng)


class QueryByCommittee(QueryStrategy):
    """Query by committee (Seung et al. 1992) with vote entropy (Dagan & Engelson 1995):
    ``x* = argmax_x -sum_y V(y)/C log V(y)/C`` over a committee of ``C`` models.

    The committee is a seed ensemble: clones of the model trained with different
    random seeds, each on a bootstrap sample of the labelled data (query by bagging,
    Abe & Mamitsuka 1998) since linear bag-of-words models trained on identical data
    barely disagree. Vote entropy takes few distinct values with a small committee,
    so ties are broken by the entropy of the members' mean distribution (consensus
    entropy), then at random.
    """

    name = "qbc"

    def __init__(self, seed: int = 0, members: int = 3, bootstrap: bool = True) -> None:
        super().__init__(seed)
        if members < 2:
            raise ActiveLearningError("a committee needs at least 2 members")
        self.members = members
        self.bootstrap = bootstrap
        self.seed = seed
        self._round = 0

    def committee(self, model: Classifier) -> list:
        texts, labels = list(model.train_texts), list(model.train_labels)
        out = []
        for m in range(self.members):
            seed = self.seed * 1000 + self._round * 17 + m
            if self.bootstrap and texts:
                idx = np.random.default_rng(seed).integers(0, len(texts), len(texts))
                t, y = [texts[i] for i in idx], [labels[i] for i in idx]
            else:
                t, y = texts, labels
            out.append(model.clone(seed=seed).fit(t, y))
        self._round += 1
        return out

    def order(self, pool, model, n):
        probas = np.stack([m.predict_proba(pool.texts) for m in self.committee(model)])
        ve = vote_entropy(probas.argmax(axis=2), probas.shape[2])
        return _rank(-ve, -entropy(probas.mean(axis=0)), self.rng)

    def __repr__(self) -> str:
        return f"QueryByCommittee(members={self.members}, bootstrap={self.bootstrap})"


def k_center_greedy(vectors: np.ndarray, centers: np.ndarray, n: int,
                    rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Greedy k-center (Sener & Savarese 2018, Alg. 1; Gonzalez 1985): repeatedly
    take the point farthest from its nearest center, ``u = argmax_i min_j d(x_i, c_j)``,
    and make it a center. ``vectors``: (pool, dim); ``centers``: (m, dim), may be
    empty (then the first pick is random). Euclidean distance. Returns ``n`` indices."""
    n = min(n, len(vectors))
    if n <= 0:
        return np.zeros(0, dtype=int)
    sq = (vectors * vectors).sum(axis=1)
    if len(centers):
        d = np.full(len(vectors), np.inf)
        for start in range(0, len(centers), 1024):
            c = centers[start:start + 1024]
            dist = sq[:, None] - 2.0 * vectors @ c.T + (c * c).sum(axis=1)[None, :]
            d = np.minimum(d, dist.min(axis=1))
    else:
        d = np.full(len(vectors), np.inf)
    picked = np.empty(n, dtype=int)
    for k in range(n):
        if np.isinf(d).all():
            u = int((rng or np.random.default_rng(0)).integers(len(vectors)))
        else:
            u = int(np.argmax(d))
        picked[k] = u
        dist = sq - 2.0 * vectors @ vectors[u] + sq[u]
        d = np.minimum(d, dist)
        d[u] = -np.inf  # never pick twice
    return picked


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), EPS)


class CoreSet(QueryStrategy):
    """Embedding diversity: the core-set approach (Sener & Savarese 2018) with greedy
    k-center selection on L2-normalized document vectors (``model.doc_vectors``, the
    mean of static word vectors), the labelled examples as initial centers.
    Model-free apart from the vectors; covers the pool instead of its uncertain part."""

    name = "coreset"
    needs_fit = False

    def order(self, pool, model, n):
        vecs = _unit(model.doc_vectors(pool.texts))
        labelled = list(model.train_texts) if model is not None else []
        centers = _unit(model.doc_vectors(labelled)) if labelled else np.zeros((0, vecs.shape[1]))
        return k_center_greedy(vecs, centers, n, self.rng)


class Hybrid(QueryStrategy):
    """Uncertainty among a diverse shortlist: greedy k-center (as :class:`CoreSet`)
    picks ``shortlist * n`` spread-out candidates, then the ``n`` of them with the
    smallest margin ``P(y1|x) - P(y2|x)`` are queried. With ``order="uncertainty"``
    the other way round: the ``shortlist * n`` smallest margins, thinned to ``n`` by
    k-center (as in cluster-margin, Citovsky et al. 2021). Batch-mode sampling that
    trades informativeness against redundancy (Settles 2009, sec. 6.1)."""

    name = "hybrid"

    def __init__(self, seed: int = 0, shortlist: float = 4.0, first: str = "diversity") -> None:
        super().__init__(seed)
        if shortlist < 1:
            raise ActiveLearningError("hybrid shortlist factor must be >= 1")
        if first not in ("diversity", "uncertainty"):
            raise ActiveLearningError("hybrid first= must be 'diversity' or 'uncertainty'")
        self.shortlist = shortlist
        self.first = first

    def order(self, pool, model, n):
        m = min(len(pool), max(n, int(round(self.shortlist * n))))
        proba = model.predict_proba(pool.texts)
        margins = margin(proba)
        vecs = _unit(model.doc_vectors(pool.texts))
        labelled = list(model.train_texts)
        centers = _unit(model.doc_vectors(labelled)) if labelled else np.zeros((0, vecs.shape[1]))
        if self.first == "diversity":
            short = k_center_greedy(vecs, centers, m, self.rng)
            sub = _rank(margins[short], -entropy(proba[short]), self.rng)
            return short[sub]
        short = _rank(margins, -entropy(proba), self.rng)[:m]
        return short[k_center_greedy(vecs[short], centers, n, self.rng)]

    def __repr__(self) -> str:
        return f"Hybrid(shortlist={self.shortlist}, first={self.first!r})"


STRATEGIES: dict[str, type] = {
    cls.name: cls
    for cls in (RandomSampling, LeastConfidence, Margin, Entropy, QueryByCommittee, CoreSet, Hybrid)
}


def make_strategy(spec: str, seed: int = 0) -> QueryStrategy:
    """A strategy from its name, with options after a colon:
    ``margin``, ``qbc:members=5``, ``hybrid:shortlist=3,first=uncertainty``."""
    name, _, opts = spec.partition(":")
    name = name.strip().replace("-", "_")
    if name not in STRATEGIES:
        raise ActiveLearningError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    kwargs: dict[str, Any] = {}
    for item in filter(None, (o.strip() for o in opts.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ActiveLearningError(f"strategy option {item!r} is not key=value")
        kwargs[key.strip()] = _parse_value(value.strip())
    try:
        return STRATEGIES[name](seed=seed, **kwargs)
    except TypeError as e:
        raise ActiveLearningError(f"bad options for strategy {name!r}: {e}") from e


def _parse_value(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


# --------------------------------------------------------------------------- stopping


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two label vectors: ``(p_o - p_e) / (1 - p_e)``."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0:
        return 1.0
    p_o = float(np.mean(a == b))
    labels = np.union1d(a, b)
    p_e = float(sum(np.mean(a == y) * np.mean(b == y) for y in labels))
    if p_e >= 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


@dataclass
class StabilizingPredictions:
    """Stop when predictions stabilize (Bloodgood & Vijay-Shanker 2009): after each
    round the new model labels a fixed, unlabelled *stop set*; the agreement between
    consecutive models is Cohen's kappa. Stop once the mean kappa of the last
    ``window`` pairs is at least ``threshold`` (the paper: 0.99 over 3 rounds).

    ``update(predictions)`` takes the predicted label indices on the stop set (the
    same examples, in the same order, each round) and returns whether to stop.
    """

    threshold: float = 0.99
    window: int = 3
    kappas: list[float] = field(default_factory=list)
    _previous: Optional[np.ndarray] = None

    def update(self, predictions: Sequence[int]) -> bool:
        current = np.asarray(predictions)
        if self._previous is not None:
            if len(current) != len(self._previous):
                raise ActiveLearningError("the stop set must stay the same between rounds")
            self.kappas.append(cohen_kappa(self._previous, current))
        self._previous = current
        return self.should_stop

    @property
    def should_stop(self) -> bool:
        return len(self.kappas) >= self.window and \
            float(np.mean(self.kappas[-self.window:])) >= self.threshold
