"""Settings: read from OMNIROUTE_* variables, refused with one precise line."""

from __future__ import annotations

import pytest

from omniroute.errors import ConfigurationError
from omniroute.settings import Settings, load_settings


class TestLoadSettings:
    def test_defaults_match_the_documented_endpoints(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With nothing set, omniroute uses the endpoints the README documents."""
        for name in (
            "OMNIROUTE_KAFKA_BOOTSTRAP",
            "OMNIROUTE_DATABASE_URL",
            "OMNIROUTE_INGRESS_PORT",
        ):
            monkeypatch.delenv(name, raising=False)
        settings = load_settings()
        assert settings.kafka_bootstrap == "127.0.0.1:9092"
        assert (settings.ingress_port, settings.gateway_port, settings.smtp_port) == (
            8080,
            8081,
            2525,
        )
        assert settings.embedded_database

    def test_malformed_port_names_the_variable_and_the_value(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A typo in a port stops start-up with the variable, the problem and the value."""
        monkeypatch.setenv("OMNIROUTE_INGRESS_PORT", "80a")
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        message = str(caught.value)
        assert "OMNIROUTE_INGRESS_PORT" in message
        assert "'80a'" in message
        assert "\n" not in message

    def test_bad_database_url_and_bootstrap_explain_the_expected_form(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Both problems are reported at once, each with an example of the right form."""
        monkeypatch.setenv("OMNIROUTE_DATABASE_URL", "mysql://db/x")
        monkeypatch.setenv("OMNIROUTE_KAFKA_BOOTSTRAP", "localhost")
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        message = str(caught.value)
        assert "OMNIROUTE_DATABASE_URL: must start with postgresql://" in message
        assert "OMNIROUTE_KAFKA_BOOTSTRAP: 'localhost' is not host:port" in message

    def test_secrets_are_never_echoed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A rejected secret is named but its value never appears in the error or repr."""
        monkeypatch.setenv("OMNIROUTE_ENV", "production")
        monkeypatch.setenv("OMNIROUTE_LINE_CHANNEL_SECRET", "changeme")
        with pytest.raises(
            ConfigurationError, match="OMNIROUTE_LINE_CHANNEL_SECRET is a placeholder"
        ):
            load_settings()
        monkeypatch.setenv("OMNIROUTE_LINE_CHANNEL_SECRET", "s3cr3t-value-abc")
        monkeypatch.setenv("OMNIROUTE_IDENTITY_KEY", "k7Qw9-real-identity-key")
        assert "s3cr3t-value-abc" not in repr(load_settings())

    @pytest.mark.parametrize("value", ["Change_Me", "<your-secret>", "CHANGEME-please",
                                       "short", "aaaaaaaaaaaa", "my-placeholder-token",
                                       "replace me with the real key"])
    def test_placeholders_are_refused_in_any_spelling(self, monkeypatch: pytest.MonkeyPatch,
                                                      value: str) -> None:
        """Not exact-match only (issue 16): case, punctuation and placeholder words too."""
        monkeypatch.setenv("OMNIROUTE_ENV", "production")
        monkeypatch.setenv("OMNIROUTE_IDENTITY_KEY", "k7Qw9-real-identity-key")
        monkeypatch.setenv("OMNIROUTE_KAKAO_SECRET", value)
        with pytest.raises(ConfigurationError, match="OMNIROUTE_KAKAO_SECRET is a placeholder"):
            load_settings()

    def test_the_development_identity_key_is_refused_in_production(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OMNIROUTE_ENV", "production")
        with pytest.raises(ConfigurationError, match="OMNIROUTE_IDENTITY_KEY is a placeholder"):
            load_settings()

    def test_placeholder_secrets_are_fine_in_development(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Local development may use throwaway secrets."""
        monkeypatch.setenv("OMNIROUTE_ENV", "development")
        monkeypatch.setenv("OMNIROUTE_LINE_CHANNEL_SECRET", "changeme")
        assert load_settings().line_channel_secret is not None

    def test_topic_namespace_prefixes_every_topic(self) -> None:
        """A namespace isolates one deployment's (or test's) topics from another's."""
        assert Settings(topic_namespace="staging.").topic("omniroute.inbound.v1") == (
            "staging.omniroute.inbound.v1"
        )
        assert Settings().topic("omniroute.inbound.v1") == "omniroute.inbound.v1"
