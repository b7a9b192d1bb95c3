"""DriftGate: before Transform trains anything on a new span, compare the span with the data the
served model was trained on (contract/data_profile.py) and block, or warn, on a breach.

The served model is the newest loadable version in the serving dir (read directly, like
ServingBaseline): its export carries its training data's profile and vocabulary. No served
model, or one without a profile, means nothing to compare with: the gate passes and says so.
Its `DataDrift` output records both profiles and the verdict for the reports.
"""
import json
import logging
import os
from typing import Optional

from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples

from contract import review_files
from components.pusher import newest_served_version
from contract import data_profile
from contract.errors import UserError


class DriftError(UserError):
    """The new span's statistics moved beyond the configured thresholds."""


class DataDrift(types.Artifact):
    """The drift check's verdict: custom properties `verdict`, `served_version` and JSON
    `served_profile`, `span_profile`, `breaches`."""

    # "<module>.<Class>": Kubeflow V2 imports a custom type by its schema title.
    TYPE_NAME = "components.DataDrift"  # Importable by that path (components/__init__.py).


def span_profile(files, review_format: review_files.ReviewFormat, vocabulary):
    texts, labels = [], []
    for path in files:
        for text, label in review_files.read_reviews(path, review_format):
            texts.append(text)
            labels.append(label)
    return data_profile.profile(texts, labels, vocabulary)


def check_drift(span_files, review_format: review_files.ReviewFormat, serving_dir: str,
                limits: data_profile.DriftThresholds, action: str) -> dict:
    """{"verdict", "served_version", "served_profile", "span_profile", "breaches"}; raises
    DriftError on a breach when `action` is "block"."""
    version: Optional[int] = newest_served_version(serving_dir)
    served = None if version is None else data_profile.read_profile(
        os.path.join(serving_dir, str(version)))
    result = {"served_version": -1 if version is None else version, "served_profile": served,
              "span_profile": None, "breaches": []}
    if served is None:
        result["verdict"] = ("no served model yet" if version is None else
                             f"served version {version} has no data profile")
        logging.info("Drift check: %s; nothing to compare with.", result["verdict"])
        return result
    vocabulary = data_profile.read_vocabulary(os.path.join(serving_dir, str(version)))
    result["span_profile"] = span_profile(span_files, review_format, vocabulary)
    result["breaches"] = data_profile.breaches(served, result["span_profile"], limits)
    if not result["breaches"]:
        result["verdict"] = "no drift"
    elif action == "block":
        raise DriftError(f"the new span drifted from what served version {version} was trained "
                         f"on; not training on it: {'; '.join(result['breaches'])} (pass "
                         "--drift-action warn to train anyway)")
    else:
        result["verdict"] = "drift (warned)"
        logging.warning("Drift check: %s", "; ".join(result["breaches"]))
    logging.info("Drift check against served version %d: %s %s", version, result["verdict"],
                 json.dumps(result["span_profile"]))
    return result


@component
def DriftGate(examples: InputArtifact[Examples], drift: OutputArtifact[DataDrift],
              serving_dir: Parameter[str], text_feature: Parameter[str],
              label_feature: Parameter[str], label_values: Parameter[str],
              input_format: Parameter[str], max_label_shift: Parameter[float],
              max_length_change: Parameter[float], max_oov_increase: Parameter[float],
              action: Parameter[str]) -> None:
    """`label_values`: JSON list. Reads the newest span's files that FileExampleGen recorded."""
    span_files = json.loads(examples.get_string_custom_property("span_files"))
    review_format = review_files.ReviewFormat(text_feature, label_feature,
                                              tuple(json.loads(label_values)), input_format)
    result = check_drift(span_files, review_format, serving_dir,
                         data_profile.DriftThresholds(max_label_shift, max_length_change,
                                                      max_oov_increase), action)
    drift.set_string_custom_property("verdict", result["verdict"])
    drift.set_int_custom_property("served_version", result["served_version"])
    drift.set_int_custom_property("span", examples.span)
    for key in ("served_profile", "span_profile", "breaches"):
        drift.set_string_custom_property(key, json.dumps(result[key]))
