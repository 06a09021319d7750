"""``tsunagu.TextCatBiLSTM.v1``: a BiLSTM document classifier as a thinc model.

    docs --(vector rows)--> PyTorchWrapper(BiLSTMClassifier) --> probabilities (B, C)

The thinc side turns each ``Doc`` into the rows of its tokens in the pipeline's
vectors table (``doc.vocab.vectors.find``: a hash lookup, no embedding is computed
outside the network), sorts the batch by length and pads it; the PyTorch side
embeds the rows with a copy of the table taken at initialization (frozen or
fine-tuned), runs a BiLSTM over packed sequences (no work on padding), pools
(max, mean or additive attention) and scores the labels. The output is
probabilities: softmax over the labels when classes are exclusive, a sigmoid per
label otherwise; with ``ensemble_size = N`` the mean of N members' probabilities.

Gradient convention: like thinc's ``Softmax`` and ``Logistic`` layers (and so
spaCy's ``textcat``), the backward pass takes ``dY = P - Y``, the gradient of the
cross-entropy with respect to the pre-activation scores. Ensemble members are
trained independently on their own cross-entropy: member i receives
``P_i - Y = dY + (P_i - P)`` on the entries where ``dY`` is non-zero (entries
masked as missing keep a zero gradient).

A document without tokens is read as a single padding token (a zero vector), so it
gets the network's prediction for "no evidence" instead of an error from torch.

Heads for large label sets (``head = "hierarchical"``, ``"negative"``, ``"nce"``,
``"sampled"`` or ``"full"``; exclusive classes only): the linear output layer is
replaced by a head of ``tsunagu.heads`` over the pooled vector h. The output stays
the probabilities ``exp(head.log_prob(h))`` (B, C), so prediction, scoring and
``doc.cats`` work as before; training no longer goes through ``dY = P - Y``, which
needs all C probabilities of every document (O(C·H) per document forward and
backward, whatever the head). Instead the model takes ``(docs, gold class
indices)`` and returns each member's loss ``head.loss(h, target)`` (a mean over the
documents; shape (N,)); its backward pass takes ``d_loss`` per member and runs
torch's backward from there. The ``tsunagu_textcat_lstm`` component feeds
``d_loss = B`` (the number of documents), i.e. the gradient of the loss summed over
documents, the same scale as ``P - Y`` per document: for the "full" head the
gradient with respect to the scores is exactly ``P - Y``. Sampling and hierarchical
heads get sparse gradients by default (``head_options.sparse``), and the wrapper's
shim updates only the touched output rows (``sparse_rows.py``): a dense Adam step
over a (C, H) matrix would cost more than the head saves.

Bag of words (``bow = true``), as spaCy's ``TextCatEnsemble`` adds its linear
``TextCatBOW`` to a neural model: every member's logits get the scores of a linear
model over the document's hashed n-grams (``bow_ngrams`` = 1: unigrams, 2: and
bigrams), an ``nn.EmbeddingBag(bow_buckets, C, mode="sum")``, before the softmax or
sigmoid. Its features are the same token attribute the embedding lookup uses
(``attr``, e.g. NORM), over ALL the document's tokens: also those past
``max_length`` and those without a vector (an out-of-vocabulary word, which the
LSTM sees as the one shared OOV row, keeps its own feature here). Hashing
(``bow_features``): unigram ``mix(key ^ S1)``, bigram ``mix(mix(a ^ S1) * K ^
mix(b ^ S1))`` (an ordered pair), with ``mix`` the splitmix64 finalizer, modulo
``bow_buckets``; vectorised over the batch in numpy. One table per member: each
member stays a whole model trained on its own cross-entropy (``P_i - Y``). The
table has sparse gradients, and the same ``SparseRowsShim`` as the heads updates
only the rows of the batch's features with the optimizer's Adam. Not combined
with a head (a ``ConfigError``). ``bow = false`` (the default) adds nothing: the
same weights, outputs and saved bytes as before.

Without a head the model is usable in spaCy's own ``textcat`` / ``textcat_multilabel`` too; the
``tsunagu_textcat_lstm`` component adds ``doc._.attention``, int8 inference and
clear errors. This module is named by a ``spacy_architectures`` entry point, so it
imports torch only inside functions.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy
from spacy import registry
from spacy.attrs import IDS as ATTR_IDS
from spacy.tokens import Doc
from thinc.api import Model

from tsunagu.errors import ConfigError

ARCHITECTURE = "tsunagu.TextCatBiLSTM.v1"
POOLINGS = ("max", "mean", "attention")
KEY_ATTRS = ("ORTH", "NORM", "LOWER", "LEMMA")


@registry.architectures(ARCHITECTURE)
def build_bilstm_textcat(
    exclusive_classes: Optional[bool] = None,
    hidden_width: int = 128,
    depth: int = 1,
    dropout: float = 0.2,
    pooling: str = "attention",
    freeze_embeddings: bool = False,
    attr: str = "NORM",
    max_length: int = 0,
    ensemble_size: int = 1,
    seed: int = 0,
    nO: Optional[int] = None,
    head: Optional[str] = None,
    head_options: Optional[Dict[str, Any]] = None,
    bow: bool = False,
    bow_buckets: int = 2 ** 18,
    bow_ngrams: int = 2,
    polarity_features: bool = False,
    polarity_lexicons: Optional[List[str]] = None,
    polarity_profiles: Optional[List[str]] = None,
) -> Model[List[Doc], Any]:
    """Build the classifier.

    exclusive_classes: one label per document (softmax) or any number (sigmoids);
        null: the ``tsunagu_textcat_lstm`` component sets it from its own setting.
    hidden_width: LSTM units per direction (the pooled vector is twice as wide).
    depth: stacked BiLSTM layers (dropout between layers when depth > 1).
    dropout: on the embeddings, between LSTM layers and on the pooled vector.
    pooling: "max", "mean" or "attention" (additive attention; its weights become
        ``doc._.attention``).
    freeze_embeddings: keep the pipeline's vectors fixed (one shared table), or
        fine-tune them (one table per ensemble member, saved with the model).
    attr: token attribute looked up in the vectors table: "NORM" for ja_ginza's
        vectors, "LEMMA" for vectors from ``tsunagu embed train --key lemma``.
    max_length: read at most this many tokens of a document (0: all).
    ensemble_size: members trained from different seeds; probabilities averaged.
    seed: seed of the first member's initial weights (member i: seed + 1000 i).
    nO: number of labels; set by the component from its labels when null.
    head: null (a linear layer; training by ``P - Y`` over all labels) or the output
        head for very many exclusive labels: "hierarchical" (Huffman tree over the
        label frequencies; O(H log C) per document), "negative" (negative sampling),
        "nce", "sampled" (sampled softmax) or "full" (the exact softmax as a head).
        See ``tsunagu.heads`` for the maths.
    head_options: the head's settings, e.g. ``{"n_samples": 5}`` (negative, nce,
        sampled), ``{"power": 0.75}`` (noise distribution: label counts ** power),
        ``{"tree": "balanced"}`` (hierarchical), ``{"learn_log_z": false}`` (nce).
        ``sparse`` (sparse gradients and row-wise updates) is true by default for
        every head but "full".
    bow: add a linear bag-of-words model's scores to each member's logits (like
        spaCy's TextCatEnsemble): hashed n-grams of ``attr`` over all the tokens.
    bow_buckets: rows of the hashed feature table (n-grams are hashed modulo it).
    bow_ngrams: 1 (unigrams) or 2 (unigrams and bigrams).
    polarity_features: also put the compositional polarity scorer's output in the
        bag of words (``tsunagu.polarity.features``: each piece of evidence's sign,
        lemma and rules, and the composed score's bin); needs bow = true and parsed
        documents.
    polarity_lexicons / polarity_profiles: the scorer's lexicons (default
        ``["tsunagu:ja"]``) and domain profiles (default ``["business"]``).
    """
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}.")
    if attr.upper() not in KEY_ATTRS:
        raise ConfigError(f"attr must be one of {', '.join(KEY_ATTRS)}, not {attr!r}.")
    for name, value, low in (("hidden_width", hidden_width, 1), ("depth", depth, 1),
                             ("ensemble_size", ensemble_size, 1), ("max_length", max_length, 0)):
        if not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, not {value!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), not {dropout!r}.")
    if not isinstance(bow, bool):
        raise ConfigError(f"bow must be true or false, not {bow!r}.")
    if not isinstance(bow_buckets, int) or isinstance(bow_buckets, bool) or bow_buckets < 1:
        raise ConfigError(f"bow_buckets must be an integer >= 1, not {bow_buckets!r}.")
    if bow_ngrams not in (1, 2) or isinstance(bow_ngrams, bool):
        raise ConfigError(f"bow_ngrams must be 1 (unigrams) or 2 (unigrams and bigrams), "
                          f"not {bow_ngrams!r}.")
    if polarity_features and not bow:
        raise ConfigError("polarity_features = true puts the scorer's features in the bag of "
                          "words: set bow = true as well.")
    if bow and head is not None:
        raise ConfigError(f"bow = true and head = {head!r} cannot be combined: the bag-of-words "
                          "scores are added to the logits of the linear output layer. Set "
                          "head = null (tens of labels) or bow = false (very many labels).")
    if head is None:
        if head_options:
            raise ConfigError(f"head_options {dict(head_options)} are set but head is null; "
                              "name a head (e.g. head = \"hierarchical\") or drop the options.")
    else:
        if exclusive_classes is False:
            raise ConfigError(no_multilabel_head(head))
        head_options = check_head(head, head_options)

    from thinc.api import PyTorchWrapper_v3

    from tsunagu.polarity.features import make_features

    features = make_features(polarity_features, polarity_lexicons or ["tsunagu:ja"],
                             ["business"] if polarity_profiles is None else polarity_profiles)
    from .bilstm import BiLSTMClassifier, deserialize, serialize

    module = BiLSTMClassifier(hidden_width=hidden_width, depth=depth, dropout=dropout,
                              pooling=pooling, ensemble_size=ensemble_size,
                              freeze_embeddings=freeze_embeddings, seed=seed,
                              head=head, head_options=head_options,
                              bow=bow, bow_buckets=bow_buckets, bow_ngrams=bow_ngrams)
    network = PyTorchWrapper_v3(module, convert_inputs=_convert_inputs,
                                convert_outputs=_convert_outputs,
                                serialize_model=serialize, deserialize_model=deserialize)
    if head is not None or bow:
        from .sparse_rows import SparseRowsShim

        # The same shim with row-wise updates of the head's (or the bag of words')
        # sparse gradients.
        network.shims[0] = SparseRowsShim(module, serialize_model=serialize,
                                          deserialize_model=deserialize)
    network.attrs["exclusive_classes"] = exclusive_classes
    return Model(
        "tsunagu_textcat_bilstm",
        # max_length is bound here, not kept in attrs: attrs are saved with the
        # weights and would override a max_length given in the config at load time.
        functools.partial(_forward, max_length=max_length, features=features),
        init=_init,
        layers=[network],
        dims={"nO": nO},
        attrs={
            "exclusive_classes": exclusive_classes,
            "pooling": pooling,
            "attr": attr.upper(),
            "ensemble_size": ensemble_size,
            # Which vectors the network was initialised from; checked on every
            # batch, because the rows it learned mean nothing in another table.
            "vectors": None,
        },
    )


def check_head(head: str, options: Optional[Dict[str, Any]]) -> dict:
    """The head's options, completed with its defaults (``sparse`` true for every head
    but "full"); ``ConfigError`` naming the problem for an unknown head or option."""
    from tsunagu.heads import HEADS, HeadError, make_head

    if head not in HEADS:
        raise ConfigError(f"Unknown head {head!r} for the BiLSTM classifier; choose one of "
                          f"{', '.join(HEADS)}, or null for the plain linear output layer.")
    options = dict(options or {})
    if head != "full":
        options.setdefault("sparse", True)
    try:
        # A tiny head of the same kind validates the options and fills in the defaults.
        probe = make_head(head, 2, 2, counts=[1.0, 1.0], **options)
    except HeadError as e:
        raise ConfigError(f"head = {head!r}, head_options = {options}: {e}") from None
    return dict(probe.options)


def no_multilabel_head(head: str) -> str:
    return (f"head = {head!r} needs exclusive classes: the heads are softmax-type models "
            "of one label per document, p(label | doc) summing to one over the labels. For "
            "multi-label classification (exclusive_classes = false) set head = null.")


def model_head(model: Model) -> Optional[str]:
    """The head of a ``tsunagu.TextCatBiLSTM.v1`` model, or None (a linear layer, or
    another architecture)."""
    module = torch_module(model)
    return None if module is None else module.head


def set_label_counts(model: Model, counts) -> None:
    """Give a ``tsunagu.TextCatBiLSTM.v1`` model with a head the training examples per
    label (n_labels,), before ``model.initialize``: its Huffman tree or noise
    distribution is built from them."""
    module = torch_module(model)
    if module is not None:
        module.label_counts = None if counts is None else numpy.asarray(counts, dtype="float64")


def torch_module(model: Model):
    """The ``BiLSTMClassifier`` inside a model built by this architecture, or None."""
    for node in model.walk():
        if node.name == "tsunagu_textcat_bilstm":
            return node.layers[0].shims[0]._model
    return None


def last_attention(model: Model) -> Optional[List[numpy.ndarray]]:
    """Per-document attention weights (one float per token read; ``max_length``
    bounds them) of the latest prediction, in the order of its input; None unless
    pooling is "attention"."""
    module = torch_module(model)
    return None if module is None else getattr(module, "doc_attention", None)


def vectors_fingerprint(vectors) -> dict:
    """Name, shape, number of keys and a checksum of 64 sampled rows of a vectors table."""
    rows, width = (int(n) for n in vectors.shape)
    sample = b""
    if rows and width:
        index = numpy.linspace(0, rows - 1, num=min(rows, 64)).astype("int64")
        sample = numpy.ascontiguousarray(numpy.asarray(vectors.data[index], dtype="float32")).tobytes()
    return {"name": vectors.name or "", "shape": [rows, width], "keys": len(vectors.key2row),
            "checksum": zlib.crc32(sample)}


def describe_vectors(fingerprint: dict) -> str:
    rows, width = fingerprint["shape"]
    return f"'{fingerprint['name'] or 'unnamed'}' ({rows} x {width}, {fingerprint['keys']} keys)"


def check_vectors(model: Model, vectors, where: str = "") -> None:
    """Raise ``ConfigError`` if ``vectors`` is not the table the model was initialised from."""
    expected = model.attrs.get("vectors")
    if expected is None:
        return
    found = vectors_fingerprint(vectors)
    # Names are not compared: the same table loaded another way may be unnamed.
    if any(found[k] != expected[k] for k in ("shape", "keys", "checksum")):
        raise ConfigError(
            f"{where}The BiLSTM classifier was trained with the vectors {describe_vectors(expected)}, "
            f"but this pipeline's vectors are {describe_vectors(found)}. Its embedding rows only "
            "make sense with the table it was trained on: load the pipeline with its own vocab "
            "(spacy.load of the trained directory), or retrain the classifier with these vectors."
        )


def _init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    if not X:
        raise ConfigError("The BiLSTM classifier initializes from sample documents (their vocab "
                          "holds the vectors); none were given.")
    vectors = X[0].vocab.vectors
    if vectors.mode == "floret":
        raise ConfigError("The BiLSTM classifier needs a table of word vectors; floret vectors "
                          "are not supported.")
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ConfigError(
            "The pipeline has no word vectors for the BiLSTM classifier's embedding layer. Add them "
            "before training: in a training config, [initialize] vectors = \"ja_ginza\" (or a "
            "pipeline directory), or [initialize.before_init] @callbacks = "
            "\"tsunagu.vectors_from_embeddings.v1\" with vectors from `tsunagu embed train`."
        )
    if model.attrs["exclusive_classes"] is None:
        raise ConfigError("Set exclusive_classes (true or false) in the BiLSTM classifier's "
                          "model config.")
    module = torch_module(model)
    if module.head is not None and not model.attrs["exclusive_classes"]:
        raise ConfigError(no_multilabel_head(module.head))
    if Y is not None:
        model.set_dim("nO", int(Y.shape[1]), force=True)
    if not model.has_dim("nO"):
        raise ConfigError("The BiLSTM classifier needs its number of labels (nO) to initialize.")
    n_labels = model.get_dim("nO")
    data = numpy.asarray(model.ops.to_numpy(vectors.data), dtype="float32")
    if module.head is None:
        module.build(vectors.shape[0], vectors.shape[1], n_labels, vectors=data)
    else:
        counts = getattr(module, "label_counts", None)
        if counts is not None and len(counts) != n_labels:
            raise ConfigError(f"The BiLSTM classifier got {len(counts)} label counts for "
                              f"{n_labels} labels.")
        module.build(vectors.shape[0], vectors.shape[1], n_labels, vectors=data, counts=counts)
    model.attrs["vectors"] = vectors_fingerprint(vectors)


@dataclass
class _Batch:
    """The network's input: vector rows per document, sorted longest first."""

    rows: List[numpy.ndarray]  # per document, in input order
    lengths: numpy.ndarray  # (B,) tokens read per document (>= 1)
    order: numpy.ndarray  # (B,) input index of the i-th longest document
    inverse: numpy.ndarray  # (B,) position of input document k in the sorted batch
    empty: numpy.ndarray  # (B,) bool: the document had no tokens (one padding row)
    targets: Optional[numpy.ndarray] = None  # (B,) gold class per document, in input order
    # bow = true: every token's key (attr) per document, in input order, not cut at max_length
    keys: Optional[List[numpy.ndarray]] = None
    # polarity_features = true: the feature keys per document, in input order (unigrams only)
    extra_keys: Optional[List[numpy.ndarray]] = None


