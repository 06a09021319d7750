"""Registered config callbacks."""

from __future__ import annotations

from pathlib import Path

import spacy
from spacy import util

from .errors import ModelNotFoundError


def pipeline_data_path(name: str) -> Path:
    """Directory holding a pipeline's ``config.cfg``: an installed package or a path."""
    path = Path(name)
    if not path.exists():
        if not util.is_package(name):
            raise ModelNotFoundError(
                f"The spaCy pipeline '{name}' is neither an installed package nor a "
                f"directory. Install it with `pip install {name}` (GiNZA's model is "
                "`pip install ja_ginza`), or give the path of a saved pipeline."
            )
        path = util.get_package_path(name)
    if (path / "config.cfg").exists():
        return path
    # Installed model packages keep their data in a versioned sub-directory.
    for child in sorted(path.iterdir()):
        if (child / "config.cfg").exists():
            return child
    raise ModelNotFoundError(f"No config.cfg found in the pipeline '{name}' at {path}.")


@spacy.registry.callbacks("tsunagu.vectors_from_package.v1")
def create_vectors_from_package(source: str):
    """Install the static word vectors of ``source`` (a package name or a pipeline
    directory) into the new pipeline's vocab.

    Components sourced from another pipeline keep their weights, but spaCy restores
    the new pipeline's own (empty) vectors after sourcing. GiNZA's tok2vec reads
    static vectors, so without this it would index an empty table.
    """

    def install_vectors(nlp):
        vocab_dir = pipeline_data_path(source) / "vocab"
        if not (vocab_dir / "vectors").exists():
            raise ModelNotFoundError(f"The pipeline '{source}' has no vectors in {vocab_dir}.")
        nlp.vocab.vectors.from_disk(vocab_dir, exclude=["strings"])
        return nlp

    return install_vectors


@spacy.registry.callbacks("tsunagu.vectors_from_embeddings.v1")
def create_vectors_from_embeddings(path: str):
    """Install vectors trained by ``tsunagu embed train`` as the pipeline's own
    ``nlp.vocab.vectors`` (for ``[initialize.before_init]`` in a training config, in
    place of ``[initialize] vectors``). They are keyed by the form named in their
    ``meta.json`` (lemma by default): set the classifier's ``attr`` to match
    ("LEMMA", "NORM" or "ORTH"). Only the directory's ``spacy_vocab/`` (numpy and
    msgpack) and ``meta.json`` are read, so nothing in it runs code."""

    def install_vectors(nlp):
        from spacy.vectors import Vectors

        from .embeddings import load_spacy_vocab

        source = load_spacy_vocab(path).vectors
        keys = [int(k) for k in source.keys()]
        rows = [source.key2row[k] for k in keys]
        nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=source.data[rows],
                                    keys=keys, name=source.name)
        return nlp

    return install_vectors
