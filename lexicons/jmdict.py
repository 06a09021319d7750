"""A cross-lingual gloss network from JMdict: Japanese headwords linked to English.

JMdict (the Electronic Dictionary Research and Development Group's Japanese-
multilingual dictionary; licence CC BY-SA 4.0, EDRDG) gives each entry its kanji
and kana forms and senses with English glosses. The spin model's gloss links (G)
carry across languages: a headword and the content words of its glosses tend to
share their orientation (赤字 "deficit", 順調 "favourable; doing well"), and the
English words are nodes of the WordNet network, so the English seeds reach the
Japanese words through them.

Read from the SQLite database of the ``jamdict-data`` package (tables Entry,
Kanji, Kana, KNR, Sense, SenseGloss, pos, misc, xref, antonym, stagk, stagr); a
JMdict XML file converted by ``jamdict`` has the same tables.

Links (each kind with its own weight, ``DEFAULT_WEIGHTS``):
  gloss     a form and each English term of a gloss of its senses: the whole gloss
            where it is one WordNet lemma ("all right"), else its head ("fall in
            price" -> fall) and, weaker, its other content words; negative after a
            negation (not, no, without, lack of...) and for un-/non-/in-/dis-
            words WordNet lacks whose stem it has ("non-profit" -> -profit).
            Later senses weigh less (JMdict orders senses by importance).
  forms     kanji and kana forms of one entry (respecting reading restrictions);
  xref      JMdict's "see also" cross-references (about 90% share the sign);
  antonym   JMdict's antonyms (negative links);
  register  senses marked derogatory / vulgar: a link to the English "derogatory".
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from .lexicon import LexiconError
from .network import NEGATIONS, STOPWORDS, Network

DEFAULT_WEIGHTS = {"gloss": 1.0, "forms": 1.0, "xref": 0.5, "antonym": 0.5, "register": 0.5}
LINK_KINDS = tuple(DEFAULT_WEIGHTS)
# A gloss's head carries this share of the gloss's weight when the gloss is not
# one WordNet lemma; its other content words share the rest.
HEAD_SHARE = 0.6
# The k-th sense of an entry weighs 1 / k ** SENSE_DECAY (JMdict orders senses by importance).
SENSE_DECAY = 0.5
# Negations in glosses beyond the WordNet network's: "absence of X", "loss of X".
GLOSS_NEGATIONS = NEGATIONS | {"absence", "unable", "fail", "fails", "failure"}
_NEGATING_PREFIXES = ("non-", "non", "un", "in", "im", "dis", "ir", "il")
_PARENS = re.compile(r"\([^()]*\)")
_TOKEN = re.compile(r"[a-z][a-z'-]*|[;:,.]")
_CLAUSE_END = frozenset(";:,.")
_ARTICLES = ("to ", "a ", "an ", "the ", "be ", "being ")
# JMdict part-of-speech descriptions -> WordNet part of speech.
_POS_PATTERNS = (("adjective", "a"), ("adjectival", "a"), ("'taru' adjective", "a"),
                 ("noun or verb acting prenominally", "a"), ("verb", "v"), ("adverb", "r"),
                 ("noun", "n"), ("pronoun", "n"))
_REGISTER = {"derogatory": "derogatory", "vulgar expression or word": "vulgar"}


@dataclass
class Sense:
    glosses: list = field(default_factory=list)  # English gloss texts
    pos: list = field(default_factory=list)  # JMdict POS descriptions
    misc: list = field(default_factory=list)
    xrefs: list = field(default_factory=list)  # headwords ("形・読み・2" reduced to 形)
    antonyms: list = field(default_factory=list)
    only_forms: set = field(default_factory=set)  # stagk/stagr: the forms the sense is restricted to


@dataclass
class Entry:
    idseq: int
    kanji: list = field(default_factory=list)
    kana: list = field(default_factory=list)
    kana_restrictions: dict = field(default_factory=dict)  # kana -> the kanji forms it reads
    senses: list = field(default_factory=list)

    @property
    def forms(self) -> list:
        return self.kanji + self.kana


def default_jmdict_path() -> Path:
    """The database of the installed ``jamdict-data`` package."""
    try:
        import jamdict_data
    except ImportError:
        raise LexiconError("JMdict is not installed: pip install jamdict-data (or 'tsunagu[jmdict]'), "
                           "or give the path of a JMdict SQLite database.") from None
    path = Path(jamdict_data.__file__).parent / "jamdict.db"
    if not path.is_file():
        raise LexiconError(f"The jamdict-data package has no database at {path}; reinstall it.")
    return path


def read_jmdict(path: Union[str, Path, None] = None, forms: Optional[Iterable[str]] = None) -> list[Entry]:
    """Every entry of the JMdict SQLite database at ``path`` (default: jamdict-data),
    read with one query per table (a query per entry takes minutes); with ``forms``,
    only the entries that have one of these kanji or kana forms."""
    path = Path(path) if path is not None else default_jmdict_path()
    if not path.is_file():
        raise LexiconError(f"JMdict database not found: {path}")
    uri = f"file:{path.resolve()}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
        try:
            return _read(db, None if forms is None else list(forms))
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise LexiconError(f"{path}: not a JMdict SQLite database ({e}).") from None


def _read(db, forms: Optional[list] = None) -> list[Entry]:
    entries: dict[int, Entry] = {}
    if forms is None:
        query, values = "SELECT idseq FROM Entry ORDER BY idseq", ()
    else:
        marks = ",".join("?" * len(forms))
        query = (f"SELECT DISTINCT idseq FROM Kanji WHERE text IN ({marks}) "
                 f"UNION SELECT DISTINCT idseq FROM Kana WHERE text IN ({marks}) ORDER BY idseq")
        values = tuple(forms) * 2
    for (idseq,) in db.execute(query, values):
        entries[idseq] = Entry(idseq)
    for idseq, text in db.execute("SELECT idseq, text FROM Kanji ORDER BY ID"):
        if idseq in entries and text:
            entries[idseq].kanji.append(text)
    kana_of: dict[int, tuple[int, str]] = {}
    for kid, idseq, text in db.execute("SELECT ID, idseq, text FROM Kana ORDER BY ID"):
        if idseq in entries and text:
            entries[idseq].kana.append(text)
            kana_of[kid] = (idseq, text)
    for kid, kanji in db.execute("SELECT kid, text FROM KNR"):
        if kid in kana_of:
            idseq, kana = kana_of[kid]
            entries[idseq].kana_restrictions.setdefault(kana, set()).add(kanji)
    senses: dict[int, Sense] = {}
    for sid, idseq in db.execute("SELECT ID, idseq FROM Sense ORDER BY ID"):
        if idseq in entries:
            senses[sid] = Sense()
            entries[idseq].senses.append(senses[sid])
    for sid, text in db.execute("SELECT sid, text FROM SenseGloss WHERE lang = 'eng' OR lang IS NULL"):
        if sid in senses and text:
            senses[sid].glosses.append(text)
    for table, attribute in (("pos", "pos"), ("misc", "misc")):
        for sid, text in db.execute(f"SELECT sid, text FROM {table}"):
            if sid in senses and text:
                getattr(senses[sid], attribute).append(text)
    for table, attribute in (("xref", "xrefs"), ("antonym", "antonyms")):
        for sid, text in db.execute(f"SELECT sid, text FROM {table}"):
            if sid in senses and text:
                getattr(senses[sid], attribute).append(text.split("・")[0])
    for table in ("stagk", "stagr"):
        for sid, text in db.execute(f"SELECT sid, text FROM {table}"):
            if sid in senses and text:
                senses[sid].only_forms.add(text)
    # JMdict states a sense's POS once and lets the following senses inherit it.
    for entry in entries.values():
        previous: list = []
        for sense in entry.senses:
            if not sense.pos:
                sense.pos = previous
            previous = sense.pos
    return list(entries.values())


def wordnet_pos(jmdict_pos: Iterable[str]) -> set:
    """WordNet parts of speech (a, n, v, r) of JMdict POS descriptions."""
    out = set()
    for text in jmdict_pos:
        for pattern, tag in _POS_PATTERNS:
            if pattern in text:
                out.add(tag)
                break
    return out


def english_lookup(wn, known: Optional[set] = None) -> Callable[[str], Optional[str]]:
    """A function from an English token or phrase (spaces or underscores) to its
    WordNet lemma (a network node name), or ``None`` for function words and words
    WordNet lacks. ``known``: the lemma names allowed (default: all of ``wn``);
    ``wn`` may be ``None`` with ``known`` given (no inflected forms then)."""
    if known is None and wn is None:
        raise ValueError("english_lookup needs a WordNet or a set of known lemmas.")
    names = known if known is not None else {name.lower() for name in wn.all_lemma_names()}

    @lru_cache(maxsize=None)
    def lemma_of(text: str) -> Optional[str]:
        text = text.strip().lower().replace(" ", "_")
        if not text or text in STOPWORDS:
            return None
        if text in names:
            return text
        base = wn.morphy(text) if wn is not None else None
        return base if base in names else None

    return lemma_of


def gloss_terms(gloss: str, lemma_of: Callable[[str], Optional[str]],
                head_share: float = HEAD_SHARE) -> list[tuple[str, float]]:
    """(English lemma, signed weight) for one gloss; weights' magnitudes sum to 1
    (or 0 when no word of the gloss is known).

    The gloss as a whole first ("all right", "fall in love"), with and without the
    words in parentheses and leading "to"/"a"/"the"; else its head word (the first
    content word of a verb gloss, the word before "of", else the last content word)
    gets ``head_share`` and the other content words the rest. A word after a
    negation is negative, as is the stem of an un-/non- word WordNet lacks."""
    text = gloss.lower().strip()
    for variant in (_PARENS.sub(" ", text), text.replace("(", " ").replace(")", " ")):
        phrase = " ".join(variant.split())
        for _ in range(3):
            for article in _ARTICLES:
                if phrase.startswith(article):
                    phrase = phrase[len(article):]
        if " " in phrase or "-" in phrase:
            lemma = lemma_of(phrase) or lemma_of(phrase.replace("-", " "))
            if lemma is not None:
                return [(lemma, 1.0)]
    verb = text.startswith("to ")
    words: list[tuple[str, int]] = []  # (lemma, sign) in order
    head_at = None
    negated = False
    for token in _TOKEN.findall(_PARENS.sub(" ", text)):
        if token in _CLAUSE_END:
            negated = False
            continue
        if token in GLOSS_NEGATIONS or token.endswith("n't"):
            negated = True
            continue
        if token == "of" and words and head_at is None and not verb:
            head_at = len(words) - 1
            continue
        lemma = lemma_of(token)
        sign = -1 if negated else 1
        if lemma is None:
            lemma, flipped = _negated_stem(token, lemma_of)
            if lemma is None:
                continue
            sign *= flipped
        words.append((lemma, sign))
    if not words:
        return []
    if len(words) == 1:
        return [(words[0][0], float(words[0][1]))]
    head = 0 if verb else (head_at if head_at is not None else len(words) - 1)
    rest = (1.0 - head_share) / (len(words) - 1)
    out: dict[str, float] = defaultdict(float)
    for k, (lemma, sign) in enumerate(words):
        out[lemma] += sign * (head_share if k == head else rest)
    return [(w, v) for w, v in out.items() if v]


def _negated_stem(token: str, lemma_of) -> tuple[Optional[str], int]:
    for prefix in _NEGATING_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 4:
            stem = lemma_of(token[len(prefix):].lstrip("-"))
            if stem is not None:
                return stem, -1
    return None, 1


def _ascii(text: str) -> bool:
    return text.isascii()


def jmdict_network(entries: Iterable[Entry], lemma_of: Callable[[str], Optional[str]], *,
                   weights: Optional[dict] = None, sense_decay: float = SENSE_DECAY,
                   kana_weight: float = 0.5, words: Optional[set] = None) -> Network:
    """The network of JMdict ``entries`` (``read_jmdict``): Japanese forms, their
    English gloss terms (``lemma_of``: ``english_lookup``) and the links between
    them, each kind weighted by ``weights`` (missing kinds 0; default
    ``DEFAULT_WEIGHTS``).

    The k-th sense of an entry weighs ``1 / k ** sense_decay``. Kana forms of an
    entry that has kanji forms are homographs more often (かんじ: 感じ, 漢字, 幹事),
    so their gloss links weigh ``kana_weight`` unless the sense is marked as usually
    written in kana. Forms written only in ASCII are left out: they would merge with
    English nodes. ``words``: keep only entries with one of these forms (default all)."""
    weight = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weight) - set(LINK_KINDS)
    if unknown:
        raise ValueError(f"Unknown JMdict link kinds: {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(LINK_KINDS)}.")
    weight = {k: float(weight.get(k, 0.0)) for k in LINK_KINDS}
    net = Network()
    derogatory = lemma_of("derogatory")
    for entry in entries:
        forms = [f for f in entry.forms if not _ascii(f)]
        if not forms or (words is not None and not words.intersection(forms)):
            continue
        kanji = [f for f in entry.kanji if not _ascii(f)]
        tags = wordnet_pos(p for s in entry.senses for p in s.pos)
        for form in forms:
            for tag in tags or (None,):
                net.node(form, tag)
        if weight["forms"]:
            for kana in entry.kana:
                if _ascii(kana):
                    continue
                readings = entry.kana_restrictions.get(kana)
                for k in kanji:
                    if readings is None or k in readings:
                        net.link(k, kana, weight["forms"])
        for rank, sense in enumerate(entry.senses, 1):
            sense_weight = rank ** -sense_decay
            usually_kana = any("usually written using kana" in m for m in sense.misc)
            targets = [f for f in forms if not sense.only_forms or f in sense.only_forms]
            if not targets:
                continue
            terms: dict[str, float] = defaultdict(float)
            if weight["gloss"]:
                for gloss in sense.glosses:
                    for lemma, value in gloss_terms(gloss, lemma_of):
                        terms[lemma] += weight["gloss"] * value
            if weight["register"] and derogatory is not None:
                if any(m in _REGISTER for m in sense.misc):
                    terms[derogatory] += weight["register"]
            for form in targets:
                scale = sense_weight
                if kanji and form not in entry.kanji and not usually_kana:
                    scale *= kana_weight
                for lemma, value in terms.items():
                    net.link(form, lemma, scale * value)
                for kind, others, sign in (("xref", sense.xrefs, 1), ("antonym", sense.antonyms, -1)):
                    if weight[kind]:
                        for other in others:
                            if not _ascii(other):
                                net.link(form, other, sign * weight[kind] * sense_weight)
    return net


def projection(entries: Iterable[Entry], lemma_of: Callable[[str], Optional[str]],
               english_scores: dict[str, float]) -> dict[str, float]:
    """The naive projection: each Japanese form's score is the weighted mean of the
    English scores of its gloss terms (``english_scores``: lemma -> score, e.g. an
    English lexicon), senses weighed as in ``jmdict_network``; a baseline for the
    spin model on the joint network."""
    totals: dict[str, list] = defaultdict(lambda: [0.0, 0.0])
    for entry in entries:
        for rank, sense in enumerate(entry.senses, 1):
            sense_weight = rank ** -SENSE_DECAY
            targets = [f for f in entry.forms if not sense.only_forms or f in sense.only_forms]
            for gloss in sense.glosses:
                for lemma, value in gloss_terms(gloss, lemma_of):
                    score = english_scores.get(lemma)
                    if score is None:
                        continue
                    for form in targets:
                        t = totals[form]
                        t[0] += sense_weight * value * score
                        t[1] += sense_weight * abs(value)
    return {w: s / n for w, (s, n) in totals.items() if n > 0 and s != 0}