def _forward(model: Model, X, is_train: bool, max_length: int = 0, features=None):
    """``docs`` -> probabilities (B, C); with a head also ``(docs, targets)`` ->
    the members' losses (N,), whose backward pass takes ``d_loss`` (N,)."""
    module = torch_module(model)
    if not module.built:
        raise ConfigError("The BiLSTM classifier is not initialized: call nlp.initialize() "
                          "(spacy train does) or load a trained pipeline.")
    docs, targets = X if isinstance(X, tuple) else (X, None)
    if targets is not None:
        if module.head is None:
            raise ConfigError("Only a BiLSTM classifier with a head (model.head) is trained from "
                              "gold class indices; without one it is trained through P - Y.")
        targets = numpy.asarray(targets, dtype="int64")
        if targets.shape != (len(docs),):
            raise ConfigError(f"{len(docs)} documents need {len(docs)} gold class indices, "
                              f"not an array of shape {targets.shape}.")
        if not docs:
            return model.ops.alloc1f(module.ensemble_size), lambda d_loss: []
    if not docs:
        return model.ops.alloc2f(0, model.get_dim("nO")), lambda dY: []
    check_vectors(model, docs[0].vocab.vectors)
    attr_id = ATTR_IDS[model.attrs["attr"]]
    rows, empty = [], []
    all_keys = [] if module.bow else None
    for doc in docs:
        keys = doc.to_array(attr_id)  # (len(doc),) uint64
        if all_keys is not None:
            all_keys.append(keys)
        if max_length:
            keys = keys[:max_length]
        empty.append(len(keys) == 0)
        if len(keys) == 0:
            rows.append(numpy.array([module.pad_row], dtype="int64"))
            continue
        found = numpy.asarray(doc.vocab.vectors.find(keys=keys), dtype="int64")
        found[found < 0] = module.oov_row
        rows.append(found)
    lengths = numpy.array([len(r) for r in rows], dtype="int64")
    # Longest first, as pack_padded_sequence wants; stable, so ties keep their order.
    order = numpy.argsort(-lengths, kind="stable")
    inverse = numpy.empty_like(order)
    inverse[order] = numpy.arange(len(order))
    batch = _Batch(rows, lengths, order, inverse, numpy.array(empty, dtype=bool), targets,
                   all_keys, [features.keys(doc) for doc in docs] if features is not None else None)
    Y, backprop_network = model.layers[0](batch, is_train)

    def backprop(dY):
        backprop_network(dY)
        return []

    return Y, backprop


