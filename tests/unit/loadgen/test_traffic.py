"""The load generator's webhooks look like the providers' own, run after run."""

from __future__ import annotations

import json

import pytest

from omniroute.loadgen.traffic import Secrets, plan, signed_request

pytestmark = pytest.mark.unit

SECRETS = Secrets(twilio_auth_token="t", meta_app_secret="m", telegram_secret_token="g",
                  line_channel_secret="l")


def line_messages(run: str) -> list[dict[str, object]]:
    people, messages = plan(40, 120, run)
    return [json.loads(signed_request(m, people[m.customer], SECRETS, "http://x").body)
            ["events"][0] for m in messages if m.channel == "line"]


def test_line_message_ids_and_reply_tokens_are_unique_across_runs() -> None:
    """LINE's message ids are unique in a channel; two loadgen runs on one stack repeated the
    same ids (a user run's history held pairs of LINE messages with one provider id)."""
    first, second = line_messages("run1"), line_messages("run2")
    ids = [e["message"]["id"] for e in first + second]  # type: ignore[index]
    tokens = [e["replyToken"] for e in first + second]
    assert len(first) > 5 and len(set(ids)) == len(ids) and len(set(tokens)) == len(tokens)
    assert all(str(i).isdigit() for i in ids)
