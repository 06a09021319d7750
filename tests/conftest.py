import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def nlp():
    import tsunagu

    return tsunagu.load()


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
    """Run the installed ``tsunagu`` command in a subprocess."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "tsunagu", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, **kwargs,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tsunagu {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


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
