"""Batch scoring (`imdb-pipeline score`): every review of every input file scored by the
exported model's serving signature, in order, in a file a user can read back."""
import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cli import main as cli
from tests.tiny_data import EDGE_REVIEWS, tiny_csv_reviews, write_tiny_csv


def _signature_scores(model_dir, texts):
    model = tf.saved_model.load(model_dir)
    outputs = model.signatures["serving_raw_text"](
        text=tf.constant([t.encode("utf-8") for t in texts], tf.string))
    return outputs["probability"].numpy()[:, 0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder with a CSV (unlabelled: text column only), a .txt and a TFRecord file."""
    folder = tmp_path_factory.mktemp("to_score")
    csv_texts = [t for t, _ in tiny_csv_reviews("score", 30)]  # Edge reviews first.
    write_tiny_csv(str(folder / "a.csv"), [(t, 0) for t in csv_texts], columns=("text", "y"))
    txt_texts = ["A wonderful, moving film.", "Dull and boring!"]
    (folder / "b.txt").write_text("\n".join(txt_texts) + "\n", encoding="utf-8")
    tfrecord_texts = [EDGE_REVIEWS[0].replace("{}", "great"), "the worst plot"]
    with tf.io.TFRecordWriter(str(folder / "c.tfrecord")) as writer:
        for text in tfrecord_texts:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "text": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[text.encode("utf-8")]))})).SerializeToString())
    return str(folder), {"a.csv": csv_texts, "b.txt": txt_texts, "c.tfrecord": tfrecord_texts}


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_scores_equal_the_serving_signature(pushed_model_dir, inputs, tmp_path, suffix,
                                            capsys):
    folder, texts = inputs
    output = str(tmp_path / f"scores{suffix}")
    assert cli.main(["score", "--model-dir", pushed_model_dir, "--input", folder,
                     "--output", output, "--batch-size", "7"]) == 0
    assert "reviews/s" in capsys.readouterr().out
    with open(output, encoding="utf-8", newline="") as f:
        rows = ([json.loads(line) for line in f] if suffix == ".jsonl"
                else list(csv.DictReader(f)))
    expected = [(name, row, text) for name in sorted(texts)
                for row, text in enumerate(texts[name], start=1)]
    assert [(os.path.basename(r["file"]), int(r["row"])) for r in rows] == [
        (name, row) for name, row, _ in expected]
    want = _signature_scores(pushed_model_dir, [text for *_, text in expected])
    got = np.array([float(r["probability"]) for r in rows])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert [r["label"] for r in rows] == ["positive" if p >= 0.5 else "negative" for p in got]


def test_a_failed_batch_leaves_no_partial_output(pushed_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text('text\n"fine"\n"unclosed\n', encoding="utf-8")
    output = tmp_path / "scores.jsonl"
    assert cli.main(["score", "--model-dir", pushed_model_dir, "--input", str(bad),
                     "--output", str(output)]) == 1
    assert "malformed CSV" in capsys.readouterr().err
    assert not output.exists() and not (tmp_path / "scores.jsonl.partial").exists()
