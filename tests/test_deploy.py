"""The deployment files (deploy/): they parse, agree with each other and with the code.

No cluster, no Docker daemon, no network: the manifests are read as data. The one
test that builds the kustomizations runs only where kubectl or kustomize exists.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet
from hypercorn.config import Config

from graphql_api.app import create_app
from graphql_api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "production"
DOCKERFILE = DEPLOY / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "scheduling-worker.json"

API = "scheduling-worker-api"
WORKER = "scheduling-worker-sync"
SECRET = "scheduling-worker-secrets"

# The metrics contract: every name the alerts and the dashboard may use, as the
# API (/metrics) and the worker (WORKER_METRICS_PORT) export them.
API_METRICS = {
    "http_request_duration_seconds",
    "graphql_operation_duration_seconds",
    "graphql_errors_total",
    "dataloader_batch_size",
    "mongo_command_duration_seconds",
    "db_connections_active",
    "db_connections_max",
    "cache_requests_total",
    "websocket_connections_open",
    "graphql_subscriptions_active",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
}
WORKER_METRICS = {"job_queue_depth", "job_duration_seconds"}
METRICS = API_METRICS | WORKER_METRICS
HISTOGRAMS = {
    "http_request_duration_seconds",
    "graphql_operation_duration_seconds",
    "dataloader_batch_size",
    "mongo_command_duration_seconds",
    "job_duration_seconds",
}

# Environment variables that are not settings of the app: the image's own.
NON_APP_ENV = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
REQUIRED_IGNORES = {".venv", "node_modules", ".git", ".data", "tests", "bench"}
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the containers must bind, not a bind

PROMQL_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "on", "ignoring"}
PROMQL_KEYWORDS |= {"group_left", "group_right", "by", "without"}
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


# --- reading the files ---------------------------------------------------------


def documents(path: Path) -> list[Any]:
    """Every YAML document of the file (`---` separated), empty ones left out."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization(directory: Path) -> dict[str, Any]:
    [doc] = documents(directory / "kustomization.yaml")
    assert isinstance(doc, dict)
    return doc


