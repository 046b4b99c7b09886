"""Proactive requests with NUL characters are refused as bad input (found by the gateway's
schemathesis fuzz: ``workspace="\\x00"`` reached PostgreSQL and answered 500)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from omniroute.automation.proactive import ProactiveRequest


class TestProactiveInput:
    """Text PostgreSQL would refuse is refused at validation (a 400 at the API)."""

    @pytest.mark.parametrize("field", ["workspace", "recipient", "channel_account",
                                       "request_id", "text", "conversation_id"])
    def test_nul_in_any_text_field_is_refused(self, field: str) -> None:
        """Every text field that reaches a query or an event refuses NUL."""
        body = {"request_id": "r1", "channel": "sms", "channel_account": "acct",
                "recipient": "+14155550100", "text": "hello", field: "a\x00b"}
        with pytest.raises(ValidationError, match="NUL"):
            ProactiveRequest.model_validate(body)

    def test_a_clean_request_is_accepted(self) -> None:
        """The validator does not refuse ordinary text."""
        request = ProactiveRequest.model_validate({
            "request_id": "r1", "channel": "sms", "channel_account": "acct",
            "recipient": "+14155550100", "text": "hello"})
        assert request.workspace == "default"
