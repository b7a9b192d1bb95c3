"""The distillation stage end to end on tiny data (--unlabeled-split, trainer/distill.py): one
more tiny pipeline run, kept small (fixed hyperparameters, one epoch)."""
import json
import os

import pytest
import tensorflow as tf

from components.pusher import SOURCE_FILE


@pytest.fixture(scope="module")
def distilled_run(tmp_path_factory, tiny_tfds_dir, tiny_glove_path):
    from pipeline import local_runner
    from reports import run_record
    from pipeline.config import make_config

    config = make_config(
        "smoke", tfds_name="tiny_imdb", tfds_data_dir=tiny_tfds_dir, glove_path=tiny_glove_path,
        output_dir=str(tmp_path_factory.mktemp("distill")), max_examples=0, max_len=24,
        vocab_size=500, units=4, epochs=1, average_from_epoch=0, min_accuracy=0.0,
        max_accuracy_drop=1.0, tuning="fixed", ngram_vocab_size=300, ngram_max=2,
        ensemble_size=1, unlabeled_split="unsupervised")
    local_runner.run(config)
    return run_record.latest_run(config)


def test_unlabeled_reviews_flow_past_validation_into_transform(distilled_run):
    examples = distilled_run.artifact("TfdsExampleGen", "examples")
    assert json.loads(examples.custom_properties["split_counts"].string_value)["unlabeled"] == 120
    statistics = distilled_run.artifact("StatisticsGen", "statistics")
    assert "unlabeled" not in statistics.properties["split_names"].string_value
    transformed = distilled_run.artifact("Transform", "transformed_examples")
    assert os.listdir(os.path.join(transformed.uri, "Split-unlabeled"))


def test_the_student_learns_from_the_teachers_labels_and_is_pushed(distilled_run):
    teacher = distilled_run.artifact("Teacher", "model")
    student = distilled_run.artifact("Trainer", "model")
    assert teacher and student and teacher.uri != student.uri
    run_dir = distilled_run.artifact("Trainer", "model_run").uri
    with open(os.path.join(run_dir, "training_summary.json")) as summary_file:
        summary = json.load(summary_file)
    distillation = summary["distillation"]
    assert distillation["unlabeled_reviews"] == 120
    examples = distilled_run.artifact("TfdsExampleGen", "examples")
    assert distillation["labelled_reviews"] == \
        json.loads(examples.custom_properties["split_counts"].string_value)["train"]
    assert distillation["teacher"].startswith(teacher.uri)
    assert 0.0 <= distillation["teacher_positive_fraction"] <= 1.0
    assert "wide_and_deep" in summary  # The wide part is refitted on labelled reviews only.

    assert distilled_run.blessed is True
    pushed = distilled_run.pushed_destination
    with open(os.path.join(pushed, SOURCE_FILE)) as source:
        assert json.load(source)["model_uri"] == student.uri
    assert len(tf.keras.models.load_model(pushed).inputs) == 2  # No custom objects needed.
    loaded = tf.saved_model.load(pushed)
    probability = loaded.signatures["serving_raw_text"](text=tf.constant(["great film"]))
    assert 0.0 <= float(probability["probability"][0, 0]) <= 1.0


def test_reports_say_the_exported_model_is_a_student(distilled_run):
    from reports import html_report, report

    text = report.format_report(distilled_run)
    assert "Distillation:       a student trained on" in text and "120 unlabeled" in text
    page = html_report.training_section(distilled_run)
    assert 'data-key="distillation"' in page and "120 unlabeled" in page
