"""TFX Trainer entry point of the distillation stage: a student learns from unlabeled reviews.

With `--unlabeled-split unsupervised` the pipeline trains its usual model as the `Teacher`,
which then labels TFDS's 50,000 unlabeled reviews with its probabilities (soft labels). This
`Trainer` trains a fresh recurrent model on the labelled `train` reviews plus those, fits the
wide part and the mix on `eval` as usual, and exports the result. The student sees the
teacher's wide-and-deep judgement on three times as much text (docs/results.md,
"Distillation").

Data: the Trainer's `train_args.splits` are ["train", "unlabeled"]; the unlabeled reviews'
label is -1 (TFDS), replaced here by the teacher's probability. The test reviews' text is never
read (the `unlabeled` split is TFDS `unsupervised`, disjoint from `test`).
"""
import logging
import math
from typing import List, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer import distribution, data, models, preprocessing, training
from contract.names import UNLABELED_SPLIT


def split_patterns(patterns: Sequence[str], split: str = UNLABELED_SPLIT
                   ) -> Tuple[List[str], List[str]]:
    """(labelled patterns, patterns of `split`) of the Trainer's train_files."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    marker = f"Split-{split}"
    unlabeled = [p for p in patterns if marker in p]
    if not unlabeled:
        raise ValueError(f"No {split!r} split among the Trainer's train files {patterns}: "
                         "the distillation Trainer needs train_args.splits = "
                         f"['train', '{split}'].")
    return [p for p in patterns if marker not in p], unlabeled


def read_reviews(patterns, tft_output: tft.TFTransformOutput, label: str,
                 scorer=None, batch_size: int = 256) -> Tuple[tf.RaggedTensor, np.ndarray]:
    """(token ids of every review, its target) in file order; the target is the file's label,
    or `scorer`'s P(positive) for the review when a scorer (the teacher) is given."""
    spec = tft_output.transformed_feature_spec()
    names = [preprocessing.TOKENS_FEATURE, label]
    if scorer is not None and len(scorer.inputs) > 1:
        names.append(preprocessing.NGRAMS_FEATURE)
    spec = {name: spec[name] for name in names}
    records = tf.data.TFRecordDataset(data.files(patterns), compression_type="GZIP")
    rows, targets = [], []
    for batch in records.batch(batch_size).map(lambda r: tf.io.parse_example(r, spec)):
        tokens = batch[preprocessing.TOKENS_FEATURE]
        rows.append(tf.RaggedTensor.from_tensor(tokens, padding=preprocessing.PADDING_ID))
        if scorer is None:
            targets.append(tf.cast(tf.reshape(batch[label], [-1]), tf.float32).numpy())
        else:
            targets.append(scorer(data.model_inputs(scorer, batch), training=False)
                           .numpy().reshape(-1))
    return tf.concat(rows, axis=0), np.concatenate(targets).astype(np.float32)


def soft_labelled_dataset(tokens: tf.RaggedTensor, targets: np.ndarray, batch_size: int,
                          length_buckets: Sequence[int], seed: int) -> tf.data.Dataset:
    """Endless shuffled (tokens [batch, time], target) batches of similar-length reviews."""
    lengths = tf.cast(tokens.row_lengths(), tf.int64)
    dataset = tf.data.Dataset.from_tensor_slices((
        {preprocessing.TOKENS_FEATURE: tokens, preprocessing.LENGTH_FEATURE: lengths},
        targets)).shuffle(len(targets), seed=seed, reshuffle_each_iteration=True).repeat()
    # Slices of a ragged tensor come with a RaggedTensorSpec that padded_batch refuses; inside a
    # map they are plain Tensors, so an identity map hands on TensorSpec elements.
    dataset = dataset.map(lambda features, target: (features, target))
    if length_buckets:
        return data.bucketed(dataset, batch_size, length_buckets).prefetch(tf.data.AUTOTUNE)
    return dataset.padded_batch(batch_size).map(
        lambda features, target: (data.trim_padding(features[preprocessing.TOKENS_FEATURE]),
                                  target)).prefetch(tf.data.AUTOTUNE)


def agreement(targets, probabilities):
    """Accuracy that also reads soft targets: both sides thresholded at 0.5 (Keras'
    BinaryAccuracy compares a soft target with 0/1 and would count every one wrong)."""
    return tf.cast(tf.equal(targets > 0.5, probabilities > 0.5), tf.float32)


def run_fn(fn_args) -> None:
    start = training.start_run(fn_args)
    strategy, chief, settings, tuned, hparams = (start.strategy, start.chief, start.settings,
                                                 start.tuned, start.hparams)
    serving_dir, run_dir, tft_output = start.serving_dir, start.run_dir, start.tft_output
    train_files, unlabeled_files = split_patterns(fn_args.train_files)
    if not fn_args.base_model:
        raise ValueError("The distillation Trainer needs the teacher as base_model.")
    teacher = tf.keras.models.load_model(fn_args.base_model, compile=False)
    label = settings.label_feature
    train_tokens, train_targets = read_reviews(train_files, tft_output, label)
    unlabeled_tokens, soft_targets = read_reviews(unlabeled_files, tft_output, label, teacher)
    logging.info("Teacher labelled %d unlabeled reviews (%.1f%% positive); the student learns "
                 "from them and %d labelled ones.", len(soft_targets),
                 100 * float(np.mean(soft_targets > 0.5)), len(train_targets))
    tokens = tf.concat([train_tokens, unlabeled_tokens], axis=0)
    targets = np.concatenate([train_targets, soft_targets])

    matrix, rows, embedding_info = training.embedding_for(tft_output, settings.glove_path,
                                                          settings.num_oov_buckets)
    tf.keras.utils.set_random_seed(settings.seed)
    with strategy.scope():
        student = models.build_model(hparams, rows, matrix,
                                     name=f"imdb_{hparams.cell}_student")
        student.compile(optimizer=student.optimizer, loss=student.loss,
                        weighted_metrics=[tf.keras.metrics.MeanMetricWrapper(
                            agreement, name="accuracy")])
    steps = settings.steps_per_epoch or math.ceil(len(targets) / settings.batch_size)
    evaluation = distribution.prepare(
        data.make_dataset(fn_args, fn_args.eval_files, tft_output, label, settings.batch_size,
                          False, settings.length_buckets, settings.seed),
        strategy, settings.batch_size, repeat=False)
    train = distribution.prepare(
        soft_labelled_dataset(tokens, targets, settings.batch_size, settings.length_buckets,
                              settings.seed), strategy, settings.batch_size, repeat=True)
    run = training.fit_with_callbacks(
        student, train, evaluation, steps, settings, run_dir,
        backup_dir=training.backup_dir(settings, fn_args, tuned, 0), chief=chief)
    summary = training.summary_head(hparams, embedding_info, tuned, steps, run)
    summary["distillation"] = {"labelled_reviews": len(train_targets),
                               "unlabeled_reviews": len(soft_targets),
                               "teacher_positive_fraction": float(np.mean(soft_targets > 0.5)),
                               "teacher": fn_args.base_model}
    model = student
    if preprocessing.NGRAMS_FEATURE in tft_output.transformed_feature_spec():
        with strategy.scope():
            model, summary["wide_and_deep"] = training.add_wide_part(
                student, train_files, fn_args.eval_files, tft_output, settings)
    training.write_outputs(model, summary, [run["history"]], fn_args, tft_output, settings,
                           serving_dir, run_dir)
    if not chief:
        distribution.finish_worker(fn_args.serving_model_dir, serving_dir)
