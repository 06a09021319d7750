"""Transformers for Japanese, offline: a WordPiece vocabulary over Sudachi words,
masked-language-model pre-training of a small BERT on the user's corpus, and the
spaCy side (a checked ``TransformerModel`` architecture, an AdamW optimizer that
spares biases and LayerNorm weights from decay, similarity from the transformer).

Everything here needs the ``transformers`` extra (``pip install tsunagu[transformers]``);
the modules import it lazily so that the rest of tsunagu works without it.
"""

from ..errors import TransformersMissingError

__all__ = ["TransformersMissingError", "require_transformers"]


def require_transformers() -> None:
    """Fail early, with the fix, when the optional dependencies are missing."""
    missing = []
    for module in ("transformers", "spacy_transformers", "tokenizers"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise TransformersMissingError(
            f"{', '.join(missing)} not installed: tsunagu's transformer support needs "
            "`pip install 'tsunagu[transformers]'`.")
