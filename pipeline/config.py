"""The one config object that drives the pipeline, its runners and the CLI.

Every field is a CLI flag (`--vocab-size 30000`); a config is validated when it is built (every
error at once), so a bad value costs a second, not a Transform run.
"""
import dataclasses
import os
from typing import Any, Dict, Tuple

from contract.errors import UserError
from contract.names import DEFAULT_MODEL_NAME, DEFAULT_TEXT_FEATURE, MAJORITY_CLASS_BAR
from trainer.hparams import CELLS, TUNER_ALGORITHMS, ModelHParams
from contract.settings import (FileInputSettings, PusherSettings, TrainerSettings,
                               TransformSettings, TunerSettings, setting)
from contract.data_profile import DRIFT_ACTIONS
from contract.review_files import FORMATS
from pipeline.presets import PRESETS
from pipeline.validation import APPROXIMATE_TOP_K_LIMIT, problems

DEFAULT_GLOVE_PATH = os.path.join("~", ".cache", "glove", "glove.6B.50d.txt")
PADDING_MODES = ("pre", "post")
TUNING_MODES = ("auto", "tune", "fixed")
# Where a run's outputs are and what the served model is called: all that commands reading a
# finished run (`report`, `serving-config`) take.
LOCATION_FIELDS = ("pipeline_name", "output_dir", "pipeline_root", "metadata_path",
                   "serving_dir", "models_config", "model_name")


