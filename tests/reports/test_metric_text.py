"""reports/metric_text.py: metrics with intervals as the reports print them."""


def test_undefined_metrics_print_as_tfma_stores_them():
    """TFMA stores precision with no positive prediction as the string 'NaN'; a run on a
    small test set must still get its report (it stopped at the first format code)."""
    from reports import metric_text

    metrics = {"precision": "NaN", "recall": 0.5, "recall_lower_bound": 0.25,
               "recall_upper_bound": 0.75, "accuracy_diff": "NaN"}
    assert metric_text.interval_text(metrics, "precision") == "NaN"
    assert metric_text.interval_text(metrics, "recall") == "0.5000 (95 % interval 0.2500 to 0.7500)"
    assert metric_text.difference_text(metrics) == "candidate - served: ?"
