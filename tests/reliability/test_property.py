"""Property: whatever a corpus holds, ``apply_corpus`` finishes, and every input
record ends up exactly once in the output or the rejects file, both valid UTF-8
JSON lines (or a DocBin for ``spacy`` output).

What an input record is, is defined here without the readers' code:
  * text and JSONL files: every line (split on ``\\n``) that, decoded as UTF-8 with
    a leading byte order mark dropped, is not only whitespace; a line that does
    not decode is a record (it must come back as a reject);
  * a text folder: every file whose name matches ``*.txt``, at any depth;
  * Livedoor: every ``*.txt`` in a category folder but the licence and readme;
  * a DocBin: every document spaCy's ``DocBin`` counts in it.

Inputs are arbitrary JSON values (strings with lone surrogates included),
records whose fields have random types, ids drawn from a small pool so that they
collide (``1`` and ``"1"`` too), and arbitrary bytes. A DocBin of arbitrary bytes
is one corrupt blob: a ``CorpusError`` naming it is the accepted outcome.

Examples per property: the ``tsunagu-ci`` profile (200) by default; the
``TSUNAGU_HYPOTHESIS_PROFILE`` environment variable picks another registered one
(``benchmarks/bench_reliability.py`` registers one with thousands).
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Optional

import pytest
import spacy
import srsly
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, DocBin

from tsunagu.batch import apply_corpus
from tsunagu.errors import CorpusError

settings.register_profile(
    "tsunagu-ci", max_examples=200, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile(os.environ.get("TSUNAGU_HYPOTHESIS_PROFILE", "tsunagu-ci"))

# Built once: a blank pipeline tokenizes any text and costs nothing to run.
NLP = spacy.blank("xx")

# What the properties have seen, for benchmarks/bench_reliability.py (shrinking
# runs count too: they are inputs tried).
TALLY: Counter = Counter()

# -- strategies -------------------------------------------------------------------------

CLEAN_TEXT = st.text(max_size=12)
# st.text() leaves surrogates out; these strings hold some (valid JSON as \ud800
# escapes, not Unicode text).
SURROGATE_TEXT = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), min_size=1,
                         max_size=8)
TEXT = st.one_of(CLEAN_TEXT, CLEAN_TEXT, SURROGATE_TEXT,
                 st.sampled_from(["", " ", "\u3000", "\ufeff", "日本語の文です。", "a b c", "\x00"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON = st.recursive(SCALARS,
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
                    max_leaves=10)
# A small pool, so that ids collide: 1 and "1", a default id ("in.jsonl:<line>")
# taken by an earlier record, exact repeats.
IDS = st.one_of(st.none(), st.integers(-2, 3), st.sampled_from(["0", "1", "2", "-1", "a", "", "in.jsonl:1",
                                                               "in.jsonl:2", "in.jsonl:3", "in.jsonl:3#2"]),
                TEXT, st.floats(), st.booleans(), JSON)
LABELS = st.one_of(st.lists(TEXT, max_size=3), st.dictionaries(TEXT, st.one_of(st.floats(), st.integers(),
                                                                                 st.booleans())),
                   TEXT, JSON)
RECORDS = st.fixed_dictionaries({}, optional={
    "id": IDS,
    "text": st.one_of(TEXT, st.sampled_from(["文書です。", "word"]), JSON),
    "meta": st.one_of(st.dictionaries(TEXT, JSON, max_size=3), JSON),
    "labels": LABELS,
    "label": st.one_of(TEXT, JSON),
    "extra": JSON,
})
# Mostly well-formed, so that the output side is exercised as much as the rejects.
PLAUSIBLE_RECORDS = st.fixed_dictionaries(
    {"text": st.one_of(TEXT, st.sampled_from(["文書です。", "word"]))},
    optional={
        "id": st.one_of(st.integers(-2, 3), st.sampled_from(["0", "1", "a", "in.jsonl:2"])),
        "meta": st.dictionaries(TEXT, JSON, max_size=3),
        "labels": st.lists(TEXT, max_size=2),
    })
# Lines no generator is likely to hit: too deep to write back, too long a number
# to convert, constants JSON does not have, a byte order mark, a repeated key.
HAND_MADE_LINES = st.sampled_from([
    b'{"text": "a", "meta": {"x": ' + b"[" * 950 + b"]" * 950 + b"}}",
    b"[" * 5000 + b"]" * 5000,
    b'{"id": ' + b"9" * 5000 + b', "text": "a"}',
    b'{"id": "' + b"9" * 5000 + b'", "text": "a"}',
    b'{"id": NaN, "text": "a"}', b'{"text": "a", "meta": {"x": Infinity}}', b"NaN",
    b'\xef\xbb\xbf{"id": 1, "text": "bom"}', b'{"id": 1, "id": "1", "text": "a"}',
    b'{"id": "\\ud800", "text": "a", "meta": {"\\udc80": "\\udfff"}}', b'{"text": "\\ud800"}',
    b'{"text": "a", "labels": {"x": NaN, "y": true}}', b"\xed\xa0\x80", b"\xff\xfe", b"{", b'"\\ud800"',
])


def _json_line(value: Any, ascii_only: bool) -> bytes:
    # Without ensure_ascii a lone surrogate goes out raw: bytes that are not UTF-8
    # (surrogatepass writes them as an encoder that ignores the rule would).
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _join_lines(body: list, sep: bytes, final_newline: bool, bom: bool) -> bytes:
    data = sep.join(body) + (sep if body and final_newline else b"")
    return (b"\xef\xbb\xbf" if bom else b"") + data


_BLANK_LINES = st.sampled_from([b"", b" ", b"\t", "\u3000".encode()])


def line_files(lines):
    """Files of ``lines``: separators \\n or \\r\\n, blank lines between, maybe a byte
    order mark, maybe no final newline."""
    # Strategies are built once, here: building them per draw is most of the time.
    return st.builds(_join_lines, st.lists(st.one_of(lines, _BLANK_LINES), max_size=10),
                     st.sampled_from([b"\n", b"\r\n"]), st.booleans(), st.booleans())


JSON_VALUE_LINES = st.builds(_json_line, JSON, st.booleans())
RECORD_LINES = st.builds(_json_line, st.one_of(RECORDS, PLAUSIBLE_RECORDS), st.booleans())
BYTE_LINES = st.one_of(st.binary(max_size=40), st.builds(lambda t: t.encode("utf-8", "surrogatepass"), TEXT))

# -- running a job and accounting for its records -------------------------------------


@dataclass
class Outcome:
    ids: list  # of the output's documents and the rejects, in that order
    written: int
    rejected: int


def _strict_json(line: str) -> Any:
    def no_constant(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(line, parse_constant=no_constant)


def json_lines(path: Path) -> list:
    """The file's JSON lines; fails unless it is UTF-8, newline-terminated, strict JSON."""
    text = path.read_bytes().decode("utf-8")
    assert text == "" or text.endswith("\n"), f"{path.name} does not end with a newline"
    return [_strict_json(line) for line in text.split("\n")[:-1]]