def resources(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization lists, through the directories it includes."""
    found: list[dict[str, Any]] = []
    for entry in kustomization(directory).get("resources", []):
        path = directory / entry
        found += resources(path) if path.is_dir() else documents(path)
    return found


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def containers_of(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in containers_of(deployment) if c["name"] == name]
    return found


def generator_literals(directory: Path) -> dict[str, str]:
    literals: dict[str, str] = {}
    for generator in kustomization(directory).get("configMapGenerator", []):
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            literals[key] = value
    return literals


def compose() -> dict[str, Any]:
    [doc] = documents(DEPLOY / "compose.yaml")
    assert isinstance(doc, dict)
    return doc


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        instruction, _, arguments = (current + stripped).partition(" ")
        instructions.append((instruction.upper(), arguments.strip()))
        current = ""
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def copies() -> Iterator[tuple[list[str], list[str], str]]:
    """Every COPY as (flags, sources, destination)."""
    for name, arguments in dockerfile():
        if name == "COPY":
            words = arguments.split()
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            yield flags, paths[:-1], paths[-1]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads, histogram series folded to their
    histogram (`x_bucket` -> `x`); label names, functions and keywords left out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = PROMQL_GROUPING.sub("", text)  # by (...), on (...): label names
    names = set()
    for match in re.finditer(r"[A-Za-z_][\w:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == "." or text[match.end() :].lstrip().startswith("("):
            continue  # an exponent of a number, or a function or aggregation
        if match[0] not in PROMQL_KEYWORDS:
            names.add(match[0])
    return {histogram_of(name) for name in names}


def histogram_of(name: str) -> str:
    for suffix in HISTOGRAM_SERIES:
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


def exprs(node: Any) -> Iterator[str]:
    """Every PromQL `expr` of a Grafana dashboard, wherever it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from exprs(item)


def alerts() -> dict[str, dict[str, Any]]:
    [rule] = [o for o in resources(BASE) if o["kind"] == "PrometheusRule"]
    return {
        r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r
    }


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


# --- the tests -------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses() -> None:
    # given
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    # when
    parsed = {path.relative_to(DEPLOY): documents(path) for path in files}
    # then
    assert len(files) >= 10
    for path, docs in parsed.items():
        assert docs, path
        assert all(isinstance(doc, dict) for doc in docs), path
    assert json.loads(DASHBOARD.read_text())["panels"]


def test_the_kustomizations_list_files_that_exist() -> None:
    for path in DEPLOY.rglob("kustomization.yaml"):
        # given
        directory = path.parent
        k = kustomization(directory)
        # when
        listed = [directory / r for r in k.get("resources", [])]
        listed += [directory / p["path"] for p in k.get("patches", []) if "path" in p]
        listed += [
            directory / f.rpartition("=")[2]
            for g in k.get("configMapGenerator", [])
            for f in g.get("files", [])
        ]
        # then
        for entry in listed:
            assert entry.is_file() or (entry / "kustomization.yaml").is_file(), entry
    assert "secret.example.yaml" not in kustomization(BASE)["resources"]


def test_the_overlay_resolves_to_the_base_and_patches_what_is_there() -> None:
    # given
    objects = resources(OVERLAY)
    present = {(o["kind"], o["metadata"]["name"]) for o in objects}
    overlay = kustomization(OVERLAY)
    # when
    patched = {
        (p["target"]["kind"], p["target"]["name"]) for p in overlay["patches"] if "target" in p
    }
    for patch in overlay["patches"]:
        if "path" in patch:
            patched |= {
                (d["kind"], d["metadata"]["name"]) for d in documents(OVERLAY / patch["path"])
            }
    # then
    assert {
        ("Deployment", API),
        ("Deployment", WORKER),
        ("Service", API),
        ("HorizontalPodAutoscaler", API),
        ("PodDisruptionBudget", API),
        ("PrometheusRule", "scheduling-worker"),
    } <= present
    assert patched <= present
    assert {r["name"] for r in overlay["replicas"]} <= {n for k, n in present if k == "Deployment"}
    images = {c["image"] for o in objects if o["kind"] == "Deployment" for c in containers_of(o)}
    assert {i["name"] for i in overlay["images"]} <= images
    assert all(i["newTag"] not in {"", "latest"} for i in overlay["images"])
    base_generators = {g["name"] for g in kustomization(BASE)["configMapGenerator"]}
    assert {g["name"] for g in overlay["configMapGenerator"]} <= base_generators
    assert generator_literals(OVERLAY)["MONGO_SECONDARY_READS"] == "true"


def test_probes_and_scrapes_point_at_routes_the_app_serves() -> None:
    # given
    app = create_app(Settings())  # builds the routes; nothing is served or connected
    routes = {getattr(route, "path", None) for route in app.routes}
    objects = resources(BASE)
    api = container(one(objects, "Deployment", API), "api")
    # when
    probes = {
        api[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    monitor = one(objects, "ServiceMonitor", API)
    scraped = {e["path"] for e in monitor["spec"]["endpoints"]}
    [healthcheck] = [a for n, a in dockerfile() if n == "HEALTHCHECK"]
    [url] = re.findall(r"http://[^'\"\s]+", healthcheck)
    # then
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes | scraped | {urlsplit(url).path} <= routes
    assert urlsplit(url).port == 3003


def test_the_api_listens_on_port_3003_everywhere() -> None:
    # given
    port = Settings.model_fields["port"].default
    objects = resources(BASE)
    api = container(one(objects, "Deployment", API), "api")
    service = one(objects, "Service", API)
    # when
    [http] = [p for p in api["ports"] if p["name"] == "http"]
    [service_port] = service["spec"]["ports"]
    # then
    assert port == 3003
    assert http["containerPort"] == port
    assert service_port["port"] == port
    assert service_port["targetPort"] in {"http", port}
    assert service["spec"]["sessionAffinity"] == "None"
    assert Config.from_toml(DEPLOY / "hypercorn.toml").bind == [f"{ALL_INTERFACES}:{port}"]
    assert ("EXPOSE", str(port)) in dockerfile()
    assert generator_literals(BASE)["PORT"] == str(port)
    assert f"{port}:{port}" in compose()["services"]["api"]["ports"]


def test_every_environment_variable_is_a_setting() -> None:
    # given
    names: dict[str, set[str]] = {}
    for service_name, service in compose()["services"].items():
        if "build" in service:
            names[f"compose {service_name}"] = set(compose_environment(service))
    # (the manifests pass settings through envFrom; an explicit `env` counts too)
    for obj in [o for o in resources(BASE) if o["kind"] == "Deployment"]:
        if env := {e["name"] for c in containers_of(obj) for e in c.get("env", [])}:
            names[f"Deployment {obj['metadata']['name']}"] = env
    names["base ConfigMap"] = set(generator_literals(BASE))
    names["overlay ConfigMap"] = set(generator_literals(OVERLAY))
    [secret] = documents(BASE / "secret.example.yaml")
    names["secret.example.yaml"] = set(secret["stringData"])
    names["Dockerfile"] = {
        word.partition("=")[0] for n, a in final_stage() if n == "ENV" for word in shlex.split(a)
    }
    # when
    unknown = {where: found - setting_names() - NON_APP_ENV for where, found in names.items()}
    # then
    assert all(names.values())
    assert {where: found for where, found in unknown.items() if found} == {}


def test_the_containers_read_the_configmap_and_the_secret() -> None:
    # given
    objects = resources(BASE)
    [generator] = kustomization(BASE)["configMapGenerator"]
    [secret] = documents(BASE / "secret.example.yaml")
    for name in (API, WORKER):
        # when
        deployment = one(objects, "Deployment", name)
        [main] = containers_of(deployment)
        sources = main["envFrom"]
        pod = deployment["spec"]["template"]["spec"]
        # then
        assert {"configMapRef": {"name": generator["name"]}} in sources
        assert {"secretRef": {"name": SECRET}} in sources
        assert secret["metadata"]["name"] == SECRET
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert main["securityContext"]["readOnlyRootFilesystem"] is True
        assert main["resources"]["limits"]["memory"] == "512Mi"
        assert pod["enableServiceLinks"] is False
    worker = container(one(objects, "Deployment", WORKER), "worker")
    assert worker["command"] == ["scheduling-worker", "worker"]
    assert [p["containerPort"] for p in worker["ports"]] == [
        Settings.model_fields["worker_metrics_port"].default
    ]


def test_hypercorn_drains_within_the_pods_grace_period() -> None:
    # given
    config = Config.from_toml(DEPLOY / "hypercorn.toml")
    deployment = one(resources(BASE), "Deployment", API)
    pod = deployment["spec"]["template"]["spec"]
    # when
    grace = pod["terminationGracePeriodSeconds"]
    pre_stop = container(deployment, "api")["lifecycle"]["preStop"]["exec"]["command"]
    # then: one serving process per pod, whatever the environment holds
    assert config.workers == 1
    assert generator_literals(BASE)["WEB_CONCURRENCY"] == "1"
    assert "WEB_CONCURRENCY" not in generator_literals(OVERLAY)
    assert config.accesslog is None
    assert config.graceful_timeout == 20
    assert pre_stop[0] == "sleep"
    assert config.graceful_timeout + int(pre_stop[1]) < grace


def test_the_dockerfile_copies_what_exists_and_runs_the_configured_hypercorn() -> None:
    # given
    instructions = dockerfile()
    runtime = final_stage()
    ignored = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # when
    local = [(sources, dest) for flags, sources, dest in copies() if not flags]
    [cmd] = [json.loads(a) for n, a in runtime if n == "CMD"]
    [user] = [a for n, a in runtime if n == "USER"]
    env = dict(w.partition("=")[::2] for n, a in runtime if n == "ENV" for w in shlex.split(a))
    [(_, _, assets)] = [c for c in copies() if c[1] == ["/assets/node_modules"]]
    # then
    assert sum(1 for n, _ in instructions if n == "FROM") >= 3
    for sources, _ in local:
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source.rstrip("/"), p) for p in ignored), source
    assert set(ignored) >= REQUIRED_IGNORES
    [config] = [dest for sources, dest in local if sources == ["deploy/hypercorn.toml"]]
    assert cmd == ["scheduling-worker", "serve", "--config", config]  # with the WebSocket drain
    assert user.partition(":")[0] not in {"root", "0"}
    assert env["GRAPHIQL_ASSETS"] == assets
    assert env["HOST"] == ALL_INTERFACES
    assert any(n == "RUN" and "npm ci --omit=dev" in a for n, a in instructions)


def test_the_alerts_fire_on_the_contracted_metrics() -> None:
    # given
    rules = alerts()
    # when
    used = set().union(*(metric_names(r["expr"]) for r in rules.values()))
    # then
    assert {"HighResponseTime", "HighMemoryUsage", "DBConnectionPoolExhausted"} <= set(rules)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name
    assert rules["HighResponseTime"]["for"] == "5m"
    assert "http_request_duration_seconds_bucket[5m]" in rules["HighResponseTime"]["expr"]
    assert "0.5" in rules["HighResponseTime"]["expr"]
    assert rules["DBConnectionPoolExhausted"]["for"] == "2m"
    assert metric_names(rules["HighMemoryUsage"]["expr"]) == {"process_resident_memory_bytes"}
    assert used <= METRICS


def test_the_dashboard_reads_every_contracted_metric_and_nothing_else() -> None:
    # given
    dashboard = json.loads(DASHBOARD.read_text())
    [generator] = kustomization(DASHBOARD.parent)["configMapGenerator"]
    # when
    used = set().union(*(metric_names(e) for e in exprs(dashboard["panels"])))
    # then
    assert used == METRICS
    assert generator["files"] == [DASHBOARD.name]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    assert (BASE / "../../grafana").resolve() in {
        (BASE / r).resolve() for r in kustomization(BASE)["resources"]
    }


def test_metric_names_ignores_labels_functions_and_numbers() -> None:
    # given
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(x_seconds_bucket{job=~"a|b"}[5m])))'
        " / on (pod) group_left y_total > 1e3 and z"
    )
    # when
    names = metric_names(expr)
    # then
    assert names == {"x_seconds_bucket", "y_total", "z"}
    assert metric_names("rate(job_duration_seconds_count[$__rate_interval])") == {
        "job_duration_seconds"
    }


