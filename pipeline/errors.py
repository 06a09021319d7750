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
