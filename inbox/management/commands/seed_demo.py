"""Idempotent demo data: the Acme Telecom tenant, its people, its simulator channel and canned replies."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from channels_ingest.models import ChannelAccount, Platform
from channels_ingest.services import channel_create
from sac.models import Role, Team, Tenant
from sac.services import membership_ensure, tenant_create

from ...models import CannedReply

DEMO_PASSWORD = "sac-demo"
SIMULATOR_BRAND_ID = "1500000000000000001"

CANNED = [
    ("desculpas", "Pedido de desculpas", "pt",
     "Olá, {{customer.first_name}}! Sentimos muito pelo transtorno. Já estamos verificando o seu caso "
     "(protocolo {{case.protocol}}). {{agent.first_name}}, {{tenant.name}}"),
    ("privado", "Vamos para o privado", "pt",
     "Oi, {{customer.first_name}}! Para proteger seus dados, vamos continuar por mensagem privada. "
     "Protocolo {{case.protocol}}."),
    ("dados", "Pedir dados no privado", "pt",
     "{{customer.first_name}}, recebemos seus dados por aqui e já abrimos o atendimento {{case.protocol}}. "
     "Nossa equipe retorna em breve. {{agent.first_name}} – {{tenant.name}}"),
    ("resolvido", "Problema resolvido", "pt",
     "Prontinho, {{customer.first_name}}! Seu problema foi resolvido. Qualquer coisa, é só chamar. "
     "Protocolo {{case.protocol}}."),
    ("obrigado", "Agradecer elogio", "pt",
     "Que bom saber, {{customer.first_name}}! Obrigado pelo carinho. Equipe {{tenant.name}}"),
    ("sorry", "Apology (English)", "en",
     "Hi {{customer.first_name}}, we're sorry about this. We're looking into it now, your protocol is "
     "{{case.protocol}}. {{agent.first_name}}, {{tenant.name}}"),
    ("dm-en", "Move to DM (English)", "en",
     "Hi {{customer.first_name}}, to keep your details safe let's continue by direct message. "
     "Protocol {{case.protocol}}."),
]


class Command(BaseCommand):
    help = "Create (or update) the demo tenant 'acme' with users admin, supervisor, agent1, agent2."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        tenant = Tenant.objects.filter(slug="acme").first() or tenant_create(
            slug="acme", name="Acme Telecom", time_zone="America/Sao_Paulo", locale="pt-br"
        )
        team, _ = Team.objects.get_or_create(tenant=tenant, name="Atendimento")
        people = [("admin", Role.ADMIN, "Ana"), ("supervisor", Role.SUPERVISOR, "Sérgio"),
                  ("agent1", Role.AGENT, "Bruna"), ("agent2", Role.AGENT, "Diego")]
        for username, role, first_name in people:
            membership_ensure(tenant=tenant, username=username, role=role, password=DEMO_PASSWORD,
                              teams=[team], first_name=first_name)
        # A second brand, so the tenant switcher has something to switch to.
        lusa = Tenant.objects.filter(slug="lusa").first() or tenant_create(
            slug="lusa", name="Lusa Energia", time_zone="Europe/Lisbon", locale="pt-br"
        )
        membership_ensure(tenant=lusa, username="admin", role=Role.ADMIN)
        membership_ensure(tenant=lusa, username="supervisor", role=Role.SUPERVISOR)

        # The simulator accepts any token; rewriting them on each run keeps the demo polling after the
        # encryption key changed (a new SECRET_KEY), when the stored ciphertext can no longer be read.
        credentials = {"bearer_token": "demo", "consumer_key": "demo", "consumer_secret": "demo",
                       "access_token": "demo", "access_token_secret": "demo"}
        channel = ChannelAccount.objects.filter(tenant=tenant, platform=Platform.SIMULATOR).only("pk").first()
        if channel is None:
            channel = channel_create(
                tenant=tenant, platform=Platform.SIMULATOR, name="@acmetelecom (simulator)",
                external_account_id=SIMULATOR_BRAND_ID, handle="acmetelecom",
                api_base_url=settings.SAC_SIMULATOR_URL,
                credentials=credentials,
                poll_interval_seconds=settings.SAC_POLL_INTERVAL_SECONDS,
            )
        else:
            ChannelAccount.objects.filter(tenant=tenant, pk=channel.pk).update(
                api_base_url=settings.SAC_SIMULATOR_URL, poll_interval_seconds=settings.SAC_POLL_INTERVAL_SECONDS,
                status=ChannelAccount.Status.ACTIVE, credentials=credentials,
            )
        for shortcut, title, language, body in CANNED:
            # Keyed like a bank variant (shortcut, language, any network), so an admin's other variants survive.
            CannedReply.objects.get_or_create(tenant=tenant, owner=None, channel=None, platform="", shortcut=shortcut,
                                              language=language, defaults={"title": title, "body": body})
        for seed in settings.SAC_DEMO_SEEDS:
            call_command(seed)
        self.stdout.write(self.style.SUCCESS(
            "Demo tenant 'acme' (Acme Telecom) ready. Users: admin, supervisor, agent1, agent2; "
            f"password: {DEMO_PASSWORD}"
        ))
