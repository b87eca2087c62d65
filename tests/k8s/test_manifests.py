"""Render every kustomize overlay in k8s/overlays and check what would reach the cluster.

Each overlay is rendered once with `kubectl kustomize`, every object is validated against the
Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields are errors), and the
properties our design promises are asserted on the rendered objects, not on the source files.
Without kubectl or kubernetes-validate the tests skip, or fail when CI=true.
"""

from __future__ import annotations

import copy
import os
import pathlib
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
OVERLAYS_DIR = ROOT / "k8s" / "overlays"

# overlay -> the OMS_TENANTS its pods must get
TENANTS = {
    "hardware": "hardware",
    "autoparts": "autoparts",
    "dev": "hardware,autoparts",
}
TENANT_RELEASES = ("hardware", "autoparts")  # one business line each, own namespace

GRPC_SERVICES = ("customer", "order", "production", "inventory", "ingest", "notify", "identity")
EDGE = "edge"  # the HTTP/JSON API: no database, calls every gRPC service
# Deployment -> the service whose code it runs
DEPLOYMENTS = {name: name for name in GRPC_SERVICES} | {"notify-worker": "notify", EDGE: EDGE}
WORKERS = {"notify-worker"}
# Deployment -> the database it migrates and uses (every Deployment but the edge)
DATABASES = {name: service for name, service in DEPLOYMENTS.items() if name != EDGE}
GRPC_PORT = 50051
METRICS_PORT = 9464
HTTP_PORT = 8080  # the edge's OMS_HTTP_PORT; its Service answers on 80
# The token issuer's private key: in the identity pod only, as the file OMS_ISSUER_KEY_FILE.
ISSUER_SECRET = "oms-identity-issuer"
ISSUER_KEY_DIR = "/var/run/secrets/oms/issuer"
ISSUER_KEY_FILE = f"{ISSUER_KEY_DIR}/issuer.jwk.json"
# Secrets a tenant release must be given (k8s/README.md), and those it may be given.
REQUIRED_SECRETS = {f"oms-{db}-db" for db in DATABASES.values()} | {"oms-amqp", "oms-wms", ISSUER_SECRET}
OPTIONAL_SECRETS = {"oms-marketplace", "oms-marketplace-shops", "oms-notify-channels"}
# Kubernetes versions to validate against: the kubectl we render with, and the newest schema.
K8S_VERSIONS = ("1.32", "1.37")


def _require(what: str) -> None:
    message = f"{what} is needed to check the Kubernetes manifests"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        _require("kubectl (v1.32 or newer, it renders kustomize overlays offline)")
    return path


@pytest.fixture(scope="session")
def kubernetes_validate():
    try:
        import kubernetes_validate
    except ImportError:
        _require("the kubernetes-validate package (pip install '.[dev]')")
    return kubernetes_validate


