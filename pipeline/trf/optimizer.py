"""``tsunagu.AdamW.v1``: Adam with decoupled weight decay that spares biases and
normalization weights.

AdamW (Loshchilov & Hutter 2019) applies weight decay outside the adaptive step:
``w ← w − η (m̂ / (√v̂ + ε)) − η λ w``. Decay pulls every weight towards zero, which
is a useful prior for weight matrices (smaller, smoother functions) but not for:

- biases: they shift activations, do not scale inputs, are few, and their useful
  values are not near zero;
- LayerNorm gains (and biases): the gain's neutral value is 1, so decaying it
  towards 0 shrinks the normalized activations the whole network depends on.

BERT's (Devlin et al. 2019) and RoBERTa's fine-tuning recipes therefore exclude
``bias`` and ``LayerNorm.weight``; HF ``Trainer`` does the same. Thinc's optimizer
sees each parameter under a key ``(node id, name)``, with the torch parameter name
(``encoder.layer.0.attention.output.LayerNorm.weight``) for PyTorch-backed layers
and thinc's own names (``W``, ``b``, ``G``) for the rest; a parameter is exempt
when its name matches ``no_decay`` or it is one-dimensional (biases and
normalization gains are the only 1-D parameters in these models).

Pair it with a schedule for linear warm-up and decay, e.g.
``learn_rate = {"@schedules": "warmup_linear.v1", ...}``, and spaCy's
``[training] accumulate_gradient`` for effective batches larger than memory allows.
"""

from __future__ import annotations

from typing import Sequence, Union

from thinc.api import Optimizer
from thinc.config import registry

FloatOrSchedule = Union[float, list, object]


class DecoupledDecayAdam(Optimizer):
    """thinc's Adam with ``L2_is_weight_decay`` (AdamW), skipping exempt parameters."""

    __slots__ = ["no_decay"]

    def __init__(self, learn_rate: FloatOrSchedule, *, no_decay: Sequence[str], **kwargs):
        super().__init__(learn_rate, L2_is_weight_decay=True, **kwargs)
        self.no_decay = tuple(no_decay)

    def is_exempt(self, key, weights) -> bool:
        name = key[1] if isinstance(key, tuple) and len(key) > 1 else str(key)
        return getattr(weights, "ndim", 2) <= 1 or any(part in str(name) for part in self.no_decay)

    def __call__(self, key, weights, gradient, *, lr_scale: float = 1.0):
        if self.L2 == 0 or not self.is_exempt(key, weights):
            return super().__call__(key, weights, gradient, lr_scale=lr_scale)
        decay = self.L2
        self.L2 = 0.0
        try:
            return super().__call__(key, weights, gradient, lr_scale=lr_scale)
        finally:
            self.L2 = decay


@registry.optimizers("tsunagu.AdamW.v1")
def create_adamw(
    learn_rate: FloatOrSchedule = 5e-5,
    *,
    weight_decay: FloatOrSchedule = 0.01,
    beta1: FloatOrSchedule = 0.9,
    beta2: FloatOrSchedule = 0.999,
    eps: FloatOrSchedule = 1e-8,
    grad_clip: FloatOrSchedule = 1.0,
    no_decay: Sequence[str] = ("bias", "LayerNorm", "layer_norm", "norm"),
    use_averages: bool = False,
) -> Optimizer:
    return DecoupledDecayAdam(learn_rate, no_decay=no_decay, L2=weight_decay, beta1=beta1, beta2=beta2,
                              eps=eps, grad_clip=grad_clip, use_averages=use_averages)
