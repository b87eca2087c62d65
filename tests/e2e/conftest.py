"""Fixtures every end-to-end module's stack takes (a module that imports the embedded stack's
fixture from test_embedded.py gets these by name here)."""

from __future__ import annotations

import pytest

from tests.e2e.channel_inbox import ChannelInbox
from tests.e2e.embedded_process import free_port


@pytest.fixture(scope="module")
def channels():
    """The plant's webhook and WeCom robot, failing each message's first try (channel_inbox.py)."""
    with ChannelInbox() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def http_port() -> int:
    """The edge's HTTP/JSON API port of the embedded stack."""
    return free_port()
