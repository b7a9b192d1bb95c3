"""TFX's Evaluator, as this pipeline runs it.

Two changes to the stock executor, both about what it reads, none about what it computes:

- An empty baseline (nothing served yet, components/serving_baseline.py) is dropped instead of
  loaded, so the first run is judged by the value threshold alone, as with an empty resolver.
- TFMA decodes only the features it reads itself (labels, weights, slicing keys). The model
  parses the serialized examples on its own, so turning every review's text into Arrow as well
  is wasted work (on IMDB's test split 37.3 s instead of 38.8 s once, within run-to-run noise
  in later runs: benchmarks/evaluator_speed.py --variant all-columns).
"""
import logging
import os
from typing import Any, Dict, List, Set

import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.evaluator.component import Evaluator as TfxEvaluator
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.serving_baseline import has_baseline

SCHEMA_FILE = "schema.pbtxt"


def features_tfma_reads(eval_config: tfma.EvalConfig) -> Set[str]:
    names = set()
    for spec in eval_config.model_specs:
        names.update(n for n in (spec.label_key, spec.example_weight_key) if n)
        names.update(spec.label_keys.values())
        names.update(spec.example_weight_keys.values())
    for slicing in eval_config.slicing_specs:
        names.update(slicing.feature_keys)
        names.update(slicing.feature_values.keys())
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


class EvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        input_dict = dict(input_dict)
        key = standard_component_specs.BASELINE_MODEL_KEY
        baseline = input_dict.get(key)
        if baseline and not has_baseline(artifact_utils.get_single_instance(baseline)):
            logging.info("Empty baseline model: evaluating without change thresholds.")
            del input_dict[key]
        key = standard_component_specs.SCHEMA_KEY
        if input_dict.get(key):
            input_dict[key] = [self._projected_schema(input_dict[key], exec_properties)]
        super().Do(input_dict, output_dict, exec_properties)

    def _projected_schema(self, schemas: List[types.Artifact],
                          exec_properties: Dict[str, Any]) -> types.Artifact:
        eval_config = tfma.EvalConfig()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.EVAL_CONFIG_KEY], eval_config)
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
