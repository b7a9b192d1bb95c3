import collections
import glob
import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.tfds_example_gen import (SPLITS, Executor, TfdsDataError, hash_bucket,
                                         load_tfds_builder, text_bytes)
from tests.tiny_data import EDGE_REVIEWS, TINY_DATASET, TinyImdb, tiny_label, tiny_text


def _run_example_gen(tmp_path, data_dir, **overrides):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    properties = {"dataset": TINY_DATASET, "data_dir": data_dir, "text_feature": "text",
                  "label_feature": "label", "eval_percent": 25, "max_examples": 0, **overrides}
    Executor().Do({}, {"examples": [examples]}, properties)
    return examples


def _read_split(examples, split):
    files = glob.glob(os.path.join(examples.uri, f"Split-{split}", "*.gz"))
    assert files, f"no files for split {split}"
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_splits_counts_and_properties(tmp_path, tiny_tfds_dir):
    examples = _run_example_gen(tmp_path / "a", tiny_tfds_dir)
    records = {split: _read_split(examples, split) for split in SPLITS}
    train_total = TinyImdb.NUM_EXAMPLES["train"]
    assert len(records["train"]) + len(records["eval"]) == train_total
    assert 0.1 * train_total < len(records["eval"]) < 0.4 * train_total  # ~25%
    assert len(records["test"]) == TinyImdb.NUM_EXAMPLES["test"]
    counts = json.loads(examples.get_string_custom_property("split_counts"))
    assert counts == {split: len(rows) for split, rows in records.items()}
    assert examples.get_int_custom_property("num_examples_test") == len(records["test"])
    assert json.loads(examples.split_names) == list(SPLITS)
    assert examples.span == 0 and examples.version == 1
    for example in records["train"][:20] + records["test"][:20]:
        features = example.features.feature
        assert features["text"].bytes_list.value[0]
        assert features["label"].int64_list.value[0] in (0, 1)
    # Eval membership is decided by the text's hash, nothing else.
    for example in records["eval"]:
        assert hash_bucket(example.features.feature["text"].bytes_list.value[0]) < 25


def _pairs(examples):
    return collections.Counter(
        (e.features.feature["text"].bytes_list.value[0],
         e.features.feature["label"].int64_list.value[0]) for e in examples)


def _generated(split):
    """What TinyImdb's generator wrote for `split`: (UTF-8 bytes, label) pairs."""
    rng = random.Random(f"{split}-seed")
    return collections.Counter(
        (tiny_text(rng, index).encode("utf-8"), -1 if split == "unsupervised"
         else tiny_label(index)) for index in range(TinyImdb.NUM_EXAMPLES[split]))


def test_every_review_is_written_exactly_as_tfds_stores_it(tmp_path, tiny_tfds_dir):
    """Record for record (as multisets), for every split, the unlabeled one included: the
    bytes the generator wrote, which are also what TFDS itself reads back."""
    import tensorflow_datasets as tfds

    examples = _run_example_gen(tmp_path, tiny_tfds_dir, unlabeled_split="unsupervised")
    written = {split: _pairs(_read_split(examples, split))
               for split in (*SPLITS, "unlabeled")}
    builder = tfds.builder(TINY_DATASET, data_dir=tiny_tfds_dir)
    for source, ours in (("train", written["train"] + written["eval"]),
                         ("test", written["test"]), ("unsupervised", written["unlabeled"])):
        assert ours == _generated(source), source
        stored = collections.Counter((r["text"], int(r["label"])) for r in
                                     tfds.as_numpy(builder.as_dataset(split=source)))
        assert ours == stored, source
    # The hard cases are really there, byte for byte (non-ASCII, quotes, backslashes,
    # markup, newline, empty), in every split.
    texts = {split: {text for text, _ in pairs} for split, pairs in written.items()}
    for index in range(len(EDGE_REVIEWS)):
        expected = tiny_text(random.Random(0), index).encode("utf-8")
        assert expected in texts["train"] | texts["eval"]
        assert expected in texts["test"] and expected in texts["unlabeled"]
    assert b"" in texts["test"] and "Risqué".encode("utf-8") in b"".join(texts["test"])
    assert not any(text.startswith(b"tf.Tensor(") for split in texts.values() for text in split)


