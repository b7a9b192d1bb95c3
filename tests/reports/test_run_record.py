"""reports/run_record.py: why a run did not bless or push, in words, read as the reports read a
real run."""


def _refused_run(monkeypatch, failures, bar):
    """A RunRecord whose Evaluator refused the model with `failures` (TFMA's
    ValidationFailure protos), read as the report reads a real one."""
    import json

    import tensorflow_model_analysis as tfma
    from ml_metadata.proto import metadata_store_pb2
    from tensorflow_model_analysis.proto import validation_result_pb2 as vr

    from reports import run_record

    def artifact(**props):
        found = metadata_store_pb2.Artifact(uri="evaluation")
        for key, value in props.items():
            target = found.custom_properties[key]
            if isinstance(value, str):
                target.string_value = value
            else:
                target.int_value = value
        return found

    result = vr.ValidationResult(validation_ok=False)
    result.metric_validations_per_slice.add(failures=failures)
    monkeypatch.setattr(tfma, "load_validation_result", lambda uri: result)
    monkeypatch.setattr(run_record.RunRecord, "baseline_metrics",
                        lambda self, slice_key=(): {"binary_accuracy": 0.7301})
    evaluator = run_record.NodeRun("Evaluator", "COMPLETE", 1.0, {
        "evaluation": [artifact()],
        "blessing": [artifact(blessed=0, accuracy_bar=json.dumps(bar))]})
    baseline = run_record.NodeRun("ServingBaseline", "COMPLETE", 1.0,
                                  {"model": [artifact(served_version=1700000000)]})
    pusher = run_record.NodeRun("Pusher", "COMPLETE", 1.0, {"pushed_model": [artifact(pushed=0)]})
    return run_record.RunRecord("r", {"Evaluator": evaluator, "ServingBaseline": baseline,
                                      "Pusher": pusher}, "m")


def _failure(value, lower_bound, name="binary_accuracy"):
    from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2
    from tensorflow_model_analysis.proto import validation_result_pb2 as vr

    threshold = config_pb2.MetricThreshold()
    threshold.value_threshold.lower_bound.value = lower_bound
    failure = vr.ValidationFailure(
        metric_key=metrics_for_slice_pb2.MetricKey(name=name), metric_threshold=threshold)
    failure.metric_value.double_value.value = value
    return failure


def test_a_refusal_names_the_value_the_bar_and_the_flag(monkeypatch):
    """The CLI's summary said only "not pushed: the model was not blessed"."""
    bar = {"value": 0.5202, "rule": "beat the majority class: always answering label 1 scores "
                                    "0.5192 on the 1040 test reviews"}
    run = _refused_run(monkeypatch, [_failure(0.5100, lower_bound=0.5202)], bar)
    assert run.push_status() == (
        "not pushed: not blessed: test accuracy 0.5100 is below the bar 0.5202 (beat the "
        "majority class: always answering label 1 scores 0.5192 on the 1040 test reviews; "
        "--min-accuracy sets another)")
    from components import gate_metrics
    from reports import run_record

    run = _refused_run(monkeypatch, [_failure(-0.0152, -0.005, gate_metrics.NON_INFERIORITY)],
                       {"value": 0.85, "rule": "--min-accuracy"})
    monkeypatch.setattr(run_record.RunRecord, "test_metrics", lambda self, slice_key=(): {
        "binary_accuracy": 0.7191, "accuracy_diff": -0.0110,
        "accuracy_diff_lower_bound": -0.0152, "accuracy_diff_upper_bound": -0.0068})
    assert run.blessing_failures() == [
        "test accuracy against served version 1700000000 (0.7301): candidate - served -0.0110 "
        "(95 % interval -0.0152 to -0.0068); its lower end is below -0.0050 "
        "(--max-accuracy-drop)"]
