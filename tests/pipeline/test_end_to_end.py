"""One real pipeline run on tiny data, shared by every test here (about 2-3 minutes).

The second run trains a genuinely worse candidate on the same data: the data components must
come from the cache, the Evaluator must refuse it against the served baseline, and nothing new
may be pushed. The third has new data (another vocabulary) and reuses the served model's
tuned hyperparameters without a search.
"""
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from components.gate_metrics import NON_INFERIORITY, SLICE_NON_INFERIORITY
from pipeline import local_runner
from reports import run_record
from contract.signatures import RAW_TEXT_SIGNATURE

NODES = {"TfdsExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator",
         "AnomaliesGate", "Transform", "Tuner", "Trainer", "ServingBaseline", "Evaluator",
         "Pusher"}
DATA_NODES = {"TfdsExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator",
              "AnomaliesGate", "Transform"}


@pytest.fixture(scope="session")
def second_run(first_run, pipeline_config):
    """A candidate that learned next to nothing (one step at lr 1e-5; the wide part held at
    ~0 by C = 1e-6) against the served first model, with the same data settings so everything
    up to Transform comes from the cache. The absolute bar is 0: only the no-regression gate
    against the baseline can refuse it."""
    worse = pipeline_config.replace(tuning="fixed", train_steps=1, epochs=1, learning_rate=1e-5,
                                    wide_c_values=(1e-6,), average_from_epoch=0,
                                    ensemble_size=1, min_accuracy=0.0, max_accuracy_drop=0.0)
    local_runner.run(worse)
    return run_record.latest_run(worse)


@pytest.fixture(scope="session")
def reuse_run(second_run, pipeline_config):
    """New data for the Tuner (another Transform output, as a new span brings), the same search
    space as the served first model: 'auto' reuses its hyperparameters. The bar (1.0) keeps it
    from being pushed, so the last test's rerun still finds the first model served."""
    reuse = pipeline_config.replace(min_accuracy=1.0, vocab_size=400)
    local_runner.run(reuse)
    return run_record.latest_run(reuse)


def test_every_component_ran_and_is_in_mlmd(first_run):
    assert set(first_run.nodes) == NODES
    assert all(node.state == "COMPLETE" for node in first_run.nodes.values()), {
        n: r.state for n, r in first_run.nodes.items()}


def test_artifacts_exist(first_run):
    examples = first_run.artifact("TfdsExampleGen", "examples")
    for split in ("train", "eval", "test"):
        assert tf.io.gfile.glob(os.path.join(examples.uri, f"Split-{split}", "*.gz"))
    counts = json.loads(examples.custom_properties["split_counts"].string_value)
    assert counts["train"] + counts["eval"] == 240 and counts["test"] == 80
    schema = first_run.artifact("CuratedSchemaGen", "schema")
    assert os.path.exists(os.path.join(schema.uri, "schema.pbtxt"))
    transform_graph = first_run.artifact("Transform", "transform_graph")
    assert os.path.exists(os.path.join(transform_graph.uri, "transform_fn"))
    model_run = first_run.artifact("Trainer", "model_run")
    summary = json.load(open(os.path.join(model_run.uri, "training_summary.json")))
    assert summary["embedding"]["found_in_glove"] > 0
    assert 0 < summary["embedding"]["coverage"] <= 1
    assert len(summary["history"]["val_loss"]) >= 1
    assert os.path.getsize(os.path.join(model_run.uri, "training_curves.png")) > 1000


def test_evaluator_reports_test_metrics(first_run):
    metrics = first_run.test_metrics()
    assert metrics["example_count"] == 80  # The whole TFDS test split.
    for name in ("binary_accuracy", "auc", "precision", "recall"):
        assert name in metrics
    assert 0.0 <= metrics["binary_accuracy"] <= 1.0
    assert first_run.test_metrics(((("label", 0),))) == {}  # --eval-label-slices is off.
    assert first_run.blessed is True


def test_pushed_model_serves_raw_text_and_tf_examples(first_run, pipeline_config):
    destination = first_run.pushed_destination
    assert destination and os.path.dirname(destination) == pipeline_config.resolved_serving_dir
    assert os.path.basename(destination).isdigit()  # <serving_dir>/<version>/ for TF Serving.
    loaded = tf.saved_model.load(destination)
    texts = ["A great, wonderful film!", "awful and boring.<br />", "the"]
    probabilities = loaded.signatures[RAW_TEXT_SIGNATURE](text=tf.constant(texts))["probability"]
    assert probabilities.shape == (3, 1)
    assert np.all((probabilities.numpy() >= 0) & (probabilities.numpy() <= 1))
    serialized = [tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode()]))}))
        .SerializeToString() for t in texts]
    outputs = loaded.signatures["serving_default"](examples=tf.constant(serialized))["outputs"]
    np.testing.assert_allclose(outputs.numpy(), probabilities.numpy(), atol=1e-6)


