"""Idempotent demo data for surveys and the CRM: the demo tenant's survey settings, two weeks of
contact-centre figures, and its CRM pointed at the fake CRM (HubSpot preset). `seed_demo` calls it."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm_bridge.models import CrmConfig
from crm_bridge.services import HUBSPOT_PRESET, crm_config_ensure
from sac.models import Tenant
from surveys.models import DeflectionDay
from surveys.services import survey_config_ensure

# Calls a day at the demo brand's contact centre, and site visits (made-up, plausible figures).
CALLS = (1830, 1764, 1702, 1655, 1190, 880, 1912, 1847, 1790, 1733, 1688, 1205, 903, 1876)


class Command(BaseCommand):
    help = "Survey settings, contact-centre figures and the fake-CRM configuration for the demo tenant."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--tenant", default="acme")

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        tenant = Tenant.objects.get(slug=options["tenant"])
        # No delay in the demo: the invitation appears in the simulator's sent log as soon as a case is resolved.
        survey_config_ensure(tenant=tenant, delay_minutes=0, quiet_days=0, currency="BRL",
                             cost_per_call="60.00", cost_per_social="4.50")
        today = timezone.localdate()
        for i, calls in enumerate(CALLS):
            DeflectionDay.objects.get_or_create(tenant=tenant, day=today - timedelta(days=i),
                                                defaults={"calls": calls, "site_visits": calls * 23})
        crm_config_ensure(tenant=tenant, kind=CrmConfig.Kind.REST, base_url=settings.SAC_FAKE_CRM_URL,
                          auth_header={"name": "Authorization", "value": "Bearer demo"}, timeout_seconds=1.5,
                          **HUBSPOT_PRESET)
        # The URL follows the environment on every run (like the simulator channel's).
        CrmConfig.objects.filter(tenant=tenant, kind=CrmConfig.Kind.REST).update(base_url=settings.SAC_FAKE_CRM_URL)
        self.stdout.write(f"Surveys and CRM ready for {tenant.name} (fake CRM at {settings.SAC_FAKE_CRM_URL}).")
