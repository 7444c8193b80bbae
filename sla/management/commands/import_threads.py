import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sla.importers import iter_format
from sla.services import import_tenant_ensure, threads_import


class Command(BaseCommand):
    help = ("Import customer-care history (twcs CSV or IBM dialog JSON) with its real timestamps. Sends nothing; "
            "re-running the same file changes nothing; malformed records are reported on stderr and skipped.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug (created if missing)")
        parser.add_argument("--format", required=True, choices=("twcs", "ibm"))
        parser.add_argument("file")

    def handle(self, *args: object, **options: str) -> None:
        try:
            with open(options["file"], encoding="utf-8", newline="") as stream:
                parsed = iter_format(options["format"], stream)
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        for line in parsed.errors + parsed.skipped:
            sys.stderr.write(f"skipped {line}\n")
        tenant = import_tenant_ensure(slug=options["tenant"])
        result = threads_import(tenant=tenant, threads=parsed.threads)
        for line in result.failed:
            sys.stderr.write(f"skipped {line}\n")
        self.stdout.write(f"{tenant.slug}: {result.imported} threads imported, {result.already} already there, "
                          f"{len(parsed.errors) + len(parsed.skipped) + len(result.failed)} skipped")
