"""Lexical networks for the spin model (Takamura, Inui & Okumura, ACL 2005).

A network is a set of words and signed links. ``weights()`` turns it into the
symmetric sparse matrix the spin model uses, w_ij = s_ij / sqrt(d(i) d(j)), where
s_ij = ±1 is the sign of the sum of the signs of the relations between i and j (a
pair is one link, however many relations join it, as in the paper) and d(i) the
number of links of i. With one link per pair the positive part of W has spectral
radius 1, so the phase transition sits near β = 1 as the paper describes; counting
repeated relations as heavier links pushed it down to β ≈ 0.6 and cost accuracy. Networks from several sources combine with ``+``.

Links from WordNet (``wordnet_network``):
  G  a word and each word of the glosses of its synsets; negative when the gloss
     word follows a negation (not, no, never, without, lacking...) in its clause;
  T  synonyms (lemmas of one synset), antonyms (negative), hypernyms (a word and
     the lemmas of its synsets' hypernym synsets).
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

    links: dict = field(default_factory=lambda: defaultdict(int))  # (i, j) with i < j -> signed count
    words: dict = field(default_factory=dict)  # word -> index
    pos: dict = field(default_factory=dict)  # word -> set of POS

    def node(self, word: str, pos: Optional[str] = None) -> int:
        index = self.words.setdefault(word, len(self.words))
        if pos:
            self.pos.setdefault(word, set()).add(pos)
        return index

    def link(self, a: str, b: str, sign: int) -> None:
        if a == b:
            return
        i, j = self.node(a), self.node(b)
        self.links[(i, j) if i < j else (j, i)] += sign

    def __add__(self, other: "Network") -> "Network":
        out = Network()
        for net in (self, other):
            names = {i: w for w, i in net.words.items()}
            for w, i in net.words.items():
                out.node(w)
            for w, tags in net.pos.items():
                out.pos.setdefault(w, set()).update(tags)
            for (i, j), s in net.links.items():
                out.link(names[i], names[j], s)
        return out

    def weights(self):
        """The symmetric ``scipy.sparse.csr_matrix`` of w_ij = sign(s_ij) / sqrt(d(i) d(j))."""
        import numpy
        from scipy import sparse

        n = len(self.words)
        pairs = [(i, j, s) for (i, j), s in self.links.items() if s != 0]
        if not pairs:
            return sparse.csr_matrix((n, n))
        rows, cols, signs = (numpy.array(v) for v in zip(*pairs))
        signs = numpy.sign(signs)
        degree = numpy.bincount(numpy.concatenate([rows, cols]), minlength=n).astype("float64")
        values = signs / numpy.sqrt(degree[rows] * degree[cols])
        w = sparse.coo_matrix((values, (rows, cols)), shape=(n, n))
        return (w + w.T).tocsr()

    @property
    def index_to_word(self) -> list[str]:
        out = [""] * len(self.words)
        for w, i in self.words.items():
            out[i] = w
        return out


def wordnet_network(wn, *, glosses: bool = True, synonyms: bool = True, antonyms: bool = True,
                    hypernyms: bool = True, examples: bool = False) -> Network:
    """The G and T links of WordNet (``wn``: an NLTK WordNet reader)."""
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

    for synset in wn.all_synsets():
        pos = {"s": "a"}.get(synset.pos(), synset.pos())
        names = [lemma.name().lower() for lemma in synset.lemmas()]
        for name in names:
            net.node(name, pos)
        if synonyms:
            for a in names:
                for b in names:
                    if a < b:
                        net.link(a, b, +1)
        if antonyms:
            for lemma in synset.lemmas():
                for ant in lemma.antonyms():
                    net.link(lemma.name().lower(), ant.name().lower(), -1)
        if hypernyms:
            for hyper in synset.hypernyms() + synset.instance_hypernyms():
                for a in names:
                    for lemma in hyper.lemmas():
                        net.link(a, lemma.name().lower(), +1)
        if glosses:
            texts = [synset.definition()] + (synset.examples() if examples else [])
            for text in texts:
                for word, sign in gloss_words(text, lemma_of):
                    for a in names:
                        net.link(a, word, sign)
    return net


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
                      words: Optional[Iterable[str]] = None, chunk: int = 2048) -> Network:
    """Link each word to its ``k`` nearest neighbours (cosine >= ``min_similarity``)
    in word vectors (gensim ``KeyedVectors``, e.g. from ``tsunagu embed train``).

    Distributional neighbours share contexts, which antonyms also do (良い/悪い), so
    these links are weaker evidence than dictionary links; ``min_similarity`` keeps
    only close neighbours. ``words`` restricts the words whose neighbours are linked
    (the neighbours themselves may be any vocabulary word)."""
    import numpy

    net = Network()
    vocab = keyed_vectors.index_to_key
    vectors = keyed_vectors.get_normed_vectors()
    rows = numpy.arange(len(vocab)) if words is None else numpy.array(
        [keyed_vectors.key_to_index[w] for w in words if w in keyed_vectors.key_to_index], dtype="int64")
    for start in range(0, len(rows), chunk):
        block = rows[start:start + chunk]
        sims = vectors[block] @ vectors.T
        sims[numpy.arange(len(block)), block] = -1.0  # not its own neighbour
        top = numpy.argpartition(-sims, k, axis=1)[:, :k]
        for r, i in enumerate(block):
            for j in top[r]:
                if sims[r, j] >= min_similarity:
                    net.link(vocab[i], vocab[j], +1)
    return net
