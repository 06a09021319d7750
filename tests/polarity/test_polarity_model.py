"""The trained polarity path (issue 17 part 3): composition features, configs/polarity.cfg
trained with spacy train on parsed DocBins, and tsunagu.load(polarity=DIR)."""

import json
from pathlib import Path

import numpy
import pytest

from conftest import shared_pipeline, spacy_train
from tsunagu.components.architectures import build_bilstm_textcat, merge_bags
from tsunagu.errors import ConfigError, ModelNotFoundError
from tsunagu.polarity.features import CompositionFeatures

REPO = Path(__file__).resolve().parents[2]

POSITIVE = ["売上高は前年同期比で増加しました。", "営業利益は大幅に改善しました。", "受注が好調に推移しました。",
            "損失が減少しました。", "赤字を解消しました。", "業績は堅調に推移しました。",
            "新製品の販売が伸びました。", "利益率が向上しました。", "顧客の満足度が高まりました。",
            "コストを削減できました。", "主力事業が好調でした。", "純利益は過去最高となりました。"]
NEGATIVE = ["売上高は前年同期比で減少しました。", "営業利益は大幅に悪化しました。", "受注が低迷しました。",
            "損失が拡大しました。", "赤字に転落しました。", "業績は厳しい状況で推移しました。",
            "新製品の販売が伸び悩みました。", "利益率が低下しました。", "顧客の不満が高まりました。",
            "コストが上昇しました。", "主力事業が不振でした。", "純利益は大きく落ち込みました。"]


def test_merge_bags_keeps_each_document_together():
    a, a_off = numpy.array([1, 2, 3, 4]), numpy.array([0, 3, 3])
    b, b_off = numpy.array([9, 8, 7]), numpy.array([0, 0, 2])
    merged, offsets = merge_bags(a, a_off, b, b_off)
    assert merged.tolist() == [1, 2, 3, 9, 8, 4, 7]
    assert offsets.tolist() == [0, 3, 5]


def test_features_tell_a_shifted_word_from_a_reversed_one():
    nlp = shared_pipeline()
    features = CompositionFeatures(["tsunagu:ja"], ["business"])
    good = features.strings(nlp("損失が減少しました。"))
    bad = features.strings(nlp("売上高が減少しました。"))
    assert "pol+|減少" in good and "pol-|減少" in bad
    assert any(s.startswith("polbin") for s in good)
    assert features.keys(nlp("損失が減少しました。")).dtype == numpy.uint64


def test_features_need_a_parse():
    import spacy

    doc = spacy.blank("ja").make_doc("売上が増えた")
    with pytest.raises(ConfigError, match="to-spacy --parse"):
        CompositionFeatures(["tsunagu:ja"]).strings(doc)


def test_polarity_features_need_the_bag_of_words():
    with pytest.raises(ConfigError, match="bow = true"):
        build_bilstm_textcat(exclusive_classes=True, polarity_features=True, bow=False)


