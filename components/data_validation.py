"""Schema with the task's expectations, and a gate that stops the pipeline on anomalies.

SchemaGen only infers what it saw; it would accept a label of 7 tomorrow. `CuratedSchemaGen`
infers with TFDV and then pins what a binary sentiment task requires (label in {0, 1}, text and
label always present). ExampleValidator only reports anomalies, so `AnomaliesGate` fails the
run when it found any: Transform and Trainer wait for it and never see bad data.
"""
import os

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, Schema
from tfx.utils import io_utils
from contract.errors import UserError
from contract.names import SCHEMA_FILE



class DataAnomaliesError(UserError, RuntimeError):
    """ExampleValidator found anomalies; training on this data is refused."""


def curate_schema(schema: schema_pb2.Schema, text_feature: str,
                  label_feature: str) -> schema_pb2.Schema:
    """Pins the binary-sentiment contract onto an inferred schema (in place; returned)."""
    label = tfdv.get_feature(schema, label_feature)
    label.ClearField("domain_info")
    label.int_domain.CopyFrom(schema_pb2.IntDomain(min=0, max=1, is_categorical=True))
    # Free text has no closed set of values, however few TFDV happened to see.
    text = tfdv.get_feature(schema, text_feature)
    if text.WhichOneof("domain_info") == "domain":
        kept = [d for d in schema.string_domain if d.name != text.domain]
        del schema.string_domain[:]
        schema.string_domain.extend(kept)
    text.ClearField("domain")
    text.ClearField("string_domain")
    for name in (text_feature, label_feature):
        tfdv.get_feature(schema, name).presence.min_fraction = 1.0
    # Serving requests carry text only.
    if not schema.default_environment:
        schema.default_environment.extend(["TRAINING", "SERVING"])
    if "SERVING" not in label.not_in_environment:
        label.not_in_environment.append("SERVING")
    return schema


@component
def CuratedSchemaGen(statistics: InputArtifact[ExampleStatistics],
                     schema: OutputArtifact[Schema],
                     text_feature: Parameter[str] = "text",
                     label_feature: Parameter[str] = "label") -> None:
    stats = stats_artifact_utils.load_statistics(statistics, "train").proto()
    inferred = tfdv.infer_schema(stats, infer_feature_shape=True)
    missing = [n for n in (text_feature, label_feature)
               if n not in {f.name for f in inferred.feature}]
    if missing:
        raise DataAnomaliesError(f"training data has no feature(s) {missing}")
    io_utils.write_pbtxt_file(os.path.join(schema.uri, SCHEMA_FILE),
                              curate_schema(inferred, text_feature, label_feature))


def read_anomalies(anomalies: ExampleAnomalies) -> dict:
    """split -> {feature: description} of every anomaly ExampleValidator recorded."""
    found = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), "SchemaDiff.pb")
        proto = anomalies_pb2.Anomalies()
        proto.ParseFromString(io_utils.read_bytes_file(path))
        issues = {name: info.description or info.short_description
                  for name, info in proto.anomaly_info.items()}
        if proto.HasField("dataset_anomaly_info"):
            issues["<dataset>"] = proto.dataset_anomaly_info.description
        if issues:
            found[split] = issues
    return found


def check_anomalies(anomalies: ExampleAnomalies) -> None:
    found = read_anomalies(anomalies)
    if found:
        lines = [f"  {split}/{feature}: {text}" for split, issues in sorted(found.items())
                 for feature, text in sorted(issues.items())]
        raise DataAnomaliesError("ExampleValidator found data anomalies; not training on "
                                 "this data:\n" + "\n".join(lines))


@component
def AnomaliesGate(anomalies: InputArtifact[ExampleAnomalies]) -> None:
    check_anomalies(anomalies)
