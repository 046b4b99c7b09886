"""The headers a served attachment gets: its type, inline or download, its file name,
and a policy that keeps an HTML or SVG "photo" from running script on the gateway."""

from __future__ import annotations

from omniroute.gateway.attachments import (
    CSP,
    answer_headers,
    content_type,
    disposition,
    network_text,
)
from omniroute_connectors.media import MediaPlan, MediaRequest, StoredAttachment


class TestContentType:
    def test_the_providers_type_wins_unless_it_is_generic_or_malformed(self) -> None:
        """Provider's type, else the stored one, else the plan's, else octet-stream."""
        assert content_type("image/png", "image/jpeg") == "image/png"
        assert content_type("application/octet-stream", "application/pdf") == "application/pdf"
        assert content_type(None, None, "image/jpeg") == "image/jpeg"
        assert content_type("text/plain; charset=utf-8", None) == "text/plain; charset=utf-8"
        assert content_type("not a type\r\nX: y", "video/mp4") == "video/mp4"
        assert content_type(None, None) == "application/octet-stream"


class TestDisposition:
    def test_images_audio_and_video_are_inline_everything_else_a_download(self) -> None:
        assert disposition("image/jpeg", None) == "inline"
        assert disposition("audio/ogg; codecs=opus", None) == "inline"
        assert disposition("video/mp4", None) == "inline"
        assert disposition("text/html", None) == "attachment"
        assert disposition("application/pdf", None) == "attachment"

    def test_the_file_name_is_given_in_ascii_and_exactly_per_rfc_6266(self) -> None:
        """filename= an ASCII stand-in (no quotes, no path), filename*= the UTF-8 name."""
        assert disposition("application/pdf", "Rechnung März.pdf") == (
            "attachment; filename=\"Rechnung M_rz.pdf\"; "
            "filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf")
        assert disposition("image/png", '../../etc/"x".png') == (
            "inline; filename=\"_x_.png\"; filename*=UTF-8''%22x%22.png")
        assert disposition("image/png", "a\r\nSet-Cookie: b.png") == (
            "inline; filename=\"aSet-Cookie: b.png\"; filename*=UTF-8''aSet-Cookie%3A%20b.png")


class TestHeaders:
    def test_a_served_attachment_is_sandboxed_unsniffed_and_privately_cached(self) -> None:
        stored = StoredAttachment(provider="twilio", channel="sms", channel_account="+1",
                                  kind="file", content_type="text/html", filename="x.html")
        plan = MediaPlan("Twilio", MediaRequest("https://api.twilio.test/m"))
        headers = answer_headers("text/html", stored, plan)
        assert headers == {
            "Content-Type": "text/html",
            "Content-Disposition": "attachment; filename=\"x.html\"; filename*=UTF-8''x.html",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; sandbox"}
        assert CSP == "default-src 'none'; sandbox"

    def test_a_network_error_never_repeats_the_url_path_or_query(self) -> None:
        """Telegram's bot token is in the path; signed URLs carry their signature."""
        url = "https://telegram.test/file/bot123:secret/photos/a.jpg?sig=abc"
        text = network_text(ValueError(f"bad URL {url}"), url)
        assert "secret" not in text and "sig=abc" not in text
        assert text.startswith("ValueError: bad URL")
