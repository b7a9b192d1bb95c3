"""DriftGate: before Transform trains anything on new spans, compare each span of the window
that the served model has not trained on with the data it was trained on
(contract/data_profile.py), and check the test set against every review the served model's
lineage learned from (contract/review_hashes.py). Blocks, or warns, on a breach.

The served model is read from the serving dir directly, like ServingBaseline: its export carries
its training data's profile, vocabulary and review hashes, and the Pusher recorded which spans
it was trained on. Each checked span's verdict goes into the span ledger
(components/span_ledger.py), so a blocked span stays out of later windows. No served model, or
one without a profile, means nothing to compare with: the gate passes and says so.

Caching: the verdict depends on the serving dir, which is no input artifact. Locally
`DriftGateDriver` puts the served version into the cache key; on Kubeflow the compiler turns
caching off for this node (kubeflow/runner.py).
"""
import json
import logging
import os
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_component, base_driver, base_executor, executor_spec
from tfx.orchestration.portable import data_types as portable_data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

import components.span_ledger as span_ledger
from components.pusher import newest_served_version, served_spans
from contract import data_profile, review_hashes
from contract.errors import UserError
from contract.names import SPAN_PROFILES_DIR, TEST_HASHES_FILE

SERVED_VERSION_KEY = "served_version"
TEST_OVERLAP_MODES = ("block", "warn")


class DriftError(UserError):
    """A span's statistics moved beyond the thresholds, or the test set repeats reviews the
    served model learned from."""


class DataDrift(types.Artifact):
    """The gate's verdict: custom properties `verdict`, `served_version`, JSON `spans` (one
    entry per checked span: span, version, verdict, profile, breaches), `served_profile`, and
    `test_shared_with_served` (test reviews the served model's lineage learned from)."""

    # "<module>.<Class>": Kubeflow V2 imports a custom type by its schema title.
    TYPE_NAME = "components.DataDrift"  # Importable by that path (components/__init__.py).


def read_counts(examples_uri: str, span: int) -> dict:
    """A span's counts (data_profile.count) that FileExampleGen wrote while reading it."""
    import tensorflow as tf

    path = os.path.join(examples_uri, SPAN_PROFILES_DIR, f"span-{span}.json")
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def check_drift(window: List[Dict[str, Any]], examples_uri: str, serving_dir: str,
                limits: data_profile.DriftThresholds, action: str, ledger_dir: str,
                accepted=(), test_overlap: str = "block", models_config: str = "",
                model_name: str = "") -> dict:
    """{"verdict", "served_version", "served_profile", "spans", "test_shared_with_served"};
    records each checked span in the ledger; raises DriftError on a breach when `action` (drift)
    or `test_overlap` (leakage) is "block"."""
    version: Optional[int] = newest_served_version(serving_dir, models_config=models_config,
                                                   model_name=model_name)
    export = None if version is None else os.path.join(serving_dir, str(version))
    served = export and data_profile.read_profile(export)
    trained_on = served_spans(serving_dir, version) if version is not None else set()
    result = {"served_version": -1 if version is None else version, "served_profile": served,
              "spans": [], "test_shared_with_served": 0}
    vocabulary = None
    refusals = []
    for entry in window:
        span, span_version = entry["span"], entry["version"]
        if (span, span_version) in trained_on:
            continue  # The served model learned it: nothing new to compare.
        checked = {"span": span, "version": span_version, "profile": None, "breaches": []}
        if action == "off":
            checked["verdict"] = "not checked (--drift-action off)"
        elif span in accepted:
            checked["verdict"] = span_ledger.ACCEPTED
        elif not served:
            checked["verdict"] = span_ledger.UNCHECKED
        else:
            if vocabulary is None:
                vocabulary = data_profile.read_vocabulary(export)
            checked["profile"] = data_profile.profile_of(read_counts(examples_uri, span),
                                                         vocabulary)
            checked["breaches"] = data_profile.breaches(served, checked["profile"], limits)
            checked["verdict"] = (span_ledger.PASSED if not checked["breaches"] else
                                  span_ledger.BLOCKED if action == "block" else
                                  span_ledger.WARNED)
        if action != "off":
            span_ledger.record(ledger_dir, span, span_version, checked["verdict"],
                               breaches=checked["breaches"], served_version=version,
                               profile=checked["profile"])
        if checked["verdict"] == span_ledger.BLOCKED:
            refusals.append(f"span {span}: {'; '.join(checked['breaches'])}")
        elif checked["verdict"] == span_ledger.WARNED:
            logging.warning("Drift check, span %d: %s", span, "; ".join(checked["breaches"]))
        result["spans"].append(checked)
    lineage = export and review_hashes.read(export)
    if lineage is not None and len(lineage):
        shared = review_hashes.count_shared(
            review_hashes.read_file(os.path.join(examples_uri, TEST_HASHES_FILE)), lineage)
        result["test_shared_with_served"] = shared
        if shared:
            message = (f"{shared} test reviews repeat reviews that served version {version} "
                       "(or a model it was warm-started from) learned from, after "
                       "lowercasing and removing markup and extra whitespace: its accuracy on "
                       "them says nothing; remove them from the test files")
            if test_overlap == "block":
                refusals.append(message + " (or pass --test-overlap warn)")
            else:
                logging.warning("%s; --test-overlap warn: going on.", message)
    if refusals:
        blocked = [c["span"] for c in result["spans"] if c["verdict"] == span_ledger.BLOCKED]
        accept = (f" (to train on {'it' if len(blocked) == 1 else 'them'} anyway: "
                  + " ".join(f"--accept-span {s}" for s in blocked)
                  + ")") if blocked else ""
        raise DriftError(f"not training: against served version {version}: "
                         + " | ".join(refusals) + accept)
    verdicts = [c["verdict"] for c in result["spans"]]
    result["verdict"] = ("no served model yet" if version is None else
                         f"served version {version} has no data profile" if not served else
                         "no new span" if not verdicts else
                         "drift (warned)" if span_ledger.WARNED in verdicts else "no drift")
    logging.info("Drift check against served version %s: %s %s", result["served_version"],
                 result["verdict"], json.dumps([(c["span"], c["verdict"])
                                                for c in result["spans"]]))
    return result


