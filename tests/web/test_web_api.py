"""The annotation page's HTTP API in-process (Starlette's test client): answers,
undo, resume, review, and the security rules: token, Host header, cross-site
POSTs, escaping."""

import pytest
from starlette.testclient import TestClient

from tsunagu.active.store import LabelStore
from tsunagu.active.strategies import Margin
from tsunagu.active.team import ReviewSession, TeamSession
from tsunagu.active.web import create_app, hosts_for, needs_token, page_address

LABELS = ["pos", "neg"]
IDS = ["a", "b", "c", "d"]
TEXTS = ["良い。", "悪い。", "<script>alert(1)</script>&amp;", "普通。"]


@pytest.fixture
def store(tmp_path):
    with LabelStore(tmp_path / "web.db", threads=True) as s:
        yield s


def make_team(store, overlap=1):
    return TeamSession(store, store.open_session("w", LABELS), IDS, TEXTS, strategy=Margin(0),
                       overlap=overlap, log=lambda m: None)


def client(team, token=None, host="127.0.0.1"):
    app = create_app(team, token=token, allowed_hosts=hosts_for(host))
    return TestClient(app, base_url=f"http://{host}:8080")


def csrf_of(c):
    page = c.get("/").text
    return page.split('name="tsunagu-csrf" content="')[1].split('"')[0]


def post(c, path, payload, csrf, **headers):
    return c.post(path, json=payload, headers={"X-CSRF-Token": csrf, **headers})


def test_label_skip_undo_and_resume(store):
    team = make_team(store)
    c = client(team)
    csrf = csrf_of(c)
    first = c.get("/api/next", params={"annotator": "ann", "tab": "t1"}).json()
    assert first["labels"] == LABELS and first["progress"]["examples"] == 4
    eid = first["example"]["id"]
    r = post(c, "/api/answer", {"annotator": "ann", "tab": "t1", "example_id": eid, "label": "neg"}, csrf)
    assert r.status_code == 200 and r.json()["status"] == "saved"
    nxt = r.json()["example"]["id"]
    assert nxt != eid and r.json()["progress"]["yours"] == 1
    r = post(c, "/api/answer", {"annotator": "ann", "tab": "t1", "example_id": nxt, "skip": True}, csrf)
    assert r.json()["status"] == "saved"
    r = post(c, "/api/undo", {"annotator": "ann", "tab": "t1"}, csrf)
    assert r.json()["undone"]["example_id"] == nxt and r.json()["example"]["id"] == nxt
    # a new server on the same store (a restart): the labelled example is not offered again
    c2 = client(make_team(store))
    shown = set()
    csrf2 = csrf_of(c2)
    assert csrf2 == csrf            # the secret lives in the store: open pages survive a restart
    view = c2.get("/api/next", params={"annotator": "ann", "tab": "t9"}).json()
    while view["example"] is not None:
        shown.add(view["example"]["id"])
        view = post(c2, "/api/answer", {"annotator": "ann", "tab": "t9", "example_id": view["example"]["id"],
                                        "label": "pos"}, csrf2).json()
    assert shown == set(IDS) - {eid}
    assert {a.example_id: a.label for a in store.labels(store.session("w"))}[eid] == "neg"


