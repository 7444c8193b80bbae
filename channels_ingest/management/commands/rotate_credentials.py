"""Re-encrypt every stored credential (channel tokens, CRM auth headers) with the newest key.

Rotation: put the new key first in SAC_FIELD_ENCRYPTION_KEYS ("new,old"), restart, run this command,
then drop the old key. Safe to run again: values already under the newest key are left alone.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from sac.crypto import rotate_stored_credentials


class Command(BaseCommand):
    help = "Re-encrypt every stored credential with the newest key of SAC_FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = rotate_stored_credentials()
        except ImproperlyConfigured as exc:
            raise CommandError(f"{exc} Keep the old key in SAC_FIELD_ENCRYPTION_KEYS until rotation is done.") \
                from exc
        self.stdout.write(f"rotated {counts['rotated']}, already current {counts['current']}, "
                          f"changed meanwhile {counts['changed_meanwhile']}")