class DriftGateExecutor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        drift = artifact_utils.get_single_instance(output_dict["drift"])
        p = exec_properties
        result = check_drift(
            json.loads(examples.get_string_custom_property("window")), examples.uri,
            p["serving_dir"], data_profile.DriftThresholds(
                p["max_label_shift"], p["max_length_change"], p["max_oov_increase"]),
            p["action"], p["ledger_dir"], json.loads(p["accepted_spans"]), p["test_overlap"],
            p["models_config"], p["model_name"])
        drift.set_string_custom_property("verdict", result["verdict"])
        drift.set_int_custom_property("served_version", result["served_version"])
        drift.set_int_custom_property("span", examples.span)
        drift.set_int_custom_property("test_shared_with_served",
                                      result["test_shared_with_served"])
        for key in ("served_profile", "spans"):
            drift.set_string_custom_property(key, json.dumps(result[key]))


class DriftGateDriver(base_driver.BaseDriver):
    """Local runner only: puts the served version into the cache key."""

    def run(self, execution_info: portable_data_types.ExecutionInfo
            ) -> driver_output_pb2.DriverOutput:
        p = execution_info.exec_properties
        version = newest_served_version(p["serving_dir"], models_config=p["models_config"],
                                        model_name=p["model_name"])
        result = driver_output_pb2.DriverOutput()
        result.exec_properties[SERVED_VERSION_KEY].int_value = -1 if version is None else version
        return result


class DriftGateSpec(types.ComponentSpec):
    PARAMETERS = {
        "serving_dir": ExecutionParameter(type=str),
        "max_label_shift": ExecutionParameter(type=float),
        "max_length_change": ExecutionParameter(type=float),
        "max_oov_increase": ExecutionParameter(type=float),
        "action": ExecutionParameter(type=str),
        "ledger_dir": ExecutionParameter(type=str),
        "accepted_spans": ExecutionParameter(type=str),  # JSON list of span numbers.
        "test_overlap": ExecutionParameter(type=str),
        "models_config": ExecutionParameter(type=str),  # Its `stable` label names the served.
        "model_name": ExecutionParameter(type=str),
    }
    INPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {"drift": ChannelParameter(type=DataDrift)}


class DriftGate(base_component.BaseComponent):
    """Blocks Transform when a new span drifted or the test set leaks (see the module doc)."""

    SPEC_CLASS = DriftGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(DriftGateExecutor)
    DRIVER_CLASS = DriftGateDriver

    def __init__(self, examples: types.BaseChannel, **parameters):
        super().__init__(spec=DriftGateSpec(
            examples=examples, drift=types.Channel(type=DataDrift), **parameters))
