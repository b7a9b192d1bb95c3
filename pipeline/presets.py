"""Named starting values for a PipelineConfig (`--preset`); flags given with them win."""
from typing import Any, Dict

# The tutorial pads with Keras' pad_sequences ('pre' padding and truncation). Here padding is
# masked, so its side changes no prediction; 'post' keeps the mask right-aligned, which a GPU
# needs to run the recurrent layers with cuDNN instead of the generic kernel.
_SEED_TUTORIAL = {
    "vocab_size": 10000, "max_len": 80, "padding": "post", "truncating": "pre", "cell": "lstm",
    "num_layers": 2, "units": 64, "dropout": 0.5, "spatial_dropout": 0.0,
    "bidirectional": False, "pooling": "last", "dense_units": 32, "learning_rate": 1e-3,
    # The tutorial trains 20 epochs without early stopping; its stacked GRU sits at chance for
    # several epochs before it learns, which a short patience mistakes for the end.
    "glove_trainable": False, "epochs": 20, "batch_size": 64, "early_stopping_patience": 20,
    "reduce_lr_factor": 1.0, "average_from_epoch": 0, "ensemble_size": 1, "ngram_vocab_size": 0,
    "min_accuracy": 0.5, "tuning": "fixed", "length_buckets": ()}

# Small presets; flags given on the command line override them.
PRESETS: Dict[str, Dict[str, Any]] = {
    "full": {},
    # A few hundred reviews end to end in about a minute: for trying changes, not for accuracy.
    "smoke": {"max_examples": 400, "vocab_size": 2000, "max_len": 64, "units": 16,
              "ngram_vocab_size": 2000, "tuner_max_trials": 2, "tune_units": (8, 16),
              "tuner_train_fraction": 1.0, "tuner_epochs": 1, "epochs": 1, "batch_size": 32,
              "min_accuracy": 0.0, "max_accuracy_drop": 1.0},
    # The seed tutorial: vocab 10k, max_len 80 (keeps the ending), frozen GloVe, 2 x LSTM(64).
    "seed": _SEED_TUTORIAL,
    # The default pipeline without the wide part: the recurrent model alone.
    "recurrent": {"ngram_vocab_size": 0},
    "seed-gru": {**_SEED_TUTORIAL, "cell": "gru"},
}