def _convert_inputs(model: Model, batch: _Batch, is_train: bool):
    import torch
    from thinc.api import ArgsKwargs

    module = model.shims[0]._model
    width = int(batch.lengths.max()) if len(batch.lengths) else 1
    ids = numpy.full((len(batch.rows), width), module.pad_row, dtype="int64")
    for i, k in enumerate(batch.order):
        ids[i, :batch.lengths[k]] = batch.rows[k]
    lengths = torch.from_numpy(batch.lengths[batch.order].copy())
    args = (torch.from_numpy(ids), lengths)
    if batch.targets is not None:
        args += (torch.from_numpy(batch.targets[batch.order]),)
    kwargs = {}
    if batch.keys is not None:
        features, offsets = bow_features([batch.keys[k] for k in batch.order],
                                         module.bow_buckets, module.bow_ngrams)
        if batch.extra_keys is not None:
            extra, extra_offsets = bow_features([batch.extra_keys[k] for k in batch.order],
                                                module.bow_buckets, 1)
            features, offsets = merge_bags(features, offsets, extra, extra_offsets)
        kwargs["bow"] = (torch.from_numpy(features), torch.from_numpy(offsets))
    return ArgsKwargs(args=args, kwargs=kwargs), lambda d_inputs: []


# splitmix64's finalizer (Steele et al. 2014) and two fixed 64-bit constants.
_MIX1 = numpy.uint64(0xBF58476D1CE4E5B9)
_MIX2 = numpy.uint64(0x94D049BB133111EB)
_UNIGRAM_SALT = numpy.uint64(0x9E3779B97F4A7C15)
_BIGRAM_MULT = numpy.uint64(0xD6E8FEB86659FD93)