def run_job(input_path: Path, out_dir: Path, *, input_format: Optional[str] = None,
            output_format: str = "jsonl", reader_options: Optional[dict] = None) -> Outcome:
    output = out_dir / ("out.spacy" if output_format == "spacy" else "out.jsonl")
    rejects = out_dir / "rejects.jsonl"
    report = apply_corpus(NLP, input_path, output, input_format=input_format,
                          reader_options=reader_options, rejects_path=rejects, progress=False,
                          output_format=output_format)
    if output_format == "spacy":
        docs = list(DocBin(store_user_data=True).from_disk(output).get_docs(NLP.vocab))
        out_ids = [doc.user_data["id"] for doc in docs]
    else:
        out_ids = [row["id"] for row in json_lines(output)]
    rows = json_lines(rejects)
    assert all(set(row) == {"id", "reason"} and isinstance(row["reason"], str) for row in rows), rows
    ids = out_ids + [row["id"] for row in rows]
    assert all(isinstance(i, str) for i in ids), ids
    assert (report.written, report.rejected) == (len(out_ids), len(rows)), report
    return Outcome(ids, report.written, report.rejected)


def account(outcome: Outcome, expected: int, expected_ids: Optional[set] = None) -> None:
    """Every input record exactly once: as many results as records, no id twice."""
    counts = Counter(outcome.ids)
    duplicated = sum(n - 1 for n in counts.values())
    TALLY["inputs"] += 1
    TALLY["records"] += expected
    TALLY["written"] += outcome.written
    TALLY["rejected"] += outcome.rejected
    TALLY["lost"] += max(0, expected - len(counts))
    TALLY["duplicated"] += duplicated
    assert duplicated == 0, f"ids twice in output/rejects: {[i for i, n in counts.items() if n > 1]}"
    assert len(outcome.ids) == expected, f"{expected} records in, {len(outcome.ids)} out: {outcome.ids}"
    if expected_ids is not None:
        assert set(outcome.ids) == expected_ids


def record_lines(data: bytes) -> list[int]:
    """Line numbers of the records in a line file (the definition at the top)."""
    pieces = data.split(b"\n")
    if pieces[-1] == b"":  # the newline ends the last line; it does not start one
        pieces.pop()
    numbers = []
    for number, raw in enumerate(pieces, 1):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            numbers.append(number)
            continue
        if text.strip():
            numbers.append(number)
    return numbers


