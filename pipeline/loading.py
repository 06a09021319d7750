"""``tsunagu.load()``: build the pipeline from a config shipped in the package."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import spacy
from confection import Config, ConfigValidationError
from spacy import util
from spacy.language import Language

from .errors import ConfigError, ModelNotFoundError, UnknownComponentError
from .extensions import register_extensions

SPLIT_MODES = ("A", "B", "C")
DEFAULT_CONFIG = "default.cfg"


def default_config_path() -> Path:
    """Path of the pipeline config shipped in the package."""
    return Path(str(resources.files("tsunagu") / "configs" / DEFAULT_CONFIG))


def load(
    name: Union[str, Path, None] = None,
    *,
    config: Union[Mapping[str, Any], Config, None] = None,
    split_mode: Optional[str] = None,
    disable: Iterable[str] = (),
    enable: Iterable[str] = (),
    exclude: Iterable[str] = (),
    vectors: Union[str, Path, None] = None,
    polarity: Union[str, Path, None] = None,
) -> Language:
    """Build tsunagu's pipeline, a ``spacy.Language``.

    name: ``None`` for the shipped config, a path to a ``.cfg`` file, or a pipeline
        saved with ``nlp.to_disk`` (or an installed pipeline package).
    config: overrides as in ``spacy.load(..., config=...)``: dotted keys
        (``{"nlp.batch_size": 64}``) or a nested dict / ``Config``.
    split_mode: Sudachi unit of the tokens users see: "A" (short), "B" (middle)
        or "C" (named-entity length, the default). Parsing always runs on C units;
        GiNZA's compound splitter then splits them.
    disable / enable / exclude: component names, as in ``spacy.load``.
    vectors: a directory written by ``tsunagu embed train``; adds the
        ``token_vectors`` component so that ``token.vector`` and ``similarity`` use
        them. Unless ``split_mode`` is given, tokens use the split mode the vectors
        were trained with.
    polarity: a polarity model directory: the ``model-best`` of ``spacy train
        configs/polarity.cfg`` or the output of ``tsunagu polarity adapt``. Its
        classifier then scores each sentence after the parser
        (``tsunagu_polarity_model``): ``span._.polarity`` and ``doc._.polarity`` come
        from it, ``token._.polarity`` stays the lexicon's.
    """
    register_extensions()
    overrides = _flatten_overrides(config)
    vectors_meta = None
    if vectors is not None:
        from .embeddings import read_meta

        vectors_meta = read_meta(vectors)
        if split_mode is None and vectors_meta["split_mode"] != "C":
            split_mode = vectors_meta["split_mode"]
    if split_mode is not None:
        if split_mode not in SPLIT_MODES:
            raise ConfigError(
                f"split_mode must be one of {', '.join(SPLIT_MODES)}, not {split_mode!r}. "
                "A is the shortest Sudachi unit, C the longest (GiNZA's default)."
            )
        overrides["components.compound_splitter.split_mode"] = split_mode
    disable, enable, exclude = list(disable), list(enable), list(exclude)

    path = default_config_path() if name is None else Path(name)
    if path.is_file():
        cfg = _load_config_file(path, overrides)
        _check_component_names(cfg, disable + enable + exclude, overrides)
        _check_sources(cfg)
        build = lambda: util.load_model_from_config(  # noqa: E731
            cfg, disable=disable, enable=enable, exclude=exclude, auto_fill=True, validate=True
        )
    else:
        if not path.exists() and not util.is_package(str(name)):
            raise ModelNotFoundError(
                f"No pipeline config file, saved pipeline or installed package named '{name}'. "
                "Call tsunagu.load() for the default pipeline, or give the path of a .cfg file "
                "or of a directory written by nlp.to_disk()."
            )
        build = lambda: spacy.load(  # noqa: E731
            name, config=overrides, disable=disable, enable=enable, exclude=exclude
        )
    if polarity is not None and not Path(polarity).is_dir():
        raise ModelNotFoundError(
            f"No polarity model directory at {polarity}: give the model-best directory of "
            "`spacy train configs/polarity.cfg` or the output of `tsunagu polarity adapt`.")
    nlp = _explain_errors(build)
    if vectors is not None:
        nlp.add_pipe("tsunagu_vectors", name="token_vectors", config={"path": str(Path(vectors).resolve())})
    if polarity is not None:
        if "polarity" not in nlp.pipe_names:
            raise ConfigError("polarity=DIR needs the pipeline's polarity pipe (it was excluded or "
                              "the config has none): the model runs after it.")
        pipe = nlp.add_pipe("tsunagu_polarity_model", name="polarity_model", after="polarity",
                            config={"path": str(Path(polarity).resolve())})
        pipe._ensure_loaded()  # a bad directory fails here, not on the first text
        adapted = Path(polarity) / "lexicon.tsv"
        if adapted.is_file():  # tsunagu polarity adapt's corpus-linked words
            from .polarity.adapt import use_adapted_lexicon

            use_adapted_lexicon(nlp.get_pipe("polarity"), adapted)
    return nlp


def _flatten_overrides(config) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config must be a dict of overrides such as {{'nlp.batch_size': 64}}, "
            f"not {type(config).__name__}."
        )
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value and not prefix.endswith("@"):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            flat[prefix] = value

    for key, value in config.items():
        if "." in str(key) or not isinstance(value, Mapping):
            flat[str(key)] = value
        else:
            walk(str(key), value)
    return flat


def _load_config_file(path: Path, overrides: dict[str, Any]) -> Config:
    try:
        base = util.load_config(path, interpolate=False)
    except Exception as e:  # confection raises several types on syntax errors
        raise ConfigError(f"Cannot parse the pipeline config {path}: {e}") from e
    for key in overrides:
        section, _, leaf = key.rpartition(".")
        node: Any = base
        for part in section.split(".") if section else []:
            if not isinstance(node, Mapping) or part not in node:
                close = difflib.get_close_matches(section, _sections(base), n=3)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise ConfigError(
                    f"The override '{key}' names the section [{section}], which the config "
                    f"{path.name} does not have.{hint} Overrides change existing sections, as in "
                    "spaCy; to add a component, write a config file and load that."
                )
            node = node[part]
    try:
        return util.load_config(path, overrides=overrides, interpolate=True)
    except ConfigValidationError as e:
        raise ConfigError(f"Invalid config override: {e}") from e


def _sections(cfg: Mapping, prefix: str = "") -> list[str]:
    out = []
    for key, value in cfg.items():
        if isinstance(value, Mapping):
            name = f"{prefix}.{key}" if prefix else key
            out.append(name)
            out.extend(_sections(value, name))
    return out


def _check_component_names(cfg: Config, names: list[str], overrides: dict[str, Any]) -> None:
    pipeline = list(cfg["nlp"].get("pipeline", []))
    components = cfg.get("components", {})
    for name in pipeline:
        if name not in components:
            raise UnknownComponentError(
                f"[nlp] pipeline lists '{name}' but the config has no [components.{name}] "
                "section. Add the section or remove the name from the pipeline."
            )
    for name in names:
        if name not in pipeline:
            raise UnknownComponentError(
                f"Unknown component '{name}'. This pipeline has: {', '.join(pipeline)}."
            )


def _check_sources(cfg: Config) -> None:
    for name, section in cfg.get("components", {}).items():
        source = section.get("source") if isinstance(section, Mapping) else None
        if source is None:
            continue
        if not Path(str(source)).exists() and not util.is_package(str(source)):
            raise ModelNotFoundError(
                f"Component '{name}' is taken from the pipeline package '{source}', which is "
                f"not installed. Install it with `pip install {source}`"
                + (" (GiNZA's Japanese model)." if source == "ja_ginza" else ".")
            )


def _explain_errors(build):
    try:
        return build()
    except ConfigValidationError as e:
        raise ConfigError(f"The pipeline config is invalid:\n{e}") from e
    except (ValueError, KeyError) as e:
        message = str(e)
        if "[E002]" in message:
            raise UnknownComponentError(
                f"{message}\nA component's factory is not registered. If it comes from a "
                "package, install that package (tsunagu's own factories register through "
                "entry points when tsunagu is installed)."
            ) from e
        if "[E001]" in message or "[E913]" in message:
            raise UnknownComponentError(message) from e
        raise
    except OSError as e:
        if "[E050]" in str(e) or "[E053]" in str(e):
            raise ModelNotFoundError(f"{e}\nInstall the missing pipeline package with pip.") from e
        raise
