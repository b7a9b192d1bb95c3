"""Whether review texts are the printed form of a value instead of the text a client sends.

One rule for every input: TfdsExampleGen and the Evaluator's skew guard
(components/skew_guard.py) and the user's review files (contract/review_files.py) refuse the
same reviews, so a dataset refused from TFDS is refused from a CSV too.
"""
import re
from typing import Optional

# Real reviews may quote code now and then; printed values make up (nearly) every review.
MAX_PRINTED_FRACTION = 0.1

_PRINTED = (
    (re.compile(rb"^tf\.Tensor\(.*\)$", re.S), "the printed form of a tf.Tensor"),
    (re.compile(rb"""^b(['"]).*\1$""", re.S), "a printed Python bytes literal"),
    (re.compile(rb"^(array|np\.array)\(.*\)$|^\[b['\"].*\]$", re.S),
     "a printed array or list"),
)
# An escaped UTF-8 lead byte followed by an escaped continuation byte: what `repr(bytes)` makes
# of "é" (\xc3\xa9); people do not type this.
_ESCAPED_UTF8 = re.compile(rb"\\x[c-f][0-9a-f]\\x[89ab][0-9a-f]", re.I)


def printed_form(text: bytes) -> Optional[str]:
    """Why `text` looks like a printed value instead of a review, or None."""
    stripped = text.strip()
    for pattern, reason in _PRINTED:
        if pattern.match(stripped):
            return reason
    if _ESCAPED_UTF8.search(text) and text.isascii():
        return "non-ASCII bytes written as Python escapes (\\xNN)"
    return None


def too_many_printed(printed: int, total: int) -> bool:
    """True when `printed` of `total` reviews are more than a few quoting code."""
    return bool(total) and printed > MAX_PRINTED_FRACTION * total
