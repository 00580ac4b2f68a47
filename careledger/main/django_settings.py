"""Django settings for the API process: no ORM, no sessions, no templates needed."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("CARELEDGER_TOKEN_SECRET", "careledger-django-unused-secret")
DEBUG = os.environ.get("CARELEDGER_DEBUG", "").lower() in {"1", "true", "yes", "y"}
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "careledger.main.urls"
INSTALLED_APPS = ["django.contrib.staticfiles", "ninja", "careledger.web"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
STATIC_URL = "/static/"
MIDDLEWARE = ["careledger.gateways.limits.BodySizeLimit"]
DATABASES: dict[str, object] = {}
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CARELEDGER_MAX_BODY_BYTES") or 256 * 1024)
APPEND_SLASH = False
# HTTPS, served directly or ended by a proxy: say so to browsers, and believe the proxy.
# (The process read these through Settings.from_env first, which refused a bad value.)
_BEHIND_PROXY = os.environ.get("CARELEDGER_BEHIND_PROXY", "").lower() in {
    "1", "true", "yes", "y", "on"}
if os.environ.get("CARELEDGER_TLS_CERT") or _BEHIND_PROXY:
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_CONTENT_TYPE_NOSNIFF = True
    MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", *MIDDLEWARE]
if _BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Request bodies never reach the logs: only method, path and status do.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
