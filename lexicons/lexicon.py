"""Polarity lexicons: a TSV format, read with line-numbered errors, and lookup.

    # tsunagu polarity lexicon
    # source: WordNet 3.0 glosses and relations; seeds: good, nice, ...; beta: 0.6
    word<TAB>pos<TAB>score<TAB>label
    good<TAB>a<TAB>0.93<TAB>positive

``pos`` is a WordNet part of speech (a, n, v, r) or ``*`` for any; ``score`` is in
[-1, 1] (sign = orientation, magnitude = confidence); ``label`` is positive,
negative or neutral and must agree with the sign of the score. Lines starting with
``#`` are the header. Later lexicons override earlier ones entry by entry. A UTF-8
byte order mark at the start of the file (Windows editors write one) is ignored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

from tsunagu.atomic import atomic_file
from tsunagu.errors import LexiconError

COLUMNS = ("word", "pos", "score", "label")
POS_TAGS = ("a", "n", "v", "r", "*")
LABELS = {"positive": 1, "negative": -1, "neutral": 0}
# spaCy's universal POS -> WordNet part of speech.
UPOS_TO_WN = {"ADJ": "a", "NOUN": "n", "PROPN": "n", "VERB": "v", "ADV": "r", "AUX": "v"}


# Lexicons shipped in this package, built by `tsunagu lexicon build` (README).
SHIPPED = {"en": "en-spin.tsv", "ja": "ja-spin.tsv"}
SHIPPED_PREFIX = "tsunagu:"


def lexicon_path(spec: Union[str, Path]) -> Path:
    """A lexicon file's path; ``tsunagu:en`` / ``tsunagu:ja`` name the shipped ones,
    so that configs need no absolute paths."""
    text = str(spec)
    if not text.startswith(SHIPPED_PREFIX):
        return Path(spec)
    name = text[len(SHIPPED_PREFIX):]
    if name not in SHIPPED:
        raise LexiconError(f"No shipped lexicon {text!r}; shipped: "
                           + ", ".join(SHIPPED_PREFIX + k for k in SHIPPED))
    from importlib.resources import files

    return Path(str(files("tsunagu.lexicons").joinpath(SHIPPED[name])))


class Lexicon:
    def __init__(self, entries: Optional[Mapping[tuple[str, str], float]] = None,
                 header: Iterable[str] = ()) -> None:
        self.entries: dict[tuple[str, str], float] = dict(entries or {})
        self.header = list(header)
        self._by_word: Optional[dict[str, float]] = None

    def __len__(self) -> int:
        return len(self.entries)

    def update(self, other: "Lexicon") -> "Lexicon":
        """Entries of ``other`` override ours."""
        self.entries.update(other.entries)
        self._by_word = None
        return self

    def score(self, word: str, upos: Optional[str] = None) -> Optional[float]:
        """The score of ``word`` for a spaCy POS: the entry for that POS, else the
        ``*`` entry, else the strongest entry of the word under any POS."""
        pos = UPOS_TO_WN.get(upos or "", "")
        for key in ((word, pos), (word, "*")):
            if key in self.entries:
                return self.entries[key]
        if self._by_word is None:
            self._by_word = {}
            for (w, _), s in self.entries.items():
                if abs(s) > abs(self._by_word.get(w, 0.0)):
                    self._by_word[w] = s
        return self._by_word.get(word)


def read_lexicon(path: Union[str, Path]) -> Lexicon:
    """Read a lexicon TSV (or a shipped one: ``tsunagu:en``, ``tsunagu:ja``). A file
    with nothing in it (no header, no entries) is an error; one with a header and no
    entries, as ``write_lexicon`` writes for an empty lexicon, is an empty lexicon."""
    path = lexicon_path(path)
    if not path.is_file():
        raise LexiconError(f"Lexicon not found: {path}")
    # Every `tsunagu.load()` reads the shipped lexicons (half a million lines): a
    # process that loads several pipelines parses each file once. The key changes
    # when the file does; callers get their own copy to change.
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _READ_CACHE.get(key)
    if cached is not None:
        return Lexicon(cached[0], cached[1])
    lexicon = _parse_lexicon(path)
    while len(_READ_CACHE) >= _READ_CACHE_FILES:  # bounded: the oldest file goes
        del _READ_CACHE[next(iter(_READ_CACHE))]
    _READ_CACHE[key] = (lexicon.entries, list(lexicon.header))
    return Lexicon(lexicon.entries, lexicon.header)


_READ_CACHE: dict = {}
_READ_CACHE_FILES = 4


def _parse_lexicon(path: Path) -> "Lexicon":
    entries: dict[tuple[str, str], float] = {}
    header: list[str] = []
    seen_columns = False
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        raise LexiconError(f"{path}:{lineno}: not valid UTF-8 (byte {e.start})") from None
    text = text.removeprefix("\ufeff")
    # One pass with the checks inlined: the Japanese lexicon has half a million lines
    # and every `tsunagu.load()` reads it.
    positive, negative = "positive", "negative"
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] == "#":
            header.append(line[1:].strip())
            continue
        fields = line.split("\t")
        if len(fields) == 4:
            word, pos, score_text, label = fields
            try:
                score = float(score_text)
            except ValueError:
                score = None
            ok = (score is not None and -1.0 <= score <= 1.0 and pos in POS_TAGS and word.strip()
                  and (label == positive and score > 0 or label == negative and score < 0
                       or score == 0 and label in LABELS))
            if ok:
                entries[(word, pos)] = score
                continue
        if not seen_columns and tuple(fields) == COLUMNS:
            seen_columns = True
            continue
        if not line.strip():
            continue
        _line_error(f"{path}:{lineno}", fields)
    if not entries and not header and not seen_columns:
        raise LexiconError(f"{path} is empty: a lexicon has word<TAB>pos<TAB>score<TAB>label lines "
                           "(see `tsunagu lexicon build`).")
    return Lexicon(entries, header)


def _line_error(where: str, fields: list) -> None:
    """Raise the error that says what is wrong with a lexicon line."""
    if len(fields) != 4:
        raise LexiconError(f"{where}: expected 4 tab-separated columns "
                           f"({', '.join(COLUMNS)}), found {len(fields)}")
    word, pos, score_text, label = fields
    if not word.strip():
        raise LexiconError(f"{where}: empty word")
    if pos not in POS_TAGS:
        raise LexiconError(f"{where}: pos must be one of {', '.join(POS_TAGS)}, not {pos!r}")
    try:
        score = float(score_text)
    except ValueError:
        raise LexiconError(f"{where}: score {score_text!r} is not a number") from None
    if not (math.isfinite(score) and -1.0 <= score <= 1.0):
        raise LexiconError(f"{where}: score {score} is outside [-1, 1]")
    if label not in LABELS:
        raise LexiconError(f"{where}: label must be positive, negative or neutral, not {label!r}")
    raise LexiconError(f"{where}: label {label} disagrees with score {score}")


def write_lexicon(lexicon: Lexicon, path: Union[str, Path]) -> None:
    """Write atomically (a unique temporary file, then rename)."""
    with atomic_file(Path(path), "w", encoding="utf-8") as f:
        for line in lexicon.header:
            f.write(f"# {line}\n")
        f.write("\t".join(COLUMNS) + "\n")
        for (word, pos), score in sorted(lexicon.entries.items(), key=lambda kv: (-abs(kv[1]), kv[0])):
            label = "neutral" if score == 0 else ("positive" if score > 0 else "negative")
            # 4 significant digits: far from the seeds spins are tiny but their sign
            # still carries the orientation.
            f.write(f"{word}\t{pos}\t{score:.4g}\t{label}\n")
