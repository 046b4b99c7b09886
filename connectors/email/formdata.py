"""Reading ``multipart/form-data`` and urlencoded bodies without I/O (pure).

Mailgun and SendGrid post inbound mail as form data. The standard library's
MIME parser reads ``multipart/form-data`` once it is given the request's
Content-Type header, so the raw bytes are parsed exactly as received.

:func:`signed_fields` reads only the small fields a signature covers (Mailgun's
``timestamp``, ``token``, ``signature``) with a byte scan, so a signature is
checked before the mail itself is parsed; :func:`form_fields` refuses a form of
more than :data:`MAX_FORM_PARTS` parts.
"""

from __future__ import annotations

import email
import re
from email.message import Message
from urllib.parse import parse_qsl

from omniroute_connectors.base import BadRequest
from omniroute_connectors.email.charsets import decode_bytes

MAX_FORM_PARTS = 1000
SIGNED_FIELD_BYTES = 1024
_NAME = re.compile(rb'content-disposition:[^\r\n]*?\bname="?([^";\r\n]+)"?', re.IGNORECASE)


def _boundary(content_type: str) -> bytes | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    return match.group(1).strip().encode("utf-8", "surrogateescape") if match else None


def signed_fields(content_type: str, body: bytes,
                  names: tuple[str, ...] = ("timestamp", "token", "signature")
                  ) -> dict[str, bytes]:
    """The small fields ``names`` of a form, found without parsing its other parts.

    A multipart body is scanned part by part (``bytes.find`` only); a value
    longer than :data:`SIGNED_FIELD_BYTES` is ignored, never read as a signature.
    """
    media = content_type.split(";")[0].strip().lower()
    if media != "multipart/form-data":
        return {k: v for k, v in form_fields(content_type, body).items() if k in names}
    boundary = _boundary(content_type)
    if not boundary:
        return {}
    delimiter = b"--" + boundary
    found: dict[str, bytes] = {}
    start = body.find(delimiter)
    while start >= 0 and len(found) < len(names):
        end = body.find(delimiter, start + len(delimiter))
        if end < 0:
            break
        part = body[start + len(delimiter):end]
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, value = part.partition(b"\n\n")
        match = _NAME.search(head)
        if sep and match:
            name = match.group(1).decode("ascii", "replace")
            if name in names and name not in found and len(value) <= SIGNED_FIELD_BYTES + 2:
                found[name] = value.removesuffix(b"\n").removesuffix(b"\r")
        start = end
    return found


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
    boundary = _boundary(content_type)
    if boundary and body.count(b"--" + boundary) > MAX_FORM_PARTS + 1:
        raise BadRequest(f"the form has more than {MAX_FORM_PARTS} parts", reason="too_many_parts")
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
