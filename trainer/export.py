"""The SavedModel the Trainer exports: TF Serving's contract (contract/signatures.py) and warmup.

Every signature runs the Transform graph (no Python at serving time) and cuts each batch to its
longest review before the recurrent layers (`data.trim_padding`; exact, as the model honours the
padding mask), so a one-line review does not pay for 400 padded steps.
"""
import json
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (classification_pb2, input_pb2, predict_pb2,
                                     prediction_log_pb2)

from trainer import data, preprocessing
from contract import data_profile, review_hashes
from contract import signatures as sig
from contract.names import HYPERPARAMETERS_FILE, INHERITED_SPANS_FILE, SOURCE_FILE


def text_example(text, text_feature: str) -> tf.train.Example:
    """A raw tf.Example as the serving signatures parse it (the review as `text_feature`)."""
    value = text if isinstance(text, bytes) else str(text).encode("utf-8")
    return tf.train.Example(features=tf.train.Features(feature={
        text_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))}))


def _signature_functions(model: tf.keras.Model, tft_output: tft.TFTransformOutput,
                         text_feature: str, label_feature: str) -> Dict[str, Callable]:
    model.tft_layer = tft_output.transform_features_layer()  # Tracked: vocab travels as asset.
    raw_spec = tft_output.raw_feature_spec()
    raw_spec.pop(label_feature, None)

    def probability(raw_features) -> tf.Tensor:
        return model(data.model_inputs(model, model.tft_layer(raw_features)))

    def from_examples(serialized):
        return probability(tf.io.parse_example(serialized, raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=sig.EXAMPLES_INPUT)])
    def serve_examples(serialized):
        return {sig.EXAMPLES_OUTPUT: from_examples(serialized)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=sig.RAW_TEXT_INPUT)])
    def serve_raw_text(text):
        # SchemaGen(infer_feature_shape=True) makes the raw text [batch, 1].
        return {sig.RAW_TEXT_OUTPUT: probability({text_feature: tf.reshape(text, [-1, 1])})}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=sig.CLASSIFY_INPUT)])
    def serve_classify(serialized):
        positive = from_examples(serialized)
        classes = tf.tile(tf.constant([list(sig.CLASS_NAMES)]), [tf.shape(positive)[0], 1])
        return {sig.CLASSIFY_CLASSES: classes,
                sig.CLASSIFY_SCORES: tf.concat([1.0 - positive, positive], axis=1)}

    return {sig.EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
            sig.RAW_TEXT_SIGNATURE: serve_raw_text.get_concrete_function(),
            sig.CLASSIFY_SIGNATURE: serve_classify.get_concrete_function()}


def warmup_records(reviews: Sequence[str],
                   text_feature: str) -> List[prediction_log_pb2.PredictionLog]:
    """One request per signature a client uses, on real reviews (TF Serving replays them)."""
    reviews = list(reviews)
    examples = [text_example(r, text_feature).SerializeToString() for r in reviews]
    logs = []
    for name, key, values in ((sig.RAW_TEXT_SIGNATURE, sig.RAW_TEXT_INPUT, reviews),
                              (sig.EXAMPLES_SIGNATURE, sig.EXAMPLES_INPUT, examples)):
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = name
        request.inputs[key].CopyFrom(tf.make_tensor_proto(values, dtype=tf.string))
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)))
    classify = classification_pb2.ClassificationRequest(input=input_pb2.Input(
        example_list=input_pb2.ExampleList(examples=[text_example(r, text_feature)
                                                     for r in reviews])))
    classify.model_spec.signature_name = sig.CLASSIFY_SIGNATURE
    logs.append(prediction_log_pb2.PredictionLog(
        classify_log=prediction_log_pb2.ClassifyLog(request=classify)))
    return logs


def read_reviews(patterns, count: int) -> List[str]:
    """The first `count` raw reviews of Transform's output (the `eval` split, for warmup)."""
    spec = {preprocessing.REVIEW_FEATURE: tf.io.FixedLenFeature([], tf.string)}
    records = tf.data.TFRecordDataset(data.files(patterns), compression_type="GZIP").take(count)
    return [tf.io.parse_single_example(record, spec)[preprocessing.REVIEW_FEATURE].numpy()
            .decode("utf-8", "replace") for record in records]


def _labelled_reviews(patterns, label_feature: str):
    """(texts, labels) of Transform's output files; distillation's unlabeled reviews (-1) left
    out."""
    spec = {preprocessing.REVIEW_FEATURE: tf.io.FixedLenFeature([], tf.string),
            label_feature: tf.io.FixedLenFeature([], tf.int64)}
    texts, labels = [], []
    records = tf.data.TFRecordDataset(data.files(patterns), compression_type="GZIP")
    for batch in records.batch(4096).map(lambda r: tf.io.parse_example(r, spec)):
        keep = batch[label_feature].numpy() >= 0
        texts.extend(batch[preprocessing.REVIEW_FEATURE].numpy()[keep].tolist())
        labels.extend(batch[label_feature].numpy()[keep].tolist())
    return texts, labels


