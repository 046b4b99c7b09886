"""A provider that cannot be reached reads as such on the delivery status, not as "HTTP 599".

The delivery host turns a refused, reset, unresolved or timed-out call into a
made-up ``599`` ProviderResponse carrying the error's text; every sender words it
``could not reach <API>: <error>`` and keeps ``<API> answered HTTP <status>`` for
real answers, with the same retriability as before.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    DeliveryState,
    OutboundMessage,
    utcnow,
)
from omniroute.delivery.http import NETWORK_FAILURE as HOST_NETWORK_FAILURE
from omniroute.delivery.http import aiohttp_caller
from omniroute.delivery.ratelimit import RateLimits
from omniroute.delivery.sending import deliver, failed, status, unreachable
from omniroute.settings import Settings
from omniroute_connectors.kakao.outbound import KakaoSender
from omniroute_connectors.line.outbound import LineSender
from omniroute_connectors.meta.outbound import InstagramSender, MessengerSender
from omniroute_connectors.outbound import (
    NETWORK_FAILURE,
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendFailed,
    failure_text,
)
from omniroute_connectors.telegram.outbound import TelegramSender
from omniroute_connectors.twilio.outbound import TwilioSender
from omniroute_connectors.whatsapp.outbound import WhatsAppSender

REFUSED = ("Cannot connect to host 127.0.0.1:17474 ssl:default "
           "[Connect call failed ('127.0.0.1', 17474)]")
SETTINGS = Settings()
PUSH = ProviderRequest("POST", "/v2/bot/message/push")

# (sender, request, how its error message names the API, retriable when not reached)
SENDERS = [
    (WhatsAppSender(SETTINGS), PUSH, "the Graph API", True),
    (MessengerSender(SETTINGS), PUSH, "the Graph API", True),
    (InstagramSender(SETTINGS), PUSH, "the Graph API", True),
    (TwilioSender(SETTINGS), PUSH, "Twilio", True),
    (KakaoSender(SETTINGS), PUSH, "the Kakao callback", True),
    (LineSender(SETTINGS), PUSH, "LINE", True),
    # a failed reply is never retried (its token may be spent): the push follows it
    (LineSender(SETTINGS), ProviderRequest("POST", "/v2/bot/message/reply"),
     "LINE's reply API", False),
    (TelegramSender(SETTINGS), PUSH, "Telegram", True),
]
IDS = ["whatsapp", "messenger", "instagram", "twilio", "kakao", "line", "line-reply",
       "telegram"]


def failure(sender: OutboundSender, request: ProviderRequest,
            response: ProviderResponse) -> SendFailed:
    with pytest.raises(SendFailed) as caught:
        sender.interpret(request, response)
    return caught.value


class TestFailureText:
    def test_network_failure_names_the_api_and_the_error(self) -> None:
        """A made-up 599 reads 'could not reach <API>: <the error>'."""
        response = ProviderResponse(NETWORK_FAILURE, REFUSED.encode())
        assert failure_text(response, "the Graph API") == (
            f"could not reach the Graph API: {REFUSED}")

    def test_real_answer_keeps_its_status(self) -> None:
        """A status the provider answered reads '<API> answered HTTP <status>'."""
        assert failure_text(ProviderResponse(503), "Twilio") == "Twilio answered HTTP 503"

    def test_long_error_is_bounded(self) -> None:
        """An error text of any length gives a message of at most a few hundred characters."""
        text = failure_text(ProviderResponse(NETWORK_FAILURE, b"x" * 10_000), "LINE")
        assert len(text) < 400 and text.endswith("…")

    def test_error_without_text_still_reads(self) -> None:
        """An empty error text says there was no answer rather than ending on a colon."""
        assert failure_text(ProviderResponse(NETWORK_FAILURE), "Telegram") == (
            "could not reach Telegram: no answer")

    def test_host_constant_is_the_connectors_one(self) -> None:
        """omniroute.delivery.http still exports NETWORK_FAILURE, the same 599."""
        assert HOST_NETWORK_FAILURE == NETWORK_FAILURE == 599


class TestSendersNotReached:
    @pytest.mark.parametrize(("sender", "request_", "api", "retriable"), SENDERS, ids=IDS)
    def test_network_failure_says_could_not_reach(self, sender: OutboundSender,
                                                  request_: ProviderRequest, api: str,
                                                  retriable: bool) -> None:
        """Each sender words a 599 'could not reach <API>: <error>', retriable as before."""
        exc = failure(sender, request_, ProviderResponse(NETWORK_FAILURE, REFUSED.encode()))
        assert exc.message == f"could not reach {api}: {REFUSED}"
        assert exc.retriable is retriable

    @pytest.mark.parametrize(("sender", "request_", "api", "retriable"), SENDERS, ids=IDS)
    def test_real_503_says_answered(self, sender: OutboundSender, request_: ProviderRequest,
                                    api: str, retriable: bool) -> None:
        """Each sender words a bodiless 503 '<API> answered HTTP 503', retriable as before."""
        exc = failure(sender, request_, ProviderResponse(503))
        assert exc.message == f"{api} answered HTTP 503"
        assert exc.retriable is retriable


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


class TestDeliveryNotReached:
    async def test_refused_connection_fails_the_reply_with_the_error(
            self, session: aiohttp.ClientSession) -> None:
        """A Graph API on a closed port is retried, then the status says it was not reached."""
        port = closed_port()
        sender = WhatsAppSender(Settings(meta_access_token="token",
                                         meta_graph_base_url=f"http://127.0.0.1:{port}"))
        message = OutboundMessage(
            event_id="out-1", conversation_id="conv-1", channel=Channel.WHATSAPP,
            channel_account="PN1", recipient=Address(value="14155550100"),
            author=Author(kind=AuthorKind.AGENT, id="a1"), text="hello")
        now = utcnow()
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        [status] = await deliver(message, sender, SendContext(now=now, last_inbound_at=now),
                                 aiohttp_caller(session), RateLimits(), rate=100.0,
                                 attempts=2, base_delay=0.5, sleep=sleep)
        assert (status.state, status.error_code) == (DeliveryState.FAILED,
                                                     "retries_exhausted:599")
        assert sleeps == [0.5]
        assert status.error_message is not None
        assert status.error_message.startswith(
            f"could not reach the Graph API: Cannot connect to host 127.0.0.1:{port}")
        assert "HTTP 599" not in status.error_message
        assert unreachable([status]), "waits for a later round instead of failing"

    async def test_provider_that_never_answers_reads_timed_out(self) -> None:
        """A call that runs out of time says 'timed out', not an empty reason."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)  # the kernel accepts the connection; nobody ever answers
            port = silent.getsockname()[1]
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as client:
                response = await aiohttp_caller(client)(f"http://127.0.0.1:{port}", PUSH)
        exc = failure(WhatsAppSender(SETTINGS), PUSH, response)
        assert (exc.message, exc.retriable) == ("could not reach the Graph API: timed out", True)


def test_only_a_message_nothing_of_which_was_accepted_waits_for_a_later_round() -> None:
    """A later round sends the whole message again: not when a part of it went out, nor
    when the provider said no for good."""
    message = OutboundMessage(
        event_id="out-2", conversation_id="conv-2", channel=Channel.WHATSAPP,
        channel_account="PN1", recipient=Address(value="14155550100"),
        author=Author(kind=AuthorKind.AGENT, id="a1"), text="hello")
    down = failed(message, "whatsapp_cloud", "retries_exhausted:503", "the Graph API answered HTTP 503")
    sent = status(message, "whatsapp_cloud", DeliveryState.ACCEPTED, "0:accepted")
    assert unreachable([down])
    assert not unreachable([sent, down])  # the text went, its picture did not
    assert not unreachable([failed(message, "whatsapp_cloud", "131047", "outside the window")])
    assert not unreachable([sent])
