"""What a pipeline run did, read back from ML Metadata and the artifacts it points to: each
node's state, times, exec properties and outputs (`RunRecord`); `report.py` writes it as text."""
import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import PipelineConfig
from reports.metric_text import difference_text, slice_rows
from components import gate_metrics
from components.evaluator import ACCURACY_BAR_KEY
from components.pusher import ALREADY_SERVED_KEY
from contract.errors import UserError
from contract.names import HPARAMS_SOURCE_KEY, TRAINING_SUMMARY_FILE
from contract.settings import TransformSettings
from pipeline import nodes



class NoRunError(UserError, LookupError):
    """There is no pipeline run to report on."""


_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class NodeRun:
    node: str
    state: str  # COMPLETE, CACHED, FAILED, ...
    seconds: float
    outputs: Dict[str, List[metadata_store_pb2.Artifact]]
    start: float = 0.0  # Epoch seconds, from MLMD's execution create/update times.
    end: float = 0.0
    properties: Dict[str, str] = dataclasses.field(default_factory=dict)  # Exec properties.
    inputs: Dict[str, List[metadata_store_pb2.Artifact]] = dataclasses.field(
        default_factory=dict)


@dataclasses.dataclass
class RunRecord:
    run_id: str
    nodes: Dict[str, NodeRun]
    metadata_path: str

    def artifact(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
        found = self.nodes.get(node)
        artifacts = found.outputs.get(key, []) if found else []
        return artifacts[0] if artifacts else None

    @property
    def blessed(self) -> Optional[bool]:
        blessing = self.artifact(nodes.EVALUATOR, "blessing")
        return None if blessing is None else bool(_int(blessing, "blessed"))

    @property
    def pushed_destination(self) -> Optional[str]:
        pushed = self.artifact(nodes.PUSHER, "pushed_model")
        if pushed is None or not _int(pushed, "pushed"):
            return None
        return pushed.custom_properties["pushed_destination"].string_value

    def test_metrics(self, slice_key=()) -> Dict[str, float]:
        evaluation = self.artifact(nodes.EVALUATOR, "evaluation")
        return {} if evaluation is None else load_metrics(evaluation.uri, slice_key)


    @property
    def pushed_version(self) -> Optional[str]:
        pushed = self.artifact(nodes.PUSHER, "pushed_model")
        version = pushed and pushed.custom_properties.get("pushed_version")
        return version.string_value if version and _int(pushed, "pushed") else None

    def push_status(self) -> str:
        """One line: what the Pusher did this run, and why when it pushed nothing."""
        pusher = self.nodes.get(nodes.PUSHER)
        pushed = self.artifact(nodes.PUSHER, "pushed_model")
        if pusher is None or pushed is None:
            return ("not pushed: the Pusher did not run" if pusher is None else
                    f"not pushed: the Pusher ended {pusher.state}")
        if _int(pushed, "pushed"):
            where = f"version {self.pushed_version} ({self.pushed_destination})"
            return (f"nothing new: cached, pushed by an earlier run as {where}"
                    if pusher.state == "CACHED" else f"pushed as {where}")
        served = pushed.custom_properties.get(ALREADY_SERVED_KEY)
        if served is not None:
            return f"not pushed: this model is already served as version {served.int_value}"
        if self.blessed is False:
            failures = self.blessing_failures()
            return "not pushed: not blessed" + (f": {failures[0]}" if failures else "")
        return "not pushed"

    def _gate_metric_configs(self) -> Dict[str, Any]:
        """The gate's TFMA MetricConfigs in the run's EvalConfig, by class name."""
        found = self.nodes.get(nodes.EVALUATOR)
        text = found.properties.get("eval_config") if found else None
        if not text:
            return {}
        import tensorflow_model_analysis as tfma
        from google.protobuf import json_format

        config = json_format.Parse(text, tfma.EvalConfig())
        return {metric.class_name: metric for spec in config.metrics_specs
                for metric in spec.metrics if metric.module == gate_metrics.__name__}

    def gate_margin(self, metric: str = gate_metrics.PairedIntervals.__name__
                    ) -> Optional[float]:
        """A margin of the run's Evaluator: --max-accuracy-drop (PairedIntervals) or
        --max-slice-accuracy-drop (SliceIntervals)."""
        found = self._gate_metric_configs().get(metric)
        for per_slice in (found.per_slice_thresholds if found else ()):
            return max(0.0, -per_slice.threshold.value_threshold.lower_bound.value)
        return None

    def gate_rule(self) -> str:
        """The Evaluator's blessing rule in one sentence, with this run's bars and margins."""
        bar = self.accuracy_bar().get("value")
        bar = f"{bar:.4f}" if bar is not None else "the --min-accuracy bar"
        margin = self.gate_margin()
        margin = f"{margin:.4f}" if margin is not None else "the margin"
        rule = (f"Rule: blessed when test accuracy >= {bar} and, when a model is served, the "
                f"lower end of the 95 % interval of accuracy (candidate - served, paired over "
                f"the same test reviews) >= -{margin} (--max-accuracy-drop)")
        sliced = self._gate_metric_configs().get(gate_metrics.SliceIntervals.__name__)
        slice_margin = self.gate_margin(gate_metrics.SliceIntervals.__name__)
        if sliced is not None and slice_margin is not None:
            reviews = json.loads(sliced.config or "{}").get("min_reviews", "?")
            rule += (f", and the same in every slice of at least {reviews} reviews (thirds "
                     f"by review length, each true label) >= -{slice_margin:.4f} "
                     f"(--max-slice-accuracy-drop)")
        return rule + "."

    def custom_config(self, node: str) -> dict:
        """A node's custom_config exec property (what its code was given), {} if none."""
        found = self.nodes.get(node)
        text = found.properties.get("custom_config") if found else None
        return json.loads(text) if text else {}

    def transform_settings(self) -> TransformSettings:
        """The settings this run's Transform was given: features, max_len, truncation."""
        return TransformSettings.from_custom_config(self.custom_config(nodes.TRANSFORM))

    def code_fingerprint(self) -> Optional[str]:
        """The trainer-code hash the run's Transform/Tuner/Trainer were keyed on."""
        for node in (nodes.TRAINER, nodes.TRANSFORM, nodes.TUNER):
            fingerprint = self.custom_config(node).get("code_fingerprint")
            if fingerprint:
                return fingerprint
        return None

    def examples(self) -> Optional[metadata_store_pb2.Artifact]:
        """The ExampleGen's Examples (TfdsExampleGen, or FileExampleGen with own data)."""
        for node in nodes.EXAMPLE_GENS:
            found = self.artifact(node, "examples")
            if found is not None:
                return found
        return None

    def split_counts(self) -> Dict[str, int]:
        examples = self.examples()
        counts = examples and examples.custom_properties.get("split_counts")
        return json.loads(counts.string_value) if counts else {}

    def spans(self) -> Optional[Dict[str, Any]]:
        """{"span": newest span read, "window": every span trained on}; None for TFDS input."""
        examples = self.examples()
        window = examples and examples.custom_properties.get("window_spans")
        if not window:
            return None
        return {"span": _int(examples, "span"), "window": json.loads(window.string_value)}

    def skipped_spans(self) -> Dict[int, str]:
        """Spans below the newest that the window left out, and why (a blocked drift check)."""
        examples = self.examples()
        found = examples and examples.custom_properties.get("skipped_spans")
        return {int(k): v for k, v in json.loads(found.string_value).items()} if found else {}

    def anomalies(self) -> Optional[Dict[str, Dict[str, str]]]:
        """split -> {feature: description} from ExampleValidator; None without its artifact."""
        proto = self.artifact(nodes.EXAMPLE_VALIDATOR, "anomalies")
        if proto is None:
            return None
        from tfx.types import standard_artifacts

        from components.data_validation import read_anomalies

        artifact = standard_artifacts.ExampleAnomalies()
        artifact.set_mlmd_artifact(proto)
        return read_anomalies(artifact)

    def baseline_metrics(self, slice_key=()) -> Dict[str, float]:
        """The baseline model's test metrics from the same evaluation; {} without a baseline."""
        evaluation = self.artifact(nodes.EVALUATOR, "evaluation")
        blessing = self.artifact(nodes.EVALUATOR, "blessing")
        if evaluation is None or blessing is None or "baseline_model" not in \
                blessing.custom_properties:
            return {}
        return load_metrics(evaluation.uri, slice_key, model_name="baseline")

    def accuracy_bar(self) -> dict:
        """{"value", "rule"} of the absolute accuracy bar the Evaluator applied ({}: unknown)."""
        blessing = self.artifact(nodes.EVALUATOR, "blessing")
        found = blessing and blessing.custom_properties.get(ACCURACY_BAR_KEY)
        return json.loads(found.string_value) if found else {}

    def blessing_failures(self) -> List[str]:
        """Why the Evaluator did not bless: one line per failed bar and slice, naming the
        value, the bar and the flag that sets it."""
        evaluation = self.artifact(nodes.EVALUATOR, "evaluation")
        if evaluation is None:
            return []
        import tensorflow_model_analysis as tfma

        result = tfma.load_validation_result(evaluation.uri)
        baseline = self.baseline_metrics() if result.metric_validations_per_slice else {}
        served = self.artifact(nodes.SERVING_BASELINE, "model")
        version = served and served.custom_properties.get("served_version")
        lines = []
        for per_slice in result.metric_validations_per_slice:
            where = ", ".join(f"{k.column}={getattr(k, k.WhichOneof('kind'))}"
                              for k in per_slice.slice_key.single_slice_keys)
            where = f" ({where})" if where else ""
            for failure in per_slice.failures:
                name = failure.metric_key.name.replace("binary_accuracy", "test accuracy")
                threshold = failure.metric_threshold
                value = failure.metric_value.double_value.value
                if failure.metric_key.name == gate_metrics.NON_INFERIORITY:
                    margin = -threshold.value_threshold.lower_bound.value
                    before = baseline.get("binary_accuracy")
                    against = (f"served version {version.int_value} ({before:.4f})"
                               if version is not None and before is not None
                               else "the served model")
                    lines.append(f"test accuracy against {against}{where}: "
                                 f"{difference_text(self.test_metrics())}; its lower end is "
                                 f"below -{max(margin, 0):.4f} (--max-accuracy-drop)")
                elif failure.metric_key.name == gate_metrics.SLICE_NON_INFERIORITY:
                    margin = -threshold.value_threshold.lower_bound.value
                    metrics = self.test_metrics()
                    worst = next((s for s in slice_rows(metrics) if s.get(
                        gate_metrics.lower(gate_metrics.ACCURACY_DIFF)) == value), {})
                    lines.append(f"test accuracy on {worst.get('name', 'a slice')} reviews "
                                 f"against the served model: "
                                 f"{difference_text(worst)}; its lower end is below "
                                 f"-{max(margin, 0):.4f} (--max-slice-accuracy-drop)")
                else:
                    bar = threshold.value_threshold.lower_bound.value
                    rule = self.accuracy_bar().get("rule", "--min-accuracy")
                    rule = (f"{rule}; --min-accuracy sets another" if rule != "--min-accuracy"
                            else rule)
                    lines.append(f"{name}{where} {value:.4f} is below the bar {bar:.4f} "
                                 f"({rule})")
        return lines

    def drift(self) -> Optional[Dict[str, Any]]:
        """What DriftGate checked this run: served version, verdict, one entry per checked
        span, test reviews shared with the served lineage; None without its artifact."""
        artifact = self.artifact(nodes.DRIFT_GATE, "drift")
        if artifact is None:
            return None
        props = artifact.custom_properties
        return {"verdict": props["verdict"].string_value,
                "served_version": _int(artifact, "served_version"),
                "spans": json.loads(props["spans"].string_value) if "spans" in props else [],
                "test_shared_with_served": _int(artifact, "test_shared_with_served")}

    def skew_check(self) -> dict:
        """What the Evaluator's training/serving skew guard checked (components/skew_guard.py)."""
        blessing = self.artifact(nodes.EVALUATOR, "blessing")
        found = blessing and blessing.custom_properties.get("skew_check")
        return json.loads(found.string_value) if found else {}

    def tuner_objective(self) -> str:
        """What the Tuner's trial scores measure, from the settings it ran with."""
        settings = self.custom_config(nodes.TUNER)
        if not settings:
            return "eval-split accuracy"
        return (f"eval-split accuracy after {settings['epochs']} epoch(s) on "
                f"{100 * settings['train_fraction']:.0f}% of train, every trial from seed "
                f"{settings['seed']}")

    def tuning(self) -> dict:
        """How the Tuner chose (contract/names.py HPARAMS_SOURCE_KEY): {"trials", "seconds"} of
        a search, or {"reused_from_version", "trials": 0, ...}; {} without a Tuner."""
        best = self.artifact(nodes.TUNER, "best_hyperparameters")
        files = tf.io.gfile.glob(os.path.join(best.uri, "*.txt")) if best else []
        return json.loads(read_text(files[0])).get(HPARAMS_SOURCE_KEY, {}) if files else {}

    def trials(self) -> List[dict]:
        """The Tuner's completed trials (id, score, values), best first; [] without a Tuner."""
        results = self.artifact(nodes.TUNER, "tuner_results")
        if results is None:
            return []
        files = tf.io.gfile.glob(os.path.join(results.uri, "*.json"))
        return json.loads(read_text(files[0])) if files else []

    def training_summary(self) -> dict:
        model_run = self.artifact(nodes.TRAINER, "model_run")
        path = model_run and os.path.join(model_run.uri, TRAINING_SUMMARY_FILE)
        return json.loads(read_text(path)) if path and tf.io.gfile.exists(path) else {}


def read_text(path: str) -> str:
    with tf.io.gfile.GFile(path) as handle:
        return handle.read()


def _int(artifact, name: str) -> int:
    value = artifact.custom_properties.get(name)
    return value.int_value if value is not None else 0


def _store(metadata_path: str) -> metadata_store.MetadataStore:
    if not os.path.exists(metadata_path):
        raise NoRunError(f"no ML Metadata at {metadata_path}: no pipeline ran with this "
                         "--output-dir (or --metadata-path); run `imdb-pipeline run` first")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def latest_run(config: PipelineConfig) -> RunRecord:
    """Every node of the newest pipeline run, its state, wall time and output artifacts."""
    store = _store(config.resolved_metadata_path)
    runs = store.get_contexts_by_type("pipeline_run")
    mine = [r for r in runs if any(c.name == config.pipeline_name
                                   for c in store.get_parent_contexts_by_context(r.id))] or runs
    if not mine:
        raise NoRunError(f"ML Metadata at {config.resolved_metadata_path} records no run")
    run = max(mine, key=lambda r: (r.create_time_since_epoch, r.id))
    nodes = {}
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
        node_contexts = [c for c in store.get_contexts_by_execution(execution.id)
                         if c.type_id == store.get_context_type("node").id]
        node = node_contexts[0].name.split(".", 1)[-1] if node_contexts else str(execution.id)
        outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
        inputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
        events = store.get_events_by_execution_ids([execution.id])
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        for event in events:
            key = event.path.steps[0].key if event.path.steps else ""
            if event.type in (metadata_store_pb2.Event.OUTPUT,
                              metadata_store_pb2.Event.DECLARED_OUTPUT):
                outputs.setdefault(key, []).append(artifacts[event.artifact_id])
            elif event.type in (metadata_store_pb2.Event.INPUT,
                                metadata_store_pb2.Event.DECLARED_INPUT):
                inputs.setdefault(key, []).append(artifacts[event.artifact_id])
        seconds = (execution.last_update_time_since_epoch
                   - execution.create_time_since_epoch) / 1000.0
        properties = {k: v.string_value for k, v in execution.custom_properties.items()
                      if v.HasField("string_value")}
        nodes[node] = NodeRun(node, _STATES.get(execution.last_known_state, "?"), seconds,
                              outputs, execution.create_time_since_epoch / 1000.0,
                              execution.last_update_time_since_epoch / 1000.0, properties,
                              inputs)
    return RunRecord(run.name, nodes, config.resolved_metadata_path)


def load_metrics(evaluation_uri: str, slice_key=(),
                 model_name: Optional[str] = None) -> Dict[str, float]:
    """Metric name -> value for one slice (overall by default) of a TFMA evaluation; the
    candidate's unless `model_name` (e.g. "baseline") says otherwise."""
    return load_slices(evaluation_uri, model_name).get(tuple(slice_key), {})


def load_slices(evaluation_uri: str, model_name: Optional[str] = None) -> Dict[tuple, dict]:
    """Every slice of a TFMA evaluation: slice key (() = overall) -> {metric: value}."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
    slices = {}
    for key, metrics in result.slicing_metrics:
        values = next(iter(next(iter(metrics.values())).values()))
        slices[tuple(key)] = {name: (value.get("doubleValue", value.get("value"))
                                     if isinstance(value, dict) else value)
                              for name, value in values.items()}
    return slices