@pytest.mark.parametrize("value, expected", [
    (tf.constant("Risqué \\ \"x\""), "Risqué \\ \"x\"".encode("utf-8")),
    (tf.constant(b"\xc3\xa9"), "é".encode("utf-8")),
    (tf.constant(""), b""),
    (np.array(b"abc", dtype=object), b"abc"),
    (np.bytes_(b"abc"), b"abc"),
    ("naïve", "naïve".encode("utf-8")),
])
def test_text_bytes_is_the_value_not_its_printed_form(value, expected):
    assert text_bytes(value) == expected


def test_text_bytes_refuses_what_is_not_one_string():
    with pytest.raises(TfdsDataError, match="one string per review"):
        text_bytes(tf.constant(["a", "b"]))
    with pytest.raises(TfdsDataError, match="one string per review"):
        text_bytes(3)


def test_split_is_deterministic(tmp_path, tiny_tfds_dir):
    def eval_texts(folder):
        examples = _run_example_gen(tmp_path / folder, tiny_tfds_dir)
        return sorted(e.features.feature["text"].bytes_list.value[0]
                      for e in _read_split(examples, "eval"))

    assert eval_texts("first") == eval_texts("second")


def test_max_examples_limits_each_split(tmp_path, tiny_tfds_dir):
    examples = _run_example_gen(tmp_path, tiny_tfds_dir, max_examples=40)
    counts = json.loads(examples.get_string_custom_property("split_counts"))
    assert counts["train"] + counts["eval"] == 40 and counts["test"] == 40


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(TfdsDataError, match="not prepared|cannot load"):
        load_tfds_builder("tiny_imdb/plain_text", str(tmp_path), download=False)


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(TfdsDataError, match="no_such_dataset"):
        load_tfds_builder("no_such_dataset", str(tmp_path))


def test_wrong_feature_name_is_a_clear_error(tiny_tfds_dir):
    with pytest.raises(TfdsDataError, match="--text-feature"):
        load_tfds_builder(TINY_DATASET, tiny_tfds_dir, text_feature="review")


def _copy_with_damaged_shard(tmp_path, tiny_tfds_dir, damage):
    """A copy of the tiny TFDS dir whose first train shard `damage(path)` changes."""
    import shutil

    data_dir = str(tmp_path / "tfds")
    shutil.copytree(tiny_tfds_dir, data_dir)
    shard = sorted(glob.glob(os.path.join(data_dir, "**", "*-train.tfrecord*"),
                             recursive=True))[0]
    damage(shard)
    return data_dir, shard


def _truncate_mid_record(path):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 7)


def _flip_a_byte(path):
    with open(path, "r+b") as handle:
        handle.seek(40)
        byte = handle.read(1)
        handle.seek(40)
        handle.write(bytes([byte[0] ^ 0xFF]))


def _drop_last_record(path):
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    with tf.io.TFRecordWriter(path) as writer:
        for record in records[:-1]:
            writer.write(record)


@pytest.mark.parametrize("damage, message", [
    (_truncate_mid_record, "corrupted or truncated"),
    (_flip_a_byte, "corrupted or truncated"),
    (_drop_last_record, "holds .* records, its dataset_info says"),
    (os.remove, "is missing"),
])
def test_damaged_shard_is_named_before_any_work(tmp_path, tiny_tfds_dir, damage, message):
    data_dir, shard = _copy_with_damaged_shard(tmp_path, tiny_tfds_dir, damage)
    with pytest.raises(TfdsDataError, match=message) as error:
        load_tfds_builder(TINY_DATASET, data_dir)
    assert shard in str(error.value) and "prepare.sh" in str(error.value)


def test_executor_writes_nothing_from_a_damaged_shard(tmp_path, tiny_tfds_dir):
    data_dir, shard = _copy_with_damaged_shard(tmp_path, tiny_tfds_dir, _truncate_mid_record)
    with pytest.raises(TfdsDataError, match="corrupted or truncated"):
        _run_example_gen(tmp_path, data_dir)
    assert not glob.glob(str(tmp_path / "Split-*" / "*"))
