"""Several accounts per provider from OMNIROUTE_CONNECTORS_CONFIG (TOML)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from omniroute.contract import Address, Author, AuthorKind, Channel, OutboundMessage, utcnow
from omniroute.errors import ConfigurationError
from omniroute.ingress.app import build_app
from omniroute.settings import Settings
from omniroute_connectors.accounts import AccountBook
from omniroute_connectors.base import Forbidden, WebhookRequest
from omniroute_connectors.line import LineConnector
from omniroute_connectors.line.outbound import LineSender
from omniroute_connectors.messenger import MessengerConnector
from omniroute_connectors.meta.outbound import MessengerSender
from omniroute_connectors.outbound import SendContext, SendRejected
from omniroute_connectors.signatures import line_signature, meta_signature, twilio_signature
from omniroute_connectors.twilio import TwilioConnector
from omniroute_connectors.twilio.outbound import TwilioSender

CONFIG = """
[[twilio]]
name = "us"
account_sid = "ACus"
auth_token = "token-us"
channel_accounts = ["+14155550199"]

[[twilio]]
name = "uk"
account_sid = "ACuk"
auth_token = "token-uk"
channel_accounts = ["+447700900123", "whatsapp:+447700900123"]

[[meta]]
name = "shop"
app_secret = "app-shop"
verify_token = "verify-shop"
access_token = "page-token-shop"
channel_accounts = ["104000000000001"]

[[line]]
name = "jp"
channel_secret = "secret-jp"
channel_access_token = "token-jp"
channel_accounts = ["Ujp"]

[[line]]
name = "th"
channel_secret = "secret-th"
channel_access_token = "token-th"
channel_accounts = ["Uth"]
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "connectors.toml"
    path.write_text(CONFIG)
    return Settings(connectors_config=path, twilio_auth_token="token-env",
                    twilio_account_sid="ACenv", public_base_url="https://hooks.example.com")


def outbound(channel: Channel, account: str, to: str) -> OutboundMessage:
    return OutboundMessage(event_id="o1", conversation_id="c1", channel=channel,
                           channel_account=account, recipient=Address(value=to),
                           author=Author(kind=AuthorKind.AGENT, id="a"), text="hi")


