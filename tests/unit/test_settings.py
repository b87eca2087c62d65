"""Settings: local defaults for the embedded stack, no silent defaults in production."""

from __future__ import annotations

import pytest

from services.chassis.settings import DEV_JWT_SECRET, MissingSetting, from_env


def test_embedded_defaults_need_no_environment():
    s = from_env("order", env={})
    assert s.sqlalchemy_url == "sqlite:///var/order.db"
    assert s.amqp_url == "" and s.jwt_secret == DEV_JWT_SECRET
    assert s.tenants == ("hardware", "autoparts")


def test_environment_overrides_defaults():
    s = from_env(
        "order",
        env={
            "OMS_DB_URL": "postgresql+psycopg://db/oms_order",
            "OMS_TENANTS": " autoparts ,",
            "OMS_GRPC_PORT": "50052",
            "OMS_INVENTORY_ADDR": "inventory:50051",
        },
    )
    assert s.sqlalchemy_url == "postgresql+psycopg://db/oms_order"
    assert s.tenants == ("autoparts",)
    assert s.grpc_port == 50052
    assert s.peer("inventory") == "inventory:50051"


@pytest.mark.parametrize("missing", ["OMS_DB_URL", "OMS_AMQP_URL", "OMS_JWT_SECRET"])
def test_production_refuses_to_start_without_a_required_value_and_names_it(missing):
    env = {
        "OMS_ENV": "production",
        "OMS_DB_URL": "postgresql://db/x",
        "OMS_AMQP_URL": "amqp://mq",
        "OMS_JWT_SECRET": "s" * 40,
    }
    del env[missing]
    with pytest.raises(MissingSetting, match=missing):
        from_env("order", env=env)


def test_a_missing_peer_address_names_its_variable():
    with pytest.raises(MissingSetting, match="OMS_CUSTOMER_ADDR"):
        from_env("order", env={}).peer("customer")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_still_makes_an_engine(url):
    from sqlalchemy import text

    from services.chassis.db import make_engine

    with make_engine(url).connect() as conn:
        assert conn.execute(text("select 1")).scalar_one() == 1
