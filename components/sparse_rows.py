"""Row-sparse updates of a PyTorch module's parameters with thinc's optimizer.

A large-output head (``tsunagu.heads`` with ``sparse=True``) touches, per batch, only
the output rows of the classes it scored: the target and K noise classes, or the
inner nodes on the targets' tree paths. Its weight matrix (C, H) gets a sparse
gradient (``F.embedding(..., sparse=True)``), but thinc's ``PyTorchShim`` hands every
gradient to the optimizer as a dense array, and a dense Adam step reads and writes
the whole (C, H) matrix and both moment tables: with C = 100,000 and H = 256 that is
~0.25 s per step on one core, several times the cost of the head itself.

``SparseRowsShim`` updates such parameters lazily: only the rows in the gradient,
with thinc's own Adam kernel (``ops.adam``) and the optimizer's hyper-parameters
and moment tables, as TensorFlow's ``LazyAdamOptimizer`` and torch's ``SparseAdam``
do. For a touched row r with gradient g_r at the optimizer's t-th update of the
parameter:

    m_r <- b1 m_r + (1 - b1) g_r,    v_r <- b2 v_r + (1 - b2) g_r^2,
    w_r <- w_r - lr sqrt(1 - b2^t) / (1 - b1^t) · m_r / (sqrt(v_r) + eps),

in thinc's order: L2 (as a gradient term, or afterwards as weight decay of the
touched rows), gradient clipping by the norm of the (sparse) gradient, which is the
norm of the dense one. Untouched rows keep their weights and moments, where dense
Adam would still move them with their decaying momentum: the usual lazy-Adam
approximation. Parameter averages (``use_averages``) are not kept for these rows:
``PyTorchShim.use_params`` never reads thinc's averages (their keys are tuples), so
they would only cost time. Every other parameter, and every optimizer that is not
Adam (RAdam, plain SGD), goes through thinc's dense path unchanged.

Used only for models with a head or a bag of words (``bow = true``, an
``nn.EmbeddingBag`` with sparse gradients): the shim of the plain classifier is
thinc's own.
"""

from __future__ import annotations

import torch
from thinc.api import torch2xp, xp2torch
from thinc.backends import get_array_ops
from thinc.shims import PyTorchShim


class SparseRowsShim(PyTorchShim):
    """``PyTorchShim`` whose ``finish_update`` applies lazy Adam to parameters with
    sparse gradients (the same optimizer keys and state as the dense path), and
    passes 0-d parameters (NCE's learned log Z) to the optimizer as shape (1,):
    thinc's optimizer takes ``len()`` of every gradient."""

    def finish_update(self, optimizer) -> None:
        for name, param in self._model.named_parameters():
            grad = param.grad
            if grad is None:
                continue
            key = (self.id, name)
            if grad.is_sparse:
                if lazy_adam_update(optimizer, key, param):
                    param.grad = None  # done; the dense path skips it
                else:
                    param.grad = grad.to_dense()  # not Adam: thinc's own rule, densely
            elif param.dim() == 0:
                w, _ = optimizer(key, torch2xp(param.data).reshape(1).copy(),
                                 torch2xp(grad).reshape(1).copy())
                param.data.copy_(xp2torch(w).reshape(()))
                param.grad = None
        super().finish_update(optimizer)


def lazy_adam_update(optimizer, key, param: torch.nn.Parameter) -> bool:
    """Update the rows of ``param`` present in its sparse gradient, in place; False
    (and nothing done) when ``optimizer`` is not thinc's Adam."""
    if getattr(optimizer, "use_radam", False) or not (optimizer.b1 > 0.0 and optimizer.b2 > 0.0):
        return False
    grad = param.grad.coalesce()  # sums the duplicate rows of one batch
    rows = grad.indices()[0]
    if rows.numel() == 0:
        return True
    n_rows = param.shape[0]
    width = param.numel() // n_rows
    weights = param.data.view(n_rows, width)
    w = weights.index_select(0, rows).contiguous()  # (R, width) copies
    g = grad.values().reshape(-1, width).contiguous().clone()
    w_xp, g_xp, rows_xp = torch2xp(w), torch2xp(g), torch2xp(rows)
    ops = get_array_ops(w_xp)
    optimizer.nr_update[key] += 1
    t = optimizer.nr_update[key]
    if optimizer.L2 != 0 and not optimizer.L2_is_weight_decay:
        g_xp += optimizer.L2 * w_xp
    if optimizer.grad_clip:
        g_xp = ops.clip_gradient(g_xp, optimizer.grad_clip)
    # Moment tables as thinc keeps them (1-d, the parameter's size), so that a
    # later dense step on the same key would find them.
    if key not in optimizer.mom1:
        optimizer.mom1[key] = ops.alloc1f(param.numel())
    if key not in optimizer.mom2:
        optimizer.mom2[key] = ops.alloc1f(param.numel())
    mom1 = optimizer.mom1[key].reshape(n_rows, width)
    mom2 = optimizer.mom2[key].reshape(n_rows, width)
    m1, m2 = mom1[rows_xp], mom2[rows_xp]  # (R, width) copies
    b1, b2 = optimizer.b1, optimizer.b2
    lr = optimizer.learn_rate * (1.0 - b2 ** t) ** 0.5 / (1.0 - b1 ** t)
    size = m1.size
    w1, _, m1, m2 = ops.adam(w_xp.reshape(size), g_xp.reshape(size), m1.reshape(size),
                             m2.reshape(size), b1, b2, optimizer.eps, lr)
    w1 = w1.reshape(-1, width)
    if optimizer.L2 != 0 and optimizer.L2_is_weight_decay:
        w1 -= optimizer.learn_rate * optimizer.L2 * w1
    mom1[rows_xp] = m1.reshape(-1, width)
    mom2[rows_xp] = m2.reshape(-1, width)
    weights.index_copy_(0, rows, xp2torch(w1, device=param.device))
    return True
