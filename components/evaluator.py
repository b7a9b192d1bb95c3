"""TFX's Evaluator, as this pipeline runs it.

Four changes to the stock executor, none about what TFMA computes:

- Before TFMA runs, the training/serving skew guard (components/skew_guard.py) checks a sample
  of the stored `eval` Examples against the candidate export: the text is what a client sends,
  and both signatures score it the same. A failure fails the Evaluator, so nothing is blessed.

- An empty baseline (nothing served yet, components/serving_baseline.py) is dropped instead of
  loaded, and with it the non-inferiority bar (components/gate_metrics.py), so the first run is
  judged by the absolute bar alone, as with an empty resolver.
- An accuracy bar of `MAJORITY_CLASS_BAR` (own data's default) becomes the test set's
  majority-class share plus one review: a first model on data that is not IMDB must beat
  always answering the commoner label, whatever accuracy that data allows. The bar and the
  window of spans the model trained on go onto the blessing, for the reports and the Pusher.
- TFMA decodes only the features it reads itself (labels, weights, slicing keys, and the
  text, whose length the slice metric reads). The model parses the serialized examples on its
  own, so decoding other columns would be wasted work.
"""
import json
import logging
import os
from typing import Any, Dict, List, Set

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.evaluator.component import Evaluator as TfxEvaluator
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, path_utils, proto_utils

from components import gate_metrics, skew_guard
from contract.names import SCHEMA_FILE
from components.pusher import BASELINE_VERSION_KEY, TRAINED_SPANS_KEY
from contract.names import MAJORITY_CLASS_BAR
from components.serving_baseline import SERVED_VERSION_KEY, has_baseline



def features_tfma_reads(eval_config: tfma.EvalConfig) -> Set[str]:
    names = set()
    for spec in eval_config.model_specs:
        names.update(n for n in (spec.label_key, spec.example_weight_key) if n)
        names.update(spec.label_keys.values())
        names.update(spec.example_weight_keys.values())
    for slicing in eval_config.slicing_specs:
        names.update(slicing.feature_keys)
        names.update(slicing.feature_values.keys())
    for metrics_spec in eval_config.metrics_specs:  # The slice metric reads each text's length.
        for metric in metrics_spec.metrics:
            if metric.class_name == gate_metrics.SliceIntervals.__name__ and metric.config:
                names.add(json.loads(metric.config).get("text_feature", ""))
    names.discard("")
    return names


def project_schema(schema: schema_pb2.Schema, keep: Set[str]) -> schema_pb2.Schema:
    """`schema` with only the features named in `keep` (all else, e.g. environments, kept)."""
    missing = keep - {feature.name for feature in schema.feature}
    if missing:
        raise ValueError(f"The Evaluator's config reads {sorted(missing)}, which the schema "
                         "does not have; check --label-feature and the slicing specs.")
    projected = schema_pb2.Schema()
    projected.CopyFrom(schema)
    del projected.feature[:]
    projected.feature.extend(f for f in schema.feature if f.name in keep)
    return projected


ACCURACY_BAR_KEY = "accuracy_bar"  # On the blessing: {"value", "rule"} of the absolute bar.


def majority_bar(positive: int, total: int) -> dict:
    """The share of the test set's commoner label plus one review (so that answering that
    label for every review is not enough)."""
    majority = max(positive, total - positive)
    label = "1" if positive >= total - positive else "0"
    return {"value": min(1.0, (majority + 1) / total),
            "rule": f"beat the majority class: always answering label {label} scores "
                    f"{majority / total:.4f} on the {total} test reviews"}


def resolve_accuracy_bar(exec_properties: Dict[str, Any], examples: types.Artifact):
    """(exec_properties with the accuracy bar resolved, {"value", "rule"} of that bar)."""
    if standard_component_specs.EVAL_CONFIG_KEY not in exec_properties:
        return exec_properties, {}
    eval_config = EvaluatorExecutor._eval_config(exec_properties)
    for metrics_spec in eval_config.metrics_specs:
        for metric in metrics_spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                if not per_slice.threshold.HasField("value_threshold"):
                    continue
                bound = per_slice.threshold.value_threshold.lower_bound
                if bound.value != MAJORITY_CLASS_BAR:
                    return exec_properties, {"value": bound.value, "rule": "--min-accuracy"}
                if examples is None or not examples.has_custom_property("test_positive"):
                    raise ValueError("the majority-class accuracy bar needs the test set's "
                                     "label counts (FileExampleGen records them); set "
                                     "--min-accuracy")
                bar = majority_bar(examples.get_int_custom_property("test_positive"),
                                   examples.get_int_custom_property("num_examples_test"))
                bound.value = bar["value"]
                logging.info("Accuracy bar: %.4f (%s).", bar["value"], bar["rule"])
                return {**exec_properties, standard_component_specs.EVAL_CONFIG_KEY:
                        proto_utils.proto_to_json(eval_config)}, bar
    return exec_properties, {}


