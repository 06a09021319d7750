"""One split rule: `tsunagu corpus to-spacy` and `tsunagu al simulate` hold out the same test set."""

import random
from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin

import tsunagu.active.simulate
import tsunagu.docbins
from tsunagu.corpora import Record, read_corpus, sample_corpus_path
from tsunagu.errors import ConfigError
from tsunagu.splits import SPLITS, split_records


def test_both_commands_use_the_one_split_function():
    assert tsunagu.docbins.split_records is split_records
    assert tsunagu.active.simulate.split_records is split_records


def test_to_spacy_and_al_simulate_hold_out_the_same_test_set(cli, tmp_path, monkeypatch):
    seed, split = 7, ("0.7", "0.1", "0.2")
    out = tmp_path / "docbins"
    cli("corpus", "to-spacy", sample_corpus_path(), out, "--seed", seed, "--split", *split, "--no-progress")
    vocab = spacy.blank("ja").vocab
    docbin_ids = {name: [d.user_data["id"] for d in DocBin().from_disk(out / f"{name}.spacy").get_docs(vocab)]
                  for name in SPLITS}

    seen = {}

    def run_simulations(pool_texts, pool_labels, test_texts, test_labels, labels, strategies, settings,
                        out_dir, **kwargs):  # what `al simulate` would simulate on, and nothing else
        seen.update(pool=pool_texts, test=test_texts, test_labels=test_labels)
        return {"reference_accuracy": None, "target_accuracy": None, "strategies": {}}

    monkeypatch.setattr(tsunagu.active.simulate, "run_simulations", run_simulations)
    cli("al", "simulate", "--gold", sample_corpus_path(), "--split", ",".join(split), "--split-seed", seed,
        "--strategy", "random", "--seeds", "0", "-o", tmp_path / "sim")

    by_id = {r.id: r for r in read_corpus(sample_corpus_path())}
    assert seen["test"] == [by_id[i].text for i in docbin_ids["test"]]  # same documents, same order
    assert seen["test_labels"] == [by_id[i].label for i in docbin_ids["test"]]
    assert seen["pool"] == [by_id[i].text for i in docbin_ids["train"]]
    assert len(docbin_ids["test"]) == 60 and Counter(by_id[i].label for i in docbin_ids["test"]) == {
        label: 10 for label in {r.label for r in by_id.values()}}
    # and the rule is the one the library exposes
    parts = split_records(list(by_id.values()), [float(f) for f in split], seed=seed)
    assert [r.id for r in parts["test"]] == docbin_ids["test"]


def _records():
    """Uneven labels (200, 90, 13, 1 records) with ids in no particular order."""
    sizes = {"a": 200, "b": 90, "c": 13, "d": 1}
    records = [Record(f"{label}-{i:04d}-{random.Random(i).random():.6f}", "x", (label,))
               for label, n in sizes.items() for i in range(n)]
    return records, sizes


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.7, 0.0, 0.3), (0.5, 0.25, 0.25), (1.0, 0.0, 0.0)])
def test_split_is_stratified_deterministic_and_a_partition(fractions):
    records, sizes = _records()
    parts = split_records(records, fractions, seed=11)
    ids = {name: [r.id for r in parts[name]] for name in SPLITS}
    # a partition of the records
    assert sorted(sum(ids.values(), [])) == sorted(r.id for r in records)
    # stratified: each label in each part in proportion (rounded within the label)
    for label, n in sizes.items():
        n_train = round(n * fractions[0])
        n_dev = min(n - n_train, round(n * fractions[1]))
        counts = [Counter(r.label for r in parts[name])[label] for name in SPLITS]
        assert counts == [n_train, n_dev, n - n_train - n_dev], label
    # deterministic: the same seed gives the same parts in the same order, whatever
    # the reading order; another seed another test set
    for order_seed in (1, 2):
        shuffled = records[:]
        random.Random(order_seed).shuffle(shuffled)
        again = split_records(shuffled, fractions, seed=11)
        assert {name: [r.id for r in again[name]] for name in SPLITS} == ids
    if fractions[2]:
        assert set(r.id for r in split_records(records, fractions, seed=12)["test"]) != set(ids["test"])


def test_multilabel_records_are_stratified_by_their_first_label():
    records = [Record(f"r{i}", "x", (("a", "b")[i % 2], "z")) for i in range(40)]
    parts = split_records(records, (0.5, 0.25, 0.25), seed=0)
    assert [Counter(r.labels[0] for r in parts[name]) for name in SPLITS] == [
        {"a": 10, "b": 10}, {"a": 5, "b": 5}, {"a": 5, "b": 5}]


@pytest.mark.parametrize("fractions", [(0.5, 0.1), (0.5, 0.6, -0.1), (0.0, 0.5, 0.5), (0.8, 0.1, 0.2)])
def test_bad_fractions_are_a_config_error(fractions):
    with pytest.raises(ConfigError, match="split"):
        split_records(_records()[0], fractions)
