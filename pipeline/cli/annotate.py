"""``tsunagu annotate`` and ``tsunagu al ...``: the active-learning commands."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ..active.errors import ActiveLearningError
from .options import positive_int

DEFAULT_DB = Path("tsunagu-labels.db")
INPUT_FORMATS = ("text", "jsonl", "dir", "livedoor", "docbin")


def add_active_learning_commands(sub) -> None:
    """Add ``annotate`` and ``al`` to the ``tsunagu`` sub-command parser ``sub``."""
    from ..active.strategies import STRATEGIES

    names = ", ".join(STRATEGIES)
    ann = sub.add_parser(
        "annotate", help="label a corpus in the terminal or the browser, most informative examples first",
        description="An annotation session: shows one example at a time with the current model's "
        "prediction; keys 1-9 label, s skips, u undoes, q quits. Every answer is saved at once in "
        "the label database; run the same command again to resume. The classifier is retrained "
        "every --retrain-every labels in the background and ranks the pool with --strategy. "
        "With --web, a page for several annotators (each named by ?annotator=NAME in its address) "
        "on the same store; --overlap N gives each example to N of them. --review --web shows the "
        "examples they disagree on to a reviewer, whose label is final.")
    ann.add_argument("session", help="session name (several sessions can share one database)")
    ann.add_argument("--source", type=Path, default=None,
                     help="the corpus to label: .txt, .jsonl, .spacy, a folder, the Livedoor corpus "
                     "(not needed with --review)")
    ann.add_argument("--labels", default=None,
                     help="comma-separated labels, at most 9 (needed when the session is new)")
    ann.add_argument("--strategy", default="margin", help=f"query strategy: {names} "
                     "(options after a colon, e.g. hybrid:shortlist=3)")
    ann.add_argument("--model", type=Path, default=None,
                     help="a saved spaCy pipeline whose classifier (textcat, the LSTM) is retrained "
                     "(default: spaCy's TextCatBOW, retrained in about a second)")
    ann.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"label database (default {DEFAULT_DB})")
    ann.add_argument("--annotator", default=None, help="annotator id stored with each label "
                     "(default: the login name)")
    ann.add_argument("--retrain-every", type=int, default=10,
                     help="retrain after this many new labels (0: never)")
    ann.add_argument("--batch", type=int, default=50, help="examples ranked per retraining")
    ann.add_argument("--max-chars", type=int, default=400, help="show at most this much of a text")
    ann.add_argument("--seed", type=int, default=0)
    web = ann.add_argument_group("the web page (--web)")
    web.add_argument("--web", action="store_true", help="serve the session as a web page")
    web.add_argument("--host", default="127.0.0.1",
                     help="address to bind (default 127.0.0.1: this machine only; any other needs a token)")
    web.add_argument("--port", type=positive_int, default=8080, help="port (default 8080)")
    web.add_argument("--token", default=None, help="access token every request must carry (default: none "
                     "on 127.0.0.1, a new random one printed in the address on any other host)")
    web.add_argument("--no-browser", action="store_true", help="do not open a browser")
    web.add_argument("--overlap", type=positive_int, default=1,
                     help="how many different annotators label each example (default 1)")
    web.add_argument("--review", action="store_true",
                     help="review the examples the annotators disagree on (with --web)")
    _add_source_options(ann)
    ann.set_defaults(run=_run_annotate)

    al = sub.add_parser("al", help="active learning: simulate, export, import, sessions")
    asub = al.add_subparsers(title="al commands", metavar="COMMAND")

    sim = asub.add_parser(
        "simulate", help="replay active learning with gold labels as the oracle",
        description="Splits GOLD (by id, stratified, --split), labels --seed-size random pool "
        "examples, then repeatedly retrains, evaluates on the test part and queries --batch more "
        "with each strategy, up to --budget labels, for each seed. Writes curves.csv, "
        "learning_curve.csv/.png (mean ± std over seeds), summary.json (area under the curve, "
        "labels to reach --target of the all-labels accuracy). Resumable.")
    sim.add_argument("--gold", type=Path, required=True, help="a labelled corpus")
    sim.add_argument("--strategy", default="random,margin",
                     help=f"comma-separated strategies ({names}); use ';' between them when options "
                     "contain commas")
    sim.add_argument("--seed-size", type=int, default=50)
    sim.add_argument("--batch", type=int, default=50)
    sim.add_argument("--budget", type=int, default=1000)
    sim.add_argument("--seeds", default="0,1,2", help="comma-separated random seeds")
    sim.add_argument("--split", default="0.8,0.1,0.1", help="train,dev,test fractions; pool = train")
    sim.add_argument("--split-seed", type=int, default=0)
    sim.add_argument("--test", type=Path, default=None, help="a separate test corpus (then GOLD is the pool)")
    sim.add_argument("--target", type=float, default=0.95,
                     help="report labels needed to reach this fraction of the all-labels accuracy")
    sim.add_argument("--no-reference", action="store_true", help="skip training on the whole pool")
    sim.add_argument("--stop-at-target", action="store_true",
                     help="end each run once it reaches the target accuracy")
    sim.add_argument("--model", type=Path, default=None, help="a saved spaCy pipeline to retrain")
    sim.add_argument("--epochs", type=int, default=None, help="training epochs per round")
    sim.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    sim.add_argument("--overwrite", action="store_true", help="discard finished runs in the directory")
    _add_source_options(sim)
    sim.set_defaults(run=_run_simulate)

    exp = asub.add_parser("export", help="a session's current labels as JSONL or a spaCy DocBin")
    exp.add_argument("session")
    exp.add_argument("output", type=Path, help="output file (.jsonl or .spacy)")
    exp.add_argument("--db", type=Path, default=DEFAULT_DB)
    exp.add_argument("--format", choices=("jsonl", "spacy"), default=None,
                     help="default: from the output's suffix")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    exp.set_defaults(run=_run_export)

    imp = asub.add_parser("import", help="existing labels (JSONL, DocBin...) into a session")
    imp.add_argument("session")
    imp.add_argument("input", type=Path, help="a labelled corpus")
    imp.add_argument("--db", type=Path, default=DEFAULT_DB)
    imp.add_argument("--labels", default=None, help="comma-separated labels (new session)")
    imp.add_argument("--annotator", default="import")
    imp.add_argument("--overwrite", action="store_true", help="replace labels already in the session")
    _add_source_options(imp)
    imp.set_defaults(run=_run_import)

    agr = asub.add_parser(
        "agreement", help="how far a session's annotators agree: Cohen's kappa, Krippendorff's alpha",
        description="Cohen's kappa for each pair of annotators (on the examples both labelled), "
        "Krippendorff's alpha (nominal) over all of them, the label confusion between annotators and "
        "the examples they disagree on.")
    agr.add_argument("session")
    agr.add_argument("--db", type=Path, default=DEFAULT_DB)
    agr.add_argument("--json", action="store_true", help="the whole report as JSON on stdout")
    agr.add_argument("--max-examples", type=positive_int, default=20,
                     help="disagreements printed (default 20; --json gives all)")
    agr.set_defaults(run=_run_agreement)

    ses = asub.add_parser("sessions", help="the sessions in a label database, with counts")
    ses.add_argument("--db", type=Path, default=DEFAULT_DB)
    ses.set_defaults(run=_run_sessions)


def _add_source_options(p) -> None:
    p.add_argument("--input-format", choices=INPUT_FORMATS, default=None,
                   help="corpus format (default: guessed)")
    p.add_argument("--fields", choices=("title", "body", "title+body"), default=None,
                   help="Livedoor: which part of each article")
    p.add_argument("--label-field", default=None, help="JSONL: dotted path of the labels")


def _read_items(path: Path, args) -> list:
    """Every item the reader yields, ``RejectedRecord`` included, with where it
    comes from: ``(location, item)``."""
    from ..corpora import read_corpus

    options = {}
    if args.fields:
        options["fields"] = args.fields
    if args.label_field:
        options["label_field"] = args.label_field
    items = list(read_corpus(path, args.input_format, on_error="reject", **options))
    return [(getattr(item, "location", None) or str(item.id), item) for item in items]


def _read(path: Path, args) -> list:
    """The records of ``path``; unreadable ones are counted on stderr, not dropped
    silently."""
    records, rejected = [], []
    for where, item in _read_items(path, args):
        (records if hasattr(item, "labels") else rejected).append((where, item))
    if rejected:
        where, first = rejected[0]
        print(f"warning: {len(rejected)} record(s) of {path} could not be read and are left out "
              f"(first: {_location(where, first)}: {_printable(first.reason)})", file=sys.stderr, flush=True)
    return [item for _, item in records]


def _location(where: str, item) -> str:
    return _printable(where if where == str(item.id) or not where else f"{where} (id {item.id})")


def _printable(text: str) -> str:
    # An id or file name may hold a lone surrogate, which a UTF-8 terminal cannot print.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _labels_arg(value):
    return [l.strip() for l in value.split(",") if l.strip()] if value else None


def _run_annotate(args: argparse.Namespace) -> int:
    from ..active.store import LabelStore

    if args.review:
        if not args.web:
            raise ActiveLearningError("--review works in the browser: add --web")
        with LabelStore(_existing_db(args.db)) as store:
            return _serve_review(store, args)
    if args.source is None:
        raise ActiveLearningError("give the corpus to label with --source")
    records = _labelling_records(args.source, args)
    with LabelStore(args.db) as store:
        session = store.open_session(
            args.session, _labels_arg(args.labels), source=str(args.source),
            settings={"strategy": args.strategy, "model": str(args.model) if args.model else None,
                      "retrain_every": args.retrain_every, **({"overlap": args.overlap} if args.web else {})})
        print(f"session {session.name}: labels {', '.join(session.labels)}; {len(records)} examples in "
              f"{args.source}; tokenizing…", flush=True)
        factory, strategy = _model_and_strategy(session, records, args)
        if args.web:
            return _serve_team(store, session, records, factory, strategy, args)
        from ..active.session import AnnotationSession

        annotator = args.annotator or _login()
        AnnotationSession(store, session, [r.id for r in records], [r.text for r in records],
                          model_factory=factory, strategy=strategy, annotator=annotator,
                          retrain_every=args.retrain_every, batch=args.batch,
                          max_chars=args.max_chars, seed=args.seed).run()
    return 0


def _labelling_records(source: Path, args) -> list:
    from ..active.store import unencodable

    records = [r for r in _read(source, args) if isinstance(r.text, str) and r.text.strip()]
    unstorable = [r for r in records if unencodable(r.text) or unencodable(str(r.id))]
    if unstorable:
        print(f"warning: {len(unstorable)} record(s) of {source} are left out: their id or text "
              f"is not valid Unicode (a lone surrogate; first: {unstorable[0].id!r})", file=sys.stderr)
        records = [r for r in records if not (unencodable(r.text) or unencodable(str(r.id)))]
    if not records:
        raise ActiveLearningError(f"{source} has no texts to label")
    return records


def _model_and_strategy(session, records, args):
    from ..active.models import make_model
    from ..active.strategies import make_strategy

    strategy = make_strategy(args.strategy, seed=args.seed)
    probe = make_model(session.labels, args.model, seed=args.seed)
    probe.cache.docs([r.text for r in records])
    return (lambda: probe.clone(seed=args.seed)), strategy


def _web_token(args) -> "str | None":
    from ..active.web import needs_token, new_token

    if args.token is not None and not args.token.strip():
        raise ActiveLearningError("--token is empty; give a token or leave the option out")
    if args.token is None and needs_token(args.host):
        token = new_token()
        print(f"{args.host} is reachable from other machines: every request needs the access token "
              f"{token} (it is in the address below; give your own with --token)", flush=True)
        return token
    return args.token


def _serve_team(store, session, records, factory, strategy, args) -> int:
    from ..active.team import TeamSession
    from ..active.web import serve

    token = _web_token(args)
    team = TeamSession(store, session, [r.id for r in records], [r.text for r in records],
                       strategy=strategy, model_factory=factory, overlap=args.overlap,
                       retrain_every=args.retrain_every, batch=args.batch, seed=args.seed,
                       log=lambda m: print(m, flush=True))
    serve(team, host=args.host, port=args.port, token=token, open_browser=not args.no_browser,
          log=lambda m: print(m, flush=True))
    counts = store.counts(session)
    print(f"saved {counts['labelled']} examples with labels and {counts['skipped']} skips in {store.path} "
          f"(session {session.name}); run the same command to continue.")
    return 0


def _serve_review(store, args) -> int:
    from ..active.team import ReviewSession
    from ..active.web import serve

    session = store.session(args.session)
    review = ReviewSession(store, session)
    print(f"session {session.name}: {len(review.answers)} examples with different labels to review", flush=True)
    serve(review, host=args.host, port=args.port, token=_web_token(args), open_browser=not args.no_browser,
          log=lambda m: print(m, flush=True))
    return 0


def _run_agreement(args: argparse.Namespace) -> int:
    import json

    from ..active.agreement import agreement, format_report
    from ..active.store import LabelStore

    with LabelStore(_existing_db(args.db)) as store:
        report = agreement(store, store.session(args.session))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(format_report(report, max_examples=args.max_examples))
    return 0


def _run_simulate(args: argparse.Namespace) -> int:
    from ..atomic import check_distinct_paths
    from ..active.simulate import SimulationSettings, labelled_records, run_simulations, stderr_log
    from ..splits import split_records  # the split of `corpus to-spacy` too: the same test set

    out = args.output
    check_distinct_paths(
        inputs={"--gold": args.gold, "--test": args.test, "--model": args.model},
        outputs={"-o": out, **{f"-o/{name}": out / name for name in (
            "config.json", "curves.csv", "learning_curve.csv", "learning_curve.png", "summary.json",
            "runs")}})
    records = labelled_records(_read(args.gold, args))
    if args.test is not None:
        pool, test = records, labelled_records(_read(args.test, args))
    else:
        try:
            fractions = [float(x) for x in args.split.split(",")]
        except ValueError:
            raise ActiveLearningError(f"--split must be three numbers, not {args.split!r}") from None
        parts = split_records(records, fractions, seed=args.split_seed)
        pool, test = parts["train"], parts["test"]
    if not test:
        raise ActiveLearningError("the test part is empty; give --test or a --split with a test fraction")
    labels = sorted({r.label for r in records} | {r.label for r in test})
    sep = ";" if ";" in args.strategy else ","
    strategies = [s.strip() for s in args.strategy.split(sep) if s.strip()]
    model = {"epochs": args.epochs} if args.epochs else {}
    settings = SimulationSettings(
        seed_size=args.seed_size, batch=args.batch, budget=min(args.budget, len(pool)),
        seeds=[int(s) for s in args.seeds.split(",")], target_fraction=args.target,
        reference=not args.no_reference, stop_at_target=args.stop_at_target, model=model,
        model_dir=str(args.model) if args.model else None)
    print(f"pool {len(pool)}, test {len(test)}, {len(labels)} labels; strategies "
          f"{', '.join(strategies)}; seeds {settings.seeds}", flush=True)
    summary = run_simulations([r.text for r in pool], [r.label for r in pool], [r.text for r in test],
                              [r.label for r in test], labels, strategies, settings, args.output,
                              overwrite=args.overwrite, log=stderr_log)
    if summary["reference_accuracy"] is not None:
        print(f"all {len(pool)} pool labels: accuracy {summary['reference_accuracy']:.3f}; target "
              f"{summary['target_accuracy']:.3f} ({args.target:.0%})")
    for spec, e in summary["strategies"].items():
        reach = e.get("labels_to_target_mean")
        extra = ""
        if "labels_to_target" in e:
            extra = f"; labels to target {reach:.0f}" if reach else f"; target not reached by all seeds " \
                    f"({e['labels_to_target']})"
            if e.get("fraction_of_random"):
                extra += f" ({e['fraction_of_random']:.0%} of random)"
        print(f"{spec}: AUC {e['auc_mean']:.3f} ± {e['auc_std']:.3f}, final accuracy "
              f"{e['mean'][-1]:.3f}{extra}")
    print(f"wrote {args.output}/learning_curve.png, learning_curve.csv, curves.csv, summary.json")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from ..active.store import LabelStore

    fmt = args.format or ("spacy" if args.output.suffix == ".spacy" else "jsonl")
    with LabelStore(_existing_db(args.db)) as store:
        session = store.session(args.session)
        n = (store.export_docbin if fmt == "spacy" else store.export_jsonl)(
            session, args.output, overwrite=args.overwrite)
        ties = store.ties(session)
    print(f"wrote {n} labelled examples of session {args.session} to {args.output}")
    if ties:
        print(f"warning: {len(ties)} example(s) are left out: their annotators split evenly and nobody "
              f"reviewed them (first: {ties[0].example_id}); review them with "
              f"`tsunagu annotate {args.session} --review --web`", file=sys.stderr)
    return 0


def _run_import(args: argparse.Namespace) -> int:
    """Import what can be imported; every line left out is printed (stderr) with
    its location and reason, and the summary counts each kind."""
    from ..active.store import LabelStore

    located = _read_items(args.input, args)
    records = [item for _, item in located]
    with LabelStore(args.db) as store:
        labels = _labels_arg(args.labels)
        if labels is None and args.session not in {s.name for s in store.sessions()}:
            labels = sorted({l for r in records if hasattr(r, "labels") and not _bad_labels(r)
                             for l in r.labels})
        session = store.open_session(args.session, labels)
        report = store.import_records(session, records, args.annotator, args.overwrite)
    by_where = dict(located)
    for kind, entries in (("rejected", report.rejected), ("duplicate", report.duplicates)):
        for where, reason in entries:
            item = by_where.get(where)
            print(_printable(f"{kind} {_location(where, item) if item is not None else where}: {reason}"),
                  file=sys.stderr)
    print(f"{report.summary()} (session {args.session})")
    if report.rejected and not report.imported and not report.kept:
        raise ActiveLearningError(f"none of the records of {args.input} could be imported "
                                  f"({len(report.rejected)} rejected; reasons above)")
    return 0


def _bad_labels(record) -> bool:
    from ..active.store import unencodable

    return unencodable(list(record.labels))


def _run_sessions(args: argparse.Namespace) -> int:
    from ..active.store import LabelStore

    with LabelStore(_existing_db(args.db)) as store:
        for s in store.sessions():
            c = store.counts(s)
            per = ", ".join(f"{l} {c[l]}" for l in s.labels)
            print(f"{s.name}: {c['labelled']} labelled ({per}), {c['skipped']} skipped; "
                  f"source {s.source}")
    return 0


def _existing_db(path: Path) -> Path:
    if not path.exists():
        raise ActiveLearningError(f"no label database at {path}")
    return path


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "anonymous"
