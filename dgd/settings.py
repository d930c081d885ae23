"""One settings module, driven by the environment (django-environ).

With nothing set it runs on a laptop: SQLite in ``var/``, Celery on kombu's ``filesystem://`` broker,
mail written to ``var/mail``, DEBUG on. Production sets ``DEBUG=false`` plus ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL``, ``REDIS_URL`` (or ``CELERY_BROKER_URL``) and ``EMAIL_URL``;
with DEBUG off a missing secret or host list stops start-up with a clear message.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("DGD_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)


def _required_in_production(name, value):
    if not DEBUG and not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see README.md, 'Production settings').")
    return value


SECRET_KEY = _required_in_production("SECRET_KEY", env.str("SECRET_KEY", default="")) or (
    "django-insecure-local-development-only"
)
ALLOWED_HOSTS = _required_in_production(
    "ALLOWED_HOSTS", env.list("ALLOWED_HOSTS", default=[] if not DEBUG else ["localhost", "127.0.0.1", "[::1]"])
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "dgd.admin_site.DgdAdminConfig",  # django.contrib.admin with labelled autocomplete results
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "simple_history",
    "import_export",
    "adminsortable2",
    "axes",
    "accounts",  # after axes: it extends axes' admin
    "csp",
    "dgd",  # the project's own app: the staff roles after every migrate (dgd.apps)
    "mailings",  # the delivery engine every kind of mail rides on
    "policies",
    "practices",
    "issues",
    "library",
    "alerts",  # after library: alerts on its saved filters
    "subscribers",
    "sources",
    "demo",  # seed_demo: synthetic data over every app above
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "dgd.middleware.RequestSizeLimitMiddleware",  # 413 for a body over DGD_MAX_REQUEST_SIZE, unread
    "dgd.middleware.RejectNulMiddleware",  # 400 for a NUL in any parameter: PostgreSQL refuses it in text
    "dgd.middleware.AdminBadLookupMiddleware",  # 400 for an admin list's query string its queryset fails on
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dgd.urls"
WSGI_APPLICATION = "dgd.wsgi.application"

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
                "dgd.context_processors.site",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("TEST", {}).update({"TEMPLATE": "template0", "CHARSET": "UTF8"})
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, the library's facet counts) -------------------------------------
# Every web process must see the same counters, so with Redis configured the default cache is Redis
# (CACHE_URL, else REDIS_URL); the embedded default keeps a local-memory cache (one process).
_CACHE_URL = env.str("CACHE_URL", default=env.str("REDIS_URL", default=""))
if _CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="dgd"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# With a shared cache, a signed-in request reads its session and its user's permissions from it instead of
# three queries (dgd/auth.py says how a change reaches every process); a per-process cache could not.
DGD_CACHE_PERMISSIONS = bool(_CACHE_URL)
if _CACHE_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Client address -------------------------------------------------------------------------
# How many reverse proxies (TLS terminator, load balancer) stand in front of the app: 0 uses REMOTE_ADDR;
# N takes the Nth address from the right of X-Forwarded-For (dgd.client_ip), for rate limits and axes alike.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

# --- Auth ---------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "dgd.auth.CachedPermissionsBackend",  # Django's ModelBackend, its permission sets cached
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "library:index"
# Failed sign-ins lock the (username, client address) pair only, never a username for everyone
# (accounts/lockout.py). The lock lasts LOGIN_LOCKOUT_COOLOFF_MINUTES and doubles with each further lockout of
# the pair within a day, up to LOGIN_LOCKOUT_COOLOFF_MAX_MINUTES; a chief editor can lift it in the admin.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
LOGIN_LOCKOUT_COOLOFF_MINUTES = env.int("LOGIN_LOCKOUT_COOLOFF_MINUTES", default=5)
LOGIN_LOCKOUT_COOLOFF_MAX_MINUTES = env.int("LOGIN_LOCKOUT_COOLOFF_MAX_MINUTES", default=24 * 60)
AXES_COOLOFF_TIME = "accounts.lockout.cool_off"
AXES_USE_ATTEMPT_EXPIRATION = True  # each pair's lock ends at its own time
AXES_HANDLER = "accounts.handlers.LockoutHandler"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # what the growing cool-off counts
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the page's "for how long" stays true
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "dgd.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

# --- Language and time --------------------------------------------------------------------
# Chinese for every visitor, whatever the browser asks: no LocaleMiddleware, one language. English stays in the
# code (msgids); locale/zh_Hans holds what people read.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files (served by the app itself: intranets have no CDN) ------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Email --------------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):
    # smtp://user:password@relay:587/?tls=True and friends (django-environ's email_url).
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "")
    EMAIL_PORT = _email.get("EMAIL_PORT") or 25
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="数字政府动态 <dgd@localhost>")

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default="filesystem://"))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),  # kombu's default is ./control, in the repository
        "store_processed": False,
    }
else:
    # Longer than any task may run, so Redis never hands a running task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# One task at a time per worker process: a chunk of digests is long work, and with acks_late a prefetched
# message held by a busy process would wait behind it. acks_late is set per task, on idempotent ones only.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A chunk being sent when the broker connection drops (Redis restarted) goes on sending: cancelling it would
# leave its rows to run out their lease for nothing (the database, not Redis, knows what is left to send).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Spreadsheet imports (policies.tasks) run on a queue of their own, so an hour-long import never holds up
# digest mail on the default queue `celery`; every worker (scripts/run.sh, docker-compose.yml) consumes both
# (`-Q celery,imports`). An import is stopped after IMPORTS_TASK_SOFT_TIME_LIMIT seconds (the job ends failed,
# nothing imported) and its process killed IMPORTS_TASK_TIME_LIMIT seconds in. Import tasks are acknowledged
# on receipt (not acks_late), so the visibility timeout below does not bound them.
CELERY_TASK_ROUTES = {
    "policies.tasks.check_import_job": {"queue": "imports"},
    "policies.tasks.run_import_job": {"queue": "imports"},
}
IMPORTS_TASK_SOFT_TIME_LIMIT = env.int("IMPORTS_TASK_SOFT_TIME_LIMIT", default=2 * 3600)
IMPORTS_TASK_TIME_LIMIT = env.int("IMPORTS_TASK_TIME_LIMIT", default=IMPORTS_TASK_SOFT_TIME_LIMIT + 600)
if IMPORTS_TASK_TIME_LIMIT <= IMPORTS_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("IMPORTS_TASK_TIME_LIMIT must exceed IMPORTS_TASK_SOFT_TIME_LIMIT.")

# --- Subscribers --------------------------------------------------------------------------
# Redis must run with `maxmemory-policy noeviction`: an evicted queue key would lose digest tasks (the periodic
# check would queue their rows again, a minute later). The visibility timeout above must exceed any task's limit.
SUBSCRIBERS_FROM_EMAIL = env.str("SUBSCRIBERS_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)
SUBSCRIBERS_REPLY_TO = env.list("SUBSCRIBERS_REPLY_TO", default=[])
SUBSCRIBERS_UNSUBSCRIBE_MAILTO = env.str("SUBSCRIBERS_UNSUBSCRIBE_MAILTO", default="unsubscribe@localhost")
SUBSCRIBERS_MESSAGE_ID_DOMAIN = env.str("SUBSCRIBERS_MESSAGE_ID_DOMAIN", default="")
SUBSCRIBERS_CONFIRM_MAX_AGE = env.int("SUBSCRIBERS_CONFIRM_MAX_AGE", default=7 * 86400)  # seconds
SUBSCRIBERS_RATE_LIMIT = env.str("SUBSCRIBERS_RATE_LIMIT", default="10/3600")  # subscribe requests per IP
SUBSCRIBERS_EMAIL_RATE_LIMIT = env.str("SUBSCRIBERS_EMAIL_RATE_LIMIT", default="3/3600")  # mails per address
SUBSCRIBERS_CHUNK_SIZE = env.int("SUBSCRIBERS_CHUNK_SIZE", default=200)
SUBSCRIBERS_MAX_ATTEMPTS = env.int("SUBSCRIBERS_MAX_ATTEMPTS", default=6)
SUBSCRIBERS_RETRY_BACKOFF = env.float("SUBSCRIBERS_RETRY_BACKOFF", default=60.0)  # seconds, doubled per attempt
SUBSCRIBERS_TASK_TIME_LIMIT = env.int("SUBSCRIBERS_TASK_TIME_LIMIT", default=600)
# The database is the queue's truth (docs/delivery.md): a chunk's rows are leased for SUBSCRIBERS_LEASE seconds,
# renewed while it sends; the periodic check (every SUBSCRIBERS_CHECK_INTERVAL s, dgd/celery.py) puts a dead
# worker's rows back, queues tasks again for due rows of an issue nothing has moved for SUBSCRIBERS_STALL s, and
# fans out a publication still without deliveries after SUBSCRIBERS_FANOUT_GRACE s.
SUBSCRIBERS_LEASE = env.int("SUBSCRIBERS_LEASE", default=30)
SUBSCRIBERS_STALL = env.int("SUBSCRIBERS_STALL", default=30)
SUBSCRIBERS_FANOUT_GRACE = env.int("SUBSCRIBERS_FANOUT_GRACE", default=120)
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", float("inf")) <= SUBSCRIBERS_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("The visibility timeout must exceed SUBSCRIBERS_TASK_TIME_LIMIT.")
if SUBSCRIBERS_LEASE < 3:
    raise ImproperlyConfigured("SUBSCRIBERS_LEASE must be at least 3 seconds.")

# --- Alerts on saved filters (alerts/, docs/alerts.md) ---------------------------------------
# A run looks back ALERTS_GRACE seconds before the end of the last window (an entry marked ready in a transaction
# that committed late, such as a long import, still comes in; what was sent is never sent twice). A mail is
# leased for ALERTS_LEASE seconds while it is sent; one still pending after that is sent again.
ALERTS_GRACE = env.int("ALERTS_GRACE", default=3 * 3600)
ALERTS_LEASE = env.int("ALERTS_LEASE", default=120)
ALERTS_MAX_ATTEMPTS = env.int("ALERTS_MAX_ATTEMPTS", default=6)

# --- The researchers' inbox (sources/, docs/sources.md) ------------------------------------
# How the poller treats a government site: named in every request (ASCII: an HTTP header; SITE_URL is added),
# robots.txt obeyed for SOURCES_ROBOTS_TOKEN, one request at a time per host SOURCES_HOST_DELAY seconds apart,
# connect/read timeouts and a size limit, back-off after errors up to SOURCES_MAX_BACKOFF seconds.
SOURCES_USER_AGENT = env.str(
    "SOURCES_USER_AGENT",
    default="DGD-PolicyMonitor/1.0 (policy monitor of the Epoint Digital Government Research Institute)",
)
SOURCES_ROBOTS_TOKEN = env.str("SOURCES_ROBOTS_TOKEN", default="DGD-PolicyMonitor")
SOURCES_HOST_DELAY = env.float("SOURCES_HOST_DELAY", default=2.0)  # seconds between two requests to one host
SOURCES_CONNECT_TIMEOUT = env.float("SOURCES_CONNECT_TIMEOUT", default=5.0)
SOURCES_READ_TIMEOUT = env.float("SOURCES_READ_TIMEOUT", default=20.0)  # seconds without a byte
SOURCES_MAX_BYTES = env.int("SOURCES_MAX_BYTES", default=5 * 1024 * 1024)  # a larger page fails with "too large"
SOURCES_HOST_LEASE = env.int("SOURCES_HOST_LEASE", default=120)  # seconds a dead process holds a host
SOURCES_ROBOTS_MAX_AGE = env.int("SOURCES_ROBOTS_MAX_AGE", default=24 * 3600)  # robots.txt is read again after
SOURCES_MAX_BACKOFF = env.int("SOURCES_MAX_BACKOFF", default=24 * 3600)  # the longest wait after errors
SOURCES_MAX_ITEMS = env.int("SOURCES_MAX_ITEMS", default=100)  # new items taken from one source in one poll
# How far back catalogue policies (by date) and candidates (by when found) are compared with new items, days.
SOURCES_DEDUP_DAYS = env.int("SOURCES_DEDUP_DAYS", default=3650)
# A source's URL must not reach into the institute's own network: private, link-local (cloud metadata),
# reserved and loopback addresses are refused unless allowed here (the tests and the benchmark allow loopback,
# where their sites run).
SOURCES_ALLOW_PRIVATE_HOSTS = env.bool("SOURCES_ALLOW_PRIVATE_HOSTS", default=False)
SOURCES_ALLOW_LOOPBACK = env.bool("SOURCES_ALLOW_LOOPBACK", default=False)
if SOURCES_HOST_DELAY < 0 or SOURCES_MAX_BYTES <= 0 or SOURCES_MAX_ITEMS <= 0:
    raise ImproperlyConfigured("SOURCES_HOST_DELAY must be 0 or more; SOURCES_MAX_BYTES, SOURCES_MAX_ITEMS above 0.")

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        # The Django admin and its add-ons style a few elements inline.
        "style-src": ["'self'", "'unsafe-inline'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"jieba": {"level": "WARNING"}},
}

# --- Product settings ------------------------------------------------------------------------
# A chief editor may approve an issue they submitted themselves only with this on (a one-editor office); by
# default a second chief editor must look at it (issues.workflow).
ISSUES_ALLOW_SELF_APPROVAL = env.bool("ISSUES_ALLOW_SELF_APPROVAL", default=False)
DGD_PUBLISHER = env.str("DGD_PUBLISHER", default="新点软件数字政府研究院")
# The site footer and the privacy notice (China's PIPL): who runs the site and how to reach them, the ICP filing
# number a site hosted in mainland China must show, and the notice's version, which each subscriber's consent
# records (raise it when the notice's content changes).
DGD_OPERATOR = env.str("DGD_OPERATOR", default=DGD_PUBLISHER)
DGD_CONTACT_EMAIL = env.str("DGD_CONTACT_EMAIL", default="privacy@example.cn")
DGD_CONTACT_PHONE = env.str("DGD_CONTACT_PHONE", default="0512-00000000")
DGD_CONTACT_ADDRESS = env.str("DGD_CONTACT_ADDRESS", default="江苏省苏州市（示例地址）")
DGD_ICP_NUMBER = env.str("DGD_ICP_NUMBER", default="苏ICP备00000000号-1")
PRIVACY_NOTICE_VERSION = env.str("PRIVACY_NOTICE_VERSION", default="2026-11")

# --- Spreadsheets ---------------------------------------------------------------------------
from import_export.formats.base_formats import CSV, XLSX  # noqa: E402

IMPORT_EXPORT_FORMATS = [XLSX, CSV]
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Spreadsheet and CSV imports (policies.imports, subscribers' CSV import): an uploaded file may be at most
# DGD_IMPORT_MAX_FILE_SIZE bytes; an .xlsx (a zip) may unpack to at most DGD_IMPORT_MAX_UNPACKED_SIZE bytes,
# and no member of it may be compressed more than DGD_IMPORT_MAX_COMPRESSION_RATIO times (a zip bomb);
# a sheet may hold at most DGD_IMPORT_MAX_ROWS rows. A catalogue file of up to DGD_IMPORT_INLINE_MAX_SIZE bytes
# is checked within the request; a larger one by a Celery task while the admin shows its progress.
DGD_IMPORT_MAX_FILE_SIZE = env.int("DGD_IMPORT_MAX_FILE_SIZE", default=10 * 1024 * 1024)
DGD_IMPORT_MAX_UNPACKED_SIZE = env.int("DGD_IMPORT_MAX_UNPACKED_SIZE", default=100 * 1024 * 1024)
DGD_IMPORT_MAX_COMPRESSION_RATIO = env.int("DGD_IMPORT_MAX_COMPRESSION_RATIO", default=100)
DGD_IMPORT_MAX_ROWS = env.int("DGD_IMPORT_MAX_ROWS", default=50_000)
DGD_IMPORT_INLINE_MAX_SIZE = env.int("DGD_IMPORT_INLINE_MAX_SIZE", default=64 * 1024)
DGD_IMPORT_CHUNK_ROWS = env.int("DGD_IMPORT_CHUNK_ROWS", default=200)  # the job's progress moves by this many rows
# The subscribers' CSV import runs within the request: at most this many rows per file.
DGD_SUBSCRIBERS_IMPORT_MAX_ROWS = env.int("DGD_SUBSCRIBERS_IMPORT_MAX_ROWS", default=10_000)
# Any request body larger than this is refused (413) before it is read; room for a form around the file.
DGD_MAX_REQUEST_SIZE = env.int("DGD_MAX_REQUEST_SIZE", default=DGD_IMPORT_MAX_FILE_SIZE + 2 * 1024 * 1024)
AXES_VERBOSE = False
