"""The rules a PipelineConfig is held to when it is built (pipeline/config.py calls them)."""
import dataclasses
from typing import List

from contract.names import model_name_problem
from trainer.hparams import CELLS

# tft.experimental.approximate_vocabulary refuses larger top_k values.
APPROXIMATE_TOP_K_LIMIT = 200000


def problems(config) -> List[str]:
    """Every reason `config` (a PipelineConfig) would fail or misbehave later, as the flag a user
    fixes; [] when it is sound."""
    errors: List[str] = []

    def check(ok: bool, message: str):
        if not ok:
            errors.append(message)

    for field in dataclasses.fields(config):  # The flags' choices, for configs built in code.
        choices = field.metadata.get("choices")
        value = getattr(config, field.name)
        check(not choices or value in choices, f"--{field.name.replace('_', '-')} must be "
              f"one of {tuple(choices or ())}, got {value!r}")

    check(bool(config.pipeline_name.strip()), "--pipeline-name must not be empty")
    check(bool(config.tfds_name.strip()), "--tfds-name must not be empty")
    if config.input_pattern:
        check(bool(config.test_pattern), "--input-pattern needs --test-pattern: the test "
              "reviews the Evaluator scores, kept apart from the training files")
        check(not config.unlabeled_split, "--unlabeled-split works with TFDS input only")
    else:
        check(not config.test_pattern and config.span == 0 and config.window == 1,
              "--test-pattern, --span and --window need --input-pattern")
    check(not (config.warm_start and config.unlabeled_split), "--warm-start does not work "
          "with --unlabeled-split (distillation trains its student from scratch)")
    check(config.span >= 0, f"--span must be >= 0, got {config.span}")
    check(min(config.max_label_shift, config.max_length_change, config.max_oov_increase) >= 0,
          "--max-label-shift, --max-length-change and --max-oov-increase must be >= 0")
    check(config.window >= 1, f"--window must be >= 1, got {config.window}")
    check(not config.label_values or (len(config.label_values) == 2
                                   and len(set(config.label_values)) == 2),
          f"--label-values must be two different names (for 0, then 1), got "
          f"{list(config.label_values)}")
    check(bool(config.text_feature) and bool(config.label_feature)
          and config.text_feature != config.label_feature,
          "--text-feature and --label-feature must be two different, non-empty names")
    check(0 < config.eval_percent < 100, f"--eval-percent must be in 1..99, got "
          f"{config.eval_percent}")
    check(config.max_examples >= 0, f"--max-examples must be >= 0, got {config.max_examples}")
    check(config.vocab_size >= 1, f"--vocab-size must be >= 1, got {config.vocab_size}")
    check(config.num_oov_buckets >= 1, f"--num-oov-buckets must be >= 1, got "
          f"{config.num_oov_buckets}")
    check(config.max_len >= 1, f"--max-len must be >= 1, got {config.max_len}")
    check(config.epochs >= 1, f"--epochs must be >= 1, got {config.epochs}")
    check(config.batch_size >= 1, f"--batch-size must be >= 1, got {config.batch_size}")
    check(config.train_steps >= 0, f"--train-steps must be >= 0, got {config.train_steps}")
    check(config.early_stopping_patience >= 0, "--early-stopping-patience must be >= 0")
    check(0.0 < config.reduce_lr_factor <= 1.0, f"--reduce-lr-factor must be in (0, 1], got "
          f"{config.reduce_lr_factor}")
    check(not config.length_buckets or config.padding == "post",
          "--length-buckets needs --padding post (batches are cut after each review's "
          "last token); pass --length-buckets '' to turn bucketing off")
    check(list(config.length_buckets) == sorted(set(config.length_buckets))
          and all(b >= 1 for b in config.length_buckets),
          f"--length-buckets must be increasing positive token counts, got "
          f"{config.length_buckets}")
    check(config.ngram_vocab_size >= 0, "--ngram-vocab-size must be >= 0")
    check(1 <= config.ngram_max <= 5, f"--ngram-max must be in 1..5, got {config.ngram_max}")
    check(config.ngram_vocab_exact or config.ngram_vocab_size <= APPROXIMATE_TOP_K_LIMIT,
          f"--ngram-vocab-size {config.ngram_vocab_size} is above the approximate "
          f"vocabulary's limit of {APPROXIMATE_TOP_K_LIMIT}; lower it or pass "
          "--ngram-vocab-exact true")
    check(bool(config.wide_c_values) and all(c > 0 for c in config.wide_c_values),
          "--wide-c-values must be positive")
    check(config.warmup_reviews >= 0, "--warmup-reviews must be >= 0")
    check(config.keep_versions >= 0, "--keep-versions must be >= 0")
    problem = model_name_problem(config.model_name)
    check(problem is None, f"--model-name: {problem}")
    check(config.ensemble_size >= 1, f"--ensemble-size must be >= 1, got "
          f"{config.ensemble_size}")
    check(config.average_from_epoch >= 0, f"--average-from-epoch must be >= 0, got "
          f"{config.average_from_epoch}")
    check(0.0 <= config.min_accuracy <= 1.0 or config.min_accuracy == -1.0,
          f"--min-accuracy must be in [0, 1] (or -1: the default bar), got "
          f"{config.min_accuracy}")
    check(not config.accept_span or bool(config.input_pattern),
          "--accept-span needs --input-pattern")
    check(0.0 <= config.max_accuracy_drop <= 1.0, f"--max-accuracy-drop must be in [0, 1], "
          f"got {config.max_accuracy_drop}")
    check(config.gate_bootstrap_samples >= 100, "--gate-bootstrap-samples must be >= 100")
    check(0.0 <= config.max_slice_accuracy_drop <= 1.0,
          f"--max-slice-accuracy-drop must be in [0, 1], got {config.max_slice_accuracy_drop}")
    check(config.min_slice_reviews >= 1, "--min-slice-reviews must be >= 1")
    check(config.tuner_max_trials >= 1, "--tuner-max-trials must be >= 1")
    check(config.tuner_epochs >= 1, "--tuner-epochs must be >= 1")
    check(0.0 < config.tuner_train_fraction <= 1.0, "--tuner-train-fraction must be in (0, 1]")
    check(len(config.tune_dropout) == 2 and 0.0 <= min(config.tune_dropout)
          and max(config.tune_dropout) < 1.0 and config.tune_dropout[0] <= config.tune_dropout[1],
          f"--tune-dropout must be 'low,high' within [0, 1), got {config.tune_dropout}")
    for name in ("tune_units", "tune_num_layers"):
        check(bool(getattr(config, name)) and min(getattr(config, name)) >= 1,
              f"--{name.replace('_', '-')} needs values >= 1")
    check(bool(config.tune_cells) and set(config.tune_cells) <= set(CELLS),
          f"--tune-cells must be among {CELLS}, got {config.tune_cells}")
    check(bool(config.tune_bidirectional) and all(
        v.lower() in ("true", "false", "1", "0", "yes", "no")
        for v in config.tune_bidirectional), "--tune-bidirectional takes true/false values")
    check(bool(config.tune_learning_rates) and all(0 < lr <= 1
                                                  for lr in config.tune_learning_rates),
          "--tune-learning-rates must be in (0, 1]")
    try:
        config.model_hparams().validate()
    except ValueError as error:
        errors.append(str(error))
    return errors

