"""Batch processing speed: ``tsunagu apply`` against plain spaCy on the same documents.

Peers, in the same run, on the same Livedoor titles:
  * ``spacy.load("ja_ginza").pipe(texts, n_process=N)`` (documents only, nothing written)
  * ``tsunagu`` ``apply_pipeline`` with the same N: the same analysis plus JSONL
    output, a rejects file and resumable checkpoints.
  * end to end on the command line, ``tsunagu apply`` against ``spacy apply``
    (both load the pipeline and write their output).
Prints docs/s and the ratio tsunagu / plain for 1 and 2 processes.

    python benchmarks/bench_apply.py [--docs 1000] [--repeats 3]

``--engine ray`` compares the engines instead (one run each, the full pipeline):
  * 1,000 Livedoor titles and 200 whole articles: ``--engine ray`` with 2 actors
    against the local engine with ``--n-process 2``; docs/s of each, the ratio, and
    Ray's start-up apart (actors start and load the pipeline; throughput is counted
    once every actor has delivered), with the peak memory of each actor process;
  * a two-node cluster simulated on this machine (``ray start --head --num-cpus 1``
    and a second ``ray start --address ... --num-cpus 1``): documents per node, and
    throughput with 2 actors (one per node) against 1.

    python benchmarks/bench_apply.py --engine ray [--docs 1000] [--articles 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import spacy

import tsunagu
from tsunagu.batch import apply_pipeline
from tsunagu.corpora import read_livedoor

LIVEDOOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "livedoor" / "text"


def take_titles(n: int):
    # Round-robin over categories so the subset is not one category's headlines.
    by_cat: dict[str, list] = {}
    for r in read_livedoor(LIVEDOOR, fields="title"):
        by_cat.setdefault(r.label, []).append(r)
    out, i = [], 0
    while len(out) < n:
        for recs in by_cat.values():
            if i < len(recs) and len(out) < n:
                out.append(recs[i])
        i += 1
    return out


def time_plain(nlp, texts, n_process, batch_size):
    start = time.perf_counter()
    n = sum(1 for _ in nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
    assert n == len(texts)
    return len(texts) / (time.perf_counter() - start)


def time_tsunagu(nlp, records, n_process, batch_size, tmp: Path):
    out = tmp / f"apply-{n_process}.jsonl"
    start = time.perf_counter()
    report = apply_pipeline(nlp, records, out, n_process=n_process, batch_size=batch_size,
                            overwrite=True, progress=False)
    assert report.written == len(records)
    return len(records) / (time.perf_counter() - start)


def time_cli(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--engine", choices=("plain", "ray"), default="plain",
                    help="plain: tsunagu against spaCy; ray: the Ray engine against the local one")
    ap.add_argument("--articles", type=int, default=200, help="--engine ray: whole articles")
    args = ap.parse_args()
    if not LIVEDOOR.is_dir():
        sys.exit(f"Livedoor corpus not found at {LIVEDOOR}")
    if args.engine == "ray":
        return bench_ray(args)
    records = take_titles(args.docs)
    texts = [r.text for r in records]
    plain_nlp = spacy.load("ja_ginza")
    our_nlp = tsunagu.load()
    print(f"{len(texts)} Livedoor titles, {sum(map(len, texts))} characters, "
          f"batch size {args.batch_size}, best of {args.repeats} (median in brackets)")
    results = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n_process in (1, 2):
            plain, ours = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                plain.append(time_plain(plain_nlp, texts, n_process, args.batch_size))
                ours.append(time_tsunagu(our_nlp, records, n_process, args.batch_size, tmp))
            ratio = max(ours) / max(plain)
            results[n_process] = (max(plain), max(ours), ratio)
            print(f"n_process={n_process}: plain nlp.pipe {max(plain):7.1f} docs/s "
                  f"[{statistics.median(plain):.1f}]  tsunagu apply {max(ours):7.1f} docs/s "
                  f"[{statistics.median(ours):.1f}]  ratio {ratio:.2f}")

        src = tmp / "titles.jsonl"
        src.write_text("".join(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n"
                               for r in records), encoding="utf-8")
        ours_cli = time_cli([sys.executable, "-m", "tsunagu", "apply", src, tmp / "cli.jsonl",
                             "--no-progress", "--overwrite"])
        spacy_cli = time_cli([sys.executable, "-m", "spacy", "apply", "ja_ginza", src,
                              tmp / "cli.spacy", "--text-key", "text"])
        print(f"command line, end to end incl. loading (1 process): tsunagu apply {ours_cli:.1f} s, "
              f"spacy apply {spacy_cli:.1f} s, ratio of speeds {spacy_cli / ours_cli:.2f}")


# -- --engine ray ---------------------------------------------------------------------


def take_articles(n: int):
    records = take_titles(n)  # the same round-robin, then the whole article
    wanted = {r.id for r in records}
    return [r for r in read_livedoor(LIVEDOOR, fields="title+body") if r.id in wanted]


def write_jsonl(records, path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": r.id, "text": r.text, "labels": list(r.labels)},
                                       ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


class ActorMemory:
    """Peak resident memory of each Ray actor process (``ray::MapWorker``), sampled."""

    def __init__(self) -> None:
        import threading

        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            for proc in psutil.process_iter(["pid", "cmdline"]):
                try:
                    cmd = " ".join(proc.info["cmdline"] or [])
                    if cmd.startswith("ray::MapWorker") and "_Annotator" in cmd:
                        rss = proc.memory_info().rss
                        self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        return sorted(self.peak.values())


def time_local(nlp, src: Path, tmp: Path, name: str, batch_size: int) -> float:
    from tsunagu.batch import apply_corpus

    # The same JSONL file the Ray engine reads, so that the outputs can be compared.
    report = apply_corpus(nlp, src, tmp / f"local-{name}.jsonl", n_process=2,
                          batch_size=batch_size, overwrite=True, progress=False)
    assert report.written == sum(1 for _ in open(src, encoding="utf-8"))
    return report.docs_per_second


def time_ray(src: Path, tmp: Path, name: str, batch_size: int, num_actors: int = 2,
             address=None):
    from tsunagu.batch_ray import PipelineSpec, apply_corpus_ray

    memory = ActorMemory()
    report = apply_corpus_ray(PipelineSpec(), src, tmp / f"ray-{name}.jsonl", address=address,
                              num_actors=num_actors, batch_size=batch_size, overwrite=True,
                              progress=False, checkpoint_seconds=30)
    peaks = memory.stop()
    assert report.written == sum(1 for _ in open(src, encoding="utf-8"))
    return report, peaks


def bench_ray(args) -> None:
    import ray

    results: dict = {}
    titles, articles = take_titles(args.docs), take_articles(args.articles)
    nlp = tsunagu.load()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name, records in (("titles", titles), ("articles", articles)):
            chars = sum(len(r.text) for r in records)
            src = write_jsonl(records, tmp / f"{name}.jsonl")
            # Articles are cut into chunks by characters (5,000 per call), titles by count.
            batch = args.batch_size if name == "titles" else 8
            local = time_local(nlp, src, tmp, name, batch)
            ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
            report, peaks = time_ray(src, tmp, name, batch)
            ray.shutdown()
            same = ((tmp / f"local-{name}.jsonl").read_bytes()
                    == (tmp / f"ray-{name}.jsonl").read_bytes())
            ratio = report.steady_docs_per_second / local
            results[name] = {"docs": len(records), "chars": chars, "local_docs_s": local,
                             "ray_steady_docs_s": report.steady_docs_per_second,
                             "ray_overall_docs_s": report.docs_per_second, "ratio": ratio,
                             "ray_startup_s": report.startup_seconds, "ray_total_s": report.seconds,
                             "actor_peak_rss_mb": [round(p / 2**20) for p in peaks],
                             "docs_per_actor": sorted(report.workers.values()),
                             "identical_output": same}
            print(f"{len(records)} {name} ({chars} chars): local --n-process 2 {local:.1f} docs/s; "
                  f"ray 2 actors {report.steady_docs_per_second:.1f} docs/s after a start-up of "
                  f"{report.startup_seconds:.1f} s ({report.docs_per_second:.1f} docs/s over all "
                  f"{report.seconds:.1f} s); ratio {ratio:.2f}; actor peak RSS "
                  f"{[round(p / 2**20) for p in peaks]} MB; docs per actor "
                  f"{sorted(report.workers.values())}; byte-identical output: {same}", flush=True)
        results["two_nodes"] = bench_two_nodes(write_jsonl(titles, tmp / "titles.jsonl"), tmp,
                                               args.batch_size)
    out = Path(__file__).resolve().parent / "out" / "bench_apply_ray.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"results -> {out}")


def bench_two_nodes(src: Path, tmp: Path, batch_size: int) -> dict:
    """Two raylets of one CPU each on this machine: a head and a worker node. Each
    ``ray start --block`` is stopped by its own pid, which stops its node."""
    import os
    import signal
    import socket

    import ray

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    ray_bin = str(Path(sys.executable).with_name("ray"))
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats"]
    nodes = [subprocess.Popen([ray_bin, "start", "--head", "--port", str(port),
                               "--include-dashboard", "false", *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for_nodes(ray, address, 1)
        nodes.append(subprocess.Popen([ray_bin, "start", "--address", address, *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(ray, address, 2)
        runs = {}
        for actors in (1, 2):
            ray.init(address=address, logging_level="WARNING")
            report, peaks = time_ray(src, tmp, f"nodes-{actors}", batch_size, num_actors=actors,
                                     address=address)
            ray.shutdown()
            runs[actors] = {"steady_docs_s": report.steady_docs_per_second,
                            "startup_s": report.startup_seconds,
                            "docs_per_node": sorted(report.nodes.values())}
            print(f"cluster of 2 nodes x 1 CPU, {actors} actor(s): "
                  f"{report.steady_docs_per_second:.1f} docs/s after "
                  f"{report.startup_seconds:.1f} s "
                  f"start-up; documents per node {sorted(report.nodes.values())}", flush=True)
        runs["speedup_2_vs_1"] = runs[2]["steady_docs_s"] / runs[1]["steady_docs_s"]
        print(f"2 nodes vs 1: {runs['speedup_2_vs_1']:.2f}x", flush=True)
        return runs
    finally:
        for proc in reversed(nodes):
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
        # `ray start --head` records its address for later ray.init() calls to join, and
        # a stopped --block head leaves it behind.
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.exists() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def _wait_for_nodes(ray, address: str, n: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            ray.init(address=address, logging_level="WARNING")
            alive = sum(1 for node in ray.nodes() if node["Alive"])
            ray.shutdown()
            if alive >= n:
                return
        except Exception:  # the head is not up yet
            if ray.is_initialized():
                ray.shutdown()
        time.sleep(2)
    raise RuntimeError(f"the simulated cluster did not reach {n} nodes")


if __name__ == "__main__":
    main()
