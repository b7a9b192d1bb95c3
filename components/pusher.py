"""TFX's Pusher, publishing so TF Serving never sees a half-written version, plus retention.

TF Serving polls the base path and loads any new numeric directory. TFX's own Pusher copies
`saved_model.pb` last for that reason; this executor keeps that order and, on a local disk,
goes further: it writes into a hidden directory (`.incoming-<version>`, not a number, so TF
Serving ignores it) and renames it into place, so a failed or interrupted copy (full disk,
permissions) leaves nothing loadable behind. Afterwards it keeps the newest `keep_versions`
versions and every version a TF Serving version label (`stable`, `canary`) points at.
"""
import contextlib
import json
import logging
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils, proto_utils

from contract.settings import PusherSettings, from_custom_config
from contract import data_profile
from contract.errors import UserError
from contract.names import INHERITED_SPANS_FILE, SOURCE_FILE
from serving.models_config import read_version_labels
from serving.versions import SAVED_MODEL_FILE, loadable_versions, version_dirs

INCOMING_PREFIX = ".incoming-"
# SOURCE_FILE, in every pushed version: which Trainer model it is a copy of, so that a rerun
# with nothing changed neither evaluates the model against itself nor pushes it a second time,
# and which spans it learned from (DriftGate checks only the others).
ALREADY_SERVED_KEY = "already_served_version"  # Pusher output property when nothing was pushed.
# On the Evaluator's blessing: the served version it compared against (-1: none).
BASELINE_VERSION_KEY = "baseline_served_version"
# On the Evaluator's blessing: JSON [[span, version], ...] of the window the model trained on.
TRAINED_SPANS_KEY = "trained_spans"
LOCK_FILE = ".push.lock"


class PushError(UserError, RuntimeError):
    """The model could not be published; the serving dir holds no partial version."""


