"""The PyTorch half of ``tsunagu.TextCatBiLSTM.v1``: a bidirectional LSTM document
classifier over pretrained word vectors, optionally an ensemble of seeds.

This module imports torch at module level; only ``architectures.py`` imports it,
and only when a model is built (entry-point modules must stay light).

Shapes, for a batch of B documents of at most T tokens, E-dimensional vectors,
hidden width H, C labels and N ensemble members:

    ids       (B, T) int64   rows of the embedding table, padded with ``pad_row``;
                             the batch is sorted by length, longest first
    lengths   (B,)   int64   tokens per document (>= 1), on the CPU
    logits    (N, B, C)      one score vector per member and document; with a head,
                             log p(c | doc) per member (``head.predict_log_prob``), or with
                             gold classes ``target`` (B,) the members' losses (N,)
    attention (B, T) float   attention weights averaged over the members (zeros on
                             padding), or ``None`` unless pooling is "attention"

Rows of the embedding table: ``0 .. n_vectors - 1`` are the pipeline's vectors,
``n_vectors`` is the row of words without a vector (zeros; learned when the
embeddings are fine-tuned) and ``n_vectors + 1`` is padding (always zeros).

Output layer: a ``nn.Linear`` to C scores (the default), or a large-output head of
``tsunagu.heads`` (``head = "hierarchical"``, ``"negative"``, ...) over the same
pooled vector, trained on its own loss from the gold class indices.

Bag of words (``bow = True``): each member also has an ``nn.EmbeddingBag(buckets,
C, mode="sum")``, a linear model over the document's hashed unigrams and bigrams
(all its tokens, hashed on the thinc side), whose scores are added to the member's
logits, as spaCy's ``TextCatEnsemble`` adds a ``TextCatBOW`` to its neural model.
Inputs ``bow = (features, offsets)``: the bucket of every feature (F,) int64, the
documents' features one after the other in the batch's (sorted) order, and where
each document's start (B,) int64. The table starts at zero (the model starts as the
BiLSTM alone) and has sparse gradients (``sparse_rows.py`` updates the touched rows).
"""

from __future__ import annotations

import copy
import warnings
from typing import Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

