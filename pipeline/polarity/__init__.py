"""Sentence and document polarity by composition over the dependency parse.

``composition`` (the scorer), ``prior`` (lexicon scores on a common scale),
``markers`` (negators, shifters, contrast and modality markers), ``profiles``
(swappable domain knowledge; ``business`` ships) and ``labels`` (scores to
positive / negative / neutral). The pipeline component ``tsunagu_polarity``
(``tsunagu.components.polarity``) runs them.
"""

from .composition import PSEUDO_COUNT, RULE_GROUPS, Composer, Evidence, Settings, score
from .labels import NEUTRAL_THRESHOLD, document_label, document_score, label
from .prior import Prior, Priors
from .profiles import Profile, read_profile, read_profiles

__all__ = ["PSEUDO_COUNT", "Composer", "Evidence", "Settings", "RULE_GROUPS", "score", "label", "document_label",
           "document_score", "NEUTRAL_THRESHOLD", "Prior", "Priors", "Profile", "read_profile", "read_profiles"]
