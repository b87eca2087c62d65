"""Start-up refusals as an operator sees them: a busy port, exposed dev keys or an unknown
OMS_ENV stops the process with one line naming the variable and exit status 2, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.embedded_process import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def start(argv: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    full.update(OMS_DATA_DIR=str(tmp_path), OMS_HTTP_PORT="0")
    full.update(env)
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


def assert_refused(result: subprocess.CompletedProcess, *names: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot start" in lines[0]
    for name in names:
        assert name in lines[0], lines[0]


def test_a_service_on_a_busy_grpc_port_names_oms_grpc_port(tmp_path, busy_port):
    result = start(["-m", "services.order", "serve"], tmp_path, OMS_GRPC_PORT=str(busy_port))
    assert_refused(result, f"OMS_GRPC_PORT={busy_port}", "in use")
    assert not list(tmp_path.glob("*.db")), "start-up went on to create the database"


def test_the_embedded_stack_on_a_busy_grpc_port_names_oms_grpc_port(tmp_path, busy_port):
    assert_refused(start(["-m", "services"], tmp_path, OMS_GRPC_PORT=str(busy_port)), "OMS_GRPC_PORT")


def test_a_busy_metrics_port_names_oms_metrics_port(tmp_path, busy_port):
    result = start(["-m", "services"], tmp_path, OMS_GRPC_PORT="0", OMS_METRICS_PORT=str(busy_port))
    assert_refused(result, f"OMS_METRICS_PORT={busy_port}")


def test_listening_beyond_this_machine_with_the_dev_keys_is_refused(tmp_path):
    result = start(["-m", "services"], tmp_path, OMS_GRPC_PORT="0", OMS_BIND_HOST="0.0.0.0")
    assert_refused(result, "OMS_BIND_HOST", "OMS_JWKS_FILE")


def test_an_unknown_environment_is_refused(tmp_path):
    assert_refused(start(["-m", "services.order", "serve"], tmp_path, OMS_ENV="staging"), "OMS_ENV")
