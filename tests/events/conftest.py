import pytest

from tests.events.receiver import Receiver, start_receiver


@pytest.fixture
def allow_loopback(settings):
    """The receivers of these tests run on loopback, which the sender refuses by default."""
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    settings.WEBHOOKS_TIMEOUT_SECONDS = 5.0
    return settings


@pytest.fixture
def receiver():
    running = start_receiver(Receiver())
    yield running
    if running.hold is not None:
        running.hold.set()
    running.server.shutdown()
    running.server.server_close()
