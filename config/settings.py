"""StayOS settings, read from the environment (see .env.example)."""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Real environment variables win over both files; .local/env is written by scripts/services.sh.
for env_file in (BASE_DIR / ".env", BASE_DIR / ".local" / "env"):
    if env_file.exists():
        environ.Env.read_env(env_file, overwrite=False)

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. Production-safe unless DEBUG is on: `manage.py check --deploy` is clean with the
# defaults. The make targets serve plain http on 127.0.0.1 and switch these off in .local/env.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Behind a proxy that ends TLS, Django sees http: trust the proxy's header (e.g.
# "HTTP_X_FORWARDED_PROTO,https"), or the SSL redirect would loop. Only when the proxy
# always sets or strips that header, else a client could claim https itself.
if _proxy_ssl_header := env.list("SECURE_PROXY_SSL_HEADER", default=[]):
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER is a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https."
        )
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "psqlextra",
    "pgtrigger",
    "django_celery_beat",
    "django_countries",
    # StayOS, lowest layer first: the seed command runs each app's seeding in this order.
    "audit",
    "stayos",
    "guests",
    "reservations",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "stayos.middleware.RefuseNulInAddressMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL")}
# psqlextra's backend wraps Django's PostgreSQL backend (psycopg 3) and adds partitioning.
DATABASES["default"]["ENGINE"] = "psqlextra.backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
POSTGRES_EXTRA_AUTO_EXTENSION_SET_UP = False
# Monthly partitions of audit_log, domain_event (and ledger_entry): see config/partitioning.py.
PSQLEXTRA_PARTITIONING_MANAGER = "config.partitioning.manager"
PARTITIONED_TABLES = "config.partitioning.PARTITIONED_TABLES"
PARTITIONS_MONTHS_AHEAD = env.int("PARTITIONS_MONTHS_AHEAD", default=3)
AUDIT_RETENTION_MONTHS = env.int("AUDIT_RETENTION_MONTHS", default=84)
EVENTS_RETENTION_MONTHS = env.int("EVENTS_RETENTION_MONTHS", default=36)
LEDGER_RETENTION_MONTHS = env.int("LEDGER_RETENTION_MONTHS", default=24)
for _name in ("AUDIT_RETENTION_MONTHS", "EVENTS_RETENTION_MONTHS", "LEDGER_RETENTION_MONTHS"):
    # Maintenance drops whole months past retention: a typo here must not empty a table.
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1 (month).")
if PARTITIONS_MONTHS_AHEAD < 1:
    raise ImproperlyConfigured("PARTITIONS_MONTHS_AHEAD must be at least 1.")
# Partitions past retention are copied here (gzip + SHA-256 manifest) before they are dropped.
ARCHIVE_DIR = Path(env.str("ARCHIVE_DIR", default=str(BASE_DIR / ".local" / "archive")))
# Maintenance gives up on a lock it cannot get in this time rather than queue the front desk.
PARTITIONS_LOCK_TIMEOUT = env.str("PARTITIONS_LOCK_TIMEOUT", default="5s")
# Rows moved out of a DEFAULT partition per transaction (each a short one, see
# stayos.partitioning.maintenance): smaller keeps each commit and its WAL burst small.
PARTITIONS_SWEEP_BATCH_ROWS = env.int("PARTITIONS_SWEEP_BATCH_ROWS", default=5000)
if PARTITIONS_SWEEP_BATCH_ROWS < 1:
    raise ImproperlyConfigured("PARTITIONS_SWEEP_BATCH_ROWS must be at least 1.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".local" / "static"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The nightly jobs; each entry says when and why. Beat copies them into django-celery-beat's
# tables, where staff can see and pause them in the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # 02:30 UTC, the quiet hour: partitions ahead, DEFAULT swept, retention archived then dropped.
    "maintain-partitions": {
        "task": "stayos.tasks.maintain_partitions",
        "schedule": crontab(hour=2, minute=30),
    },
    # 00:20 UTC, once the day is over: hash yesterday's audit rows into the seal chain.
    "seal-audit-log": {
        "task": "stayos.tasks.seal_audit_log",
        "schedule": crontab(hour=0, minute=20),
    },
}

# Guests' personal data (ID document numbers, dates of birth, addresses, notes) is encrypted
# in the application with AES-256-GCM before it reaches PostgreSQL. GUEST_PII_KEYS lists
# "key-id:base64-key" pairs, the first one current (new writes), the others kept to read rows
# not yet re-encrypted (`manage.py guests rotate_key`). GUEST_PII_INDEX_KEY keys the HMAC
# blind indexes used for exact look-ups. Neither is ever committed: see .env.example.
GUEST_PII_KEYS = env.list("GUEST_PII_KEYS", default=[])
GUEST_PII_INDEX_KEY = env.str("GUEST_PII_INDEX_KEY", default="")

# Audit seals are signed with Ed25519 under AUDIT_SEAL_KEY (base64 of the 32-byte private key,
# `manage.py audit generate_key`), which PostgreSQL never sees: someone who can rewrite the
# database cannot forge a seal. AUDIT_SEAL_PUBLIC_KEYS (base64 public keys) are also accepted
# by `audit verify`: keys retired by a rotation, or all a verifier holds without the private
# key. Each day's seal is also written as a digest file under AUDIT_DIGEST_DIR, outside the
# database (keep it on other storage, or copy it off the host, to make it worth more).
AUDIT_SEAL_KEY = env.str("AUDIT_SEAL_KEY", default="")
AUDIT_SEAL_PUBLIC_KEYS = env.list("AUDIT_SEAL_PUBLIC_KEYS", default=[])
AUDIT_DIGEST_DIR = Path(
    env.str("AUDIT_DIGEST_DIR", default=str(BASE_DIR / ".local" / "audit-digests"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