def test_bad_answers_get_clear_errors_and_store_nothing(store):
    c = client(make_team(store))
    csrf = csrf_of(c)
    r = post(c, "/api/answer", {"annotator": "ann", "example_id": "zzz", "label": "pos"}, csrf)
    assert r.status_code == 404 and "no example 'zzz'" in r.json()["error"]
    r = post(c, "/api/answer", {"annotator": "ann", "example_id": "a", "label": "meh"}, csrf)
    assert r.status_code == 400 and "not one of the session's labels" in r.json()["error"]
    r = post(c, "/api/answer", {"annotator": "ann", "example_id": "a"}, csrf)
    assert r.status_code == 400 and "label or skip" in r.json()["error"]
    r = post(c, "/api/answer", {"annotator": "", "example_id": "a", "label": "pos"}, csrf)
    assert r.status_code == 400 and "needs a name" in r.json()["error"]
    r = c.post("/api/answer", content=b"\xff\xfe", headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = c.post("/api/answer", content=b"[1]", headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    assert store.answers(store.session("w")) == []


def test_cross_site_posts_are_refused(store):
    c = client(make_team(store))
    csrf = csrf_of(c)
    ok = {"annotator": "ann", "example_id": "a", "label": "pos"}
    assert post(c, "/api/answer", ok, "wrong").status_code == 403
    assert c.post("/api/answer", json=ok).status_code == 403                       # no token header
    assert c.post("/api/answer", data={"annotator": "ann"}, headers={"X-CSRF-Token": csrf}).status_code == 415
    r = post(c, "/api/answer", ok, csrf, Origin="http://evil.example")
    assert r.status_code == 403 and "origin" in r.json()["error"]
    assert c.put("/api/answer", json=ok, headers={"X-CSRF-Token": csrf}).status_code == 405
    assert store.answers(store.session("w")) == []
    assert post(c, "/api/answer", ok, csrf, Origin="http://127.0.0.1:8080").json()["status"] == "saved"


def test_dns_rebinding_host_is_refused(store):
    c = client(make_team(store))
    r = c.get("/api/next", params={"annotator": "ann"}, headers={"Host": "attacker.example:8080"})
    assert r.status_code == 400 and "host" in r.json()["error"]
    assert c.get("/api/next", params={"annotator": "ann"}, headers={"Host": "localhost:8080"}).status_code == 200


def test_token_protected_server_refuses_requests_without_it(store):
    team = make_team(store)
    c = client(team, token="s3cret", host="10.1.2.3")
    for path in ("/", "/static/app.js", "/api/next?annotator=ann"):
        r = c.get(path)
        assert r.status_code == 401 and "access token" in r.json()["error"], path
    assert c.get("/", headers={"X-Tsunagu-Token": "nope"}).status_code == 401
    r = c.get("/?token=s3cret")
    assert r.status_code == 200 and "tsunagu_token=s3cret" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    # the test client keeps the cookie, as a browser does: the page's API calls work
    assert c.get("/api/next", params={"annotator": "ann"}).status_code == 200
    fresh = client(team, token="s3cret", host="10.1.2.3")
    assert fresh.get("/api/next", params={"annotator": "ann"}, headers={"X-Tsunagu-Token": "s3cret"}).status_code == 200
    assert needs_token("0.0.0.0") and needs_token("192.168.0.5") and not needs_token("127.0.0.1")
    assert not needs_token("::1") and not needs_token("localhost")
    assert page_address("0.0.0.0", 8080, "tok") == "http://127.0.0.1:8080/?token=tok"


def test_text_is_data_never_markup(store):
    c = client(make_team(store))
    page = c.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text.replace('<script src="static/app.js" defer></script>', "")
    js = c.get("/static/app.js").text
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
    seen = []
    csrf = csrf_of(c)
    view = c.get("/api/next", params={"annotator": "ann"}).json()
    while view["example"]:
        seen.append(view["example"]["text"])
        view = post(c, "/api/answer", {"annotator": "ann", "example_id": view["example"]["id"], "label": "pos"},
                    csrf).json()
    assert TEXTS[2] in seen    # the JSON carries the text exactly; the page sets it as textContent


def test_review_api(store):
    s = store.open_session("w", LABELS)
    store.annotate(s, "a", TEXTS[0], "pos", "ann")
    store.annotate(s, "a", TEXTS[0], "neg", "bob")
    store.annotate(s, "b", TEXTS[1], "neg", "ann")
    store.annotate(s, "b", TEXTS[1], "neg", "bob")
    c = client(ReviewSession(store, s, log=lambda m: None))
    csrf = csrf_of(c)
    assert 'data-mode="review"' in c.get("/").text
    view = c.get("/api/next", params={"annotator": "rev"}).json()
    assert view["example"]["id"] == "a" and view["example"]["answers"] == {"ann": "pos", "bob": "neg"}
    view = post(c, "/api/answer", {"annotator": "rev", "example_id": "a", "label": "neg"}, csrf).json()
    assert view["status"] == "saved" and view["example"] is None and view["progress"]["reviewed"] == 1
    (final,) = [f for f in store.final_labels(s) if f.example_id == "a"]
    assert (final.label, final.decided_by) == ("neg", "review")
