"""Every ``Doc``, ``Span`` and ``Token`` extension attribute tsunagu uses, in one place.

Components never call ``set_extension`` themselves; they add a line here. Each
attribute says whether batch processing exports it (``tsunagu apply`` writes every
exported attribute of the pipeline's output, so a new component's attributes reach
the JSONL output without touching the writer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from spacy.tokens import Doc, Span, Token


@dataclass(frozen=True)
class Extension:
    owner: type
    name: str
    doc: str
    default: Any = None
    getter: Optional[Callable] = None
    export: bool = True
    kwargs: dict = field(default_factory=dict)


def _reading(token: Token) -> Optional[str]:
    # spaCy's Japanese tokenizer stores Sudachi's reading in the morph features.
    values = token.morph.get("Reading")
    return values[0] if values else None


def _inflection(token: Token) -> Optional[str]:
    values = token.morph.get("Inflection")
    return values[0].replace(";", ",") if values else None


def _bunsetu_spans(doc: Doc) -> list[Span]:
    # GiNZA's bunsetu recognizer leaves its result in doc.user_data; without it
    # (a blank pipeline) there are no bunsetu, rather than an exception.
    if not doc.has_annotation("DEP") or "bunsetu_bi_labels" not in doc.user_data:
        return []
    import ginza

    return list(ginza.bunsetu_spans(doc))


def _span_polarity(span: Span):
    from tsunagu.components.polarity import span_polarity

    return span_polarity(span)


def _doc_polarity(doc: Doc):
    from tsunagu.components.polarity import doc_polarity

    return doc_polarity(doc)


def _span_polarity_label(span: Span):
    from tsunagu.components.polarity import span_label

    return span_label(span)


def _span_polarity_reasons(span: Span):
    from tsunagu.components.polarity import span_reasons

    return span_reasons(span)


def _doc_polarity_label(doc: Doc):
    from tsunagu.components.polarity import doc_label

    return doc_label(doc)


EXTENSIONS: tuple[Extension, ...] = (
    Extension(Doc, "id", "Stable id of the record the document came from."),
    Extension(Doc, "meta", "Metadata of the record the document came from (dict)."),
    Extension(Doc, "bunsetu", "GiNZA bunsetu (phrase) spans.", getter=_bunsetu_spans),
    Extension(Token, "reading", "Katakana reading from Sudachi.", getter=_reading),
    Extension(Token, "inflection", "Sudachi inflection type and form.", getter=_inflection),
    Extension(Token, "vector_key", "Key of the token in tsunagu word vectors (tsunagu_vectors)."),
    Extension(Token, "polarity", "Lexicon polarity in [-1, 1] after negation (tsunagu_polarity)."),
    Extension(Token, "negated", "Whether a negation flips the token (tsunagu_polarity).", default=False),
    Extension(Span, "polarity", "Weighted mean polarity of the span (tsunagu_polarity).",
              getter=_span_polarity),
    Extension(Doc, "polarity", "Mean polarity of the sentences (tsunagu_polarity).",
              getter=_doc_polarity),
    Extension(Token, "polarity_rules", "Rules that made the token's polarity evidence "
              "(tsunagu_polarity), e.g. ['change:減少-', 'profile:売上高+'].", export=False),
    Extension(Span, "polarity_label", "positive, negative or neutral: neutral below the "
              "component's neutral_threshold or without evidence (tsunagu_polarity).",
              getter=_span_polarity_label),
    Extension(Span, "polarity_reasons", "The evidence behind the span's polarity: token, value, "
              "weight and rules, strongest first (tsunagu_polarity).", getter=_span_polarity_reasons),
    Extension(Doc, "polarity_label", "positive, negative or neutral, from the sentence labels: "
              "neutral when no sentence is polar (tsunagu_polarity).", getter=_doc_polarity_label),
    Extension(Token, "surprisal", "-log2 p(token | preceding tokens) under the LSTM language "
              "model, in bits (tsunagu_language_model)."),
    Extension(Doc, "perplexity", "Perplexity of the document's tokens under the LSTM language "
              "model (tsunagu_language_model)."),
    Extension(Doc, "attention", "Attention weight of each token (list of floats) in the BiLSTM "
              "classifier's decision (tsunagu_textcat_lstm with pooling = attention); 0 for "
              "tokens past its max_length."),
)


def register_extensions() -> None:
    """Declare all extensions; safe to call any number of times."""
    for ext in EXTENSIONS:
        if ext.owner.has_extension(ext.name):
            continue
        if ext.getter is not None:
            ext.owner.set_extension(ext.name, getter=ext.getter, **ext.kwargs)
        else:
            ext.owner.set_extension(ext.name, default=ext.default, **ext.kwargs)


def exported(owner: type) -> list[str]:
    """Names of the extensions of ``owner`` that batch output includes."""
    return [e.name for e in EXTENSIONS if e.owner is owner and e.export]
