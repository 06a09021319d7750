"""tsunagu_textcat_lstm with a very large label set: time per training step and
accuracy of today's dense output layer against the large-output heads, same run.

    python benchmarks/bench_textcat_heads.py [--labels 20000 100000] [--heads dense full
        hierarchical negative] [--hidden-width 128] [--batch 64] [--steps 8]
        [--accuracy-labels 20000] [--accuracy-steps 400] [--threads 1]

Task (synthetic, learnable): label i has its own word "k{i}" with a random vector;
a document is that word among 0-4 filler words, in random order; labels follow a
Zipf distribution (p(i) ∝ 1/(i+1)), as large label sets (tags, categories, entity
ids) do. The component is the one a user trains: frozen 64-d vectors, BiLSTM with
``--hidden-width`` units per direction (pooled vector 2x wider: 256 by default),
max pooling, one member; labels and their counts come from ``nlp.initialize`` on
the training examples. Optimizer as in configs/lstm_livedoor*.cfg: thinc Adam,
learn rate 0.002, grad_clip 1.0, no L2, no averages.

Models ("--heads"):
    dense         head = null: today's classifier; get_loss computes P - Y over all
                  C labels in numpy and backprops it (the reference, "full softmax")
    full          head = "full": the exact softmax as a head, loss in torch
    hierarchical  head = "hierarchical": Huffman tree over the label counts
    negative      head = "negative", n_samples 5
    nce, sampled  also accepted (n_samples 20, 512)
    hierarchical-dense, negative-dense
                  also accepted: the heads with sparse = false, so that the
                  optimizer updates all C rows every step (what sparse rows save)

1. Step time: ``nlp.update(batch, sgd=optimizer)`` (forward, loss, backward and the
   optimizer step) for every model, in turns (round robin) so that background load
   falls on all alike; median of ``--steps`` steps after one warm-up step; ratio
   against "dense".
2. Accuracy: every model trained ``--accuracy-steps`` steps (batch ``--batch``, one
   pass over fresh examples) on the ``--accuracy-labels`` task, then ``nlp.evaluate``
   on 2,000 held-out documents (``top_k = 1``; accuracy = cats_micro_f, as classes
   are exclusive), timed (prediction and scoring). "majority" is the accuracy of
   always answering the most frequent label.

Results are printed only. torch runs with ``--threads`` threads (default 1).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy

HEADS = {
    "dense": (None, None),
    "full": ("full", None),
    "hierarchical": ("hierarchical", None),
    "negative": ("negative", {"n_samples": 5}),
    "nce": ("nce", {"n_samples": 20}),
    "sampled": ("sampled", {"n_samples": 512}),
    # dense gradients: thinc's Adam then updates every row of the (C, H) head
    "hierarchical-dense": ("hierarchical", {"sparse": False}),
    "negative-dense": ("negative", {"n_samples": 5, "sparse": False}),
}
WIDTH = 64  # word vectors
FILLERS = 200


class Task:
    """Vocabulary with vectors, labels and a sampler of labelled documents."""

    def __init__(self, n_labels: int, seed: int = 0) -> None:
        import spacy
        from spacy.vectors import Vectors

        self.nlp = spacy.blank("xx")
        rng = numpy.random.default_rng(seed)
        self.keys = [f"k{i}" for i in range(n_labels)]
        self.fillers = [f"f{i}" for i in range(FILLERS)]
        words = self.keys + self.fillers
        strings = self.nlp.vocab.strings
        data = rng.normal(size=(len(words), WIDTH)).astype("float32")
        self.nlp.vocab.vectors = Vectors(strings=strings, name=f"synthetic-{n_labels}", data=data,
                                         keys=[strings.add(w) for w in words])
        self.labels = [f"L{i}" for i in range(n_labels)]
        zipf = 1.0 / numpy.arange(1, n_labels + 1)
        self.p = zipf / zipf.sum()
        self.rng = random.Random(seed)
        self.np_rng = numpy.random.default_rng(seed + 1)

    def examples(self, n: int):
        from spacy.tokens import Doc
        from spacy.training import Example

        out = []
        for y in self.np_rng.choice(len(self.labels), size=n, p=self.p):
            words = [self.rng.choice(self.fillers) for _ in range(self.rng.randint(0, 4))]
            words.insert(self.rng.randint(0, len(words)), self.keys[y])
            doc = Doc(self.nlp.vocab, words=words)
            ref = Doc(self.nlp.vocab, words=words)
            ref.cats = {self.labels[y]: 1.0}  # exclusive: the absent labels are 0
            out.append(Example(doc, ref))
        return out


def build(task: Task, name: str, args, train):
    """A pipeline with the classifier of ``name``, initialised on ``train``, and its optimizer."""
    import spacy
    from thinc.api import Adam

    head, options = HEADS[name]
    nlp = spacy.blank("xx", vocab=task.nlp.vocab)
    model = {"hidden_width": args.hidden_width, "dropout": 0.0, "pooling": "max",
             "freeze_embeddings": True, "head": head, "head_options": options}
    component = nlp.add_pipe("tsunagu_textcat_lstm", name="textcat",
                             config={"n_threads": args.threads, "top_k": 1, "model": model})
    for label in task.labels:  # every label, also those the sample lacks
        component.add_label(label)
    nlp.initialize(lambda: train)
    return nlp, Adam(learn_rate=0.002, grad_clip=1.0, L2=0.0, use_averages=False)


def step_times(args, n_labels: int) -> None:
    task = Task(n_labels)
    train = task.examples(max(4 * args.batch, 20_000))
    batches = [train[i:i + args.batch] for i in range(0, len(train), args.batch)]
    models = [(name, *build(task, name, args, train)) for name in args.heads]
    times: dict[str, list[float]] = {name: [] for name, *_ in models}
    for step in range(args.steps + 1):
        batch = batches[step % len(batches)]
        for name, nlp, optimizer in models:
            start = time.perf_counter()
            nlp.update(batch, sgd=optimizer)
            if step:  # the first round warms up allocators and caches
                times[name].append(time.perf_counter() - start)
    reference = statistics.median(times[args.heads[0]])
    print(f"\n{n_labels:,} labels: median of {args.steps} steps of nlp.update "
          f"(forward + backward + optimizer), batch {args.batch}; ratio = speed-up over "
          f"{args.heads[0]}" + (" (the full softmax as trained today)" if args.heads[0] == "dense"
                                else ""))
    for name in args.heads:
        t = statistics.median(times[name])
        print(f"  {name:<18} {t * 1000:9.1f} ms/step   {reference / t:6.2f}x vs {args.heads[0]}")


def accuracies(args) -> None:
    task = Task(args.accuracy_labels, seed=1)
    train = task.examples(args.accuracy_steps * args.batch)
    test = task.examples(2000)
    majority = numpy.mean([next(iter(eg.reference.cats)) == task.labels[0] for eg in test])
    print(f"\n{args.accuracy_labels:,} labels (Zipf): accuracy after {args.accuracy_steps} steps "
          f"of batch {args.batch} ({len(train):,} examples, one pass); 2,000 test documents; "
          f"majority {majority:.3f}")
    for name in args.heads:
        nlp, optimizer = build(task, name, args, train)
        start = time.perf_counter()
        for i in range(0, len(train), args.batch):
            nlp.update(train[i:i + args.batch], sgd=optimizer)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        scores = nlp.evaluate(test, batch_size=256)
        evaluate = time.perf_counter() - start
        # Exclusive classes, argmax: micro P = R = F = accuracy.
        print(f"  {name:<18} accuracy {scores['cats_micro_f']:.3f}   training {seconds:6.1f} s   "
              f"nlp.evaluate {evaluate:5.1f} s ({len(test) / evaluate:5.0f} docs/s)")
        del nlp, optimizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", type=int, nargs="*", default=[20_000, 100_000])
    ap.add_argument("--heads", nargs="+", default=["dense", "full", "hierarchical", "negative"],
                    choices=list(HEADS))
    ap.add_argument("--hidden-width", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--accuracy-labels", type=int, default=20_000)
    ap.add_argument("--accuracy-steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from thinc.api import fix_random_seed

    torch.set_num_threads(args.threads)
    fix_random_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); hidden width "
          f"{args.hidden_width} per direction (pooled vector {2 * args.hidden_width}); "
          f"vectors {WIDTH}-d, frozen")
    for n in args.labels:
        step_times(args, n)
    if args.accuracy_steps:
        accuracies(args)


if __name__ == "__main__":
    main()
