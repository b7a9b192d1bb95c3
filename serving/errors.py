"""Every failure at the serving boundary as one exception with a one-line message.

TensorFlow's errors (raised by a signature run in process) are mapped to the gRPC status names
TF Serving would answer with, so the in-process client fails like the servers do.
"""
import re
from typing import Tuple

from contract.errors import UserError


class ServingError(UserError):
    """A server error, an unreachable server or bad input, with a one-line message.

    `code` is the gRPC status name ("NOT_FOUND", "INVALID_ARGUMENT", "UNAVAILABLE", ...) or
    "HTTP <status>"; `retryable` is True only for failures worth retrying (gRPC UNAVAILABLE,
    HTTP 503, connection refused).
    """

    def __init__(self, message: str, code: str = "", retryable: bool = False):
        super().__init__(one_line(message))
        self.code = code
        self.retryable = retryable


_TF_NOISE = re.compile(r"Graph execution error:|Detected at node \S+ defined at \(most recent "
                       r"call last\):|<stack traces unavailable>|\[\[\{\{node [^}]*\}\}\]\]|"
                       r"\[Op:[^\]]*\]|\{\{function_node [^}]*\}\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def one_line(message: str, limit: int = 400) -> str:
    """Whitespace runs (newlines included) collapsed, TensorFlow's stack noise dropped."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _TF_NOISE.sub(" ", str(message)))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tf_error_message(error: BaseException) -> Tuple[str, str]:
    """(gRPC status name, one-line message) for an exception raised by a signature call.

    TensorFlow's errors carry their gRPC code. One case needs care: when the message of a TF
    error holds bytes that are not UTF-8 (ParseExample quotes the input it could not parse),
    TF raises `UnicodeDecodeError` instead; its `object` still holds the whole message.
    """
    import tensorflow as tf

    if isinstance(error, tf.errors.OpError):
        import grpc

        code = {c.value[0]: c.name for c in grpc.StatusCode}.get(error.error_code, "UNKNOWN")
        return code, one_line(error.message)
    if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
        return "INVALID_ARGUMENT", one_line(error.object.decode("utf-8", "replace"))
    return "INVALID_ARGUMENT", one_line(f"{type(error).__name__}: {error}")
