"""The Evaluator's baseline is the model TF Serving serves now, read from the serving dir.

TFX's `LatestBlessedModelStrategy` resolver asks ML Metadata for the latest blessed model. The
open-source KFP backend cannot run resolvers at all, and on Vertex the compiled query searches
the whole project's metadata store, not this pipeline's models. The serving dir is what "never
push a worse model" protects and every runner can read it, so `ServingBaseline` copies its
served version (the one a `stable` label names, else the newest complete one; skipping
copies of the candidate itself) into a `Model` artifact, and
the Evaluator (components/evaluator.py) evaluates without a baseline when there is none yet
(first run: value thresholds only, as with an empty resolver).

Caching: the serving dir is not an input artifact, so a plain cache hit could hand back an old
baseline. Locally, `ServingBaselineDriver` adds the baseline version to the cache key; Kubeflow
runs no custom drivers, so the compiler turns caching off for this task (kubeflow/runner.py).
"""
import logging
import os
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import (base_component, base_driver, base_executor,
                                     executor_spec)
from tfx.dsl.io import fileio
from tfx.orchestration.portable import data_types as portable_data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, path_utils

from components.pusher import SAVED_MODEL_FILE, newest_served_version

SERVED_VERSION_KEY = "served_version"  # Exec property (local cache key) and artifact property.
NO_VERSION = -1


def baseline_version(serving_dir: str, candidate_uri: str = "", trained_with: str = "",
                     models_config: str = "", model_name: str = "") -> Optional[int]:
    """The newest loadable version that is not a copy of the candidate itself.

    After a run has pushed its model, a rerun with nothing changed gets the same candidate; its
    baseline stays what it was compared against then (not itself), so locally the whole tail of
    the pipeline is a cache hit, and the Pusher sees the model is already served.

    As the Trainer's warm-start base (`trained_with`: the TransformGraph it trains on), a
    version trained on that same Transform output is passed over: a rerun with no new data
    then starts from the same base as before and is a cache hit.
    """
    return newest_served_version(serving_dir, skip_copies_of=candidate_uri,
                                 skip_trained_with=trained_with, models_config=models_config,
                                 model_name=model_name)


def _uri(input_dict: Dict[str, List[types.Artifact]], key: str) -> str:
    found = input_dict.get(key) or []
    return found[0].uri if found else ""


def _version(exec_properties: Dict[str, Any],
             input_dict: Dict[str, List[types.Artifact]]) -> Optional[int]:
    return baseline_version(exec_properties["serving_dir"], _uri(input_dict, "candidate"),
                            _uri(input_dict, "trained_with"),
                            exec_properties.get("models_config") or "",
                            exec_properties.get("model_name") or "")


def has_baseline(model: types.Artifact) -> bool:
    return fileio.exists(os.path.join(path_utils.serving_model_path(model.uri),
                                      SAVED_MODEL_FILE))


class ServingBaselineExecutor(base_executor.BaseExecutor):
    """Copies the baseline version to `<model.uri>/Format-Serving`; nothing if none."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        serving_dir = exec_properties["serving_dir"]
        model = artifact_utils.get_single_instance(output_dict["model"])
        version = _version(exec_properties, input_dict)
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
    """Local runner only: puts the baseline version into the cache key."""

    def run(self, execution_info: portable_data_types.ExecutionInfo
            ) -> driver_output_pb2.DriverOutput:
        version = _version(execution_info.exec_properties, execution_info.input_dict)
        result = driver_output_pb2.DriverOutput()
        result.exec_properties[SERVED_VERSION_KEY].int_value = (
            NO_VERSION if version is None else version)
        return result


class ServingBaselineSpec(types.ComponentSpec):
    PARAMETERS = {"serving_dir": ExecutionParameter(type=str),
                  # TF Serving's models.config: with a `stable` label, the version it names is
                  # the one served (components/pusher.py: newest_served_version).
                  "models_config": ExecutionParameter(type=str, optional=True),
                  "model_name": ExecutionParameter(type=str, optional=True)}
    # The Trainer's model: only its URI is read, to skip versions that are copies of it.
    INPUTS = {"candidate": ChannelParameter(type=standard_artifacts.Model, optional=True),
              # The Transform output a warm-started Trainer trains on: only its URI is read.
              "trained_with": ChannelParameter(type=standard_artifacts.TransformGraph,
                                               optional=True)}
    OUTPUTS = {"model": ChannelParameter(type=standard_artifacts.Model)}


class ServingBaseline(base_component.BaseComponent):
    """Emits the served model as a `Model` (empty when nothing is served yet)."""

    SPEC_CLASS = ServingBaselineSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(ServingBaselineExecutor)
    DRIVER_CLASS = ServingBaselineDriver

    def __init__(self, serving_dir: str, candidate: Optional[types.BaseChannel] = None,
                 trained_with: Optional[types.BaseChannel] = None, models_config: str = "",
                 model_name: str = ""):
        super().__init__(spec=ServingBaselineSpec(
            serving_dir=serving_dir, candidate=candidate, trained_with=trained_with,
            models_config=models_config, model_name=model_name,
            model=types.Channel(type=standard_artifacts.Model)))
