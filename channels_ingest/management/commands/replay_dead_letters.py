"""Re-process dead letters after a parser fix, through the service the health page's Replay button uses.

Safe to run again: a replayed letter is closed, and what it stored is stored once (ingest dedups by the
network's id). Letters that still do not parse stay open, as they were; the run still exits 0.
"""

from datetime import datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from channels_ingest.models import DeadLetter
from channels_ingest.services import ReplayError, dead_letter_replay, dead_letter_replay_preview
from sac.models import Tenant


def _since(value: str) -> datetime:
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--since {value!r} is not an ISO date or date-time (2026-11-23 or 2026-11-23T10:00).")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Replay dead letters (open ones, or --id) through the parser that refused them, after a fix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG",
                            help="only this tenant's letters (repeat for several; default: every tenant)")
        parser.add_argument("--channel", type=int, metavar="ID", help="only letters of this channel")
        parser.add_argument("--id", type=int, dest="letter_id", metavar="ID",
                            help="only this dead letter (reported as already replayed when it is)")
        parser.add_argument("--since", type=_since, metavar="ISO_DATE",
                            help="only letters recorded at or after this date or date-time")
        parser.add_argument("--dry-run", action="store_true",
                            help="say what each letter would give now; store and close nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug__in=options["tenant"])
            missing = set(options["tenant"]) - {t.slug for t in tenants}
            if missing:
                raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}.")
        dry_run = options["dry_run"]
        counts = {"replayed": 0, "unreadable": 0, "already": 0}
        for tenant in tenants:
            letters = DeadLetter.objects.filter(tenant=tenant)
            if options["letter_id"] is not None:
                letters = letters.filter(pk=options["letter_id"])
            else:
                letters = letters.filter(resolved_at__isnull=True)
            if options["channel"] is not None:
                letters = letters.filter(channel_id=options["channel"])
            if options["since"] is not None:
                letters = letters.filter(created_at__gte=options["since"])
            for letter_id, source, resolved_at in letters.order_by("created_at", "pk").values_list(
                    "pk", "source", "resolved_at"):
                label = f"{tenant.slug} dead letter {letter_id} ({source}):"
                if resolved_at is not None:
                    counts["already"] += 1
                    self.stdout.write(f"{label} already replayed")
                    continue
                try:
                    if dry_run:
                        found = dead_letter_replay_preview(tenant=tenant, dead_letter_id=letter_id)
                        self.stdout.write(f"{label} would replay, {found} item(s)")
                    else:
                        result = dead_letter_replay(tenant=tenant, dead_letter_id=letter_id)
                        self.stdout.write(f"{label} replayed, {len(result.stored_ids)} new, "
                                          f"{result.duplicates} already stored")
                    counts["replayed"] += 1
                except ReplayError as exc:
                    counts["unreadable"] += 1
                    self.stdout.write(f"{label} {exc}")
                except DeadLetter.DoesNotExist:  # another replay (the button, a second run) got there first
                    counts["already"] += 1
                    self.stdout.write(f"{label} already replayed")
        verb = "would replay" if dry_run else "replayed"
        self.stdout.write(f"{verb} {counts['replayed']}, still unreadable {counts['unreadable']}, "
                          f"already replayed {counts['already']}" + (" (dry run: nothing stored)" if dry_run else ""))
