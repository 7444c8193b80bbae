"""Credentials at rest: a model field that stores JSON encrypted with Fernet, with key rotation.

Keys come from the environment: `SAC_FIELD_ENCRYPTION_KEYS` (comma-separated, newest first) or the single
`SAC_FIELD_ENCRYPTION_KEY`. New values are encrypted with the newest key; every listed key still decrypts
(MultiFernet), so a new key can be put in front, `manage.py rotate_credentials` run, and the old key dropped.
"""

import base64
import functools
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _secrets() -> tuple[str, ...]:
    listed = getattr(settings, "SAC_FIELD_ENCRYPTION_KEYS", None) or []
    if isinstance(listed, str):
        listed = listed.split(",")
    keys = tuple(k.strip() for k in listed if k.strip())
    if keys:
        return keys
    secret = settings.SAC_FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    if not secret:
        raise ImproperlyConfigured("SAC_FIELD_ENCRYPTION_KEYS (or SAC_FIELD_ENCRYPTION_KEY) is needed to store "
                                   "credentials.")
    return (secret,)


@functools.lru_cache(maxsize=8)
def _fernets(secrets: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    # Each secret is a passphrase of any length; the Fernet key is derived from it, the same way as before
    # rotation existed, so ciphertexts written under the single SAC_FIELD_ENCRYPTION_KEY still decrypt.
    fernets = [Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"sac-fields:{s}".encode()).digest()))
               for s in secrets]
    return MultiFernet(fernets), fernets[0]


def _fernet() -> MultiFernet:
    return _fernets(_secrets())[0]


def encrypt_json(value: Any) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        # Loud on purpose: silently returning {} would look like "no credentials".
        raise ImproperlyConfigured("Stored credentials cannot be decrypted with the configured keys.") from exc


def is_current(token: str) -> bool:
    """True when `token` is already encrypted with the newest key (rotation has nothing to do)."""
    try:
        _fernets(_secrets())[1].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate_token(token: str) -> str:
    """Re-encrypt one stored ciphertext with the newest key (it must decrypt with one of the configured keys)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("A stored credential cannot be decrypted with any configured key.") from exc


class EncryptedJSONField(models.TextField):
    """A dict in Python, Fernet ciphertext in the database."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            return decrypt_json(value)
        return value or {}

    def get_prep_value(self, value: Any) -> str:
        return encrypt_json(value or {})


def rotate_stored_credentials(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every EncryptedJSONField value of every model with the newest key.

    Idempotent: values already under the newest key are left alone, so a second run rotates nothing.
    Works on the raw column (the field would decrypt it) and writes with a conditional UPDATE, so a value
    changed meanwhile (a token refresh, itself written with the newest key) is not overwritten.
    """
    from django.apps import apps
    from django.db import connection, transaction

    counts = {"rotated": 0, "current": 0, "changed_meanwhile": 0}
    quote = connection.ops.quote_name
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, EncryptedJSONField):
                continue
            table, column, pk = (quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column))
            last = None
            while True:
                with connection.cursor() as cursor:
                    where = f"{column} <> ''" + (f" AND {pk} > %s" if last is not None else "")
                    cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {where} ORDER BY {pk} "  # noqa: S608
                                   f"LIMIT {int(batch_size)}", [last] if last is not None else [])
                    rows = cursor.fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                with transaction.atomic(), connection.cursor() as cursor:
                    for row_pk, token in rows:
                        if is_current(token):
                            counts["current"] += 1
                            continue
                        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                                       [rotate_token(token), row_pk, token])
                        counts["rotated" if cursor.rowcount == 1 else "changed_meanwhile"] += 1
    return counts
