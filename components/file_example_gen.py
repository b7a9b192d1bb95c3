"""ExampleGen over the user's own labelled reviews: CSV or TFRecord files, in spans.

A `FileBasedExampleGen` (TFX's driver resolves `{SPAN}`/`{VERSION}` of the training files and
fingerprints them, locally and in Kubeflow V2's file-based driver alike) with this executor:

  train, eval   the training files of the resolved span and the `window - 1` spans before it,
                hash-split by the review's md5 (as TfdsExampleGen): a review is in `eval` in
                every window that holds it, so no run trains on another run's eval reviews
  test          the user's separate test files, read whole; nothing trains or tunes on them

Every file is read and checked row by row (contract/review_files.py) before Beam starts, and
the test set must share no review with the window's training files.
"""
import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import any_pb2, json_format, struct_pb2
from tfx import types
from tfx.components import FileBasedExampleGen
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_component_specs

from components import spans
from contract import review_files
from contract.review_files import InputDataError, ReviewFormat
from components.tfds_example_gen import SPLITS, hash_bucket

TRAIN_SPLIT = "train"  # The one input split of the FileBasedExampleGen: the training files.


@dataclasses.dataclass(frozen=True)
class FileInputSettings:
    """What the executor reads; built from PipelineConfig, carried in the custom_config."""

    train_pattern: str  # May hold {SPAN} and {VERSION}.
    test_pattern: str
    text_feature: str
    label_feature: str
    label_values: Tuple[str, ...]
    input_format: str
    window: int
    eval_percent: int

    @property
    def review_format(self) -> ReviewFormat:
        return ReviewFormat(self.text_feature, self.label_feature, self.label_values,
                            self.input_format)

    def to_custom_config(self) -> example_gen_pb2.CustomConfig:
        struct = struct_pb2.Struct()
        struct.update({**dataclasses.asdict(self), "label_values": list(self.label_values)})
        packed = any_pb2.Any()
        packed.Pack(struct)
        return example_gen_pb2.CustomConfig(custom_config=packed)

    @classmethod
    def from_exec_properties(cls, exec_properties: Dict[str, Any]) -> "FileInputSettings":
        config = example_gen_pb2.CustomConfig()
        json_format.Parse(exec_properties["custom_config"], config)
        struct = struct_pb2.Struct()
        config.custom_config.Unpack(struct)
        values = json_format.MessageToDict(struct)
        names = {f.name for f in dataclasses.fields(cls)}
        if set(values) != names:
            raise InputDataError(f"FileExampleGen: custom_config has {sorted(values)}, expected "
                                 f"{sorted(names)}; rebuild the pipeline with this code")
        return cls(**{**values, "label_values": tuple(values["label_values"]),
                      "window": int(values["window"]),
                      "eval_percent": int(values["eval_percent"])})


@dataclasses.dataclass(frozen=True)
class InputSummary:
    """What one run reads, checked: the spans of its window and the counts per split."""

    span: int
    version: Optional[int]
    window_spans: List[int]
    train_files: List[str]
    span_files: List[str]  # The newest span's training files (the drift check reads them).
    test_files: List[str]
    counts: Dict[str, int]


def check_input(settings: FileInputSettings, span: Optional[int] = None) -> InputSummary:
    """Resolves the window for `span` (None: the newest) and reads every row of its training
    files and of the test files; raises InputDataError / SpanError on the first bad one."""
    by_span = spans.files_by_span(settings.train_pattern)
    if not spans.has_span(settings.train_pattern) and settings.window > 1:
        raise spans.SpanError(f"--window {settings.window} needs {{SPAN}} in --input-pattern "
                              f"({settings.train_pattern!r})")
    newest = max(by_span) if span is None else span
    window = spans.window_spans(by_span, newest, settings.window)
    version, _ = spans.newest_version(by_span[newest])
    train_files = [path for s in window for path in spans.newest_version(by_span[s])[1]]
    test_files = sorted(tf.io.gfile.glob(settings.test_pattern))
    if not test_files:
        raise InputDataError(f"--test-pattern {settings.test_pattern!r} matches no file")
    counts = {split: 0 for split in SPLITS}
    training_hashes = set()
    for path in train_files:
        for text, _ in review_files.read_reviews(path, settings.review_format):
            counts["eval" if hash_bucket(text) < settings.eval_percent else "train"] += 1
            training_hashes.add(hash_bucket(text, 1 << 62))
    shared = 0
    for path in test_files:
        for text, _ in review_files.read_reviews(path, settings.review_format):
            counts["test"] += 1
            shared += hash_bucket(text, 1 << 62) in training_hashes
    if shared:
        raise InputDataError(f"{shared} of the {counts['test']} test reviews "
                             f"({settings.test_pattern}) are also in the training spans "
                             f"{window}: a test set must be unseen; remove them from one side")
    empty = [split for split, count in counts.items() if not count]
    if empty:
        raise InputDataError(f"splits {empty} would be empty ({counts}); check --eval-percent "
                             "and the input files")
    span_files = spans.newest_version(by_span[newest])[1]
    return InputSummary(newest, version, window, train_files, span_files, test_files, counts)


