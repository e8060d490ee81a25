from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.servers import ServiceMissing
from device_registry.profile import Profile, shipped_profiles
from tests.fixtures.serial_pair import SerialPair


@pytest.fixture(scope="session")
def profiles() -> dict[str, Profile]:
    return shipped_profiles()


@pytest.fixture(scope="session")
def lamp(profiles: dict[str, Profile]) -> Profile:
    return profiles["sw-lamp-controller"]


@pytest.fixture
def serial_pair() -> Iterator[SerialPair]:
    """A fresh pty pair from socat (a serial line with a client end and a server end)."""
    pair = SerialPair()
    try:
        pair.start()
    except ServiceMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield pair
    pair.close()
