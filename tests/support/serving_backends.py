"""Test-only code for the client tests: the backends (stand-ins or a real TF Serving), the
reference answers (the SavedModel's signatures called directly) and the checks on answers."""

import numpy as np
import pytest
import tensorflow as tf

from contract.signatures import (CLASS_NAMES, CLASSIFY_INPUT, CLASSIFY_SCORES,
                                CLASSIFY_SIGNATURE, EXAMPLES_INPUT, EXAMPLES_OUTPUT,
                                EXAMPLES_SIGNATURE, RAW_TEXT_INPUT, RAW_TEXT_OUTPUT,
                                RAW_TEXT_SIGNATURE)
from serving.client import ClientOptions, GrpcClient, RestClient
from serving.saved_models import read_signature_defs
from serving.wire import ModelTarget
from trainer.export import text_example

LABELS = {"stable": 1, "canary": 2}
TOLERANCE = 1e-6


def has_signature(model_dir: str, name: str) -> bool:
    return name in read_signature_defs(model_dir)


class Reference:
    """Direct calls of the SavedModel's signatures: what every client must answer."""

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.model = tf.saved_model.load(model_dir)

    def probabilities(self, signature: str, reviews) -> np.ndarray:
        function = self.model.signatures[signature]
        if signature == RAW_TEXT_SIGNATURE:
            return function(**{RAW_TEXT_INPUT: tf.constant(reviews)})[RAW_TEXT_OUTPUT].numpy()[:, 0]
        examples = tf.constant([text_example(r, "text").SerializeToString() for r in reviews])
        if signature == EXAMPLES_SIGNATURE:
            return function(**{EXAMPLES_INPUT: examples})[EXAMPLES_OUTPUT].numpy()[:, 0]
        return function(**{CLASSIFY_INPUT: examples})[CLASSIFY_SCORES].numpy()


def require_signature(model_dir: str, signature: str) -> None:
    if not has_signature(model_dir, signature):
        pytest.skip(f"the exported model has no {signature!r} signature yet")


class Backend:
    def __init__(self, kind, rest_url, grpc_target, model_dir, versions=True, rest=None,
                 grpc=None):
        self.kind, self.rest_url, self.grpc_target = kind, rest_url, grpc_target
        self.model_dir = model_dir  # The SavedModel served as the newest version.
        self.versions = versions  # Versions 1, 2 and labels stable, canary are served.
        self.rest, self.grpc = rest, grpc  # The stand-ins (for fault injection), if any.

    def client(self, transport: str, target=ModelTarget(), **options):
        backoff = options.pop("backoff", None)
        options = ClientOptions(**options)
        if transport == "rest":
            if not self.rest_url:
                pytest.skip("no REST URL for this backend")
            return RestClient(self.rest_url, target, options, backoff)
        if not self.grpc_target:
            pytest.skip("no gRPC target for this backend")
        return GrpcClient(self.grpc_target, target, options, backoff)

    def need_versions(self):
        if not self.versions:
            pytest.skip("an external server: its versions and labels are unknown")


def assert_matches(predictions, reference, signature, reviews):
    want = reference.probabilities(signature, reviews)
    assert len(predictions) == len(reviews)
    if signature == CLASSIFY_SIGNATURE:
        got = [[p.scores[CLASS_NAMES[0]], p.scores[CLASS_NAMES[1]]] for p in predictions]
        np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)
        want = want[:, 1]
    np.testing.assert_allclose([p.probability for p in predictions], want, atol=TOLERANCE,
                               rtol=0)
    assert [p.label for p in predictions] == [CLASS_NAMES[int(w >= 0.5)] for w in want]


def is_one_line(text: str) -> bool:
    return "\n" not in text and "Traceback" not in text and text.strip() == text and text