@pytest.fixture(scope="session")
def render(kubectl, kubernetes_validate):
    """render(overlay) -> the objects `kubectl kustomize` prints, rendered once per session."""
    import yaml  # installed with kubernetes-validate

    rendered: dict[str, list[dict[str, Any]]] = {}

    def _render(overlay: str) -> list[dict[str, Any]]:
        if overlay not in rendered:
            result = subprocess.run(
                [kubectl, "kustomize", str(OVERLAYS_DIR / overlay)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
            rendered[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        return rendered[overlay]

    return _render


@pytest.fixture(params=sorted(TENANTS))
def overlay(request) -> str:
    return request.param


@pytest.fixture
def objects(render, overlay) -> list[dict[str, Any]]:
    return render(overlay)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def all_containers(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def init_container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    inits = {c["name"]: c for c in deployment["spec"]["template"]["spec"].get("initContainers", [])}
    assert name in inits, f"{deployment['metadata']['name']}: no init container {name!r}"
    return inits[name]


def app_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"], deployment["metadata"]["name"]
    return containers[0]


def environment(container: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The container's environment as the kubelet would build it: envFrom ConfigMaps first,
    then env. Literal values are strings; secret references are ('secret', name, key). Whole
    Secrets in envFrom (names unknown here) are left out: see secret_references."""
    config_maps = of_kind(objects, "ConfigMap")
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            continue
        ref = source["configMapRef"]["name"]
        assert ref in config_maps, f"envFrom references missing ConfigMap {ref}"
        env.update(config_maps[ref]["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = ("secret", ref["name"], ref["key"])
    return env


def secret_references(deployment: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, bool]:
    """Every Secret the pod reads (env, envFrom, volumes), without hash suffix -> optional?"""
    refs: dict[str, bool] = {}

    def add(name: str, optional: bool) -> None:
        name = unhashed(name, objects)
        refs[name] = refs.get(name, True) and optional

    for container in all_containers(deployment):
        for var in container.get("env", []):
            if "secretKeyRef" in var.get("valueFrom", {}):
                ref = var["valueFrom"]["secretKeyRef"]
                add(ref["name"], ref.get("optional", False))
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                add(source["secretRef"]["name"], source["secretRef"].get("optional", False))
    for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
        if "secret" in volume:
            add(volume["secret"]["secretName"], volume["secret"].get("optional", False))
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                add(source["secret"]["name"], source["secret"].get("optional", False))
    return refs


def unhashed(name: str, objects: list[dict[str, Any]]) -> str:
    """`oms-amqp-5h7k9m2c4t` -> `oms-amqp` when that Secret is rendered (a kustomize generator's
    10-character hash suffix); other names are returned unchanged."""
    base, _, suffix = name.rpartition("-")
    return base if name in of_kind(objects, "Secret") and len(suffix) == 10 else name


# --- the overlays themselves ----------------------------------------------------------------


def test_every_overlay_on_disk_is_checked():
    on_disk = {p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file()}
    assert on_disk == set(TENANTS), "add new overlays to TENANTS in this test"


def test_rendered_objects_pass_strict_schema_validation(objects, kubernetes_validate, overlay):
    errors = []
    for obj in objects:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} (k8s {version}) {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                errors.append(e.message)
    assert not errors, f"{overlay}:\n" + "\n".join(errors)


def test_validator_rejects_an_unknown_field(render, kubernetes_validate):
    """Guards the test above: strict validation must catch a misspelt field."""
    broken = copy.deepcopy(of_kind(render("hardware"), "Deployment")["customer"])
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"grpc": {"port": GRPC_PORT}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_everything_lands_in_the_overlays_own_namespace(objects, overlay):
    namespaces = of_kind(objects, "Namespace")
    assert list(namespaces) == [f"oms-{overlay}"]
    assert namespaces[f"oms-{overlay}"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == f"oms-{overlay}", obj["metadata"]["name"]


def test_tenant_releases_use_different_namespaces(render):
    namespaces = {
        tenant: {o["metadata"].get("namespace") for o in render(tenant) if o["kind"] != "Namespace"}
        for tenant in TENANT_RELEASES
    }
    assert all(len(ns) == 1 for ns in namespaces.values()), namespaces
    assert namespaces["hardware"].isdisjoint(namespaces["autoparts"])


# --- Deployments ------------------------------------------------------------------------------


def test_one_deployment_per_service_plus_the_notify_worker_and_the_edge(objects):
    assert set(of_kind(objects, "Deployment")) == set(DEPLOYMENTS)


def test_pods_run_non_root_with_read_only_root_and_no_capabilities(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the Dockerfile's USER
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in all_containers(deployment):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]["name"]], f"{where}: /tmp emptyDir"


def test_every_container_has_resource_requests_and_limits(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in all_containers(deployment):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                where = f"{name}/{container['name']} {bound}"
                assert set(resources.get(bound, {})) >= {"cpu", "memory"}, where


def test_grpc_servers_have_grpc_probes_the_edge_http_ones_and_the_worker_no_grpc_port(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        app = app_container(deployment)
        ports = {p["name"]: p["containerPort"] for p in app.get("ports", [])}
        assert ports.get("metrics") == METRICS_PORT, name
        if name in WORKERS:
            assert "grpc" not in ports, name
            assert "readinessProbe" not in app or "grpc" not in app["readinessProbe"], name
            continue
        if name == EDGE:
            assert ports == {"http": HTTP_PORT, "metrics": METRICS_PORT}, name
            for probe in ("readinessProbe", "livenessProbe"):
                assert set(app[probe]) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"httpGet"}, probe
                get = app[probe]["httpGet"]
                assert get["path"] == "/healthz" and get["port"] in ("http", HTTP_PORT), f"{name} {probe}"
            continue
        assert ports.get("grpc") == GRPC_PORT, name
        for probe in ("readinessProbe", "livenessProbe"):
            assert app[probe]["grpc"]["port"] == GRPC_PORT, f"{name} {probe}"


def _get(app: Any, path: str) -> int:
    """The status an ASGI app answers GET `path` with."""
    import asyncio

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"]


def test_the_edge_answers_its_probes_path(render):
    """The path the probes ask for is one the edge serves (services/edge/app.py), with 200."""
    from services.edge.app import Edge

    app = app_container(of_kind(render("hardware"), "Deployment")[EDGE])
    edge = Edge({})  # no backends: health does not call them
    for probe in ("readinessProbe", "livenessProbe"):
        path = app[probe]["httpGet"]["path"]
        assert _get(edge, path) == 200, f"{probe}: GET {path}"


def test_commands(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        service = DEPLOYMENTS[name]
        command = app_container(deployment)["command"]
        if name == EDGE:
            assert command == ["python", "-m", "services.edge"]
        elif name in WORKERS:
            assert command == [
                "nameko",
                "run",
                "--config",
                f"services/{service}/nameko.yaml",
                f"services.{service}.worker",
            ]
        else:
            assert command == ["python", "-m", f"services.{service}", "serve"], name


def test_migrations_run_once_per_pod_in_an_init_container_not_in_the_server(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        if name not in DATABASES:
            continue  # the edge: test_the_edge_has_no_database_and_no_broker
        service = DATABASES[name]
        migrate = init_container(deployment, "migrate")
        assert [c["name"] for c in deployment["spec"]["template"]["spec"]["initContainers"]] == ["migrate"]
        assert migrate["command"] == ["python", "-m", f"services.{service}", "migrate"], name
        assert "migrate" not in app_container(deployment)["command"], name
        # the migration talks to the same database as the server
        migrate_db = environment(migrate, objects)["OMS_DB_URL"]
        assert migrate_db == environment(app_container(deployment), objects)["OMS_DB_URL"], name


def test_one_image_for_every_container(objects, overlay):
    images = {c["image"] for d in of_kind(objects, "Deployment").values() for c in all_containers(d)}
    assert len(images) == 1, images
    (image,) = images
    name, _, tag = image.rpartition(":")
    assert name.endswith("zhongshu-oms") and tag and tag != "latest", image
    if overlay in TENANT_RELEASES:
        assert "/" in name, f"{image}: a tenant release pulls from a registry"


def test_environment(objects, overlay):
    for name, deployment in of_kind(objects, "Deployment").items():
        service = DEPLOYMENTS[name]
        for container in all_containers(deployment):
            where = f"{overlay}: {name}/{container['name']}"
            env = environment(container, objects)
            assert env["OMS_SERVICE"] == service, where
            assert env["OMS_TENANTS"] == TENANTS[overlay], where
            assert env["OMS_GRPC_PORT"] == str(GRPC_PORT), where
            assert env["OMS_METRICS_PORT"] == str(METRICS_PORT), where
            assert env["OMS_LOG_LEVEL"], where
            # every gRPC service's address (the edge calls them all), each a headless Service
            for peer in GRPC_SERVICES:
                assert env[f"OMS_{peer.upper()}_ADDR"] == f"{peer}:{GRPC_PORT}", where
            if name in DATABASES:
                expected_secrets = {
                    "OMS_DB_URL": (f"oms-{DATABASES[name]}-db", "url"),
                    "OMS_AMQP_URL": ("oms-amqp", "url"),
                }
                for var, (secret, key) in expected_secrets.items():
                    kind, ref, ref_key = env[var]
                    assert (kind, unhashed(ref, objects), ref_key) == ("secret", secret, key), (
                        f"{where} {var}"
                    )
            else:
                assert "OMS_DB_URL" not in env and "OMS_AMQP_URL" not in env, where
                assert env["OMS_HTTP_PORT"] == str(HTTP_PORT), where
            # only identity reads the issuer's private key (its migrate too: it wires the service)
            if name == "identity":
                assert env["OMS_ISSUER_KEY_FILE"] == ISSUER_KEY_FILE, where
            else:
                assert "OMS_ISSUER_KEY_FILE" not in env, where
            if overlay in TENANT_RELEASES:
                assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http"), where
            # only inventory talks to the plant's WMS, through the Secret oms-wms
            if service == "inventory":
                kind, ref, ref_key = env["OMS_WMS_URL"]
                assert (kind, unhashed(ref, objects), ref_key) == ("secret", "oms-wms", "url"), where
            else:
                assert "OMS_WMS_URL" not in env, where
            # only ingest pulls marketplace shops: its gateway through the Secret oms-marketplace
            if service == "ingest":
                kind, ref, ref_key = env["OMS_MARKETPLACE_URL"]
                assert (kind, unhashed(ref, objects), ref_key) == ("secret", "oms-marketplace", "url"), where
            else:
                assert "OMS_MARKETPLACE_URL" not in env, where


def test_secrets_are_generated_only_in_dev(objects, overlay):
    secrets = of_kind(objects, "Secret")
    referenced: dict[str, bool] = {}  # name (no hash suffix) -> optional in every pod reading it
    for deployment in of_kind(objects, "Deployment").values():
        for ref, optional in secret_references(deployment, objects).items():
            referenced[ref] = referenced.get(ref, True) and optional
    required = {ref for ref, optional in referenced.items() if not optional}
    if overlay in TENANT_RELEASES:
        assert not secrets, f"{overlay} must not ship Secrets: {sorted(secrets)}"
        # the names documented in k8s/README.md
        assert required == REQUIRED_SECRETS
        assert set(referenced) - required == OPTIONAL_SECRETS
    else:
        generated = {unhashed(s, objects) for s in secrets}
        assert required <= generated, f"unresolved Secret references: {required - generated}"
        for secret in secrets.values():
            for key, value in {**secret.get("data", {}), **secret.get("stringData", {})}.items():
                assert value, f"{secret['metadata']['name']}.{key} is empty"


def test_services_verify_tokens_with_the_public_keys_of_configmap_oms_jwks(objects, overlay):
    """Every app container (the edge's and identity's too) reads OMS_JWKS_FILE from the ConfigMap
    oms-jwks mounted read-only; no token secret reaches any pod through its environment (the
    issuer's private key reaches identity as a file: test_the_issuer_key_...). Tenant releases
    are given oms-jwks (k8s/README.md); dev generates it from public keys only."""
    from services.chassis.identity import parse_jwks

    config_maps = of_kind(objects, "ConfigMap")
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in all_containers(deployment):
            env = environment(container, objects)
            assert not [k for k in env if "JWT" in k or "SECRET" in k], f"{name}/{container['name']}"
            assert env["OMS_JWKS_FILE"] == "/etc/oms/jwks/jwks.json", f"{name}/{container['name']}"
        [mount] = [m for m in app_container(deployment)["volumeMounts"] if m["mountPath"] == "/etc/oms/jwks"]
        assert mount.get("readOnly") is True, name
        config_map = volumes[mount["name"]]["configMap"]["name"]
        base, _, suffix = config_map.rpartition("-")
        assert (base if config_map in config_maps and len(suffix) == 10 else config_map) == "oms-jwks", name
    if overlay in TENANT_RELEASES:
        assert not [n for n in config_maps if n.startswith("oms-jwks")], "a tenant release is given its keys"
    else:
        [jwks] = [c for n, c in config_maps.items() if n.startswith("oms-jwks")]
        assert parse_jwks(jwks["data"]["jwks.json"], "oms-jwks")  # public keys only, or it raises


def test_dev_databases_and_broker_only_in_dev(objects, overlay):
    statefulsets = set(of_kind(objects, "StatefulSet"))
    dev = {"postgres", "rabbitmq", "wms-simulator", "marketplace-simulator"}
    assert statefulsets == (dev if overlay == "dev" else set())


def test_pods_are_scraped_on_the_metrics_port(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(METRICS_PORT), name


def test_the_issuer_key_is_mounted_only_into_identitys_server(objects, overlay):
    """The private key that signs every token: the Secret oms-identity-issuer, read-only, owner
    read only (the kubelet adds group read for fsGroup), in the identity pod and no other (both its
    containers: `migrate` wires the service, and identity's wiring loads the key)."""
    workloads = {**of_kind(objects, "Deployment"), **of_kind(objects, "StatefulSet")}
    for name, workload in workloads.items():
        holds_key = ISSUER_SECRET in secret_references(workload, objects)
        assert holds_key == (name == "identity"), f"{name}: {ISSUER_SECRET} only in identity"

    identity = of_kind(objects, "Deployment")["identity"]
    pod = identity["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert unhashed(volume["secret"]["secretName"], objects) == ISSUER_SECRET
    assert volume["secret"]["defaultMode"] == 0o400
    assert [(i["key"], i["path"], i.get("mode", 0o400)) for i in volume["secret"]["items"]] == [
        ("issuer.jwk.json", "issuer.jwk.json", 0o400)
    ]
    # Secret files are root-owned: uid 10001 reads a 0400 file only through the pod's fsGroup.
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"] == 10001
    for container in all_containers(identity):
        where = f"identity/{container['name']}"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[ISSUER_KEY_DIR] == {
            "name": volume["name"],
            "mountPath": ISSUER_KEY_DIR,
            "readOnly": True,
        }, where
        # identity refuses a key whose public half is not in OMS_JWKS_FILE: it reads that too
        assert mounts["/etc/oms/jwks"].get("readOnly") is True, where

    if overlay not in TENANT_RELEASES:  # dev: the committed dev-only key, whose public half is oms-jwks
        import base64
        import json

        [secret] = [s for n, s in of_kind(objects, "Secret").items() if unhashed(n, objects) == ISSUER_SECRET]
        key = json.loads(base64.b64decode(secret["data"]["issuer.jwk.json"]))
        assert key["d"], "the issuer key is a private key"
        [jwks] = [c for n, c in of_kind(objects, "ConfigMap").items() if n.startswith("oms-jwks")]
        public = {k["kid"]: k for k in json.loads(jwks["data"]["jwks.json"])["keys"]}
        assert public[key["kid"]]["x"] == key["x"], "oms-jwks verifies what identity signs"


def test_the_edge_has_no_database_and_no_broker(objects):
    edge = of_kind(objects, "Deployment")[EDGE]
    labels = edge["metadata"]["labels"]
    assert "oms.zhongshu.io/database" not in labels, "selects patches/database.yaml"
    assert labels["app.kubernetes.io/component"] != "grpc-server", "selects patches/grpc-server.yaml"
    pod = edge["spec"]["template"]["spec"]
    assert not pod.get("initContainers"), "the edge runs no migrations"
    env = environment(app_container(edge), objects)
    assert not {"OMS_DB_URL", "OMS_AMQP_URL", "OMS_ISSUER_KEY_FILE"} & set(env)
    assert secret_references(edge, objects) == {}, "the edge reads no Secret"
    assert {v["name"] for v in pod["volumes"]} == {"tmp", "jwks"}


def _startup_environment(
    container: dict[str, Any], objects: list[dict[str, Any]], overlay: str
) -> dict[str, str]:
    """The container's environment with a stand-in value for each Secret reference."""
    stand_ins = {  # shaped like the real ones: a tenant release's broker URL names its own vhost
        "oms-amqp": f"amqp://oms:stand-in@rabbitmq:5672/oms-{overlay}",
        **{
            f"oms-{db}-db": f"postgresql+psycopg://oms:stand-in@postgres:5432/oms_{db}"
            for db in DATABASES.values()
        },
    }
    return {
        var: stand_ins.get(unhashed(value[1], objects), "http://stand-in")
        if isinstance(value, tuple)
        else value
        for var, value in environment(container, objects).items()
    }


def test_servers_accept_their_environment(objects, overlay):
    """The settings each server reads at start (services.chassis.settings.from_env, OMS_ENV
    production) accept the rendered environment: nothing required is missing."""
    from services.chassis.settings import from_env

    for name, deployment in of_kind(objects, "Deployment").items():
        if name == EDGE:
            continue  # test_the_edge_accepts_its_environment
        for container in all_containers(deployment):
            settings = from_env(DEPLOYMENTS[name], _startup_environment(container, objects, overlay))
            assert settings.production and settings.metrics_port == METRICS_PORT, name


def test_the_edge_accepts_its_environment(objects, overlay):
    from services.catalog import NAMES
    from services.chassis.settings import MissingSetting, from_env

    env = _startup_environment(app_container(of_kind(objects, "Deployment")[EDGE]), objects, overlay)
    try:
        settings = from_env(EDGE, env)
    except MissingSetting as exc:
        pytest.fail(str(exc))
    assert settings.production and settings.http_port == HTTP_PORT and settings.metrics_port == METRICS_PORT
    assert {n: settings.peer(n) for n in NAMES} == {n: f"{n}:{GRPC_PORT}" for n in NAMES}


# --- Services ---------------------------------------------------------------------------------


def test_each_grpc_service_has_a_headless_service_selecting_its_pods(objects):
    services = of_kind(objects, "Service")
    deployments = of_kind(objects, "Deployment")
    for name in GRPC_SERVICES:
        service = services[name]
        # headless: clients resolve every ready pod and balance calls over them (round_robin)
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert service["spec"].get("clusterIP") == "None", name
        ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
        assert ports == {"grpc": (GRPC_PORT, "grpc"), "metrics": (METRICS_PORT, "metrics")}, name
        # the selector picks exactly this service's Deployment
        selector = service["spec"]["selector"].items()
        selected = [
            d
            for d, deployment in deployments.items()
            if selector <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert selected == [name], f"Service {name} selects {selected}"


def test_the_edge_has_a_cluster_ip_service_on_port_80(objects):
    service = of_kind(objects, "Service")[EDGE]
    edge = of_kind(objects, "Deployment")[EDGE]
    # not headless: HTTP clients open many connections, kube-proxy spreads them over the pods
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert service["spec"].get("clusterIP") != "None"
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"http": (80, "http"), "metrics": (METRICS_PORT, "metrics")}
    container_ports = {p["name"]: p["containerPort"] for p in app_container(edge)["ports"]}
    assert container_ports["http"] == HTTP_PORT
    selector = service["spec"]["selector"].items()
    selected = [
        d
        for d, deployment in of_kind(objects, "Deployment").items()
        if selector <= deployment["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert selected == [EDGE]


def test_extra_environment_secrets_reach_their_servers(objects):
    """A Deployment's own envFrom survives the shared patches (envFrom is replaced, not merged)."""
    expected = {"ingest": {"oms-marketplace-shops"}, "notify": {"oms-notify-channels"}}
    expected["notify-worker"] = expected["notify"]
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in all_containers(deployment):
            sources = container.get("envFrom", [])
            config = [s["configMapRef"]["name"].rsplit("-", 1)[0] for s in sources if "configMapRef" in s]
            assert config == ["oms-config"], f"{name}/{container['name']}"
        app = app_container(deployment)
        whole = {
            unhashed(s["secretRef"]["name"], objects) for s in app.get("envFrom", []) if "secretRef" in s
        }
        assert whole == expected.get(name, set()), name
