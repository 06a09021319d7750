"""Errors of the active-learning package."""

from ..errors import TsunaguError


class ActiveLearningError(TsunaguError, ValueError):
    """An annotation session, label store or simulation cannot go on: unknown
    labels or strategy, a session whose settings differ, a corrupt store."""
