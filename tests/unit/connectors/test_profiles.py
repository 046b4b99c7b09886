"""What each connector asks a profile API for a sender's name, and how it reads the answer
(the documented response shapes; the ingress sends the request: integration tests)."""

from __future__ import annotations

from omniroute.contract import Address, Channel, InboundMessage, utcnow
from omniroute.settings import Settings
from omniroute_connectors.instagram import InstagramConnector
from omniroute_connectors.line import LineConnector
from omniroute_connectors.messenger import MessengerConnector
from omniroute_connectors.telegram import TelegramConnector

SETTINGS = Settings(line_channel_access_token="line-token", meta_access_token="page-token",
                    meta_graph_base_url="https://graph.test", line_api_base_url="https://line.test")


def message(channel: Channel, sender: str, scope: str | None = None) -> InboundMessage:
    return InboundMessage(event_id=f"{channel}:e1", channel=channel, provider=str(channel),
                          channel_account="acct", sender=Address(value=sender, scope=scope),
                          recipient=Address(value="acct"), provider_message_id="m1",
                          provider_timestamp=utcnow(), text="hi")


def test_line_asks_the_profile_of_a_user_or_of_a_group_or_room_member() -> None:
    line = LineConnector(SETTINGS)
    alone = line.profile_lookup(message(Channel.LINE, "Uaaa"))
    in_group = line.profile_lookup(message(Channel.LINE, "Uaaa", scope="Cgroup"))
    in_room = line.profile_lookup(message(Channel.LINE, "Uaaa", scope="Rroom"))
    assert alone is not None and in_group is not None and in_room is not None
    assert [alone.url, in_group.url, in_room.url] == [
        "https://line.test/v2/bot/profile/Uaaa",
        "https://line.test/v2/bot/group/Cgroup/member/Uaaa",
        "https://line.test/v2/bot/room/Rroom/member/Uaaa"]
    assert alone.headers == {"Authorization": "Bearer line-token"}
    assert alone.name_of({"displayName": " Sora Kim ", "userId": "Uaaa"}) == "Sora Kim"
    assert alone.name_of({"userId": "Uaaa"}) is None
    # a group whose member left no user id is published under the group: nobody to ask
    assert line.profile_lookup(message(Channel.LINE, "Cgroup", scope="Cgroup")) is None


def test_messenger_joins_first_and_last_name() -> None:
    lookup = MessengerConnector(SETTINGS).profile_lookup(message(Channel.MESSENGER, "2222"))
    assert lookup is not None
    assert (lookup.url, tuple(lookup.query)) == (
        "https://graph.test/v21.0/2222", (("fields", "first_name,last_name"),))
    assert lookup.headers == {"Authorization": "Bearer page-token"}
    assert lookup.name_of({"first_name": "Peter", "last_name": "Chang", "id": "2222"}) \
        == "Peter Chang"
    assert lookup.name_of({"first_name": "Peter", "id": "2222"}) == "Peter"
    assert lookup.name_of({"id": "2222"}) is None


def test_instagram_takes_the_name_else_the_username() -> None:
    lookup = InstagramConnector(SETTINGS).profile_lookup(message(Channel.INSTAGRAM, "3333"))
    assert lookup is not None and tuple(lookup.query) == (("fields", "name,username"),)
    assert lookup.name_of({"name": "Lia Moreau", "username": "lia"}) == "Lia Moreau"
    assert lookup.name_of({"name": None, "username": "mina.shop"}) == "@mina.shop"
    assert lookup.name_of({"name": None}) is None


def test_nothing_is_asked_without_credentials_or_a_profile_api() -> None:
    bare = Settings()
    assert LineConnector(bare).profile_lookup(message(Channel.LINE, "Uaaa")) is None
    assert MessengerConnector(bare).profile_lookup(message(Channel.MESSENGER, "2222")) is None
    assert TelegramConnector(SETTINGS).profile_lookup(message(Channel.TELEGRAM, "42")) is None
