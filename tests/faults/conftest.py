"""The fault-injection suite (`make test-faults`): its own PostgreSQL and RabbitMQ on spare ports,
the distributed stack on them, and the fault table at the end.

Collected only when tests/faults (or a file in it) is named on the command line, or with
OMS_FAULTS=1: `pytest tests` / `make test` never run it (it kills servers and takes minutes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Only what the collection guard needs is imported here: `pytest tests` loads this file too
# (and then ignores the suite), so nothing the suite drives may break it.
from tests.faults.report import OUT_DIR, FaultReport

HERE = Path(__file__).resolve().parent


def _requested(config: pytest.Config) -> bool:
    if os.environ.get("OMS_FAULTS") == "1":
        return True
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    if HERE in Path(collection_path).resolve().parents and not _requested(config):
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: fault-injection suite (make test-faults), not part of make test"
    )


REPORT = FaultReport()


@pytest.fixture(scope="session")
def report() -> FaultReport:
    return REPORT


@pytest.fixture(scope="session")
def env(report: FaultReport) -> Iterator:
    from tests.faults.environment import fault_environment

    with fault_environment(report) as fenv:
        yield fenv


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REPORT.rows or REPORT.sections:
        outcome = "all passed" if exitstatus == 0 else f"pytest exit status {int(exitstatus)} (failures)"
        REPORT.write(outcome)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not REPORT.rows:
        return
    terminalreporter.section("fault table")
    terminalreporter.write_line(REPORT.text_table())
    terminalreporter.write_line(f"(details and evidence: {OUT_DIR / 'latest.md'})")