def _to_example(review: Tuple[bytes, int], text_feature: str, label_feature: str) -> bytes:
    text, label = review
    return tf.train.Example(features=tf.train.Features(feature={
        text_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
        label_feature: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    })).SerializeToString()


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads the window's training files and the test files into train/eval/test."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        # Not used: GenerateExamplesByBeam below reads several spans and a second file set,
        # which the one-pattern-per-split hook cannot express.
        raise NotImplementedError

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, Any]:
        settings = FileInputSettings.from_exec_properties(exec_properties)
        # The span TFX's driver resolved (0 without {SPAN}) and fingerprinted.
        span = int(exec_properties.get("span") or 0)
        self._summary = summary = check_input(settings, span)

        def reviews(files: List[str], name: str):
            return (pipeline
                    | f"Files[{name}]" >> beam.Create(files)
                    | f"Read[{name}]" >> beam.FlatMap(review_files.read_reviews,
                                                      settings.review_format))

        to_example = beam.Map(_to_example, settings.text_feature, settings.label_feature)
        train, evaluation = reviews(summary.train_files, "train") | "HashSplit" >> beam.Partition(
            lambda review, _: int(hash_bucket(review[0]) < settings.eval_percent), 2)
        return {"train": train | "ToExample[train]" >> to_example,
                "eval": evaluation | "ToExample[eval]" >> to_example,
                "test": reviews(summary.test_files, "test") | "ToExample[test]" >> to_example}

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        # Not the base class's Do: it names the output splits after the configs (train and
        # eval only); test is a third, read from its own files.
        examples = artifact_utils.get_single_instance(output_dict["examples"])
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        file_format = exec_properties[standard_component_specs.OUTPUT_FILE_FORMAT_KEY]
        with self._make_beam_pipeline() as pipeline:
            for split, records in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
                _ = records | f"WriteSplit[{split}]" >> write_split.WriteSplit(
                    artifact_utils.get_split_uri([examples], split), file_format,
                    exec_properties)
        examples_utils.set_payload_format(
            examples, exec_properties[standard_component_specs.OUTPUT_DATA_FORMAT_KEY])
        examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))
        summary = self._summary
        # TFX's local driver sets these too; Kubeflow's reports only what the executor writes.
        examples.span = summary.span
        if summary.version is not None:
            examples.version = summary.version
        examples.set_string_custom_property("window_spans", json.dumps(summary.window_spans))
        examples.set_string_custom_property("span_files", json.dumps(summary.span_files))
        examples.set_string_custom_property("split_counts",
                                            json.dumps(summary.counts, sort_keys=True))
        for split, count in summary.counts.items():
            examples.set_int_custom_property(f"num_examples_{split}", int(count))


class FileExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen (its driver, spans and fingerprint) with the executor above."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)


def file_example_gen(settings: FileInputSettings, span: int = 0) -> FileExampleGen:
    """The component for `settings`; `span` > 0 pins the span, 0 takes the newest."""
    base, relative = spans.split_base(settings.train_pattern)
    range_config = None
    if span:
        range_config = range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
            start_span_number=span, end_span_number=span))
    return FileExampleGen(
        input_base=base,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=TRAIN_SPLIT, pattern=relative)]),
        # What the executor does with `train`, stated in TFX's terms (buckets of 100).
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name="train",
                                              hash_buckets=100 - settings.eval_percent),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=settings.eval_percent)],
            partition_feature_name=settings.text_feature)),
        custom_config=settings.to_custom_config(),
        range_config=range_config)


def absolute(pattern: str) -> str:
    """Local patterns made absolute (TFX's components run from other folders); URIs kept."""
    return pattern if "://" in pattern or not pattern else os.path.abspath(
        os.path.expanduser(pattern))
