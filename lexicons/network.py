"""Lexical networks for the spin model (Takamura, Inui & Okumura, ACL 2005).

A network is a set of words and signed, weighted links. ``weights()`` turns it into
the symmetric sparse matrix the spin model uses, w_ij = s_ij / sqrt(d(i) d(j)), where
s_ij is the signed sum of the links between i and j and d(i) = Σ_j |s_ij| the
weighted degree of i. With unit links, one per pair, this is the paper's
±1/sqrt(d(i) d(j)); the positive part of W then has spectral radius 1 and the
phase transition sits near β = 1. Networks from several sources combine with ``+``.

Links from WordNet (``wordnet_network``), each relation with its own weight:
  glosses    a word and each word of the glosses of its synsets; negative when the
             gloss word follows a negation (not, no, never, without, lacking...) in
             its clause (the paper's G);
  synonyms   lemmas of one synset; antonyms (negative); hypernyms: a word and the
             lemmas of its synsets' hypernym synsets (the paper's T);
  similar    adjective satellites and their head adjective ("similar to"): the
             relation that holds WordNet's adjective clusters together;
  also       "also see"; derived: derivationally related forms and pertainyms.

``PAPER_RELATIONS`` is the paper's GT network; ``DEFAULT_RELATIONS`` adds the
adjective and derivation relations and weighs gloss links down: a gloss word is
related to the headword in some way, rarely by orientation, and there are ten
times more gloss links than thesaurus links. ``sense_weighting`` (default) weighs a
word's link through one of its synsets by p(synset | word), estimated from the
SemCor sense counts in WordNet's ``index.sense`` (add-one smoothed), so that "good"
is pulled by its "good, well" senses more than by "goods, commodity". On the
General Inquirer words these changes raise the 14-seed accuracy from 0.73 to about
0.82 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Optional

NEGATIONS = frozenset("not no never without lacking lack lacks nor cannot neither none nothing "
                      "non un".split())
# Function words: never nodes of the network.
STOPWORDS = frozenset("""a an the of to in on at by for with from as or and but if then than that
this these those which who whom whose what when where while it its is are was were be been being
has have had do does did so such very more most less least some any all each every other another
one two something someone somebody especially usually often etc e.g i.e""".split())
_TOKEN = re.compile(r"[a-z][a-z'-]*|[;:,.()]")
_CLAUSE_END = frozenset(";:,.()")


@dataclass
class Network:
    """Words and signed, undirected links; a link is counted once per source relation."""

    links: dict = field(default_factory=lambda: defaultdict(float))  # (i, j) with i < j -> signed weight
    words: dict = field(default_factory=dict)  # word -> index
    pos: dict = field(default_factory=dict)  # word -> set of POS

    def node(self, word: str, pos: Optional[str] = None) -> int:
        index = self.words.setdefault(word, len(self.words))
        if pos:
            self.pos.setdefault(word, set()).add(pos)
        return index

    def link(self, a: str, b: str, value: float) -> None:
        """Add a link of signed weight ``value`` (repeated links add up)."""
        if a == b or value == 0:
            return
        i, j = self.node(a), self.node(b)
        self.links[(i, j) if i < j else (j, i)] += value

    def __add__(self, other: "Network") -> "Network":
        out = Network()
        out += self
        out += other
        return out

    def __iadd__(self, other: "Network") -> "Network":
        """Add ``other``'s words and links to this network (in place: cheaper than
        ``+`` when a small network joins a large one)."""
        names = other.index_to_word
        for w in names:
            self.node(w)
        for w, tags in other.pos.items():
            self.pos.setdefault(w, set()).update(tags)
        for (i, j), s in other.links.items():
            self.link(names[i], names[j], s)
        return self

    def weights(self):
        """The symmetric ``scipy.sparse.csr_matrix`` of w_ij = s_ij / sqrt(d(i) d(j)),
        d(i) = Σ_j |s_ij|."""
        import numpy
        from scipy import sparse

        n = len(self.words)
        pairs = [(i, j, s) for (i, j), s in self.links.items() if s != 0]
        if not pairs:
            return sparse.csr_matrix((n, n))
        rows, cols, values = (numpy.array(v) for v in zip(*pairs))
        values = values.astype("float64")
        degree = numpy.bincount(numpy.concatenate([rows, cols]), weights=numpy.abs(numpy.concatenate(
            [values, values])), minlength=n)
        w = sparse.coo_matrix((values / numpy.sqrt(degree[rows] * degree[cols]), (rows, cols)), shape=(n, n))
        return (w + w.T).tocsr()

    @property
    def index_to_word(self) -> list[str]:
        out = [""] * len(self.words)
        for w, i in self.words.items():
            out[i] = w
        return out


RELATIONS = ("glosses", "synonyms", "antonyms", "hypernyms", "similar", "also", "derived")
PAPER_RELATIONS = {"glosses": 1.0, "synonyms": 1.0, "antonyms": 1.0, "hypernyms": 1.0,
                   "similar": 0.0, "also": 0.0, "derived": 0.0}
DEFAULT_RELATIONS = {"glosses": 0.05, "synonyms": 1.0, "antonyms": 1.0, "hypernyms": 1.0,
                     "similar": 1.0, "also": 1.0, "derived": 1.0}


def wordnet_network(wn, *, relations: Optional[dict] = None, sense_weighting: bool = True,
                    examples: bool = False, sense_power: float = 1.0) -> Network:
    """Links of WordNet (``wn``: an NLTK WordNet reader) weighted by relation
    (``relations``: name -> weight, missing names 0; default ``DEFAULT_RELATIONS``)
    and, with ``sense_weighting``, by p(synset | word) ** ``sense_power``: a power
    below 1 tempers SemCor's counts (from 200,000 words, so rarer senses often have
    none) and lets a word's less frequent senses pull it too."""
    weights = dict(DEFAULT_RELATIONS if relations is None else relations)
    unknown = set(weights) - set(RELATIONS)
    if unknown:
        raise ValueError(f"Unknown WordNet relations: {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(RELATIONS)}.")
    weight = {r: float(weights.get(r, 0.0)) for r in RELATIONS}
    sense_p = sense_probabilities(wn) if sense_weighting else None
    net = Network()
    known = {name.lower() for name in wn.all_lemma_names()}

    @lru_cache(maxsize=None)
    def lemma_of(token: str) -> Optional[str]:
        if token in STOPWORDS:
            return None
        if token in known:
            return token
        base = wn.morphy(token)
        return base if base in known else None

    def p(lemma) -> float:
        if sense_p is None:
            return 1.0
        return sense_p.get((lemma.name().lower(), lemma.synset().name()), 1.0) ** sense_power

    weighted_lemmas: dict[str, list] = {}

    def lemmas_of(synset) -> list:
        """(lower-cased name, p) of each lemma; computed once per synset (the
        gloss and hypernym loops ask millions of times)."""
        out = weighted_lemmas.get(synset.name())
        if out is None:
            out = weighted_lemmas[synset.name()] = [(lem.name().lower(), p(lem)) for lem in synset.lemmas()]
        return out

    def link_synsets(name: str, a_synset, b_synset) -> None:
        for a, pa in lemmas_of(a_synset):
            for b, pb in lemmas_of(b_synset):
                net.link(a, b, weight[name] * pa * pb)

    for synset in all_synsets(wn):
        pos = {"s": "a"}.get(synset.pos(), synset.pos())
        lemmas = synset.lemmas()
        named = lemmas_of(synset)
        for name, _ in named:
            net.node(name, pos)
        if weight["synonyms"]:
            for i, (a, pa) in enumerate(named):
                for b, pb in named[i + 1:]:
                    net.link(a, b, weight["synonyms"] * pa * pb)
        for lemma, (name, pl) in zip(lemmas, named):
            if weight["antonyms"]:
                for ant in lemma.antonyms():
                    net.link(name, ant.name().lower(), -weight["antonyms"] * pl * p(ant))
            if weight["derived"]:
                for other in lemma.derivationally_related_forms() + lemma.pertainyms():
                    net.link(name, other.name().lower(), weight["derived"] * pl * p(other))
        for relation, related in (("hypernyms", synset.hypernyms() + synset.instance_hypernyms()),
                                  ("similar", synset.similar_tos()), ("also", synset.also_sees())):
            if weight[relation]:
                for other in related:
                    link_synsets(relation, synset, other)
        if weight["glosses"]:
            texts = [synset.definition()] + (synset.examples() if examples else [])
            for text in texts:
                for word, sign in gloss_words(text, lemma_of):
                    for name, pl in named:
                        net.link(name, word, sign * weight["glosses"] * pl)
    return net


