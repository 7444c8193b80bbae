"""Credentials at rest: encrypted in the column, readable across a key rotation, re-encrypted by the command."""

from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from channels_ingest.models import ChannelAccount
from channels_ingest.services import channel_create
from sac.services import tenant_create

TOKEN = "EAAsecret-page-token-never-in-clear"


def _raw_column(channel: ChannelAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT credentials FROM {ChannelAccount._meta.db_table} WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def _rotate() -> str:
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_rotates_keys_without_losing_a_credential(settings):
    settings.SAC_FIELD_ENCRYPTION_KEYS = ["key-A"]
    tenant = tenant_create(slug="rot", name="Rotation")
    channel = channel_create(tenant=tenant, platform="facebook", name="Page", external_account_id="1",
                             credentials={"page_access_token": TOKEN})
    before = _raw_column(channel)
    assert TOKEN not in before and "page_access_token" not in before

    settings.SAC_FIELD_ENCRYPTION_KEYS = ["key-B", "key-A"]  # the new key first, the old one still decrypts
    assert ChannelAccount.objects.get(pk=channel.pk).credentials["page_access_token"] == TOKEN
    assert _rotate().strip().startswith("rotated 1, already current 0")
    after = _raw_column(channel)
    assert after != before and TOKEN not in after
    assert _rotate().strip().startswith("rotated 0, already current 1")  # idempotent
    assert _raw_column(channel) == after

    settings.SAC_FIELD_ENCRYPTION_KEYS = ["key-B"]  # the old key is gone: still readable
    assert ChannelAccount.objects.get(pk=channel.pk).credentials["page_access_token"] == TOKEN
    settings.SAC_FIELD_ENCRYPTION_KEYS = ["key-A"]  # and the old key alone no longer reads it
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        ChannelAccount.objects.get(pk=channel.pk)


@pytest.mark.django_db
def test_the_single_key_setting_keeps_working_and_rotates_into_the_list(settings):
    settings.SAC_FIELD_ENCRYPTION_KEYS = []
    settings.SAC_FIELD_ENCRYPTION_KEY = "legacy-key"
    tenant = tenant_create(slug="leg", name="Legacy")
    channel = channel_create(tenant=tenant, platform="x", name="X", external_account_id="2",
                             credentials={"bearer_token": TOKEN})
    settings.SAC_FIELD_ENCRYPTION_KEYS = ["new-key", "legacy-key"]
    assert ChannelAccount.objects.get(pk=channel.pk).credentials["bearer_token"] == TOKEN
    _rotate()
    settings.SAC_FIELD_ENCRYPTION_KEYS, settings.SAC_FIELD_ENCRYPTION_KEY = ["new-key"], ""
    assert ChannelAccount.objects.get(pk=channel.pk).credentials["bearer_token"] == TOKEN


@pytest.mark.django_db
def test_rotation_without_the_old_key_stops_with_a_clear_error(settings):
    settings.SAC_FIELD_ENCRYPTION_KEYS = ["key-A"]
    tenant = tenant_create(slug="lost", name="Lost")
    channel_create(tenant=tenant, platform="x", name="X", external_account_id="3", credentials={"bearer_token": TOKEN})
    settings.SAC_FIELD_ENCRYPTION_KEYS = ["key-B"]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Keep the old key"):
        _rotate()
