"""The HTML run report: its numbers against ML Metadata, self-containedness, and a real
headless-Chromium load of the tiny run's page (skipped, with the reason, without chromium)."""
import base64
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from reports import html_report, report_browser, report_data
from reports.html import esc
from tests.support import browser
from tests.tiny_data import tiny_label
from trainer import preprocessing

SECTIONS = ("run", "data", "tuning", "training", "evaluation")
needs_chromium = pytest.mark.skipif(
    report_browser.chromium_binary() is None,
    reason="no chromium on PATH and it could not be installed (make chromium)")


def keyed(page: str, key: str) -> str:
    """The text of the element carrying data-key=KEY."""
    found = re.findall(r'data-key="%s">([^<]*)<' % re.escape(key), page)
    assert len(found) == 1, (key, found)
    return found[0]


@pytest.fixture(scope="module")
def page_path(first_run, pipeline_config, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("html") / "report.html")
    return html_report.write_html_report(pipeline_config, path, run=first_run, max_reviews=0)


@pytest.fixture(scope="module")
def page(page_path):
    with open(page_path, encoding="utf-8") as handle:
        return handle.read()


# Offline units: the per-review numbers on hand-made predictions.

def predictions(labels, probabilities, lengths):
    return report_data.Predictions(np.array(labels), np.array(probabilities),
                                   np.array(lengths), len(labels))


def test_confusion_matrix_counts_each_cell_at_the_half_threshold():
    scored = predictions([0, 0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9, 0.2], [1] * 5)
    # 0.5 is not > 0.5: negative, as TFMA's BinaryAccuracy counts it.
    assert report_data.confusion_matrix(scored).tolist() == [[2, 1], [1, 1]]


def test_calibration_bins_hold_the_share_of_positives():
    scored = predictions([0, 1, 1, 1, 0], [0.05, 0.08, 0.91, 0.99, 0.95], [1] * 5)
    bins = report_data.calibration(scored, bins=10)
    assert [(b.low, b.count) for b in bins] == [(0.0, 2), (0.9, 3)]
    assert bins[0].positive_rate == 0.5 and bins[1].positive_rate == pytest.approx(2 / 3)
    assert bins[1].mean_probability == pytest.approx((0.91 + 0.99 + 0.95) / 3)


def test_accuracy_by_length_splits_into_quantiles_that_cover_every_review():
    lengths = list(range(1, 101))
    labels = [1] * 100
    probabilities = [0.9 if n >= 50 else 0.1 for n in lengths]  # Long ones right only.
    buckets = report_data.accuracy_by_length(predictions(labels, probabilities, lengths), 4)
    assert sum(b.count for b in buckets) == 100 and len(buckets) == 4
    assert [b.accuracy for b in buckets] == [0.0, 0.0, 1.0, 1.0]
    same = report_data.accuracy_by_length(predictions([1, 0], [0.9, 0.9], [7, 7]))
    assert [(b.count, b.accuracy) for b in same] == [(2, 0.5)]


def test_cells_escape_html_and_images_are_data_uris():
    assert html_report.cell("<b>&", "k") == '<td data-key="k">&lt;b&gt;&amp;</td>'
    assert html_report.image(b"\x89PNG", 'a"b').startswith(
        '<img alt="a&quot;b" src="data:image/png;base64,iVBORw==')


# The tiny run's page, against ML Metadata and the artifacts.

