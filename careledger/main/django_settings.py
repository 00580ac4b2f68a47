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
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Request bodies never reach the logs: only method, path and status do.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
