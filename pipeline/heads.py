"""Output layers for large output spaces, with one interface.

A head turns hidden vectors h (shape (B, H)) into a distribution over C classes
(words of a vocabulary, labels). Every head is built as ``Head(hidden_size,
n_classes, counts=None, **options)`` and offers

* ``loss(hidden, target)``: the training loss, a mean over the batch;
* ``log_prob(hidden)``: log p(c | h) for every class, shape (B, C), rows summing to
  one in probability (for evaluation: perplexity, accuracy); ``log_prob_of(hidden,
  target)``: the same for one class per example, shape (B,);
* ``predict_log_prob(hidden)``: ``log_prob`` for prediction (the hierarchical
  softmax computes it faster, without gradient);
* ``to_disk(path)`` / ``Head.from_disk(path)``.

With s_c(h) = w_c·h + b_c the class scores:

``FullSoftmax``
    p(c|h) = exp(s_c) / Σ_c' exp(s_c'). Exact; O(C·H) per example for loss and gradient.
``HierarchicalSoftmax`` (Morin & Bengio 2005; Mikolov et al. 2013, word2vec)
    Classes are the leaves of a binary tree with C-1 inner nodes n, each holding a
    vector v_n. With path(c) the inner nodes from the root to c and d_{c,j} ∈ {+1, -1}
    the branch taken at the j-th of them,
        p(c|h) = Π_j σ(d_{c,j} · (v_{n_j}·h + b_{n_j})),
    which sums to one over the leaves by construction. The Huffman tree built from
    class frequencies (as in word2vec) gives frequent classes short paths, so the
    expected cost is O(H · entropy) instead of O(H · C); ``tree="balanced"`` gives
    every class ⌈log2 C⌉ nodes.
``NegativeSampling`` (Mikolov et al. 2013)
    loss = -log σ(s_t) - Σ_{k=1..K} log σ(-s_{n_k}), n_k drawn from the unigram
    distribution raised to 3/4. Not a normalised model: at its optimum s_c = log p(c|h)
    - log(K q(c)) (Dyer 2014, "Notes on noise contrastive estimation and negative
    sampling"), so ``log_prob`` is log_softmax(s + log q), which recovers p(c|h).
``NCE`` (Gutmann & Hyvärinen 2010; Mnih & Teh 2012)
    Logistic regression between data and K noise samples from q, with the model's
    log-probability taken as s_c - log Z: Δ_c = s_c - log Z - log(K q(c)),
    loss = -log σ(Δ_t) - Σ_k log σ(-Δ_{n_k}). log Z is a learned scalar
    (``learn_log_z=True``) or fixed to 0 (Mnih & Teh's self-normalisation);
    ``log_prob`` normalises exactly.
``SampledSoftmax`` (Bengio & Senécal 2008; Jean et al. 2015)
    A softmax over the target and K classes sampled from q (shared by the batch), each
    logit corrected by -log(K q(c)) (the log-Q correction that makes the sampled
    softmax's gradient an importance-sampling estimate of the full one); sampled
    classes equal to the target are masked out.

The sampling heads draw K samples per example (``NegativeSampling``, ``NCE``) or per
batch (``SampledSoftmax``) with one ``torch.multinomial`` call; the hierarchical
softmax gathers padded path matrices. No head loops over examples in Python.
"""

from __future__ import annotations

import heapq
import json
import math
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .atomic import atomic_file
from .errors import HeadError, HeadLoadError

FORMAT = "tsunagu-head"