def test_a_directory_that_is_no_model_is_a_clear_error(tmp_path):
    import tsunagu

    with pytest.raises(ModelNotFoundError, match="No polarity model directory"):
        tsunagu.load(polarity=tmp_path / "missing")
    with pytest.raises(ModelNotFoundError, match="not a trained polarity model"):
        tsunagu.load(polarity=tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """configs/polarity.cfg trained for 20 short epochs on 24 parsed sentences."""
    from tsunagu.docbins import corpus_to_docbins

    root = tmp_path_factory.mktemp("polarity-model")
    corpus = root / "sentences.jsonl"
    with open(corpus, "w", encoding="utf-8") as f:
        for i, text in enumerate(POSITIVE * 2 + NEGATIVE * 2):
            label = "positive" if text in POSITIVE else "negative"
            f.write(json.dumps({"id": f"s{i}", "text": text, "label": label}, ensure_ascii=False) + "\n")
    corpus_to_docbins(corpus, root / "corpus", fractions=(0.5, 0.5, 0.0), parse=True, progress=False)
    spacy_train(REPO / "configs" / "polarity.cfg", root / "model",
                "--paths.train", root / "corpus" / "train.spacy",
                "--paths.dev", root / "corpus" / "dev.spacy",
                "--training.max_epochs", 20, "--training.eval_frequency", 10,
                "--training.batcher.size", 120,
                "--components.textcat_lstm.model.freeze_embeddings", "true",
                "--components.textcat_lstm.n_threads", 1)
    return root / "model" / "model-best"


def test_parsed_docbins_keep_the_parse(trained):
    import spacy
    from spacy.tokens import DocBin

    path = trained.parents[1] / "corpus" / "train.spacy"
    docs = list(DocBin().from_disk(path).get_docs(spacy.blank("ja").vocab))
    assert docs and all(d.has_annotation("DEP") for d in docs)
    meta = json.loads((trained.parents[1] / "corpus" / "meta.json").read_text())
    assert meta["parsed"] is True


def test_the_model_sets_sentence_and_document_polarity(trained, tmp_path):
    import spacy

    import tsunagu

    nlp = tsunagu.load(polarity=trained)
    assert nlp.pipe_names.index("polarity_model") == nlp.pipe_names.index("polarity") + 1
    doc = nlp("営業利益は大幅に改善しました。受注が低迷しました。")
    model = nlp.get_pipe("polarity_model")
    sentences = list(doc.sents)
    assert len(sentences) == 2
    probs = model.predict([s.as_doc() for s in sentences])
    labels = model.labels
    for sent, p in zip(sentences, probs):
        expected = p[labels.index("positive")] - p[labels.index("negative")]
        assert sent._.polarity == pytest.approx(expected, abs=1e-6)
        assert sent._.polarity_label == ("positive" if expected > 0 else "negative")
        assert sent._.polarity_reasons  # still the composition's evidence
    assert doc._.polarity == pytest.approx(numpy.mean([s._.polarity for s in sentences]))
    assert doc._.polarity_label in ("positive", "negative")
    # token._.polarity stays the lexicon's (through composition), not the model's
    assert any(t._.polarity is not None for t in doc)
    # a span that is not a sentence keeps the composed score
    assert doc[0:3]._.polarity is not None

    nlp.to_disk(tmp_path / "pipeline")
    again = spacy.load(tmp_path / "pipeline")
    assert again(doc.text)._.polarity == pytest.approx(doc._.polarity, abs=1e-6)


def test_training_separates_the_training_sentences(trained):
    import tsunagu

    nlp = tsunagu.load(polarity=trained)
    docs = list(nlp.pipe(POSITIVE + NEGATIVE))
    gold = [1] * len(POSITIVE) + [-1] * len(NEGATIVE)
    accuracy = numpy.mean([numpy.sign(d._.polarity) == g for d, g in zip(docs, gold)])
    assert accuracy >= 0.8


def test_demo_prints_each_sentence_with_its_reasons(cli):
    out = cli("demo", "--show", "1").stdout
    assert "sentence 1: " in out and "because " in out and "document: " in out
    line = next(l for l in out.splitlines() if "sentence 1: " in l)
    assert line.split("sentence 1: ")[1].split()[0] in ("positive", "negative", "neutral")


def test_apply_writes_the_models_sentence_labels(cli, trained, tmp_path):
    import tsunagu

    source = tmp_path / "in.txt"
    source.write_text("営業利益は大幅に改善しました。受注が低迷しました。\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    cli("apply", source, out, "--polarity", trained, "--no-progress")
    record = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    doc = tsunagu.load(polarity=trained)(source.read_text(encoding="utf-8").strip())
    assert [s["polarity_label"] for s in record["sents"]] == [s._.polarity_label for s in doc.sents]
    assert [s["polarity"] for s in record["sents"]] == pytest.approx([s._.polarity for s in doc.sents], abs=1e-6)
    assert record["polarity_label"] == doc._.polarity_label
