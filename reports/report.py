"""A run as text: `imdb-pipeline report`'s summary of a RunRecord (reports/run_record.py), the
texts the HTML report shares with it, and the run's plots written beside the outputs."""
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf

from components import gate_metrics
from pipeline import nodes
from reports import report_plots
from reports.metric_text import difference_text, interval_text, slice_rows
from reports.run_record import RunRecord









def tuning_text(tuning: dict) -> str:
    if "reused_from_version" in tuning:
        return (f"reused the hyperparameters of served version {tuning['reused_from_version']} "
                "(searched in the same space): 0 trials, 0 s of search")
    return f"searched {tuning['trials']} trials in {tuning['seconds']:.0f} s"


def trial_text(trial: dict) -> str:
    if not trial.get("used"):
        return "the Tuner's best trial could not be used (see the Trainer's log)"
    return (f"the Tuner's best trial {trial['trial_id']} (eval accuracy {trial['score']:.4f} "
            f"after {trial['epochs']} epoch(s) on {100 * trial['train_fraction']:.0f}% of "
            f"train), continued")


def distillation_text(distillation: dict) -> str:
    return (f"a student trained on {distillation['labelled_reviews']} labelled reviews and "
            f"{distillation['unlabeled_reviews']} unlabeled ones the Teacher labelled "
            f"({100 * distillation['teacher_positive_fraction']:.1f}% positive)")














def write_plots(report: RunRecord, directory: str) -> Dict[str, str]:
    """Plots of the run that are not already artifacts (the Tuner's trials); name -> path."""
    trials = report.trials()
    if not trials:
        return {}
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, "tuner_trials.png")
    report_plots.plot_trials(trials, path, report.tuner_objective())
    return {"Tuner trials plot": path}


def warm_start_text(info: Dict[str, Any]) -> str:
    if info.get("through") == "trials":
        return ("through the Tuner: the continued trial started from the served model"
                if info.get("used") else "not used: the continued trial started from GloVe "
                "(nothing served yet, or a trial of another shape won)")
    if not info.get("used"):
        return f"not used: {info.get('reason')}"
    return (f"from the served model: {info['layers']} layers copied, "
            f"{info['embedding_rows_mapped']} of {info['new_vocabulary']} vocabulary rows mapped "
            "by token")


def span_verdict_lines(drift: Optional[Dict[str, Any]], ledger: Dict) -> List[str]:
    """This run's drift check, then every span verdict on record (components/span_ledger.py)."""
    lines = []
    if drift is not None:
        served = drift["served_version"]
        lines.append(f"Drift check:        {drift['verdict']}" + (
            f" (against served version {served})" if served >= 0 else ""))
        for entry in drift["spans"]:
            lines.append(f"  span {entry['span']}: {entry['verdict']}" + "".join(
                f"; {b}" for b in entry["breaches"]))
        if drift["test_shared_with_served"]:
            lines.append(f"  {drift['test_shared_with_served']} test reviews repeat reviews "
                         "the served model learned from (--test-overlap warn)")
    if ledger:
        lines.append("Span verdicts:      " + ", ".join(
            f"span {span}" + (f" v{version}" if version is not None else "")
            + f" {entry['verdict']}" for (span, version), entry in sorted(
                ledger.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))))
    return lines


REPORTED_METRICS = ("binary_accuracy", "auc", "precision", "recall",
                    gate_metrics.CALIBRATION_ERROR)


def gate_lines(report: RunRecord, metrics: Dict[str, float]) -> List[str]:
    """The test metrics with their intervals, the comparison with the served model (paired
    difference and churn) and the rule the Evaluator applied."""
    if not metrics:
        return []
    lines = ["Test split metrics (95 % intervals: bootstrap over the test reviews):"]
    lines += [f"  {name}={interval_text(metrics, name)}" for name in REPORTED_METRICS
              if name in metrics]
    if "example_count" in metrics:
        lines.append(f"  example_count={int(metrics['example_count'])}")
    for row in slice_rows(metrics):
        line = (f"  {row['name']}: {int(row.get('reviews', 0))} reviews, accuracy "
                f"{interval_text(row, 'binary_accuracy')}")
        if gate_metrics.ACCURACY_DIFF in row:
            line += f"; {difference_text(row)}"
        lines.append(line)
    if gate_metrics.ACCURACY_DIFF in metrics:
        served = report.artifact(nodes.SERVING_BASELINE, "model")
        version = served and served.custom_properties.get("served_version")
        before = report.baseline_metrics().get("binary_accuracy")
        lines.append(f"Against served:     version {version.int_value if version else '?'}"
                     + (f" ({before:.4f})" if before is not None else "") + ": "
                     + difference_text(metrics) + "; churn (predicted labels that flip) "
                     + interval_text(metrics, gate_metrics.FLIP_RATE))
    return lines


