"""Errors of the active-learning package: :class:`ActiveLearningError` and
:class:`UnknownExample`, defined in :mod:`tsunagu.errors` with every other error of
tsunagu and re-exported here."""

from ..errors import ActiveLearningError, UnknownExample

__all__ = ["ActiveLearningError", "UnknownExample"]
