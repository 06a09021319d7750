"""The PyTorch half of ``tsunagu.TextCatBiLSTM.v1``: a bidirectional LSTM document
classifier over pretrained word vectors, optionally an ensemble of seeds.

This module imports torch at module level; only ``architectures.py`` imports it,
and only when a model is built (entry-point modules must stay light).

Shapes, for a batch of B documents of at most T tokens, E-dimensional vectors,
hidden width H, C labels and N ensemble members:

    ids       (B, T) int64   rows of the embedding table, padded with ``pad_row``;
                             the batch is sorted by length, longest first
    lengths   (B,)   int64   tokens per document (>= 1), on the CPU
    logits    (N, B, C)      one score vector per member and document
    attention (B, T) float   attention weights averaged over the members (zeros on
                             padding), or ``None`` unless pooling is "attention"

Rows of the embedding table: ``0 .. n_vectors - 1`` are the pipeline's vectors,
``n_vectors`` is the row of words without a vector (zeros; learned when the
embeddings are fine-tuned) and ``n_vectors + 1`` is padding (always zeros).
"""

from __future__ import annotations

import copy
import warnings
from typing import Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

POOLINGS = ("max", "mean", "attention")


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau et al. 2015) attention with a learned query, as used for
    document classification: ``e_t = v^T tanh(W h_t + b)``, ``a = softmax(e)`` over
    the document's tokens, output ``sum_t a_t h_t``.

    H (B, T, D), mask (B, T) bool -> pooled (B, D), weights (B, T)
    """

    def __init__(self, width: int, attention_width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, attention_width)
        self.query = nn.Linear(attention_width, 1, bias=False)

    def forward(self, H: torch.Tensor, mask: torch.Tensor):
        scores = self.query(torch.tanh(self.proj(H))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), H).squeeze(1), weights


class BiLSTMMember(nn.Module):
    """One classifier: dropout -> BiLSTM over packed sequences -> pooling -> dropout
    -> linear. E (B, T, E) -> logits (B, C), attention weights (B, T) or None."""

    def __init__(self, width: int, hidden_width: int, depth: int, dropout: float,
                 pooling: str, n_labels: int) -> None:
        super().__init__()
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(width, hidden_width, num_layers=depth, batch_first=True,
                            bidirectional=True, dropout=dropout if depth > 1 else 0.0)
        out_width = 2 * hidden_width
        self.attention = AdditiveAttention(out_width, out_width) if pooling == "attention" else None
        self.output = nn.Linear(out_width, n_labels)

    def forward(self, E: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor):
        packed = pack_padded_sequence(self.dropout(E), lengths, batch_first=True,
                                      enforce_sorted=True)
        out, _ = self.lstm(packed)
        H, _ = pad_packed_sequence(out, batch_first=True, total_length=E.shape[1])
        weights = None
        if self.pooling == "max":
            pooled = H.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        elif self.pooling == "mean":
            pooled = H.sum(dim=1) / lengths.to(H.dtype).unsqueeze(-1)  # padding rows are 0
        else:
            pooled, weights = self.attention(H, mask)
        return self.output(self.dropout(pooled)), weights


class BiLSTMClassifier(nn.Module):
    """N ``BiLSTMMember``s over one embedding table (frozen: shared) or one each
    (fine-tuned). Built in two steps: the constructor takes the hyper-parameters;
    ``build`` (called when the thinc model is initialized or deserialized) creates
    the layers once the vectors table and the labels are known.

    With ``quantize = True`` inference (``eval()`` mode) runs an int8 copy made by
    ``torch.ao.quantization.quantize_dynamic`` (LSTM and Linear layers); training
    always uses the float weights, and the copy is remade after any change.
    """

    def __init__(self, *, hidden_width: int, depth: int, dropout: float, pooling: str,
                 ensemble_size: int, freeze_embeddings: bool, seed: int) -> None:
        super().__init__()
        self.hidden_width = hidden_width
        self.depth = depth
        self.dropout = dropout
        self.pooling = pooling
        self.ensemble_size = ensemble_size
        self.freeze_embeddings = freeze_embeddings
        self.seed = seed
        self.dims: Optional[dict] = None
        self.embeddings = nn.ModuleList()
        self.members = nn.ModuleList()
        self.quantize = False
        # Per-document attention of the latest prediction (set by the thinc side).
        self.doc_attention = None
        # A plain dict, not an attribute: nn.Module would register the int8 copy
        # as a submodule and save it with the weights.
        self._cache: dict = {}

    def settings(self) -> dict:
        """The hyper-parameters that decide the shapes of the weights."""
        return {"hidden_width": self.hidden_width, "depth": self.depth, "pooling": self.pooling,
                "ensemble_size": self.ensemble_size, "freeze_embeddings": self.freeze_embeddings}

    @property
    def built(self) -> bool:
        return self.dims is not None

    def build(self, n_vectors: int, width: int, n_labels: int, vectors=None) -> None:
        """Create the layers. ``vectors`` (n_vectors, width), if given, initialises
        the embedding table; otherwise weights are expected from ``load_state_dict``."""
        self.dims = {"n_vectors": int(n_vectors), "width": int(width), "n_labels": int(n_labels)}
        table = torch.zeros(n_vectors + 2, width)
        if vectors is not None:
            table[:n_vectors] = torch.as_tensor(vectors, dtype=torch.float32)
        n_tables = 1 if self.freeze_embeddings else self.ensemble_size
        self.embeddings = nn.ModuleList(
            nn.Embedding.from_pretrained(table.clone(), freeze=self.freeze_embeddings,
                                         padding_idx=n_vectors + 1)
            for _ in range(n_tables)
        )
        members = []
        for i in range(self.ensemble_size):
            # Each member starts from its own seed: an honest seed ensemble.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed + 1000 * i)
                members.append(BiLSTMMember(width, self.hidden_width, self.depth, self.dropout,
                                            self.pooling, n_labels))
        self.members = nn.ModuleList(members)
        self._cache.clear()

    @property
    def pad_row(self) -> int:
        return self.dims["n_vectors"] + 1

    @property
    def oov_row(self) -> int:
        return self.dims["n_vectors"]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor):
        if self.training:
            self._cache.clear()  # the weights are about to change
        elif self.quantize:
            return self.int8_copy()(ids, lengths)
        mask = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        logits, attention = [], []
        for i, member in enumerate(self.members):
            E = self.embeddings[i if len(self.embeddings) > 1 else 0](ids)
            y, w = member(E, lengths, mask)
            logits.append(y)
            if w is not None:
                attention.append(w)
        mean_attention = torch.stack(attention).mean(dim=0) if attention else None
        return torch.stack(logits), mean_attention

    def int8_copy(self) -> "BiLSTMClassifier":
        """The dynamically quantized (int8 LSTM and Linear) copy used for inference."""
        if "int8" not in self._cache:
            clone = copy.deepcopy(self)
            clone.quantize = False
            clone.doc_attention = None
            clone.eval()
            with warnings.catch_warnings():
                # torch.ao.quantization announces its move to torchao; it still works.
                warnings.simplefilter("ignore")
                self._cache["int8"] = torch.ao.quantization.quantize_dynamic(
                    clone, {nn.LSTM, nn.Linear}, dtype=torch.qint8)
        return self._cache["int8"]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._cache.clear()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def serialize(module: BiLSTMClassifier) -> bytes:
    """Weights and the shapes ``build`` needs, so that a pipeline whose classifier
    was never initialized can load them."""
    import io

    buffer = io.BytesIO()
    torch.save({"format": "tsunagu-bilstm-1", "dims": module.dims, "settings": module.settings(),
                "state": module.state_dict() if module.built else {}}, buffer)
    return buffer.getvalue()


def deserialize(module: BiLSTMClassifier, data: bytes, device) -> BiLSTMClassifier:
    import io

    msg = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    if not isinstance(msg, dict) or msg.get("format") != "tsunagu-bilstm-1":
        raise ValueError("not the weights of a tsunagu BiLSTM classifier")
    saved, ours = msg.get("settings") or {}, module.settings()
    different = [f"{k} = {saved[k]!r} (saved) vs {ours[k]!r} (config)" for k in ours
                 if k in saved and saved[k] != ours[k]]
    if different:
        from tsunagu.errors import ConfigError

        raise ConfigError(
            "The saved BiLSTM classifier was trained with other model settings: "
            + "; ".join(different) + ". Load the whole pipeline directory (spacy.load) so that "
            "its config.cfg is used, or give the component the same model settings.")
    if msg["dims"] is not None:
        module.build(**msg["dims"])
        module.load_state_dict(msg["state"])
    module.to(device)
    return module
