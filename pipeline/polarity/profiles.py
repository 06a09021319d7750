"""Domain profiles: swappable domain knowledge for the compositional scorer.

A profile says, for one kind of text, which quantities are good news when they
rise (売上高, 利益: +1) or when they fall (損失, コスト: -1), which words have a
fixed sign there (増益 +, 減収 -), and how a parenthesis of the previous period's
figures looks (``（前期は…）``), whose words are not evidence about this period.
Without a profile, the direction of a quantity is its lexicon polarity
(人気が上昇 +, 不安が高まる -).

A profile is a TSV file ``kind<TAB>word<TAB>value`` (``#`` starts a comment), kinds
``quantity`` (value +1 / -1), ``fixed`` (a sign) and ``previous`` (a regular
expression, value ignored). ``business`` names the shipped one
(``tsunagu/polarity/business.tsv``); ``none`` is the empty profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Optional, Union

from tsunagu.errors import ConfigError

SHIPPED = {"business": "business.tsv"}
KINDS = ("quantity", "fixed", "previous")


@dataclass
class Profile:
    name: str = "none"
    quantities: dict[str, int] = field(default_factory=dict)
    fixed: dict[str, int] = field(default_factory=dict)
    previous: list[re.Pattern] = field(default_factory=list)

    def direction(self, lemma: str) -> Optional[int]:
        """+1 / -1 for a quantity whose rise is good / bad news, by the longest
        suffix of ``lemma`` the profile lists (経常利益 -> 利益); None if unlisted."""
        for start in range(len(lemma)):
            value = self.quantities.get(lemma[start:])
            if value is not None:
                return value
        return None

    def is_previous_period(self, text: str) -> bool:
        return any(p.search(text) for p in self.previous)

    def merged(self, other: "Profile") -> "Profile":
        return Profile(f"{self.name}+{other.name}", {**self.quantities, **other.quantities},
                       {**self.fixed, **other.fixed}, self.previous + other.previous)


def profile_path(spec: Union[str, Path]) -> Path:
    text = str(spec)
    if text in SHIPPED:
        return Path(str(files("tsunagu.polarity").joinpath(SHIPPED[text])))
    return Path(spec)


def read_profile(spec: Union[str, Path]) -> Profile:
    """A shipped profile by name, or a profile TSV file."""
    if str(spec) == "none":
        return Profile()
    path = profile_path(spec)
    if not path.is_file():
        raise ConfigError(f"No polarity profile {spec!r}: give one of "
                          f"{', '.join(['none', *SHIPPED])} or the path of a profile TSV file.")
    profile = Profile(name=str(spec))
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in KINDS:
            raise ConfigError(f"{path}:{lineno}: expected kind<TAB>word<TAB>value with kind one of "
                              f"{', '.join(KINDS)}")
        kind, word, value = parts
        if kind == "previous":
            profile.previous.append(re.compile(word))
            continue
        try:
            sign = int(float(value) > 0) - int(float(value) < 0)
        except ValueError:
            raise ConfigError(f"{path}:{lineno}: value {value!r} is not a number") from None
        (profile.quantities if kind == "quantity" else profile.fixed)[word] = sign
    return profile


def read_profiles(specs) -> Profile:
    """Several profiles merged, later ones overriding earlier ones."""
    merged = Profile()
    for spec in specs or []:
        merged = merged.merged(read_profile(spec))
    return merged