def _mix64(x: numpy.ndarray) -> numpy.ndarray:
    """splitmix64's finalizer on uint64 (arithmetic modulo 2^64)."""
    with numpy.errstate(over="ignore"):
        x = (x ^ (x >> numpy.uint64(30))) * _MIX1
        x = (x ^ (x >> numpy.uint64(27))) * _MIX2
        return x ^ (x >> numpy.uint64(31))


def bow_features(keys: List[numpy.ndarray], buckets: int, ngrams: int = 2):
    """Hashed n-gram features of documents given as their tokens' keys (uint64 attr
    hashes): ``(features, offsets)`` for ``nn.EmbeddingBag``. Document d's features
    are its unigrams ``mix(key ^ S)``, then (ngrams = 2) the bigrams of its
    consecutive tokens ``mix(u_t * K ^ u_{t+1})`` (u: the unigram hashes; ordered,
    never across documents), each modulo ``buckets``; ``offsets[d]`` is where they
    start in ``features``. A document without tokens has no features. Vectorised:
    no Python loop over tokens or documents."""
    lengths = numpy.fromiter((len(k) for k in keys), dtype="int64", count=len(keys))
    n_bigrams = numpy.maximum(lengths - 1, 0) if ngrams == 2 else numpy.zeros_like(lengths)
    counts = lengths + n_bigrams
    offsets = numpy.zeros(len(keys), dtype="int64")
    numpy.cumsum(counts[:-1], out=offsets[1:])
    total = int(lengths.sum())
    features = numpy.empty(int(counts.sum()), dtype="int64")
    if total == 0:
        return features, offsets
    flat = numpy.concatenate(keys).astype("uint64", copy=False)
    unigrams = _mix64(flat ^ _UNIGRAM_SALT)
    m = numpy.uint64(buckets)
    starts = numpy.cumsum(lengths) - lengths  # first token of each document in `flat`
    doc_of = numpy.repeat(numpy.arange(len(keys)), lengths)
    position = numpy.arange(total) - starts[doc_of]  # index of the token in its document
    features[offsets[doc_of] + position] = (unigrams % m).astype("int64")
    if ngrams == 2 and total > 1:
        with numpy.errstate(over="ignore"):
            bigrams = _mix64((unigrams[:-1] * _BIGRAM_MULT) ^ unigrams[1:])
        # Pair (t, t + 1) of `flat` is a bigram when t is not its document's last token.
        first = numpy.flatnonzero(position[:-1] + 1 < lengths[doc_of[:-1]])
        d = doc_of[first]
        features[offsets[d] + lengths[d] + position[first]] = (bigrams[first] % m).astype("int64")
    return features, offsets


