"""Routing rules (pure): channels, quiet hours in the plant's zone, backoff; and the tenant file's
[notify] section checked at start-up, with channels built from the environment."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.chassis.tenant_config import Notify, NotifyChannel, TenantConfig
from services.chassis.tenants import load_tenants
from services.notify.channels import WebhookChannel, WeComChannel
from services.notify.channels.directory import build_channels
from services.notify.domain.routing import Backoff, channels_for, quiet_until, route

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def at(hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI, day: int = 8) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (at(21, 59), None),
        (at(22, 0), at(7, 0, day=9)),
        (at(23, 30), at(7, 0, day=9)),
        (at(0, 0, day=9), at(7, 0, day=9)),
        (at(6, 59, day=9), at(7, 0, day=9)),
        (at(7, 0, day=9), None),
        (at(12, 0), None),
    ],
)
def test_quiet_hours_across_midnight_end_at_the_plants_morning(now, until):
    assert quiet_until("22:00-07:00", now, SHANGHAI) == until


def test_quiet_hours_within_a_day_and_never_quiet_forms():
    assert quiet_until("12:00-13:30", at(12, 45), SHANGHAI) == at(13, 30)
    assert quiet_until("12:00-13:30", at(13, 30), SHANGHAI) is None
    assert quiet_until("00:00-00:00", at(3, 0), SHANGHAI) is None
    assert quiet_until("", at(3, 0), SHANGHAI) is None


def test_quiet_hours_end_at_the_wall_clock_time_across_a_clock_change():
    """Berlin leaves summer time on 2026-10-25 at 03:00: 07:00 that morning is 06:00 UTC."""
    night = datetime(2026, 10, 24, 23, 0, tzinfo=BERLIN).astimezone(UTC)
    assert quiet_until("22:00-07:00", night, BERLIN) == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_a_route_holds_only_what_is_not_urgent():
    night = at(23)
    held = route(("plant_wecom",), ("plant_webhook",), "22:00-07:00", False, night, SHANGHAI)
    assert (held.channels, held.not_before, held.held_reason) == (
        ("plant_wecom",),
        at(7, day=9),
        "quiet_hours",
    )
    urgent = route(("plant_wecom",), (), "22:00-07:00", True, night, SHANGHAI)
    assert (urgent.not_before, urgent.held_reason) == (night, "")
    assert route((), ("plant_webhook", "plant_webhook"), "", False, night, SHANGHAI).channels == (
        "plant_webhook",
    )
    assert channels_for((), ()) == ()


def test_backoff_doubles_to_its_cap_honours_a_longer_hint_and_gives_up():
    policy = Backoff(attempts=5, base_delay_s=5, factor=2, max_delay_s=30)
    assert [policy.after_failure(n) for n in range(1, 6)] == [5, 10, 20, 30, None]
    assert policy.after_failure(1, retry_after_s=60) == 30  # capped too
    assert policy.after_failure(1, retry_after_s=2) == 5  # a shorter hint never shortens the wait


def test_the_tenant_file_refuses_channels_that_cannot_work():
    with pytest.raises(ValidationError, match="exactly one of url and url_env"):
        NotifyChannel(type="wecom")
    with pytest.raises(ValidationError, match="needs secret_env"):
        NotifyChannel(type="webhook", url="https://sms.plant.local/oms")
    with pytest.raises(ValidationError, match="needs host, port and from_address"):
        NotifyChannel(type="smtp", host="smtp.exmail.qq.com")
    with pytest.raises(ValidationError, match="url_env"):
        NotifyChannel(type="wecom", url_env="lower_case")
    with pytest.raises(ValidationError, match="holds its key: name it by url_env"):
        NotifyChannel(type="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    with pytest.raises(ValidationError, match="from_address"):  # a header injection
        NotifyChannel(
            type="smtp", host="smtp.exmail.qq.com", port=465, from_address="oms@x.cn\r\nBcc: a@b.cn"
        )
    with pytest.raises(ValidationError, match="takes no secret_env"):
        NotifyChannel(
            type="smtp", host="smtp.exmail.qq.com", port=465, from_address="oms@x.cn", secret_env="OMS_X"
        )
    hardware = load_tenants(("hardware",))["hardware"]
    raw = hardware.model_dump(by_alias=True)
    raw["people"]["周建华"]["channels"] = ["plant_wechat"]
    raw["notify"]["default_channels"] = ["nowhere"]
    with pytest.raises(ValidationError) as refused:
        TenantConfig.model_validate(raw)
    said = str(refused.value)
    assert "people.\"周建华\".channels: 'plant_wechat' is not declared under [notify.channels]" in said
    assert "notify.default_channels: 'nowhere' is not declared under [notify.channels]" in said


def test_channels_are_built_from_the_environment_and_an_unset_one_says_which_variable():
    hardware = load_tenants(("hardware",))["hardware"]
    built = build_channels(
        hardware,
        {
            "OMS_NOTIFY_HARDWARE_WEBHOOK_URL": "https://hooks.plant.local/oms",
            "OMS_NOTIFY_HARDWARE_WEBHOOK_SECRET": "s",
        },
    )
    assert isinstance(built.channels["plant_webhook"], WebhookChannel)
    assert built.unavailable == {
        "plant_wecom": "environment variable OMS_NOTIFY_HARDWARE_WECOM_URL is not set"
    }
    robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    both = build_channels(
        hardware, {"OMS_NOTIFY_HARDWARE_WECOM_URL": robot, "OMS_NOTIFY_HARDWARE_WEBHOOK_URL": "ftp://x"}
    )
    assert isinstance(both.channels["plant_wecom"], WeComChannel)
    assert both.unavailable == {"plant_webhook": "OMS_NOTIFY_HARDWARE_WEBHOOK_URL is not an http(s) URL"}
    assert Notify().retry.attempts == 10
