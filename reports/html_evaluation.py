"""The report's evaluation section: TFMA's test metrics, the blessing against the baseline,
what was pushed, and the per-review views TFMA does not keep (confusion matrix, accuracy by
length, calibration), computed by scoring the test split with the run's model."""
import os

from components import gate_metrics
from reports import metric_text, report_data, report_plots
from reports import run_record
from pipeline.config import PipelineConfig
from reports.html import cell, esc, image, para, section, table
from pipeline import nodes

METRICS = ("example_count", "binary_accuracy", "auc", "precision", "recall",
           gate_metrics.CALIBRATION_ERROR)


def _slice_name(key) -> str:
    return ", ".join(f"{column}={value}" for column, value in key) or "overall"


def _number(name: str, value):
    """TFMA stores counts as floats and NaN as the string 'NaN'."""
    if name == "example_count" and isinstance(value, float):
        return int(value)
    return value if isinstance(value, (int, float)) else str(value)


def _interval(values: dict, name: str) -> str:
    low, high = values.get(gate_metrics.lower(name)), values.get(gate_metrics.upper(name))
    return "" if low is None or high is None else f"{low:.4f} – {high:.4f}"


def metrics_part(run: run_record.RunRecord) -> list:
    evaluation = run.artifact(nodes.EVALUATOR, "evaluation")
    if evaluation is None:
        return [para("The Evaluator did not run.", "bad")]
    slices = run_record.load_slices(evaluation.uri)
    baseline = run.baseline_metrics()
    headers = ["metric", "candidate", "95 % interval"] + (
        ["baseline (served)"] if baseline else [])
    overall = slices.get((), {})
    rows = [[cell(name), cell(_number(name, overall[name]), f"metric:{name}"),
             cell(_interval(overall, name), f"interval:{name}")]
            + ([cell(_number(name, baseline.get(name, "")), f"baseline:{name}")]
               if baseline else [])
            for name in METRICS if name in overall]
    per_slice = [[cell(_slice_name(key))] + [
        cell(_number(name, values.get(name, "")), f"slice:{_slice_name(key)}:{name}")
        for name in METRICS] for key, values in sorted(slices.items()) if key]
    parts = ["<h3>TFMA metrics, test split</h3>", table(headers, rows),
             para("Intervals: 95 %, percentile bootstrap over the test reviews "
                  "(components/gate_metrics.py); the expected calibration error uses 10 "
                  "equal-width bins of the predicted probability.", "note")]
    gate_slices = metric_text.slice_rows(overall)
    if gate_slices:
        paired = any(gate_metrics.ACCURACY_DIFF in row for row in gate_slices)
        parts += ["<h3>Slices the gate judges</h3>", table(
            ["slice", "reviews", "accuracy (95 % interval)"]
            + (["candidate − served (95 % interval)"] if paired else []),
            [[cell(row["name"]), cell(int(row.get("reviews", 0)), f"slice_reviews:{row['where']}"),
              cell(metric_text.interval_text(row, "binary_accuracy"),
                   f"slice_accuracy:{row['where']}")]
             + ([cell(metric_text.difference_text(row), f"slice_difference:{row['where']}")]
                if paired else []) for row in gate_slices])]
    if per_slice:  # --eval-label-slices; per class, the confusion matrix below says it too.
        parts += ["<h3>Per slice</h3>", table(["slice", *METRICS], per_slice)]
    return parts


