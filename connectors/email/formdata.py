"""Reading ``multipart/form-data`` and urlencoded bodies without I/O (pure).

Mailgun and SendGrid post inbound mail as form data. The standard library's
MIME parser reads ``multipart/form-data`` once it is given the request's
Content-Type header, so the raw bytes are parsed exactly as received.
"""

from __future__ import annotations

import email
from email.message import Message
from urllib.parse import parse_qsl

from omniroute_connectors.email.charsets import decode_bytes


def form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """Field name -> raw value (the first one when repeated); files included by field name."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields: dict[str, bytes] = {}
        for key, value in pairs:
            fields.setdefault(key, value.encode())
        return fields
    if media != "multipart/form-data" or "boundary" not in content_type:
        return {}
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    result: dict[str, bytes] = {}
    if not message.is_multipart():
        return result
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in result:
            continue
        payload = part.get_payload(decode=True)
        result[name] = payload if isinstance(payload, bytes) else b""
    return result


def text_field(fields: dict[str, bytes], name: str) -> str:
    """A form field as text ('' when absent)."""
    return decode_bytes(fields.get(name, b""), "utf-8").strip()
