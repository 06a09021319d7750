"""Latency of the web annotation page: from an answer to the next example shown.

The real server (`tsunagu annotate NAME --web`, a subprocess on 127.0.0.1) labels
Livedoor news titles (9 categories, keys 1-9) with overlap 2, retraining the
default model (spaCy's TextCatBOW) every 10 labels in its background thread and
re-ranking the pool with margin sampling. Ten simulated annotators (threads, one
keep-alive HTTP connection each, as a browser tab has) answer with the gold
category, or with another one 10% of the time; each waits a think time between
answers. What is timed is the POST of an answer until its reply, which carries
the next example, is read: the page renders that reply at once.

Two phases on the same server: ``--think`` (default 0.2-1.0 s, a fast human) and
no think time at all (a stress test: ten clients answering back to back). Both
report p50/p95/p99 and how many answers arrived while a retraining was running.
``--screenshot PNG`` saves the page as an annotator sees it (headless Chromium).

    python benchmarks/bench_annotate_web.py [--answers 100] [--out benchmarks/out/annotate_web]
        [--screenshot docs/annotate-web.png]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIVEDOOR = ROOT.parent / "shared" / "data" / "livedoor" / "text"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(source: Path, db: Path, labels: list[str], port: int, retrain_every: int):
    cmd = [sys.executable, "-m", "tsunagu", "annotate", "bench", "--source", str(source), "--labels",
           ",".join(labels), "--db", str(db), "--web", "--no-browser", "--port", str(port), "--overlap", "2",
           "--retrain-every", str(retrain_every), "--strategy", "margin"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    t0 = time.perf_counter()
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "annotation page:" in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, time.perf_counter() - t0
    raise SystemExit("the server did not start:\n" + "".join(lines))


class Annotator(threading.Thread):
    def __init__(self, name, port, csrf, gold, labels, answers, think, seed):
        super().__init__(daemon=True)
        self.name_, self.port, self.csrf, self.gold, self.labels = name, port, csrf, gold, labels
        self.answers, self.think = answers, think
        self.rng = random.Random(seed)
        self.samples: list[tuple[float, bool, int]] = []  # (seconds, retraining, trained_on)
        self.error = None

    def request(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data}")
        return data

    def run(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            view = self.request(conn, "GET", f"/api/next?annotator={self.name_}&tab=t")
            for _ in range(self.answers):
                if view["example"] is None:
                    break
                if self.think:
                    time.sleep(self.rng.uniform(*self.think))
                eid = view["example"]["id"]
                label = self.gold[eid]
                if self.rng.random() < 0.1:
                    label = self.rng.choice([l for l in self.labels if l != label])
                t0 = time.perf_counter()
                view = self.request(conn, "POST", "/api/answer",
                                    {"annotator": self.name_, "tab": "t", "example_id": eid, "label": label})
                self.samples.append((time.perf_counter() - t0, view["model"]["retraining"],
                                     view["model"]["trained_on"]))
        except Exception as e:  # reported by the main thread
            self.error = e


def phase(port, csrf, gold, labels, names, answers, think, seed):
    threads = [Annotator(n, port, csrf, gold, labels, answers, think, seed + i) for i, n in enumerate(names)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    errors = [t.error for t in threads if t.error]
    if errors:
        raise SystemExit(f"an annotator failed: {errors[0]}")
    samples = [s for t in threads for s in t.samples]
    ms = sorted(s[0] * 1000 for s in samples)

    def pct(p):
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]

    return {"answers": len(ms), "wall_s": wall, "answers_per_s": len(ms) / wall,
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "max_ms": ms[-1],
            "mean_ms": statistics.fmean(ms), "while_retraining": sum(s[1] for s in samples),
            "trained_on_max": max(s[2] for s in samples), "latencies_ms": ms}


def screenshot(port: int, path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "web"))
    from browser import chromium, shown_id

    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{port}/?annotator=hanako")
        shown_id(driver)
        time.sleep(0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    finally:
        driver.quit()


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name, r in results.items():
        ms = r["latencies_ms"]
        ax.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))],
                label=f"{name}: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms")
    ax.axvline(50, color="grey", linestyle=":", label="50 ms")
    ax.set_xscale("log")
    ax.set_xlabel("answer → next example (ms, log scale)")
    ax.set_ylabel("fraction of answers")
    ax.set_title("tsunagu annotate --web: 10 annotators, overlap 2, retraining every 10 labels", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--livedoor", type=Path, default=LIVEDOOR)
    ap.add_argument("--answers", type=int, default=100, help="answers per annotator and phase")
    ap.add_argument("--annotators", type=int, default=10)
    ap.add_argument("--think", type=float, nargs=2, default=[0.2, 1.0], metavar=("MIN", "MAX"))
    ap.add_argument("--retrain-every", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "annotate_web")
    ap.add_argument("--plot", type=Path, default=ROOT / "benchmarks" / "plots" / "annotate_web_latency.png")
    ap.add_argument("--screenshot", type=Path, default=None)
    args = ap.parse_args()

    from tsunagu.corpora import read_livedoor

    if not args.livedoor.is_dir():
        raise SystemExit(f"no Livedoor corpus at {args.livedoor}")
    records = list(read_livedoor(args.livedoor, fields="title"))
    labels = sorted({r.label for r in records})
    gold = {str(r.id): r.label for r in records}
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    source = args.out / "titles.jsonl"
    source.write_text("".join(json.dumps({"id": str(r.id), "text": r.text}, ensure_ascii=False) + "\n"
                              for r in records), encoding="utf-8")
    port = free_port()
    proc, startup = start_server(source, args.out / "labels.db", labels, port, args.retrain_every)
    print(f"{len(records)} titles, {len(labels)} labels; server up in {startup:.1f} s", flush=True)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/")
        page = conn.getresponse().read().decode()
        csrf = page.split('name="tsunagu-csrf" content="')[1].split('"')[0]
        names = [f"annotator{i}" for i in range(args.annotators)]
        results = {}
        think = tuple(args.think)
        results[f"think {think[0]:g}-{think[1]:g} s"] = phase(port, csrf, gold, labels, names, args.answers,
                                                             think, 0)
        results["no think time"] = phase(port, csrf, gold, labels, [f"{n}b" for n in names], args.answers,
                                         None, 100)
        if args.screenshot:
            screenshot(port, args.screenshot)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    for name, r in results.items():
        print(f"{name}: {r['answers']} answers in {r['wall_s']:.1f} s ({r['answers_per_s']:.1f}/s); "
              f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"max {r['max_ms']:.1f} ms; {r['while_retraining']} answered while retraining; "
              f"model trained on up to {r['trained_on_max']} labels")
    plot(results, args.plot)
    summary = {"titles": len(records), "annotators": args.annotators, "overlap": 2,
               "retrain_every": args.retrain_every, "startup_s": startup,
               "phases": {k: {kk: vv for kk, vv in v.items() if kk != "latencies_ms"} for k, v in results.items()}}
    (args.out / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"wrote {args.out / 'results.json'} and {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
