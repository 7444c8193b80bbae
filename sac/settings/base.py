"""Settings shared by every environment. Environment-specific files import * from here."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from kombu import Queue

from sac.env import env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parents[2]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "sac",
    "channels_ingest",
    "inbox",
    "sla",
    "surveys",
    "crm_bridge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "sac.i18n.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sac.urls"
WSGI_APPLICATION = "sac.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sac.context_processors.tenancy",
            ],
            # `{% url %}` remembering the URLs it built (reverse() cost 55–80 µs a tag).
            "builtins": ["sac.templatetags.cached_url"],
        },
    },
]


def database_from_url(url: str) -> dict:
    # Health checks: a persistent connection that a PostgreSQL restart (or failover) dropped is replaced
    # before its first use in the next request or task, instead of failing that request once.
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE transactions take the write lock up front, so the demo's poller
        # thread and web requests queue for it instead of failing with "database is
        # locked" on a lock upgrade; WAL lets readers proceed meanwhile.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The invitation page (/invite/<token>/) is public: a new person's password is checked against all four.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English outside requests (tasks, commands, logs). Pages choose their own language in sac/i18n.py: the header's
# switcher (a cookie), else the brand's locale on /t/<slug>/ pages, else Accept-Language, else pt-BR.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Images agents attach to replies (inbox/media.py): under <MEDIA_ROOT>/tenants/<tenant id>/, never served
# as static files: only the tenant's own inbox view hands them out.
MEDIA_ROOT = Path(env_str("SAC_MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# Sessions are read on every page (the queue polls every 4 s): from the cache, with the database behind it so
# a cache restart logs nobody out. The demo's cache is in-process (LocMemCache); the database still holds them.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# The session's user arrives with their memberships (one statement instead of two ORM queries a page). Django's
# ModelBackend stays listed so that sessions signed in before keep working (a session names its backend). With two
# backends, code that calls login() must name the backend; and a wrong password stops at sac's (PermissionDenied),
# so a backend added after it would never see password logins: add it before.
AUTHENTICATION_BACKENDS = ["sac.backends.MembershipsBackend", "django.contrib.auth.backends.ModelBackend"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sac.authentication.MembershipTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "sac.pagination.ViewOrderedCursorPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SAC API",
    "DESCRIPTION": "Multi-tenant social customer care. Every token belongs to one membership of one tenant.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Celery: JSON only, late acks, time limits, one queue per workload (DESIGN.md).
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name) for name in ("celery", "ingest", "outbound", "sla", "surveys", "crm")]
CELERY_TASK_ROUTES = {
    "channels_ingest.tasks.*": {"queue": "ingest"},
    "inbox.tasks.reply_deliver": {"queue": "outbound"},
    "inbox.tasks.reply_outcome_check": {"queue": "outbound"},
    "inbox.tasks.*": {"queue": "ingest"},
    "sla.tasks.*": {"queue": "sla"},
    "surveys.tasks.*": {"queue": "surveys"},
    "crm_bridge.tasks.*": {"queue": "crm"},
}
CELERY_BEAT_SCHEDULE = {
    "schedule-due-polls": {
        "task": "channels_ingest.tasks.schedule_due_polls",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    },
    "mentions-triage-sweep": {
        "task": "inbox.tasks.mentions_triage_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "cases-auto-close": {
        "task": "inbox.tasks.cases_auto_close",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
    "survey-invitations-sweep": {
        "task": "surveys.tasks.survey_invitations_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "crm-pushes-sweep": {
        "task": "crm_bridge.tasks.crm_pushes_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "replies-deliver-sweep": {
        "task": "inbox.tasks.replies_deliver_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "sla-sweep": {
        "task": "sla.tasks.sla_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "sla-crisis-watch": {
        "task": "sla.tasks.sla_crisis_watch",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "sla-digest": {
        "task": "sla.tasks.sla_digest_send",
        "schedule": timedelta(minutes=env_int("SAC_SLA_DIGEST_MINUTES", 15)),
        "options": {"expires": 600},
    },
}

# SAC's own knobs.
SAC_POLL_INTERVAL_SECONDS = env_int("SAC_POLL_INTERVAL_SECONDS", 15)
SAC_SIMULATOR_URL = env_str("SAC_SIMULATOR_URL", "http://127.0.0.1:8001")
SAC_X_API_URL = env_str("SAC_X_API_URL", "https://api.twitter.com")
SAC_HTTP_TIMEOUT_SECONDS = env_int("SAC_HTTP_TIMEOUT_SECONDS", 10)
# How long a poll holds its channel; a worker that died mid-poll (or lost its database) frees it after this.
SAC_POLL_LEASE_SECONDS = env_int("SAC_POLL_LEASE_SECONDS", 120)
# While a channel's webhooks are live (a delivery within SAC_WEBHOOK_ACTIVE_SECONDS), it is still polled, at
# this slower reconciliation interval, to catch what the network failed to deliver.
SAC_RECONCILE_INTERVAL_SECONDS = env_int("SAC_RECONCILE_INTERVAL_SECONDS", 300)
SAC_WEBHOOK_ACTIVE_SECONDS = env_int("SAC_WEBHOOK_ACTIVE_SECONDS", 3600)
# Ingest work (webhook deliveries, triage) runs as per-tenant drains: at most one waiting in the queue per tenant
# and kind, and at most this many running at once for one tenant, so a tenant in a viral crisis cannot fill the
# queue or every worker while the others wait (sac/queueing.py).
SAC_MAX_CONCURRENT_INGEST_PER_TENANT = env_int("SAC_MAX_CONCURRENT_INGEST_PER_TENANT", 2)
# Resolved cases close for good after this many days without the customer writing again.
SAC_AUTO_CLOSE_DAYS = env_int("SAC_AUTO_CLOSE_DAYS", 7)
# SLA crisis alert: negative mentions in the last hour against the same hour of the past weeks.
SAC_SLA_CRISIS_MIN = env_int("SAC_SLA_CRISIS_MIN", 10)
SAC_SLA_CRISIS_FACTOR = env_int("SAC_SLA_CRISIS_FACTOR", 3)
SAC_SLA_CRISIS_WEEKS = env_int("SAC_SLA_CRISIS_WEEKS", 4)
# The dashboard shows the crisis check sla_crisis_watch made (every minute) if it is at most this old.
SAC_SLA_CRISIS_MAX_AGE = env_int("SAC_SLA_CRISIS_MAX_AGE", 120)
# Where customers open survey links (/s/<token>): the public address of this installation.
SAC_PUBLIC_BASE_URL = env_str("SAC_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# The demo's loopback fake CRM (crm_bridge/fake_crm), HubSpot-shaped.
SAC_FAKE_CRM_URL = env_str("SAC_FAKE_CRM_URL", "http://127.0.0.1:8002")
# A separate key for credentials at rest lets SECRET_KEY rotate without losing them.
SAC_FIELD_ENCRYPTION_KEY = env_str("SAC_FIELD_ENCRYPTION_KEY", "")
# Key rotation: comma-separated, newest first; every key decrypts, the first encrypts (manage.py rotate_credentials).
SAC_FIELD_ENCRYPTION_KEYS = env_list("SAC_FIELD_ENCRYPTION_KEYS", "")
# "Connect with X" (OAuth 2.0 Authorization Code with PKCE) and "Connect with Facebook" (Facebook Login for
# pages): the app's credentials and the networks' hosts. The demo points the hosts at the loopback simulator.
SAC_X_OAUTH_CLIENT_ID = env_str("SAC_X_OAUTH_CLIENT_ID", "")
SAC_X_OAUTH_CLIENT_SECRET = env_str("SAC_X_OAUTH_CLIENT_SECRET", "")
# X Account Activity webhooks are signed with the app's API key secret (not the OAuth 2.0 client secret); channels
# connected with OAuth 2.0 hold no consumer secret of their own, so CRC and signatures use this one.
SAC_X_CONSUMER_SECRET = env_str("SAC_X_CONSUMER_SECRET", "")
SAC_X_OAUTH_AUTHORIZE_URL = env_str("SAC_X_OAUTH_AUTHORIZE_URL", "https://x.com/i/oauth2/authorize")
SAC_X_OAUTH_TOKEN_URL = env_str("SAC_X_OAUTH_TOKEN_URL", "https://api.x.com/2/oauth2/token")
SAC_FACEBOOK_APP_ID = env_str("SAC_FACEBOOK_APP_ID", "")
SAC_FACEBOOK_APP_SECRET = env_str("SAC_FACEBOOK_APP_SECRET", "")
SAC_FACEBOOK_DIALOG_URL = env_str("SAC_FACEBOOK_DIALOG_URL", "https://www.facebook.com/v21.0/dialog/oauth")
SAC_GRAPH_API_URL = env_str("SAC_GRAPH_API_URL", "https://graph.facebook.com/v21.0")
# Webhooks of OAuth-connected channels arrive at the app's one callback URL (/hooks/meta/, /hooks/x/app/), not one
# per channel: Meta echoes this token when the app's webhook is set up in the App Dashboard (empty: refused).
SAC_FACEBOOK_WEBHOOK_VERIFY_TOKEN = env_str("SAC_FACEBOOK_WEBHOOK_VERIFY_TOKEN", "")
# X Account Activity: the id of the installation's registered webhook (manage.py x_webhook_register prints it).
# Empty: connecting an X account subscribes nothing and the channel is polled only.
SAC_X_WEBHOOK_ID = env_str("SAC_X_WEBHOOK_ID", "")
# The X app's bearer token (app-only auth), used only by manage.py x_webhook_register.
SAC_X_APP_BEARER_TOKEN = env_str("SAC_X_APP_BEARER_TOKEN", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# `manage.py demo` runs these loopback stand-ins of outside services in its own process
# (class path, the setting holding its URL, constructor keywords).
SAC_DEMO_SERVERS = [
    ("channels_ingest.simulator.SimulatorServer", "SAC_SIMULATOR_URL", {"rate_per_minute": 6.0}),
    ("crm_bridge.fake_crm.FakeCrmServer", "SAC_FAKE_CRM_URL", {}),
]
# Management commands the demo seed runs after its own (each app seeds its part of the demo).
SAC_DEMO_SEEDS = ["seed_surveys_demo"]
