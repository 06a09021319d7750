"""Errors of the active-learning package: :class:`ActiveLearningError`, defined in
:mod:`tsunagu.errors` with every other error of tsunagu and re-exported here."""

from ..errors import ActiveLearningError

__all__ = ["ActiveLearningError"]
