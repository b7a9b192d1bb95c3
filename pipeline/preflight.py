"""Checks a run's inputs in seconds, before any component starts: the reviews (TFDS, or the
user's files and their span window) and the GloVe file (fetched from Stanford when the default
one is missing). A local run (`imdb-pipeline run`) calls it before the pipeline starts."""
import os
from typing import Callable

from pipeline.config import PipelineConfig


def _say(line: str) -> None:
    print(line, flush=True)


def preflight(config: PipelineConfig, say: Callable[[str], None] = _say) -> PipelineConfig:
    """Fails in seconds, before any component runs, when data or GloVe cannot be found; the
    config it returns names the GloVe file it found or fetched."""
    from components.tfds_example_gen import load_tfds_builder
    from trainer import glove

    if config.input_pattern:
        from components.file_example_gen import check_input

        settings = config.file_input_settings()
        say(f"[preflight] reviews {settings.train_pattern}, test {settings.test_pattern}")
        summary = check_input(settings, config.span or None)
        say(f"[preflight] span {summary.span} (window {summary.window_spans}), "
            f"{len(summary.train_files)} training + {len(summary.test_files)} test files, "
            f"reviews {summary.counts}")
        for span, why in sorted(summary.skipped_spans.items()):
            say(f"[preflight] span {span} left out of the window: {why} (--accept-span "
                f"{span} lets it train)")
    else:
        say(f"[preflight] TFDS {config.tfds_full_name} in {config.resolved_tfds_data_dir}")
        builder = load_tfds_builder(config.tfds_full_name, config.resolved_tfds_data_dir,
                                    config.text_feature, config.label_feature,
                                    unlabeled_split=config.unlabeled_split)
        splits = {k: v.num_examples for k, v in builder.info.splits.items()}
        say(f"[preflight] splits: {splits}")
    path = config.resolved_glove_path
    if path:
        archive, _ = glove.split_zip_member(path)
        import tensorflow as tf

        if not tf.io.gfile.exists(archive or path):
            if config.glove_path_given:
                raise glove.GloveError(f"GloVe file {archive or path!r} does not exist; fix "
                                       "--glove-path (or GLOVE_PATH), or pass --glove-path none")
            say(f"[preflight] no GloVe at {path}; trying Stanford's glove.6B.zip")
            path = glove.fetch_stanford_6b(os.path.dirname(path))
            config = config.replace(glove_path=path)
        say(f"[preflight] GloVe: {path}")
    else:
        say("[preflight] GloVe: none (embedding trained from scratch)")
    return config
