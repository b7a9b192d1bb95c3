"""`{SPAN}` and `{VERSION}` in an input pattern, read the way TFX's FileBasedExampleGen reads
them (tfx/components/example_gen/utils.py): a span is a number in the path, a version a number
within a span; the newest version of a span is the one read.

TFX's driver picks the span a run ingests (the newest, or the one pinned by `--span`) and
fingerprints its files; `files_by_span` lists every span so that the executor can read the
`--window` spans before it and the CLI can refuse missing and non-numeric spans up front.
"""
import os
import re
from typing import Dict, Iterable, List, Optional, Tuple

from contract.errors import UserError

_SPEC = re.compile(r"\{(SPAN|VERSION)(?::(\d+))?\}")
_GLOB_CHARS = ("*", "?", "[", "{")


class SpanError(UserError, ValueError):
    """The input pattern's spans cannot be resolved."""


def has_span(pattern: str) -> bool:
    return any(m.group(1) == "SPAN" for m in _SPEC.finditer(pattern))


def split_base(pattern: str) -> Tuple[str, str]:
    """(input_base, pattern relative to it): the base is the longest leading folder without
    wildcards or specs, as FileBasedExampleGen wants them apart."""
    parts = pattern.split("/")
    fixed = 0
    while fixed < len(parts) - 1 and not any(c in parts[fixed] for c in _GLOB_CHARS):
        fixed += 1
    base = "/".join(parts[:fixed]) or "."
    return base, "/".join(parts[fixed:])


def _glob_and_regex(pattern: str) -> Tuple[str, "re.Pattern"]:
    specs = [m.group(1) for m in _SPEC.finditer(pattern)]
    for name in ("SPAN", "VERSION"):
        if specs.count(name) > 1:
            raise SpanError(f"input pattern {pattern!r}: {{{name}}} may appear only once")
    if "VERSION" in specs and "SPAN" not in specs:
        raise SpanError(f"input pattern {pattern!r}: {{VERSION}} needs a {{SPAN}}")
    glob, regex, at = "", "", 0
    for match in _SPEC.finditer(pattern):
        literal = pattern[at:match.start()]
        glob += literal + "*"
        regex += _glob_to_regex(literal) + (
            f"(?P<{match.group(1).lower()}>[^/]{{{match.group(2)}}})" if match.group(2)
            else f"(?P<{match.group(1).lower()}>[^/]*?)")
        at = match.end()
    glob += pattern[at:]
    regex += _glob_to_regex(pattern[at:])
    return glob, re.compile(regex + r"\Z")


def _glob_to_regex(glob: str) -> str:
    out = ""
    for char in glob:
        out += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
    return out


def files_by_span(pattern: str) -> Dict[int, Dict[Optional[int], List[str]]]:
    """span -> version (None without {VERSION}) -> sorted files. Without {SPAN}: span 0.

    Refuses a pattern that matches nothing, and span or version parts that are not numbers.
    """
    import tensorflow as tf  # gfile: local paths and gs:// alike.

    glob, regex = _glob_and_regex(pattern)
    found: Dict[int, Dict[Optional[int], List[str]]] = {}
    for path in sorted(tf.io.gfile.glob(glob)):
        if tf.io.gfile.isdir(path):
            continue
        match = regex.match(path)
        if match is None:
            continue
        groups = match.groupdict()
        numbers = {}
        for name in ("span", "version"):
            text = groups.get(name)
            if text is not None and not text.isdigit():
                raise SpanError(f"{path}: its {name} part {text!r} is not a number (input "
                                f"pattern {pattern!r})")
            numbers[name] = int(text) if text is not None else None
        span = numbers["span"] if numbers["span"] is not None else 0
        found.setdefault(span, {}).setdefault(numbers["version"], []).append(path)
    if not found:
        where = "" if os.path.isabs(glob) or "://" in glob else f" from {os.getcwd()}"
        raise SpanError(f"input pattern {pattern!r} matches no file (looked for {glob!r}"
                        f"{where})")
    return found


def newest_version(versions: Dict[Optional[int], List[str]]) -> Tuple[Optional[int], List[str]]:
    version = max(versions, key=lambda v: -1 if v is None else v)
    return version, versions[version]


def window_spans(spans: Dict[int, object], newest: int, window: int,
                 skip: Iterable[int] = ()) -> List[int]:
    """The spans a run over `newest` reads: it and the `window - 1` newest spans before it,
    leaving out those in `skip` (spans the drift gate blocked). Only these spans must exist: a
    gap elsewhere in the numbering (a span withdrawn long ago) does not matter."""
    if newest not in spans:
        raise SpanError(f"span {newest} is not among the input's spans {sorted(spans)}")
    skip = set(skip)
    older = [s for s in sorted(spans, reverse=True) if s < newest and s not in skip]
    wanted = sorted([newest] + older[:window - 1])
    if len(wanted) < window:
        left_out = sorted(s for s in skip if s < newest and s in spans)
        reason = f" ({left_out} left out: blocked by the drift check)" if left_out else ""
        raise SpanError(f"--window {window} over span {newest} needs {window} spans; the input "
                        f"has {len(wanted)} usable up to span {newest}: {wanted}{reason}; use "
                        "a smaller --window")
    return wanted
