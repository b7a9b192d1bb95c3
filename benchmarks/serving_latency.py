"""Serving latency and throughput of an exported model, in process on this machine (issue 12).

Every number comes from the same SavedModel (MODEL_DIR: a SavedModel dir, or a Pusher serving
dir whose newest numeric version is used), reached four ways:

  raw_text_signature  the `serving_raw_text` signature called in process: parse + Transform
                      (lowercase, strip HTML, tokenize, vocabulary lookup, pad) + cut to the
                      longest review (`trainer.data.trim_padding`) + the Keras model
  keras               the Keras model alone (`tf.keras.models.load_model`, called through one
                      tf.function) on inputs the export's own Transform graph built once,
                      outside the timed loop, and trimmed the same way the signature trims them
  rest, grpc          the project's clients (`serving.client.RestClient` / `GrpcClient`) against
                      the TF Serving stand-ins (`tests/support/standins.py`) serving the same model

and four cases, all on deterministic English review text (no network):

  b1_short   batch 1, a one-sentence review            p50/p99 latency over --repeats calls
  b1_long    batch 1, a ~200-word review               p50/p99 latency over --repeats calls
  b64_long   batch 64 of ~200-word reviews             reviews/s over about --seconds of
  b256_long  batch 256 of ~200-word reviews            calls per path (b256: in process only)

Why: `raw_text_signature` / `keras` is what the in-graph Transform costs on top of the model
(the price of needing no Python preprocessing at serving time); `rest` and `grpc` against
`raw_text_signature` are the client + protocol overhead. Read the latter as an upper bound:
the stand-ins are Python (JSON and protobuf handled in Python, client and server share this
process and its GIL), where TF Serving does that work in C++.

How: per case, every path is warmed up (--warmup calls; this also traces the functions), then
the paths are timed interleaved, one call each per round with the order rotating, so that load
drift and late warm-up on a shared machine hit all paths alike (measured one after the other,
the first path came out up to 2x slower). Times are wall-clock per call (`time.perf_counter`),
including `.numpy()` of the answer; inputs are built before the timed calls. Ratios are of mean
times per call. The CPU model, core count and load average are printed with the numbers: they
only compare within one machine, and a busy machine inflates them.

    .venv/bin/python benchmarks/serving_latency.py pipeline_output/serving_model \\
        --repeats 200 --seconds 5 --plot serving_latency.png

Output: a table, then one JSON line with everything (also returned by `main`).
"""
import argparse
import contextlib
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from contract.names import DEFAULT_TEXT_FEATURE as TEXT_FEATURE  # noqa: E402
from serving.client import ClientOptions, GrpcClient, RestClient  # noqa: E402
from serving.saved_models import load_saved_model, resolve_model_dir  # noqa: E402
from serving.wire import ModelTarget  # noqa: E402
from tests.support.standins import GrpcStandIn, RestStandIn, ServedModels  # noqa: E402
from trainer import data  # noqa: E402
from trainer.preprocessing import TOKENS_FEATURE  # noqa: E402
from contract.signatures import RAW_TEXT_INPUT, RAW_TEXT_OUTPUT, RAW_TEXT_SIGNATURE  # noqa: E402

MODEL_NAME = "imdb"
LONG_WORDS = 200
PATHS = ("raw_text_signature", "keras", "rest", "grpc")
IN_PROCESS = ("raw_text_signature", "keras")
# case -> (batch, long review?, timed by: "repeats" or "seconds")
CASES = {"b1_short": (1, False, "repeats"), "b1_long": (1, True, "repeats"),
         "b64_long": (64, True, "seconds"), "b256_long": (256, True, "seconds")}
SERVER_CASES = ("b1_short", "b1_long", "b64_long")
RATIO_MEANINGS = {"transform_cost": "raw_text_signature / keras, mean time per call",
                  "rest_overhead": "rest / raw_text_signature", "grpc_overhead":
                  "grpc / raw_text_signature"}

