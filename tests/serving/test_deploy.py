"""serving/deploy.py, models_config.py and server_configs.py: every generated file parses with
the real proto or YAML loader, and the files agree with each other on names, ports, mounts and
flags. Offline, no pipeline run."""
import os
import shlex

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import deploy
from serving.models_config import (HOST_MODELS_CONFIG, MODELS_CONFIG, model_server_config,
                                   read_version_labels)
from serving.server_configs import (BATCHING_CONFIG, MONITORING_CONFIG, BatchingParameters,
                                    MonitoringConfig)
from contract import signatures

MODEL = "imdb"


def write(tmp_path_factory, serving_dir, **kwargs):
    out = tmp_path_factory.mktemp("deploy")
    result = deploy.write_deployment_files(str(out), serving_dir, MODEL, **kwargs)
    return str(out), result


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("serving_model")
    (path / "3").mkdir()
    return str(path)


@pytest.fixture(scope="module")
def local(tmp_path_factory, serving_dir):
    """Local serving dir, stable 3 + canary 4, batching on, 3 cores."""
    return write(tmp_path_factory, serving_dir, stable_version=3, canary_version=4,
                 enable_batching=True, cpus=3)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """Remote serving dir, defaults (latest version, no labels, no batching)."""
    return write(tmp_path_factory, "gs://bucket/imdb/serving", cpus=2)


def parse_text(path, message):
    with open(path) as f:
        return text_format.Parse(f.read(), message)  # Strict: unknown fields raise.


def model_config(out, name=MODELS_CONFIG):
    config = parse_text(os.path.join(out, name), model_server_config_pb2.ModelServerConfig())
    assert len(config.model_config_list.config) == 1
    return config.model_config_list.config[0]


def load_yaml(out, name):
    with open(os.path.join(out, name)) as f:
        return list(yaml.safe_load_all(f))


def only(out, name):
    documents = load_yaml(out, name)
    assert len(documents) == 1
    return documents[0]


def container(deployment):
    (spec,) = deployment["spec"]["template"]["spec"]["containers"]
    return spec


def docker_argv(out):
    """docker-run.sh as argv: comments dropped, continuation lines joined, `exec` removed."""
    with open(os.path.join(out, "docker-run.sh")) as f:
        argv = shlex.split(f.read().replace("\\\n", " "), comments=True)  # As sh does.
    assert argv[:3] == ["exec", "docker", "run"]
    return argv[1:]


def docker_parts(argv):
    """(ports, mounts {target: source}, image, server args) from a `docker run` argv."""
    ports, mounts, i = [], {}, 2
    while argv[i].startswith("-"):
        flag = argv[i]
        if flag in ("-p", "--mount", "-e", "--name"):
            value = argv[i + 1]
            if flag == "-p":
                ports.append(value)
            elif flag == "--mount":
                fields = dict(f.partition("=")[::2] for f in value.split(","))
                assert fields["type"] == "bind" and "readonly" in fields
                mounts[fields["target"]] = fields["source"]
            i += 2
        else:
            i += 1
    return ports, mounts, argv[i], argv[i + 1:]


# ------------------------------------------------------------------------ server configs
def test_models_config_serves_labelled_versions_from_the_mount(local):
    out, _ = local
    model = model_config(out)
    assert model.name == MODEL and model.model_platform == "tensorflow"
    assert model.base_path == f"/models/{MODEL}"
    assert model.model_version_policy.WhichOneof("policy_choice") == "specific"
    assert sorted(model.model_version_policy.specific.versions) == [3, 4]
    assert dict(model.version_labels) == {"stable": 3, "canary": 4}


def test_host_config_differs_only_by_absolute_base_path(local, serving_dir):
    out, _ = local
    container_model, host_model = model_config(out), model_config(out, HOST_MODELS_CONFIG)
    assert host_model.base_path == os.path.abspath(serving_dir)
    host_model.base_path = container_model.base_path
    assert host_model == container_model


@pytest.mark.parametrize("stable, canary, versions", [(7, None, [7]), (None, 9, [9]),
                                                      (8, 5, [5, 8])])
def test_version_policy_holds_exactly_the_labelled_versions(stable, canary, versions):
    config = model_server_config(MODEL, "/m", stable_version=stable,
                                        canary_version=canary)
    model = config.model_config_list.config[0]
    assert list(model.model_version_policy.specific.versions) == versions
    expected = {k: v for k, v in (("stable", stable), ("canary", canary)) if v is not None}
    assert dict(model.version_labels) == expected


