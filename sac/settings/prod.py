"""Production: every secret and address comes from the environment, no defaults."""

from sac.env import env_bool, env_str

from .base import *  # noqa: F403
from .base import MIDDLEWARE, database_from_url

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
DATABASES = {"default": database_from_url(env_str("DATABASE_URL"))}
REDIS_URL = env_str("REDIS_URL")
CACHES = {"default": {"BACKEND": "sac.cache.RedisCache", "LOCATION": REDIS_URL}}
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Static files served by the app itself (compressed, cache-busted), right after SecurityMiddleware.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
