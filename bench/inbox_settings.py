"""What bench/inbox.py serves gunicorn with: the test settings (PostgreSQL, Redis, no DEBUG) but with the
persistent database connections production has (sac.settings.base.database_from_url: conn_max_age=60).
The test settings close the connection after every request, so each request would pay a new PostgreSQL
backend (fork, authentication, cold catalog caches) that no deployment pays; `--conn-max-age 0` brings that back."""

import os

from sac.settings.test import *  # noqa: F403
from sac.settings.test import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("SAC_BENCH_CONN_MAX_AGE", "60"))
