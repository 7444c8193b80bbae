"""`manage.py triage --jsonl [--tenant SLUG]`: triage JSON lines from stdin, one JSON line out per line in.

Input lines: {"id": …, "text": …, "platform": "x|facebook|instagram", "author_followers": …} (only text
is required). Output, in input order and flushed per line, is `TriageDecision.as_cli()`; a bad line
gives {"id": … or null, "error": "…"} and the run goes on; blank lines are skipped. With --tenant the
tenant's routing rules, personal-data patterns and promoted model are used; nothing is written.
"""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inbox.triage import DEFAULT_CONFIG, TriageConfig, TriageInput, triage

PLATFORMS = ("x", "facebook", "instagram")


def parse_line(line: str) -> tuple[Any, TriageInput | None, str]:
    """(id, input, error): exactly one of input and error is set."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(data, dict):
        return None, None, "each line must be a JSON object"
    item_id = data.get("id")
    if isinstance(item_id, (dict, list)):
        return None, None, "id must be a string, a number or null"
    text = data.get("text")
    if not isinstance(text, str):
        return item_id, None, "text is required and must be a string"
    platform = data.get("platform")
    if platform is not None and platform not in PLATFORMS:
        return item_id, None, f"platform must be one of {', '.join(PLATFORMS)}"
    followers = data.get("author_followers", 0)
    if followers is None:
        followers = 0
    if isinstance(followers, bool) or not isinstance(followers, int) or followers < 0:
        return item_id, None, "author_followers must be a non-negative integer"
    verified = data.get("author_verified", False)
    return item_id, TriageInput(text=text, followers_count=followers, verified=verified is True,
                                platform=platform or ""), ""


class Command(BaseCommand):
    help = "Triage JSON lines read from stdin; write one JSON line per input line (see docs/triage.md)."
    stealth_options = ("stdin",)  # call_command(..., stdin=BytesIO) in tests

    def add_arguments(self, parser):
        parser.add_argument("--jsonl", action="store_true", required=True, help="read and write JSON lines")
        parser.add_argument("--tenant", metavar="SLUG", help="use this tenant's rules, patterns and model")

    def handle(self, *args, **options):
        config = DEFAULT_CONFIG
        if options.get("tenant"):
            from inbox.selectors import triage_config_for
            from sac.models import Tenant

            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with slug {options['tenant']!r}")
            config = triage_config_for(tenant)
        source = options.get("stdin") or sys.stdin.buffer
        out = self.stdout
        try:
            for raw in source:
                result = self._one(raw, config)
                if result:  # a blank line gives nothing
                    out.write(result)
                    out.flush()
        except OSError as exc:
            raise CommandError(f"cannot read stdin: {exc}") from exc

    def _one(self, raw: bytes | str, config: TriageConfig) -> str:
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return json.dumps({"id": None, "error": "line is not valid UTF-8"}, separators=(",", ":"))
        else:
            line = raw
        if not line.strip():
            return ""
        item_id, item, error = parse_line(line)
        if item is None:
            return json.dumps({"id": item_id, "error": error}, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(triage(item, config).as_cli(item_id), ensure_ascii=False, separators=(",", ":"))
