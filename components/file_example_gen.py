"""ExampleGen over the user's own labelled reviews: CSV or TFRecord files, in spans.

A `FileBasedExampleGen` (TFX's input processor resolves `{SPAN}`/`{VERSION}`, locally and in
Kubeflow V2's file-based driver alike) with this driver and executor:

  driver        adds to TFX's fingerprint of the newest span every other file the run reads
                (the window's older spans, the test files) and the spans left out, so the cache
                key is the run's whole input
  train, eval   the window: the resolved span and the `window - 1` newest spans before it that
                exist and were not blocked by the drift check (components/span_ledger.py),
                hash-split by the review's md5 (as TfdsExampleGen): a review is in `eval` in
                every window that holds it, so no run trains on another run's eval reviews
  test          the user's separate test files; nothing trains or tunes on them

Every input is read once, in one Beam pass that also counts the splits, refuses a test set that
repeats a window review (normalized text, contract/review_hashes.py) and writes each span's
counts for DriftGate; the CLI reads every row once before (the same checks, before any
component runs).
"""
import dataclasses
import json
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import any_pb2, json_format, struct_pb2
from tfx import types
from tfx.components import FileBasedExampleGen
from tfx.components.example_gen import base_example_gen_executor, driver, write_split
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_component_specs

import components.spans as spans
import components.span_ledger as span_ledger
from contract import data_profile, review_files, review_hashes
from contract.names import SPAN_PROFILES_DIR, TEST_HASHES_FILE
from contract.review_files import InputDataError
from contract.settings import FileInputSettings, from_custom_config
from components.tfds_example_gen import SPLITS, hash_bucket

TRAIN_SPLIT = "train"  # The one input split of the FileBasedExampleGen: the training files.


def settings_proto(settings: FileInputSettings) -> example_gen_pb2.CustomConfig:
    """The settings as FileBasedExampleGen carries its custom_config (a packed Struct)."""
    struct = struct_pb2.Struct()
    struct.update({**dataclasses.asdict(settings), "label_values": list(settings.label_values),
                   "accepted_spans": list(settings.accepted_spans)})
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def read_settings(exec_properties: Dict[str, Any]) -> FileInputSettings:
    """The settings back from an execution's properties (a Struct stores numbers as floats)."""
    config = example_gen_pb2.CustomConfig()
    json_format.Parse(exec_properties["custom_config"], config)
    struct = struct_pb2.Struct()
    config.custom_config.Unpack(struct)
    settings = from_custom_config(FileInputSettings, json_format.MessageToDict(struct))
    return dataclasses.replace(
        settings, label_values=tuple(settings.label_values),
        accepted_spans=tuple(int(s) for s in settings.accepted_spans),
        window=int(settings.window), eval_percent=int(settings.eval_percent))


@dataclasses.dataclass(frozen=True)
class InputSummary:
    """What one run reads, checked: the spans of its window and the counts per split."""

    span: int
    version: Optional[int]
    window_spans: List[int]
    window: List[Dict[str, Any]]  # Per span of the window: {"span", "version", "files"}.
    skipped_spans: Dict[int, str]  # Spans left out of the window, and why.
    train_files: List[str]
    test_files: List[str]
    counts: Dict[str, int]
    test_positive: int  # Test reviews labelled 1 (the majority-class bar, evaluator.py).
    test_shared: int  # Test reviews that repeat a review of the window (normalized text).


@dataclasses.dataclass(frozen=True)
class Window:
    """The spans a run reads, resolved without reading any review."""

    span: int
    version: Optional[int]
    spans: List[Dict[str, Any]]  # {"span", "version", "files"}, oldest first.
    skipped: Dict[int, str]
    test_files: List[str]

    @property
    def train_files(self) -> List[str]:
        return [path for entry in self.spans for path in entry["files"]]


