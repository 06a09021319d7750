"""A processed ``Doc`` as a JSON-ready dict: what ``tsunagu apply`` writes per line."""

from __future__ import annotations

import math
from typing import Any, Optional

from spacy.tokens import Doc, Span, Token

from .extensions import exported


def doc_to_dict(doc: Doc, record_id: Optional[str] = None, labels=(), meta=None) -> dict[str, Any]:
    """Tokens (text, lemma, norm, POS, tag, reading, inflection, dependency), entities,
    sentences, bunsetu, categories, and every exported extension attribute."""
    has_dep = doc.has_annotation("DEP")
    token_ext = exported(Token)
    tokens = []
    for t in doc:
        item: dict[str, Any] = {
            "i": t.i,
            "text": t.text,
            "idx": t.idx,
            "ws": bool(t.whitespace_),
            "lemma": t.lemma_,
            "norm": t.norm_,
            "pos": t.pos_,
            "tag": t.tag_,
        }
        if has_dep:
            item["dep"] = t.dep_
            item["head"] = t.head.i
        for name in token_ext:
            item[name] = _jsonable(getattr(t._, name))
        tokens.append(item)
    out: dict[str, Any] = {"id": record_id, "text": doc.text}
    if labels:
        out["labels"] = list(labels)
    if meta:
        out["meta"] = _jsonable(meta)
    out["tokens"] = tokens
    out["ents"] = [_span(e, label=e.label_) for e in doc.ents]
    if doc.has_annotation("SENT_START"):
        span_ext = exported(Span)
        out["sents"] = [
            {**_span(s), **{n: _jsonable(getattr(s._, n)) for n in span_ext}} for s in doc.sents
        ]
    if doc.cats:
        out["cats"] = {k: float(v) for k, v in doc.cats.items()}
    for name in exported(Doc):
        if name in ("id", "meta"):
            continue
        value = getattr(doc._, name)
        if value is not None and value != []:
            out[name] = _jsonable(value)
    return out


def _span(span: Span, **extra: Any) -> dict[str, Any]:
    return {"start": span.start, "end": span.end, "start_char": span.start_char,
            "end_char": span.end_char, "text": span.text, **extra}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Span):
        return [value.start, value.end]
    if isinstance(value, Token):
        return value.i
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return str(value)
