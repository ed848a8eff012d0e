"""Mainspring settings, read only from ``MAINSPRING_*`` environment variables.

Every knob is documented in ``docs/configuration.md``. Defaults give the embedded
mode: SQLite in ``./var``, console e-mail, one in-process worker.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def env(name: str, default: str = "") -> str:
    """A setting; ``MAINSPRING_X_FILE`` (a path) wins over ``MAINSPRING_X`` for secrets."""
    file_path = os.environ.get(f"MAINSPRING_{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(f"MAINSPRING_{name}", default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = env(name, "1" if default else "0").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"MAINSPRING_{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"MAINSPRING_{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DATA_DIR = Path(env("DATA_DIR", str(PROJECT_DIR / "var"))).resolve()
DEBUG = env_bool("DEBUG", False)

_secret = env("SECRET_KEY")
if not _secret:
    # The embedded default keeps a generated key beside its data so sessions survive
    # restarts; production sets MAINSPRING_SECRET_KEY (docs/configuration.md).
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(64))
        key_file.chmod(0o600)
    _secret = key_file.read_text().strip()
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
BASE_URL = env("BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tasks",
    "axes",
    "mainspring.core",
    "mainspring.identity",
    "mainspring.workspace",
    "mainspring.incidents",
    "mainspring.problems",
    "mainspring.notifications",
    "mainspring.sla",
    "mainspring.portal",
    "mainspring.knowledge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mainspring.core.middleware.SecurityHeadersMiddleware",
    "mainspring.core.client_address.ClientAddressMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise: only dynamic responses (static files keep their caching).
    "mainspring.core.middleware.NoStoreMiddleware",
    "mainspring.core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # NUL in a path, query, header or form: 404/400 before any lookup (docs/api.md).
    "mainspring.core.input_guard.InputGuardMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mainspring.urls"
WSGI_APPLICATION = "mainspring.wsgi.application"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "mainspring.core.context_processors.mainspring",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", "")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    if _db["ENGINE"] == "django.db.backends.sqlite3":
        _db["CONN_MAX_AGE"] = 0
    else:
        # Django reads form choices with .iterator(), a server-side cursor on PostgreSQL:
        # DECLARE, FETCH and CLOSE for a dozen rows, three round trips instead of one per
        # picker on every ticket page. Nothing here streams a large result that way, and
        # a transaction-pooling bouncer needs this off anyway.
        _db["DISABLE_SERVER_SIDE_CURSORS"] = True
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "mainspring.sqlite3"),
    }
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
    # BEGIN, so concurrent writers wait (busy timeout) instead of failing mid-way.
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;PRAGMA busy_timeout=20000;"
            ),
        }
    )
    _db.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-mainspring.sqlite3")
if _db["ENGINE"].startswith("django.db.backends.postgresql"):
    # A database that accepts connections and never answers must not take every request
    # thread with it: give up connecting after DB_CONNECT_TIMEOUT seconds (503, and
    # /readyz says so) and let PostgreSQL cancel statements and lock waits that run
    # longer than the limits (0 = no limit). Options given in the URL win.
    _options = _db.setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3))
    _server_limits = " ".join(
        f"-c {name}={env_int(var, default) * 1000}"
        for name, var, default in (
            ("statement_timeout", "DB_STATEMENT_TIMEOUT", 30),
            ("lock_timeout", "DB_LOCK_TIMEOUT", 10),
        )
    )
    _options["options"] = f"{_server_limits} {_options.get('options', '')}".strip()
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = _db["ENGINE"].startswith("django.db.backends.postgresql")

# --- Auth -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Brute-force protection (identity.lockout): a username at one client address is locked
# after N failures in the window, an address (whatever the usernames: password spraying)
# only after many more, so an office behind one NAT address is not locked by a few typos.
# The address is the client's, as a trusted proxy forwards it (core.client_address).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 50)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "mainspring.identity.lockout.LoginLockoutHandler"
AXES_CLIENT_IP_CALLABLE = "mainspring.core.client_address.client_address"
AXES_USERNAME_CALLABLE = "mainspring.identity.lockout.recorded_username"
# Attempts refused during a lock-out are not counted: a script retrying a stale password
# stays at its own lock instead of pushing its office's address to the address limit.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "mainspring.identity.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Reverse proxy and HTTPS ----------------------------------------------------------
# Peers (addresses or networks, or "*") whose X-Forwarded-For we believe for the client
# address; `mainspring serve` hands the same list to gunicorn, which then also takes the
# scheme (https) from their X-Forwarded-Proto, so request.is_secure() needs no
# SECURE_PROXY_SSL_HEADER (which would believe any peer).
FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS", "127.0.0.1")
for _entry in FORWARDED_ALLOW_IPS:
    try:
        if _entry != "*":
            ipaddress.ip_network(_entry, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"MAINSPRING_FORWARDED_ALLOW_IPS: {_entry!r} is not an address, a network or *"
        ) from exc
# Strict-Transport-Security, sent on HTTPS responses only; 0 sends none. Turn it on once
# every name under it is served over HTTPS (docs/operations.md).
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# whitenoise serves from the finders (no collectstatic step); it still expects the root.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)
# Django refuses bodies larger than this before reading them into memory; uploads
# above it answer 413 (core.middleware) instead of being buffered.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- E-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", "Mainspring Service Desk <servicedesk@localhost>")

# --- Background work ------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": env("TASK_BACKEND", "mainspring.core.taskqueue.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# The task runner (core.taskqueue): a worker's lease on the task it runs (renewed every
# third of it; a dead worker's task runs again once it lapses), tries per task before it
# is dead-lettered, the retry backoff (base × 2^n, capped, ±20 %), and how long done
# tasks are kept (dead ones are kept until run again or deleted).
TASK_LEASE_SECONDS = env_int("TASK_LEASE_SECONDS", 60)
TASK_MAX_ATTEMPTS = env_int("TASK_MAX_ATTEMPTS", 8)
TASK_RETRY_BASE_SECONDS = env_int("TASK_RETRY_BASE_SECONDS", 30)
TASK_RETRY_MAX_SECONDS = env_int("TASK_RETRY_MAX_SECONDS", 3600)
TASK_KEEP_DONE_DAYS = env_int("TASK_KEEP_DONE_DAYS", 7)
WORKER_HEARTBEAT_STALE_SECONDS = env_int("WORKER_STALE_SECONDS", 120)
INCIDENT_AUTO_CLOSE_DAYS = env_int("INCIDENT_AUTO_CLOSE_DAYS", 7)
# Send attempts per notification e-mail before it is dead-lettered (notifications).
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 6)

# Seconds a server process keeps its copy of the priority matrix and the active SLA
# definitions (core.reference_cache) before reading them again; 0 reads them every time.
REFERENCE_CACHE_SECONDS = env_int("REFERENCE_CACHE_SECONDS", 5)

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mainspring.identity.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only: form encodings cannot say null, a list or "not sent" (a missing
    # checkbox reads as false), so they are a 415. Uploads declare multipart themselves
    # (core.parsers.MultiPartParser). Our JSON parser refuses deep nesting, non-finite
    # numbers and NUL before anything reads the body.
    "DEFAULT_PARSER_CLASSES": ["mainspring.core.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "mainspring.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "mainspring.core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "mainspring.core.api.NumberCursorPagination",
    "PAGE_SIZE": 25,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mainspring API",
    "DESCRIPTION": "IT service management: incidents, journal, attachments, audit trail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # One name per shared choice set, so the schema generates without warnings.
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "mainspring.core.models.Level",
        "JournalKindEnum": "mainspring.core.models.JournalKind",
        "LinkKindEnum": "mainspring.core.models.LinkKind",
        "ArticleKindEnum": "mainspring.knowledge.models.ArticleKind",
        "NewJournalKindEnum": ["comment", "work_note"],
        "TaskStatusEnum": "mainspring.core.models.TaskStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}
