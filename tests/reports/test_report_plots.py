"""reports/report_plots.py: the Tuner's trials as a chart."""
import matplotlib.image

from reports import report_plots

TRIALS = [
    {"trial_id": "1", "score": 0.88, "units": 64, "cell": "gru", "num_layers": 1},
    {"trial_id": "0", "score": 0.84, "units": 32, "cell": "gru", "num_layers": 1},
    {"trial_id": "2", "score": 0.86, "units": 64, "cell": "lstm", "num_layers": 1},
]


def test_trial_labels_show_only_hyperparameters_that_vary():
    labels = report_plots._trial_labels(TRIALS)
    assert labels == ["#1 units=64 cell=gru", "#0 units=32 cell=gru", "#2 units=64 cell=lstm"]


def test_plot_trials_writes_a_png_that_grows_with_the_trials(tmp_path):
    few, many = tmp_path / "few.png", tmp_path / "many.png"
    report_plots.plot_trials(TRIALS[:1], str(few))
    report_plots.plot_trials(TRIALS * 4, str(many))
    few_height = matplotlib.image.imread(few).shape[0]
    many_height = matplotlib.image.imread(many).shape[0]
    assert few_height > 100 and many_height > few_height
