"""The train/dev/test split of labelled records: one rule for every command.

``tsunagu corpus to-spacy`` and ``tsunagu al simulate`` both split with
:func:`split_records`, so the same records and seed give the same test set in
both, and a classifier trained on the DocBins is evaluated on the documents the
active-learning simulation held out.

The rule: records are grouped by label (the first label of multi-label records);
within each label they are ordered by ``sha1(f"{seed}\\0{id}")``, and the first
``round(n * train)`` go to train, the next ``round(n * dev)`` to dev (at most what
is left) and the rest to test. Each part is then ordered by the same hash. The
split depends only on the ids, labels, fractions and seed, not on the reading
order, and every label is represented in each part in proportion.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

from .errors import ConfigError

SPLITS = ("train", "dev", "test")


def split_records(records: Sequence[Any], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0) -> dict[str, list]:
    """Stratified, seeded split of labelled records by id: ``{"train": [...],
    "dev": [...], "test": [...]}``, each part in a stable order (by hash). Records
    need ``id`` and a non-empty ``labels``. Raises ``ConfigError`` for fractions that
    are not three non-negative numbers summing to 1 with a non-zero train part."""
    fractions = check_fractions(fractions)
    groups: dict[str, list] = {}
    for record in records:
        groups.setdefault(record.labels[0], []).append(record)
    parts: dict[str, list] = {name: [] for name in SPLITS}
    for label in sorted(groups):
        group = sorted(groups[label], key=lambda r: _rank(seed, r.id))
        n = len(group)
        n_train = round(n * fractions[0])
        n_dev = min(n - n_train, round(n * fractions[1]))
        parts["train"].extend(group[:n_train])
        parts["dev"].extend(group[n_train:n_train + n_dev])
        parts["test"].extend(group[n_train + n_dev:])
    for name in SPLITS:
        parts[name].sort(key=lambda r: _rank(seed, r.id))
    return parts


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """``fractions`` as three floats; ``ConfigError`` unless they are a usable split."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"The split must be three non-negative fractions (train, dev, test) "
                          f"summing to 1, such as 0.8 0.1 0.1; got {' '.join(map(str, fractions))}.")
    if fractions[0] == 0:
        raise ConfigError("The split gives nothing to train on: the train fraction is 0.")
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def _rank(seed: int, record_id: str) -> str:
    return hashlib.sha1(f"{seed}\0{record_id}".encode("utf-8")).hexdigest()
