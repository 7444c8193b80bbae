"""Register this installation's X Account Activity webhook and print the id to put in SAC_X_WEBHOOK_ID.

An X app has one webhook URL for all the accounts it serves: SAC's is /hooks/x/app/ on the public host, e.g.
``manage.py x_webhook_register https://sac.example.com/hooks/x/app/``. X checks the URL with a CRC request
before saving it, so the site must be reachable and SAC_X_CONSUMER_SECRET set. Needs SAC_X_APP_BEARER_TOKEN.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_ingest.subscriptions import WebhookRegistrationError, x_webhook_register


class Command(BaseCommand):
    help = "Register the installation's X webhook (its URL is /hooks/x/app/) and print its id for SAC_X_WEBHOOK_ID."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("callback_url", help="the public https URL of /hooks/x/app/")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            webhook = x_webhook_register(callback_url=options["callback_url"])
        except WebhookRegistrationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Registered X webhook {webhook['id']} for {webhook.get('url', options['callback_url'])}.")
        self.stdout.write(f"Set SAC_X_WEBHOOK_ID={webhook['id']} and restart: connecting an X account then "
                          "subscribes it (existing X channels: Subscribe again on their health page).")
