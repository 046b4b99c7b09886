"""What each connector asks its provider for a customer's attachment (pure request building;
the gateway sends the requests: tests/integration/gateway/test_attachments.py)."""

from __future__ import annotations

import base64

import pytest

from omniroute.settings import Settings
from omniroute_connectors.media import (
    MediaRequest,
    MediaUnavailable,
    NotConfigured,
    NotStored,
    StoredAttachment,
    media_plan,
    origin,
    unavailable,
)
from omniroute_connectors.outbound import NETWORK_FAILURE, ProviderResponse

SETTINGS = Settings(
    twilio_account_sid="AC" + "1" * 32, twilio_auth_token="twilio-token",
    twilio_api_base_url="https://api.twilio.test", meta_access_token="graph-token",
    meta_graph_base_url="https://graph.test", telegram_bot_token="123:tg-token",
    telegram_api_base_url="https://telegram.test", line_channel_access_token="line-token",
    line_data_api_base_url="https://line-data.test")
BARE = Settings()
TWILIO_URL = ("https://api.twilio.test/2010-04-01/Accounts/AC" + "1" * 32 +
              "/Messages/MM1/Media/ME1")


def stored(provider: str, channel: str = "sms", **fields: object) -> StoredAttachment:
    values: dict[str, object] = {"provider": provider, "channel": channel,
                                 "channel_account": "+14155559999", "kind": "image"}
    values.update(fields)
    return StoredAttachment(**values)  # type: ignore[arg-type]


class TestTwilio:
    def test_the_media_url_is_fetched_with_basic_auth_for_the_api_host_only(self) -> None:
        """The MediaUrl with HTTP basic auth (SID:token); a redirect to the signed storage
        URL, on another host, goes without them."""
        plan = media_plan(SETTINGS, stored("twilio", url=TWILIO_URL))
        expected = base64.b64encode(b"AC" + b"1" * 32 + b":twilio-token").decode()
        assert plan.first.url == TWILIO_URL and plan.locate is None
        assert plan.first.headers_for(TWILIO_URL) == {"Authorization": f"Basic {expected}"}
        assert plan.first.headers_for("https://s3.amazonaws.test/media/ME1?sig=x") == {}
        assert plan.first.headers_for("http://api.twilio.test/2010-04-01/x") == {}

    def test_a_media_url_on_another_host_never_gets_the_credentials(self) -> None:
        """A MediaUrl not on OMNIROUTE_TWILIO_API_BASE_URL is fetched without credentials."""
        url = "https://evil.test/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
        plan = media_plan(SETTINGS, stored("twilio", url=url))
        assert plan.first.headers_for(url) == {}

    def test_without_an_account_it_is_not_configured(self) -> None:
        """No SID or token: NotConfigured naming the variables to set."""
        with pytest.raises(NotConfigured, match="OMNIROUTE_TWILIO_ACCOUNT_SID"):
            media_plan(BARE, stored("twilio", url=TWILIO_URL))


class TestWhatsApp:
    def test_the_media_id_is_looked_up_then_its_url_fetched_with_the_bearer_token(
            self) -> None:
        """GET /{version}/{media-id} (the connector's Graph version), then the answered url,
        both with the access token."""
        plan = media_plan(SETTINGS, stored("whatsapp_cloud", "whatsapp", media_id="1234567",
                                           channel_account="106540352242922"))
        assert plan.first.url == "https://graph.test/v21.0/1234567"
        assert plan.first.headers_for(plan.first.url) == {"Authorization": "Bearer graph-token"}
        assert plan.locate is not None
        answer = {"messaging_product": "whatsapp", "mime_type": "image/jpeg",
                  "url": "https://lookaside.fbsbx.test/whatsapp_business/attachments/?mid=1",
                  "sha256": "ab", "file_size": "3", "id": "1234567"}
        download = plan.locate(answer)
        assert download.url == answer["url"]
        assert download.headers_for(download.url) == {"Authorization": "Bearer graph-token"}

    def test_an_answer_without_a_url_is_unavailable(self) -> None:
        """A lookup answer naming no http(s) url cannot be fetched."""
        plan = media_plan(SETTINGS, stored("whatsapp_cloud", "whatsapp", media_id="1"))
        assert plan.locate is not None
        for answer in ({}, {"url": "file:///etc/passwd"}, None, ["x"]):
            with pytest.raises(MediaUnavailable, match="names no download url"):
                plan.locate(answer)

    def test_without_a_token_it_is_not_configured(self) -> None:
        with pytest.raises(NotConfigured, match="OMNIROUTE_META_ACCESS_TOKEN"):
            media_plan(BARE, stored("whatsapp_cloud", "whatsapp", media_id="1"))


