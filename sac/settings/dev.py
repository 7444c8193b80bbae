"""The embedded demo: SQLite, Celery in-process, nothing else to install."""

from sac.env import env_str

from .base import *  # noqa: F403
from .base import BASE_DIR, database_from_url

DEBUG = True
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {"default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"))}

# The demo runs every task in-process: no broker to install.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = "memory://localhost/"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SAC_POLL_INTERVAL_SECONDS = 5
# "Connect with X" / "Connect with Facebook" in the demo run the real OAuth code against the loopback simulator,
# which knows this client id and secret (channels_ingest/simulator/oauth.py).
_SIM = SAC_SIMULATOR_URL.rstrip("/")  # noqa: F405
SAC_X_OAUTH_CLIENT_ID = env_str("SAC_X_OAUTH_CLIENT_ID", "sac-demo")
SAC_X_OAUTH_CLIENT_SECRET = env_str("SAC_X_OAUTH_CLIENT_SECRET", "sac-demo-secret")
SAC_X_OAUTH_AUTHORIZE_URL = env_str("SAC_X_OAUTH_AUTHORIZE_URL", f"{_SIM}/i/oauth2/authorize")
SAC_X_OAUTH_TOKEN_URL = env_str("SAC_X_OAUTH_TOKEN_URL", f"{_SIM}/2/oauth2/token")
SAC_X_API_URL = env_str("SAC_X_API_URL", _SIM)
SAC_FACEBOOK_APP_ID = env_str("SAC_FACEBOOK_APP_ID", "sac-demo")
SAC_FACEBOOK_APP_SECRET = env_str("SAC_FACEBOOK_APP_SECRET", "sac-demo-secret")
SAC_FACEBOOK_DIALOG_URL = env_str("SAC_FACEBOOK_DIALOG_URL", f"{_SIM}/v21.0/dialog/oauth")
SAC_GRAPH_API_URL = env_str("SAC_GRAPH_API_URL", f"{_SIM}/graph/v21.0")

# Eager tasks would log every 5-second poll; the demo's console keeps to warnings.
LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405
# The demo's SLA digests and other mail print to the console instead of dialling an SMTP server.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# SQLite ignores covering-index columns (INCLUDE); the index itself still exists. Nothing to fix here.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
