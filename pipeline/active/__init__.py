"""Active learning: label the examples the model is least sure of, retrain, repeat.

* :mod:`~tsunagu.active.strategies`: query strategies behind one interface,
  ``strategy.select(pool, model, n) -> ids``, and a stopping criterion;
* :mod:`~tsunagu.active.models`: classifiers over spaCy pipelines behind
  ``fit(texts, labels)`` / ``predict_proba(texts)`` / ``doc_vectors(texts)``;
* :mod:`~tsunagu.active.store`: the label database (SQLite, WAL, one transaction
  per annotation, undo by marking), export to JSONL / DocBin, import;
* :mod:`~tsunagu.active.session`: the terminal annotation session;
* :mod:`~tsunagu.active.simulate`: the loop replayed with gold labels as oracle.
"""

from .errors import ActiveLearningError
from .strategies import STRATEGIES, Pool, StabilizingPredictions, make_strategy

__all__ = ["ActiveLearningError", "STRATEGIES", "Pool", "StabilizingPredictions", "make_strategy"]