def without_paired_bar(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """exec_properties without the non-inferiority bar (it needs a served model to compare)."""
    if standard_component_specs.EVAL_CONFIG_KEY not in exec_properties:
        return exec_properties
    eval_config = EvaluatorExecutor._eval_config(exec_properties)
    for metrics_spec in eval_config.metrics_specs:
        for metric in metrics_spec.metrics:
            if metric.class_name in (gate_metrics.PairedIntervals.__name__,
                                     gate_metrics.SliceIntervals.__name__):
                del metric.per_slice_thresholds[:]
                metric.ClearField("threshold")
    return {**exec_properties, standard_component_specs.EVAL_CONFIG_KEY:
            proto_utils.proto_to_json(eval_config)}


class EvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        input_dict = dict(input_dict)
        skew = self._check_skew(input_dict, exec_properties)
        key = standard_component_specs.BASELINE_MODEL_KEY
        baseline = input_dict.get(key)
        baseline_version = -1
        if baseline and baseline[0].has_custom_property(SERVED_VERSION_KEY):
            baseline_version = baseline[0].get_int_custom_property(SERVED_VERSION_KEY)
        if not baseline or not has_baseline(artifact_utils.get_single_instance(baseline)):
            logging.info("No served model: evaluating without the non-inferiority bar.")
            input_dict.pop(key, None)
            exec_properties = without_paired_bar(exec_properties)
        key = standard_component_specs.SCHEMA_KEY
        if input_dict.get(key):
            input_dict[key] = [self._projected_schema(input_dict[key], exec_properties)]
        examples = (input_dict.get(standard_component_specs.EXAMPLES_KEY) or [None])[0]
        exec_properties, bar = resolve_accuracy_bar(exec_properties, examples)
        super().Do(input_dict, output_dict, exec_properties)
        window = (json.loads(examples.get_string_custom_property("window"))
                  if examples is not None and examples.has_custom_property("window") else [])
        for blessing in output_dict.get(standard_component_specs.BLESSING_KEY, []):
            blessing.set_string_custom_property("skew_check", json.dumps(skew, sort_keys=True))
            blessing.set_int_custom_property(BASELINE_VERSION_KEY, baseline_version)
            blessing.set_string_custom_property(ACCURACY_BAR_KEY, json.dumps(bar))
            blessing.set_string_custom_property(TRAINED_SPANS_KEY, json.dumps(
                [[entry["span"], entry["version"]] for entry in window]))

    def _check_skew(self, input_dict, exec_properties: Dict[str, Any]) -> Dict[str, Any]:
        eval_config = self._eval_config(exec_properties)
        examples = input_dict[standard_component_specs.EXAMPLES_KEY]
        files = tf.io.gfile.glob(os.path.join(
            artifact_utils.get_split_uri(examples, "eval"), "*"))
        model = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_KEY])
        return skew_guard.check_serving_skew(
            skew_guard.read_examples(files, skew_guard.SAMPLE_SIZE),
            path_utils.serving_model_path(model.uri), eval_config.model_specs[0].label_key)

    @staticmethod
    def _eval_config(exec_properties: Dict[str, Any]) -> tfma.EvalConfig:
        eval_config = tfma.EvalConfig()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.EVAL_CONFIG_KEY], eval_config)
        return eval_config

    def _projected_schema(self, schemas: List[types.Artifact],
                          exec_properties: Dict[str, Any]) -> types.Artifact:
        eval_config = self._eval_config(exec_properties)
        source = io_utils.get_only_uri_in_dir(artifact_utils.get_single_uri(schemas))
        schema = project_schema(io_utils.SchemaReader().read(source),
                                features_tfma_reads(eval_config))
        artifact = standard_artifacts.Schema()
        artifact.uri = os.path.join(self._get_tmp_dir(), "tfma_schema")
        io_utils.write_pbtxt_file(os.path.join(artifact.uri, SCHEMA_FILE), schema)
        logging.info("TFMA decodes only %s.", [f.name for f in schema.feature])
        return artifact


class Evaluator(TfxEvaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(EvaluatorExecutor)
