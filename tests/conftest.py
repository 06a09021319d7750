import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


_PIPELINES: dict = {}
_UNPATCHED: dict = {}


def _real_load():
    """``tsunagu.loading.load`` as the library defines it (the ``cli`` fixture
    replaces it for the duration of a test)."""
    import tsunagu.loading

    return _UNPATCHED.setdefault("load", tsunagu.loading.load)


def shared_pipeline(split_mode=None):
    """``tsunagu.load(split_mode=split_mode)``, built once per session: a load takes
    10-20 s (ja_ginza, its vectors, the polarity lexicons), most of the suite's time
    when every test and CLI call paid it."""
    if split_mode not in _PIPELINES:
        _PIPELINES[split_mode] = _real_load()(split_mode=split_mode)
    return _PIPELINES[split_mode]


@pytest.fixture(scope="session")
def nlp():
    return shared_pipeline()


@pytest.fixture(scope="session")
def wordnet():
    """WordNet 3.0 from ../shared/data, one reader for the session: the library caches
    what it derives from a reader (all synsets, sense probabilities) per reader, and
    deriving it costs seconds to minutes."""
    from tsunagu.lexicons.wordnet import open_wordnet

    if not (SHARED / "wordnet" / "corpora" / "wordnet" / "data.noun").exists():
        pytest.skip("WordNet not present in ../shared/data (only on developer and CI machines)")
    return open_wordnet(SHARED / "wordnet")


@pytest.fixture(scope="session")
def livedoor_dir():
    path = SHARED / "livedoor" / "text"
    if not path.is_dir():
        pytest.skip("Livedoor corpus not present in ../shared/data (only on developer and CI machines)")
    return path


@pytest.fixture
def one_torch_thread():
    """Tiny models on one torch thread: the machine is shared, and they run fastest so."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_cli(*args, timeout=300, check=True, **kwargs):
    """Run the installed ``tsunagu`` command in a subprocess: for the few tests that
    need a process of their own (signals, kill -9, a fresh interpreter); others use
    the in-process ``cli`` fixture."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "tsunagu", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, **kwargs,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tsunagu {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args, check=True)`` runs ``tsunagu ARGS`` in this process through
    ``tsunagu.cli.main`` and returns a ``subprocess.CompletedProcess`` (returncode,
    stdout, stderr), like ``run_cli``. The default pipeline (no --pipeline, no --set)
    is the session's, from ``shared_pipeline``: the command still parses its options,
    imports --code files and calls ``load``, which returns the pipeline that the same
    call built earlier in the session. torch's thread count is restored afterwards,
    since commands set it for the whole process."""
    import torch

    import tsunagu.loading
    from tsunagu.cli import main

    real_load = _real_load()

    def load(name=None, *, config=None, split_mode=None, **kwargs):
        if name is None and not config and not any(kwargs.values()):
            return shared_pipeline(split_mode)
        return real_load(name, config=config, split_mode=split_mode, **kwargs)

    monkeypatch.setattr(tsunagu.loading, "load", load)

    def run(*args, check=True):
        argv = [str(a) for a in args]
        capsys.readouterr()  # only this command's output
        threads = torch.get_num_threads()
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: usage errors, --help, --version
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            torch.set_num_threads(threads)
        out, err = capsys.readouterr()
        proc = subprocess.CompletedProcess(["tsunagu", *argv], code, out, err)
        if check and code != 0:
            raise AssertionError(f"tsunagu {' '.join(argv)} returned {code}:\n{out}\n{err}")
        return proc

    return run


def spacy_train(config, output, *overrides):
    """``python -m spacy train CONFIG -o OUTPUT OVERRIDES...`` in this process (its
    table goes to sys.stdout: read it with capsys). For tests whose point is the
    training; the tests that check that a fresh interpreter finds tsunagu through
    its entry points alone (test_textcat_lstm, test_transformer_minilm) keep
    ``python -m spacy train``."""
    from spacy.cli._util import parse_config_overrides
    from spacy.cli.train import train

    train(Path(config), Path(output), overrides=parse_config_overrides([str(a) for a in overrides]))


# -- the tsunagu_textcat_lstm component on synthetic tasks (test_textcat_head/_bow) --

def textcat_nlp(vocab, model, **component):
    """A blank pipeline over ``vocab`` with one ``tsunagu_textcat_lstm`` named "textcat"
    on one thread; ``component`` are its settings and ``model`` its model's."""
    import spacy

    nlp = spacy.blank("xx", vocab=vocab)
    nlp.add_pipe("tsunagu_textcat_lstm", name="textcat",
                 config={"n_threads": 1, **component, "model": model})
    return nlp


def start_training(nlp, examples, learn_rate):
    """Seed thinc, initialize ``nlp`` on ``examples`` and return the optimizer the
    tests train with: Adam, clipped at 1, no L2, no averages."""
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    return Adam(learn_rate=learn_rate, grad_clip=1.0, L2=0.0, use_averages=False)


def predict_cats(nlp, examples):
    """The "textcat" component's doc.cats for fresh copies of the examples' documents."""
    from spacy.tokens import Doc

    return [doc.cats for doc in nlp.get_pipe("textcat").pipe(
        Doc(nlp.vocab, words=[t.text for t in eg.predicted]) for eg in examples)]


def cats_accuracy(cats_list, examples):
    """Share of the examples whose top predicted label is their reference's top label."""
    import numpy

    return numpy.mean([max(cats, key=cats.get) == max(eg.reference.cats, key=eg.reference.cats.get)
                       for cats, eg in zip(cats_list, examples)])