def basic(sid: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()


class TestParsing:
    def test_accounts_by_provider_and_owner(self) -> None:
        book = AccountBook.parse(CONFIG)
        assert [a.name for a in book.of("twilio")] == ["us", "uk"]
        assert book.owning("twilio", "whatsapp:+447700900123").name == "uk"  # type: ignore[union-attr]
        assert book.named("line", "th").secrets["channel_secret"] == "secret-th"  # type: ignore[union-attr]

    @pytest.mark.parametrize(("text", "problem"), [
        ("[[viber]]\nname='x'", "unknown provider"),
        ("[[line]]\nchannel_secret='s'", "needs a name"),
        ("[[line]]\nname='a'\n[[line]]\nname='a'", "two \\[\\[line\\]\\] accounts"),
        ("[[line]]\nname='a'\nchannel_secrett='s'", "unknown keys channel_secrett"),
        ("[[line]]\nname='a'\nchannel_accounts='U1'", "list of strings"),
        ("[line]\nname='a'", "array of tables"),
        ("[[line]\n", "not valid TOML"),
    ])
    def test_problems_are_named(self, text: str, problem: str) -> None:
        with pytest.raises(ConfigurationError, match=problem):
            AccountBook.parse(text)


class TestInbound:
    def test_twilio_accepts_every_configured_auth_token(self, settings: Settings) -> None:
        connector = TwilioConnector(settings)
        url = "https://hooks.example.com/webhooks/twilio"
        pairs = [("AccountSid", "ACuk"), ("Body", "hi"), ("From", "+447700900999"),
                 ("MessageSid", "SM1"), ("To", "+447700900123")]
        body = "&".join(f"{k}={v}" for k, v in pairs).replace("+", "%2B").encode()
        for token in ("token-env", "token-us", "token-uk"):
            connector.verify(WebhookRequest(
                "POST", "/webhooks/twilio", url, {
                    "content-type": "application/x-www-form-urlencoded",
                    "x-twilio-signature": twilio_signature(token, url, pairs)}, body=body))
        with pytest.raises(Forbidden):
            connector.verify(WebhookRequest("POST", "/webhooks/twilio", url, {
                "content-type": "application/x-www-form-urlencoded",
                "x-twilio-signature": twilio_signature("token-other", url, pairs)}, body=body))

    def test_meta_signature_and_handshake_of_a_configured_app(self, settings: Settings) -> None:
        connector = MessengerConnector(settings)
        assert connector.enabled()  # no OMNIROUTE_META_APP_SECRET: the file is enough
        body = json.dumps({"object": "page", "entry": []}).encode()
        connector.verify(WebhookRequest("POST", "/webhooks/messenger", "u", {
            "x-hub-signature-256": meta_signature("app-shop", body)}, body=body))
        connector.verify(WebhookRequest("GET", "/webhooks/messenger", "u", {}, query=[
            ("hub.mode", "subscribe"), ("hub.verify_token", "verify-shop"),
            ("hub.challenge", "1")]))

    async def test_line_route_names_the_channel(self, settings: Settings) -> None:
        class Publisher:
            async def publish(self, events: object) -> None:
                return None

        body = json.dumps({"destination": "Uth", "events": []}).encode()
        app = build_app(settings, [LineConnector(settings)], Publisher())
        async with TestClient(TestServer(app)) as client:
            async def post(path: str, secret: str) -> int:
                response = await client.post(path, data=body, headers={
                    "Content-Type": "application/json",
                    "x-line-signature": line_signature(secret, body)})
                return response.status

            assert await post("/webhooks/line/th", "secret-th") == 200
            assert await post("/webhooks/line/jp", "secret-th") == 403  # other channel's
            # an unknown channel answers like a bad signature: it does not reveal channels
            assert await post("/webhooks/line/kr", "secret-th") == 403
            assert await post("/webhooks/line", "secret-th") == 200  # plain: any channel


class TestOutbound:
    def test_twilio_account_follows_the_sender_number(self, settings: Settings) -> None:
        sender, context = TwilioSender(settings), SendContext(now=utcnow())
        [uk] = sender.build(outbound(Channel.SMS, "+447700900123", "+447700900999"), context)
        assert uk.path == "/2010-04-01/Accounts/ACuk/Messages.json"
        assert uk.headers["Authorization"] == basic("ACuk", "token-uk")
        [env] = sender.build(outbound(Channel.SMS, "+15005550006", "+14155550100"), context)
        assert env.path == "/2010-04-01/Accounts/ACenv/Messages.json"
        assert env.headers["Authorization"] == basic("ACenv", "token-env")

    def test_meta_and_line_tokens_follow_the_channel_account(self, settings: Settings) -> None:
        now = utcnow()
        context = SendContext(now=now, last_inbound_at=now)
        [page] = MessengerSender(settings).build(
            outbound(Channel.MESSENGER, "104000000000001", "PSID"), context)
        assert page.headers["Authorization"] == "Bearer page-token-shop"
        line = LineSender(settings)
        [th] = line.build(outbound(Channel.LINE, "Uth", "Ucust"), context)
        assert th.headers["Authorization"] == "Bearer token-th"
        with pytest.raises(SendRejected, match="no LINE channel"):
            line.build(outbound(Channel.LINE, "Uunknown", "Ucust"), context)


class TestProductionSecrets:
    def test_placeholder_credentials_in_the_file_are_refused_in_production(self) -> None:
        text = '[[twilio]]\nname = "us"\nauth_token = "Change-Me"\naccount_sid = "ACus"\n'
        assert AccountBook.parse(text).of("twilio")  # development: fine
        with pytest.raises(ConfigurationError, match=r"\[\[twilio\]\] 'us': auth_token is a "
                                                     "placeholder"):
            AccountBook.parse(text, production=True)
        AccountBook.parse(text.replace("Change-Me", "9f2c1e7ab04d"), production=True)
