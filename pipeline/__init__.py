"""tsunagu (繋ぐ, "to chain"): classical and neural Japanese NLP as spaCy components.

``nlp = tsunagu.load()`` returns a ``spacy.Language`` built on GiNZA; later
components (embeddings, polarity, classifiers) join it through the same config.
"""

from .about import __version__
from .errors import (
    BatchStateError,
    ConfigError,
    CorpusError,
    LabelError,
    ModelNotFoundError,
    TsunaguError,
    UnknownComponentError,
)
from .extensions import register_extensions
from .loading import default_config_path, load

register_extensions()

__all__ = [
    "__version__",
    "load",
    "default_config_path",
    "register_extensions",
    "TsunaguError",
    "ConfigError",
    "CorpusError",
    "LabelError",
    "ModelNotFoundError",
    "UnknownComponentError",
    "BatchStateError",
]
