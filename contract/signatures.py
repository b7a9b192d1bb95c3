"""Names of the exported SavedModel's signatures and their tensors: the serving contract.

Clients (`serving/wire.py`), deployment files (`serving/deploy.py`), the warmup requests and
TFMA all take the names from here, so a rename cannot leave one of them behind.
"""
# Serialized tf.Example (the review as the feature INPUT_FEATURES_FILE names) -> P(positive)
# [batch, 1]. TFMA evaluates this one.
EXAMPLES_SIGNATURE = "serving_default"
EXAMPLES_INPUT = "examples"
EXAMPLES_OUTPUT = "outputs"

# Review strings -> P(positive) [batch, 1].
RAW_TEXT_SIGNATURE = "serving_raw_text"
RAW_TEXT_INPUT = "text"  # The signature's input alias, whatever the Examples' feature is named.
RAW_TEXT_OUTPUT = "probability"

# TF Serving's Classify API (classifier.cc): one DT_STRING input named `inputs` holding serialized
# tf.Examples, outputs `classes` (DT_STRING [batch, 2]) and `scores` (DT_FLOAT [batch, 2]), and
# the signature's method_name must be CLASSIFY_METHOD_NAME.
CLASSIFY_SIGNATURE = "classify"
CLASSIFY_INPUT = "inputs"
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"
CLASSIFY_METHOD_NAME = "tensorflow/serving/classify"
CLASS_NAMES = ("negative", "positive")

# TF Serving replays this file (PredictionLog records) when it loads a version.
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"

# The raw tf.Example features the Example signatures parse: {"text_feature": ..., "label_feature":
# ...}, the pipeline's --text-feature and --label-feature, so clients need not be told again.
INPUT_FEATURES_FILE = "assets.extra/input_features.json"
