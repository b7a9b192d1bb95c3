"""Typed settings the components and the code they run receive through TFX's `custom_config`
(Transform, Tuner, Trainer, the Pusher, FileExampleGen), and
`setting()`, the field every user-facing settings class declares its default and help with (the
CLI makes one flag per such field: cli/flags.py).

`pipeline/config.py:PipelineConfig` holds every default once and builds these; the trainer side
reads them back with `from_custom_config`, which fails on a missing or unknown key instead of
falling back to a second default that could disagree with the config.
"""
import dataclasses
from typing import Any, Dict, Tuple, Type, TypeVar

from contract.errors import UserError
from contract.review_files import ReviewFormat

# Keys the pipeline adds to every custom_config for TFX's cache (pipeline.code_fingerprint).
CACHE_KEYS = ("code_fingerprint",)
# TFX's Vertex training extensions read their job settings from the same custom_config
# (`ai_platform_training_args`, `ai_platform_vertex_region`, ...: kubeflow/vertex_jobs.py) and
# pass it on whole to run_fn / tuner_fn.
PLATFORM_KEY_PREFIX = "ai_platform_"

T = TypeVar("T")


def setting(default, help_text: str, **metadata):
    """A dataclass field with its one default and its help; `choices`, `item_type` (a comma-
    separated tuple), `required` and `positional` shape its command-line flag."""
    return dataclasses.field(default=default, metadata={"help": help_text, **metadata})


class SettingsError(UserError, ValueError):
    """custom_config does not match the settings class: a pipeline/trainer version mismatch."""


def from_custom_config(cls: Type[T], custom_config: Dict[str, Any]) -> T:
    values = {k: v for k, v in (custom_config or {}).items()
              if k not in CACHE_KEYS and not k.startswith(PLATFORM_KEY_PREFIX)}
    names = {field.name for field in dataclasses.fields(cls)}
    missing, unknown = sorted(names - set(values)), sorted(set(values) - names)
    if missing or unknown:
        raise SettingsError(f"{cls.__name__}: custom_config is missing {missing} and has "
                            f"unknown {unknown}; rebuild the pipeline with this code version")
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class TransformSettings:
    text_feature: str
    label_feature: str
    vocab_size: int
    num_oov_buckets: int
    max_len: int
    padding: str
    truncating: str
    ngram_max: int
    ngram_vocab_size: int  # 0 = no wide part.
    ngram_vocab_exact: bool  # False: tft.experimental's approximate top-k (much faster).

    @classmethod
    def from_custom_config(cls, custom_config: Dict[str, Any]) -> "TransformSettings":
        return from_custom_config(cls, custom_config)


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """What both the Tuner and the Trainer need to read Transform's output and the embedding."""
    label_feature: str
    text_feature: str
    glove_path: str
    num_oov_buckets: int
    batch_size: int
    length_buckets: Tuple[int, ...]
    seed: int

    @classmethod
    def from_custom_config(cls, custom_config: Dict[str, Any]):
        settings = from_custom_config(cls, custom_config)
        # JSON turns the tuple fields into lists: back to the declared tuples.
        lists = {f.name: tuple(getattr(settings, f.name)) for f in dataclasses.fields(cls)
                 if isinstance(getattr(settings, f.name), list)}
        return dataclasses.replace(settings, **lists)


@dataclasses.dataclass(frozen=True)
class TrainerSettings(DataSettings):
    hparams: Dict[str, Any]
    steps_per_epoch: int
    epochs: int
    early_stopping_patience: int
    reduce_lr_factor: float
    average_from_epoch: int
    ensemble_size: int
    warmup_reviews: int
    wide_c_values: Tuple[float, ...]  # L2 strengths of the wide part tried on eval.
    warm_start: bool  # Start from the served model's weights (trainer/warm_start.py).
    backup_dir: str  # Finished epochs kept for a resumed rerun (trainer/resume.py); '' = off.


@dataclasses.dataclass(frozen=True)
class TunerSettings(DataSettings):
    hparams: Dict[str, Any]
    algorithm: str
    max_trials: int
    epochs: int
    train_fraction: float
    search_space: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class PusherSettings:
    keep_versions: int  # 0 = keep all.
    models_config: str  # TF Serving models.config whose version labels are protected.
    model_name: str


@dataclasses.dataclass(frozen=True)
class FileInputSettings:
    """What FileExampleGen reads (components/file_example_gen.py packs it into its proto)."""

    train_pattern: str  # May hold {SPAN} and {VERSION}.
    test_pattern: str
    text_feature: str
    label_feature: str
    label_values: Tuple[str, ...]
    input_format: str
    window: int
    eval_percent: int
    ledger_dir: str  # Each span's drift verdict (components/span_ledger.py).
    accepted_spans: Tuple[int, ...]  # Blocked spans the user lets train (--accept-span).
    test_overlap: str  # "block" or "warn": test reviews that a training review repeats.

    @property
    def review_format(self) -> ReviewFormat:
        return ReviewFormat(self.text_feature, self.label_feature, self.label_values,
                            self.input_format)
