"""Settings: local defaults for the embedded stack, no silent defaults in production."""

from __future__ import annotations

import pytest

from services.chassis.settings import DEV_JWKS_FILE, DEV_SERVICE_TOKEN_FILE, MissingSetting, from_env

JWKS = "/etc/oms/jwks/jwks.json"  # the issuer's public keys, as Kubernetes mounts them


def test_embedded_defaults_need_no_environment():
    s = from_env("order", env={})
    assert s.sqlalchemy_url == "sqlite:///var/order.db"
    assert s.amqp_url == ""
    assert (s.jwks_file, s.jwks_url, s.uses_dev_keys) == (str(DEV_JWKS_FILE), "", True)
    assert s.service_token_file == str(DEV_SERVICE_TOKEN_FILE)
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


@pytest.mark.parametrize("missing", ["OMS_DB_URL", "OMS_AMQP_URL", "OMS_JWKS_FILE"])
def test_production_refuses_to_start_without_a_required_value_and_names_it(missing):
    env = {
        "OMS_ENV": "production",
        "OMS_DB_URL": "postgresql://db/x",
        "OMS_AMQP_URL": "amqp://mq",
        "OMS_JWKS_FILE": JWKS,
    }
    del env[missing]
    with pytest.raises(MissingSetting, match=missing):
        from_env("order", env=env)


def test_production_takes_the_issuers_keys_from_a_file_or_a_url_never_the_dev_keys():
    base = {"OMS_ENV": "production", "OMS_DB_URL": "postgresql://db/x", "OMS_AMQP_URL": "amqp://mq"}
    with pytest.raises(MissingSetting, match="OMS_JWKS_FILE or OMS_JWKS_URL"):
        from_env("order", env=base)
    by_url = from_env("order", env={**base, "OMS_JWKS_URL": "https://login.example/jwks.json"})
    assert (by_url.jwks_file, by_url.jwks_url) == ("", "https://login.example/jwks.json")
    assert not by_url.uses_dev_keys
    assert by_url.service_token_file == ""  # no dev default: given explicitly, or none


def test_a_missing_peer_address_names_its_variable():
    with pytest.raises(MissingSetting, match="OMS_CUSTOMER_ADDR"):
        from_env("order", env={}).peer("customer")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_still_makes_an_engine(url):
    from sqlalchemy import text

    from services.chassis.db import make_engine

    with make_engine(url).connect() as conn:
        assert conn.execute(text("select 1")).scalar_one() == 1


def test_dev_listens_on_this_machine_only_and_production_everywhere():
    from services.chassis.settings import grpc_address

    dev = from_env("order", env={})
    assert dev.bind_host == "127.0.0.1" and grpc_address(dev.bind_host, 50050) == "127.0.0.1:50050"
    prod = from_env(
        "order",
        env={"OMS_ENV": "production", "OMS_DB_URL": "postgresql://db/x", "OMS_AMQP_URL": "amqp://mq"}
        | {"OMS_JWKS_FILE": JWKS},
    )
    assert grpc_address(prod.bind_host, 50051) == "[::]:50051"
    assert grpc_address("::1", 5) == "[::1]:5"


def test_listening_elsewhere_is_a_setting_but_not_with_the_dev_keys():
    from services.chassis.settings import InvalidSetting

    assert from_env("order", env={"OMS_BIND_HOST": "::1"}).bind_host == "::1"
    assert from_env("order", env={"OMS_BIND_HOST": "localhost"}).bind_host == "localhost"
    own = from_env("order", env={"OMS_BIND_HOST": "0.0.0.0", "OMS_JWKS_FILE": JWKS})
    assert own.bind_host == "0.0.0.0"
    by_url = from_env("order", env={"OMS_BIND_HOST": "0.0.0.0", "OMS_JWKS_URL": "https://login.example/jwks"})
    assert by_url.bind_host == "0.0.0.0"
    for host in ("0.0.0.0", "192.168.1.20", "oms.example"):
        with pytest.raises(InvalidSetting, match=r"OMS_BIND_HOST.*OMS_JWKS_FILE"):
            from_env("order", env={"OMS_BIND_HOST": host})
    # production listens everywhere by default, so the dev keys are refused there too
    with pytest.raises(InvalidSetting, match="OMS_JWKS_FILE"):
        from_env(
            "order",
            env={"OMS_ENV": "production", "OMS_DB_URL": "postgresql://db/x", "OMS_AMQP_URL": "amqp://mq"}
            | {"OMS_JWKS_FILE": str(DEV_JWKS_FILE)},
        )


@pytest.mark.parametrize("value", ["prod", "development", "Production", "test"])
def test_oms_env_is_dev_or_production_and_nothing_else(value):
    from services.chassis.settings import InvalidSetting

    with pytest.raises(InvalidSetting, match="OMS_ENV"):
        from_env("order", env={"OMS_ENV": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("OMS_GRPC_PORT", "fifty"), ("OMS_METRICS_PORT", "70000"), ("OMS_SHUTDOWN_GRACE_S", "-1")],
)
def test_a_malformed_number_names_its_variable(name, value):
    from services.chassis.settings import InvalidSetting

    with pytest.raises(InvalidSetting, match=name):
        from_env("order", env={name: value})


def test_shutdown_defaults_drain_only_where_a_load_balancer_has_to_notice():
    dev = from_env("order", env={})
    assert (dev.drain_delay_s, dev.shutdown_grace_s) == (0, 10)
    prod = from_env(
        "order",
        env={"OMS_ENV": "production", "OMS_DB_URL": "postgresql://db/x", "OMS_AMQP_URL": "amqp://mq"}
        | {"OMS_JWKS_FILE": JWKS, "OMS_SHUTDOWN_GRACE_S": "20"},
    )
    assert prod.drain_delay_s > 0 and prod.shutdown_grace_s == 20


def test_a_tenant_release_in_production_needs_a_vhost_of_its_own():
    """Exchanges are per vhost: two releases on the default vhost each got every event of the
    other business line (and dropped it). Each release gets its own."""
    from services.chassis.settings import InvalidSetting, amqp_vhost

    production = {
        "OMS_ENV": "production",
        "OMS_DB_URL": "postgresql://order@db/oms_order",
        "OMS_JWKS_FILE": JWKS,
        "OMS_RELEASE": "hardware",
    }
    for shared in ("amqp://oms:pw@rabbitmq:5672/", "amqp://oms:pw@rabbitmq:5672", "amqp://oms:pw@mq/%2F"):
        with pytest.raises(InvalidSetting, match=r"OMS_AMQP_URL.*OMS_RELEASE"):
            from_env("order", {**production, "OMS_AMQP_URL": shared})
    own = from_env("order", {**production, "OMS_AMQP_URL": "amqp://oms:pw@rabbitmq:5672/oms-hardware"})
    assert amqp_vhost(own.amqp_url) == "oms-hardware"
    # one release alone on a broker (no OMS_RELEASE) may use the default vhost
    alone = {k: v for k, v in production.items() if k != "OMS_RELEASE"}
    assert from_env("order", {**alone, "OMS_AMQP_URL": "amqp://oms:pw@rabbitmq:5672/"}).release == ""
