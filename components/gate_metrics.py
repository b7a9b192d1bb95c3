"""A TFMA metric that turns the Evaluator's gate into a statistical statement.

TFMA's thresholds compare point estimates, and its own confidence intervals are not what its
validator reads. `PairedIntervals` keeps, per slice, each test review's label and the scores of
the candidate and (when there is one) the served baseline, and computes from one Poisson
bootstrap over those reviews:

- a 95 % interval for each reported metric of the candidate (accuracy, AUC, precision, recall,
  expected calibration error);
- against the served model, on the same reviews and the same resamples: the accuracy
  difference candidate − served with its interval, and the churn (the share of reviews whose
  predicted label flips) with its interval.

The metric's own value (`accuracy_diff_lower_bound`, the interval's lower end) is what the
non-inferiority bar thresholds: blessed when it is ≥ −`--max-accuracy-drop`, i.e. when the test
set shows, at 97.5 % one-sided confidence, that the candidate is at most that much worse.

`SliceIntervals` does the same per slice (thirds of the test set by review length, and each
true label; it reads the review text for its length): its value, the lowest lower end among
slices of at least `--min-slice-reviews` reviews, is what the slice bar thresholds
(≥ −`--max-slice-accuracy-drop`).

TFMA imports this module by name (the MetricConfig's `module`), so it depends on numpy, Beam and
TFMA only.
"""
from typing import Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.utils import model_util

NON_INFERIORITY = "accuracy_diff_lower_bound"
SLICE_NON_INFERIORITY = "worst_slice_accuracy_diff_lower_bound"
ACCURACY_DIFF = "accuracy_diff"
FLIP_RATE = "flip_rate"
CALIBRATION_ERROR = "expected_calibration_error"
# Metrics reported with an interval (TFMA computes the point estimates of the first four).
INTERVAL_METRICS = ("binary_accuracy", "auc", "precision", "recall", CALIBRATION_ERROR,
                    ACCURACY_DIFF, FLIP_RATE)
THRESHOLD = 0.5  # As TFMA's BinaryAccuracy, Precision and Recall.
CALIBRATION_BINS = 10
_CHUNK = 100  # Resamples drawn at a time (memory: _CHUNK x reviews weights).


def lower(name: str) -> str:
    return f"{name}_lower_bound"


def upper(name: str) -> str:
    return f"{name}_upper_bound"