def merge_bags(a: numpy.ndarray, a_offsets: numpy.ndarray, b: numpy.ndarray,
               b_offsets: numpy.ndarray):
    """Two bags per document (``nn.EmbeddingBag``'s features and offsets) as one:
    document d's features are its features in ``a`` followed by those in ``b``."""
    n = len(a_offsets)
    a_counts = numpy.diff(numpy.append(a_offsets, len(a)))
    b_counts = numpy.diff(numpy.append(b_offsets, len(b)))
    offsets = numpy.zeros(n, dtype="int64")
    numpy.cumsum((a_counts + b_counts)[:-1], out=offsets[1:])
    merged = numpy.empty(len(a) + len(b), dtype="int64")
    doc_a = numpy.repeat(numpy.arange(n), a_counts)
    doc_b = numpy.repeat(numpy.arange(n), b_counts)
    merged[offsets[doc_a] + numpy.arange(len(a)) - a_offsets[doc_a]] = a
    merged[offsets[doc_b] + a_counts[doc_b] + numpy.arange(len(b)) - b_offsets[doc_b]] = b
    return merged, offsets


def _convert_outputs(model: Model, inputs_outputs, is_train: bool):
    import torch
    from thinc.api import ArgsKwargs, torch2xp, xp2torch

    batch, (logits, attention) = inputs_outputs
    module = model.shims[0]._model
    if batch.targets is not None:
        return _convert_losses(model, logits)
    exclusive = model.attrs["exclusive_classes"]
    with torch.no_grad():
        if module.head is not None:
            probs = logits.exp()  # the head's log p(c | doc), normalised over the labels
        else:
            # (N, B, C)
            probs = torch.softmax(logits, dim=-1) if exclusive else torch.sigmoid(logits)
        mean = probs.mean(dim=0)
    Y = model.ops.asarray2f(torch2xp(mean)[batch.inverse])
    if not is_train:
        module.doc_attention = None
        if attention is not None:
            weights = torch2xp(attention)
            module.doc_attention = [
                numpy.zeros((0,), dtype="float32") if batch.empty[k]
                else weights[batch.inverse[k], :batch.lengths[k]].copy()
                for k in range(len(batch.rows))
            ]

    def backprop(dY):
        if module.head is not None:
            raise ConfigError(
                f"The BiLSTM classifier with head = {module.head!r} is trained on the head's own "
                "loss, not through dY = P - Y: train it with the tsunagu_textcat_lstm component "
                "(its update passes the gold labels), not with spaCy's textcat.")
        dY_sorted = numpy.asarray(dY, dtype="float32")[batch.order]
        grad = numpy.broadcast_to(dY_sorted, probs.shape).copy()
        if probs.shape[0] > 1:
            grad += (probs.numpy() - mean.numpy()[None]) * (dY_sorted != 0)[None]
        return ArgsKwargs(args=(logits,), kwargs={"grad_tensors": (xp2torch(grad),)})

    return Y, backprop


def _convert_losses(model: Model, losses):
    """The members' losses (N,) as an array, and a backward pass from ``d_loss`` (N,)."""
    from thinc.api import ArgsKwargs, torch2xp, xp2torch

    Y = model.ops.asarray1f(torch2xp(losses.detach()))

    def backprop(d_loss):
        d = xp2torch(model.ops.asarray1f(d_loss).copy(), device=losses.device)
        return ArgsKwargs(args=(losses,), kwargs={"grad_tensors": (d,)})

    return Y, backprop
