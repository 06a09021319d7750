import json


def test_demo_prints_the_analysis_of_the_sample(cli):
    out = cli("demo", "--show", "1").stdout
    assert "over 300 documents" in out
    assert "processed 300 documents" in out
    assert "bunsetu:" in out and "entities:" in out
    for category in ("sports", "technology", "food", "movies", "travel", "economy"):
        assert f"  {category}" in out


def test_info_lists_components(cli):
    out = cli("info", "--split-mode", "A").stdout
    assert "parser" in out and "bunsetu_recognizer" in out and "vectors: 20000 x 300" in out


def test_apply_reports_and_errors(cli, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("猫が好きです。\n\n犬も好きです。\n", encoding="utf-8")
    out = cli("apply", src, tmp_path / "o.jsonl", "--no-progress").stdout
    assert "wrote 2 documents" in out and "rejected 0 records" in out
    assert [json.loads(l)["id"] for l in (tmp_path / "o.jsonl").read_text().splitlines()] == \
        ["in.txt:1", "in.txt:3"]
    again = cli("apply", src, tmp_path / "o.jsonl", check=False)
    assert again.returncode == 1 and "--overwrite" in again.stderr
    missing = cli("apply", tmp_path / "nope.txt", tmp_path / "x.jsonl", check=False)
    assert missing.returncode == 1 and "Input not found" in missing.stderr
    bad_set = cli("info", "--set", "nlp.batch_size", check=False)
    assert bad_set.returncode == 1 and "KEY=VALUE" in bad_set.stderr
    assert "Traceback" not in missing.stderr + bad_set.stderr
