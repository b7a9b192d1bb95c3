"""The Evaluator's intervals and its non-inferiority bar (components/gate_metrics.py)."""
import numpy as np
import pytest

from components import gate_metrics
from components.gate_metrics import ACCURACY_DIFF, FLIP_RATE, NON_INFERIORITY, lower, upper

MARGIN = 0.005  # The default --max-accuracy-drop.


def two_models(n: int, accuracy: float, baseline_accuracy: float, agreement: float, seed: int):
    """Labels and the scores of two models with the given accuracies whose errors overlap:
    with probability `agreement` a review is answered by a shared draw, else by each model's
    own (so that churn and the paired spread are as between two seeds of one model)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(float)
    shared = rng.random(n)
    own_c, own_b = rng.random(n), rng.random(n)
    pick = rng.random(n) < agreement
    right_c = np.where(pick, shared, own_c) < accuracy
    right_b = np.where(pick, shared, own_b) < baseline_accuracy
    confidence = 0.5 + 0.49 * rng.random(n)

    def scores(right):
        said = np.where(right, labels, 1 - labels)
        return np.where(said > 0.5, confidence, 1 - confidence)

    return labels, scores(right_c), scores(right_b)


def blessed(result) -> bool:
    return result[NON_INFERIORITY] >= -MARGIN


def test_the_intervals_hold_the_estimates_and_match_sklearn():
    from sklearn import metrics

    labels, candidate, baseline = two_models(5000, 0.9, 0.9, 0.8, seed=0)
    result = gate_metrics.paired_intervals(labels, candidate, baseline, samples=400)
    predicted = candidate > 0.5
    accuracy = np.mean(predicted == labels)
    auc = metrics.roc_auc_score(labels, candidate)
    for name, value in (("binary_accuracy", accuracy), ("auc", auc),
                        ("precision", metrics.precision_score(labels, predicted)),
                        ("recall", metrics.recall_score(labels, predicted))):
        assert result[lower(name)] < value < result[upper(name)], name
        # A 95 % interval of a proportion near 0.9 on 5,000 reviews: about +-0.8 points.
        assert 0.004 < result[upper(name)] - result[lower(name)] < 0.04, name
    diff = accuracy - np.mean((baseline > 0.5) == labels)
    assert result[ACCURACY_DIFF] == pytest.approx(diff)
    assert result[lower(ACCURACY_DIFF)] < diff < result[upper(ACCURACY_DIFF)]
    assert result[FLIP_RATE] == pytest.approx(np.mean(predicted != (baseline > 0.5)))
    assert result == gate_metrics.paired_intervals(labels, candidate, baseline, samples=400)


def test_the_calibration_error_tells_a_calibrated_model_from_an_overconfident_one():
    rng = np.random.default_rng(3)
    probability = rng.random(20000)
    labels = (rng.random(20000) < probability).astype(float)
    calibrated = gate_metrics.paired_intervals(labels, probability, samples=200)
    overconfident = gate_metrics.paired_intervals(
        labels, np.where(probability > 0.5, 0.99, 0.01), samples=200)
    assert calibrated[gate_metrics.CALIBRATION_ERROR] < 0.02
    assert overconfident[gate_metrics.CALIBRATION_ERROR] > 0.2
    for result in (calibrated, overconfident):  # The interval holds its estimate.
        name = gate_metrics.CALIBRATION_ERROR
        assert 0.0 <= result[lower(name)] <= result[name] <= result[upper(name)]
    assert ACCURACY_DIFF not in calibrated  # No baseline, no paired statistics.


def test_a_retrained_equal_model_is_blessed_on_a_large_test_set():
    """The point rule (candidate >= served) was a coin toss against a copy of itself."""
    outcomes = [blessed(gate_metrics.paired_intervals(
        *two_models(25000, 0.92, 0.92, 0.85, seed), samples=300)) for seed in range(10)]
    assert all(outcomes)


@pytest.mark.parametrize("n", [1000, 25000])
def test_a_model_one_point_worse_is_refused(n):
    outcomes = [blessed(gate_metrics.paired_intervals(
        *two_models(n, 0.91, 0.92, 0.85, seed), samples=300)) for seed in range(10)]
    # On 1,000 reviews the interval is about +-1.3 points wide: the lower end of a 1-point
    # drop is far below the margin; on 25,000 it still is.
    assert not any(outcomes)


def test_on_a_small_test_set_an_equal_model_is_not_shown_to_be_no_worse():
    """What the rule says on 1,000 reviews: the data cannot show that an equal model is at
    most half a point worse, so the served model stays (an improvement must be visible)."""
    equal = [blessed(gate_metrics.paired_intervals(
        *two_models(1000, 0.92, 0.92, 0.85, seed), samples=300)) for seed in range(10)]
    better = [blessed(gate_metrics.paired_intervals(
        *two_models(1000, 0.95, 0.92, 0.85, seed), samples=300)) for seed in range(10)]
    assert sum(equal) < len(equal) / 2 and all(better)


def test_the_interval_covers_the_true_difference_about_95_percent_of_the_time():
    """Coverage of the paired percentile bootstrap: 200 test sets of 2,000 reviews drawn from
    one pair of models whose true accuracy difference is 1 point."""
    covered = 0
    for seed in range(200):
        result = gate_metrics.paired_intervals(
            *two_models(2000, 0.91, 0.90, 0.8, seed), samples=200, seed=seed)
        covered += result[lower(ACCURACY_DIFF)] <= 0.01 <= result[upper(ACCURACY_DIFF)]
    assert 0.90 <= covered / 200 <= 0.99


def test_the_combiner_reads_both_models_as_tfma_hands_them_over():
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.metrics import metric_types

    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(name="candidate"),
                                          tfma.ModelSpec(name="baseline", is_baseline=True)])
    (computation,) = gate_metrics.PairedIntervals(samples=200).computations(
        eval_config=config, model_names=["candidate", "baseline"])
    combiner = computation.combiner
    accumulator = combiner.create_accumulator()
    labels, candidate, baseline = two_models(400, 0.9, 0.8, 0.5, seed=1)
    for label, c, b in zip(labels, candidate, baseline):
        accumulator = combiner.add_input(accumulator, metric_types.StandardMetricInputs(
            labels=np.array([label]), example_weights=np.array([1.0]),
            predictions={"candidate": np.array([c]), "baseline": np.array([b])}))
    half = combiner.create_accumulator()
    merged = combiner.merge_accumulators([accumulator, half])
    output = {key.name: value for key, value in combiner.extract_output(merged).items()}
    assert all(key.model_name == "candidate" for key in computation.keys)
    expected = gate_metrics.paired_intervals(labels, candidate, baseline, samples=200)
    assert output == expected
    assert output[ACCURACY_DIFF] == pytest.approx(
        np.mean((candidate > 0.5) == labels) - np.mean((baseline > 0.5) == labels))


def test_without_a_baseline_only_the_candidates_intervals_are_computed():
    import tensorflow_model_analysis as tfma

    (computation,) = gate_metrics.PairedIntervals().computations(
        eval_config=tfma.EvalConfig(model_specs=[tfma.ModelSpec()]), model_names=[""])
    names = {key.name for key in computation.keys}
    assert lower("binary_accuracy") in names and NON_INFERIORITY not in names
    assert FLIP_RATE not in names


def _with_lengths(labels, candidate, baseline, seed):
    lengths = np.random.default_rng(seed).integers(5, 600, len(labels))
    return labels, candidate, baseline, lengths


def test_a_model_worse_on_long_reviews_only_is_caught_by_the_slice_bar():
    """Better on short reviews, 4 points worse on long ones: equal overall, so the overall bar
    passes; the long third's interval lies below the slice margin."""
    labels, candidate, baseline, lengths = _with_lengths(
        *two_models(30000, 0.92, 0.92, 0.85, seed=4), seed=4)
    long_third = lengths > np.quantile(lengths, 2 / 3)
    short_third = lengths <= np.quantile(lengths, 1 / 3)
    rng = np.random.default_rng(5)
    flip_long = long_third & ((candidate > 0.5) == labels) & (rng.random(len(labels)) < 0.05)
    flip_short = short_third & ((candidate > 0.5) != labels) & (rng.random(len(labels)) < 0.7)
    candidate = np.where(flip_long | flip_short, 1.0 - candidate, candidate)
    overall = gate_metrics.paired_intervals(labels, candidate, baseline, samples=300)
    slices = gate_metrics.slice_intervals(labels, candidate, baseline, lengths, 1000,
                                          samples=300)
    assert overall[NON_INFERIORITY] >= -MARGIN
    assert slices[gate_metrics.SLICE_NON_INFERIORITY] < -0.02
    assert slices[gate_metrics.SLICE_NON_INFERIORITY] == slices[
        gate_metrics.slice_name(lower(ACCURACY_DIFF), "length=long")]
    assert slices[gate_metrics.slice_name("reviews", "length=long")] == long_third.sum()


