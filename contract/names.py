"""Names that several packages must spell the same way: splits and files the pipeline's
components, trainer code and reports all read or write."""
import re
from typing import Optional

UNLABELED_SPLIT = "unlabeled"  # Reviews without labels (label -1), for distillation only.
SCHEMA_FILE = "schema.pbtxt"  # In a Schema artifact's folder (CuratedSchemaGen, Evaluator).
TRAINING_SUMMARY_FILE = "training_summary.json"  # In the Trainer's model_run folder.
# In every pushed version (the Pusher writes it): the Trainer model it is a copy of and the
# (span, version) pairs it learned from. TF Serving reads only the warmup file in assets.extra/.
SOURCE_FILE = "assets.extra/pipeline_source.json"
# In FileExampleGen's Examples artifact, written while it reads the input, for DriftGate: each
# span's counts (contract/data_profile.py: count) and the test set's review hashes.
SPAN_PROFILES_DIR = "span_profiles"
TEST_HASHES_FILE = "test_reviews.u64"
# In an export (the Trainer writes it when it warm-started): the spans its base learned from.
INHERITED_SPANS_FILE = "assets.extra/inherited_spans.json"
# In an export: the recurrent model's weights (Keras h5, by layer name), which a later Trainer
# starts from (trainer/warm_start.py); the Tuner's best trial is handed on in the same form.
WARM_START_WEIGHTS_FILE = "assets.extra/warm_start_weights.h5"
# Beside those weights when they are the Tuner's best trial rather than an export: the trial
# (id, score, hyperparameters, epochs) and whether it started from the served model.
START_POINT_FILE = "assets.extra/start_point.json"
# In an export: the hyperparameters it was trained with, the search space they were chosen
# from and how (searched, reused, or given); the Tuner reuses them (components/tuner.py).
HYPERPARAMETERS_FILE = "assets.extra/hyperparameters.json"
# Keys of the Tuner's best_hyperparameters.txt beside Keras Tuner's own ("space", "values"):
# the search space as configured, and where the values came from.
SEARCH_SPACE_KEY = "search_space"
HPARAMS_SOURCE_KEY = "source"

# As the Evaluator's accuracy lower bound: "beat the test set's majority class" (the share of its
# commoner label plus one review), resolved when the test set is known (components/evaluator.py).
MAJORITY_CLASS_BAR = -1.0

DEFAULT_TEXT_FEATURE = "text"  # The raw review feature of stored and served tf.Examples.
DEFAULT_MODEL_NAME = "imdb"  # The name TF Serving serves the pushed versions under.
# The model name is also a URL segment and the stem of Kubernetes/KServe object names
# ("<name>-serving-config", "<name>-serving-gpu"), which must stay within a DNS-1123 label's 63
# characters: a DNS-1123 label of at most 40.
MODEL_NAME_PATTERN = r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?"


def model_name_problem(name: str) -> Optional[str]:
    """Why `name` cannot be the served model's name, or None."""
    if re.fullmatch(MODEL_NAME_PATTERN, name or ""):
        return None
    return (f"model name {name!r} must be lowercase letters, digits and '-' (a DNS-1123 label, "
            "at most 40 characters), so it is valid in TF Serving, its URLs, Kubernetes and "
            "KServe alike")
