"""Several accounts per provider, from a TOML file named by ``OMNIROUTE_CONNECTORS_CONFIG``.

The single-account ``OMNIROUTE_*`` variables stay the default account; the file
adds more. Each table array is one provider; each entry names an account, its
credentials, and the channel accounts it owns (the ``channel_account`` of
messages: Twilio sender numbers, Meta page / Instagram / WhatsApp phone-number
ids, LINE bot user ids)::

    [[twilio]]
    name = "us-support"
    account_sid = "AC..."
    auth_token = "..."
    channel_accounts = ["+14155550199", "whatsapp:+14155550199"]

    [[meta]]
    name = "shop-pages"
    app_secret = "..."
    verify_token = "..."
    access_token = "..."          # the page / WhatsApp system-user token
    channel_accounts = ["104000000000001", "17841400000000001"]

    [[line]]
    name = "jp"                   # webhook URL /webhooks/line/jp
    channel_secret = "..."
    channel_access_token = "..."
    channel_accounts = ["U4af4980629..."]   # the bot's user id (webhook ``destination``)

Inbound, a request is authentic when it verifies under the account its route
names (``/webhooks/line/<name>``) or, on the plain route, under any configured
account of the provider; and what it carries is published only for channel
accounts the verifying account owns (:func:`require_owner`): a body signed
with one account's secret is never published as another account's (403
``account_mismatch``). Outbound, the credentials are those of the account
listing the message's ``channel_account``, else the environment's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr

from omniroute.errors import ConfigurationError
from omniroute.settings import Environment, Settings, placeholder_secret

FIELDS: Mapping[str, frozenset[str]] = {
    "twilio": frozenset({"account_sid", "auth_token"}),
    "meta": frozenset({"app_secret", "verify_token", "access_token"}),
    "line": frozenset({"channel_secret", "channel_access_token"}),
}


@dataclass(frozen=True)
class Account:
    """One configured provider account."""

    provider: str
    name: str
    secrets: Mapping[str, str]
    channel_accounts: frozenset[str]


@dataclass(frozen=True)
class AccountBook:
    """Every configured account, by provider."""

    accounts: tuple[Account, ...] = ()

    @classmethod
    def parse(cls, text: str, source: str = "connectors config",
              production: bool = False) -> AccountBook:
        """Parse and validate the TOML text (ConfigurationError naming the problem); in
        production a placeholder credential is refused like a placeholder variable."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{source} is not valid TOML: {exc}") from exc
        accounts: list[Account] = []
        for provider, entries in data.items():
            if provider not in FIELDS:
                raise ConfigurationError(f"{source}: unknown provider [[{provider}]]",
                                         hint=f"use one of {', '.join(sorted(FIELDS))}")
            if not isinstance(entries, list):
                raise ConfigurationError(f"{source}: write [[{provider}]] (an array of tables)")
            names: set[str] = set()
            for entry in entries:
                accounts.append(_account(provider, entry, names, source))
        if production:
            for account in accounts:
                for key, value in account.secrets.items():
                    if key != "account_sid" and placeholder_secret(value):
                        raise ConfigurationError(
                            f"{source}: [[{account.provider}]] {account.name!r}: {key} is a "
                            "placeholder; set a real secret in production")
        return cls(tuple(accounts))

    def of(self, provider: str) -> list[Account]:
        """The accounts of ``provider`` in file order."""
        return [a for a in self.accounts if a.provider == provider]

    def named(self, provider: str, name: str) -> Account | None:
        """The account of ``provider`` called ``name``."""
        return next((a for a in self.of(provider) if a.name == name), None)

    def owning(self, provider: str, channel_account: str) -> Account | None:
        """The account of ``provider`` that lists ``channel_account``."""
        return next((a for a in self.of(provider) if channel_account in a.channel_accounts),
                    None)