def format_report(report: RunRecord, plots: Optional[Dict[str, str]] = None,
                  ledger: Optional[Dict] = None) -> str:
    lines = [f"Pipeline run {report.run_id}:",
             f"  {'component':<32}{'state':<10}{'seconds':>9}"]
    total = 0.0
    for node in report.nodes.values():
        total += node.seconds
        lines.append(f"  {node.node:<32}{node.state:<10}{node.seconds:>9.1f}")
    lines.append(f"  {'total (sum of components)':<42}{total:>9.1f}")
    spans = report.spans()
    if spans:
        lines.append(f"Data:               span {spans['span']}, trained on spans "
                     f"{spans['window']}; reviews {report.split_counts()}")
        for span, why in sorted(report.skipped_spans().items()):
            lines.append(f"  span {span} left out of the window: {why}")
    lines += span_verdict_lines(report.drift(), ledger or {})
    tuning = report.tuning()
    if tuning:
        lines.append(f"Tuner:              {tuning_text(tuning)}")
    trials = report.trials()
    if trials:
        names = [k for k in trials[0] if k not in ("trial_id", "score")]
        lines.append(f"Tuner trials (score: {report.tuner_objective()}; best first):")
        lines.append("  " + f"{'trial':<7}{'score':>7}  " + "  ".join(f"{n:>13}" for n in names))
        for trial in trials:
            lines.append("  " + f"{trial['trial_id']:<7}{trial['score']:>7.4f}  " + "  ".join(
                f"{report_plots.short_value(trial.get(n)):>13}" for n in names))
    summary = report.training_summary()
    if summary:
        lines.append(f"Trained model:      {summary.get('hparams')} "
                     f"(hyperparameters from {summary.get('hparams_source', 'config')})")
        if "embedding" in summary:
            lines.append(f"Embedding:          {summary['embedding']}")
        if "continued_trial" in summary:
            lines.append(f"Started from:       {trial_text(summary['continued_trial'])}")
        if "warm_start" in summary:
            lines.append(f"Warm start:         {warm_start_text(summary['warm_start'])}")
        runs = summary.get("members", [summary])
        for index, run in enumerate(runs):
            averaging = run.get("weight_averaging") or {}
            history = run.get("history", {})
            name = f"model {index + 1}" if len(runs) > 1 else "model"
            best = max(history.get("val_accuracy", [float("nan")]))
            detail = (f"; weights of epochs {averaging['epochs']} averaged: eval "
                      f"{averaging['eval_accuracy']:.4f}, "
                      f"{'exported' if averaging['used'] else 'not better, not used'}"
                      if "eval_accuracy" in averaging else "")
            lines.append(f"{'Training (' + name + '):':<20}{len(history.get('loss', []))} "
                         f"epochs, best eval accuracy {best:.4f}{detail}")
        if "ensemble_eval_accuracy" in summary:
            lines.append(f"Ensemble of {len(runs)}:      eval accuracy "
                         f"{summary['ensemble_eval_accuracy']:.4f} (the exported model)")
        if "distillation" in summary:
            lines.append(f"Distillation:       {distillation_text(summary['distillation'])}")
    metrics = report.test_metrics()
    lines += gate_lines(report, metrics)
    evaluation = report.artifact(nodes.EVALUATOR, "evaluation")
    if evaluation is not None:
        lines.append(f"Evaluation (TFMA):  {evaluation.uri}")
    skew = report.skew_check()
    if skew:
        lines.append(f"Skew check:         {skew['reviews_checked']} stored eval reviews: "
                     f"{skew['reviews_looking_printed']} look printed, largest difference "
                     f"between the Example and raw-text signatures "
                     f"{skew['max_probability_difference']:.1e}")
    lines.append(f"Blessed:            {report.blessed}")
    lines.append(f"Push:               {report.push_status()}")
    model_run = report.artifact(nodes.TRAINER, "model_run")
    if model_run is not None:
        lines.append(f"Training curves:    {os.path.join(model_run.uri, 'training_curves.png')}"
                     f" (TensorBoard logs in {model_run.uri})")
    for name, path in (plots or {}).items():
        lines.append(f"{name + ':':<20}{path}")
    lines.append(f"ML Metadata:        {report.metadata_path}")
    return "\n".join(lines)
