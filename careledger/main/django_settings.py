"""Django settings for the API process: no ORM, no sessions, no templates needed."""

from __future__ import annotations

import os
import secrets

from careledger.infra.settings import parse_flag

# Django's own key, made anew by each process, and never the token secret: a secret that
# signs bearer tokens is not handed to a framework to sign other things with. Nothing
# Django signs outlives the process here (no sessions, no CSRF cookies, no messages;
# tokens are access/tokens.py's, with CARELEDGER_TOKEN_SECRET). Whatever comes to need a
# signature that must survive a restart, or hold across workers, brings its own secret.
SECRET_KEY = secrets.token_urlsafe(50)
# The process read these through Settings.from_env first, which refused a bad value; they
# are parsed here as it parses them (parse_flag), so the two never disagree on a spelling.
DEBUG = parse_flag(os.environ.get("CARELEDGER_DEBUG"), name="CARELEDGER_DEBUG")
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "careledger.main.urls"
INSTALLED_APPS = ["django.contrib.staticfiles", "ninja", "careledger.web"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
STATIC_URL = "/static/"
MIDDLEWARE = ["careledger.gateways.limits.BodySizeLimit", "careledger.main.middleware.Callers"]
DATABASES: dict[str, object] = {}
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CARELEDGER_MAX_BODY_BYTES") or 256 * 1024)
APPEND_SLASH = False
# HTTPS, served directly or ended by a proxy: say so to browsers, and believe the proxy.
_BEHIND_PROXY = parse_flag(os.environ.get("CARELEDGER_BEHIND_PROXY"),
                           name="CARELEDGER_BEHIND_PROXY")
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