@contextlib.contextmanager
def serving_dir_lock(serving_dir: str, wait_seconds: float = 600.0) -> Iterator[None]:
    """An exclusive lock on the serving dir (`.push.lock`: not a number, so TF Serving ignores
    it), held while a push picks its version, publishes and prunes: a local file lock, or on
    gs:// an object created only if absent (components/gcs_lock.py). Other remote file systems
    have no lock; the served-version check below still refuses a push evaluated against a
    version that is no longer served."""
    if serving_dir.startswith("gs://"):
        from components.gcs_lock import LockTimeout, gcs_lock

        try:
            with gcs_lock(serving_dir, wait_seconds):
                yield
        except LockTimeout as error:
            raise PushError(f"not pushed: {error}; rerun when that push has finished") from None
        return
    if not _is_local(serving_dir):
        yield
        return
    import fcntl

    os.makedirs(serving_dir, exist_ok=True)
    with open(os.path.join(serving_dir, LOCK_FILE), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_still_served(serving_dir: str, served: Optional[int],
                       evaluated_against: Optional[int]) -> None:
    """Refuses to push when the version served now is not the one the Evaluator compared the
    model with (another pipeline pushed in between): the no-regression gate would not hold."""
    if evaluated_against is None:
        return
    now = -1 if served is None else served
    if now != evaluated_against:
        against = "no served model" if evaluated_against < 0 else f"version {evaluated_against}"
        raise PushError(f"not pushed: {serving_dir} now serves "
                        f"{'nothing' if now < 0 else f'version {now}'}, but this model was "
                        f"evaluated against {against} (another run pushed meanwhile); rerun "
                        "to evaluate it against what is served now")


def next_version(serving_dir: str) -> int:
    """A Unix timestamp like TFX's Pusher, but always above the newest existing version."""
    existing = version_dirs(serving_dir)
    return max([int(time.time())] + [v + 1 for v in existing])


def _is_local(path: str) -> bool:
    return "://" not in path


def newest_served_version(serving_dir: str, skip_copies_of: str = "",
                          skip_trained_with: str = "", models_config: str = "",
                          model_name: str = "") -> Optional[int]:
    """The version TF Serving serves: with a `stable` label in `models_config` (written by
    `imdb-pipeline serving-config`), the version it names, since with labels the server serves
    exactly the listed versions; otherwise the newest version it could load
    (serving/versions.py). `skip_copies_of` (a Trainer model URI) passes over versions pushed
    from that model, `skip_trained_with` (a TransformGraph URI) over versions trained on that
    Transform output; a skipped `stable` falls back to the newest version not skipped."""
    def skipped(version: int) -> bool:
        if skip_copies_of and pushed_from(serving_dir, version) == skip_copies_of:
            return True
        return bool(skip_trained_with) and (data_profile.read_profile(
            os.path.join(serving_dir, str(version))) or {}).get(
                data_profile.TRANSFORM_GRAPH_KEY) == skip_trained_with

    loadable = loadable_versions(serving_dir)
    stable = version_labels(models_config, model_name).get("stable")
    if stable in loadable and not skipped(stable):
        return stable
    for version in reversed(loadable):
        if not skipped(version):
            return version
    return None


def version_labels(models_config: str, model_name: str) -> Dict[str, int]:
    """The model's version labels in a TF Serving models.config ({} without the file)."""
    if not models_config or not fileio.exists(models_config):
        return {}
    return read_version_labels(models_config, model_name)


def _source(serving_dir: str, version: int) -> dict:
    path = os.path.join(serving_dir, str(version), SOURCE_FILE)
    if not fileio.exists(path):
        return {}
    try:
        found = json.loads(io_utils.read_string_file(path))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def pushed_from(serving_dir: str, version: int) -> Optional[str]:
    """The Trainer model URI a served version was pushed from (None: unknown or not ours)."""
    return _source(serving_dir, version).get("model_uri")


def served_spans(serving_dir: str, version: int) -> Set[Tuple[int, Optional[int]]]:
    """The (span, version) pairs a served model learned from: its own window and, when it was
    warm-started, its base model's; empty for TFDS data or an unknown export."""
    return {(int(s), None if v is None else int(v))
            for s, v in _source(serving_dir, version).get("spans", [])}


def lineage_spans(model_path: str, trained_spans: List) -> List[List]:
    """The spans a model about to be pushed learned from: the window it trained on (from the
    Evaluator's blessing) and those its export inherited from a warm-start base."""
    inherited = []
    path = os.path.join(model_path, INHERITED_SPANS_FILE)
    if fileio.exists(path):
        inherited = json.loads(io_utils.read_string_file(path)).get("spans", [])
    return sorted({(int(s), None if v is None else int(v))
                   for s, v in list(trained_spans) + list(inherited)},
                  key=lambda sv: (sv[0], -1 if sv[1] is None else sv[1]))


def publish(model_path: str, serving_dir: str, version: int, source_uri: str = "",
            spans: Sequence = ()) -> str:
    """Copies a SavedModel to `<serving_dir>/<version>`, `saved_model.pb` last; all or nothing.

    `source_uri` (the Trainer model's URI) and `spans` (the (span, version) pairs it learned
    from) are recorded in the version's SOURCE_FILE.
    """
    final = os.path.join(serving_dir, str(version))
    staging = os.path.join(serving_dir, f"{INCOMING_PREFIX}{version}") if _is_local(
        serving_dir) else final
    try:
        fileio.makedirs(serving_dir)
        io_utils.copy_dir(model_path, staging, deny_regex_patterns=[r"saved_model\.pb$"])
        if source_uri:
            io_utils.write_string_file(os.path.join(staging, SOURCE_FILE), json.dumps(
                {"model_uri": source_uri, "spans": [list(sv) for sv in spans],
                 "pushed": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        io_utils.copy_file(os.path.join(model_path, SAVED_MODEL_FILE),
                           os.path.join(staging, SAVED_MODEL_FILE))
        if staging != final:
            fileio.rename(staging, final)
    except Exception as error:
        for leftover in {staging, final}:
            if fileio.exists(leftover):
                fileio.rmtree(leftover)
        raise PushError(f"could not publish the model to {final}: {error}; nothing was left "
                        f"in {serving_dir}") from error
    return final


STALE_STAGING_SECONDS = 3600.0


def remove_stale_staging(serving_dir: str, now: Optional[float] = None) -> List[str]:
    """Removes `.incoming-*` dirs an earlier push left when it was killed (SIGKILL, power
    loss) before its cleanup could run. TF Serving never loads them, but they hold a whole
    model each; only ones untouched for an hour go, so a concurrent push is never disturbed."""
    if not _is_local(serving_dir) or not os.path.isdir(serving_dir):
        return []
    now = time.time() if now is None else now
    removed = []
    for name in os.listdir(serving_dir):
        path = os.path.join(serving_dir, name)
        if name.startswith(INCOMING_PREFIX) and now - os.path.getmtime(
                path) > STALE_STAGING_SECONDS:
            fileio.rmtree(path)
            removed.append(name)
    if removed:
        logging.info("Removed staging dirs of interrupted pushes: %s", removed)
    return removed


def protected_versions(settings: PusherSettings) -> Set[int]:
    return set(version_labels(settings.models_config, settings.model_name).values())


def prune(serving_dir: str, keep: int, protected: Set[int]) -> List[int]:
    """Removes the oldest versions beyond the newest `keep`, never a protected one."""
    if keep <= 0:
        return []
    versions = version_dirs(serving_dir)
    removed = [v for v in versions[:-keep] if v not in protected]
    for version in removed:
        fileio.rmtree(os.path.join(serving_dir, str(version)))
    if removed:
        logging.info("Retention: removed versions %s of %s (kept the newest %d and labelled %s)",
                     removed, serving_dir, keep, sorted(protected))
    return removed


class VersionedPusherExecutor(pusher_executor.Executor):
    """Pushes to a filesystem destination with `publish`, then applies retention."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        settings = from_custom_config(PusherSettings, json_utils.loads(
            exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null") or {})
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        serving_dir = destination.filesystem.base_directory
        model_uri = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_KEY]).uri
        blessing = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_BLESSING_KEY])
        evaluated_against = (blessing.get_int_custom_property(BASELINE_VERSION_KEY)
                             if blessing.has_custom_property(BASELINE_VERSION_KEY) else None)
        # One push at a time per serving dir: two pipelines (two output dirs) may share it.
        with serving_dir_lock(serving_dir):
            served = newest_served_version(serving_dir, models_config=settings.models_config,
                                           model_name=settings.model_name)
            copies = [v for v in loadable_versions(serving_dir)
                      if pushed_from(serving_dir, v) == model_uri]
            if copies:
                logging.info("This model is already in the serving dir as version %d: nothing "
                             "pushed.", copies[-1])
                model_push.set_int_custom_property(ALREADY_SERVED_KEY, copies[-1])
                self._MarkNotPushed(model_push)
                return
            check_still_served(serving_dir, served, evaluated_against)
            remove_stale_staging(serving_dir)
            version = next_version(serving_dir)
            model_path = self.GetModelPath(input_dict)
            trained = (json.loads(blessing.get_string_custom_property(TRAINED_SPANS_KEY))
                       if blessing.has_custom_property(TRAINED_SPANS_KEY) else [])
            pushed = publish(model_path, serving_dir, version, source_uri=model_uri,
                             spans=lineage_spans(model_path, trained))
            logging.info("Model written to serving path %s.", pushed)
            prune(serving_dir, settings.keep_versions, protected_versions(settings) | {version})
        io_utils.copy_dir(model_path, model_push.uri)  # Archived copy, as TFX's Pusher does.
        self._MarkPushed(model_push, pushed_destination=pushed, pushed_version=str(version))