def test_compose_runs_the_image_on_mongo_7_and_redis_7() -> None:
    # given
    services = compose()["services"]
    api_env = compose_environment(services["api"])
    # when
    # (validated as given: neither this process's environment nor a .env file joins in)
    settings = Settings.model_validate({name.lower(): value for name, value in api_env.items()})
    # then
    assert services["mongodb"]["image"] == "mongo:7"
    assert services["redis"]["image"] == "redis:7"
    assert "--replSet" in services["mongodb"]["command"]
    assert "replicaSet=rs0" in api_env["MONGODB_URI"]
    assert "rs.initiate" in services["mongodb"]["healthcheck"]["test"][-1]
    assert services["api"]["ports"] == ["3003:3003"]
    assert services["api"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["worker"]["command"] == ["scheduling-worker", "worker"]
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert {d["condition"] for d in depends.values()} == {"service_healthy"}, name
    assert settings.is_production
    assert settings.host == ALL_INTERFACES
    assert settings.credentials_key is not None
    Fernet(settings.credentials_key)  # a valid key, not only a present one


KUSTOMIZE = shutil.which("kustomize")
KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUSTOMIZE is None and KUBECTL is None, reason="no kustomize or kubectl")
def test_the_production_overlay_builds() -> None:
    # given
    command = [KUSTOMIZE, "build"] if KUSTOMIZE else [str(KUBECTL), "kustomize"]
    # when
    built = subprocess.run(
        [*map(str, command), str(OVERLAY)], capture_output=True, text=True, timeout=120, check=True
    )
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]
    # then
    [config] = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("scheduling-worker-config")
    ]
    assert config["data"]["MONGO_SECONDARY_READS"] == "true"
    images = {c["image"] for o in objects if o["kind"] == "Deployment" for c in containers_of(o)}
    assert len(images) == 1
    assert not images.pop().endswith(":latest")
    refs = {
        s["configMapRef"]["name"]
        for o in objects
        if o["kind"] == "Deployment"
        for s in containers_of(o)[0]["envFrom"]
        if "configMapRef" in s
    }
    assert refs == {config["metadata"]["name"]}


