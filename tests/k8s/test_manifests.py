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

GRPC_SERVICES = ("customer", "order", "production", "inventory", "ingest", "notify")
# Deployment -> the service whose code and database it uses
DEPLOYMENTS = {name: name for name in GRPC_SERVICES} | {"notify-worker": "notify"}
WORKERS = {"notify-worker"}
GRPC_PORT = 50051
METRICS_PORT = 9464
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
    then env. Literal values are strings; secret references are ('secret', name, key)."""
    config_maps = of_kind(objects, "ConfigMap")
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
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


def test_one_deployment_per_service_plus_the_notify_worker(objects):
    assert set(of_kind(objects, "Deployment")) == set(DEPLOYMENTS)


def test_pods_run_non_root_with_read_only_root_and_no_capabilities(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the Dockerfile's USER
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


def test_grpc_servers_have_grpc_probes_and_the_worker_has_no_grpc_port(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        app = app_container(deployment)
        ports = {p["name"]: p["containerPort"] for p in app.get("ports", [])}
        assert ports.get("metrics") == METRICS_PORT, name
        if name in WORKERS:
            assert "grpc" not in ports, name
            assert "readinessProbe" not in app or "grpc" not in app["readinessProbe"], name
            continue
        assert ports.get("grpc") == GRPC_PORT, name
        for probe in ("readinessProbe", "livenessProbe"):
            assert app[probe]["grpc"]["port"] == GRPC_PORT, f"{name} {probe}"


def test_commands(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        service = DEPLOYMENTS[name]
        command = app_container(deployment)["command"]
        if name in WORKERS:
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
        service = DEPLOYMENTS[name]
        migrate = init_container(deployment, "migrate")
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
            for peer in ("customer", "inventory", "order"):
                assert env[f"OMS_{peer.upper()}_ADDR"] == f"{peer}:{GRPC_PORT}", where
            expected_secrets = {
                "OMS_DB_URL": (f"oms-{service}-db", "url"),
                "OMS_AMQP_URL": ("oms-amqp", "url"),
            }
            for var, (secret, key) in expected_secrets.items():
                kind, ref, ref_key = env[var]
                assert (kind, unhashed(ref, objects), ref_key) == ("secret", secret, key), f"{where} {var}"
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
    referenced = {
        ref
        for deployment in of_kind(objects, "Deployment").values()
        for container in all_containers(deployment)
        for _, ref, _ in (v for v in environment(container, objects).values() if isinstance(v, tuple))
    }
    if overlay in TENANT_RELEASES:
        assert not secrets, f"{overlay} must not ship Secrets: {sorted(secrets)}"
        # the names documented in k8s/README.md, without hash suffixes
        assert referenced == {f"oms-{s}-db" for s in GRPC_SERVICES} | {
            "oms-amqp",
            "oms-wms",
            "oms-marketplace",
        }
    else:
        assert referenced <= set(secrets), f"unresolved Secret references: {referenced - set(secrets)}"
        for secret in secrets.values():
            for key, value in {**secret.get("data", {}), **secret.get("stringData", {})}.items():
                assert value, f"{secret['metadata']['name']}.{key} is empty"


def test_services_verify_tokens_with_the_public_keys_of_configmap_oms_jwks(objects, overlay):
    """Every app container reads OMS_JWKS_FILE from the ConfigMap oms-jwks mounted read-only; no
    token secret reaches any pod. Tenant releases are given oms-jwks (k8s/README.md); dev
    generates it from public keys only."""
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