class Head(nn.Module):
    """Base class; see the module docstring for the interface."""

    kind = "head"

    def __init__(self, hidden_size: int, n_classes: int, counts: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        if not (isinstance(hidden_size, int) and hidden_size > 0):
            raise HeadError(f"hidden_size must be a positive integer, not {hidden_size!r}.")
        if not (isinstance(n_classes, int) and n_classes >= 2):
            raise HeadError(f"n_classes must be an integer >= 2, not {n_classes!r}.")
        self.hidden_size, self.n_classes = hidden_size, n_classes
        self.counts = None if counts is None else _check_counts(counts, n_classes)
        self.options: dict = {}

    def loss(self, hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict_log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        """log p(c | h) for every class, (B, C), for prediction: ``log_prob`` unless a
        head has a faster way."""
        return self.log_prob(hidden)

    def log_prob_of(self, hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(target | h), shape (B,): the normalised log-probability of one class
        per example (perplexity). Heads that can do better than ``log_prob`` and a
        gather override it."""
        self._check(hidden, target)
        return self.log_prob(hidden).gather(1, target.unsqueeze(1)).squeeze(1)

    def _check(self, hidden: torch.Tensor, target: Optional[torch.Tensor] = None) -> None:
        if hidden.dim() != 2 or hidden.shape[1] != self.hidden_size:
            raise HeadError(f"hidden must have shape (batch, {self.hidden_size}), not {tuple(hidden.shape)}.")
        if target is not None:
            if target.shape != hidden.shape[:1] or target.dtype not in (torch.int64, torch.int32):
                raise HeadError(f"target must be an integer tensor of shape ({hidden.shape[0]},), "
                                f"not {target.dtype} {tuple(target.shape)}.")
            if target.numel() and (int(target.min()) < 0 or int(target.max()) >= self.n_classes):
                raise HeadError(f"target classes must be in [0, {self.n_classes}); "
                                f"found {int(target.min())}..{int(target.max())}.")

    # -- serialisation ------------------------------------------------------
    def to_disk(self, path: Union[str, Path]) -> None:
        """Write config and weights to one file, atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {"format": FORMAT, "kind": self.kind, "hidden_size": self.hidden_size,
                  "n_classes": self.n_classes, "options": self.options,
                  "counts": None if self.counts is None else self.counts.tolist()}
        with atomic_file(path, "wb") as f:
            torch.save({"config": json.dumps(config), "state": self.state_dict()}, f)

    @staticmethod
    def from_disk(path: Union[str, Path]) -> "Head":
        """The head saved at ``path``, read with ``weights_only`` (no code runs)."""
        path = Path(path)
        if not path.is_file():
            raise HeadError(f"Head file not found: {path}")
        fix = "copy the file again, or re-train the head"
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            config = json.loads(saved["config"])
            if not isinstance(config, dict) or config.get("format") != FORMAT:
                raise ValueError("no tsunagu head format marker")
        except Exception as e:  # noqa: BLE001 - any failure here means "not a head file"
            raise HeadLoadError(f"{path} is not a tsunagu head file or is corrupt (truncated, damaged "
                                f"or of another kind: {type(e).__name__}); {fix}.") from None
        if config.get("kind") not in HEADS:
            raise HeadLoadError(f"{path}: unknown head kind {config.get('kind')!r}; {fix}.")
        try:
            head = make_head(config["kind"], config["hidden_size"], config["n_classes"],
                             counts=config["counts"], **config["options"])
            head.load_state_dict(saved["state"])
        except (KeyError, TypeError, RuntimeError, HeadError) as e:
            raise HeadLoadError(f"{path}: the weights do not fit the head's configuration ({e}); "
                                f"{fix}.") from None
        return head


class FullSoftmax(Head):
    """The exact softmax: the reference the other heads approximate."""

    kind = "full"

    def __init__(self, hidden_size: int, n_classes: int, counts=None) -> None:
        super().__init__(hidden_size, n_classes, counts)
        self.linear = nn.Linear(hidden_size, n_classes)

    def loss(self, hidden, target):
        self._check(hidden, target)
        return F.cross_entropy(self.linear(hidden), target)

    def log_prob(self, hidden):
        self._check(hidden)
        return F.log_softmax(self.linear(hidden), dim=-1)


class _ScoredHead(Head):
    """Heads with one output vector and bias per class, trained by sampling from a
    noise distribution q over classes (the class counts raised to ``power``)."""

    def __init__(self, hidden_size, n_classes, counts=None, *, n_samples: int = 5, power: float = 0.75,
                 sparse: bool = False) -> None:
        super().__init__(hidden_size, n_classes, counts)
        if not (isinstance(n_samples, int) and n_samples >= 1):
            raise HeadError(f"n_samples must be a positive integer, not {n_samples!r}.")
        self.n_samples, self.sparse = n_samples, sparse
        self.options = {"n_samples": n_samples, "power": power, "sparse": sparse}
        # Zero-initialised output vectors, as word2vec's syn1neg.
        self.weight = nn.Parameter(torch.zeros(n_classes, hidden_size))
        self.bias = nn.Parameter(torch.zeros(n_classes, 1))  # (C, 1): sparse gradients need a leaf, not a view
        base = torch.ones(n_classes) if self.counts is None else self.counts.clamp(min=0)
        noise = base.double() ** power
        if float(noise.sum()) <= 0:
            raise HeadError("class counts are all zero: no noise distribution to sample from.")
        self.register_buffer("noise", (noise / noise.sum()).float(), persistent=False)
        self.register_buffer("log_noise", self.noise.clamp(min=1e-30).log(), persistent=False)

    def sample(self, n: int) -> torch.Tensor:
        return torch.multinomial(self.noise, n, replacement=True)

    def scores_of(self, hidden: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """s_c(h) for ``classes`` of shape (B,) or (B, K): w_c·h + b_c."""
        w, b = _rows(self, classes)
        if classes.dim() == 1:
            return (w * hidden).sum(-1) + b
        return torch.bmm(w, hidden.unsqueeze(2)).squeeze(2) + b

    def all_scores(self, hidden):
        return hidden @ self.weight.T + self.bias.T

    def log_prob(self, hidden):
        self._check(hidden)
        return F.log_softmax(self.all_scores(hidden), dim=-1)


class NegativeSampling(_ScoredHead):
    kind = "negative"

    def loss(self, hidden, target):
        self._check(hidden, target)
        noise = self.sample(hidden.shape[0] * self.n_samples).view(hidden.shape[0], self.n_samples)
        positive = F.logsigmoid(self.scores_of(hidden, target))
        negative = F.logsigmoid(-self.scores_of(hidden, noise)).sum(-1)
        return -(positive + negative).mean()

    def log_prob(self, hidden):
        self._check(hidden)
        # s_c → log p(c|h) - log(K q(c)) at the optimum: add the noise back.
        return F.log_softmax(self.all_scores(hidden) + self.log_noise, dim=-1)


class NCE(_ScoredHead):
    kind = "nce"

    def __init__(self, hidden_size, n_classes, counts=None, *, n_samples: int = 20, power: float = 0.75,
                 learn_log_z: bool = True, sparse: bool = False) -> None:
        super().__init__(hidden_size, n_classes, counts, n_samples=n_samples, power=power, sparse=sparse)
        self.options["learn_log_z"] = learn_log_z
        self.log_z = nn.Parameter(torch.zeros(()), requires_grad=learn_log_z)

    def loss(self, hidden, target):
        self._check(hidden, target)
        b, k = hidden.shape[0], self.n_samples
        noise = self.sample(b * k).view(b, k)
        log_k = math.log(k)
        data = self.scores_of(hidden, target) - self.log_z - (log_k + self.log_noise[target])
        fake = self.scores_of(hidden, noise) - self.log_z - (log_k + self.log_noise[noise])
        return -(F.logsigmoid(data) + F.logsigmoid(-fake).sum(-1)).mean()


class SampledSoftmax(_ScoredHead):
    kind = "sampled"

    def __init__(self, hidden_size, n_classes, counts=None, *, n_samples: int = 512, power: float = 0.75,
                 sparse: bool = False) -> None:
        super().__init__(hidden_size, n_classes, counts, n_samples=n_samples, power=power, sparse=sparse)

    def loss(self, hidden, target):
        self._check(hidden, target)
        sampled = self.sample(self.n_samples)  # shared by the batch
        correction = math.log(self.n_samples) + self.log_noise
        true_logit = self.scores_of(hidden, target) - correction[target]
        w, b = _rows(self, sampled)
        sampled_logits = hidden @ w.T + b - correction[sampled]
        hits = sampled.unsqueeze(0) == target.unsqueeze(1)
        sampled_logits = sampled_logits.masked_fill(hits, float("-inf"))
        logits = torch.cat([true_logit.unsqueeze(1), sampled_logits], dim=1)
        return -F.log_softmax(logits, dim=1)[:, 0].mean()


class HierarchicalSoftmax(Head):
    kind = "hierarchical"

    def __init__(self, hidden_size, n_classes, counts=None, *, tree: str = "huffman",
                 sparse: bool = False, chunk: int = 4096) -> None:
        super().__init__(hidden_size, n_classes, counts)
        if tree not in ("huffman", "balanced"):
            raise HeadError(f"tree must be 'huffman' or 'balanced', not {tree!r}.")
        if tree == "huffman" and self.counts is None:
            raise HeadError("a Huffman tree needs class counts (counts=...); or use tree='balanced'.")
        self.sparse, self.chunk = sparse, chunk
        self.options = {"tree": tree, "sparse": sparse, "chunk": chunk}
        weights = self.counts.tolist() if tree == "huffman" else [1.0] * n_classes
        paths, signs = huffman_paths(weights) if tree == "huffman" else balanced_paths(n_classes)
        depth = max(len(p) for p in paths)
        # Padded (C, D) path matrices; padding points at an extra all-zero node whose
        # term is masked out.
        node = torch.full((n_classes, depth), n_classes - 1, dtype=torch.int64)
        sign = torch.zeros(n_classes, depth)
        for c, (p, s) in enumerate(zip(paths, signs)):
            node[c, :len(p)] = torch.tensor(p)
            sign[c, :len(s)] = torch.tensor(s, dtype=torch.float32)
        self.register_buffer("path_nodes", node, persistent=False)
        self.register_buffer("path_signs", sign, persistent=False)  # +1 / -1; 0 = padding
        self.weight = nn.Parameter(torch.zeros(n_classes, hidden_size))  # C-1 inner nodes + padding
        self.bias = nn.Parameter(torch.zeros(n_classes, 1))  # (C, 1): sparse gradients need a leaf, not a view

    def _log_prob_of(self, hidden: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        nodes, signs = self.path_nodes[classes], self.path_signs[classes]  # (B, D)
        w, b = _rows(self, nodes)  # (B, D, H), (B, D)
        scores = torch.bmm(w, hidden.unsqueeze(2)).squeeze(2) + b
        return (F.logsigmoid(signs * scores) * (signs != 0)).sum(-1)

    def loss(self, hidden, target):
        self._check(hidden, target)
        return -self._log_prob_of(hidden, target).mean()

    def log_prob_of(self, hidden, target):
        # Exact and O(depth · H) per example: the tree's whole point.
        self._check(hidden, target)
        return self._log_prob_of(hidden, target)

    def log_prob(self, hidden):
        self._check(hidden)
        node_scores = hidden @ self.weight.T + self.bias.T  # (B, C): every inner node once
        out = []
        for start in range(0, self.n_classes, self.chunk):
            nodes = self.path_nodes[start:start + self.chunk]  # (c, D)
            signs = self.path_signs[start:start + self.chunk]
            s = node_scores[:, nodes]  # (B, c, D)
            out.append((F.logsigmoid(signs * s) * (signs != 0)).sum(-1))
        return torch.cat(out, dim=1)

    def predict_log_prob(self, hidden):
        """log p(c | h) for every class, (B, C), without gradient (prediction).

        The tree is walked top-down, each node once:
        log p(root) = 0, log p(child) = log p(parent) + log σ(d · (v_parent·h + b_parent))
        with d = ±1 the branch; O(B·C) after the matrix product of all inner node
        scores. ``log_prob`` instead sums every class's whole path, O(B·C·depth):
        with 20,000 Zipf-distributed labels (Huffman depth up to ~30) prediction ran
        at ~120 documents/s against ~3,000 for a linear layer."""
        plan = self.__dict__.get("_levels")
        if plan is None:
            plan = self.__dict__["_levels"] = _tree_levels(self.path_nodes, self.path_signs)
        levels, leaf_parent, leaf_sign = plan
        with torch.no_grad():
            n_inner = self.n_classes - 1
            # Nodes along rows, (C-1, B): the gathers below copy whole rows (~1.5x faster
            # than gathering columns of (B, C-1)).
            scores = torch.addmm(self.bias[:n_inner], self.weight[:n_inner], hidden.T)
            log_node = scores.new_zeros(n_inner, hidden.shape[0])
            for child, parent, sign in levels:
                log_node[child] = log_node[parent] + F.logsigmoid(sign.unsqueeze(1) * scores[parent])
            leaves = log_node[leaf_parent] + F.logsigmoid(leaf_sign.unsqueeze(1) * scores[leaf_parent])
            return leaves.T


def _rows(head: Head, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The output vectors and biases of ``index`` (any shape): shapes (*, H) and (*),
    through ``F.embedding`` so that ``sparse=True`` gives sparse gradients."""
    w = F.embedding(index, head.weight, sparse=head.sparse)
    b = F.embedding(index, head.bias, sparse=head.sparse).squeeze(-1)
    return w, b


def huffman_paths(counts: Sequence[float]) -> tuple[list[list[int]], list[list[float]]]:
    """Root-to-leaf inner-node indices and branch signs of the Huffman tree of
    ``counts`` (word2vec's CreateBinaryTree): the two least frequent subtrees are
    merged first, so frequent classes get short codes. Inner nodes are numbered
    0..C-2 with the root last."""
    n = len(counts)
    heap = [(float(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent, branch = [0] * (2 * n - 1), [0.0] * (2 * n - 1)
    next_id = n
    while len(heap) > 1:
        c1, a = heapq.heappop(heap)
        c2, b = heapq.heappop(heap)
        parent[a], branch[a] = next_id, 1.0
        parent[b], branch[b] = next_id, -1.0
        heapq.heappush(heap, (c1 + c2, next_id))
        next_id += 1
    root = 2 * n - 2
    return _paths_from_parents(n, parent, branch, root)


def balanced_paths(n: int) -> tuple[list[list[int]], list[list[float]]]:
    """Paths of a balanced binary tree over n classes (depth ⌈log2 n⌉ or one less)."""
    parent, branch = [0] * (2 * n - 1), [0.0] * (2 * n - 1)
    level, next_id = list(range(n)), n
    while len(level) > 1:
        merged = []
        for k in range(0, len(level) - 1, 2):
            a, b = level[k], level[k + 1]
            parent[a], branch[a] = next_id, 1.0
            parent[b], branch[b] = next_id, -1.0
            merged.append(next_id)
            next_id += 1
        if len(level) % 2:
            merged.append(level[-1])
        level = merged
    return _paths_from_parents(n, parent, branch, 2 * n - 2)


def _paths_from_parents(n, parent, branch, root):
    paths, signs = [], []
    for leaf in range(n):
        p, s, node = [], [], leaf
        while node != root:
            p.append(parent[node] - n)
            s.append(branch[node])
            node = parent[node]
        paths.append(p[::-1])
        signs.append(s[::-1])
    return paths, signs


def _tree_levels(nodes: torch.Tensor, signs: torch.Tensor):
    """From padded root-to-leaf paths (C, D) and branch signs (0: padding): for each
    depth 1.. the inner nodes there with their parents and branch signs, and each
    leaf's parent and sign."""
    length = (signs != 0).sum(1)  # >= 1: every leaf hangs below the root
    rows = torch.arange(nodes.shape[0])
    leaf_parent, leaf_sign = nodes[rows, length - 1], signs[rows, length - 1]
    n_inner = nodes.shape[0] - 1
    parent = torch.full((n_inner,), -1, dtype=torch.int64)
    sign = torch.zeros(n_inner)
    depth = torch.zeros(n_inner, dtype=torch.int64)
    for j in range(1, nodes.shape[1]):
        on_path = length > j
        child = nodes[on_path, j]
        parent[child] = nodes[on_path, j - 1]
        sign[child] = signs[on_path, j - 1]
        depth[child] = j
    levels = []
    for j in range(1, int(depth.max()) + 1 if n_inner else 1):
        child = (depth == j).nonzero().squeeze(1)
        if child.numel():
            levels.append((child, parent[child], sign[child]))
    return levels, leaf_parent, leaf_sign


def _check_counts(counts, n_classes: int) -> torch.Tensor:
    t = torch.as_tensor(counts, dtype=torch.float64).flatten()
    if t.numel() != n_classes:
        raise HeadError(f"counts has {t.numel()} entries for {n_classes} classes.")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise HeadError("counts must be finite and non-negative.")
    return t


HEADS = {cls.kind: cls for cls in (FullSoftmax, HierarchicalSoftmax, NegativeSampling, NCE, SampledSoftmax)}


def make_head(kind: str, hidden_size: int, n_classes: int, counts=None, **options) -> Head:
    """Build a head by name: full, hierarchical, negative, nce, sampled."""
    if kind not in HEADS:
        raise HeadError(f"Unknown head {kind!r}; choose one of {', '.join(HEADS)}.")
    try:
        return HEADS[kind](hidden_size, n_classes, counts, **options)
    except TypeError as e:
        raise HeadError(f"Bad options for the {kind} head: {e}") from None