def write_data_record(export_dir: str, train_patterns, eval_patterns,
                      tft_output: tft.TFTransformOutput, label_feature: str,
                      transform_graph: str, base_model_dir: str = "") -> Dict[str, float]:
    """What the next run checks new data against, into the export:

    - the data profile (contract/data_profile.py) the drift check compares a new span with:
      label share and length of the training reviews, and the share of tokens outside the
      vocabulary measured on `eval`, reviews the vocabulary was not built from, as a new span's
      are not (on `train` it is 0 whenever the data has fewer words than --vocab-size);
      `transform_graph` names the data it was trained on (warm start skips served models
      trained on the same);
    - the hashes of every labelled review it learned from (contract/review_hashes.py), with
      those of `base_model_dir`, the model it was warm-started from, and that model's spans.
    """
    texts, labels = _labelled_reviews(train_patterns, label_feature)
    eval_texts, eval_labels = _labelled_reviews(eval_patterns, label_feature)
    vocabulary = tft_output.vocabulary_by_name(preprocessing.VOCAB_NAME)
    result = data_profile.profile(texts, labels, vocabulary)
    if eval_texts:
        result["oov_share"] = data_profile.profile(eval_texts, eval_labels,
                                                   vocabulary)["oov_share"]
        result[data_profile.OOV_MEASURED_ON_KEY] = "eval"
    result[data_profile.TRANSFORM_GRAPH_KEY] = transform_graph
    path = os.path.join(export_dir, data_profile.PROFILE_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as out:
        json.dump(result, out, indent=2)
    own = review_hashes.hashes(texts + eval_texts)
    inherited = review_hashes.read(base_model_dir) if base_model_dir else None
    review_hashes.write(export_dir, own if inherited is None else np.concatenate([own,
                                                                                 inherited]))
    source = os.path.join(base_model_dir, SOURCE_FILE) if base_model_dir else ""
    if source and tf.io.gfile.exists(source):
        with tf.io.gfile.GFile(source) as f:
            spans = json.load(f).get("spans", [])
        with tf.io.gfile.GFile(os.path.join(export_dir, INHERITED_SPANS_FILE), "w") as out:
            json.dump({"spans": spans}, out)
    return result


def write_hyperparameters(export_dir: str, hparams: Dict, tuned: Optional[Dict]) -> None:
    """The hyperparameters the export was trained with, and the Tuner's record of them (Keras
    Tuner's space and values, the search space as configured, searched or reused) or None
    when they were given as flags. A later 'auto' Tuner reuses them (components/tuner.py)."""
    with tf.io.gfile.GFile(os.path.join(export_dir, HYPERPARAMETERS_FILE), "w") as out:
        json.dump({"hyperparameters": hparams, "tuner": tuned}, out, indent=2)


def local_device(device: str) -> str:
    """'/job:chief/replica:0/task:0/device:CPU:0' -> '/device:CPU:0' ('' stays '')."""
    return "".join(f"/{part}" for part in device.split("/")
                   if part and not part.startswith(("job:", "replica:", "task:")))


def _finish_saved_model(export_dir: str) -> None:
    """Two fixes to saved_model.pb, rewritten in place, atomically:

    - TF Serving's Classify API refuses signatures whose method_name is not the classify one;
      TF2's saver writes 'predict' for all of them.
    - Under MultiWorkerMirroredStrategy every op traced for the signatures is pinned to this
      worker's job (`/job:chief/task:0`), which no server that loads the export has: only the
      device type is kept (a one-device export has no job names: unchanged).
    """
    path = os.path.join(export_dir, "saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as source:
        saved_model.ParseFromString(source.read())
    for meta_graph in saved_model.meta_graphs:
        meta_graph.signature_def[sig.CLASSIFY_SIGNATURE].method_name = sig.CLASSIFY_METHOD_NAME
        nodes = list(meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            nodes.extend(function.node_def)
        for node in nodes:
            if "/job:" in node.device:
                node.device = local_device(node.device)
        for saved in meta_graph.object_graph_def.nodes:
            if saved.HasField("variable") and "/job:" in saved.variable.device:
                saved.variable.device = local_device(saved.variable.device)
    with tf.io.gfile.GFile(path + ".tmp", "wb") as out:
        out.write(saved_model.SerializeToString())
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def export_serving_model(model: tf.keras.Model, tft_output: tft.TFTransformOutput,
                         text_feature: str, label_feature: str, export_dir: str,
                         warmup_reviews: Sequence[str]) -> None:
    # save_traces=False: every layer is built-in, so Keras rebuilds them from config; this makes
    # the export 4x and each load (TFMA loads the model several times) 3x faster.
    model.save(export_dir, save_format="tf", save_traces=False,
               signatures=_signature_functions(model, tft_output, text_feature, label_feature))
    if warmup_reviews:
        warmup_path = os.path.join(export_dir, sig.WARMUP_FILE)
        tf.io.gfile.makedirs(os.path.dirname(warmup_path))
        with tf.io.TFRecordWriter(warmup_path) as writer:  # Uncompressed, as TF Serving reads it.
            for record in warmup_records(warmup_reviews, text_feature):
                writer.write(record.SerializeToString())
    write_input_features(export_dir, text_feature, label_feature)
    _finish_saved_model(export_dir)


def write_input_features(export_dir: str, text_feature: str, label_feature: str) -> None:
    """The raw features the Example signatures parse, so clients need not be told them."""
    path = os.path.join(export_dir, sig.INPUT_FEATURES_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as out:
        json.dump({"text_feature": text_feature, "label_feature": label_feature}, out)
