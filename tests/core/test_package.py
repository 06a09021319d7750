"""Packaging: the namespace mapping, package data, entry points, light imports."""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import tsunagu
from tsunagu.corpora import sample_corpus_path

from conftest import REPO


def test_namespace_maps_to_the_product_layout():
    import tsunagu.components
    import tsunagu.corpora
    import tsunagu.lexicons

    assert Path(tsunagu.__file__).parent == REPO / "pipeline"
    assert Path(tsunagu.components.__file__).parent == REPO / "components"
    assert Path(tsunagu.lexicons.__file__).parent == REPO / "lexicons"
    assert Path(tsunagu.corpora.__file__).parent == REPO / "corpora"


def test_package_data_loads_through_importlib_resources():
    assert tsunagu.default_config_path().read_text(encoding="utf-8").startswith("#")
    assert sample_corpus_path().stat().st_size > 10_000


SPACY_GROUPS = ("spacy_factories", "spacy_architectures", "spacy_tokenizers", "spacy_callbacks",
                "spacy_readers", "spacy_batchers", "spacy_scorers", "spacy_misc", "spacy_loggers",
                "spacy_vectors", "thinc_optimizers")


def _tsunagu_entry_points():
    return [ep for group in SPACY_GROUPS for ep in metadata.entry_points(group=group)
            if ep.value.startswith("tsunagu.")]


def test_every_registered_function_has_an_entry_point():
    names = {(ep.group, ep.name) for ep in _tsunagu_entry_points()}
    assert ("spacy_tokenizers", "tsunagu.JapaneseTokenizer.v1") in names
    assert ("spacy_callbacks", "tsunagu.vectors_from_package.v1") in names
    for ep in _tsunagu_entry_points():
        assert callable(ep.load()), ep


def test_entry_point_modules_need_no_heavy_library():
    # spaCy imports entry-point modules whenever any Language is created. thinc
    # itself imports torch when it is installed, so "light" is checked by blocking
    # torch, gensim and transformers outright: spaCy still works without them, and
    # so must every tsunagu module an entry point names. Each name is looked up on
    # its own (catalogue then loads only that entry point): creating a Language would
    # also load spacy-transformers' factories, which need torch. The interpreter
    # never imports tsunagu directly: spaCy must find our names through the entry points.
    code = (
        "import sys\n"
        "for heavy in ('torch', 'gensim', 'transformers', 'spacy_transformers'):\n"
        "    sys.modules[heavy] = None\n"
        "import spacy, thinc.api\n"
        "from importlib.metadata import entry_points\n"
        f"for group in {SPACY_GROUPS!r}:\n"
        "    owner, _, kind = group.partition('_')\n"
        "    registry = spacy.registry if owner == 'spacy' else thinc.api.registry\n"
        # Factories' entry points live in a registry of their own.
        "    kind = '_entry_point_factories' if kind == 'factories' else kind\n"
        "    for ep in entry_points(group=group):\n"
        "        if ep.value.startswith('tsunagu.'):\n"
        "            assert getattr(registry, kind).get(ep.name), ep.name\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_console_script_is_installed():
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("tsunagu") == "tsunagu.cli:main"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    command = 'python3 -m pip install -e ".[test,ray]" && python3 -m ruff check . && python3 -m pytest'
    assert command in readme
    assert command in ci
