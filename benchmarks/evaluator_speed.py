"""How long TFX's Evaluator (TFMA) takes on a finished run's test split, per EvalConfig variant.

Runs the pipeline's own Evaluator executor (no baseline) on the run's TfdsExampleGen `test`
split, schema and Trainer model, in Beam's in_memory or multi_processing direct runner, and
prints seconds and the overall metrics (which must not change between variants):

  pipeline      what the pipeline runs (pipeline/pipeline.py:eval_config, components/evaluator.py)
  all-columns   `pipeline` with TFMA decoding every raw feature (no schema: TFX's default)
  label-slices  `pipeline` plus metrics per true label (--eval-label-slices)
  keras         `label-slices` as TFMA does by default: the export loaded as a Keras model (in
                every Beam stage that uses it) and the metrics compiled into it computed too
  minimal       `pipeline` with only ExampleCount and BinaryAccuracy
  point         `pipeline` without components/gate_metrics.py's intervals (point estimates
                only, as the gate was before it compared intervals)
  tfma-jackknife, tfma-bootstrap
                `point` with TFMA's own confidence intervals (compute_confidence_intervals:
                delete-d jackknife over 20 buckets, or 20 Poisson bootstrap samples), which
                recompute every metric per resample

`--with-baseline` also hands the run's Trainer model over as the served baseline (the gate's
usual case: TFMA then scores every review with both models).

    .venv/bin/python benchmarks/evaluator_speed.py --output-dir pipeline_output --variant keras
"""
import argparse
import json
import os
import sys
import tempfile
import time

import tensorflow_model_analysis as tfma
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from components.evaluator import EvaluatorExecutor  # noqa: E402
from components.gate_metrics import PairedIntervals  # noqa: E402
from reports import run_record  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from pipeline.pipeline import eval_config  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402


VARIANTS = ("pipeline", "all-columns", "label-slices", "keras", "minimal", "point",
            "tfma-jackknife", "tfma-bootstrap")


def variant_config(variant: str):
    config = eval_config(make_config(eval_label_slices=variant in ("label-slices", "keras")))
    if variant == "keras":
        config.model_specs[0].ClearField("model_type")
        config.ClearField("options")
    elif variant == "minimal":
        del config.metrics_specs[0].metrics[2:]
    elif variant == "point" or variant.startswith("tfma-"):
        metrics = config.metrics_specs[0].metrics
        keep = [m for m in metrics if m.class_name != PairedIntervals.__name__]
        del metrics[:]
        metrics.extend(keep)
        if variant.startswith("tfma-"):
            intervals = config.options.compute_confidence_intervals
            intervals.value = True
            config.options.confidence_intervals.method = (
                tfma.ConfidenceIntervalOptions.JACKKNIFE if variant == "tfma-jackknife"
                else tfma.ConfidenceIntervalOptions.POISSON_BOOTSTRAP)
    return config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="pipeline_output")
    parser.add_argument("--variant", default="pipeline", choices=VARIANTS)
    parser.add_argument("--with-baseline", action="store_true",
                        help="Also hand the Trainer's model over as the served baseline.")
    parser.add_argument("--workers", type=int, default=1,
                        help="1: Beam's in_memory direct runner; N > 1: multi_processing.")
    args = parser.parse_args(argv)
    run = run_record.latest_run(make_config(output_dir=args.output_dir))
    examples = standard_artifacts.Examples()
    examples.uri = run.artifact("TfdsExampleGen", "examples").uri
    examples.split_names = '["train", "eval", "test"]'
    model = standard_artifacts.Model()
    model.uri = run.artifact("Trainer", "model").uri
    inputs = {"examples": [examples], "model": [model]}
    if args.with_baseline:
        inputs["baseline_model"] = [model]
    if args.variant != "all-columns":
        schema = standard_artifacts.Schema()
        schema.uri = run.artifact("CuratedSchemaGen", "schema").uri
        inputs["schema"] = [schema]
    mode = "multi_processing" if args.workers > 1 else "in_memory"
    with tempfile.TemporaryDirectory() as out:
        evaluation = standard_artifacts.ModelEvaluation()
        evaluation.uri = os.path.join(out, "evaluation")
        blessing = standard_artifacts.ModelBlessing()
        blessing.uri = os.path.join(out, "blessing")
        context = base_beam_executor.BaseBeamExecutor.Context(
            beam_pipeline_args=[f"--direct_running_mode={mode}",
                                f"--direct_num_workers={args.workers}"],
            tmp_dir=os.path.join(out, "tmp"), unique_id="1")
        start = time.perf_counter()
        EvaluatorExecutor(context).Do(
            inputs,
            {"evaluation": [evaluation], "blessing": [blessing]},
            {"eval_config": proto_utils.proto_to_json(variant_config(args.variant)),
             "example_splits": '["test"]', "fairness_indicator_thresholds": "null",
             "current_component_id": "Evaluator"})
        seconds = time.perf_counter() - start
        metrics = run_record.load_metrics(evaluation.uri)
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "variant": args.variant,
              "with_baseline": args.with_baseline,
              "beam_mode": mode, "seconds": round(seconds, 1),
              "metrics": {k: round(v, 6) if isinstance(v, float) else v
                          for k, v in metrics.items()}}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