POOLINGS = ("max", "mean", "attention")
# Head options that define the model's p(label | doc), not only how it is trained.
HEAD_MEANING = ("tree", "power")
# Settings of the bag-of-words branch, saved (and compared on loading) only when it is on.
BOW_SETTINGS = ("bow", "bow_buckets", "bow_ngrams")


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
    -> linear. E (B, T, E) -> logits (B, C), attention weights (B, T) or None.

    With a ``head`` the last step is the head instead of the linear layer: the output
    is ``head.predict_log_prob(h)`` (B, C), or with ``target`` (B,) the scalar
    ``head.loss(h, target)`` (a mean over the batch)."""

    def __init__(self, width: int, hidden_width: int, depth: int, dropout: float,
                 pooling: str, n_labels: int, head: Optional[str] = None,
                 head_options: Optional[dict] = None, counts=None) -> None:
        super().__init__()
        self.pooling = pooling
        self.head = head
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(width, hidden_width, num_layers=depth, batch_first=True,
                            bidirectional=True, dropout=dropout if depth > 1 else 0.0)
        out_width = 2 * hidden_width
        self.attention = AdditiveAttention(out_width, out_width) if pooling == "attention" else None
        if head is None:
            self.output = nn.Linear(out_width, n_labels)
        else:
            from tsunagu.heads import make_head

            self.output = make_head(head, out_width, n_labels, counts=counts,
                                    **(head_options or {}))

    def forward(self, E: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor,
                target: Optional[torch.Tensor] = None):
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
        hidden = self.dropout(pooled)
        if self.head is None:
            return self.output(hidden), weights
        if target is not None:
            return self.output.loss(hidden, target), weights
        return self.output.predict_log_prob(hidden), weights


class BiLSTMClassifier(nn.Module):
    """N ``BiLSTMMember``s over one embedding table (frozen: shared) or one each
    (fine-tuned). Built in two steps: the constructor takes the hyper-parameters;
    ``build`` (called when the thinc model is initialized or deserialized) creates
    the layers once the vectors table and the labels are known.

    With ``quantize = True`` inference (``eval()`` mode) runs an int8 copy made by
    ``torch.ao.quantization.quantize_dynamic`` (LSTM and Linear layers); training
    always uses the float weights, and the copy is remade after any change.

    ``head`` (None: a linear layer) names a ``tsunagu.heads`` head; the class counts
    that Huffman trees and noise distributions are built from are given to
    ``build`` and saved with the weights.
    """

    def __init__(self, *, hidden_width: int, depth: int, dropout: float, pooling: str,
                 ensemble_size: int, freeze_embeddings: bool, seed: int,
                 head: Optional[str] = None, head_options: Optional[dict] = None,
                 bow: bool = False, bow_buckets: int = 2 ** 18, bow_ngrams: int = 2) -> None:
        super().__init__()
        self.hidden_width = hidden_width
        self.depth = depth
        self.dropout = dropout
        self.pooling = pooling
        self.ensemble_size = ensemble_size
        self.freeze_embeddings = freeze_embeddings
        self.seed = seed
        self.head = head
        self.head_options = dict(head_options or {})
        self.bow = bool(bow)
        self.bow_buckets = int(bow_buckets)
        self.bow_ngrams = int(bow_ngrams)
        # Training examples per label for a head, set before ``build`` (architectures.py).
        self.label_counts = None
        self.dims: Optional[dict] = None
        self.embeddings = nn.ModuleList()
        self.members = nn.ModuleList()
        # One bag-of-words table per member when bow is on. Otherwise no module at all:
        # even an empty ModuleList would show in the state dict's metadata (saved bytes).
        self.bows = nn.ModuleList() if self.bow else None
        self.quantize = False
        # Per-document attention of the latest prediction (set by the thinc side).
        self.doc_attention = None
        # A plain dict, not an attribute: nn.Module would register the int8 copy
        # as a submodule and save it with the weights.
        self._cache: dict = {}

    def settings(self) -> dict:
        """The hyper-parameters that decide the shapes (and, for a head, the meaning)
        of the weights."""
        settings = {"hidden_width": self.hidden_width, "depth": self.depth,
                    "pooling": self.pooling, "ensemble_size": self.ensemble_size,
                    "freeze_embeddings": self.freeze_embeddings}
        if self.head is not None:
            # Only with a head: the files of models without one stay as they were.
            settings.update(head=self.head, head_options=self.head_options)
        if self.bow:
            # Likewise only when on.
            settings.update(bow=True, bow_buckets=self.bow_buckets, bow_ngrams=self.bow_ngrams)
        return settings

    @property
    def built(self) -> bool:
        return self.dims is not None

    def build(self, n_vectors: int, width: int, n_labels: int, vectors=None, counts=None) -> None:
        """Create the layers. ``vectors`` (n_vectors, width), if given, initialises
        the embedding table; otherwise weights are expected from ``load_state_dict``.
        ``counts`` (n_labels,): training examples per label, for a head (None: all
        equal, i.e. a balanced Huffman tree and uniform noise)."""
        self.dims = {"n_vectors": int(n_vectors), "width": int(width), "n_labels": int(n_labels)}
        if self.head is not None:
            counts = torch.ones(n_labels, dtype=torch.float64) if counts is None else \
                torch.as_tensor(counts, dtype=torch.float64).clone()
            self.dims["counts"] = counts  # saved: the tree and the noise are functions of them
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
                                            self.pooling, n_labels, head=self.head,
                                            head_options=self.head_options, counts=counts))
        self.members = nn.ModuleList(members)
        # Zeros: no random numbers drawn (the members' weights are those of bow = false),
        # and the sum starts as the BiLSTM's own logits.
        if self.bow:
            self.bows = nn.ModuleList(
                nn.EmbeddingBag(self.bow_buckets, n_labels, mode="sum", sparse=True,
                                _weight=torch.zeros(self.bow_buckets, n_labels))
                for _ in range(self.ensemble_size)
            )
        self._cache.clear()

    @property
    def pad_row(self) -> int:
        return self.dims["n_vectors"] + 1

    @property
    def oov_row(self) -> int:
        return self.dims["n_vectors"]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                target: Optional[torch.Tensor] = None, bow=None):
        """(logits (N, B, C), attention); with a head, log-probabilities instead of
        logits, or with ``target`` (B,) the members' losses (N,). ``bow``: the hashed
        features and offsets of the documents when bow is on (each member's bag
        scores are added to its logits)."""
        if self.bow and bow is None:
            raise ValueError("This BiLSTM classifier has a bag-of-words branch (bow = true): "
                             "pass the documents' hashed features, bow = (features, offsets).")
        if self.training:
            self._cache.clear()  # the weights are about to change
        elif self.quantize:
            return self.int8_copy()(ids, lengths, target, bow)
        mask = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        logits, attention = [], []
        for i, member in enumerate(self.members):
            E = self.embeddings[i if len(self.embeddings) > 1 else 0](ids)
            y, w = member(E, lengths, mask, target)
            if self.bow:
                y = y + self.bows[i](bow[0], bow[1])
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


_DAMAGED = ("The saved weights of a tsunagu BiLSTM text classifier (tsunagu.TextCatBiLSTM.v1, the file "
            "`model` in its component's folder of the pipeline directory) {why}. Copy the pipeline "
            "directory again, or re-train the classifier.")


def deserialize(module: BiLSTMClassifier, data: bytes, device) -> BiLSTMClassifier:
    """Weights written by ``serialize``, read with ``weights_only`` (tensors and plain
    values only: no code runs). Truncated or damaged bytes raise ``ModelLoadError``."""
    import io

    from tsunagu.errors import ModelLoadError
    from tsunagu.language_model import describe_load_failure

    try:
        msg = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated, garbled or refused: all unusable
        raise ModelLoadError(_DAMAGED.format(
            why=f"are truncated or corrupt ({len(data)} bytes; {describe_load_failure(e)})")) from None
    if not isinstance(msg, dict) or msg.get("format") != "tsunagu-bilstm-1":
        raise ModelLoadError(_DAMAGED.format(why="are not the weights of a tsunagu BiLSTM classifier"))
    saved, ours = msg.get("settings") or {}, module.settings()
    different = [f"{k} = {saved[k]!r} (saved) vs {ours[k]!r} (config)" for k in ours
                 if k in saved and saved[k] != ours[k]
                 and k not in ("head", "head_options", *BOW_SETTINGS)]
    # The bag of words, too, is saved only when on: absent means off.
    for k, off in zip(BOW_SETTINGS, (False, None, None)):
        a, b = saved.get(k, off), ours.get(k, off)
        if a != b:
            different.append(f"{k} = {a!r} (saved) vs {b!r} (config)")
    # A head is saved only when there is one: absent means none, on either side. Of
    # its options only those that change p(label | doc) must agree (the tree; the
    # noise power, which NegativeSampling.log_prob adds back); the number of
    # samples, sparse gradients and the like may change between trainings.
    if saved.get("head") != ours.get("head"):
        different.append(f"head = {saved.get('head')!r} (saved) vs {ours.get('head')!r} (config)")
    else:
        for k in HEAD_MEANING:
            a, b = (s.get("head_options", {}).get(k) for s in (saved, ours))
            if a != b:
                different.append(f"head_options.{k} = {a!r} (saved) vs {b!r} (config)")
    if different:
        from tsunagu.errors import ConfigError

        raise ConfigError(
            "The saved BiLSTM classifier was trained with other model settings: "
            + "; ".join(different) + ". Load the whole pipeline directory (spacy.load) so that "
            "its config.cfg is used, or give the component the same model settings.")
    if msg.get("dims") is not None:
        try:
            module.build(**msg["dims"])
            module.load_state_dict(msg["state"])
        except (KeyError, TypeError, RuntimeError, ValueError) as e:
            raise ModelLoadError(_DAMAGED.format(
                why=f"do not fit the saved shapes ({type(e).__name__}: {e})")) from None
    module.to(device)
    return module
