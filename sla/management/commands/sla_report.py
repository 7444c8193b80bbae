import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sac.models import Tenant
from sla.selectors import first_response_report


class Command(BaseCommand):
    help = "First-response figures of a tenant (calendar minutes) as one JSON object, from the dashboard selectors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--json", action="store_true", required=True)
        parser.add_argument("--since", help="first day (YYYY-MM-DD, tenant time zone)")
        parser.add_argument("--until", help="last day, inclusive (YYYY-MM-DD, tenant time zone)")

    def handle(self, *args: object, **options: str) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant {options['tenant']!r}")
        tz = ZoneInfo(tenant.time_zone)
        try:
            since = datetime.combine(date.fromisoformat(options["since"]), time(), tzinfo=tz) \
                if options.get("since") else None
            until = datetime.combine(date.fromisoformat(options["until"]) + timedelta(days=1), time(), tzinfo=tz) \
                if options.get("until") else None
        except ValueError as exc:
            raise CommandError(f"bad date: {exc}") from exc
        self.stdout.write(json.dumps(first_response_report(tenant, since=since, until=until), ensure_ascii=False))
