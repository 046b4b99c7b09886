"""The email channel: one MIME pipeline, three ways in (SMTP, Mailgun, SendGrid), SMTP out.

- :mod:`.normalize` (pure): raw MIME -> InboundMessage, bounce DeliveryStatus or Suppressed.
- :mod:`.webhooks`: the Mailgun and SendGrid connector plugins.
- :mod:`.smtp_server`: the inbound SMTP service (aiosmtpd).
- :mod:`.compose` (pure) and :mod:`.sender`: outbound mail over an SMTP relay (aiosmtplib).
"""