# In memory where the system has it: the job fsyncs every part, which on a disk is
# most of an example's time, and durability is not what these properties test.
_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class _Workdir:
    """A fresh folder per example (pytest's tmp_path is one per test, not per example)."""

    def __enter__(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="tsunagu-prop-", dir=_TMP)
        root = Path(self._tmp.name)
        (root / "out").mkdir()
        return root

    def __exit__(self, *exc) -> None:
        self._tmp.cleanup()


# -- checks, shared with the benchmark ---------------------------------------------------


def check_line_file(data: bytes, name: str, input_format: str, output_format: str = "jsonl") -> None:
    with _Workdir() as root:
        path = root / name
        path.write_bytes(data)
        outcome = run_job(path, root / "out", input_format=input_format, output_format=output_format)
        numbers = record_lines(data)
        # Text lines have ids by line number, so the records are known one by one.
        account(outcome, len(numbers), {f"{name}:{n}" for n in numbers} if input_format == "text" else None)


def _write_tree(root: Path, files: dict) -> list[str]:
    """Writes ``files`` (relative path -> bytes) below ``root``, leaving out a path
    whose folder is a file already (or the reverse); returns the paths written."""
    written = []
    for rel, content in files.items():
        target = root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                continue
            target.write_bytes(content)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue
        written.append(rel)
    return written


def check_text_dir(files: dict) -> None:
    with _Workdir() as root:
        folder = root / "in"
        folder.mkdir()
        written = _write_tree(folder, files)
        outcome = run_job(folder, root / "out", input_format="dir")
        matching = {rel for rel in written if fnmatchcase(rel.rsplit("/", 1)[-1], "*.txt")}
        account(outcome, len(matching), matching)


LIVEDOOR_NON_ARTICLES = ("LICENSE.txt", "README.txt", "CHANGES.txt")


def check_livedoor(articles: dict, fields: str) -> None:
    with _Workdir() as root:
        folder = root / "text"
        written = _write_tree(folder, articles)
        outcome = run_job(folder, root / "out", input_format="livedoor", reader_options={"fields": fields})
        expected = {rel[:-len(".txt")] for rel in written
                    if rel.endswith(".txt") and rel.split("/")[-1] not in LIVEDOOR_NON_ARTICLES}
        account(outcome, len(expected), expected)


def check_docbin(data: bytes, output_format: str = "jsonl") -> None:
    with _Workdir() as root:
        path = root / "in.spacy"
        path.write_bytes(data)
        try:
            expected = len(DocBin(store_user_data=True).from_bytes(data))
        except Exception:
            expected = None  # not a DocBin to spaCy either
        try:
            outcome = run_job(path, root / "out", input_format="docbin", output_format=output_format)
        except CorpusError as e:
            # One blob: a corrupt one is refused whole, naming the file.
            assert "in.spacy" in str(e)
            TALLY["inputs"] += 1
            TALLY["corrupt blobs refused"] += 1
            return
        assert expected is not None, "a blob spaCy cannot read was read"
        account(outcome, expected)


# -- the properties ---------------------------------------------------------------------


@PROFILE
@given(data=line_files(JSON_VALUE_LINES))
def test_jsonl_of_arbitrary_json_values(data):
    check_line_file(data, "in.jsonl", "jsonl")


@PROFILE
@given(data=line_files(st.one_of(RECORD_LINES, RECORD_LINES, RECORD_LINES, HAND_MADE_LINES)),
       output_format=st.sampled_from(["jsonl", "spacy"]))
def test_jsonl_of_records_with_random_types(data, output_format):
    check_line_file(data, "in.jsonl", "jsonl", output_format)


@PROFILE
@given(data=line_files(st.one_of(BYTE_LINES, RECORD_LINES)))
def test_jsonl_of_arbitrary_bytes(data):
    check_line_file(data, "in.jsonl", "jsonl")


@PROFILE
@given(data=st.one_of(line_files(BYTE_LINES), st.binary(max_size=200)))
def test_text_lines_of_arbitrary_bytes(data):
    check_line_file(data, "in.txt", "text")


_NAME_PART = st.one_of(
    st.text("abあ_-.", min_size=1, max_size=4),
    # Names that are not UTF-8 come back from the file system with surrogate escapes.
    st.binary(min_size=1, max_size=3).filter(lambda b: b"/" not in b and b"\0" not in b).map(os.fsdecode),
).filter(lambda s: s not in (".", ".."))
_REL_PATH = st.builds(lambda parts, ext: "/".join(parts) + ext,
                      st.lists(_NAME_PART, min_size=1, max_size=3),
                      st.sampled_from([".txt", ".txt", ".TXT", ".md", ""]))
_CONTENT = st.one_of(st.binary(max_size=60), st.builds(lambda t: t.encode("utf-8", "surrogatepass"), TEXT))