def test_remote_serving_dir_is_read_directly(remote):
    out, result = remote
    for name in (MODELS_CONFIG, HOST_MODELS_CONFIG):
        model = model_config(out, name)
        assert model.base_path == "gs://bucket/imdb/serving"
        assert model.model_version_policy.latest.num_versions == 1
        assert not model.version_labels
    deployment = only(out, "k8s/deployment.yaml")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert [v["name"] for v in volumes] == ["config"]  # No PVC: TF Serving reads gs://.
    assert [m["mountPath"] for m in container(deployment)["volumeMounts"]] == ["/config"]
    _, mounts, _, _ = docker_parts(result.docker_command)
    assert list(mounts) == ["/config"]
    isvc = only(out, "kserve/inferenceservice.yaml")
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == "gs://bucket/imdb/serving"


def test_batching_parameters_are_cpu_sized(local):
    out, _ = local
    params = parse_text(os.path.join(out, BATCHING_CONFIG), BatchingParameters())
    assert params.num_batch_threads.value == 3  # The cores given.
    assert 0 < params.batch_timeout_micros.value <= 10000
    assert params.max_batch_size.value >= 1
    assert params.max_enqueued_batches.value == 3
    assert not params.pad_variable_length_inputs
    with open(os.path.join(out, BATCHING_CONFIG)) as f:
        assert "NOT measured" in f.read()


def test_batching_message_reads_tf_servings_documented_format():
    # The example of TF Serving's docs (serving_config.md): wrapper messages, `{ value: N }`.
    documented = ("max_batch_size { value: 128 }\nbatch_timeout_micros { value: 0 }\n"
                  "max_enqueued_batches { value: 1000000 }\nnum_batch_threads { value: 8 }\n")
    params = text_format.Parse(documented, BatchingParameters())
    assert params.max_enqueued_batches.value == 1000000
    with pytest.raises(text_format.ParseError):  # Scalars where TF Serving wants wrappers.
        text_format.Parse("max_batch_size: 128", BatchingParameters())


def test_monitoring_config_exposes_prometheus(local):
    out, _ = local
    config = parse_text(os.path.join(out, MONITORING_CONFIG), MonitoringConfig())
    assert config.prometheus_config.enable
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


# ------------------------------------------------------------------------ Kubernetes, KServe
def test_every_yaml_file_loads(local):
    out, _ = local
    kinds = {name: [d["kind"] for d in load_yaml(out, name)] for name in (
        "k8s/configmap.yaml", "k8s/deployment.yaml", "k8s/deployment-gpu.yaml",
        "k8s/service.yaml", "k8s/hpa.yaml", "kserve/inferenceservice.yaml")}
    assert kinds == {"k8s/configmap.yaml": ["ConfigMap"], "k8s/deployment.yaml": ["Deployment"],
                     "k8s/deployment-gpu.yaml": ["Deployment"], "k8s/service.yaml": ["Service"],
                     "k8s/hpa.yaml": ["HorizontalPodAutoscaler"],
                     "kserve/inferenceservice.yaml": ["InferenceService"]}
    assert list(only(out, "docker-compose.yaml")["services"]) == [MODEL]
    for name in [*kinds, "docker-compose.yaml"]:
        with open(os.path.join(out, name)) as f:
            assert "&id" not in f.read()  # No YAML anchors/aliases.


def test_deployment_ports_probes_and_model_mount(local):
    out, _ = local
    deployment = only(out, "k8s/deployment.yaml")
    spec = container(deployment)
    assert spec["image"] == "tensorflow/serving:2.15.1"
    assert {p["name"]: p["containerPort"] for p in spec["ports"]} == {"grpc": 8500, "http": 8501}
    for probe in ("readinessProbe", "livenessProbe"):
        assert spec[probe]["httpGet"] == {"path": f"/v1/models/{MODEL}", "port": 8501}
    assert spec["resources"]["requests"]["cpu"] == spec["resources"]["limits"]["cpu"] == "3"
    mounts = {m["name"]: m["mountPath"] for m in spec["volumeMounts"]}
    assert mounts["models"] == model_config(out).base_path
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == f"{MODEL}-models"
    assert "replicas" not in deployment["spec"]  # The HPA owns it.