class TestTelegram:
    def test_get_file_then_the_file_path_with_the_token_in_the_path(self) -> None:
        """getFile?file_id=, then /file/bot<token>/<file_path>; a photo is a JPEG."""
        plan = media_plan(SETTINGS, stored("telegram", "telegram", media_id="AgAC+x/y"))
        assert plan.first.url == "https://telegram.test/bot123:tg-token/getFile?file_id=AgAC%2Bx%2Fy"
        assert plan.locate is not None and plan.content_type == "image/jpeg"
        download = plan.locate({"ok": True, "result": {"file_id": "AgAC", "file_size": 3,
                                                       "file_path": "photos/file_7.jpg"}})
        assert download.url == "https://telegram.test/file/bot123:tg-token/photos/file_7.jpg"
        with pytest.raises(MediaUnavailable, match="no file_path"):
            plan.locate({"ok": False, "error_code": 400, "description": "Bad Request"})

    def test_a_document_keeps_its_own_type(self) -> None:
        plan = media_plan(SETTINGS, stored("telegram", "telegram", kind="file", media_id="BQA"))
        assert plan.content_type is None

    def test_without_a_bot_token_it_is_not_configured(self) -> None:
        with pytest.raises(NotConfigured, match="OMNIROUTE_TELEGRAM_BOT_TOKEN"):
            media_plan(BARE, stored("telegram", "telegram", media_id="AgAC"))


class TestLine:
    def test_the_content_is_on_the_data_api_host_with_the_channel_token(self) -> None:
        """GET {data API}/v2/bot/message/{id}/content, not on api.line.me."""
        plan = media_plan(SETTINGS, stored("line", "line", media_id="325708"))
        assert plan.first.url == "https://line-data.test/v2/bot/message/325708/content"
        assert plan.first.headers_for(plan.first.url) == {"Authorization": "Bearer line-token"}
        assert Settings().line_data_api_base_url == "https://api-data.line.me"

    def test_external_content_is_its_original_url_and_a_sticker_is_no_content(self) -> None:
        external = media_plan(SETTINGS, stored("line", "line", media_id="1",
                                               url="https://cdn.example.test/a.jpg"))
        assert external.first.url == "https://cdn.example.test/a.jpg"
        assert external.first.headers_for(external.first.url) == {}
        with pytest.raises(MediaUnavailable, match="sticker"):
            media_plan(SETTINGS, stored("line", "line", kind="sticker", media_id="1/2"))


class TestOthers:
    def test_meta_and_kakao_urls_are_fetched_as_they_are(self) -> None:
        """Messenger's, Instagram's and Kakao's CDN URLs need no credentials."""
        for provider in ("messenger", "instagram", "kakao"):
            url = f"https://cdn.{provider}.test/a.png?sig=1"
            plan = media_plan(BARE, stored(provider, provider, url=url))
            assert (plan.first.url, plan.first.headers_for(url), plan.locate) == (url, {}, None)
        with pytest.raises(MediaUnavailable, match="no http"):
            media_plan(BARE, stored("messenger", "messenger", url="javascript:alert(1)"))

    def test_an_email_attachment_is_not_stored(self) -> None:
        """Email has no provider to fetch from (the gateway serves the stored copy): NotStored,
        whatever the provider."""
        for provider in ("smtp", "mailgun", "sendgrid"):
            with pytest.raises(NotStored, match="fetched from no provider"):
                media_plan(SETTINGS, stored(provider, "email", media_id="sha256:ab"))

    def test_an_unknown_provider_is_unavailable(self) -> None:
        with pytest.raises(MediaUnavailable, match="'pigeon'"):
            media_plan(SETTINGS, stored("pigeon", url="https://x.test/a"))


class TestWording:
    def test_a_failure_names_the_provider_the_status_and_its_words(self) -> None:
        """As failure_text words delivery failures, with the provider's own message."""
        plan = media_plan(SETTINGS, stored("whatsapp_cloud", "whatsapp", media_id="1"))
        body = b'{"error": {"message": "(#100) Invalid media id", "code": 100}}'
        assert unavailable(plan, ProviderResponse(404, body), "WhatsApp").message == (
            "could not fetch the attachment from WhatsApp: the Graph API answered HTTP 404 "
            "((#100) Invalid media id)")
        down = ProviderResponse(NETWORK_FAILURE, b"ClientConnectorError: refused")
        assert unavailable(plan, down, "WhatsApp").message == (
            "could not fetch the attachment from WhatsApp: could not reach the Graph API: "
            "ClientConnectorError: refused")

    def test_origins_compare_scheme_host_and_port(self) -> None:
        assert origin("https://API.twilio.com/x") == origin("https://api.twilio.com:443/y")
        assert origin("http://api.twilio.com/x") != origin("https://api.twilio.com/x")
        assert origin("http://127.0.0.1:8000/a") != origin("http://localhost:8000/a")
        assert MediaRequest("https://a.test/x", {"A": "1"}).headers_for("https://a.test/y") \
            == {"A": "1"}