@lru_cache(maxsize=2)
def all_synsets(wn) -> tuple:
    """Every synset of ``wn``, read once: NLTK parses the data files again on each
    ``all_synsets()`` call, and the network needs two passes."""
    return tuple(wn.all_synsets())


@lru_cache(maxsize=2)
def sense_probabilities(wn) -> dict[tuple[str, str], float]:
    """p(synset | word) for every (lemma, synset name): SemCor tag counts from the
    WordNet database's ``index.sense``, add-one smoothed over the word's synsets of
    every part of speech; uniform where the file is missing."""
    counts: dict[tuple[str, str, int], int] = {}
    try:
        with open(str(wn.abspath("index.sense")), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) != 4:
                    continue
                lemma, _, rest = fields[0].partition("%")
                kind = _SS_TYPE.get(rest[:1])
                if kind:
                    counts[(lemma.lower(), kind, int(fields[1]))] = int(fields[3])
    except OSError:
        pass
    by_word: dict[str, list] = defaultdict(list)
    for synset in all_synsets(wn):
        for lemma in synset.lemmas():
            by_word[lemma.name().lower()].append(synset)
    out = {}
    for word, synsets in by_word.items():
        c = [counts.get((word, "a" if s.pos() in "as" else s.pos(), s.offset()), 0) + 1 for s in synsets]
        total = sum(c)
        for s, k in zip(synsets, c):
            out[(word, s.name())] = k / total
    return out