SHORT_REVIEW = "A wonderful film with a moving story and great acting."
SENTENCES = (
    "I went into this movie without knowing much about it, and I came out pleasantly surprised.",
    "The story follows a small-town teacher who takes on a case nobody else wants.",
    "The lead actor gives a quiet, believable performance that carries the first hour.",
    "Some of the supporting cast, sadly, seem to be reading their lines off a card.",
    "The pacing drags in the middle, where two subplots go nowhere at all.",
    "Still, the photography is beautiful, and the score never gets in the way.",
    "There is one scene in the courtroom that had the whole theater holding its breath.",
    "The dialogue is sharp and often funny, even when the plot turns dark.",
    "I could have done without the last ten minutes, which spell out every theme twice.",
    "It is not a masterpiece, but it is honest, well made and worth your evening.",
    "My wife thought the ending was too sentimental; I found it earned.",
    "Compared with the director's previous film, this one is far more restrained.",
    "<br /><br />If you liked the book, you will probably enjoy what they did with it.",
    "Seven out of ten, and I would happily watch it again with friends.",
)


# ------------------------------------------------------------------------------------------
# Reviews and inputs


def long_review(index: int, words: int = LONG_WORDS) -> str:
    """About `words` words: the sentences cycled from a start that depends on `index`."""
    picked: List[str] = []
    count, i = 0, index
    while count < words:
        sentence = SENTENCES[i % len(SENTENCES)]
        picked.append(sentence)
        count += len(sentence.split())
        i += 1
    return " ".join(picked)


def case_reviews(case: str) -> List[str]:
    batch, long, _ = CASES[case]
    return [long_review(i) if long else SHORT_REVIEW for i in range(batch)]


def transform_function(loaded) -> Callable:
    """The export's Transform graph (the TransformFeaturesLayer the export tracks as
    `tft_layer` restores as its inner tf.Transform SavedModel, whose `transform_fn` it is)."""
    try:
        return loaded.tft_layer._saved_model_loader_tracked_dict["_imported"].transform_fn
    except (AttributeError, KeyError) as error:
        raise SystemExit(f"cannot find the Transform graph in the export ({error}); was it "
                         "written by trainer/export.py?") from None


def raw_features(transform_fn: Callable, reviews: Sequence[str]) -> Dict[str, tf.Tensor]:
    """The raw features Transform takes: the review text, and defaults for the rest (label)."""
    (spec,), _ = transform_fn.structured_input_signature
    batch = len(reviews)
    features = {}
    for name, tensor_spec in spec.items():
        shape = [batch] + tensor_spec.shape.as_list()[1:]
        if name == TEXT_FEATURE:
            features[name] = tf.reshape(tf.constant(list(reviews), tf.string), shape)
        else:
            features[name] = tf.zeros(shape, tensor_spec.dtype)
    return features


def keras_inputs(model: tf.keras.Model, transform_fn: Callable, reviews: Sequence[str]):
    """What the signature feeds the Keras model for these reviews (trimmed tokens [+ ngrams])."""
    return data.model_inputs(model, transform_fn(raw_features(transform_fn, reviews)))


def keras_function(model: tf.keras.Model, example_inputs) -> Callable:
    """The model as one graph function taking any batch size and length (one trace)."""
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec([None] * t.shape.rank, t.dtype),
                                 example_inputs)
    return tf.function(lambda inputs: model(inputs, training=False), input_signature=[spec])


# ------------------------------------------------------------------------------------------
# Timing


def summarize(seconds: List[float], batch: int) -> Dict[str, Any]:
    times = np.asarray(seconds)
    return {"batch": batch, "calls": len(times),
            "p50_ms": round(float(np.percentile(times, 50)) * 1e3, 3),
            "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3),
            "mean_ms": round(float(times.mean()) * 1e3, 3),
            "reviews_per_s": round(batch * len(times) / float(times.sum()), 1)}


def keep_going(times: Dict[str, List[float]], repeats: Optional[int],
               deadline: Optional[float]) -> bool:
    done = min(len(t) for t in times.values())
    if repeats:
        return done < repeats
    return done < 2 or time.perf_counter() < deadline