def decision_part(run: run_record.RunRecord) -> list:
    blessed = run.blessed
    if blessed is None:
        return [para("No blessing: the Evaluator did not finish.", "bad")]
    metrics = run.test_metrics()
    candidate = metrics.get("binary_accuracy")
    baseline = run.baseline_metrics().get("binary_accuracy")
    served = run.artifact(nodes.SERVING_BASELINE, "model")
    version = served and served.custom_properties.get("served_version")
    if baseline is not None:
        against = (f"the served model (version {version.int_value}): accuracy "
                   f'<span data-key="baseline_accuracy">{baseline:.4f}</span>; '
                   f'<span data-key="difference">{esc(metric_text.difference_text(metrics))}'
                   f"</span>; churn (predicted labels that flip) "
                   f'<span data-key="churn">'
                   f"{esc(metric_text.interval_text(metrics, gate_metrics.FLIP_RATE))}</span>")
    else:
        against = "no baseline (nothing served yet): only the absolute bar applies"
    verdict = ('<span class="good" data-key="blessed">blessed</span>' if blessed else
               '<span class="bad" data-key="blessed">not blessed</span>')
    candidate = "?" if candidate is None else f"{candidate:.4f}"
    parts = [para(esc(run.gate_rule()), "note"),
             para(f"{verdict}: candidate accuracy <span data-key=\"candidate_accuracy\">"
                  f"{candidate}</span> against {against}.")]
    skew = run.skew_check()
    if skew:
        parts.append(para(
            f'Training/serving skew check: <span data-key="skew_reviews">'
            f'{skew["reviews_checked"]}</span> stored eval reviews, '
            f'{skew["reviews_looking_printed"]} looking like printed values; the Example and '
            f'raw-text signatures agree to {skew["max_probability_difference"]:.1e}.'))
    failures = run.blessing_failures()
    if failures:
        parts.append("<ul>" + "".join(f"<li>{esc(f)}</li>" for f in failures) + "</ul>")
    status = run.push_status()
    if run.pushed_version:
        parts.append(para(f'Pushed version <span data-key="pushed_version">'
                          f"{esc(run.pushed_version)}</span>: {esc(status)}."))
    else:
        already = "already served" in status
        parts.append(para(f'<span data-key="pushed_version">nothing pushed</span>: '
                          f"{esc(status.split(': ', 1)[-1])}.",
                          "bad" if blessed and not already else ""))
    return ["<h3>Blessing and push</h3>", *parts]


def _model_dir(run: run_record.RunRecord):
    """The candidate (what TFMA scored above); the pushed copy if the Trainer's is gone."""
    model = run.artifact(nodes.TRAINER, "model")
    candidate = model and os.path.join(model.uri, "Format-Serving")
    if candidate and os.path.exists(os.path.join(candidate, "saved_model.pb")):
        return candidate
    return run.pushed_destination


def predictions_part(run: run_record.RunRecord, config: PipelineConfig, max_reviews: int) -> list:
    examples = run.examples()
    model_dir = _model_dir(run)
    files = examples and report_data.split_files(examples.uri, "test")
    if not files or not model_dir:
        return [para("No per-review views: no test split or no model.", "note")]
    transform = run.transform_settings()
    scored = report_data.predict_split(model_dir, files, transform.text_feature,
                                       transform.label_feature, max_reviews)
    if not len(scored.labels):
        return [para("The test split is empty.", "note")]
    matrix = report_data.confusion_matrix(scored)
    (tn, fp), (fn, tp) = matrix.tolist()
    return [
        "<h3>Per review (computed for this report)</h3>",
        para(f'The model in {esc(model_dir)} scored <span data-key="scored">{len(scored.labels)}'
             f"</span> of {scored.total} test reviews"
             + (f" (the first in file order: --report-reviews {max_reviews})"
                if len(scored.labels) < scored.total else "") + ": accuracy "
             f'<span data-key="scored_accuracy">{scored.correct.mean():.4f}</span> at P &gt; '
             f"{report_data.THRESHOLD}."),
        '<div class="figs"><div>',
        table(["true \\ predicted", "negative", "positive"], [
            [cell("negative"), cell(tn, "tn"), cell(fp, "fp")],
            [cell("positive"), cell(fn, "fn"), cell(tp, "tp")]]),
        image(report_plots.confusion(matrix), "confusion matrix"), "</div><div>",
        image(report_plots.reliability(report_data.calibration(scored)),
              "calibration (reliability) plot"), "</div></div>",
        "<h4>Accuracy by review length (quintiles of tokens before truncation)</h4>",
        image(report_plots.length_accuracy(report_data.accuracy_by_length(scored)),
              "accuracy by review length")]


def evaluation_section(run: run_record.RunRecord, config: PipelineConfig, max_reviews: int) -> str:
    return section("evaluation", "Evaluation", [
        *metrics_part(run), *decision_part(run), *predictions_part(run, config, max_reviews)])