def resolve_window(settings: FileInputSettings, span: Optional[int] = None) -> Window:
    """The window for `span` (None: the newest): its spans' newest versions and files, spans
    the drift gate blocked left out (components/span_ledger.py), and the test files."""
    by_span = spans.files_by_span(settings.train_pattern)
    if not spans.has_span(settings.train_pattern) and settings.window > 1:
        raise spans.SpanError(f"--window {settings.window} needs {{SPAN}} in --input-pattern "
                              f"({settings.train_pattern!r})")
    newest = max(by_span) if span is None else span
    versions = {s: spans.newest_version(v)[0] for s, v in by_span.items() if s <= newest}
    blocked = span_ledger.blocked_spans(settings.ledger_dir, versions, settings.accepted_spans)
    if newest in blocked:
        entry = blocked[newest]
        raise spans.SpanError(
            f"span {newest} was blocked by the drift check ({entry['time']}: "
            f"{'; '.join(entry.get('breaches', []))}); it trains only if you accept it: "
            f"--accept-span {newest} (a re-delivered span, a new {{VERSION}}, is checked "
            "afresh)")
    window = spans.window_spans(by_span, newest, settings.window, skip=blocked)
    test_files = sorted(tf.io.gfile.glob(settings.test_pattern))
    if not test_files:
        raise InputDataError(f"--test-pattern {settings.test_pattern!r} matches no file")
    skipped = {s: f"blocked by the drift check ({entry['time']})"
               for s, entry in blocked.items() if window[0] < s < newest}
    entries = [{"span": s, "version": spans.newest_version(by_span[s])[0],
                "files": spans.newest_version(by_span[s])[1]} for s in window]
    return Window(newest, entries[-1]["version"], entries, skipped, test_files)


def check_input(settings: FileInputSettings, span: Optional[int] = None) -> InputSummary:
    """Resolves the window for `span` (None: the newest) and reads every row of its training
    files and of the test files; raises InputDataError / SpanError on the first bad one."""
    window = resolve_window(settings, span)
    counts = {split: 0 for split in SPLITS}
    training = []
    for path in window.train_files:
        for text, _ in review_files.read_reviews(path, settings.review_format):
            counts["eval" if hash_bucket(text) < settings.eval_percent else "train"] += 1
            training.append(review_hashes.review_hash(text))
    training = review_hashes.unique(training)
    test, positive = [], 0
    for path in window.test_files:
        for text, label in review_files.read_reviews(path, settings.review_format):
            counts["test"] += 1
            positive += label
            test.append(review_hashes.review_hash(text))
    shared = review_hashes.count_shared(test, training)
    check_counts(settings, window, counts, shared)
    return InputSummary(window.span, window.version, [e["span"] for e in window.spans],
                        window.spans, window.skipped, window.train_files, window.test_files,
                        counts, positive, shared)


def _to_example(review: Tuple[bytes, int], text_feature: str, label_feature: str) -> bytes:
    text, label = review
    return tf.train.Example(features=tf.train.Features(feature={
        text_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
        label_feature: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    })).SerializeToString()


_METRICS = "file_example_gen"  # Beam counters: split sizes, test labels, leakage.


class _Counted(beam.DoFn):
    """Passes reviews through, counting them (and the positive ones) per split."""

    def __init__(self, split: str):
        self._split = split

    def setup(self):
        self._count = beam.metrics.Metrics.counter(_METRICS, self._split)
        self._positive = beam.metrics.Metrics.counter(_METRICS, f"{self._split}_positive")

    def process(self, review):
        self._count.inc()
        self._positive.inc(review[1])
        yield review


def _count_shared(keyed):
    """(hash, [0 for each window review, 1 for each test review]) -> test reviews that repeat
    a window review."""
    _, sides = keyed
    sides = list(sides)
    if 0 in sides:
        beam.metrics.Metrics.counter(_METRICS, "test_shared").inc(sides.count(1))


