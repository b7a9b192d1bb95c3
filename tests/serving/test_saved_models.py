"""Exports on disk: the text feature an export records is the one clients and `score` use."""
import json
import os

import pytest
import tensorflow as tf

from cli import main as cli
from contract.signatures import (EXAMPLES_OUTPUT, EXAMPLES_SIGNATURE, INPUT_FEATURES_FILE,
                                RAW_TEXT_OUTPUT, RAW_TEXT_SIGNATURE)
from serving.client import ClientOptions, LocalClient
from serving.errors import ServingError
from serving.saved_models import recorded_text_feature
from trainer.export import write_input_features


class _LengthModel(tf.Module):
    """The export's contract with the review in feature `review`, scoring P = length / 100."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def examples(self, examples):
        parsed = tf.io.parse_example(examples, {"review": tf.io.FixedLenFeature([], tf.string)})
        return {EXAMPLES_OUTPUT: self._score(parsed["review"])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def raw_text(self, text):
        return {RAW_TEXT_OUTPUT: self._score(text)}

    @staticmethod
    def _score(text):
        return tf.reshape(tf.cast(tf.strings.length(text), tf.float32) / 100.0, [-1, 1])


@pytest.fixture(scope="module")
def review_export(tmp_path_factory):
    """A serving dir whose version 1 parses `review` and records it as its text feature."""
    root = tmp_path_factory.mktemp("own_feature") / "serving"
    version = str(root / "1")
    module = _LengthModel()
    tf.saved_model.save(module, version, signatures={EXAMPLES_SIGNATURE: module.examples,
                                                     RAW_TEXT_SIGNATURE: module.raw_text})
    write_input_features(version, "review", "sentiment")
    return str(root)


def test_the_in_process_client_reads_the_text_feature_the_export_records(review_export):
    client = LocalClient(review_export, ClientOptions(signature=EXAMPLES_SIGNATURE))
    assert client.text_feature == "review"
    predictions = client.predict(["12345", "1234567890"])
    assert [round(p.probability, 4) for p in predictions] == [0.05, 0.1]


def test_a_given_text_feature_wins_and_a_wrong_one_is_the_servers_error(review_export):
    client = LocalClient(review_export, ClientOptions(signature=EXAMPLES_SIGNATURE,
                                                      text_feature="text"))
    with pytest.raises(ServingError, match="review") as caught:
        client.predict(["12345"])
    assert caught.value.code == "INVALID_ARGUMENT"


def test_an_export_without_the_record_is_read_as_the_pipelines_default(review_export,
                                                                      tmp_path):
    assert recorded_text_feature(os.path.join(review_export, "1")) == "review"
    bare = tmp_path / "bare"
    bare.mkdir()
    assert recorded_text_feature(str(bare)) == "text"
    with open(os.path.join(review_export, "1", INPUT_FEATURES_FILE)) as f:
        assert json.load(f) == {"text_feature": "review", "label_feature": "sentiment"}


def test_score_reads_the_column_the_export_records(review_export, tmp_path, capsys):
    reviews = tmp_path / "new.csv"
    reviews.write_text("id,review\n1,12345\n2,1234567890\n", encoding="utf-8")
    output = tmp_path / "scores.jsonl"
    assert cli.main(["score", "--model-dir", review_export, "--input", str(reviews),
                     "--output", str(output)]) == 0
    assert "2 reviews" in capsys.readouterr().out
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(row["row"], round(row["probability"], 4)) for row in rows] == [(2, 0.05),
                                                                           (3, 0.1)]

