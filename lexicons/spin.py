"""The spin model of semantic orientation (Takamura, Inui & Okumura, ACL 2005).

Each word i is an electron with spin x_i in {-1, +1} (negative / positive); linked
words tend to share their orientation. The energy of a configuration is

    E(x, W) = -1/2 Σ_ij w_ij x_i x_j,

and the probability of x is the Boltzmann distribution exp(-β E(x, W)) / Z(β).
Its mean-field approximation gives the average spins x̄ as the fixed point of

    x̄_i = tanh(β Σ_j w_ij x̄_j),

found by iterating. Seed words with known orientation a_i are held to their label by
the penalty α Σ_{i∈L} (x_i - a_i)^2 added to βE; α → ∞ (the default) clamps them.
The sign of x̄_i is word i's orientation and |x̄_i| its confidence.

An external field h (one value per word) adds -Σ_i h_i x_i to the energy, and the
update becomes x̄_i = tanh(β (Σ_j w_ij x̄_j + h_i)): evidence about a word that does
not come through the network's links (``tsunagu.lexicons.field`` builds one from
word vectors). With h = 0 this is the paper's model.

β plays the role of an inverse temperature. Above a critical β the network
magnetizes: one orientation floods it and the mean spin m = (1/N) Σ x̄_i moves away
from zero. The paper predicts a good β as the largest one whose magnetization
stays near zero, just before this phase transition (``select_beta``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy


@dataclass
class SpinResult:
    spins: numpy.ndarray  # x̄, one per word
    beta: float
    iterations: int
    converged: bool

    @property
    def magnetization(self) -> float:
        return float(self.spins.mean())


def mean_field(weights, seeds: dict[int, float], beta: float, *, alpha: Optional[float] = None,
               damping: float = 0.5, tol: float = 1e-5, max_iter: int = 1000,
               init: Optional[numpy.ndarray] = None,
               field: Optional[numpy.ndarray] = None) -> SpinResult:
    """Iterate x̄ = tanh(β (W x̄ + h)) (damped, vectorized) to a fixed point.

    seeds: word index -> label (+1 / -1). alpha None clamps seeds; a number adds the
    field -2α(x̄_i - a_i) of the penalty α (x_i - a_i)^2 to seed i. field: the
    external field h, one value per word (default none).
    """
    n = weights.shape[0]
    idx = numpy.fromiter(seeds.keys(), dtype="int64", count=len(seeds))
    labels = numpy.fromiter(seeds.values(), dtype="float64", count=len(seeds))
    x = numpy.zeros(n) if init is None else init.astype("float64").copy()
    x[idx] = labels
    if field is not None and field.shape != (n,):
        raise ValueError(f"field has shape {field.shape}; the network has {n} words")
    for iteration in range(1, max_iter + 1):
        local = weights @ x
        if field is not None:
            local += field
        local *= beta
        if alpha is not None:
            local[idx] -= 2 * alpha * (x[idx] - labels)
        new = numpy.tanh(local)
        if alpha is None:
            new[idx] = labels
        new = damping * x + (1 - damping) * new
        delta = float(numpy.abs(new - x).max())
        x = new
        if delta < tol:
            return SpinResult(x, beta, iteration, True)
    return SpinResult(x, beta, max_iter, False)


def magnetization_curve(weights, seeds: dict[int, float], betas: Sequence[float], **kw):
    """Solve at each β (warm-started from the previous solution); returns the results."""
    results, previous = [], None
    for beta in betas:
        result = mean_field(weights, seeds, beta, init=previous, **kw)
        results.append(result)
        previous = result.spins
    return results


def select_beta(results: Sequence[SpinResult], threshold: float = 1e-4) -> SpinResult:
    """The result at the largest β whose |magnetization| stays under ``threshold``
    (the prediction of Takamura et al.: just before the phase transition)."""
    below = [r for r in results if abs(r.magnetization) < threshold]
    return max(below, key=lambda r: r.beta) if below else min(results, key=lambda r: r.beta)
