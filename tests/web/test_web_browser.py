"""The annotation page in a real headless Chromium: label with the keyboard, undo,
reload and resume, two annotators with overlap 2, agreement from their answers,
review of a disagreement, export, a server killed with -9 and restarted, and a
token-protected server."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from browser import chromium, free_port, press, running, shown_id, status, wait_status
from tsunagu.active.store import LabelStore
from tsunagu.active.strategies import Margin
from tsunagu.active.team import ReviewSession, TeamSession
from tsunagu.active.web import create_app, hosts_for

LABELS = ["positive", "negative"]
TEXTS = {f"s{i}": t for i, t in enumerate([
    "売上高は前年より大きく増加しました。", "営業損失が拡大しました。", "新製品の評判はとても良い。",
    "サービスの対応が遅くて残念だった。", "<b>太字</b>ではなく文字として表示されること。", "今日は晴れです。"])}


@pytest.fixture(scope="module")
def driver():
    d = chromium()
    yield d
    d.quit()


def team_for(store, overlap):
    session = store.open_session("web", LABELS)
    return TeamSession(store, session, list(TEXTS), list(TEXTS.values()), strategy=Margin(0), overlap=overlap,
                       log=lambda m: None)


def test_two_annotators_keyboard_undo_reload_agreement_review_export(driver, tmp_path, cli):
    db = tmp_path / "labels.db"
    with LabelStore(db, threads=True) as store:
        team = team_for(store, overlap=2)
        with running(create_app(team, allowed_hosts=hosts_for("127.0.0.1")), free_port()) as url:
            driver.get(f"{url}/?annotator=ann")
            first = shown_id(driver)
            assert driver.find_element("id", "text").text == TEXTS[first]
            assert "answered by you" in driver.find_element("id", "progress").text
            press(driver, "1")
            wait_status(driver, f"saved {first} = positive")
            second = shown_id(driver, not_=first)
            press(driver, "u")                                   # undo: the first example again
            wait_status(driver, f"undone: {first}")
            assert shown_id(driver) == first
            assert store.answers(store.session("web")) == []
            press(driver, "2")
            wait_status(driver, f"saved {first} = negative")
            assert shown_id(driver, not_=first) == second
            assert "labels: positive 0, negative 1" in driver.find_element("id", "progress").text
            driver.refresh()                                     # reload: the same example, not a new one
            assert shown_id(driver) == second
            answers = {"ann": {}, "bob": {}}
            answers["ann"][first] = "negative"
            # ann labels the rest: s4 (markup in the text) shows as text
            while (eid := shown_id(driver)) != "":
                if eid == "s4":
                    assert driver.find_element("id", "text").text == TEXTS["s4"]
                    assert not driver.find_elements("css selector", "#text b")
                key = "1" if int(eid[1:]) % 2 == 0 else "2"
                press(driver, key)
                wait_status(driver, f"saved {eid}")
                answers["ann"][eid] = LABELS[int(key) - 1]
            assert "Nothing left for you" in driver.find_element("id", "done").text
            # bob, in a second tab, gets every example too (overlap 2) and disagrees on two
            driver.switch_to.new_window("tab")
            driver.get(f"{url}/?annotator=bob")
            while (eid := shown_id(driver)) != "":
                label = answers["ann"][eid]
                if eid in ("s0", "s1"):
                    label = "negative" if label == "positive" else "positive"
                press(driver, str(LABELS.index(label) + 1))
                wait_status(driver, f"saved {eid}")
                answers["bob"][eid] = label
            driver.close()
            driver.switch_to.window(driver.window_handles[0])
        stored = {(a.annotator, a.example_id): a.label for a in store.answers(store.session("web"))}
        assert stored == {(name, e): l for name, got in answers.items() for e, l in got.items()}
        team.close()

    out = cli("al", "agreement", "web", "--db", str(db), "--json")
    report = json.loads(out.stdout)
    assert report["overlapping"] == 6 and report["annotators"] == ["ann", "bob"]
    assert report["pairs"][0]["agreed"] == 4 and report["pairs"][0]["shared"] == 6
    assert {d["example_id"] for d in report["disagreements"]} == {"s0", "s1"}

    with LabelStore(db, threads=True) as store:
        review = ReviewSession(store, store.session("web"), log=lambda m: None)
        with running(create_app(review, allowed_hosts=hosts_for("127.0.0.1")), free_port()) as url:
            driver.get(f"{url}/?reviewer=rev")
            eid = shown_id(driver)
            assert eid in ("s0", "s1")
            listed = driver.find_element("id", "answers").text
            assert f"ann: {answers['ann'][eid]}" in listed and f"bob: {answers['bob'][eid]}" in listed
            press(driver, "1")
            wait_status(driver, f"saved {eid} = positive")
            other = shown_id(driver, not_=eid)
            press(driver, "2")
            wait_status(driver, f"saved {other} = negative")
            assert shown_id(driver) == "" and "reviewed" in driver.find_element("id", "done").text

    cli("al", "export", "web", str(tmp_path / "final.jsonl"), "--db", str(db))
    final = {r["id"]: r for r in map(json.loads, (tmp_path / "final.jsonl").read_text().splitlines())}
    assert final[eid]["label"] == "positive" and final[eid]["meta"]["reviewer"] == "rev"
    assert final[other]["label"] == "negative" and final[other]["meta"]["decided_by"] == "review"
    agreed = [e for e in TEXTS if e not in (eid, other)]
    assert all(final[e]["label"] == answers["ann"][e] and final[e]["meta"]["decided_by"] == "majority"
               for e in agreed)
    assert {a["annotator"]: a["labels"][0] for a in final[eid]["meta"]["answers"]} == {
        "ann": answers["ann"][eid], "bob": answers["bob"][eid]}


def start_server(tmp_path, port, *extra):
    source = tmp_path / "source.jsonl"
    if not source.exists():
        source.write_text("".join(json.dumps({"id": k, "text": t}, ensure_ascii=False) + "\n"
                                  for k, t in TEXTS.items()), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsunagu", "annotate", "kill", "--source", str(source), "--labels",
         ",".join(LABELS), "--db", str(tmp_path / "kill.db"), "--web", "--no-browser", "--port", str(port),
         "--retrain-every", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    end = time.monotonic() + 120
    while time.monotonic() < end:
        line = proc.stdout.readline()
        lines.append(line)
        if "annotation page:" in line:
            return proc, line.split("annotation page:")[1].strip(), lines
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def test_killed_server_loses_no_acknowledged_answer(driver, tmp_path):
    port = free_port()
    proc, _, _ = start_server(tmp_path, port)
    acknowledged = {}
    try:
        driver.get(f"http://127.0.0.1:{port}/?annotator=kim")
        for i in range(3):
            eid = shown_id(driver)
            press(driver, "1" if i % 2 == 0 else "2")
            wait_status(driver, f"saved {eid}")          # the page shows "saved" only after the commit
            acknowledged[eid] = LABELS[i % 2]
        assert shown_id(driver) not in acknowledged
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    proc, _, _ = start_server(tmp_path, port)
    try:
        with LabelStore(tmp_path / "kill.db") as store:
            assert {a.example_id: a.label for a in store.labels(store.session("kill"))} == acknowledged
            assert store.integrity_check() == "ok"
        driver.refresh()                                  # the open page carries on after the restart
        eid = shown_id(driver)
        # Leases live in the server's memory: after the restart the page gets an
        # example nobody answered (the ranking may have moved on), never a labelled one.
        assert eid and eid not in acknowledged
        press(driver, "1")
        wait_status(driver, f"saved {eid}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    with LabelStore(tmp_path / "kill.db") as store:
        assert len(store.labels(store.session("kill"))) == 4


def test_token_protected_server_refuses_requests_without_the_token(driver, tmp_path):
    db = tmp_path / "tok.db"
    with LabelStore(db, threads=True) as store:
        team = team_for(store, overlap=1)
        app = create_app(team, token="letmein", allowed_hosts=hosts_for("127.0.0.1"))
        with running(app, free_port()) as url:
            driver.get(f"{url}/?annotator=tia")
            assert "access token" in driver.find_element("tag name", "body").text
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"{url}/api/next?annotator=tia")
            assert err.value.code == 401
            driver.get(f"{url}/?annotator=tia&token=letmein")
            eid = shown_id(driver)
            press(driver, "1")
            wait_status(driver, f"saved {eid}")
            assert status(driver).startswith("saved")
        assert len(store.labels(store.session("web"))) == 1
