"""The pure parts of erasure: which worker entries go, retention bounds, mail trust."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from omniroute.contract import Address, Channel, InboundMessage
from omniroute.history.erase_requests import names_any
from omniroute.history.personal_retention import DAY_MS, RETENTION_CHECK_MS, gone_by, topic_configs
from omniroute.identity.mail_trust import trusted_address, weak_email_claim
from omniroute.settings import Settings
from omniroute.worker.erasure import doomed_keys

WEEK = Settings(personal_data_retention_seconds=7 * 86400)


class TestDoomedKeys:
    """The worker drops every table entry whose key or value names the customer."""

    def test_keys_and_values_of_every_shape_are_matched(self) -> None:
        """JSON bytes, decoded dicts and keys all count; other customers stay."""
        entries = [("default/tel:+14155550100", b'{"owner": null}'),
                   ("cus_a", {"addresses": ["mailto:ada@example.test"]}),
                   ("cus_b", b'{"last": "ERASEME-1 my parcel"}'),
                   ("cus_c", {"addresses": ["tel:+14155550199"]}),
                   ("clm_1", None)]
        assert doomed_keys(entries, ["+14155550100", "ada@example.test", "ERASEME-1"]) == [
            "default/tel:+14155550100", "cus_a", "cus_b"]

    def test_needles_match_whole_tokens_only(self) -> None:
        """Another customer whose id merely contains the needle keeps their state."""
        entries = [("default/telegram:bot:777001", b"{}"), ("default/telegram:bot:7770012", b"{}"),
                   ("k1", b'{"to": "bada@example.test"}'), ("k2", b'{"to": "ada@example.test"}')]
        assert doomed_keys(entries, ["777001", "ada@example.test"]) == [
            "default/telegram:bot:777001", "k2"]

    def test_empty_needles_match_nothing(self) -> None:
        """An empty identifier never matches everything."""
        assert not names_any("anything", ["", ""])
        assert doomed_keys([("k", b"v")], [""]) == []


class TestRetentionBound:
    """Topics holding personal data keep it at most the configured bound."""

    def test_append_only_topics_get_the_bound_and_short_segments(self) -> None:
        """Inbound gets retention = the bound, segments of at most a day."""
        configs = topic_configs(WEEK, "omniroute.inbound.v1", {})
        assert configs == {"retention.ms": str(7 * DAY_MS), "segment.ms": str(DAY_MS)}

    def test_a_shorter_retention_is_kept_and_a_longer_one_cut(self) -> None:
        """Typing indicators keep their minute; the DLQ's 31 days become the bound."""
        typing = topic_configs(WEEK, "omniroute.internal.typing",
                               {"retention.ms": "60000", "segment.ms": "60000"})
        assert typing["retention.ms"] == "60000" and typing["segment.ms"] == "60000"
        dlq = topic_configs(WEEK, "omniroute.dlq.v1", {"retention.ms": str(31 * DAY_MS)})
        assert dlq["retention.ms"] == str(7 * DAY_MS)
        forever = topic_configs(WEEK, "omniroute.inbound.v1", {"retention.ms": "-1"})
        assert forever["retention.ms"] == str(7 * DAY_MS)

    def test_compacted_topics_get_a_compaction_lag_not_a_retention(self) -> None:
        """A tombstoned or superseded value is compacted within the bound."""
        for name, configs in (("omniroute.internal.worker-x-changelog", {}),
                              ("omniroute.internal.routing-snapshots",
                               {"cleanup.policy": "compact"})):
            out = topic_configs(WEEK, name, configs)
            assert out["max.compaction.lag.ms"] == str(7 * DAY_MS)
            assert "retention.ms" not in out

    def test_routing_config_and_foreign_topics_are_left_alone(self) -> None:
        """The routing config trail is exempt; others' topics untouched."""
        for name in ("omniroute.internal.routing-config", "someone.else"):
            assert topic_configs(WEEK, name, {"retention.ms": "-1"}) == {"retention.ms": "-1"}

    def test_the_router_pool_log_is_bounded(self) -> None:
        """The router's input log names customers: it gets the bound too."""
        out = topic_configs(WEEK, "omniroute.internal.routing-pool-events", {})
        assert out["retention.ms"] == str(7 * DAY_MS)

    def test_namespaced_names_are_recognised(self) -> None:
        """A deployment's namespace prefix does not hide a topic from the bound."""
        settings = Settings(topic_namespace="ns1.", personal_data_retention_seconds=60)
        assert topic_configs(settings, "ns1.omniroute.outbound.v1", {})["retention.ms"] == "60000"

    def test_gone_by_adds_segment_retention_and_the_check_interval(self) -> None:
        """The promise is the record's time plus segment, retention and one check."""
        at = datetime(2026, 1, 1, tzinfo=UTC)
        assert gone_by(at, {"segment.ms": "1000", "retention.ms": "2000"}) == at + timedelta(
            milliseconds=3000 + RETENTION_CHECK_MS)
        assert gone_by(at, {"retention.ms": "-1"}) is None  # kept forever: no promise


def mail(metadata: dict[str, str], channel: Channel = Channel.EMAIL) -> InboundMessage:
    return InboundMessage(event_id="e1", workspace="w", channel=channel, provider="mailgun",
                          channel_account="support@acme.test",
                          sender=Address(value="ada@example.test"),
                          recipient=Address(value="support@acme.test"),
                          provider_message_id="m1", text="hi", metadata=metadata)


class TestMailTrust:
    """Only an authenticated sender's mail is filed under the address claims name."""

    def test_authenticated_mail_keeps_its_address(self) -> None:
        """DMARC (or the provider's SPF+DKIM) pass: the mailto address, no weak claim."""
        message = mail({"email_auth": "pass"})
        assert trusted_address(message, "mailto:ada@example.test") == "mailto:ada@example.test"
        assert weak_email_claim(message, "mailto:ada@example.test") is None

    def test_failed_or_unchecked_mail_is_filed_apart_with_a_weak_claim(self) -> None:
        """Failing or lacking authentication gives the unverified address and a weak claim."""
        for metadata in ({"email_auth": "fail"}, {}):
            message = mail(metadata)
            address = trusted_address(message, "mailto:ada@example.test")
            assert address == "unverified:mailto:ada@example.test"
            claim = weak_email_claim(message, address)
            assert claim is not None and not claim.strong
            assert claim.addresses == ["mailto:ada@example.test", address]

    def test_other_channels_are_not_touched(self) -> None:
        """Only email carries an SPF/DKIM/DMARC verdict."""
        sms = mail({}, Channel.SMS)
        assert trusted_address(sms, "tel:+14155550100") == "tel:+14155550100"


class TestUnverifiedSenderRule:
    """The rule docs/privacy.md gives tags an unauthenticated mail for the agent."""

    def test_the_documented_rule_tags_only_unauthenticated_mail(self) -> None:
        """Message metadata is part of the rule attributes: fail is tagged, pass is not."""
        import tomllib

        from omniroute.automation.config import parse_automation
        from omniroute.automation.rules import Facts, evaluate

        doc = (Path(__file__).parents[3] / "docs" / "privacy.md").read_text(encoding="utf-8")
        toml = doc.split("```toml\n", 1)[1].split("```", 1)[0]
        rules = parse_automation(tomllib.loads(toml)).defaults.rules
        fail = Facts(event="message_received", channel="email",
                     attributes={"email_auth": "fail"})
        passed = Facts(event="message_received", channel="email",
                       attributes={"email_auth": "pass"})
        assert [(a.kind, a.value) for a in evaluate(rules, fail)] == [
            ("tag", "unverified-sender")]
        assert evaluate(rules, passed) == []