def _write_json(value, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as out:
        json.dump(value, out)


def _span_counts(batch):
    return data_profile.count([text for text, _ in batch], [label for _, label in batch])


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads the window's training files and the test files into train/eval/test, in one pass
    that also counts the splits, checks the test set against the window and profiles each span
    for DriftGate (so that no input is read again after the CLI's check)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        # Not used: GenerateExamplesByBeam below reads several spans and a second file set,
        # which the one-pattern-per-split hook cannot express.
        raise NotImplementedError

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, Any]:
        settings = read_settings(exec_properties)
        # The span TFX's driver resolved (0 without {SPAN}) and fingerprinted.
        span = int(exec_properties.get("span") or 0)
        self._window = window = resolve_window(settings, span)
        out = self._output_uri

        def reviews(files: List[str], name: str):
            # One file is read by one worker; the reshuffle spreads its reviews over all of
            # them for the rest (serializing, writing), so one big file does not serialize
            # the whole step.
            return (pipeline
                    | f"Files[{name}]" >> beam.Create(files)
                    | f"Read[{name}]" >> beam.FlatMap(review_files.read_reviews,
                                                      settings.review_format)
                    | f"Spread[{name}]" >> beam.Reshuffle())

        per_span = []
        for entry in window.spans:
            name = f"span-{entry['span']}"
            rows = reviews(entry["files"], name)
            per_span.append(rows)
            _ = (rows
                 | f"Batch[{name}]" >> beam.BatchElements(min_batch_size=256,
                                                          max_batch_size=4096)
                 | f"Count[{name}]" >> beam.Map(_span_counts)
                 | f"Merge[{name}]" >> beam.CombineGlobally(data_profile.merge)
                 | f"Profile[{name}]" >> beam.Map(_write_json, os.path.join(
                     out, SPAN_PROFILES_DIR, f"{name}.json")))
        training = per_span | "Window" >> beam.Flatten()
        test = reviews(window.test_files, "test")
        keyed_test = test | "HashTest" >> beam.Map(
            lambda r: (review_hashes.review_hash(r[0]), 1))
        _ = ((training | "HashWindow" >> beam.Map(
                lambda r: (review_hashes.review_hash(r[0]), 0)), keyed_test)
             | "Both" >> beam.Flatten() | "ByHash" >> beam.GroupByKey()
             | "Shared" >> beam.Map(_count_shared))
        _ = (keyed_test | "TestHashes" >> beam.Map(lambda kv: kv[0])
             | "AllTestHashes" >> beam.combiners.ToList()
             | "WriteTestHashes" >> beam.Map(review_hashes.write_file,
                                                 os.path.join(out, TEST_HASHES_FILE)))
        to_example = beam.Map(_to_example, settings.text_feature, settings.label_feature)
        train, evaluation = training | "HashSplit" >> beam.Partition(
            lambda review, _: int(hash_bucket(review[0]) < settings.eval_percent), 2)
        return {split: rows | f"Counted[{split}]" >> beam.ParDo(_Counted(split))
                | f"ToExample[{split}]" >> to_example
                for split, rows in (("train", train), ("eval", evaluation), ("test", test))}

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        # Not the base class's Do: it names the output splits after the configs (train and
        # eval only); test is a third, read from its own files.
        examples = artifact_utils.get_single_instance(output_dict["examples"])
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        file_format = exec_properties[standard_component_specs.OUTPUT_FILE_FORMAT_KEY]
        self._output_uri = examples.uri
        tf.io.gfile.makedirs(os.path.join(examples.uri, SPAN_PROFILES_DIR))
        settings = read_settings(exec_properties)
        pipeline = self._make_beam_pipeline()
        for split, records in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
            _ = records | f"WriteSplit[{split}]" >> write_split.WriteSplit(
                artifact_utils.get_split_uri([examples], split), file_format, exec_properties)
        result = pipeline.run()
        result.wait_until_finish()
        counted = {name: 0 for name in (*SPLITS, "test_positive", "test_shared")}
        for counter in result.metrics().query(beam.metrics.MetricsFilter().with_namespace(
                _METRICS))["counters"]:
            counted[counter.key.metric.name] = counter.committed
        window, counts = self._window, {split: counted[split] for split in SPLITS}
        check_counts(settings, window, counts, counted["test_shared"])
        examples_utils.set_payload_format(
            examples, exec_properties[standard_component_specs.OUTPUT_DATA_FORMAT_KEY])
        examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))
        # TFX's local driver sets these too; Kubeflow's reports only what the executor writes.
        examples.span = window.span
        if window.version is not None:
            examples.version = window.version
        examples.set_string_custom_property("window_spans", json.dumps(
            [entry["span"] for entry in window.spans]))
        # Every span of the window with its version and files: DriftGate checks each span the
        # served model has not trained on; the Evaluator passes the list on to the Pusher.
        examples.set_string_custom_property("window", json.dumps(window.spans))
        examples.set_string_custom_property("skipped_spans",
                                            json.dumps(window.skipped, sort_keys=True))
        examples.set_string_custom_property("test_files", json.dumps(window.test_files))
        examples.set_int_custom_property("test_positive", counted["test_positive"])
        examples.set_int_custom_property("test_shared", counted["test_shared"])
        examples.set_string_custom_property("split_counts", json.dumps(counts, sort_keys=True))
        for split, count in counts.items():
            examples.set_int_custom_property(f"num_examples_{split}", int(count))