def test_container_args_point_into_the_mounted_configmap(local):
    out, _ = local
    deployment = only(out, "k8s/deployment.yaml")
    configmap = only(out, "k8s/configmap.yaml")
    spec = container(deployment)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    config_mount = {m["name"]: m["mountPath"] for m in spec["volumeMounts"]}["config"]
    file_flags = {"--model_config_file", "--monitoring_config_file", "--batching_parameters_file"}
    paths = [a.split("=", 1)[1] for a in spec["args"] if a.split("=", 1)[0] in file_flags]
    assert len(paths) == 3
    for path in paths:
        assert os.path.dirname(path) == config_mount
        with open(os.path.join(out, os.path.basename(path))) as f:  # Same text as on disk.
            assert configmap["data"][os.path.basename(path)] == f.read()


def test_gpu_deployment_is_the_cpu_one_on_a_gpu(local):
    out, _ = local
    cpu, gpu = only(out, "k8s/deployment.yaml"), only(out, "k8s/deployment-gpu.yaml")
    cpu_spec, gpu_spec = container(cpu), container(gpu)
    assert gpu_spec["image"] == "tensorflow/serving:2.15.1-gpu"
    assert gpu_spec["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in cpu_spec["resources"]["limits"]
    for key in ("args", "ports", "readinessProbe", "livenessProbe", "volumeMounts"):
        assert gpu_spec[key] == cpu_spec[key]
    assert gpu["metadata"]["name"] != cpu["metadata"]["name"]
    assert gpu["spec"]["replicas"] == 0  # `kubectl apply -f k8s/` works without GPU nodes.


def test_service_and_hpa_reach_the_deployments(local):
    out, _ = local
    cpu, gpu = only(out, "k8s/deployment.yaml"), only(out, "k8s/deployment-gpu.yaml")
    service, hpa = only(out, "k8s/service.yaml"), only(out, "k8s/hpa.yaml")
    for deployment in (cpu, gpu):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == labels
        assert service["spec"]["selector"].items() <= labels.items()
    assert cpu["spec"]["selector"] != gpu["spec"]["selector"]  # No two controllers per pod.
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "grpc": (8500, "grpc"), "http": (8501, "http")}
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": cpu["metadata"]["name"]}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_kserve_reads_the_deployments_volume(local):
    out, _ = local
    isvc = only(out, "kserve/inferenceservice.yaml")
    volumes = {v["name"]: v for v in
               only(out, "k8s/deployment.yaml")["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["models"]["persistentVolumeClaim"]["claimName"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["name"] == MODEL
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "tensorflow"}
    assert model["runtimeVersion"] == "2.15.1"
    assert model["storageUri"] == f"pvc://{claim}/"


# ------------------------------------------------------------------------ Docker
def test_docker_run_and_compose_run_the_same_server(local, serving_dir):
    out, result = local
    argv = docker_argv(out)
    assert argv == result.docker_command
    ports, mounts, image, args = docker_parts(argv)
    assert image == "tensorflow/serving:2.15.1"
    assert sorted(ports) == ["8500:8500", "8501:8501"]
    assert mounts == {"/config": out, model_config(out).base_path: os.path.abspath(serving_dir)}
    assert args == container(only(out, "k8s/deployment.yaml"))["args"]
    compose = only(out, "docker-compose.yaml")["services"][MODEL]
    assert compose["image"] == image and sorted(compose["ports"]) == sorted(ports)
    assert compose["command"] == args
    assert {v["target"]: v["source"] for v in compose["volumes"]} == mounts
    assert all(v["read_only"] and v["type"] == "bind" for v in compose["volumes"])
    assert f"/v1/models/{MODEL}" in " ".join(compose["healthcheck"]["test"])
    assert os.access(os.path.join(out, "docker-run.sh"), os.X_OK)


def test_batching_and_label_flags_only_when_asked(local, remote):
    local_args = docker_parts(local[1].docker_command)[3]
    remote_args = docker_parts(remote[1].docker_command)[3]
    assert "--enable_batching" in local_args
    assert "--batching_parameters_file=/config/batching_parameters.txt" in local_args
    assert "--allow_version_labels_for_unavailable_models" in local_args
    assert not [a for a in remote_args if "batching" in a or "version_labels" in a]
    out = remote[0]
    assert container(only(out, "k8s/deployment.yaml"))["args"] == remote_args
    assert only(out, "docker-compose.yaml")["services"][MODEL]["command"] == remote_args
    for flag in ("--model_config_file=/config/models.config", "--port=8500",
                 "--rest_api_port=8501", "--model_config_file_poll_wait_seconds=60",
                 "--monitoring_config_file=/config/monitoring.config"):
        assert flag in remote_args


def test_readme_lists_files_and_commands(local):
    out, result = local
    with open(os.path.join(out, "README.txt")) as f:
        readme = f.read()
    for path in result.paths:
        name = os.path.relpath(path, out)
        if name != "README.txt":
            assert f"  {name}\n" in readme
    assert shlex.join(result.docker_command) in readme
    assert "docker compose -f docker-compose.yaml up" in readme
    assert "kubectl apply -f k8s/" in readme
    assert f"curl http://localhost:8501/v1/models/{MODEL}\n" in readme
    assert f"/v1/models/{MODEL}:predict" in readme
    assert f'"signature_name": "{signatures.RAW_TEXT_SIGNATURE}"' in readme
    assert f'"{signatures.RAW_TEXT_INPUT}": ' in readme


# ------------------------------------------------------------------------ labels, validation
def test_read_version_labels_round_trip(local, remote, tmp_path):
    assert read_version_labels(os.path.join(local[0], MODELS_CONFIG),
                               MODEL) == {"stable": 3, "canary": 4}
    assert read_version_labels(os.path.join(remote[0], MODELS_CONFIG), MODEL) == {}
    with pytest.raises(ValueError, match="no model named 'other'"):
        read_version_labels(os.path.join(local[0], MODELS_CONFIG), "other")
    broken = tmp_path / "models.config"
    broken.write_text('model_config_list { config { name: "imdb" labels: 1 } }')
    with pytest.raises(text_format.ParseError):
        read_version_labels(str(broken), MODEL)


def test_read_version_labels_from_a_remote_file_system(local):
    import tensorflow as tf

    path = "ram://deploy-test/models.config"
    with open(os.path.join(local[0], MODELS_CONFIG)) as src:
        with tf.io.gfile.GFile(path, "w") as dst:
            dst.write(src.read())
    assert read_version_labels(path, MODEL) == {"stable": 3, "canary": 4}


@pytest.mark.parametrize("kwargs, message", [
    (dict(model_name="My_Model"), "DNS-1123"),
    (dict(stable_version=4, canary_version=4), "must differ"),
    (dict(stable_version=0), "positive"),
    (dict(cpus=0), "cpus"),
])
def test_bad_inputs_are_rejected_before_writing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        deploy.write_deployment_files(str(tmp_path / "out"), "/srv/models",
                                      **{"model_name": MODEL, **kwargs})
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ CLI
def test_cli_writes_the_files_for_the_pipelines_serving_dir(tmp_path, capsys):
    from cli.main import main

    code = main(["serving-config", "--output-dir", str(tmp_path), "--stable-version", "5",
                 "--cpus", "2", "--enable-batching"])
    printed = capsys.readouterr().out
    assert code == 0
    out = tmp_path / "serving_config"
    assert model_config(str(out), HOST_MODELS_CONFIG).base_path == str(
        tmp_path / "serving_model")  # config.resolved_serving_dir.
    assert dict(model_config(str(out)).version_labels) == {"stable": 5}
    params = parse_text(str(out / BATCHING_CONFIG), BatchingParameters())
    assert params.num_batch_threads.value == 2
    assert "k8s/deployment.yaml" in printed and "docker: docker run" in printed
    assert "--enable_batching" in printed


def test_cli_remote_serving_dir_and_custom_out(tmp_path, capsys):
    from cli.main import main

    out = tmp_path / "deploy"
    assert main(["serving-config", "--serving-dir", "s3://b/serving", "--out", str(out),
                 "--model-name", "sentiment"]) == 0
    model = model_config(str(out))
    assert (model.name, model.base_path) == ("sentiment", "s3://b/serving")
    assert "--enable_batching" not in capsys.readouterr().out


def test_cli_rejects_a_model_name_kubernetes_cannot_use(tmp_path, capsys):
    from cli.main import main

    assert main(["serving-config", "--output-dir", str(tmp_path),
                 "--model-name", "my_model"]) == 2
    assert "DNS-1123" in capsys.readouterr().err
    assert not (tmp_path / "serving_config").exists()
