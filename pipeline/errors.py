"""Exceptions raised by tsunagu.

Every error names the problem and, where there is one, the fix. They subclass the
built-in exception a caller would already catch (``ValueError`` for bad values,
``OSError`` for missing files and packages) so that generic handlers keep working.
"""


class TsunaguError(Exception):
    """Base class of every error raised by tsunagu."""


class ModelNotFoundError(TsunaguError, OSError):
    """A model package or pipeline directory the configuration needs is missing."""


class ConfigError(TsunaguError, ValueError):
    """A pipeline configuration, or an override of one, is invalid."""


class UnknownComponentError(ConfigError):
    """A component name is not in the pipeline, or no factory of that name exists."""


class CorpusError(TsunaguError, ValueError):
    """A corpus cannot be read: missing path, unknown format, or a bad record in strict mode."""


class LabelError(TsunaguError, ValueError):
    """Labelled data does not fit a classifier: a label it was not trained on, or
    not exactly one positive label per document where classes are exclusive."""


class BatchStateError(TsunaguError, RuntimeError):
    """A batch run cannot resume: its partial state belongs to another command."""


class ModelLoadError(TsunaguError, OSError):
    """A model directory exists but cannot be used: no tokenizer, no or corrupt
    weights, an unreadable config or checkpoint."""


class SequenceTooLongError(TsunaguError, ValueError):
    """A sequence has more wordpieces than the model has positions."""


class PathConflictError(TsunaguError, ValueError):
    """An output path is one of the command's inputs, lies inside an input
    directory, or is another of its outputs: writing it would destroy data."""


class OutputExistsError(TsunaguError, FileExistsError):
    """An output exists that this command did not create; it is replaced only when
    the caller asks to overwrite it."""


class InputChangedError(BatchStateError):
    """The input of an unfinished batch run changed since the run began, so the
    finished part no longer matches it."""


class UnsafeFileError(TsunaguError, ValueError):
    """A file is in a format that can run code when loaded (a pickle), and was not
    marked as trusted."""


# -- errors of one area each. They are defined here so that every error of tsunagu
# is in one module, importable without importing the area (torch, gensim...); the
# area's module imports its error from here, so ``from tsunagu.heads import
# HeadError`` and the like keep working.


class EmbeddingsError(TsunaguError, ValueError):
    """Training cannot proceed on this corpus with these settings."""


class HeadError(TsunaguError, ValueError):
    """A head cannot be built or loaded: bad sizes, bad class counts, a bad file."""


class HeadLoadError(HeadError, ModelLoadError):
    """A head file exists but cannot be used: truncated, corrupt, not a head file."""


class LanguageModelError(TsunaguError, ValueError):
    """A language model cannot be trained or loaded with this input."""


class LexiconError(TsunaguError, ValueError):
    """A lexicon file is malformed; the message names the file and line."""


class ActiveLearningError(TsunaguError, ValueError):
    """An annotation session, label store or simulation cannot go on: unknown
    labels or strategy, a session whose settings differ, a corrupt store."""


class UnknownExample(ActiveLearningError):
    """An annotation names an example that the team session does not have (not in
    its source, or not one of the disagreements under review)."""


class TransformersMissingError(TsunaguError, ImportError):
    """The optional transformer dependencies are not installed."""