def _account(provider: str, entry: object, names: set[str], source: str) -> Account:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{source}: each [[{provider}]] must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name or not name.replace("-", "").replace(
            "_", "").isalnum():
        raise ConfigurationError(f"{source}: [[{provider}]] needs a name of letters, digits, "
                                 f"- or _ (got {name!r})")
    if name in names:
        raise ConfigurationError(f"{source}: two [[{provider}]] accounts are named {name!r}")
    names.add(name)
    unknown = set(entry) - FIELDS[provider] - {"name", "channel_accounts"}
    if unknown:
        raise ConfigurationError(f"{source}: [[{provider}]] {name!r} has unknown keys "
                                 f"{', '.join(sorted(unknown))}",
                                 hint=f"known: {', '.join(sorted(FIELDS[provider]))}")
    secrets = {k: v for k, v in entry.items() if k in FIELDS[provider]}
    if not all(isinstance(v, str) and v for v in secrets.values()):
        raise ConfigurationError(f"{source}: [[{provider}]] {name!r}: credentials are strings")
    owned = entry.get("channel_accounts", [])
    if not isinstance(owned, list) or not all(isinstance(v, str) for v in owned):
        raise ConfigurationError(f"{source}: [[{provider}]] {name!r}: channel_accounts is a "
                                 "list of strings")
    return Account(provider, name, secrets, frozenset(owned))


@lru_cache(maxsize=8)
def _load(path: str, production: bool = False) -> AccountBook:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read OMNIROUTE_CONNECTORS_CONFIG {path}: {exc}") from exc
    return AccountBook.parse(text, path, production)


def book(settings: Settings) -> AccountBook:
    """The accounts of ``settings.connectors_config`` (empty when unset); read once."""
    path = getattr(settings, "connectors_config", None)
    production = settings.env is Environment.PRODUCTION
    return _load(str(path), production) if path else AccountBook()


def _plain(value: SecretStr | str | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    return value or None


def candidates(settings: Settings, provider: str, field: str, default: SecretStr | str | None,
               name: str | None = None) -> list[str]:
    """The secrets a request may verify under.

    With ``name`` (a route naming an account) only that account's; otherwise the
    environment's default then every configured account's.
    """
    accounts = book(settings)
    if name is not None:
        account = accounts.named(provider, name)
        return [account.secrets[field]] if account and field in account.secrets else []
    found = [_plain(default)] + [a.secrets.get(field) for a in accounts.of(provider)]
    return [s for s in found if s]


def credential(settings: Settings, provider: str, field: str, channel_account: str,
               default: SecretStr | str | None) -> str | None:
    """The ``field`` of the account owning ``channel_account``, else the default."""
    account = book(settings).owning(provider, channel_account)
    if account is not None and field in account.secrets:
        return account.secrets[field]
    return _plain(default)


def verifying(settings: Settings, provider: str, field: str, default: SecretStr | str | None,
              valid: Callable[[str], bool], name: str | None = None) -> list[str | None]:
    """The accounts whose ``field`` secret makes ``valid`` true (``None``: the environment's).

    With ``name`` (a route naming an account) only that account is tried.
    """
    accounts = book(settings)
    if name is not None:
        account = accounts.named(provider, name)
        secret = account.secrets.get(field) if account else None
        return [name] if secret and valid(secret) else []
    found: list[str | None] = []
    env = _plain(default)
    if env and valid(env):
        found.append(None)
    found.extend(a.name for a in accounts.of(provider)
                 if a.secrets.get(field) and valid(a.secrets[field]))
    return found


def require_owner(settings: Settings, provider: str, verified: Iterable[str | None],
                  channel_accounts: Iterable[str]) -> None:
    """Forbidden unless every channel account is one a verifying account may publish for.

    A channel account listed by an account belongs to that account; an unlisted one
    belongs to the environment's default credentials (or, without them, to any
    verifying account).
    """
    from omniroute_connectors.base import Forbidden

    accounts = book(settings)
    if not accounts.of(provider):
        return  # one set of credentials: nothing to confuse
    names = set(verified)
    for channel_account in channel_accounts:
        owner = accounts.owning(provider, channel_account)
        if owner is not None:
            if owner.name in names:
                continue
        elif None in names or _no_default(settings, provider):
            continue
        raise Forbidden(f"the request was signed with another account's secret than the one "
                        f"owning channel account {channel_account!r}", reason="account_mismatch")


def _no_default(settings: Settings, provider: str) -> bool:
    field = {"twilio": "twilio_auth_token", "meta": "meta_app_secret",
             "line": "line_channel_secret"}[provider]
    return getattr(settings, field, None) is None
