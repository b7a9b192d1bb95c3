"""THE pipeline definition; every runner (local Beam, Kubeflow) calls `create_pipeline`."""
import json
from typing import List, Optional

import tensorflow_model_analysis as tfma
from google.protobuf import wrappers_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components import gate_metrics
from components.data_validation import AnomaliesGate, CuratedSchemaGen
from components.pusher import VersionedPusherExecutor
from components.drift import DriftGate
from components.evaluator import Evaluator
from components.file_example_gen import file_example_gen
from components.serving_baseline import ServingBaseline
from components.tfds_example_gen import TfdsExampleGen
from components.transform import DeterministicTransform
from components.tuner import Tuner
from pipeline import nodes
from pipeline.config import PipelineConfig
from pipeline.fingerprint import code_fingerprint
from contract import signatures
from contract.names import UNLABELED_SPLIT

PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.training.run_fn"
DISTILL_RUN_FN = "trainer.distill.run_fn"
TUNER_FN = "trainer.tuning.tuner_fn"
GATE_METRIC = "components.gate_metrics.PairedIntervals"
GATE_CONFIDENCE = 0.95  # Two-sided: the bar reads the lower end, 97.5 % one-sided.


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """Test-split metrics with intervals, a quality bar and a non-inferiority bar against the
    served model (optionally per true label; the bars judge the overall slice).

    - Quality: test accuracy (the point estimate) >= --min-accuracy.
    - Non-inferiority: the lower end of the 95 % paired bootstrap interval of accuracy
      (candidate - served), on the same test reviews, >= -(--max-accuracy-drop)
      (components/gate_metrics.py); and in every slice of at least --min-slice-reviews
      (thirds by review length, each true label) >= -(--max-slice-accuracy-drop).
      TFMA's change thresholds compare point estimates, which turn a retrained copy of the
      served model into a coin toss; so each bar thresholds a metric whose value is that
      lower end. The Evaluator drops both when nothing is served.

    A threshold set on the metric itself would apply to every slice, i.e. to each class's
    accuracy too: a degenerate served model that calls everything positive (accuracy 1.0 on
    label=1) would then block every later candidate, however good.
    """
    overall = [tfma.SlicingSpec()]
    quality = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": config.resolved_min_accuracy}))
    non_inferiority = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": -config.max_accuracy_drop - 1e-10}))
    # A slice may drop at least as much as the whole test set (--max-accuracy-drop 1 turns
    # both bars off).
    slice_margin = max(config.max_slice_accuracy_drop, config.max_accuracy_drop)
    slice_non_inferiority = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": -slice_margin - 1e-10}))
    # The code's hash keys the Evaluator's cache on it, as for the Trainer.
    gate = {"samples": config.gate_bootstrap_samples, "confidence": GATE_CONFIDENCE,
            "seed": config.seed,
            "code_fingerprint": code_fingerprint(GATE_METRIC, packages=("components",))}
    # Speed (benchmarks/evaluator_speed.py): TFMA would load the export as a Keras model in
    # every Beam stage that touches it (8 loads of ~7 s, each retracing the GRUs) and compute
    # the metrics compiled into it, which repeat the ones below. "tf_generic" loads it as a
    # plain SavedModel and calls the signature; no default metrics. Same numbers, 84 s -> 43 s.
    # Per-label slices cost another ~9 s on IMDB; the report's confusion matrix shows the
    # same per-class numbers, so they are opt-in (--eval-label-slices).
    slicing_specs = list(overall)
    if config.eval_label_slices:
        slicing_specs.append(tfma.SlicingSpec(feature_keys=[config.label_feature]))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=signatures.EXAMPLES_SIGNATURE,
                                    label_key=config.label_feature,
                                    model_type=tfma.TF_GENERIC)],
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)),
        slicing_specs=slicing_specs,
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="BinaryAccuracy", per_slice_thresholds=[
                tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=quality)]),
            tfma.MetricConfig(class_name="AUC"),
            tfma.MetricConfig(class_name="Precision"),
            tfma.MetricConfig(class_name="Recall"),
            tfma.MetricConfig(
                class_name=gate_metrics.PairedIntervals.__name__,
                module=gate_metrics.__name__,
                config=json.dumps(gate),
                per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                    slicing_specs=overall, threshold=non_inferiority)]),
            tfma.MetricConfig(
                class_name=gate_metrics.SliceIntervals.__name__,
                module=gate_metrics.__name__,
                config=json.dumps({**gate, "text_feature": config.text_feature,
                                   "min_reviews": config.min_slice_reviews}),
                per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                    slicing_specs=overall, threshold=slice_non_inferiority)]),
        ])])


