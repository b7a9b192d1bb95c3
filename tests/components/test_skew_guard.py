"""The training/serving skew guard (components/skew_guard.py): printed text is refused by the
ExampleGen and by the Evaluator, and an export whose two signatures disagree is never blessed."""
import glob
import json
import os
import random

import pytest
import tensorflow as tf

import components.tfds_example_gen as example_gen
from components import skew_guard
from components.evaluator import EvaluatorExecutor
from components.skew_guard import SkewError, check_serving_skew, check_texts, printed_form
from tests.tiny_data import EDGE_REVIEWS, synthetic_review, tiny_text


def printed(text: str) -> bytes:
    """What `str()` of an eager tensor wrote for every review before the ExampleGen's fix."""
    return str(tf.constant(text)).encode("utf-8")


def example(text: bytes, label: int = 1) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))})
    ).SerializeToString()


@pytest.mark.parametrize("text, reason", [
    (printed("A great film"), "tf.Tensor"),
    (printed("Risqué"), "tf.Tensor"),
    (repr("naïve".encode("utf-8")).encode(), "bytes literal"),
    (b'b"it\'s great"', "bytes literal"),
    (b"[b'great', b'film']", "array or list"),
    (b"risqu\\xc3\\xa9 like in Shrek", "escapes"),
])
def test_printed_values_are_recognised(text, reason):
    assert reason in printed_form(text)


def test_real_reviews_are_not_printed():
    rng = random.Random(0)
    reviews = [tiny_text(rng, i).encode("utf-8") for i in range(len(EDGE_REVIEWS))]
    reviews += [synthetic_review(rng, i % 2).encode("utf-8") for i in range(200)]
    reviews += ["Risqué, not risqu\\xc3\\xa9: écrit à la main".encode("utf-8"),
                b"b-movie fans: 'b' is for bad", b"tf.Tensor is a class name"]
    assert [r for r in reviews if printed_form(r)] == [EDGE_REVIEWS[2].replace(
        "{}", "boring").encode("utf-8")]  # The one edge review that quotes escapes.
    assert check_texts(reviews, "x") == {"reviews_checked": len(reviews),
                                         "reviews_looking_printed": 1}


def test_a_few_printed_reviews_pass_most_do_not():
    good = [b"a good film"] * 19
    assert check_texts(good + [printed("x")], "x")["reviews_looking_printed"] == 1
    with pytest.raises(SkewError, match=r"3 of 20 reviews in the eval split look like the "
                                        r"printed form of a tf.Tensor"):
        check_texts(good[:17] + [printed("x")] * 3, "the eval split")


def test_example_gen_refuses_to_write_printed_reviews(tmp_path, tiny_tfds_dir, monkeypatch):
    """The writer defect itself, put back: the run stops at the ExampleGen."""
    monkeypatch.setattr(example_gen, "text_bytes", lambda value: str(value).encode("utf-8"))
    examples = example_gen.standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    with pytest.raises(SkewError, match=r"reviews in split 'train' look like printed values"):
        example_gen.Executor().Do({}, {"examples": [examples]}, {
            "dataset": "tiny_imdb/plain_text", "data_dir": tiny_tfds_dir,
            "text_feature": "text", "label_feature": "label", "eval_percent": 25,
            "max_examples": 0})


def _stored_eval(first_run):
    uri = first_run.artifact("TfdsExampleGen", "examples").uri
    return skew_guard.read_examples(glob.glob(os.path.join(uri, "Split-eval", "*")), 1000)


def test_the_tiny_run_passed_the_guard_and_recorded_it(first_run):
    blessing = first_run.artifact("Evaluator", "blessing")
    recorded = json.loads(blessing.custom_properties["skew_check"].string_value)
    assert recorded["reviews_checked"] == len(_stored_eval(first_run)) > 0
    assert recorded["max_probability_difference"] <= skew_guard.PROBABILITY_TOLERANCE


def test_corrupted_example_gen_output_fails_the_check(first_run, pushed_model_dir):
    """The stored Examples rewritten as the defective ExampleGen wrote them."""
    stored = _stored_eval(first_run)
    assert check_serving_skew(stored, pushed_model_dir, "label")["reviews_looking_printed"] <= 1
    corrupted = [example(printed(tf.train.Example.FromString(s).features.feature["text"]
                                 .bytes_list.value[0].decode("utf-8"))) for s in stored]
    with pytest.raises(SkewError, match="printed form of a tf.Tensor") as error:
        check_serving_skew(corrupted, pushed_model_dir, "label")
    assert "\n" not in str(error.value)  # One line from the CLI.


class _SkewedExport(tf.Module):
    """An export whose raw-text signature adds `offset`: what a second, diverging copy of the
    preprocessing in one signature would do."""

    def __init__(self, offset: float):
        super().__init__()
        self.offset = tf.constant(offset)

    @staticmethod
    def _score(text):
        return tf.reshape(tf.cast(tf.strings.length(text), tf.float32) / 1000.0, [-1, 1])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def examples(self, serialized):
        text = tf.io.parse_example(serialized, {"text": tf.io.FixedLenFeature([], tf.string)})
        return {"outputs": self._score(text["text"])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def raw_text(self, text):
        return {"probability": self._score(text) + self.offset}


@pytest.mark.parametrize("offset, fails", [(0.0, False), (0.01, True)])
def test_signatures_that_disagree_fail_the_check(tmp_path, offset, fails):
    module = _SkewedExport(offset)
    tf.saved_model.save(module, str(tmp_path), signatures={
        "serving_default": module.examples, "serving_raw_text": module.raw_text})
    reviews = [example(f"review number {i} was great".encode()) for i in range(10)]
    if fails:
        with pytest.raises(SkewError, match="scores the same review differently"):
            check_serving_skew(reviews, str(tmp_path), "label")
    else:
        assert check_serving_skew(reviews, str(tmp_path), "label")[
            "max_probability_difference"] == 0.0


def test_an_example_without_one_text_feature_is_refused(tmp_path):
    odd = tf.train.Example(features=tf.train.Features(feature={
        name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"]))
        for name in ("title", "body")})).SerializeToString()
    with pytest.raises(SkewError, match=r"one text feature besides 'label'.*\['body', 'title'\]"):
        check_serving_skew([odd], str(tmp_path), "label")


def test_evaluator_runs_the_guard_before_tfma(tmp_path, monkeypatch, first_run):
    """The Evaluator's executor on the tiny run's inputs, with its eval split corrupted: it
    fails before TFMA is called, so no blessing is written."""
    from tfx.components.evaluator import executor as evaluator_executor
    from tfx.types import standard_artifacts

    called = []
    monkeypatch.setattr(evaluator_executor.Executor, "Do", lambda *args: called.append(1))
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = '["eval"]'
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    with tf.io.TFRecordWriter(os.path.join(examples.uri, "Split-eval", "data.gz"),
                              options="GZIP") as writer:
        for index in range(20):
            writer.write(example(printed(f"review {index}, a great one")))
    model = standard_artifacts.Model()
    model.uri = first_run.artifact("Trainer", "model").uri
    from pipeline.config import make_config
    from pipeline.pipeline import eval_config
    from tfx.utils import proto_utils

    props = {"eval_config": proto_utils.proto_to_json(eval_config(make_config()))}
    with pytest.raises(SkewError, match="20 of 20 reviews"):
        EvaluatorExecutor().Do({"examples": [examples], "model": [model]}, {}, props)
    assert not called