# The absolute bar on IMDB: well below what the default model reaches (docs/results.md), well
# above what a broken one does.
IMDB_MIN_ACCURACY = 0.85
_HP = ModelHParams()  # The model's defaults live in ModelHParams; the flags below point at them.


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    # Where things go.
    pipeline_name: str = setting("imdb-sentiment-rnn", "TFX pipeline name (MLMD context).")
    output_dir: str = setting("pipeline_output", "Base folder for pipeline root, MLMD and "
                             "serving dir when those are not given.")
    pipeline_root: str = setting("", "TFX pipeline root (default: <output-dir>/root).")
    metadata_path: str = setting("", "SQLite ML Metadata file (default: "
                                "<output-dir>/metadata.sqlite).")
    serving_dir: str = setting("", "Pusher destination; each blessed model lands in "
                              "<serving-dir>/<version>/ (default: <output-dir>/serving_model).")
    enable_cache: bool = setting(True, "Reuse outputs of unchanged components.")
    # None by default: Beam's DirectRunner in-process (its defaults). Any option makes TFX stage
    # a tfx_ephemeral sdist per Beam component unless it names the workers' code
    # (pipeline/beam.py; docs/scale_out.md, "Beam on Flink, Spark or Dataflow").
    beam_pipeline_args: Tuple[str, ...] = setting(
        (), "Beam options for the data components (repeat the flag per option; none = "
        "DirectRunner in the component's process).")

    # Data.
    tfds_name: str = setting("imdb_reviews", "TFDS dataset name.")
    tfds_config: str = setting("plain_text", "TFDS builder config ('' for none).")
    tfds_version: str = setting("", "TFDS dataset version ('' = latest).")
    tfds_data_dir: str = setting("", "TFDS data dir (default: $TFDS_DATA_DIR, else "
                                "~/tensorflow_datasets).")
    text_feature: str = setting(DEFAULT_TEXT_FEATURE, "Name of the review text feature.")
    label_feature: str = setting("label", "Name of the 0/1 label feature.")
    eval_percent: int = setting(10, "Percent of the training reviews (TFDS 'train', or the "
                               "window's spans) hashed into the 'eval' split.")
    max_examples: int = setting(0, "Read at most this many examples per TFDS split (0 = all; "
                               "TFDS input only).")
    unlabeled_split: str = setting("", "TFDS split of unlabeled reviews (IMDB: 'unsupervised') "
                                  "to distil on: the model trained as node 'Teacher' labels "
                                  "them and a student trained on them plus train is the one "
                                  "evaluated and pushed ('' = off; ~3x the wall time on IMDB).")

    # Your own data (instead of TFDS): see docs/own_data.md.
    input_pattern: str = setting("", "Training reviews: CSV or TFRecord files (glob), with "
                                "{SPAN} (and {VERSION}) for data that arrives in spans, e.g. "
                                "'data/span-{SPAN}/*.csv'; '' = the TFDS dataset.")
    test_pattern: str = setting("", "Test reviews (glob) for the Evaluator, separate from the "
                               "training files; needed with --input-pattern.")
    input_format: str = setting("auto", "Input file format; 'auto' = by file name (.csv, "
                               ".tfrecord, .gz of either).", choices=FORMATS)
    label_values: Tuple[str, ...] = setting((), "Label names for 0 and 1, e.g. "
                                           "'negative,positive' (default: the labels are 0 "
                                           "and 1).", item_type=str)
    span: int = setting(0, "Span to ingest (0 = the newest that --input-pattern matches).")
    window: int = setting(1, "Train on the newest N spans up to --span (eval: the same "
                         "spans' hash split; test: --test-pattern).")
    drift_action: str = setting("block", "When the newest span's statistics drift from the "
                               "served model's training data: 'block' the run before "
                               "Transform, 'warn' and train, or 'off' (no check).",
                               choices=DRIFT_ACTIONS)
    # Drift thresholds: the smallest round values at least 1.5x the largest change between
    # undrifted spans of 500-8,000 IMDB reviews and of first-sentence reviews, each kind of
    # drift still caught (benchmarks/drift_thresholds.py; docs/results.md, "Drift thresholds").
    max_label_shift: float = setting(0.15, "Drift: largest change of the positive share.")
    max_length_change: float = setting(0.2, "Drift: largest relative change of the mean review "
                                      "length in tokens.")
    max_oov_increase: float = setting(0.02, "Drift: largest rise of the share of tokens outside "
                                     "the served model's vocabulary (the served model's own "
                                     "share measured on its eval reviews).")
    accept_span: Tuple[int, ...] = setting((), "Spans the drift check blocked that may train "
                                          "anyway (a blocked span otherwise stays out of "
                                          "every later window).", item_type=int)
    test_overlap: str = setting("block", "Test reviews that repeat a training review of the "
                               "window or of the served model's lineage (after lowercasing "
                               "and removing markup and extra whitespace): 'block' the run, or "
                               "'warn'.", choices=("block", "warn"))

    # Preprocessing (Transform).
    vocab_size: int = setting(20000, "Top-k words kept by the vocabulary.")
    num_oov_buckets: int = setting(1, "Hash buckets for out-of-vocabulary words.")
    max_len: int = setting(400, "Tokens per review after padding/truncation.")
    padding: str = setting("post", "Where padding goes: 'pre' (Keras default) or 'post' "
                          "(cuDNN-friendly with masking).", choices=PADDING_MODES)
    truncating: str = setting("pre", "Which end long reviews lose: 'pre' keeps the ending.",
                             choices=PADDING_MODES)
    ngram_vocab_size: int = setting(200000, "Wide part: the N most frequent word n-grams of the "
                                   "training reviews feed an NB-weighted linear model mixed "
                                   "with the recurrent one (0 = recurrent model only).")
    ngram_max: int = setting(3, "Longest n-gram of the wide part (1 = words only).")
    ngram_vocab_exact: bool = setting(False, "Count n-grams exactly (tft.vocabulary: ~4x slower "
                                     "Transform on IMDB) instead of TFT's approximate top-k "
                                     f"(at most {APPROXIMATE_TOP_K_LIMIT} n-grams).")
    wide_c_values: Tuple[float, ...] = setting((0.1, 0.3, 1.0), "L2 strengths (C) of the wide "
                                              "part tried on eval.", item_type=float)

    # Model and training (Trainer).
    cell: str = setting(_HP.cell, "Recurrent cell.", choices=CELLS)
    num_layers: int = setting(_HP.num_layers, "Stacked recurrent layers.")
    units: int = setting(_HP.units, "Units per recurrent layer (per direction).")
    dropout: float = setting(_HP.dropout, "Dropout after the recurrent stack and in the head.")
    spatial_dropout: float = setting(_HP.spatial_dropout, "Dropout of whole embedding channels.")
    bidirectional: bool = setting(_HP.bidirectional, "Bidirectional recurrent layers.")
    pooling: str = setting(_HP.pooling, "Sequence summary: 'last' state, or max+mean over time "
                          "of the last layer's outputs.", choices=("last", "max_mean"))
    dense_units: int = setting(_HP.dense_units, "Units of the ReLU layer in the head.")
    learning_rate: float = setting(_HP.learning_rate, "Adam learning rate.")
    glove_path: str = setting("", "GloVe vectors: .txt, .txt.gz, or a zip member "
                             "'glove.6B.zip:glove.6B.100d.txt' (env GLOVE_PATH; default "
                             f"{DEFAULT_GLOVE_PATH}; 'none' = random init).")
    glove_trainable: bool = setting(_HP.glove_trainable,
                                   "Fine-tune the GloVe embedding (else frozen).")
    # 3: the Trainer continues the Tuner's best trial, which has trained part of an epoch
    # already (benchmarks/tuner_budget.py: accuracy and wall time against 4 epochs untuned).
    epochs: int = setting(3, "Maximum epochs (early stopping on eval accuracy may stop sooner).")
    batch_size: int = setting(64, "Training batch size.")
    train_steps: int = setting(0, "Steps per epoch (0 = one pass over train).")
    early_stopping_patience: int = setting(2, "Epochs without eval-accuracy improvement before "
                                          "stopping (the best epoch's weights are kept).")
    reduce_lr_factor: float = setting(0.3, "Multiply the learning rate by this after an epoch "
                                     "without eval-accuracy gain (1 = never).")
    length_buckets: Tuple[int, ...] = setting(
        (60, 100, 140, 180, 230, 300), "Batch reviews of similar length (bucket boundaries in "
        "tokens) and cut each batch to its longest review; empty = fixed batches (needs "
        "--padding post).", item_type=int)
    warm_start: bool = setting(False, "Start training from the weights of the model TF Serving "
                              "serves now (embedding rows mapped by token); the first run, "
                              "or a served model of another shape, trains from scratch.")
    training_backup_dir: str = setting("", "Where the Trainer keeps its last finished epoch, so "
                                      "that a rerun of the same training (after a kill or a "
                                      "preempted node) resumes there (default: "
                                      "<pipeline-root>/training_backup; 'none' = off).")
    seed: int = setting(42, "Random seed of the Tuner and of the first trained model.")
    warmup_reviews: int = setting(8, "Eval-split reviews in the export's TF Serving warmup "
                                 "requests (one request per signature; 0 = no warmup file).")
    ensemble_size: int = setting(1, "Models trained (different seeds) and averaged into the "
                                "exported one; 1 = a single model.")
    average_from_epoch: int = setting(2, "Average the weights of every epoch from this one on "
                                     "(stochastic weight averaging) and export the average "
                                     "unless it does worse on eval (0 = off).")

    # Hyperparameter search (Tuner).
    tuning: str = setting("auto", "'auto': search with the Tuner when nothing is served or the "
                         "served model was chosen from another search space, else reuse its "
                         "hyperparameters (0 trials); 'tune': always search; 'fixed': no Tuner, "
                         "train the model flags as given. After a search the Trainer continues "
                         "the best trial.", choices=TUNING_MODES)
    tuner_algorithm: str = setting("random", "Keras Tuner search algorithm.",
                                  choices=TUNER_ALGORITHMS)
    # Short trials whose work is kept: the Trainer continues the best one, so a search costs
    # the other trials' steps (benchmarks/tuner_budget.py; docs/tuning.md).
    tuner_max_trials: int = setting(3, "Trials (random/bayesian).")
    tuner_epochs: int = setting(1, "Epochs per trial; a trial's score is its best eval "
                               "accuracy.")
    tuner_train_fraction: float = setting(0.2, "Fraction of train each trial epoch sees.")
    tune_units: Tuple[int, ...] = setting((32, 64), "Units to try (comma-separated).",
                                         item_type=int)
    tune_dropout: Tuple[float, ...] = setting((0.2, 0.4), "Dropout range low,high (step 0.1).",
                                             item_type=float)
    # GRU only by default: fewer weights than an LSTM of the same width, so faster trials.
    tune_cells: Tuple[str, ...] = setting(("gru",), "Cells to try (gru,lstm).", item_type=str)
    tune_num_layers: Tuple[int, ...] = setting((1,), "Stacked layers to try.", item_type=int)
    tune_bidirectional: Tuple[str, ...] = setting(("true",), "Bidirectional values to try "
                                                 "(true,false).", item_type=str)
    # Short trials rank learning rates by speed of convergence, not by final quality: one rate
    # by default (benchmarks/tuner_objectives.py measures what trials predict).
    tune_learning_rates: Tuple[float, ...] = setting((2e-3,), "Learning rates to try "
                                                    "(comma-separated).", item_type=float)

    # Evaluation gate (Evaluator).
    eval_label_slices: bool = setting(False, "Also compute the test metrics per true label in "
                                     "TFMA (per-class accuracy; ~25 % more Evaluator time on "
                                     "IMDB; the report's confusion matrix shows it anyway).")
    min_accuracy: float = setting(-1.0, "Test accuracy a model needs to be blessed; -1 = "
                                 f"{IMDB_MIN_ACCURACY} on IMDB, and with --input-pattern the "
                                 "test set's majority-class share plus one review (beat always "
                                 "answering the commoner label).")
    max_accuracy_drop: float = setting(0.005, "Non-inferiority margin against the version TF "
                                      "Serving serves now: blessed only if the lower end of "
                                      "the 95 % interval of test accuracy (candidate - served, "
                                      "paired bootstrap over the same reviews) is >= -margin "
                                      "(docs/results.md, \"The gate and its noise\").")
    max_slice_accuracy_drop: float = setting(0.02, "The same bar per slice of the test set "
                                            "(thirds by review length, each true label): "
                                            "the lower end of each slice's paired interval "
                                            ">= -margin (at least --max-accuracy-drop; "
                                            "1 = no slice bars).")
    min_slice_reviews: int = setting(1000, "Slices with fewer test reviews are reported, not "
                                    "gated.")
    gate_bootstrap_samples: int = setting(1000, "Bootstrap resamples of the test reviews for "
                                         "the Evaluator's intervals.")

    # Publishing (Pusher).
    keep_versions: int = setting(3, "Pushed versions kept in the serving dir (oldest removed "
                                "first; a version a `stable` or `canary` label points at is "
                                "never removed; 0 = keep all).")
    models_config: str = setting("", "TF Serving models.config whose version labels retention "
                                "protects (default: <output-dir>/serving_config/models.config, "
                                "written by `imdb-pipeline serving-config`).")
    model_name: str = setting(DEFAULT_MODEL_NAME, "Model name TF Serving serves the pushed "
                             "versions under.")

    # -- derived paths -------------------------------------------------------------------------
    @property
    def resolved_pipeline_root(self) -> str:
        return self.pipeline_root or os.path.join(self.output_dir, "root")

    @property
    def resolved_metadata_path(self) -> str:
        return self.metadata_path or os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def resolved_serving_dir(self) -> str:
        return self.serving_dir or os.path.join(self.output_dir, "serving_model")

    @property
    def resolved_models_config(self) -> str:
        return self.models_config or os.path.join(self.output_dir, "serving_config",
                                                  "models.config")

    @property
    def resolved_training_backup_dir(self) -> str:
        if self.training_backup_dir.lower() == "none":
            return ""
        return self.training_backup_dir or os.path.join(self.resolved_pipeline_root,
                                                        "training_backup")

    @property
    def resolved_tfds_data_dir(self) -> str:
        return os.path.expanduser(self.tfds_data_dir or os.environ.get("TFDS_DATA_DIR")
                                  or os.path.join("~", "tensorflow_datasets"))

    @property
    def glove_path_given(self) -> bool:
        """The user named a GloVe file (flag or GLOVE_PATH): a missing one is an error, not a
        reason to fetch the default."""
        return bool(self.glove_path or os.environ.get("GLOVE_PATH"))

    @property
    def resolved_glove_path(self) -> str:
        """'' means train the embedding from scratch."""
        path = self.glove_path or os.environ.get("GLOVE_PATH") or DEFAULT_GLOVE_PATH
        return "" if path.lower() == "none" else os.path.expanduser(path)

    @property
    def resolved_min_accuracy(self) -> float:
        """The Evaluator's absolute bar (MAJORITY_CLASS_BAR: resolved on the test set)."""
        if self.min_accuracy >= 0:
            return self.min_accuracy
        return MAJORITY_CLASS_BAR if self.input_pattern else IMDB_MIN_ACCURACY

    @property
    def span_ledger_dir(self) -> str:
        from components.span_ledger import ledger_dir

        return ledger_dir(self.resolved_pipeline_root)

    @property
    def tfds_full_name(self) -> str:
        name = self.tfds_name + (f"/{self.tfds_config}" if self.tfds_config else "")
        return name + (f":{self.tfds_version}" if self.tfds_version else "")

    def model_hparams(self) -> ModelHParams:
        names = {f.name for f in dataclasses.fields(ModelHParams)}
        return ModelHParams(**{n: getattr(self, n) for n in names})

    def transform_config(self) -> Dict[str, Any]:
        """What `preprocessing_fn` receives as custom_config."""
        return dataclasses.asdict(TransformSettings(
            text_feature=self.text_feature, label_feature=self.label_feature,
            vocab_size=self.vocab_size, num_oov_buckets=self.num_oov_buckets,
            max_len=self.max_len, padding=self.padding, truncating=self.truncating,
            ngram_max=self.ngram_max, ngram_vocab_size=self.ngram_vocab_size,
            ngram_vocab_exact=self.ngram_vocab_exact))

    def file_input_settings(self):
        """What FileExampleGen's executor reads (--input-pattern runs only)."""
        from components.file_example_gen import absolute

        return FileInputSettings(
            train_pattern=absolute(self.input_pattern), test_pattern=absolute(self.test_pattern),
            text_feature=self.text_feature, label_feature=self.label_feature,
            label_values=tuple(self.label_values), input_format=self.input_format,
            window=self.window, eval_percent=self.eval_percent,
            ledger_dir=absolute(self.span_ledger_dir),
            accepted_spans=tuple(self.accept_span), test_overlap=self.test_overlap)

    def search_space(self) -> Dict[str, Any]:
        return {"units": list(self.tune_units), "dropout": list(self.tune_dropout),
                "cell": list(self.tune_cells), "num_layers": list(self.tune_num_layers),
                "bidirectional": [v.lower() in ("true", "1", "yes")
                                  for v in self.tune_bidirectional],
                "learning_rate": list(self.tune_learning_rates)}

    def _data_settings(self) -> Dict[str, Any]:
        return dict(label_feature=self.label_feature, text_feature=self.text_feature,
                    glove_path=self.resolved_glove_path, num_oov_buckets=self.num_oov_buckets,
                    batch_size=self.batch_size, length_buckets=list(self.length_buckets),
                    seed=self.seed, hparams=self.model_hparams().to_dict())

    def tuner_config(self) -> Dict[str, Any]:
        """What `tuner_fn` receives as custom_config. Only what trials use: Trainer-only knobs
        (epochs, patience, ...) must not invalidate the Tuner's cache."""
        return dataclasses.asdict(TunerSettings(
            **self._data_settings(), algorithm=self.tuner_algorithm,
            max_trials=self.tuner_max_trials, epochs=self.tuner_epochs,
            train_fraction=self.tuner_train_fraction, search_space=self.search_space()))

    def trainer_config(self) -> Dict[str, Any]:
        """What `run_fn` receives as custom_config."""
        return dataclasses.asdict(TrainerSettings(
            **self._data_settings(), steps_per_epoch=self.train_steps, epochs=self.epochs,
            early_stopping_patience=self.early_stopping_patience,
            reduce_lr_factor=self.reduce_lr_factor, average_from_epoch=self.average_from_epoch,
            warm_start=self.warm_start, backup_dir=self.resolved_training_backup_dir,
            ensemble_size=self.ensemble_size, warmup_reviews=self.warmup_reviews,
            wide_c_values=list(self.wide_c_values)))

    def pusher_config(self) -> Dict[str, Any]:
        """What the Pusher's executor (components/pusher.py) receives as custom_config."""
        return dataclasses.asdict(PusherSettings(
            keep_versions=self.keep_versions, models_config=self.resolved_models_config,
            model_name=self.model_name))

    # -- validation: once, when a config is built (a replaced one is built anew) ---------------
    def __post_init__(self):
        self.validate()

    def validate(self) -> "PipelineConfig":
        errors = problems(self)
        if errors:
            raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errors))
        return self

    def replace(self, **changes) -> "PipelineConfig":
        return dataclasses.replace(self, **changes)


class ConfigError(UserError, ValueError):
    """A config value that would make the pipeline fail or misbehave later."""

    exit_code = 2


def make_config(preset: str = "full", **overrides) -> PipelineConfig:
    """Defaults, then the preset, then explicit overrides (validated as it is built)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    known = {f.name for f in dataclasses.fields(PipelineConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown config fields: {unknown}")
    values = {**PRESETS[preset], **overrides}
    for field in dataclasses.fields(PipelineConfig):
        if field.name in values and isinstance(field.default, tuple):
            values[field.name] = tuple(values[field.name])
    return PipelineConfig(**values)