def test_page_has_every_section_and_loads_nothing_from_outside(page):
    for name in SECTIONS:
        assert f'<section id="{name}">' in page
    assert not re.search(r"https?://", page)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) >= 7  # timeline, lengths, trials, curves, confusion, calibration, buckets
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix):])[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_section_matches_ml_metadata(page, first_run):
    assert keyed(page, "run_id") == first_run.run_id
    fingerprint = json.loads(first_run.nodes["Trainer"].properties["custom_config"])[
        "code_fingerprint"]
    assert keyed(page, "code_fingerprint") == fingerprint and len(fingerprint) == 16
    for name, node in first_run.nodes.items():
        assert keyed(page, f"state:{name}") == node.state
        assert keyed(page, f"seconds:{name}") == f"{node.seconds:.1f}"
    assert keyed(page, "config:Transform:max_len") == "24"


def test_data_section_matches_example_gen_and_counts_truncation_independently(page, first_run):
    counts = json.loads(first_run.artifact("TfdsExampleGen", "examples")
                        .custom_properties["split_counts"].string_value)
    for split, count in counts.items():
        assert keyed(page, f"split:{split}") == str(count)
    # Recount from the raw train reviews with the tokenizer (not from Transform's feature).
    files = report_data.split_files(first_run.artifact("TfdsExampleGen", "examples").uri, "train")
    texts = [tf.train.Example.FromString(r.numpy()).features.feature["text"].bytes_list.value[0]
             for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    lengths = preprocessing.tokenize(tf.constant(texts)).row_lengths().numpy()
    assert len(lengths) == counts["train"]
    assert keyed(page, "truncated") == str(int((lengths > 24).sum()))
    embedding = first_run.training_summary()["embedding"]
    assert keyed(page, "embedding:found_in_glove") == str(embedding["found_in_glove"])
    assert keyed(page, "anomalies") == "none"


def test_tuning_and_training_sections_match_the_artifacts(page, first_run):
    for trial in first_run.trials():
        assert keyed(page, f"trial:{trial['trial_id']}") == f"{trial['score']:.4f}"
    summary = first_run.training_summary()
    members = summary.get("members", [summary])  # One model: its run is the summary itself.
    for index, member in enumerate(members, 1):
        assert keyed(page, f"best_epoch:{index}") == str(member["best_epoch"])
        averaging = member["weight_averaging"]
        decision = keyed(page, f"averaging:{index}")
        assert f"{averaging['eval_accuracy']:.4f}" in decision  # The tiny run averages.
        assert ("averaged weights exported" in decision) == averaging["used"]
    if len(members) > 1:
        assert keyed(page, "ensemble_eval") == f"{summary['ensemble_eval_accuracy']:.4f}"
    else:
        assert 'data-key="ensemble_eval"' not in page
    if "wide_and_deep" in summary:
        assert keyed(page, "wide:eval_accuracy") == \
            f"{summary['wide_and_deep']['eval_accuracy']:.4f}"


def test_the_verdict_comes_first_and_matches_the_evaluation(page, first_run):
    assert page.index('id="verdict"') < page.index('id="run"') < page.index('id="evaluation"')
    assert keyed(page, "verdict_accuracy") == f"{first_run.test_metrics()['binary_accuracy']:.4f}"
    assert keyed(page, "verdict_blessed") == ("blessed" if first_run.blessed else "not blessed")
    assert keyed(page, "verdict_push") == first_run.push_status()
    # The rule in one sentence, with the run's bar and margin; the accuracy's interval.
    assert keyed(page, "verdict_rule") == esc(first_run.gate_rule())
    low, high = (float(v) for v in keyed(page, "verdict_interval").split(" to "))
    assert low <= first_run.test_metrics()["binary_accuracy"] <= high
    assert low == pytest.approx(first_run.test_metrics()["binary_accuracy_lower_bound"],
                                abs=5e-5)


def test_evaluation_section_matches_tfma_and_the_push(page, first_run):
    metrics = first_run.test_metrics()
    assert keyed(page, "metric:example_count") == "80"
    assert keyed(page, "metric:binary_accuracy") == f"{metrics['binary_accuracy']:.4f}"
    assert keyed(page, "interval:auc") == (f"{metrics['auc_lower_bound']:.4f} – "
                                           f"{metrics['auc_upper_bound']:.4f}")
    calibration = float(keyed(page, "metric:expected_calibration_error"))
    assert calibration == pytest.approx(metrics["expected_calibration_error"], abs=5e-5)
    negatives = sum(tiny_label(i) == 0 for i in range(80))
    # The gate's slices: each true label, and thirds by length that cover every review.
    assert keyed(page, "slice_reviews:label=0") == str(negatives)
    assert sum(int(keyed(page, f"slice_reviews:length={third}"))
               for third in ("short", "middle", "long")) == 80
    assert "slice:label=0:example_count" not in page  # Label slices are opt-in.
    assert keyed(page, "blessed") == ("blessed" if first_run.blessed else "not blessed")
    assert keyed(page, "pushed_version") == os.path.basename(first_run.pushed_destination)
    assert keyed(page, "skew_reviews") == str(first_run.skew_check()["reviews_checked"])
    # The report's own scoring of all 80 test reviews agrees with TFMA's.
    assert keyed(page, "scored") == "80"
    assert keyed(page, "scored_accuracy") == f"{metrics['binary_accuracy']:.4f}"
    tn, fp, fn, tp = (int(keyed(page, k)) for k in ("tn", "fp", "fn", "tp"))
    assert tn + fp == negatives and fn + tp == 80 - negatives
    assert (tn + tp) / 80 == pytest.approx(metrics["binary_accuracy"], abs=1e-6)


# In a real browser.

PROBE = """<script>window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const shown = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.title = "probe:" + shown + "/" + images.length; });</script>"""


def load_in_chromium(html: str, folder) -> tuple:
    """(images shown, images, console lines) of a headless load, with PROBE added to a copy."""
    path = os.path.join(str(folder), "probe.html")
    with open(path, "w", encoding="utf-8") as out:
        out.write(html.replace("</body>", PROBE + "</body>"))
    dom, console = browser.dump_dom(path)
    shown, total = re.search(r"<title>probe:(\d+)/(\d+)</title>", dom).groups()
    return int(shown), int(total), console


@needs_chromium
def test_the_browser_probe_sees_broken_images_and_script_errors(tmp_path):
    """The checks below can fail: a missing image and a script error are both caught."""
    shown, total, console = load_in_chromium(
        '<html><body><img src="missing.png"><script>throw new Error("boom")</script>'
        "</body></html>", tmp_path)
    assert (shown, total) == (0, 1)
    assert any("Uncaught" in line and "boom" in line for line in console)


@needs_chromium
def test_chromium_shows_every_image_without_console_errors(page, tmp_path):
    shown, total, console = load_in_chromium(page, tmp_path)
    assert total == page.count("<img ") and shown == total
    assert console == []


@needs_chromium
def test_cli_report_writes_the_page_and_its_screenshot(first_run, pipeline_config, tmp_path,
                                                       capsys):
    from PIL import Image

    from cli import main as cli

    html, png = tmp_path / "r.html", tmp_path / "r.png"
    assert cli.main(["report", "--output-dir", pipeline_config.output_dir,
                     "--html", str(html), "--screenshot", str(png),
                     "--report-reviews", "10"]) == 0
    out = capsys.readouterr().out
    assert f"HTML report:        {html}" in out and f"Screenshot:         {png}" in out
    text = html.read_text(encoding="utf-8")
    assert keyed(text, "scored") == "10" and "--report-reviews 10" in text
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.shape == (3000, 1200)
    assert pixels.std() > 10  # Text and charts, not a blank page.


# Logs: `make run > run.log` gets one line per epoch, not Keras' carriage-return bars.

def test_non_tty_training_log_has_epoch_lines_and_no_progress_bars(first_run, request):
    """Reads the output pytest captured (not a TTY) while the shared tiny run was set up."""
    logs = [content for item in request.session.items
            for when, key, content in getattr(item, "_report_sections", [])
            if when == "setup" and key in ("stdout", "stderr") and "Epoch 1/" in content]
    if not logs:
        pytest.skip("the tiny run's output was not captured (pytest -s?)")
    log = "".join(logs)
    assert re.search(r"^\d+/\d+ - \d+m?s - loss: ", log, re.M)  # Keras verbose=2 epoch lines.
    assert not re.search(r"\r *\d+/\d+ \[", log)  # verbose=1's "\r 3/7 [===>....]" bars.


def test_a_run_that_stopped_early_still_gets_a_page_saying_what_is_missing(tmp_path):
    from reports import run_record
    from pipeline.config import make_config

    failed = run_record.NodeRun("ExampleValidator", "FAILED", 2.0, {}, 100.0, 102.0)
    run = run_record.RunRecord("r1", {"ExampleValidator": failed}, "m.sqlite")
    page = html_report.build_html(run, make_config("smoke", output_dir=str(tmp_path)))
    assert keyed(page, "state:ExampleValidator") == "FAILED"
    assert "No split counts" in page and "No Tuner in this run" in page
    assert "The Evaluator did not run." in page and "No blessing" in page
