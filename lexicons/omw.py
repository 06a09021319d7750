"""Open Multilingual Wordnet tab files: other languages' lemmas on WordNet 3.0 synsets.

Format: ``offset-pos<TAB>lang:lemma<TAB>lemma`` per line, ``#`` lines are comments
(the full Japanese WordNet ``wn-data-jpn.tab``, or the Wiktionary / CLDR derived
files). Offsets are those of Princeton WordNet 3.0, so the WordNet read with
``open_wordnet`` must have the original offsets (Debian's ``wordnet-base`` does not).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Iterator, Union

from .lexicon import LexiconError
from .network import Network


def read_omw_tab(path: Union[str, Path]) -> Iterator[tuple[str, str]]:
    """(synset id like ``00004171-a``, lemma) for each lemma row."""
    path = Path(path)
    if not path.is_file():
        raise LexiconError(f"OMW tab file not found: {path}")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise LexiconError(f"{path}:{lineno}: not valid UTF-8 (byte {e.start})") from None
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or "-" not in parts[0]:
                raise LexiconError(f"{path}:{lineno}: expected 'offset-pos<TAB>lang:lemma<TAB>lemma'")
            if parts[1].endswith(":lemma"):
                yield parts[0], parts[2].strip()


def add_omw_links(network: Network, wn, tab_files: Iterable[Union[str, Path]], *,
                  sense_weighting: bool = True) -> int:
    """``link_omw_rows`` over the rows of the tab files."""
    rows = [row for path in tab_files for row in read_omw_tab(path)]
    return link_omw_rows(network, wn, rows, sense_weighting=sense_weighting)


def link_omw_rows(network: Network, wn, rows: Iterable[tuple[str, str]], *,
                  sense_weighting: bool = True) -> int:
    """Link each (synset id, lemma) row's lemma to the English lemmas of its synset and
    to the other lemmas of that synset (synonym links, +1; with ``sense_weighting`` a
    link to an English lemma weighs p(synset | English lemma), as in
    ``wordnet_network``). Returns the number of lemma rows whose synset was found."""
    from .network import sense_probabilities

    sense_p = sense_probabilities(wn) if sense_weighting else {}
    by_synset: dict[str, list[str]] = {}
    found = 0
    for synset_id, lemma in rows:
        by_synset.setdefault(synset_id, []).append(lemma)
    for synset_id, lemmas in by_synset.items():
        offset, pos = synset_id.split("-")
        try:
            with warnings.catch_warnings():
                # NLTK warns for unknown offsets; skipping them is the handling.
                warnings.simplefilter("ignore", UserWarning)
                synset = wn.synset_from_pos_and_offset(pos, int(offset))
        except (ValueError, LookupError):
            synset = None
        if synset is None:
            continue  # an offset from another WordNet version
        wn_pos = {"s": "a"}.get(synset.pos(), synset.pos())
        english = [lemma.name().lower() for lemma in synset.lemmas()]
        for lemma in lemmas:
            found += 1
            network.node(lemma, wn_pos)
            for word in english:
                network.link(lemma, word, sense_p.get((word, synset.name()), 1.0))
        for a in lemmas:
            for b in lemmas:
                if a < b:
                    network.link(a, b, +1)
    return found
