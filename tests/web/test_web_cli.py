"""`tsunagu annotate --web/--review` and `tsunagu al agreement` from the command
line: clear errors, the token rule, the agreement report."""

import json
import socket

import pytest

from tsunagu.active.errors import ActiveLearningError
from tsunagu.active.store import LabelStore
from tsunagu.active.strategies import Margin
from tsunagu.active.team import TeamSession
from tsunagu.active.web import serve


def test_review_needs_web_and_annotate_needs_a_source(cli, tmp_path):
    db = tmp_path / "l.db"
    with LabelStore(db) as s:
        s.open_session("x", ["a", "b"])
    r = cli("annotate", "x", "--review", "--db", db, check=False)
    assert r.returncode != 0 and "--review works in the browser: add --web" in r.stderr
    r = cli("annotate", "x", "--web", "--db", db, check=False)
    assert r.returncode != 0 and "--source" in r.stderr
    r = cli("annotate", "x", "--review", "--web", "--db", tmp_path / "none.db", check=False)
    assert r.returncode != 0 and "no label database" in r.stderr
    r = cli("annotate", "x", "--web", "--overlap", "0", "--db", db, check=False)
    assert r.returncode != 0 and "overlap" in r.stderr
    r = cli("annotate", "x", "--web", "--token", " ", "--source", "s.jsonl", "--db", db, check=False)
    assert r.returncode != 0


def test_serving_beyond_loopback_needs_a_token_and_a_busy_port_is_named(tmp_path):
    with LabelStore(tmp_path / "l.db") as store:
        team = TeamSession(store, store.open_session("x", ["a", "b"]), ["1"], ["t"], strategy=Margin(0),
                           log=lambda m: None)
        with pytest.raises(ActiveLearningError, match="needs an access token"):
            serve(team, host="0.0.0.0", port=1, open_browser=False)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with pytest.raises(ActiveLearningError, match=f"cannot serve on 127.0.0.1:{port}.*--port"):
                serve(team, host="127.0.0.1", port=port, open_browser=False)


def test_agreement_command(cli, tmp_path):
    db = tmp_path / "l.db"
    with LabelStore(db) as s:
        session = s.open_session("x", ["a", "b"])
        for i, (first, second) in enumerate([("a", "a"), ("b", "b"), ("a", "b"), ("b", "b"), ("a", "a")]):
            s.annotate(session, f"e{i}", f"text {i}", first, "ann")
            s.annotate(session, f"e{i}", f"text {i}", second, "bob")
    out = cli("al", "agreement", "x", "--db", db).stdout
    assert "Krippendorff's alpha (nominal): 0.640" in out
    assert "ann / bob: 0.615, agreed on 4/5" in out
    assert "e2: ann=a, bob=b" in out
    report = json.loads(cli("al", "agreement", "x", "--db", db, "--json").stdout)
    # alpha by hand: 10 answers (a:5, b:5), one disagreeing pair of 5 examples.
    # D_o = 2/10 (coincidences a-b and b-a), D_e = 2*5*5/(10*9); alpha = 1 - D_o/D_e = 0.64
    assert report["alpha"] == pytest.approx(1 - (2 / 10) / (2 * 5 * 5 / (10 * 9)))
    assert report["confusion"] == {"a": {"a": 4, "b": 1}, "b": {"a": 1, "b": 4}}
