"""Published signature vectors: twilio-python's RequestValidator, LINE's SDK, Meta's scheme."""

from __future__ import annotations

from omniroute_connectors.signatures import (
    body_sha256,
    line_signature,
    line_valid,
    meta_signature,
    meta_valid,
    twilio_signature,
    twilio_valid,
)

TOKEN = "12345"
URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"), ("Digits", "1234"), ("From", "+14158675309"),
    ("To", "+18005551212"), ("Caller", "+14158675309"),
]
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
BODY = b'{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


class TestTwilio:
    """twilio-python tests/unit/test_request_validator.py, case by case."""

    def test_compute_signature(self) -> None:
        """The reference form post signs to the published value."""
        assert twilio_signature(TOKEN, URI, PARAMS) == EXPECTED

    def test_repeated_keys_sorted_by_value(self) -> None:
        """Repeated keys are sorted by value, whatever order they arrived in."""
        params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
        assert twilio_signature(TOKEN, URI, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="

    def test_validation(self) -> None:
        """The published signature validates and a tampered parameter does not."""
        assert twilio_valid(TOKEN, URI, EXPECTED, PARAMS)
        assert not twilio_valid(TOKEN, URI, EXPECTED, [*PARAMS[:-1], ("Caller", "+1999")])

    def test_removes_port_on_https(self) -> None:
        """A URL seen with a port validates against the signature of the URL without it."""
        assert twilio_valid(TOKEN, URI.replace(".com", ".com:1234"), EXPECTED, PARAMS)

    def test_keeps_port_on_http(self) -> None:
        """An http URL with a port validates against the signature including the port."""
        uri = URI.replace(".com", ".com:1234").replace("https", "http")
        assert twilio_valid(TOKEN, uri, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", PARAMS)

    def test_adds_default_port(self) -> None:
        """Signatures computed over :443 and :80 are accepted too."""
        assert twilio_valid(TOKEN, URI, "kvajT1Ptam85bY51eRf/AJRuM3w=", PARAMS)
        assert twilio_valid(TOKEN, URI.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4=",
                            PARAMS)

    def test_json_body_hash(self) -> None:
        """The body hash is hex SHA-256 of the raw body."""
        assert body_sha256(BODY) == BODY_HASH

    def test_json_body_validates_through_url(self) -> None:
        """A JSON body is signed through bodySHA256 in the URL."""
        uri = f"{URI}&bodySHA256={BODY_HASH}"
        assert twilio_valid(TOKEN, uri, "a9nBmqA0ju/hNViExpshrM61xv4=", body=BODY)

    def test_json_body_tampered(self) -> None:
        """A body that does not match bodySHA256 fails even with the right URL signature."""
        uri = f"{URI}&bodySHA256={BODY_HASH}"
        assert not twilio_valid(TOKEN, uri, "a9nBmqA0ju/hNViExpshrM61xv4=", body=BODY + b" ")


class TestMeta:
    """sha256= hex HMAC-SHA256 of the raw body (the X-Hub-Signature-256 scheme)."""

    def test_known_vector(self) -> None:
        """The scheme's published example (GitHub's documentation of the same header)."""
        signature = meta_signature("It's a Secret to Everybody", b"Hello, World!")
        assert signature == (
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        )
        assert meta_valid("It's a Secret to Everybody", b"Hello, World!", signature.upper()
                          .replace("SHA256=", "sha256="))

    def test_one_byte_changed(self) -> None:
        """Changing one byte of the body invalidates the signature."""
        signature = meta_signature("s3cret", b'{"a":1}')
        assert not meta_valid("s3cret", b'{"a":2}', signature)


class TestLine:
    """line-bot-sdk-python TestSignatureValidator."""

    def test_published_vector(self) -> None:
        """'bodybodybodybody' under 'channel_secret' signs to the SDK's value."""
        expected = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
        assert line_signature("channel_secret", b"bodybodybodybody") == expected
        assert line_valid("channel_secret", b"bodybodybodybody", expected)
        assert not line_valid("channel_secret", b"bodybodybodybody", "invalid_signature")