def test_cli_report_and_predict_on_the_pushed_model(first_run, pipeline_config, capsys):
    """Runs before the second run (file order), so 'report' shows the first run."""
    from cli import main as cli

    assert cli.main(["report", "--output-dir",
                     pipeline_config.output_dir]) == 0
    out = capsys.readouterr().out
    assert "Tuner trials" in out and "Push:               pushed as version" in out
    assert "binary_accuracy=" in out
    assert "Training (model 2):" in out and "Ensemble of 2:" in out
    assert re.search(r"Skew check: +\d+ stored eval reviews: [01] look printed", out)
    assert os.path.getsize(os.path.join(pipeline_config.output_dir, "tuner_trials.png")) > 0
    assert cli.main(["predict", "--model-dir", pipeline_config.resolved_serving_dir,
                     "a wonderful film", "boring and awful"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        probability, label = line.split()[:2]
        assert 0.0 <= float(probability) <= 1.0 and label in ("positive", "negative")


def test_second_run_hits_the_cache_and_never_pushes_a_worse_model(second_run, first_run,
                                                                   pipeline_config):
    import tensorflow_model_analysis as tfma

    states = {name: node.state for name, node in second_run.nodes.items()}
    assert all(states[name] == "CACHED" for name in DATA_NODES), states
    assert states["Trainer"] == states["Evaluator"] == "COMPLETE"
    candidate = second_run.test_metrics()["binary_accuracy"]
    assert candidate < first_run.test_metrics()["binary_accuracy"]  # Genuinely worse.
    assert second_run.blessed is False and second_run.pushed_destination is None
    validation = tfma.load_validation_result(second_run.artifact("Evaluator", "evaluation").uri)
    failed = [failure.metric_key.name for per_slice in validation.metric_validations_per_slice
              for failure in per_slice.failures]
    # Refused by the comparison with the served baseline (the absolute bar is 0): the
    # paired interval of candidate - served lies below 0, and the report says so.
    assert NON_INFERIORITY in failed and set(failed) <= {NON_INFERIORITY, SLICE_NON_INFERIORITY}
    metrics = second_run.test_metrics()
    assert metrics["accuracy_diff_upper_bound"] < 0
    assert metrics["accuracy_diff"] == pytest.approx(
        candidate - first_run.test_metrics()["binary_accuracy"], abs=1e-6)
    assert "its lower end is below -0.0000 (--max-accuracy-drop)" in second_run.push_status()
    # Hidden entries (the Pusher's .push.lock) are no versions; TF Serving ignores them too.
    versions = [name for name in os.listdir(pipeline_config.resolved_serving_dir)
                if not name.startswith(".")]
    assert versions == [os.path.basename(first_run.pushed_destination)]


def test_tuner_records_trials_and_trainer_continues_the_best_trial(first_run,
                                                                    pushed_model_dir,
                                                                    pipeline_config):
    trials = first_run.trials()
    assert len(trials) == 2  # Both trials completed; a failed one would stop the run.
    assert all(0.0 <= t["score"] <= 1.0 and t["units"] in (4, 8) for t in trials)
    assert first_run.tuning()["trials"] == 2 and first_run.tuning()["seconds"] > 0
    best_file = tf.io.gfile.glob(os.path.join(
        first_run.artifact("Tuner", "best_hyperparameters").uri, "*"))
    best = json.load(open(best_file[0]))["values"]
    assert best["units"] == trials[0]["units"] and best["cell"] == trials[0]["cell"]
    trained = first_run.training_summary()
    assert trained["hparams_source"] == "tuner artifact"
    for name in ("units", "cell", "dropout", "num_layers", "bidirectional", "learning_rate"):
        assert trained["hparams"][name] == pytest.approx(best[name]), name
    # The Trainer started from the best trial's weights, which the Tuner handed on.
    continued = trained["continued_trial"]
    assert continued["used"] and continued["trial_id"] == trials[0]["trial_id"]
    assert continued["score"] == pytest.approx(trials[0]["score"])
    handed_on = os.path.join(first_run.artifact("Tuner", "model").uri, "Format-Serving",
                             "assets.extra", "warm_start_weights.h5")
    assert os.path.getsize(handed_on) > 1000
    # The export records what it was trained with and the space it was chosen from.
    record = json.load(open(os.path.join(pushed_model_dir, "assets.extra",
                                         "hyperparameters.json")))
    assert record["hyperparameters"] == trained["hparams"]
    assert record["tuner"]["search_space"] == pipeline_config.search_space()
    assert record["tuner"]["values"] == best


def test_trainer_exports_an_ensemble_of_weight_averaged_models(first_run):
    summary = first_run.training_summary()
    assert len(summary["members"]) == 2  # The smoke preset keeps the default ensemble size.
    assert 0.0 <= summary["ensemble_eval_accuracy"] <= 1.0
    for member in summary["members"]:
        averaging = member["weight_averaging"]
        assert averaging["epochs"] == [1, 2]
        assert averaging["used"] == (averaging["eval_accuracy"]
                                     >= averaging["trained_eval_accuracy"])


def test_new_data_reuses_the_served_hyperparameters_without_a_search(reuse_run, first_run,
                                                                       pipeline_config,
                                                                       capsys):
    from cli import main as cli

    assert reuse_run.nodes["Transform"].state == "COMPLETE"  # New data for the Tuner.
    assert reuse_run.nodes["Tuner"].state == "COMPLETE"
    assert reuse_run.tuning() == {"reused_from_version": int(first_run.pushed_version),
                                  "trials": 0, "seconds": 0.0}
    assert reuse_run.trials() == []
    searched = ("units", "cell", "dropout", "num_layers", "bidirectional", "learning_rate")
    first, now = first_run.training_summary(), reuse_run.training_summary()
    assert {n: now["hparams"][n] for n in searched} == {n: first["hparams"][n]
                                                        for n in searched}
    assert "continued_trial" not in now  # No trial to continue: trained from its start.
    # Its bar (--min-accuracy 1.0) is out of reach: not blessed, not pushed.
    assert reuse_run.blessed is False and reuse_run.pushed_destination is None
    assert cli.main(["report", "--output-dir",
                     pipeline_config.output_dir]) == 0
    assert (f"reused the hyperparameters of served version {first_run.pushed_version} "
            "(searched in the same space): 0 trials, 0 s of search") in capsys.readouterr().out


def test_the_tiny_model_learned_the_task(first_run, pushed_model_dir):
    """A model at chance would pass every check above; this one must not."""
    assert first_run.test_metrics()["binary_accuracy"] >= 0.75
    serve = tf.saved_model.load(pushed_model_dir).signatures[RAW_TEXT_SIGNATURE]
    positive, negative = serve(text=tf.constant([
        "a great and wonderful film, brilliant and moving, the best",
        "an awful, boring film, the worst, a dull waste"]))["probability"].numpy()[:, 0]
    assert positive > 0.5 > negative


def test_rerun_with_nothing_changed_is_a_cache_hit_and_pushes_nothing(reuse_run, first_run,
                                                                       pipeline_config):
    """`make run` twice: after the other runs (it needs `reuse_run`, so it runs last), the
    first run's settings again. Every node comes from the cache, the Evaluator included (its
    baseline skips the served copy of this very model), so nothing is pushed; the report still
    shows the cached run's trials and says why nothing is new."""
    from components.pusher import version_dirs

    before = version_dirs(pipeline_config.resolved_serving_dir)
    local_runner.run(pipeline_config)
    rerun = run_record.latest_run(pipeline_config)
    states = {name: node.state for name, node in rerun.nodes.items()}
    assert set(states.values()) == {"CACHED"}, states
    assert version_dirs(pipeline_config.resolved_serving_dir) == before
    assert rerun.push_status().startswith("nothing new: cached, pushed by an earlier run as "
                                          f"version {first_run.pushed_version}")
    assert rerun.trials() == first_run.trials() and rerun.trials()
    assert rerun.test_metrics() == first_run.test_metrics()


def test_cli_exits_without_tf_teardown_tracebacks(first_run, pipeline_config):
    """`predict` (like `run`, whose Evaluator caches SavedModels) used to end with "Exception
    ignored in: AtomicFunction.__del__" tracebacks printed during interpreter teardown."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-m", "cli.main", "predict", "--model-dir",
                           pipeline_config.resolved_serving_dir, "a wonderful film"], cwd=root,
                          text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.strip().splitlines()) == 1
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


def test_the_export_carries_what_the_next_run_checks_against(first_run, pushed_model_dir):
    """The profile's OOV share is measured on `eval` (reviews the vocabulary was not built
    from, as a new span's are not), and the hashes of every labelled review it learned from
    (train and eval, normalized) are in the export for the leakage check."""
    from contract import data_profile, review_hashes
    from tests.tiny_data import TinyImdb, tiny_text
    import random

    profile = data_profile.read_profile(pushed_model_dir)
    assert profile[data_profile.OOV_MEASURED_ON_KEY] == "eval"
    lineage = review_hashes.read(pushed_model_dir)
    rng = random.Random("train-seed")  # TinyImdb's train split, rebuilt as it was written.
    train = [tiny_text(rng, index) for index in range(TinyImdb.NUM_EXAMPLES["train"])]
    expected = review_hashes.hashes(t.encode() for t in train)
    assert len(lineage) == len(expected) and (lineage == expected).all()
    test = [tiny_text(random.Random("test-seed"), i) for i in range(3)]
    assert review_hashes.count_shared(review_hashes.hashes(t.encode() for t in test if t),
                                      lineage) == sum(1 for t in test if t and t in train)
