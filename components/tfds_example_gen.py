"""ExampleGen over a TFDS dataset: `train`/`eval` hashed from TFDS `train`, `test` = TFDS `test`,
and optionally `unlabeled` = a TFDS split of unlabeled reviews (for distillation, label -1).

TFX's FileBasedExampleGen cannot mix a hash split of one input split with a second input split
kept whole, and the official TFDS test split must stay untouched for the final evaluation, so
this component reads TFDS itself (streamed by Beam with `tfds.beam.ReadFromTFDS`) and writes a
standard `Examples` artifact (gzipped TFRecords of tf.Example under `Split-<name>/`). Each
review is written as the exact bytes TFDS stores (`text_bytes`), and `eval` membership is the
md5 of those bytes, so it is the same on every run and machine.
"""
import hashlib
import json
import os
from typing import Any, Dict, List

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from components import skew_guard
from contract.errors import UserError
from contract.names import UNLABELED_SPLIT

SPLITS = ("train", "eval", "test")
_METRICS_NAMESPACE = "tfds_example_gen"
_PRINTED_NAMESPACE = "tfds_example_gen_printed"
_BUILD = ("`tfds build DATASET --data_dir DIR` on a machine that reaches the dataset's "
          "source, or `make data` where a local copy is set up (it runs "
          "../shared/data/prepare.sh)")
_PREPARE_HINT = (f"Offline? Build it with {_BUILD} and point --tfds-data-dir (or TFDS_DATA_DIR) "
                 "at that data dir.")
_REBUILD_HINT = f"Delete the dataset's version directory and build it again: {_BUILD}."


class TfdsDataError(UserError, RuntimeError):
    """The TFDS dataset is missing, unreachable or lacks the configured features/splits."""


def load_tfds_builder(dataset: str, data_dir: str, text_feature: str = "text",
                      label_feature: str = "label", download: bool = True,
                      unlabeled_split: str = ""):
    """Returns a prepared TFDS builder, downloading where the network allows.

    Raises TfdsDataError with an actionable message instead of TFDS's deep stack traces; the
    CLI calls this before the pipeline starts, the executor again inside it.
    """
    import tensorflow_datasets as tfds  # Heavy import; only where needed.

    try:
        builder = tfds.builder(dataset, data_dir=data_dir or None)
    except Exception as error:  # DatasetNotFoundError, bad config or version names, ...
        raise TfdsDataError(f"TFDS cannot load dataset {dataset!r} from data dir {data_dir!r}: "
                            f"{error}") from error
    if not builder.is_prepared():
        if not download:
            raise TfdsDataError(f"TFDS dataset {dataset!r} is not prepared in {data_dir!r}. "
                                + _PREPARE_HINT)
        try:
            builder.download_and_prepare()
        except Exception as error:
            raise TfdsDataError(
                f"TFDS dataset {dataset!r} is not prepared in {data_dir!r} and downloading it "
                f"failed ({type(error).__name__}: {str(error)[:300]}). " + _PREPARE_HINT
            ) from error
    features = builder.info.features
    missing = [name for name in (text_feature, label_feature) if name not in features]
    if missing:
        raise TfdsDataError(f"TFDS dataset {dataset!r} has no feature(s) {missing}; its "
                            f"features are {sorted(features.keys())}. Set --text-feature / "
                            "--label-feature.")
    for split in ("train", "test", *([unlabeled_split] if unlabeled_split else [])):
        if split not in builder.info.splits:
            hint = " (--unlabeled-split)" if split == unlabeled_split else ""
            raise TfdsDataError(f"TFDS dataset {dataset!r} has no {split!r} split{hint}; it "
                                f"has {sorted(builder.info.splits.keys())}.")
        verify_shards(builder.info.splits[split])
    return builder


def verify_shards(split_info) -> None:
    """Reads every shard of a split (CRC-checked; about a second for IMDB's train+test) and
    compares its record count with TFDS's metadata, so a corrupted or truncated file is named
    before any work starts, instead of failing deep inside Beam, or silently losing the
    records after a cut made at a record boundary."""
    for path, expected in zip(split_info.filepaths, split_info.shard_lengths):
        path = str(path)
        if not tf.io.gfile.exists(path):
            raise TfdsDataError(f"TFDS shard {path} is missing. " + _REBUILD_HINT)
        try:
            found = sum(int(tf.size(batch)) for batch in
                        tf.data.TFRecordDataset(path, buffer_size=1 << 20).batch(4096))
        except tf.errors.OpError as error:  # DataLossError: bad CRC or a cut-off record.
            raise TfdsDataError(f"TFDS shard {path} is corrupted or truncated "
                                f"({error.message}). " + _REBUILD_HINT) from error
        if found != expected:
            raise TfdsDataError(f"TFDS shard {path} holds {found} records, its dataset_info "
                                f"says {expected}: truncated or replaced. " + _REBUILD_HINT)


def hash_bucket(text: bytes, buckets: int = 100) -> int:
    """Stable across runs, machines and Python versions (unlike `hash()`)."""
    return int.from_bytes(hashlib.md5(text).digest()[:8], "little") % buckets


def text_bytes(value) -> bytes:
    """A review's bytes exactly as TFDS stores them.

    `ReadFromTFDS` yields dicts of eager `tf.Tensor`s: their value is `.numpy()`, never
    `str()`, which gives the tensor's printed form (`tf.Tensor(b"...", shape=(), ...)`, every
    non-ASCII byte escaped) and made training text differ from what clients send. Anything
    that is not a scalar string is refused rather than printed.
    """
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SUO":
        value = value.item()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TfdsDataError(f"a text feature must be one string per review, got "
                        f"{type(value).__name__} {str(value)[:80]!r}; check --text-feature")


