"""The load generator signs webhooks with the stack's provider secrets, or says which is missing."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from omniroute.errors import ConfigurationError
from omniroute.loadgen.drive import secrets_of
from omniroute.settings import Settings

pytestmark = pytest.mark.unit

SECRETS = {"twilio_auth_token": "t", "meta_app_secret": "m", "telegram_secret_token": "g",
           "line_channel_secret": "l"}


def test_every_secret_is_taken_from_the_settings() -> None:
    secrets = secrets_of(Settings(**{k: SecretStr(v) for k, v in SECRETS.items()}))
    assert (secrets.twilio_auth_token, secrets.meta_app_secret, secrets.telegram_secret_token,
            secrets.line_channel_secret) == ("t", "m", "g", "l")


def test_a_missing_secret_is_a_configuration_error_naming_it() -> None:
    """A user run without the secrets in its environment got a traceback (a ValueError);
    the CLI turns a ConfigurationError into one line and exit code 2."""
    given = {k: SecretStr(v) for k, v in SECRETS.items() if k != "line_channel_secret"}
    with pytest.raises(ConfigurationError, match="OMNIROUTE_LINE_CHANNEL_SECRET is not set"):
        secrets_of(Settings(line_channel_secret=None, **given))
