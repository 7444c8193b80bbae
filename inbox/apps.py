from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (subscribes to channels_ingest.mentions_stored)