def _auc(weights: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC per row of `weights` (ties count one half)."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    positive = labels[order] > 0.5
    w = weights[:, order]
    pos = np.add.reduceat(w * positive, starts, axis=1)
    neg = np.add.reduceat(w * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / total


def _statistics(weights: np.ndarray, labels: np.ndarray, candidate: np.ndarray,
                baseline: Optional[np.ndarray]) -> Dict[str, np.ndarray]:
    """Each statistic once per row of `weights` (a row of ones: the plain estimate)."""
    predicted = candidate > THRESHOLD
    truth = labels > 0.5
    correct = predicted == truth
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hits = weights @ (predicted & truth)
        bins = np.minimum((candidate * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
        onehot = np.eye(CALIBRATION_BINS)[bins]
        gap = np.abs(weights @ (onehot * labels[:, None]) - weights @ (onehot * candidate[:, None]))
        stats = {"binary_accuracy": weights @ correct / total,
                 "auc": _auc(weights, candidate, labels),
                 "precision": hits / (weights @ predicted),
                 "recall": hits / (weights @ truth),
                 CALIBRATION_ERROR: gap.sum(axis=1) / total}
        if baseline is not None:
            base_predicted = baseline > THRESHOLD
            stats[ACCURACY_DIFF] = weights @ (
                correct.astype(float) - (base_predicted == truth)) / total
            stats[FLIP_RATE] = weights @ (predicted != base_predicted) / total
    return stats


def paired_intervals(labels: Iterable[float], candidate: Iterable[float],
                     baseline: Optional[Iterable[float]] = None, samples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> Dict[str, float]:
    """Point estimates and `confidence` percentile intervals from `samples` Poisson bootstrap
    resamples of the reviews, the same resamples for every statistic (so the difference with
    the baseline is paired). Deterministic for a given seed."""
    labels = np.asarray(labels, dtype=float)
    candidate = np.asarray(candidate, dtype=float)
    baseline = None if baseline is None else np.asarray(baseline, dtype=float)
    if not len(labels):
        return {}
    point = {name: float(value[0]) for name, value in _statistics(
        np.ones((1, len(labels))), labels, candidate, baseline).items()}
    rng = np.random.default_rng(seed)
    draws: Dict[str, List[np.ndarray]] = {name: [] for name in point}
    for start in range(0, samples, _CHUNK):
        weights = rng.poisson(1.0, (min(_CHUNK, samples - start), len(labels))).astype(float)
        for name, values in _statistics(weights, labels, candidate, baseline).items():
            draws[name].append(values)
    tail = (1.0 - confidence) / 2.0
    result = dict(point)
    for name, values in draws.items():
        values = np.concatenate(values)
        values = values[np.isfinite(values)]
        if len(values):
            low, high = (float(v) for v in np.quantile(values, [tail, 1.0 - tail]))
            if name == CALIBRATION_ERROR:
                # A sum of absolute gaps is biased upward in every resample, so its percentile
                # interval can lie wholly above the estimate: shift it by the resamples'
                # median bias (the shifted median is the estimate itself).
                bias = float(np.median(values)) - point[name]
                low, high = max(0.0, low - bias), max(0.0, high - bias)
            result[lower(name)], result[upper(name)] = low, high
    # TFMA computes these point estimates itself; report only what it does not.
    for name in ("binary_accuracy", "auc", "precision", "recall"):
        result.pop(name)
    return result


def slice_masks(labels: np.ndarray, lengths: np.ndarray) -> Dict[str, np.ndarray]:
    """The slices the gate judges: thirds of the test set by review length (whitespace
    tokens: short / middle / long) and the true label."""
    short_edge, long_edge = np.quantile(lengths, [1 / 3, 2 / 3])
    return {"length=short": lengths <= short_edge,
            "length=middle": (lengths > short_edge) & (lengths <= long_edge),
            "length=long": lengths > long_edge,
            "label=0": labels < 0.5, "label=1": labels >= 0.5}


def slice_name(statistic: str, where: str) -> str:
    return f"{statistic}@{where}"


def slice_intervals(labels: Iterable[float], candidate: Iterable[float],
                    baseline: Optional[Iterable[float]], lengths: Iterable[int],
                    min_reviews: int, samples: int = 1000, confidence: float = 0.95,
                    seed: int = 0) -> Dict[str, float]:
    """Per slice: its size, the candidate's accuracy with its interval and, with a baseline,
    candidate - served with its paired interval; and SLICE_NON_INFERIORITY, the lowest lower
    end over the whole test set and every slice of at least `min_reviews` reviews (what the
    slice bar thresholds; TFMA fails a threshold whose metric is missing, so with a baseline
    there is always a value)."""
    labels, candidate = np.asarray(labels, dtype=float), np.asarray(candidate, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    baseline = None if baseline is None else np.asarray(baseline, dtype=float)
    if not len(labels):
        return {}
    result: Dict[str, float] = {}
    worst = np.inf
    if baseline is not None:  # The whole test set is always gated, so a value always exists.
        worst = paired_intervals(labels, candidate, baseline, samples, confidence,
                                 seed)[lower(ACCURACY_DIFF)]
    for where, mask in slice_masks(labels, lengths).items():
        count = int(mask.sum())
        result[slice_name("reviews", where)] = float(count)
        if count == 0:
            continue
        result[slice_name("max_tokens", where)] = float(lengths[mask].max())
        result[slice_name("binary_accuracy", where)] = float(np.mean(
            (candidate[mask] > THRESHOLD) == (labels[mask] > 0.5)))
        stats = paired_intervals(labels[mask], candidate[mask],
                                 None if baseline is None else baseline[mask],
                                 samples, confidence, seed)
        for name in (lower("binary_accuracy"), upper("binary_accuracy"), ACCURACY_DIFF,
                     lower(ACCURACY_DIFF), upper(ACCURACY_DIFF)):
            if name in stats:
                result[slice_name(name, where)] = stats[name]
        if lower(ACCURACY_DIFF) in stats and count >= min_reviews:
            worst = min(worst, stats[lower(ACCURACY_DIFF)])
    if np.isfinite(worst):
        result[SLICE_NON_INFERIORITY] = float(worst)
    return result


class _Accumulator:
    __slots__ = ("labels", "candidate", "baseline", "lengths")

    def __init__(self):
        self.labels: List[float] = []
        self.candidate: List[float] = []
        self.baseline: List[float] = []
        self.lengths: List[int] = []


class _PairedCombiner(beam.CombineFn):
    """Collects label, candidate and baseline score (and with `text_feature`, the review's
    length) per review; `summarize` turns them into metric values by name."""

    def __init__(self, keys: Dict[str, metric_types.MetricKey], eval_config, model_name: str,
                 baseline_name: Optional[str], output_name: str, samples: int,
                 confidence: float, seed: int, text_feature: str = "", min_reviews: int = 0):
        self._keys = keys
        self._text_feature, self._min_reviews = text_feature, min_reviews
        self._eval_config = eval_config
        self._model_name = model_name
        self._baseline_name = baseline_name
        self._output_name = output_name
        self._samples, self._confidence, self._seed = samples, confidence, seed

    def create_accumulator(self) -> _Accumulator:
        return _Accumulator()

    def _scores(self, element, model_name: str):
        return list(metric_util.to_label_prediction_example_weight(
            inputs=element, eval_config=self._eval_config, model_name=model_name,
            output_name=self._output_name, flatten=True, allow_none=True))

    def add_input(self, accumulator: _Accumulator, element) -> _Accumulator:
        candidate = self._scores(element, self._model_name)
        for label, prediction, _ in candidate:
            accumulator.labels.append(float(np.ravel(label)[0]))
            accumulator.candidate.append(float(np.ravel(prediction)[0]))
        if self._baseline_name is not None:
            accumulator.baseline.extend(float(np.ravel(prediction)[0]) for _, prediction, _
                                        in self._scores(element, self._baseline_name))
        if self._text_feature:
            text = np.ravel(element.features[self._text_feature])
            accumulator.lengths.append(len(text[0].split()) if len(text) else 0)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for other in accumulators:
            result.labels.extend(other.labels)
            result.candidate.extend(other.candidate)
            result.baseline.extend(other.baseline)
            result.lengths.extend(other.lengths)
        return result

    def extract_output(self, accumulator: _Accumulator) -> Dict[metric_types.MetricKey, float]:
        baseline = accumulator.baseline if self._baseline_name is not None else None
        if self._text_feature:
            values = slice_intervals(accumulator.labels, accumulator.candidate, baseline,
                                     accumulator.lengths, self._min_reviews, self._samples,
                                     self._confidence, self._seed)
        else:
            values = paired_intervals(accumulator.labels, accumulator.candidate, baseline,
                                      self._samples, self._confidence, self._seed)
        return {key: values[name] for name, key in self._keys.items() if name in values}


def _baseline_name(eval_config) -> Optional[str]:
    spec = model_util.get_baseline_model_spec(eval_config) if eval_config else None
    return spec.name if spec else None


def _per_candidate(names: List[str], eval_config, baseline_name: Optional[str],
                   model_names: Iterable[str], output_names: Iterable[str],
                   example_weighted: bool, preprocessors=None, **combiner_args
                   ) -> metric_types.MetricComputations:
    """One computation per candidate model and output, producing the metrics `names`."""
    computations = []
    for model_name in model_names or ("",):
        if model_name == baseline_name:
            continue
        for output_name in output_names or ("",):
            keys = {n: metric_types.MetricKey(name=n, model_name=model_name,
                                              output_name=output_name,
                                              example_weighted=example_weighted)
                    for n in names}
            computations.append(metric_types.MetricComputation(
                keys=list(keys.values()), preprocessors=preprocessors,
                combiner=_PairedCombiner(keys, eval_config, model_name, baseline_name,
                                         output_name, **combiner_args)))
    return computations


def _computations(name: str = NON_INFERIORITY, samples: int = 1000, confidence: float = 0.95,
                  seed: int = 0, eval_config=None, model_names: Iterable[str] = ("",),
                  output_names: Iterable[str] = ("",), example_weighted: bool = False
                  ) -> metric_types.MetricComputations:
    baseline_name = _baseline_name(eval_config)
    paired = (ACCURACY_DIFF, FLIP_RATE)
    reported = [n for n in INTERVAL_METRICS if baseline_name is not None or n not in paired]
    # lower(ACCURACY_DIFF) == NON_INFERIORITY: the metric's own name, which the bar thresholds.
    names = [CALIBRATION_ERROR] + [lower(n) for n in reported] + [upper(n) for n in reported]
    if baseline_name is not None:
        names += list(paired)
    return _per_candidate(names, eval_config, baseline_name, model_names, output_names,
                          example_weighted, samples=samples, confidence=confidence, seed=seed)


def _slice_computations(name: str = "", text_feature: str = "", min_reviews: int = 1000,
                        samples: int = 1000, confidence: float = 0.95, seed: int = 0,
                        eval_config=None, model_names: Iterable[str] = ("",),
                        output_names: Iterable[str] = ("",), example_weighted: bool = False
                        ) -> metric_types.MetricComputations:
    baseline_name = _baseline_name(eval_config)
    statistics = ["reviews", "max_tokens", "binary_accuracy", lower("binary_accuracy"),
                  upper("binary_accuracy")]
    if baseline_name is not None:
        statistics += [ACCURACY_DIFF, lower(ACCURACY_DIFF), upper(ACCURACY_DIFF)]
    wheres = list(slice_masks(np.zeros(1), np.zeros(1)))
    names = [slice_name(s, w) for s in statistics for w in wheres]
    if baseline_name is not None:
        names.append(SLICE_NON_INFERIORITY)
    return _per_candidate(
        names, eval_config, baseline_name, model_names, output_names, example_weighted,
        preprocessors=[metric_types.FeaturePreprocessor(feature_keys=[text_feature])],
        samples=samples, confidence=confidence, seed=seed, text_feature=text_feature,
        min_reviews=min_reviews)


class SliceIntervals(metric_types.Metric):
    """Accuracy and candidate - served per slice (review length thirds, true label), each with
    its paired interval; its value is the lowest lower end over the whole test set and the
    slices of at least `min_reviews` reviews, which the slice bar thresholds."""

    def __init__(self, name: str = SLICE_NON_INFERIORITY, text_feature: str = "text",
                 min_reviews: int = 1000, samples: int = 1000, confidence: float = 0.95,
                 seed: int = 0, code_fingerprint: str = ""):
        del code_fingerprint  # As for PairedIntervals: only for the Evaluator's cache key.
        super().__init__(_slice_computations, name=name, text_feature=text_feature,
                         min_reviews=min_reviews, samples=samples, confidence=confidence,
                         seed=seed)


class PairedIntervals(metric_types.Metric):
    """Intervals for the candidate's metrics and, against the served baseline, the paired
    accuracy difference and churn; its value is the difference's lower bound."""

    def __init__(self, name: str = NON_INFERIORITY, samples: int = 1000,
                 confidence: float = 0.95, seed: int = 0, code_fingerprint: str = ""):
        # code_fingerprint: this module's hash, in the EvalConfig only so that a change of
        # this code reruns the Evaluator instead of reusing a cached evaluation.
        del code_fingerprint
        super().__init__(_computations, name=name, samples=samples, confidence=confidence,
                         seed=seed)
