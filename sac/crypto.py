"""Credentials at rest: a model field that stores JSON encrypted with Fernet."""

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _fernet() -> Fernet:
    secret = settings.SAC_FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    if not secret:
        raise ImproperlyConfigured("SAC_FIELD_ENCRYPTION_KEY (or SECRET_KEY) is needed to store credentials.")
    key = base64.urlsafe_b64encode(hashlib.sha256(f"sac-fields:{secret}".encode()).digest())
    return Fernet(key)


def encrypt_json(value: Any) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        # Loud on purpose: silently returning {} would look like "no credentials".
        raise ImproperlyConfigured("Stored credentials cannot be decrypted with the configured key.") from exc


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
