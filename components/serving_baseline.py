"""The Evaluator's baseline is the model TF Serving serves now, read from the serving dir.

TFX's `LatestBlessedModelStrategy` resolver asks ML Metadata for the latest blessed model. The
open-source KFP backend cannot run resolvers at all, and on Vertex the compiled query searches
the whole project's metadata store, not this pipeline's models. The serving dir is what "never
push a worse model" protects and every runner can read it, so `ServingBaseline` copies its
newest complete version into a `Model` artifact, and `BaselineAwareEvaluator` evaluates without
a baseline when there is none yet (first run: value thresholds only, as with an empty resolver).

Caching: the component has no inputs, so a cache hit would hand back an old baseline. Locally,
`ServingBaselineDriver` adds the newest served version to the cache key; Kubeflow runs no custom
drivers, so the compiler turns caching off for this task (kubeflow/runner.py).
"""
import logging
import os
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.evaluator.component import Evaluator
from tfx.dsl.components.base import (base_component, base_driver, base_executor,
                                     executor_spec)
from tfx.dsl.io import fileio
from tfx.orchestration.portable import data_types as portable_data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, path_utils

from components.pusher import SAVED_MODEL_FILE, version_dirs

SERVED_VERSION_KEY = "served_version"  # Exec property (local cache key) and artifact property.
NO_VERSION = -1


def newest_served_version(serving_dir: str) -> Optional[int]:
    """The newest version TF Serving could load: a numeric dir holding saved_model.pb.

    On object stores the Pusher writes saved_model.pb last, so a version without it is a copy
    still in progress or one that failed.
    """
    for version in reversed(version_dirs(serving_dir)):
        if fileio.exists(os.path.join(serving_dir, str(version), SAVED_MODEL_FILE)):
            return version
    return None


def has_baseline(model: types.Artifact) -> bool:
    return fileio.exists(os.path.join(path_utils.serving_model_path(model.uri),
                                      SAVED_MODEL_FILE))


class ServingBaselineExecutor(base_executor.BaseExecutor):
    """Copies the newest served version to `<model.uri>/Format-Serving`; nothing if none."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        serving_dir = exec_properties["serving_dir"]
        model = artifact_utils.get_single_instance(output_dict["model"])
        version = newest_served_version(serving_dir)
        model.set_int_custom_property(SERVED_VERSION_KEY,
                                      NO_VERSION if version is None else version)
        if version is None:
            logging.info("No served model in %s: the Evaluator runs without a baseline.",
                         serving_dir)
            return
        source = os.path.join(serving_dir, str(version))
        io_utils.copy_dir(source, path_utils.serving_model_path(model.uri))
        logging.info("Baseline: served version %d from %s.", version, source)


class ServingBaselineDriver(base_driver.BaseDriver):
    """Local runner only: puts the newest served version into the cache key."""

    def run(self, execution_info: portable_data_types.ExecutionInfo
            ) -> driver_output_pb2.DriverOutput:
        version = newest_served_version(execution_info.exec_properties["serving_dir"])
        result = driver_output_pb2.DriverOutput()
        result.exec_properties[SERVED_VERSION_KEY].int_value = (
            NO_VERSION if version is None else version)
        return result


class ServingBaselineSpec(types.ComponentSpec):
    PARAMETERS = {"serving_dir": ExecutionParameter(type=str)}
    INPUTS = {}
    OUTPUTS = {"model": ChannelParameter(type=standard_artifacts.Model)}


class ServingBaseline(base_component.BaseComponent):
    """Emits the served model as a `Model` (empty when nothing is served yet)."""

    SPEC_CLASS = ServingBaselineSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(ServingBaselineExecutor)
    DRIVER_CLASS = ServingBaselineDriver

    def __init__(self, serving_dir: str):
        super().__init__(spec=ServingBaselineSpec(
            serving_dir=serving_dir, model=types.Channel(type=standard_artifacts.Model)))


class BaselineAwareEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator, minus an empty baseline (which it would try to load and fail on)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baseline = input_dict.get(key)
        if baseline and not has_baseline(artifact_utils.get_single_instance(baseline)):
            logging.info("Empty baseline model: evaluating without change thresholds.")
            input_dict = {k: v for k, v in input_dict.items() if k != key}
        super().Do(input_dict, output_dict, exec_properties)


class BaselineAwareEvaluator(Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BaselineAwareEvaluatorExecutor)
