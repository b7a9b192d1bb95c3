"""submit-kubeflow: dry runs for both targets, and the KFP REST calls against a fake server."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from cli import main as cli

FLAGS = ["--output-dir", "gs://bucket/out", "--tfds-data-dir", "gs://bucket/tfds",
         "--glove-path", "none", "--image", "registry.example/imdb:1"]


@pytest.fixture(scope="module")
def spec_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("submit")
    paths = {}
    for target in ("vertex", "kfp"):
        paths[target] = tmp / f"{target}.json"
        assert cli.main(["compile-kubeflow", "--target", target, "--output",
                         str(paths[target]), *FLAGS]) == 0
    return paths


def test_vertex_dry_run_builds_the_runtime_config_offline(spec_files, capsys):
    code = cli.main(["submit-kubeflow", str(spec_files["vertex"]), "--target", "vertex",
                     "--project", "my-project", "--region", "europe-west4", "--dry-run",
                     "--parameter", "max_examples=2000", "--service-account", "sa@x.iam"])
    assert code == 0
    out = capsys.readouterr().out
    assert ("would POST https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/"
            "locations/europe-west4/pipelineJobs") in out
    body = json.loads(out[out.index("{"):])
    assert body["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/out/root"
    assert body["runtimeConfig"]["parameterValues"] == {
        "max_examples": 2000, "eval_percent": 10, "tfds_data_dir": "gs://bucket/tfds"}
    assert body["serviceAccount"] == "sa@x.iam"


@pytest.mark.parametrize("argv,message", [
    (["--parameter", "epochs=3"], "--parameter epochs: not a parameter of this pipeline"),
    (["--parameter", "max_examples=lots"], "max_examples='lots': not a valid NUMBER_INTEGER"),
    (["--target", "kfp", "--host", "http://h"], "kfp takes the bare PipelineSpec"),
    ([], "--target vertex needs --project and --region"),
])
def test_bad_submissions_fail_before_sending_anything(spec_files, capsys, argv, message):
    assert cli.main(["submit-kubeflow", str(spec_files["vertex"]), "--dry-run", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_spec_with_unknown_fields_is_refused(spec_files, tmp_path, capsys):
    spec = json.loads(spec_files["kfp"].read_text())
    spec["root"]["dag"]["tasks"]["Trainer"]["gpu"] = 1
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(spec))
    assert cli.main(["submit-kubeflow", str(broken), "--target", "kfp", "--host", "http://h",
                     "--dry-run"]) == 2
    assert "not a valid PipelineSpec" in capsys.readouterr().err


def test_kfp_dry_run_prints_the_requests(spec_files, capsys):
    assert cli.main(["submit-kubeflow", str(spec_files["kfp"]), "--target", "kfp", "--host",
                     "http://kfp.example:8888", "--dry-run", "--parameter",
                     "eval_percent=20"]) == 0
    out = capsys.readouterr().out
    assert "GET  /apis/v2beta1/pipelines/names/imdb-sentiment-rnn" in out
    run = json.loads(out[out.index("{"):])
    assert run["runtime_config"]["parameters"] == {"eval_percent": 20}


class FakeKfp(BaseHTTPRequestHandler):
    """Just enough of the KFP v2beta1 API: pipelines by name, uploads, versions, runs."""

    pipelines = {}  # name -> id
    requests = []

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        url = urlparse(self.path)
        self.requests.append((self.command, url.path, parse_qs(url.query),
                              self.rfile.read(length), dict(self.headers)))
        return url.path, parse_qs(url.query)

    def do_GET(self):
        path, _ = self._record()
        if path.startswith("/apis/v2beta1/pipelines/names/"):
            name = path.rsplit("/", 1)[1]
            if name in self.pipelines:
                return self._reply(200, {"pipeline_id": self.pipelines[name]})
            return self._reply(404, {"error": "not found"})
        if path.endswith("/versions"):
            return self._reply(200, {"pipeline_versions": [{"pipeline_version_id": "v-1"}]})
        self._reply(400, {})

    def do_POST(self):
        path, query = self._record()
        if path == "/apis/v2beta1/pipelines/upload":
            self.pipelines[query["name"][0]] = "p-1"
            return self._reply(200, {"pipeline_id": "p-1"})
        if path == "/apis/v2beta1/pipelines/upload_version":
            return self._reply(200, {"pipeline_id": query["pipelineid"][0],
                                     "pipeline_version_id": "v-2"})
        if path == "/apis/v2beta1/runs":
            return self._reply(200, {"run_id": f"r-{len(self.requests)}"})
        self._reply(400, {})

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_kfp():
    server = HTTPServer(("127.0.0.1", 0), FakeKfp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeKfp.pipelines, FakeKfp.requests = {}, []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_kfp_upload_then_new_versions_each_run_with_parameters(spec_files, fake_kfp, capsys):
    argv = ["submit-kubeflow", str(spec_files["kfp"]), "--target", "kfp", "--host", fake_kfp,
            "--token", "t0k", "--parameter", "max_examples=500"]
    assert cli.main(argv) == 0 and cli.main(argv) == 0
    calls = [(method, path) for method, path, *_ in FakeKfp.requests]
    assert calls == [
        ("GET", "/apis/v2beta1/pipelines/names/imdb-sentiment-rnn"),
        ("POST", "/apis/v2beta1/pipelines/upload"),
        ("GET", "/apis/v2beta1/pipelines/p-1/versions"),
        ("POST", "/apis/v2beta1/runs"),
        ("GET", "/apis/v2beta1/pipelines/names/imdb-sentiment-rnn"),
        ("POST", "/apis/v2beta1/pipelines/upload_version"),
        ("POST", "/apis/v2beta1/runs")]
    upload = FakeKfp.requests[1]
    assert b'name="uploadfile"; filename="imdb-sentiment-rnn.yaml"' in upload[3]
    uploaded = upload[3].split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    assert json.loads(uploaded) == json.loads(spec_files["kfp"].read_text())
    assert all(headers.get("Authorization") == "Bearer t0k" for *_, headers in FakeKfp.requests)
    first_run, second_run = (json.loads(FakeKfp.requests[i][3]) for i in (3, 6))
    assert first_run["pipeline_version_reference"] == {"pipeline_id": "p-1",
                                                       "pipeline_version_id": "v-1"}
    assert second_run["pipeline_version_reference"]["pipeline_version_id"] == "v-2"
    assert second_run["runtime_config"]["parameters"] == {"max_examples": 500}
    assert "submitted run r-7 of pipeline p-1 version v-2" in capsys.readouterr().out


def test_kfp_refusal_is_one_line_and_exit_code_1(spec_files, capsys):
    # Nothing listens on port 9 (discard): the connection is refused.
    assert cli.main(["submit-kubeflow", str(spec_files["kfp"]), "--target", "kfp",
                     "--host", "http://127.0.0.1:9"]) == 1
    assert "submit to kfp failed" in capsys.readouterr().err
