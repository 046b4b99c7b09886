"""`omniroute automation send` as a user runs it: a retried request id sends nothing new."""

from __future__ import annotations

import json

from harness.cli import omniroute_env, run_omniroute
from harness.kafka import consume_all
from omniroute.contract import OutboundMessage
from omniroute.settings import Settings


async def test_a_retried_send_reaches_the_customer_once(topics: Settings,
                                                       database_url: str) -> None:
    """The same --request-id twice is one OutboundMessage (the second run says replayed);
    the id with another text is refused and publishes nothing."""
    env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url,
                        OMNIROUTE_KAFKA_BOOTSTRAP=topics.kafka_bootstrap,
                        OMNIROUTE_TOPIC_NAMESPACE=topics.topic_namespace)
    send = ("automation", "send", "--request-id", "promo-7", "--channel", "sms",
            "--account", "+14155550199", "--to", "+821012345678")
    first = run_omniroute(*send, "--text", "Your order shipped", env=env)
    again = run_omniroute(*send, "--text", "Your order shipped", env=env)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    answers = [json.loads(first.stdout), json.loads(again.stdout)]
    assert [a["replayed"] for a in answers] == [False, True]
    assert answers[0]["event_id"] == answers[1]["event_id"]
    reused = run_omniroute(*send, "--text", "Something else", env=env)
    assert reused.returncode != 0 and "already used for a different message" in reused.stderr
    # the command exits after Kafka has the message: everything so far is everything
    records = await consume_all(topics.kafka_bootstrap, topics.topic("omniroute.outbound.v1"))
    sent = [OutboundMessage.from_json_bytes(r.value) for r in records]
    assert [(m.event_id, m.text) for m in sent] == [(answers[0]["event_id"],
                                                      "Your order shipped")]