_SS_TYPE = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}


def gloss_words(text: str, lemma_of) -> Iterable[tuple[str, int]]:
    """(lemma, sign) for each content word of a gloss; -1 after a negation, up to the
    end of its clause."""
    negated = False
    for token in _TOKEN.findall(text.lower()):
        if token in _CLAUSE_END:
            negated = False
            continue
        if token in NEGATIONS or token.endswith("n't"):
            negated = True
            continue
        word = lemma_of(token)
        if word is not None:
            yield word, -1 if negated else +1


def embedding_network(keyed_vectors, *, k: int = 10, min_similarity: float = 0.5,
                      words: Optional[Iterable[str]] = None, chunk: int = 2048,
                      weight: float = 1.0, within: Optional[Iterable[str]] = None) -> Network:
    """Link each word to its ``k`` nearest neighbours (cosine >= ``min_similarity``)
    in word vectors (gensim ``KeyedVectors``, e.g. from ``tsunagu embed train``).

    Distributional neighbours share contexts, which antonyms also do (良い/悪い), so
    these links are weaker evidence than dictionary links; ``min_similarity`` keeps
    only close neighbours. ``words`` restricts the words whose neighbours are linked
    (the neighbours themselves may be any vocabulary word); ``within`` restricts
    both ends to a set of words (e.g. the words of a WordNet network, so that a
    400,000-word GloVe vocabulary adds links, not names and numbers). ``weight``:
    of each link, against WordNet's links (a synonym pair of two single-sense words
    weighs 1)."""
    import numpy

    net = Network()
    vocab = keyed_vectors.index_to_key
    vectors = keyed_vectors.vectors
    if within is not None:
        within = set(within)
        keep = numpy.array([i for i, w in enumerate(vocab) if w in within], dtype="int64")
        vocab = [vocab[i] for i in keep]
        vectors = vectors[keep]
    vectors = unit_rows(vectors)
    position = {w: i for i, w in enumerate(vocab)}
    rows = numpy.arange(len(vocab)) if words is None else numpy.array(
        [position[w] for w in words if w in position], dtype="int64")
    k = min(k, len(vocab) - 1)
    if k < 1:
        return net
    for i, j in zip(*_nearest_pairs(vectors, rows, k, min_similarity, chunk)):
        net.link(vocab[i], vocab[j], weight)
    return net


def _nearest_pairs(vectors, rows, k: int, min_similarity: float, chunk: int):
    """(row, neighbour) index arrays: each row's ``k`` most similar other rows of the
    unit ``vectors`` with cosine >= ``min_similarity`` (torch's multi-threaded topk:
    several times faster than numpy's argpartition on a 46,000-word vocabulary)."""
    import numpy
    import torch

    table = torch.from_numpy(numpy.ascontiguousarray(vectors, dtype="float32"))
    sources, targets = [], []
    for start in range(0, len(rows), chunk):
        block = torch.from_numpy(rows[start:start + chunk])
        sims = table[block] @ table.T
        sims[torch.arange(len(block)), block] = -2.0  # not its own neighbour
        values, top = sims.topk(k, dim=1)
        keep = values >= min_similarity
        sources.append(block.unsqueeze(1).expand(-1, k)[keep].numpy())
        targets.append(top[keep].numpy())
    if not sources:
        return numpy.zeros(0, dtype="int64"), numpy.zeros(0, dtype="int64")
    return numpy.concatenate(sources), numpy.concatenate(targets)


def unit_rows(vectors):
    """The rows of ``vectors`` scaled to length 1; all-zero rows (GloVe has some) stay
    zero rather than becoming NaN as in gensim's ``get_normed_vectors``."""
    import numpy

    vectors = numpy.asarray(vectors, dtype="float32")
    norms = numpy.linalg.norm(vectors, axis=1, keepdims=True)
    return numpy.divide(vectors, norms, out=numpy.zeros_like(vectors), where=norms > 0)
