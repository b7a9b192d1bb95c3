"""benchmarks/serving_latency.py on the tiny pushed model, with the smallest repeat counts:
checks what it reports (every path and case, sane numbers, one JSON line, a PNG), not speed."""
import importlib.util
import json
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "serving_latency.py")


@pytest.fixture(scope="module")
def serving_latency():
    spec = importlib.util.spec_from_file_location("serving_latency", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reports_every_path_and_case(serving_latency, pushed_model_dir, tmp_path, capsys):
    png = tmp_path / "latency.png"
    result = serving_latency.main([pushed_model_dir, "--repeats", "2", "--seconds", "0.05",
                                   "--warmup", "1", "--plot", str(png)])

    printed = capsys.readouterr().out.strip().splitlines()
    assert json.loads(printed[-1]) == json.loads(json.dumps(result))  # The last line: the JSON.
    assert any(line.startswith("raw_text_signature ") for line in printed)
    assert result["model_dir"] == pushed_model_dir
    assert result["cores"] >= 1 and result["cpu"]
    cases = set(serving_latency.CASES)
    server_cases = set(serving_latency.SERVER_CASES)
    assert set(result["results"]) == {"raw_text_signature", "keras", "rest", "grpc"}
    for path, by_case in result["results"].items():
        assert set(by_case) == (cases if path in ("raw_text_signature", "keras")
                                else server_cases), path
        for case, numbers in by_case.items():
            assert numbers["calls"] >= 2, (path, case)
            assert 0 < numbers["p50_ms"] <= numbers["p99_ms"], (path, case)
            assert numbers["reviews_per_s"] > 0, (path, case)
    assert result["results"]["keras"]["b256_long"]["batch"] == 256
    # The Keras-alone path gets exactly the signature's model inputs: same probabilities.
    assert result["keras_vs_signature_max_abs_diff"] < 1e-5
    assert all(v > 0 for v in result["ratios"]["transform_cost"].values())
    assert all(v > 0 for name in ("rest_overhead", "grpc_overhead")
               for v in result["ratios"][name].values())
    assert result["long_review_words"] >= 190
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_reviews_are_deterministic_english_of_about_200_words(serving_latency):
    reviews = serving_latency.case_reviews("b64_long")
    assert reviews == serving_latency.case_reviews("b64_long")
    assert len(reviews) == 64 and len(set(reviews)) > 1
    assert all(195 <= len(r.split()) <= 230 for r in reviews)
    assert len(serving_latency.case_reviews("b1_short")[0].split()) < 20