def check_counts(settings: FileInputSettings, window: "Window", counts: Dict[str, int],
                 shared: int) -> None:
    """The rules on what was read, the CLI's check and the executor's alike: no test review
    repeats a window review (unless --test-overlap warn), and no split is empty."""
    if shared:
        message = (f"{shared} of the {counts['test']} test reviews ({settings.test_pattern}) "
                   f"are also in the training spans {[e['span'] for e in window.spans]} "
                   "(compared after lowercasing and removing markup and extra whitespace): a "
                   "test set must be unseen; remove them from one side")
        if settings.test_overlap == "block":
            raise InputDataError(message + " (or pass --test-overlap warn)")
        logging.warning("%s; --test-overlap warn: going on.", message)
    empty = [split for split, count in counts.items() if not count]
    if empty:
        raise InputDataError(f"splits {empty} would be empty ({counts}); check --eval-percent "
                             "and the input files")


def window_fingerprint(settings: FileInputSettings, span: int) -> str:
    """Everything the executor reads, beyond the newest span TFX's driver fingerprints: each
    window span's version and files, the test files (TFX's fingerprint: path, size, mtime) and
    the spans left out. A changed test file or a re-delivered older span changes it."""
    window = resolve_window(settings, span or None)
    return "\n".join([f"window:{[(e['span'], e['version']) for e in window.spans]}",
                      f"skipped:{sorted(window.skipped)}",
                      *map(_file_fingerprint, window.train_files + window.test_files)])


def _file_fingerprint(path: str) -> str:
    # Path, size and modification time; to the nanosecond on a local disk (TFX's own
    # fingerprint, and gfile's stat, round the time to seconds, so an edit in the same second
    # that keeps the size would go unseen).
    if "://" not in path:
        stat = os.stat(path)
        return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    stat = fileio.stat(path)
    return f"{path}:{stat.length}:{stat.mtime_nsec}"


class FileExampleGenDriver(driver.FileBasedDriver):
    """TFX's file-based driver (span, version, the newest span's fingerprint), with the rest of
    the run's input added to the fingerprint, which is part of the cache key."""

    def resolve_exec_properties(self, exec_properties, pipeline_info, component_info):
        exec_properties = super().resolve_exec_properties(exec_properties, pipeline_info,
                                                          component_info)
        settings = read_settings(exec_properties)
        key = example_gen_utils.FINGERPRINT_PROPERTY_NAME
        exec_properties[key] = (exec_properties[key] + "\n" + window_fingerprint(
            settings, int(exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME) or 0)))
        return exec_properties


class FileExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen (its spans) with the driver and executor above. On Kubeflow TFX's
    own file-based driver step runs instead of the driver: kubeflow/runner.py turns caching off
    for this node there, so nothing it reads is left out of the decision to rerun."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = FileExampleGenDriver


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
        custom_config=settings_proto(settings),
        range_config=range_config)


def absolute(pattern: str) -> str:
    """Local patterns made absolute (TFX's components run from other folders); URIs kept."""
    return pattern if "://" in pattern or not pattern else os.path.abspath(
        os.path.expanduser(pattern))
