"""The Tuner: Keras Tuner's search, whose best trial the Trainer continues, run only when needed.

TFX's Tuner outputs hyperparameters only, so its trials' training is thrown away and the
Trainer starts again. This one also outputs a `Model`: the best trial's weights (written by
`tuner_fn`'s Keras Tuner, trainer/tuning.py), which the Trainer continues from.

`mode`:
- 'auto' searches when nothing is served, or when the served model was chosen from another
  search space (or not searched at all); otherwise it reuses the hyperparameters the served
  export records (its `assets.extra/hyperparameters.json`): 0 trials, and with --warm-start
  the served model's weights are handed on unchanged. A new span costs no search.
- 'tune' always searches.

The served version is read from the serving dir, as ServingBaseline reads it (no ML Metadata
resolver, so every runner behaves the same), passing over versions trained on this very
Transform output: a rerun with unchanged data keeps its first decision, and locally its cache
(the driver adds the candidate version to the cache key). On Kubeflow, where no custom driver
runs, the task is cached on its inputs: new data is a new Transform output, so a new decision.
"""
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.trainer import fn_args_utils
from tfx.components.tuner import executor as tfx_tuner_executor
from tfx.components.util import udf_utils
from tfx.dsl.components.base import base_component, base_driver, executor_spec
from tfx.dsl.io import fileio
from tfx.orchestration.portable import data_types as portable_data_types
from tfx.proto import trainer_pb2
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, json_utils, path_utils

from components.pusher import newest_served_version
from contract import review_hashes
from contract.data_profile import VOCABULARY_FILE
from contract.names import (HPARAMS_SOURCE_KEY, HYPERPARAMETERS_FILE, SEARCH_SPACE_KEY,
                            SOURCE_FILE, WARM_START_WEIGHTS_FILE)

MODES = ("auto", "tune")
BEST_HPARAMS_FILE = "best_hyperparameters.txt"  # TFX's name: its Trainer reads this file.
REUSE_VERSION_KEY = "reuse_candidate"  # Exec property set by the driver (local cache key).
NO_VERSION = -1
# What a served export hands on to the Trainer when its hyperparameters are reused.
_START_FILES = (WARM_START_WEIGHTS_FILE, VOCABULARY_FILE, review_hashes.HASHES_FILE,
                SOURCE_FILE)


def read_hyperparameters(export_dir: str) -> Optional[Dict[str, Any]]:
    """An export's record of its hyperparameters (trainer/export.py), or None."""
    path = os.path.join(export_dir, HYPERPARAMETERS_FILE)
    if not fileio.exists(path):
        return None
    with fileio.open(path) as f:
        return json.load(f)


def reusable(serving_dir: str, search_space: Dict[str, Any], transform_graph: str,
             models_config: str = "", model_name: str = ""):
    """(served version or None, its Keras Tuner hyperparameters when they were searched in
    `search_space`, else None)."""
    version = newest_served_version(serving_dir, skip_trained_with=transform_graph,
                                    models_config=models_config, model_name=model_name)
    if version is None:
        return None, None
    record = read_hyperparameters(os.path.join(serving_dir, str(version))) or {}
    tuned = record.get("tuner") or {}
    if tuned.get(SEARCH_SPACE_KEY) != search_space:
        return version, None
    return version, tuned


def _candidate(exec_properties: Dict[str, Any], input_dict) -> tuple:
    if exec_properties["mode"] != "auto":
        return None, None
    space = json_utils.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])[
        SEARCH_SPACE_KEY]
    graph = artifact_utils.get_single_uri(
        input_dict[standard_component_specs.TRANSFORM_GRAPH_KEY])
    return reusable(exec_properties["serving_dir"], space, graph,
                    exec_properties.get("models_config") or "",
                    exec_properties.get("model_name") or "")


def _write_json(path: str, value) -> None:
    io_utils.write_string_file(path, json.dumps(value))


