"""tsunagu (繋ぐ, "to chain"): classical and neural Japanese NLP as spaCy components.

``nlp = tsunagu.load()`` returns a ``spacy.Language`` built on GiNZA; later
components (embeddings, polarity, classifiers) join it through the same config.
"""

from .about import __version__
from .errors import (
    ActiveLearningError,
    BatchStateError,
    ConfigError,
    CorpusError,
    EmbeddingsError,
    HeadError,
    HeadLoadError,
    InputChangedError,
    LabelError,
    LanguageModelError,
    LexiconError,
    ModelLoadError,
    ModelNotFoundError,
    OutputExistsError,
    PathConflictError,
    SequenceTooLongError,
    TransformersMissingError,
    TsunaguError,
    UnknownComponentError,
    UnknownExample,
    UnsafeFileError,
)
from .extensions import register_extensions
from .loading import default_config_path, load

register_extensions()

__all__ = [
    "__version__",
    "load",
    "default_config_path",
    "register_extensions",
    # every exception class of tsunagu (defined in tsunagu.errors)
    "TsunaguError",
    "ModelNotFoundError",
    "ConfigError",
    "UnknownComponentError",
    "CorpusError",
    "LabelError",
    "BatchStateError",
    "ModelLoadError",
    "SequenceTooLongError",
    "PathConflictError",
    "OutputExistsError",
    "InputChangedError",
    "UnsafeFileError",
    "EmbeddingsError",
    "HeadError",
    "HeadLoadError",
    "LanguageModelError",
    "LexiconError",
    "ActiveLearningError",
    "UnknownExample",
    "TransformersMissingError",
]
