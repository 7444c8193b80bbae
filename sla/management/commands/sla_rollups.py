from django.core.management.base import BaseCommand, CommandError, CommandParser

from sac.models import Tenant
from sla.selectors import rollups_check
from sla.services import rollups_rebuild


class Command(BaseCommand):
    help = "Check the SLA rollups against the raw cases and events (--check), or recompute them (--rebuild)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="slug (default: every tenant)")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--check", action="store_true")
        mode.add_argument("--rebuild", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"no tenant {options['tenant']!r}")
        bad = 0
        for tenant in tenants:
            if options["rebuild"]:
                self.stdout.write(f"{tenant.slug}: {rollups_rebuild(tenant=tenant)} hourly rows rebuilt")
                continue
            diffs = rollups_check(tenant)
            bad += len(diffs)
            for line in diffs:
                self.stdout.write(f"{tenant.slug}: {line}")
            self.stdout.write(f"{tenant.slug}: {'OK, rollups equal the raw figures' if not diffs else 'MISMATCH'}")
        if bad:
            raise CommandError(f"{bad} rollup row(s) differ from the raw figures; run --rebuild")