def test_equal_models_pass_every_slice_and_small_slices_are_not_gated():
    labels, candidate, baseline, lengths = _with_lengths(
        *two_models(30000, 0.92, 0.92, 0.85, seed=6), seed=6)
    slices = gate_metrics.slice_intervals(labels, candidate, baseline, lengths, 1000,
                                          samples=300)
    assert slices[gate_metrics.SLICE_NON_INFERIORITY] >= -0.02
    # 900 reviews: every slice is smaller than 1,000, so none is gated and the value is the
    # whole test set's lower end; each slice is still reported with its interval.
    small = gate_metrics.slice_intervals(labels[:900], candidate[:900], baseline[:900],
                                         lengths[:900], 1000, samples=200)
    whole = gate_metrics.paired_intervals(labels[:900], candidate[:900], baseline[:900],
                                          samples=200)
    assert small[gate_metrics.SLICE_NON_INFERIORITY] == whole[NON_INFERIORITY]
    assert small[lower(ACCURACY_DIFF) + "@label=1"] < whole[NON_INFERIORITY]
    assert gate_metrics.SLICE_NON_INFERIORITY not in gate_metrics.slice_intervals(
        labels, candidate, None, lengths, 1000, samples=200)  # Nothing served.


def test_the_slice_combiner_reads_each_reviews_length_from_its_text():
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.metrics import metric_types

    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(name="candidate"),
                                          tfma.ModelSpec(name="baseline", is_baseline=True)])
    (computation,) = gate_metrics.SliceIntervals(text_feature="review", samples=200,
                                                 min_reviews=10).computations(
        eval_config=config, model_names=["candidate", "baseline"])
    combiner = computation.combiner
    accumulator = combiner.create_accumulator()
    labels, candidate, baseline = two_models(300, 0.9, 0.8, 0.5, seed=2)
    lengths = np.arange(300) % 50 + 1
    for label, c, b, n in zip(labels, candidate, baseline, lengths):
        accumulator = combiner.add_input(accumulator, metric_types.StandardMetricInputs(
            labels=np.array([label]), example_weights=np.array([1.0]),
            predictions={"candidate": np.array([c]), "baseline": np.array([b])},
            features={"review": np.array([b" ".join([b"word"] * int(n))])}))
    output = {key.name: value for key, value in combiner.extract_output(accumulator).items()}
    assert output == gate_metrics.slice_intervals(labels, candidate, baseline, lengths, 10,
                                                  samples=200)
    assert output["max_tokens@length=long"] == 50
