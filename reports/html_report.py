"""One self-contained HTML page per pipeline run: what ran, on what data, what was trained,
how it did and whether it shipped, read back from ML Metadata and the run's artifacts.

Self-contained means it opens offline and can be mailed around: no external CSS, JS, fonts or
images; every chart is a base64 PNG data URI. Values tests compare with ML Metadata carry a
`data-key` attribute. The evaluation section lives in reports/html_evaluation.py.
"""
import datetime
import os
from typing import Optional

from components import gate_metrics, span_ledger
from contract.settings import CACHE_KEYS
from reports import report, report_data, report_plots
from reports import run_record
from reports.html import cell, esc, image, para, section, table
from reports.html_evaluation import evaluation_section
from pipeline.config import PipelineConfig
from trainer import preprocessing
from pipeline import nodes

DEFAULT_REVIEWS = 5000  # Test reviews scored for the confusion matrix etc.; 0 = all.

_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #ccc; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
.note { color: #555; font-size: 0.9em; } .bad { color: #b00; font-weight: bold; }
.good { color: #080; font-weight: bold; } .figs { display: flex; flex-wrap: wrap; gap: 1em; }
.config { columns: 3; font-size: 0.85em; } .config div { break-inside: avoid; }
"""


def _when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")


def run_section(run: run_record.RunRecord) -> str:
    nodes = list(run.nodes.values())
    start = min(n.start for n in nodes)
    end = max(n.end for n in nodes)
    executed = [n.node for n in nodes if n.state == "COMPLETE"]
    cached = [n.node for n in nodes if n.state == "CACHED"]
    parts = [table(["run", "code fingerprint", "start", "end", "wall time (s)"], [[
        cell(run.run_id, "run_id"), cell(run.code_fingerprint() or "not recorded",
                                         "code_fingerprint"),
        cell(_when(start)), cell(_when(end)), cell(end - start, "wall_seconds", 1)]]),
        para(f"{len(executed)} components executed, {len(cached)} served from the cache"
             + (f" ({esc(', '.join(cached))})" if cached else "") + "."),
        image(report_plots.timeline([n.node for n in nodes], [n.start - start for n in nodes],
                                    [n.seconds for n in nodes], [n.state for n in nodes]),
              "component timeline"),
        table(["component", "state", "started at (s)", "seconds"],
              [[cell(n.node), cell(n.state, f"state:{n.node}"),
                cell(n.start - start, digits=1), cell(n.seconds, f"seconds:{n.node}", 1)]
               for n in nodes]),
        "<h3>Settings each component was given (custom_config, from ML Metadata)</h3>"]
    for node in run.nodes:
        given = {k: v for k, v in run.custom_config(node).items() if k not in CACHE_KEYS}
        if given:
            parts.append(f"<h4>{esc(node)}</h4>" + '<div class="config">' + "".join(
                f'<div><b>{esc(key)}</b> <span data-key="config:{esc(node)}:{esc(key)}">'
                f"{esc(value)}</span></div>" for key, value in sorted(given.items())) + "</div>")
    return section("run", f"Run {run.run_id}", parts)


def data_section(run: run_record.RunRecord, config: PipelineConfig) -> str:
    counts = run.split_counts()
    parts = [table(["split", "reviews"], [[cell(s), cell(n, f"split:{s}")]
                                         for s, n in counts.items()])
             if counts else para("No split counts (the ExampleGen did not run).", "note")]
    spans = run.spans()
    if spans:
        parts.append(para(f'Span <span data-key="span">{spans["span"]}</span>; train and eval '
                          f'from spans <span data-key="window_spans">'
                          f'{esc(", ".join(map(str, spans["window"])))}</span>.'))
        for span, why in sorted(run.skipped_spans().items()):
            parts.append(para(f'Span {span} left out of the window: '
                              f'<span data-key="skipped:{span}">{esc(why)}</span> '
                              f"(--accept-span {span} lets it train).", "bad"))
    drift = run.drift()
    ledger = span_ledger.read(config.span_ledger_dir)  # {} for TFDS runs: nothing recorded.
    if drift is not None or ledger:
        parts.append("<h3>Drift check and span verdicts</h3>")
    if drift is not None:
        served = drift["served_version"]
        parts.append(para(f'This run: <span data-key="drift_verdict">{esc(drift["verdict"])}'
                          "</span>" + (f" against served version {served}" if served >= 0
                                       else "") + "."))
        if drift["test_shared_with_served"]:
            parts.append(para(f'{drift["test_shared_with_served"]} test reviews repeat reviews '
                              "the served model learned from (--test-overlap warn).", "bad"))
    if ledger:
        parts.append(table(["span", "version", "verdict", "breaches", "when"], [
            [cell(span), cell("" if version is None else version),
             cell(entry["verdict"], f"span_verdict:{span}"),
             cell("; ".join(entry.get("breaches", [])) or "–"), cell(entry["time"])]
            for (span, version), entry in sorted(ledger.items(),
                                                 key=lambda kv: (kv[0][0], kv[0][1] or 0))]))
    transformed = run.artifact(nodes.TRANSFORM, "transformed_examples")
    lengths = transformed and report_data.token_counts(transformed.uri, "train")
    if lengths is not None and len(lengths):
        transform = run.transform_settings()
        max_len, side = transform.max_len, transform.truncating
        long = int((lengths > max_len).sum())
        parts += ["<h3>Review length (train split)</h3>",
                  image(report_plots.length_histogram(lengths, max_len), "review lengths"),
                  para(f'<span data-key="truncated">{long}</span> of {len(lengths)} training '
                       f"reviews ({long / len(lengths):.1%}) are longer than --max-len "
                       f"{max_len} and lose tokens at the {'start' if side == 'pre' else 'end'}"
                       f"; median {int(sorted(lengths)[len(lengths) // 2])} tokens, "
                       f"longest {int(lengths.max())}.")]
    else:
        parts.append(para("Review lengths unavailable: no Transform output with a "
                          f"{preprocessing.LENGTH_FEATURE} feature in this run.", "note"))
    embedding = run.training_summary().get("embedding")
    if embedding:
        parts += ["<h3>GloVe coverage of the vocabulary</h3>",
                  table(["", ""], [[cell(k), cell(v, f"embedding:{k}")]
                                   for k, v in embedding.items()])]
    anomalies = run.anomalies()
    parts.append("<h3>Data anomalies (ExampleValidator)</h3>")
    if anomalies is None:
        parts.append(para("ExampleValidator did not run.", "note"))
    elif not anomalies:
        parts.append(para('<span class="good" data-key="anomalies">none</span> in any split.'))
    else:
        parts.append(table(["split", "feature", "anomaly"], [
            [cell(split), cell(feature), cell(text, "anomaly")]
            for split, issues in sorted(anomalies.items())
            for feature, text in sorted(issues.items())]))
    return section("data", "Data", parts)


def tuning_section(run: run_record.RunRecord) -> str:
    trials, tuning = run.trials(), run.tuning()
    decision = para('Tuner: <span data-key="tuning">'
                    f"{esc(report.tuning_text(tuning))}</span>.") if tuning else ""
    if not trials:
        return section("tuning", "Tuning", [decision or para(
            "No Tuner in this run (--tuning fixed).", "note")])
    names = [k for k in trials[0] if k not in ("trial_id", "score")]
    return section("tuning", "Tuning", [
        decision,
        para(f"{len(trials)} trials; score = {esc(run.tuner_objective())} (never test)."),
        table(["trial", "score", *names],
              [[cell(t["trial_id"]), cell(t["score"], f"trial:{t['trial_id']}"),
                *[cell(t.get(n)) for n in names]] for t in trials]),
        image(report_plots.via_file(lambda path: report_plots.plot_trials(
            trials, path, run.tuner_objective())),
              "tuner trials")])


def training_section(run: run_record.RunRecord) -> str:
    summary = run.training_summary()
    if not summary:
        return section("training", "Training", [para("No training summary.", "note")])
    members = summary.get("members", [summary])
    rows = []
    for index, member in enumerate(members, 1):
        history = member.get("history", {})
        averaging = member.get("weight_averaging") or {}
        decision = ("not tried" if "eval_accuracy" not in averaging else
                    f"epochs {averaging['epochs']}: eval {averaging['eval_accuracy']:.4f} vs "
                    f"{averaging['trained_eval_accuracy']:.4f} trained → "
                    + ("averaged weights exported" if averaging["used"] else "kept trained"))
        rows.append([cell(index), cell(len(history.get("loss", []))),
                     cell(member.get("best_epoch", "?"), f"best_epoch:{index}"),
                     cell(max(history.get("val_accuracy", [float("nan")])),
                          f"best_eval:{index}"), cell(decision, f"averaging:{index}")])
    parts = [para(f"Hyperparameters ({esc(summary.get('hparams_source', 'config'))}): "
                  f"{esc(summary.get('hparams'))}"),
             table(["model", "epochs", "best epoch", "best eval accuracy",
                    "weight averaging"], rows)]
    if "continued_trial" in summary:
        parts.append(para('Started from: <span data-key="continued_trial">'
                          f"{esc(report.trial_text(summary['continued_trial']))}</span>"))
    if "warm_start" in summary:
        parts.append(para('Warm start: <span data-key="warm_start">'
                          f"{esc(report.warm_start_text(summary['warm_start']))}</span>"))
    if "ensemble_eval_accuracy" in summary:
        parts.append(para(f"Ensemble of {len(members)} (probabilities averaged): eval accuracy "
                          f'<span data-key="ensemble_eval">'
                          f"{summary['ensemble_eval_accuracy']:.4f}</span>."))
    if "distillation" in summary:
        parts.append(para('<span data-key="distillation">'
                          f"{esc(report.distillation_text(summary['distillation']))}</span>."))
    wide = summary.get("wide_and_deep")
    if wide:
        parts += ["<h3>Wide and deep</h3>", table(["part", "eval accuracy"], [
            [cell(name), cell(wide[key], f"wide:{key}")] for name, key in (
                ("deep (recurrent)", "deep_eval_accuracy"), ("wide (n-grams)",
                                                             "wide_eval_accuracy"),
                ("mix (exported)", "eval_accuracy"))]),
            para(f"wide part C={esc(wide.get('wide_c'))}, "
                 f"{esc(wide.get('ngram_vocabulary'))} n-grams", "note")]
    parts.append(image(_curves(run, members), "training curves"))
    return section("training", "Training", parts)


def _curves(run: run_record.RunRecord, members) -> bytes:
    """The Trainer's own training_curves.png, or drawn again from the summary's histories."""
    import tensorflow as tf

    model_run = run.artifact(nodes.TRAINER, "model_run")
    path = model_run and os.path.join(model_run.uri, "training_curves.png")
    if path and tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path, "rb") as handle:
            return handle.read()
    from trainer.plots import plot_history

    return report_plots.via_file(
        lambda out: plot_history([m["history"] for m in members], out))


def verdict_section(run: run_record.RunRecord) -> str:
    """What a reader came for, first: test accuracy, blessed or not and why, what was pushed,
    the served baseline it was judged against."""
    metrics = run.test_metrics()
    accuracy = metrics.get("binary_accuracy")
    baseline = run.baseline_metrics().get("binary_accuracy")
    blessed = run.blessed
    verdict = {True: '<span class="good" data-key="verdict_blessed">blessed</span>',
               False: '<span class="bad" data-key="verdict_blessed">not blessed</span>',
               None: '<span class="bad" data-key="verdict_blessed">not evaluated</span>'}[blessed]
    low, high = (metrics.get(gate_metrics.lower("binary_accuracy")),
                 metrics.get(gate_metrics.upper("binary_accuracy")))
    interval = (f' (95 % interval <span data-key="verdict_interval">{low:.4f} to {high:.4f}'
                "</span>)" if low is not None and high is not None else "")
    against = ""
    if baseline is not None:
        against = (f" against the served model's {baseline:.4f}: "
                   f'<span data-key="verdict_difference">'
                   f"{esc(report.difference_text(metrics))}</span>")
    elif blessed is not None:
        against = " (nothing served before: only the absolute bar applied)"
    lines = [para(
        f'Test accuracy <b data-key="verdict_accuracy">'
        f'{"?" if accuracy is None else f"{accuracy:.4f}"}</b>{interval} on '
        f'{int(metrics.get("example_count", 0)):,} test reviews; {verdict}{against}.'),
        para(f'<span data-key="verdict_rule">{esc(run.gate_rule())}</span>', "note")]
    lines += [para(esc(failure), "bad") for failure in run.blessing_failures()]
    lines.append(para(f'<span data-key="verdict_push">{esc(run.push_status())}</span>.'))
    return section("verdict", "Verdict", lines)


def build_html(run: run_record.RunRecord, config: PipelineConfig,
               max_reviews: int = DEFAULT_REVIEWS) -> str:
    body = [verdict_section(run), run_section(run), data_section(run, config),
            tuning_section(run), training_section(run),
            evaluation_section(run, config, max_reviews)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(config.pipeline_name)} run {esc(run.run_id)}</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<h1>{esc(config.pipeline_name)}: run {esc(run.run_id)}</h1>"
            f"<p class=\"note\">From ML Metadata {esc(run.metadata_path)}.</p>"
            + "".join(body) + "</body></html>\n")


def default_path(config: PipelineConfig, run: run_record.RunRecord) -> str:
    return os.path.join(config.output_dir, "reports", f"run-{run.run_id}.html")


def write_html_report(config: PipelineConfig, path: str = "",
                      run: Optional[run_record.RunRecord] = None,
                      max_reviews: int = DEFAULT_REVIEWS) -> str:
    """Writes the latest run's page (default: <output-dir>/reports/run-<id>.html); its path."""
    run = run or run_record.latest_run(config)
    path = path or default_path(config, run)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write(build_html(run, config, max_reviews))
    return path
