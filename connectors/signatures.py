"""Provider signature schemes, on raw bytes, with constant-time comparison (pure).

- Twilio: ``X-Twilio-Signature`` = base64 HMAC-SHA1(auth token, URL + every form
  key/value sorted by key then value). JSON bodies are signed through the URL:
  the URL carries ``bodySHA256`` = hex SHA-256 of the body. Twilio may sign the
  URL with or without the default port, so both forms are tried.
- Meta (WhatsApp Cloud, Messenger, Instagram): ``X-Hub-Signature-256`` =
  ``sha256=`` + hex HMAC-SHA256(app secret, raw body).
- LINE: ``x-line-signature`` = base64 HMAC-SHA256(channel secret, raw body).

Every comparison is of bytes: a header carrying non-ASCII or undecodable bytes
(aiohttp keeps them as surrogate escapes) simply does not match, it never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

DEFAULT_PORTS = {"https": 443, "http": 80}


def raw(text: str) -> bytes:
    """``text`` as the bytes it was received as (surrogate escapes restored, never raising)."""
    return text.encode("utf-8", "surrogateescape")


def same(expected: str, given: str) -> bool:
    """Constant-time equality of two texts compared as bytes (any content, never raising)."""
    return hmac.compare_digest(raw(expected), raw(given))


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """Twilio's signature of ``url`` and the POST ``params`` (repeated keys allowed)."""
    grouped: dict[str, set[str]] = {}
    for key, value in params:
        grouped.setdefault(key, set()).add(value)
    data = url + "".join(
        key + value for key in sorted(grouped) for value in sorted(grouped[key])
    )
    digest = hmac.new(raw(auth_token), raw(data), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """``url`` as called first (what a provider usually signed), then without its port and
    with its port (the default one added when absent)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    without = urlunsplit(parts._replace(netloc=prefix + host))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}")) if port else without
    return list(dict.fromkeys((url, without, with_port)))


def body_sha256(body: bytes) -> str:
    """Hex SHA-256 of a body, as Twilio puts it in ``bodySHA256``."""
    return hashlib.sha256(body).hexdigest()


def twilio_valid(auth_token: str, url: str, signature: str,
                 params: Iterable[tuple[str, str]] = (), body: bytes | None = None) -> bool:
    """Validate a Twilio request: form ``params``, or a JSON ``body`` signed through the URL."""
    pairs = list(params)
    if body is not None:
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        claimed = query.get("bodySHA256")
        if claimed is None or not same(body_sha256(body), claimed):
            return False
        pairs = []
    if same(twilio_signature(auth_token, url, pairs), signature):  # the URL as called
        return True
    return any(same(twilio_signature(auth_token, variant, pairs), signature)
               for variant in _url_variants(url)[1:])


def meta_signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends for ``body``."""
    return "sha256=" + hmac.new(raw(app_secret), body, hashlib.sha256).hexdigest()


def meta_valid(app_secret: str, body: bytes, header: str) -> bool:
    """Validate Meta's ``X-Hub-Signature-256`` (case-insensitive hex)."""
    return same(meta_signature(app_secret, body), header.strip().lower())


def line_signature(channel_secret: str, body: bytes) -> str:
    """The ``x-line-signature`` LINE sends for ``body``."""
    digest = hmac.new(raw(channel_secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def line_valid(channel_secret: str, body: bytes, header: str) -> bool:
    """Validate LINE's ``x-line-signature``."""
    return same(line_signature(channel_secret, body), header.strip())


def secret_equal(expected: str, given: str) -> bool:
    """Constant-time equality of two secrets (Telegram, Kakao)."""
    return same(expected, given)
