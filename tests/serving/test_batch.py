"""Batch scoring (`imdb-pipeline score`): every review of every input file scored by the
exported model's serving signature, in order, in a file a user can read back."""
import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cli import main as cli
from contract.review_files import ReviewFormat
from serving.batch import input_files, score_files
from serving.errors import ServingError
from serving.saved_models import resolve_model_dir
from serving.wire import Prediction
from tests.tiny_data import EDGE_REVIEWS, tiny_csv_reviews, write_tiny_csv

TEXT_ONLY = ReviewFormat("text", "", (), "auto")


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
    # The row is where the review starts in its file: CSV lines after the header, a record's
    # quoted newlines count; the .txt's lines; TFRecord records.
    csv_rows = np.cumsum([2] + [text.count("\n") + 1 for text in texts["a.csv"][:-1]])
    rows_of = {"a.csv": csv_rows.tolist(), "b.txt": [1, 2], "c.tfrecord": [1, 2]}
    expected = [(name, row, text) for name in sorted(texts)
                for row, text in zip(rows_of[name], texts[name])]
    assert len(expected) == sum(len(t) for t in texts.values())
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
    assert not output.exists() and _partials(tmp_path) == []


class _Client:
    """Stands in for a served model: P(positive) from the text's length; `before_first` runs
    once, inside the first predict (while the scoring's partial output is open)."""

    def __init__(self, before_first=None):
        self.before_first = before_first

    def predict(self, texts):
        hook, self.before_first = self.before_first, None
        if hook:
            hook()
        return [Prediction(len(text) % 10 / 10) for text in texts]


class _Broken:
    def predict(self, texts):
        raise RuntimeError("the server went away")


def _jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_rows_are_the_inputs_line_numbers(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfFirst\n\n   \nFourth\r\nFifth\n")
    (tmp_path / "b.csv").write_bytes(b'text\n"one"\n"two\nlines"\n\nfive\n')
    output = tmp_path / "scores.jsonl"
    score_files(_Client(), input_files(str(tmp_path / "*.*")), TEXT_ONLY, str(output))
    assert [(os.path.basename(r["file"]), r["row"]) for r in _jsonl(output)] == [
        ("a.txt", 1), ("a.txt", 4), ("a.txt", 5), ("b.csv", 2), ("b.csv", 3), ("b.csv", 6)]


def _partials(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".partial"))


def test_two_runs_into_one_output_do_not_corrupt_each_other(tmp_path):
    """The second run starts and finishes while the first is writing: each writes its own
    partial file, and the output is the last complete one."""
    (tmp_path / "first.txt").write_text("".join(f"review {i}\n" for i in range(50)))
    (tmp_path / "second.txt").write_text("another review\n")
    output = str(tmp_path / "scores.jsonl")
    seen = {}

    def second_run():
        seen["first's partial"] = _partials(tmp_path)
        score_files(_Client(), [str(tmp_path / "second.txt")], TEXT_ONLY, output)
        seen["second's output"] = _jsonl(output)

    summary = score_files(_Client(second_run), [str(tmp_path / "first.txt")], TEXT_ONLY, output,
                          batch_size=8)
    assert summary.reviews == 50
    assert len(seen["first's partial"]) == 1
    assert seen["first's partial"][0].startswith(".scores.jsonl.")
    assert [r["row"] for r in seen["second's output"]] == [1]
    assert [r["row"] for r in _jsonl(output)] == list(range(1, 51))
    assert _partials(tmp_path) == []


def test_a_failed_run_removes_only_its_own_partial(tmp_path):
    (tmp_path / "in.txt").write_text("".join(f"review {i}\n" for i in range(20)))
    output = str(tmp_path / "scores.csv")
    seen = {}

    def failing_run():
        with pytest.raises(RuntimeError, match="went away"):
            score_files(_Broken(), [str(tmp_path / "in.txt")], TEXT_ONLY, output)
        seen["partials after the failure"] = _partials(tmp_path)

    score_files(_Client(failing_run), [str(tmp_path / "in.txt")], TEXT_ONLY, output,
                batch_size=8)
    assert len(seen["partials after the failure"]) == 1  # The running one's, untouched.
    with open(output, encoding="utf-8", newline="") as f:
        assert [int(r["row"]) for r in csv.DictReader(f)] == list(range(1, 21))
    assert _partials(tmp_path) == []
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(output).st_mode & 0o777 == 0o666 & ~mask  # As open() would create it.


def test_the_newest_complete_version_is_chosen(tmp_path):
    serving = tmp_path / "serving"
    for version, complete in [(1, True), (2, True), (3, False)]:
        (serving / str(version) / "variables").mkdir(parents=True)
        if complete:
            (serving / str(version) / "saved_model.pb").write_bytes(b"")
    assert resolve_model_dir(str(serving)) == str(serving / "2")
    with pytest.raises(ServingError, match=r"version 3 .* no saved_model\.pb"):
        resolve_model_dir(str(serving), version=3)
    (serving / "1" / "saved_model.pb").unlink()
    (serving / "2" / "saved_model.pb").unlink()
    with pytest.raises(ServingError, match=r"no complete version .* \[1, 2, 3\]"):
        resolve_model_dir(str(serving))


def test_scoring_skips_a_version_still_being_copied(pushed_model_dir, tmp_path, capsys):
    serving = tmp_path / "serving"
    serving.mkdir()
    os.symlink(os.path.abspath(pushed_model_dir), serving / "1")
    (serving / "2" / "variables").mkdir(parents=True)  # A copy in progress.
    (tmp_path / "in.txt").write_text("A wonderful, moving film.\n")
    output = str(tmp_path / "scores.jsonl")
    assert cli.main(["score", "--model-dir", str(serving), "--input", str(tmp_path / "in.txt"),
                     "--output", output]) == 0, capsys.readouterr().err
    [row] = _jsonl(output)
    assert row["probability"] == pytest.approx(
        float(_signature_scores(pushed_model_dir, ["A wonderful, moving film."])[0]), abs=1e-6)