def create_components(config: PipelineConfig) -> List:
    def code(function_path: str) -> dict:
        return {"code_fingerprint": code_fingerprint(function_path)}

    if config.input_pattern:
        example_gen = file_example_gen(config.file_input_settings(), config.span
                                       ).with_id(nodes.FILE_EXAMPLE_GEN)
    else:
        example_gen = TfdsExampleGen(
            dataset=config.tfds_full_name, data_dir=config.resolved_tfds_data_dir,
            text_feature=config.text_feature, label_feature=config.label_feature,
            eval_percent=config.eval_percent, max_examples=config.max_examples,
            unlabeled_split=config.unlabeled_split).with_id(nodes.EXAMPLE_GEN)
    # Unlabeled reviews (label -1) are neither described by the schema nor validated.
    unlabeled = [UNLABELED_SPLIT] if config.unlabeled_split else []
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"],
        exclude_splits=unlabeled).with_id(nodes.STATISTICS_GEN)
    schema_gen = CuratedSchemaGen(statistics=statistics_gen.outputs["statistics"],
                                  text_feature=config.text_feature,
                                  label_feature=config.label_feature
                                  ).with_id(nodes.SCHEMA_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        exclude_splits=unlabeled).with_id(nodes.EXAMPLE_VALIDATOR)
    anomalies_gate = AnomaliesGate(
        anomalies=example_validator.outputs["anomalies"]).with_id(nodes.ANOMALIES_GATE)

    transform = DeterministicTransform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={**config.transform_config(), **code(PREPROCESSING_FN)},
        splits_config=tfx.proto.SplitsConfig(analyze=["train"],
                                             transform=["train", "eval", *unlabeled]),
        # Pre/post-transform TFDV statistics: nothing reads them, and over the wide part's
        # n-gram ids they cost minutes. The raw data's statistics (StatisticsGen) gate the run.
        disable_statistics=True).with_id(nodes.TRANSFORM)
    transform.add_upstream_node(anomalies_gate)
    gates = [anomalies_gate]
    if config.input_pattern:
        # Each new span of the window against the served model's data, and the test set
        # against every review the served model learned from (--drift-action off keeps the
        # latter).
        drift_gate = DriftGate(
            examples=example_gen.outputs["examples"], serving_dir=config.resolved_serving_dir,
            max_label_shift=config.max_label_shift,
            max_length_change=config.max_length_change,
            max_oov_increase=config.max_oov_increase, action=config.drift_action,
            ledger_dir=config.file_input_settings().ledger_dir,
            accepted_spans=json.dumps(list(config.accept_span)),
            test_overlap=config.test_overlap, models_config=config.resolved_models_config,
            model_name=config.model_name).with_id(nodes.DRIFT_GATE)
        transform.add_upstream_node(drift_gate)
        gates.append(drift_gate)

    # Tuner and Trainer see the same data: train on `train`, score on `eval`.
    training_inputs = dict(examples=transform.outputs["transformed_examples"],
                           transform_graph=transform.outputs["transform_graph"],
                           schema=schema_gen.outputs["schema"],
                           train_args=tfx.proto.TrainArgs(splits=["train"]),
                           eval_args=tfx.proto.EvalArgs(splits=["eval"]))
    training_nodes, base_model = [], None
    if config.warm_start:
        # The served model, read like the Evaluator's baseline (no resolver: every runner).
        warm_start_model = ServingBaseline(
            serving_dir=config.resolved_serving_dir,
            trained_with=transform.outputs["transform_graph"],
            models_config=config.resolved_models_config, model_name=config.model_name
        ).with_id(nodes.WARM_START_MODEL)
        training_nodes.append(warm_start_model)
        base_model = warm_start_model.outputs["model"]
    hyperparameters = None
    if config.tuning != "fixed":
        # Trials start from the served model too (--warm-start); the Trainer continues the
        # best one, or with reused hyperparameters the served model (components/tuner.py).
        tuner = Tuner(tuner_fn=TUNER_FN, custom_config={**config.tuner_config(),
                                                          **code(TUNER_FN)},
                      mode=config.tuning, serving_dir=config.resolved_serving_dir,
                      models_config=config.resolved_models_config,
                      model_name=config.model_name, base_model=base_model,
                      **training_inputs).with_id(nodes.TUNER)
        training_nodes.append(tuner)
        hyperparameters, base_model = (tuner.outputs["best_hyperparameters"],
                                       tuner.outputs["model"])
    trainer = tfx.components.Trainer(run_fn=RUN_FN, hyperparameters=hyperparameters,
                                     base_model=base_model,
                                     custom_config={**config.trainer_config(), **code(RUN_FN)},
                                     **training_inputs).with_id(nodes.TRAINER)
    training_nodes.append(trainer)
    if config.unlabeled_split:
        # Distillation (trainer/distill.py): the model above becomes the teacher; the student
        # keeps the id "Trainer", so everything downstream reads the model it exports.
        trainer = trainer.with_id(nodes.TEACHER)
        student = tfx.components.Trainer(
            run_fn=DISTILL_RUN_FN, hyperparameters=hyperparameters,
            base_model=trainer.outputs["model"],
            custom_config={**config.trainer_config(), **code(DISTILL_RUN_FN)},
            **{**training_inputs,
               "train_args": tfx.proto.TrainArgs(splits=["train", UNLABELED_SPLIT])}
        ).with_id(nodes.TRAINER)
        training_nodes.append(student)
        trainer = student

    # The baseline is what TF Serving serves now (components/serving_baseline.py): no ML
    # Metadata resolver, so every runner (local, Vertex, open-source KFP) gates the same way.
    # It takes the Trainer's model (so it reads the serving dir just before the Evaluator) to
    # skip a served copy of that same model: a rerun with nothing changed is then all cached.
    baseline_model = ServingBaseline(serving_dir=config.resolved_serving_dir,
                                     candidate=trainer.outputs["model"],
                                     models_config=config.resolved_models_config,
                                     model_name=config.model_name
                                     ).with_id(nodes.SERVING_BASELINE)

    evaluator = Evaluator(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model.outputs["model"],
        example_splits=["test"],
        eval_config=eval_config(config)).with_id(nodes.EVALUATOR)

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=config.resolved_serving_dir)),
        custom_config=config.pusher_config(),
        custom_executor_spec=executor_spec.ExecutorClassSpec(VersionedPusherExecutor)
    ).with_id(nodes.PUSHER)

    return [example_gen, statistics_gen, schema_gen, example_validator, *gates, transform,
            *training_nodes, baseline_model, evaluator, pusher]


def create_pipeline(config: PipelineConfig,
                    metadata_connection_config: Optional[object] = None) -> tfx.dsl.Pipeline:
    """The same graph for every runner; runners only choose where it runs and its MLMD.

    Kubeflow provides ML Metadata itself, so it passes None; the local runner passes SQLite.
    The config was validated when it was built.
    """
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.resolved_pipeline_root,
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_pipeline_args))
