"""Which connector serves a channel. The only place that knows the list of networks."""

from typing import Protocol

from .errors import PermanentError
from .models import ChannelAccount, Platform
from .types import OutboundMessage, Page


class Connector(Protocol):
    def fetch_page(self) -> Page: ...

    def send(self, message: OutboundMessage) -> str: ...


def connector_for(channel: ChannelAccount) -> Connector:
    if channel.platform in (Platform.X, Platform.SIMULATOR):
        from .x.client import XConnector

        return XConnector(channel)
    if channel.platform == Platform.FACEBOOK:
        from .facebook.client import FacebookConnector

        return FacebookConnector(channel)
    if channel.platform == Platform.INSTAGRAM:
        from .instagram.client import InstagramConnector

        return InstagramConnector(channel)
    raise PermanentError(f"No connector for {channel.get_platform_display()} channels in this version.")
