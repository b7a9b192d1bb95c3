import pytest
import tensorflow_data_validation as tfdv

from components.data_validation import curate_schema


def _stats(labels, texts):
    import pandas as pd

    return tfdv.generate_statistics_from_dataframe(pd.DataFrame({"text": texts, "label": labels}))


def _curated(labels, texts):
    stats = _stats(labels, texts)
    return curate_schema(tfdv.infer_schema(stats, infer_feature_shape=True), "text", "label")


def test_schema_pins_binary_label_and_required_text():
    schema = _curated([0, 1, 1, 0], ["a", "b", "c", "d"])
    label = tfdv.get_feature(schema, "label")
    assert (label.int_domain.min, label.int_domain.max) == (0, 1)
    assert label.presence.min_fraction == 1.0
    assert tfdv.get_feature(schema, "text").presence.min_fraction == 1.0
    assert "SERVING" in label.not_in_environment


def test_label_outside_zero_one_is_an_anomaly():
    schema = _curated([0, 1, 1, 0], ["a", "b", "c", "d"])
    anomalies = tfdv.validate_statistics(_stats([0, 1, 2, 1], ["a", "b", "c", "d"]), schema,
                                         environment="TRAINING")
    assert "label" in anomalies.anomaly_info


def test_clean_data_has_no_anomalies():
    schema = _curated([0, 1, 1, 0], ["a", "b", "c", "d"])
    anomalies = tfdv.validate_statistics(_stats([1, 0, 0, 1], ["w", "x", "y", "z"]), schema,
                                         environment="TRAINING")
    assert not anomalies.anomaly_info


def _anomalies_artifact(tmp_path, anomalies_proto):
    from tfx.types import artifact_utils, standard_artifacts

    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path)
    artifact.split_names = artifact_utils.encode_split_names(["train"])
    split_dir = tmp_path / "Split-train"
    split_dir.mkdir(parents=True)
    (split_dir / "SchemaDiff.pb").write_bytes(anomalies_proto.SerializeToString())
    return artifact


def test_gate_stops_on_anomalies_and_passes_clean_data(tmp_path):
    from components.data_validation import DataAnomaliesError, check_anomalies

    schema = _curated([0, 1, 1, 0], ["a", "b", "c", "d"])
    bad = tfdv.validate_statistics(_stats([0, 1, 7, 1], ["a", "b", "c", "d"]), schema,
                                   environment="TRAINING")
    with pytest.raises(DataAnomaliesError, match="train/label"):
        check_anomalies(_anomalies_artifact(tmp_path / "bad", bad))
    good = tfdv.validate_statistics(_stats([0, 1, 1, 1], ["a", "b", "c", "d"]), schema,
                                    environment="TRAINING")
    check_anomalies(_anomalies_artifact(tmp_path / "good", good))  # Does not raise.