@PROFILE
@given(files=st.dictionaries(_REL_PATH, _CONTENT, max_size=6))
def test_text_dir_of_arbitrary_files(files):
    check_text_dir(files)


def _article(title: str, body: str) -> bytes:
    return f"http://news.livedoor.com/article/detail/1/\n2012-01-01T00:00:00+0900\n{title}\n{body}\n".encode(
        "utf-8", "surrogatepass")


_ARTICLE = st.one_of(st.builds(_article, TEXT, TEXT), _CONTENT)


_CATEGORIES = st.lists(st.sampled_from(["sports-watch", "it-life-hack", "peachy"]), min_size=1, max_size=3,
                       unique=True)
_ARTICLE_NAMES = st.lists(st.one_of(st.integers(0, 99).map(lambda n: f"{n}"),
                                    st.sampled_from(["LICENSE.txt", "notes.md", "x.txt"])),
                          max_size=4, unique=True)


@st.composite
def livedoor_trees(draw) -> dict:
    files = {}
    for category in draw(_CATEGORIES):
        for name in draw(_ARTICLE_NAMES):
            name = f"{category}-{name}.txt" if name.isdigit() else name
            files[f"{category}/{name}"] = draw(_ARTICLE)
        files.setdefault(f"{category}/LICENSE.txt", b"licence")
    return files


@PROFILE
@given(articles=livedoor_trees(), fields=st.sampled_from(["title", "body", "title+body"]))
def test_livedoor_of_arbitrary_articles(articles, fields):
    check_livedoor(articles, fields)


# msgpack (a DocBin's user data) has no lone surrogates and no integers past 64 bits.
_MSGPACK_TEXT = st.text(max_size=8)
_MSGPACK_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(), _MSGPACK_TEXT),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_MSGPACK_TEXT, kids, max_size=3), max_leaves=6)


_WORDS = st.lists(st.sampled_from(["良い", "日", "a", " "]), max_size=4)
_DOC_IDS = st.one_of(st.integers(-1, 2), st.sampled_from(["0", "1", "in.spacy:1"]), _MSGPACK_JSON)
_DOC_META = st.one_of(st.dictionaries(_MSGPACK_TEXT, _MSGPACK_JSON, max_size=3), _MSGPACK_JSON)
_DOC_CATS = st.dictionaries(_MSGPACK_TEXT, st.one_of(st.floats(), st.integers(0, 1), _MSGPACK_JSON),
                            max_size=3)


@st.composite
def docbins(draw) -> bytes:
    """A DocBin whose documents carry ids, meta and cats of random types."""
    db = DocBin(store_user_data=True)
    for _ in range(draw(st.integers(0, 5))):
        doc = Doc(NLP.vocab, words=draw(_WORDS))
        if draw(st.booleans()):
            doc.user_data["id"] = draw(_DOC_IDS)
        if draw(st.booleans()):
            doc.user_data["meta"] = draw(_DOC_META)
        doc.cats = draw(_DOC_CATS)
        db.add(doc)
    try:
        return db.to_bytes()
    except (TypeError, ValueError, OverflowError):
        assume(False)


_MANGLED_VALUE = st.one_of(_MSGPACK_JSON, st.binary(max_size=20))


@st.composite
def mangled_docbins(draw) -> bytes:
    """A real DocBin's message with one field replaced by an arbitrary value, or bytes."""
    msg = srsly.msgpack_loads(zlib.decompress(draw(docbins())))
    key = draw(st.sampled_from(sorted(msg)))
    msg[key] = draw(_MANGLED_VALUE)
    return zlib.compress(srsly.msgpack_dumps(msg))


@PROFILE
@given(data=st.one_of(docbins(), mangled_docbins(), st.binary(max_size=100)),
       output_format=st.sampled_from(["jsonl", "spacy"]))
def test_docbin_of_random_documents_and_bytes(data, output_format):
    check_docbin(data, output_format)


PROPERTIES = [
    test_jsonl_of_arbitrary_json_values,
    test_jsonl_of_records_with_random_types,
    test_jsonl_of_arbitrary_bytes,
    test_text_lines_of_arbitrary_bytes,
    test_text_dir_of_arbitrary_files,
    test_livedoor_of_arbitrary_articles,
    test_docbin_of_random_documents_and_bytes,
]


def test_the_definition_of_a_record():
    # The accounting is only as good as this: blank lines, a BOM, a CR, undecodable bytes.
    assert record_lines(b"") == []
    assert record_lines(b"\n") == []
    assert record_lines(b"a\n\n \r\n\xef\xbb\xbf\n\xff\nb") == [1, 5, 6]
    assert record_lines("\u3000\n\x1c\nx\n".encode()) == [3]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
