"""Tests run against real PostgreSQL and Redis (make test starts them)."""

from sac.env import env_str

from .base import *  # noqa: F403
from .base import database_from_url

DEBUG = False
SECRET_KEY = "test-only-insecure-key"
DATABASES = {"default": database_from_url(env_str("DATABASE_URL", "postgres://sac:sac@127.0.0.1:5432/sac"))}
DATABASES["default"]["CONN_MAX_AGE"] = 0
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/15")

CACHES = {"default": {"BACKEND": "sac.cache.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": "sac-test"}}
CELERY_BROKER_URL = REDIS_URL
# Most tests call tasks eagerly; tests/test_celery_worker.py runs a real worker on Redis.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SAC_FIELD_ENCRYPTION_KEY = "test-field-key"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