def measure_case(case: str, makers: Dict[str, Callable], args) -> Dict[str, Dict[str, Any]]:
    """One case on every path, interleaved call by call (the order rotating each round), so
    that load drift on a shared machine and late warm-up hit every path alike. Each path is
    warmed up first; then `--repeats` rounds, or rounds for `--seconds` per path."""
    batch, _, timed_by = CASES[case]
    calls = {path: make(case) for path, make in makers.items()
             if path in IN_PROCESS or case in SERVER_CASES}
    for call in calls.values():
        for _ in range(args.warmup):
            call()
    repeats = args.repeats if timed_by == "repeats" else None
    deadline = time.perf_counter() + args.seconds * len(calls) if not repeats else None
    times: Dict[str, List[float]] = {path: [] for path in calls}
    order = list(calls)
    while keep_going(times, repeats, deadline):
        for path in order:
            start = time.perf_counter()
            calls[path]()
            times[path].append(time.perf_counter() - start)
        order = order[1:] + order[:1]
    return {path: summarize(t, batch) for path, t in times.items()}


def measure(makers: Dict[str, Callable], args) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """{path: {case: summary}}."""
    results: Dict[str, Dict[str, Dict[str, Any]]] = {path: {} for path in makers}
    for case in CASES:
        for path, summary in measure_case(case, makers, args).items():
            results[path][case] = summary
    return results


# ------------------------------------------------------------------------------------------
# The four paths: for each, case -> a call that predicts that case's batch


def signature_calls(signature) -> Callable[[str], Callable[[], Any]]:
    def make_call(case: str):
        text = tf.constant(case_reviews(case), tf.string)
        return lambda: signature(**{RAW_TEXT_INPUT: text})[RAW_TEXT_OUTPUT].numpy()
    return make_call


def keras_calls(function: Callable, transform_fn: Callable,
                model: tf.keras.Model) -> Callable[[str], Callable[[], Any]]:
    def make_call(case: str):
        inputs = keras_inputs(model, transform_fn, case_reviews(case))  # Not timed.
        return lambda: function(inputs).numpy()
    return make_call


def client_calls(client) -> Callable[[str], Callable[[], Any]]:
    def make_call(case: str):
        reviews = case_reviews(case)
        return lambda: client.predict(reviews)
    return make_call


def server_clients(model_dir: str, stack: contextlib.ExitStack) -> Dict[str, Any]:
    """REST and gRPC stand-ins serving `model_dir` (as version N of MODEL_NAME), started on
    free local ports, and a client for each; all stopped when `stack` closes."""
    base = os.path.basename(os.path.normpath(model_dir))
    models = ServedModels(MODEL_NAME, {int(base) if base.isdigit() else 1: model_dir})
    options = ClientOptions(signature=RAW_TEXT_SIGNATURE, batch_size=256, timeout=120,
                            retries=0)
    rest = stack.enter_context(RestStandIn(models))
    grpc_server = stack.enter_context(GrpcStandIn(models))
    target = ModelTarget(MODEL_NAME)
    return {"rest": stack.enter_context(RestClient(rest.url, target, options)),
            "grpc": stack.enter_context(GrpcClient(grpc_server.target, target, options))}


def agreement(signature, function: Callable, transform_fn: Callable,
              model: tf.keras.Model) -> float:
    """Max |signature - Keras| on the b64 batch: proves the Keras inputs are the signature's."""
    reviews = case_reviews("b64_long")
    served = signature(**{RAW_TEXT_INPUT: tf.constant(reviews)})[RAW_TEXT_OUTPUT].numpy()
    alone = function(keras_inputs(model, transform_fn, reviews)).numpy()
    return float(np.max(np.abs(served - alone)))


# ------------------------------------------------------------------------------------------
# Report


def ratios(results: Dict[str, Dict[str, Dict[str, Any]]]) -> Dict[str, Dict[str, float]]:
    """transform_cost: signature time / Keras-alone time (> 1 = what Transform adds);
    <server>_overhead: server time / in-process signature time, per case (mean per call)."""
    def ratio(path: str, base: str, case: str) -> Optional[float]:
        if case not in results.get(path, {}) or case not in results.get(base, {}):
            return None
        return round(results[path][case]["mean_ms"] / results[base][case]["mean_ms"], 2)

    out = {"transform_cost": {c: ratio("raw_text_signature", "keras", c) for c in CASES}}
    for server in ("rest", "grpc"):
        out[f"{server}_overhead"] = {c: ratio(server, "raw_text_signature", c)
                                     for c in SERVER_CASES}
    return out


