"""The installed command as users start it, in a process of its own: the other CLI
tests call ``tsunagu.cli.main`` in the test process, which does not cover
``python -m tsunagu`` passing main()'s status to the shell."""

from tsunagu.lexicons.lexicon import Lexicon, write_lexicon

from conftest import run_cli

COMMANDS = ("demo", "apply", "embed", "lexicon", "corpus", "lm", "annotate", "al", "transformer", "info")


def test_help_lists_every_command():
    proc = run_cli("--help", timeout=120)
    assert proc.stdout.startswith("usage: tsunagu")
    for command in COMMANDS:
        assert f"\n    {command}" in proc.stdout, command


def test_a_failing_command_exits_with_status_1_and_one_error_line(tmp_path):
    write_lexicon(Lexicon({("good", "a"): 1.0, ("bad", "a"): -1.0}), tmp_path / "gold.tsv")
    bad = run_cli("lexicon", "eval", tmp_path / "nope.tsv", "--gold", tmp_path / "gold.tsv",
                  timeout=120, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Lexicon not found" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
