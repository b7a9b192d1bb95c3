"""The pipeline's Evaluator executor (components/evaluator.py): what it hands TFX's."""
import os

import pytest
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import standard_artifacts
from tfx.utils import io_utils, proto_utils

from components.evaluator import EvaluatorExecutor, features_tfma_reads, project_schema
from pipeline.config import make_config
from pipeline.pipeline import eval_config
from tests.support.serving_dirs import run_baseline_executor, serve


def schema_with(*names) -> schema_pb2.Schema:
    schema = schema_pb2.Schema(default_environment=["TRAINING", "SERVING"])
    for name in names:
        schema.feature.add(name=name, type=schema_pb2.INT if name == "label" else schema_pb2.BYTES)
    return schema


def test_tfma_reads_the_label_the_slicing_keys_and_the_text_for_its_length_only():
    assert features_tfma_reads(eval_config(make_config())) == {"label", "text"}
    assert features_tfma_reads(eval_config(make_config(
        eval_label_slices=True, label_feature="sentiment", text_feature="review"))) == {
            "sentiment", "review"}


def test_projection_keeps_only_what_tfma_reads():
    projected = project_schema(schema_with("text", "label"), {"label"})
    assert [f.name for f in projected.feature] == ["label"]
    assert list(projected.default_environment) == ["TRAINING", "SERVING"]
    with pytest.raises(ValueError, match="--label-feature"):
        project_schema(schema_with("text", "label"), {"sentiment"})


def _capture_stock_do(monkeypatch) -> dict:
    seen = {}
    monkeypatch.setattr(evaluator_executor.Executor, "Do",
                        lambda self, inputs, outputs, props: seen.update(inputs))
    # The skew guard reads real Examples and a real export: tests/components/test_skew_guard.py.
    monkeypatch.setattr(EvaluatorExecutor, "_check_skew", lambda self, inputs, props: {})
    return seen


@pytest.mark.parametrize("served", [False, True])
def test_drops_only_an_empty_baseline(tmp_path, monkeypatch, served):
    seen = _capture_stock_do(monkeypatch)
    if served:
        serve(tmp_path / "serving", 1)
    baseline = run_baseline_executor(tmp_path / "serving", tmp_path / "baseline")
    EvaluatorExecutor().Do({"model": ["candidate"], "baseline_model": [baseline]}, {}, {})
    assert ("baseline_model" in seen) is served and seen["model"] == ["candidate"]


@pytest.mark.parametrize("served", [False, True])
def test_the_non_inferiority_bar_needs_a_served_model(tmp_path, monkeypatch, served):
    """Nothing served: no paired difference to bound, so the bar goes (TFMA would count a
    threshold on a metric it never computed as a failure); served: it stays."""
    from components.gate_metrics import PairedIntervals, SliceIntervals

    handed = {}
    monkeypatch.setattr(evaluator_executor.Executor, "Do",
                        lambda self, inputs, outputs, props: handed.update(props))
    monkeypatch.setattr(EvaluatorExecutor, "_check_skew", lambda self, inputs, props: {})
    if served:
        serve(tmp_path / "serving", 1)
    baseline = run_baseline_executor(tmp_path / "serving", tmp_path / "baseline")
    props = {"eval_config": proto_utils.proto_to_json(eval_config(make_config()))}
    EvaluatorExecutor().Do({"model": ["candidate"], "baseline_model": [baseline]}, {}, props)
    metrics = {m.class_name: m for spec in EvaluatorExecutor._eval_config(handed).metrics_specs
               for m in spec.metrics}
    for name, margin in ((PairedIntervals.__name__, make_config().max_accuracy_drop),
                         (SliceIntervals.__name__, make_config().max_slice_accuracy_drop)):
        bars = metrics[name].per_slice_thresholds
        assert len(bars) == (1 if served else 0), name
        if served:
            bound = bars[0].threshold.value_threshold.lower_bound.value
            assert bound == pytest.approx(-margin), name


def test_stock_evaluator_gets_the_schema_cut_to_what_tfma_reads(tmp_path, monkeypatch):
    seen = _capture_stock_do(monkeypatch)
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    io_utils.write_pbtxt_file(os.path.join(schema.uri, "schema.pbtxt"),
                              schema_with("title", "text", "label"))
    context = EvaluatorExecutor.Context(tmp_dir=str(tmp_path / "tmp"), unique_id="1")
    props = {"eval_config": proto_utils.proto_to_json(eval_config(make_config()))}
    EvaluatorExecutor(context).Do({"model": ["candidate"], "schema": [schema]}, {}, props)
    handed = io_utils.SchemaReader().read(
        io_utils.get_only_uri_in_dir(seen["schema"][0].uri))
    assert [f.name for f in handed.feature] == ["text", "label"]
    original = io_utils.SchemaReader().read(os.path.join(schema.uri, "schema.pbtxt"))
    assert [f.name for f in original.feature] == ["title", "text", "label"]  # Untouched.


def _examples(positive: int, total: int):
    examples = standard_artifacts.Examples()
    examples.set_int_custom_property("test_positive", positive)
    examples.set_int_custom_property("num_examples_test", total)
    return examples


def _bar(config, examples):
    from components.evaluator import resolve_accuracy_bar

    props = {"eval_config": proto_utils.proto_to_json(eval_config(config))}
    resolved, bar = resolve_accuracy_bar(props, examples)
    handed = EvaluatorExecutor._eval_config(resolved)
    threshold = handed.metrics_specs[0].metrics[1].per_slice_thresholds[0].threshold
    return threshold.value_threshold.lower_bound.value, bar


def test_own_data_must_beat_the_majority_class_not_imdbs_bar():
    """IMDB's 0.85 refused a first model on data where 0.74 is good; own data's default bar is
    the test set's majority class (plus one review), whatever the data allows."""
    own = make_config(input_pattern="d/span-{SPAN}/*.csv", test_pattern="t/*.csv")
    value, bar = _bar(own, _examples(positive=70, total=100))
    assert value == pytest.approx(0.71) and "label 1 scores 0.7000" in bar["rule"]
    assert _bar(own, _examples(positive=20, total=100))[0] == pytest.approx(0.81)
    assert _bar(own.replace(min_accuracy=0.6), _examples(70, 100)) == (
        pytest.approx(0.6), {"value": pytest.approx(0.6), "rule": "--min-accuracy"})
    assert _bar(make_config(), None)[0] == pytest.approx(0.85)  # IMDB keeps its bar.
