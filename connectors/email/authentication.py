"""Is the ``From:`` of an inbound mail authentic? SPF, DKIM and DMARC, or the provider's verdict.

Email senders used to be trusted by ``From:`` alone. Every inbound mail now
carries the verdict in its metadata (what the agent sees, what identity may use):

- ``email_auth``: ``pass`` or ``fail`` (anything not proven is ``fail``: weak
  identity evidence, and the agent is shown that the sender is unverified);
- ``email_spf``, ``email_dkim``, ``email_dmarc``: the individual results
  (``pass``, ``fail``, ``softfail``, ``neutral``, ``none``, ``temperror``, ...);
- ``email_auth_by``: who judged: ``omniroute`` (SMTP: checked here with
  ``authheaders``/``dkimpy``/``pyspf`` against DNS), ``mailgun`` or ``sendgrid``
  (the provider's verdict posted with the mail).

Rules: our own check passes on DMARC ``pass`` (SPF or DKIM aligned with the
``From:`` domain). The providers post SPF and DKIM but not DMARC: their mail
passes when both SPF and DKIM pass. ``Authentication-Results`` headers inside
the mail are never trusted (a sender can write anything there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DnsFunc = Callable[..., bytes | str | None]
_RESULT = re.compile(r"^[a-z]{1,16}$")


def _word(value: str | None) -> str:
    word = (value or "").strip().lower().split(" ")[0].strip(";")
    return word if _RESULT.match(word) else "none"


@dataclass(frozen=True)
class MailAuth:
    """The verdict on one mail's sender."""

    spf: str = "none"
    dkim: str = "none"
    dmarc: str = "none"
    by: str = "omniroute"

    @property
    def authenticated(self) -> bool:
        """True when the ``From:`` domain is proven (see the module docstring)."""
        if self.by == "omniroute":
            return self.dmarc == "pass"
        return self.dmarc == "pass" or (self.spf == "pass" and self.dkim == "pass")

    def metadata(self) -> dict[str, str]:
        """The ``metadata`` entries of the InboundMessage."""
        return {"email_auth": "pass" if self.authenticated else "fail", "email_spf": self.spf,
                "email_dkim": self.dkim, "email_dmarc": self.dmarc, "email_auth_by": self.by}


def mailgun_verdict(fields: Mapping[str, str]) -> MailAuth:
    """Mailgun's ``X-Mailgun-Spf`` and ``X-Mailgun-Dkim-Check-Result`` (form fields, or
    the same names among ``message-headers``)."""
    found = {k.lower(): v for k, v in fields.items()}
    try:
        headers = json.loads(found.get("message-headers") or "[]")
        for pair in headers if isinstance(headers, list) else []:
            if isinstance(pair, list) and len(pair) == 2:
                found.setdefault(str(pair[0]).lower(), str(pair[1]))
    except ValueError:
        pass
    return MailAuth(spf=_word(found.get("x-mailgun-spf")),
                    dkim=_word(found.get("x-mailgun-dkim-check-result")), by="mailgun")


def sendgrid_verdict(fields: Mapping[str, str]) -> MailAuth:
    """SendGrid Inbound Parse's ``SPF`` (``pass``) and ``dkim`` (``{@domain : pass}``)
    fields; DKIM passes only when every listed signature passed."""
    dkim = fields.get("dkim") or ""
    verdicts = re.findall(r":\s*([a-z]+)", dkim.lower())
    return MailAuth(spf=_word(fields.get("SPF") or fields.get("spf")),
                    dkim=next((_word(v) for v in verdicts if v != "pass"),
                              "pass" if verdicts else "none"),
                    by="sendgrid")


def authenticate(raw: bytes, ip: str | None, mail_from: str | None, helo: str | None,
                 dnsfunc: DnsFunc | None = None, spf: bool = True) -> MailAuth:
    """SPF (of the connecting ``ip``), DKIM and DMARC of a mail received by SMTP (blocking:
    DNS lookups; run it on a worker thread)."""
    import authheaders

    spf_result = None
    if spf and ip:
        import spf as _pyspf  # noqa: F401  (authheaders needs pyspf imported for SPF)

        try:
            spf_result = authheaders.check_spf(ip, mail_from or "", helo or "")
        except Exception:  # a DNS failure is a temperror, never a crash
            spf_result = None
    head = raw.partition(b"\r\n\r\n")[0].partition(b"\n\n")[0].lower()
    dkim_result = None
    if b"dkim-signature:" in head:
        try:
            dkim_result = authheaders.check_dkim(raw, dnsfunc=dnsfunc)
        except Exception:  # dkimpy raises on unparsable signatures
            dkim_result = None
    try:
        dmarc_result = authheaders.check_dmarc(raw, spf_result, dkim_result, dnsfunc=dnsfunc)
    except Exception:  # no verdict is "none", never a crash
        dmarc_result = None
    return MailAuth(spf=_word(getattr(spf_result, "result", None)),
                    dkim=_word(getattr(dkim_result, "result", None)),
                    dmarc=_word(getattr(dmarc_result, "result", None)))