def table(results: Dict[str, Dict[str, Dict[str, Any]]], extra: Dict[str, Any]) -> str:
    def cell(path: str, case: str, kind: str) -> str:
        r = results.get(path, {}).get(case)
        if r is None:
            return "-"
        return (f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}" if kind == "latency"
                else f"{r['reviews_per_s']:.0f}")

    header = ("path", "b1 short p50/p99 ms", "b1 long p50/p99 ms", "b64 long rev/s",
              "b256 long rev/s")
    rows = [header] + [(p, cell(p, "b1_short", "latency"), cell(p, "b1_long", "latency"),
                        cell(p, "b64_long", "rate"), cell(p, "b256_long", "rate"))
                       for p in PATHS if p in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name, values in extra["ratios"].items():
        lines.append(f"{name} ({RATIO_MEANINGS[name]}): " + ", ".join(
            f"{c} {v}" for c, v in values.items() if v is not None))
    return "\n".join(lines)


def plot(result: Dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = result["results"]
    paths = [p for p in PATHS if p in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(paths)
    for i, p in enumerate(paths):
        left.bar([x + i * width for x in range(2)],
                 [results[p][c]["p50_ms"] for c in ("b1_short", "b1_long")], width, label=p)
        right.bar([x + i * width for x in range(2)],
                  [results[p].get(c, {}).get("reviews_per_s", 0) for c in ("b64_long",
                                                                           "b256_long")],
                  width, label=p)
    for axis, labels, title in ((left, ["1 sentence", f"~{LONG_WORDS} words"],
                                 "batch 1: p50 latency (ms)"),
                                (right, ["batch 64", "batch 256"],
                                 f"~{LONG_WORDS}-word reviews: reviews/s")):
        axis.set_xticks([x + width * (len(paths) - 1) / 2 for x in range(2)], labels)
        axis.set_title(title)
    right.legend()
    fig.suptitle(f"{result['cpu']} ({result['cores']} cores)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="SavedModel dir, or a serving dir (newest version)")
    parser.add_argument("--repeats", type=int, default=200,
                        help="timed calls per batch-1 latency case (default 200)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="wall time per path of each throughput case (default 5)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="untimed calls per path before each case (default 10)")
    parser.add_argument("--no-servers", action="store_true",
                        help="skip the REST and gRPC stand-ins")
    parser.add_argument("--plot", metavar="PATH", help="also write a PNG bar chart")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.seconds <= 0 or args.warmup < 1:
        parser.error("--repeats and --warmup must be >= 1 and --seconds > 0")
    return args


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    model_dir = resolve_model_dir(args.model_dir)
    loaded = load_saved_model(model_dir)  # The stand-ins serve this same loaded object.
    signature = loaded.signatures[RAW_TEXT_SIGNATURE]
    transform_fn = transform_function(loaded)
    model = tf.keras.models.load_model(model_dir, compile=False)
    function = keras_function(model, keras_inputs(model, transform_fn, [SHORT_REVIEW]))
    makers = {"raw_text_signature": signature_calls(signature),
              "keras": keras_calls(function, transform_fn, model)}
    with contextlib.ExitStack() as stack:
        if not args.no_servers:
            makers.update({name: client_calls(client)
                           for name, client in server_clients(model_dir, stack).items()})
        results = measure(makers, args)
    long_inputs = keras_inputs(model, transform_fn, [long_review(0)])
    long_tokens = long_inputs[TOKENS_FEATURE] if isinstance(long_inputs, dict) else long_inputs
    result = {
        "model_dir": model_dir, "cpu": cpu_model(), "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()], "tensorflow": tf.__version__,
        "repeats": args.repeats, "seconds": args.seconds, "warmup": args.warmup,
        "long_review_words": len(long_review(0).split()),
        "long_review_tokens": int(long_tokens.shape[1]),
        "keras_inputs": "tokens" if len(model.inputs) == 1 else "tokens+ngrams",
        "keras_vs_signature_max_abs_diff": agreement(signature, function, transform_fn, model),
        "results": results}
    result["ratios"] = ratios(results)
    print(f"{result['model_dir']}\n{result['cpu']}, {result['cores']} cores, load average "
          f"{result['load_average']}; long review = {result['long_review_words']} words, "
          f"{result['long_review_tokens']} tokens after Transform + trim")
    print(table(results, result))
    if args.plot:
        plot(result, args.plot)
        result["plot"] = args.plot
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