def label_int(value) -> int:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return int(np.asarray(value).item())


class _ToTfExample(beam.DoFn):
    """TFDS record -> serialized tf.Example; counts the split's reviews, and those that look
    like printed values (components/skew_guard.py)."""

    def __init__(self, split: str, text_feature: str, label_feature: str):
        super().__init__()
        self._text_feature, self._label_feature = text_feature, label_feature
        self._count = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, split)
        self._printed = beam.metrics.Metrics.counter(_PRINTED_NAMESPACE, split)

    def process(self, record: Dict[str, Any]):
        text = text_bytes(record[self._text_feature])
        label = label_int(record[self._label_feature])
        self._count.inc()
        if skew_guard.printed_form(text):
            self._printed.inc()
        yield tf.train.Example(features=tf.train.Features(feature={
            self._text_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
            self._label_feature: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        })).SerializeToString()


def _counters(result, namespace: str, splits) -> Dict[str, int]:
    counts = {split: 0 for split in splits}
    for counter in result.metrics().query(
            beam.metrics.MetricsFilter().with_namespace(namespace))["counters"]:
        counts[counter.key.metric.name] = counter.committed or counter.attempted or 0
    return counts


class Executor(base_beam_executor.BaseBeamExecutor):
    """Streams TFDS records into tf.Example TFRecords, one folder per split."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        import tensorflow_datasets as tfds

        examples = artifact_utils.get_single_instance(output_dict["examples"])
        text_feature = exec_properties["text_feature"]
        label_feature = exec_properties["label_feature"]
        eval_percent = int(exec_properties["eval_percent"])
        max_examples = int(exec_properties.get("max_examples") or 0)
        unlabeled_split = exec_properties.get("unlabeled_split") or ""
        builder = load_tfds_builder(exec_properties["dataset"], exec_properties["data_dir"],
                                    text_feature, label_feature,
                                    unlabeled_split=unlabeled_split)
        limit = f"[:{max_examples}]" if max_examples else ""
        splits = list(SPLITS) + ([UNLABELED_SPLIT] if unlabeled_split else [])
        examples.split_names = artifact_utils.encode_split_names(splits)

        def write(records, split):
            prefix = os.path.join(artifact_utils.get_split_uri([examples], split),
                                  "data_tfrecord")
            return (records
                    | f"ToTfExample[{split}]" >> beam.ParDo(_ToTfExample(split, text_feature,
                                                                         label_feature))
                    | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                        prefix, file_name_suffix=".gz",
                        compression_type=beam.io.filesystem.CompressionTypes.GZIP))

        def read(split):
            return pipeline | f"Read[{split}]" >> tfds.beam.ReadFromTFDS(builder,
                                                                         split=split + limit)

        pipeline = self._make_beam_pipeline()
        train, evaluation = read("train") | "HashSplit" >> beam.Partition(
            lambda record, _: int(hash_bucket(text_bytes(record[text_feature])) < eval_percent),
            2)
        write(train, "train")
        write(evaluation, "eval")
        write(read("test"), "test")
        if unlabeled_split:
            write(read(unlabeled_split), UNLABELED_SPLIT)
        result = pipeline.run()
        result.wait_until_finish()

        counts = _counters(result, _METRICS_NAMESPACE, splits)
        printed = _counters(result, _PRINTED_NAMESPACE, splits)
        for split in splits:
            skew_guard.refuse_printed(printed[split], counts[split], f"split {split!r}")
        empty = [split for split, count in counts.items() if not count]
        if empty:
            raise TfdsDataError(f"splits {empty} are empty ({counts}); check --eval-percent "
                                "and --max-examples")

        examples.span = 0
        examples.version = int(str(builder.info.version).split(".")[0])
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        examples.set_string_custom_property("tfds_dataset", builder.info.full_name)
        examples.set_string_custom_property("split_counts", json.dumps(counts, sort_keys=True))
        for split, count in counts.items():
            examples.set_int_custom_property(f"num_examples_{split}", int(count))


class TfdsExampleGenSpec(types.ComponentSpec):
    PARAMETERS = {
        "dataset": ExecutionParameter(type=str),
        "data_dir": ExecutionParameter(type=str),
        "text_feature": ExecutionParameter(type=str),
        "label_feature": ExecutionParameter(type=str),
        "eval_percent": ExecutionParameter(type=int),
        "max_examples": ExecutionParameter(type=int),
        "unlabeled_split": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}


class TfdsExampleGen(base_beam_component.BaseBeamComponent):
    """Emits `Examples` with splits train/eval (hash of the text) and test (TFDS test), plus
    `unlabeled` (the TFDS split named by `unlabeled_split`, if any)."""

    SPEC_CLASS = TfdsExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, dataset: str = "imdb_reviews/plain_text", data_dir: str = "",
                 text_feature: str = "text", label_feature: str = "label",
                 eval_percent: int = 10, max_examples: int = 0, unlabeled_split: str = ""):
        super().__init__(spec=TfdsExampleGenSpec(
            dataset=dataset, data_dir=data_dir, text_feature=text_feature,
            label_feature=label_feature, eval_percent=eval_percent, max_examples=max_examples,
            unlabeled_split=unlabeled_split or None,
            examples=types.Channel(type=standard_artifacts.Examples)))