class TunerExecutor(tfx_tuner_executor.Executor):
    """Reuses the served hyperparameters ('auto', same space) or searches and hands on the best
    trial."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        best_uri = artifact_utils.get_single_uri(output_dict["best_hyperparameters"])
        results_uri = artifact_utils.get_single_uri(output_dict["tuner_results"])
        model_dir = path_utils.serving_model_path(
            artifact_utils.get_single_uri(output_dict["model"]))
        version, tuned = _candidate(exec_properties, input_dict)
        if tuned is not None:
            tuned = {**tuned, HPARAMS_SOURCE_KEY: {"reused_from_version": version, "trials": 0,
                                                   "seconds": 0.0}}
            _write_json(os.path.join(best_uri, BEST_HPARAMS_FILE), tuned)
            _write_json(os.path.join(results_uri, "tuner_results.json"), [])
            base = input_dict.get(standard_component_specs.BASE_MODEL_KEY) or []
            if base:  # --warm-start: the served weights go on to the Trainer unchanged.
                _pass_on(path_utils.serving_model_path(base[0].uri), model_dir)
            logging.info("Tuner: reusing the hyperparameters of served version %d (searched in "
                         "the same space): 0 trials, 0 s of search. %s", version,
                         tuned.get("values"))
            return
        if version is not None:
            logging.info("Tuner: served version %d was not searched in this space: searching.",
                         version)
        started = time.monotonic()
        fn_args = fn_args_utils.get_common_fn_args(input_dict, exec_properties,
                                                   self._get_tmp_dir())
        fn_args.serving_model_dir = model_dir  # trainer/tuning.py saves the best trial here.
        result = udf_utils.get_fn(exec_properties, "tuner_fn")(fn_args)
        tuner = result.tuner
        tuner.search_space_summary()
        tuner.search(**result.fit_kwargs)
        tuner.results_summary()
        tfx_tuner_executor.write_best_hyperparameters(tuner, output_dict)
        trials = len(tuner.oracle.trials)
        config = {**tuner.get_best_hyperparameters()[0].get_config(),
                  SEARCH_SPACE_KEY: fn_args.custom_config[SEARCH_SPACE_KEY],
                  HPARAMS_SOURCE_KEY: {"trials": trials,
                                       "seconds": round(time.monotonic() - started, 1)}}
        _write_json(os.path.join(best_uri, BEST_HPARAMS_FILE), config)
        logging.info("Tuner: %d trials in %.0f s; best %s", trials,
                     config[HPARAMS_SOURCE_KEY]["seconds"], config["values"])


def _pass_on(served_dir: str, target_dir: str) -> None:
    for name in _START_FILES:
        source = os.path.join(served_dir, name)
        if fileio.exists(source):
            fileio.makedirs(os.path.dirname(os.path.join(target_dir, name)))
            fileio.copy(source, os.path.join(target_dir, name), overwrite=True)


class TunerDriver(base_driver.BaseDriver):
    """Local runner only: puts the version whose hyperparameters could be reused into the cache
    key."""

    def run(self, execution_info: portable_data_types.ExecutionInfo
            ) -> driver_output_pb2.DriverOutput:
        version, _ = _candidate(execution_info.exec_properties, execution_info.input_dict)
        result = driver_output_pb2.DriverOutput()
        result.exec_properties[REUSE_VERSION_KEY].int_value = (
            NO_VERSION if version is None else version)
        return result


class TunerSpec(types.ComponentSpec):
    PARAMETERS = {
        **standard_component_specs.TunerSpec.PARAMETERS,
        "mode": ExecutionParameter(type=str),
        "serving_dir": ExecutionParameter(type=str),
        "models_config": ExecutionParameter(type=str, optional=True),
        "model_name": ExecutionParameter(type=str, optional=True),
    }
    # base_model: the served model (--warm-start), where every trial starts.
    INPUTS = standard_component_specs.TunerSpec.INPUTS
    OUTPUTS = {**standard_component_specs.TunerSpec.OUTPUTS,
               # The weights the Trainer starts from: the best trial's, the served model's when
               # reused with --warm-start, or none.
               "model": ChannelParameter(type=standard_artifacts.Model)}


class Tuner(base_component.BaseComponent):
    """TFX's Tuner, plus the best trial's weights as a `Model` and the 'auto' reuse."""

    SPEC_CLASS = TunerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TunerExecutor)
    DRIVER_CLASS = TunerDriver

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 schema: types.BaseChannel, tuner_fn: str, custom_config: Dict[str, Any],
                 mode: str, serving_dir: str, train_args: trainer_pb2.TrainArgs,
                 eval_args: trainer_pb2.EvalArgs,
                 base_model: Optional[types.BaseChannel] = None, models_config: str = "",
                 model_name: str = ""):
        if mode not in MODES:
            raise ValueError(f"Tuner mode must be one of {MODES}, got {mode!r}")
        super().__init__(spec=TunerSpec(
            examples=examples, transform_graph=transform_graph, schema=schema,
            base_model=base_model, tuner_fn=tuner_fn, train_args=train_args,
            eval_args=eval_args, custom_config=json_utils.dumps(custom_config), mode=mode,
            serving_dir=serving_dir, models_config=models_config, model_name=model_name,
            best_hyperparameters=types.Channel(type=standard_artifacts.HyperParameters),
            tuner_results=types.Channel(type=standard_artifacts.TunerResults),
            model=types.Channel(type=standard_artifacts.Model)))
