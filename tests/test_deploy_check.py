"""`manage.py check --deploy` is clean with DEBUG off and production settings from the env."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run manage.py as production would: only the environment this test gives, no .env or
# .local/env file (the latter holds the plain-http values of a local checkout).
WITHOUT_ENV_FILES = (
    "import sys, environ;"
    "environ.Env.read_env = classmethod(lambda *args, **kwargs: None);"
    "from django.core.management import execute_from_command_line;"
    "execute_from_command_line(['manage.py', *sys.argv[1:]])"
)


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # Whatever the caller's shell says about Django or these settings does not count.
        if not name.startswith(("SECURE_", "SESSION_", "CSRF_", "DJANGO_", "DEBUG"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="backoffice.stayos.example",
        # Not connected to by `check --deploy`; present because production always sets it.
        DATABASE_URL="postgres://stayos@db.stayos.example:5432/stayos",
        REDIS_URL="redis://cache.stayos.example:6379/0",
        GUEST_PII_KEYS=f"k2026:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        GUEST_PII_INDEX_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    env.update(overrides)
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_ENV_FILES, "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_defaults_pass_the_deploy_check_when_debug_is_off():
    result = _check_deploy(_production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_fails_the_deploy_check_when_https_is_switched_off():
    # The plain-http values of a local checkout (.local/env) must never pass for production.
    result = _check_deploy(
        _production_env(
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            SECURE_HSTS_SECONDS="0",
        )
    )
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_it_takes_the_https_header_of_a_proxy_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_ENV_FILES,
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)",
        ],
        cwd=ROOT,
        env=_production_env(SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", result.stderr
