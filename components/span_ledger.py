"""Each span's drift verdict, kept across runs: a blocked span stays out of later windows.

DriftGate records a verdict for every span it checks, as one small JSON file per span version
under `<pipeline-root>/span_verdicts/` (a folder every runner can read and write, local or
gs://, as the serving dir is for ServingBaseline; no ML Metadata query). FileExampleGen's
window leaves out spans whose recorded verdict is "blocked" unless the user accepted them
(`--accept-span N`); a re-delivered span (a new `{VERSION}`) is new data and is checked afresh.
"""
import json
import os
import time
from typing import Dict, Iterable, Optional, Set, Tuple

LEDGER_FOLDER = "span_verdicts"
PASSED, BLOCKED, WARNED, ACCEPTED, UNCHECKED = (
    "passed", "blocked", "warned (trained anyway)", "accepted by the user",
    "not checked (no served model to compare with)")

SpanVersion = Tuple[int, Optional[int]]


def ledger_dir(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, LEDGER_FOLDER)


def _name(span: int, version: Optional[int]) -> str:
    return f"span-{span}.json" if version is None else f"span-{span}-v{version}.json"


def record(folder: str, span: int, version: Optional[int], verdict: str, **details) -> dict:
    """Writes (replaces) the verdict of one span version; returns the entry."""
    import tensorflow as tf

    entry = {"span": span, "version": version, "verdict": verdict,
             "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **details}
    tf.io.gfile.makedirs(folder)
    path = os.path.join(folder, _name(span, version))
    with tf.io.gfile.GFile(path + ".tmp", "w") as out:
        json.dump(entry, out, indent=1, sort_keys=True)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
    return entry


def read(folder: str) -> Dict[SpanVersion, dict]:
    """(span, version) -> the recorded entry; {} when nothing was recorded yet."""
    import tensorflow as tf

    if not folder or not tf.io.gfile.isdir(folder):
        return {}
    entries = {}
    for name in tf.io.gfile.listdir(folder):
        if not (name.startswith("span-") and name.endswith(".json")):
            continue
        with tf.io.gfile.GFile(os.path.join(folder, name)) as f:
            entry = json.load(f)
        entries[(entry["span"], entry["version"])] = entry
    return entries


def blocked_spans(folder: str, newest_versions: Dict[int, Optional[int]],
                  accepted: Iterable[int] = ()) -> Dict[int, dict]:
    """span -> its "blocked" entry, for spans whose newest version was blocked and that the
    user did not accept."""
    entries = read(folder)
    accepted: Set[int] = set(accepted)
    found = {}
    for span, version in newest_versions.items():
        entry = entries.get((span, version))
        if entry and entry["verdict"] == BLOCKED and span not in accepted:
            found[span] = entry
    return found