CLUSTER_OVERLAY = DEPLOY / "k8s" / "overlays" / "redis-cluster"


def test_the_compose_cluster_variant_joins_six_nodes_and_keeps_the_queue_apart() -> None:
    # given
    [variant] = documents(DEPLOY / "compose.cluster.yaml")
    services = variant["services"]
    nodes = sorted(name for name in services if name.startswith("redis-node-"))
    # when
    merged = {
        name: {**compose_environment(compose()["services"][name]), **services[name]["environment"]}
        for name in ("api", "worker")
    }
    settings = Settings.model_validate({k.lower(): v for k, v in merged["api"].items()})
    create = services["redis-cluster-init"]["command"][-1]
    # then: six nodes in cluster mode, joined with a replica each
    assert len(nodes) == 6
    for name in nodes:
        command = services[name]["command"]
        assert command[command.index("--cluster-enabled") + 1] == "yes"
        assert services[name]["image"] == "redis:7"
    assert "--cluster create" in create
    assert "--cluster-replicas 1" in create
    assert "for n in 0 1 2 3 4 5" in create
    # and the app: the cluster for everything but the queue, which stays on compose's Redis
    assert settings.redis_cluster
    assert urlsplit(settings.redis_url or "").hostname in nodes
    assert urlsplit(settings.queue_redis_url or "").hostname == "redis"
    assert "redis" in compose()["services"]
    assert merged["worker"]["QUEUE_REDIS_URL"] == merged["api"]["QUEUE_REDIS_URL"]
    for name in ("api", "worker"):
        init = services[name]["depends_on"]["redis-cluster-init"]
        assert init["condition"] == "service_completed_successfully"
    unknown = {k for env in merged.values() for k in env} - setting_names() - NON_APP_ENV
    assert unknown == set()


@pytest.mark.skipif(KUSTOMIZE is None and KUBECTL is None, reason="no kustomize or kubectl")
def test_the_redis_cluster_overlay_builds_on_production_with_redis_cluster_set() -> None:
    # given
    command = [KUSTOMIZE, "build"] if KUSTOMIZE else [str(KUBECTL), "kustomize"]
    # when
    built = subprocess.run(
        [*map(str, command), str(CLUSTER_OVERLAY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]
    # then
    [config] = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("scheduling-worker-config")
    ]
    assert config["data"]["REDIS_CLUSTER"] == "true"
    assert config["data"]["MONGO_SECONDARY_READS"] == "true"  # the production overlay's
    assert {"REDIS_CLUSTER"} <= setting_names()
    [secret] = documents(BASE / "secret.example.yaml")
    assert "QUEUE_REDIS_URL" in (BASE / "secret.example.yaml").read_text()
    assert "REDIS_URL" in secret["stringData"]
