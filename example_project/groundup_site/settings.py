"""Settings of the example project.

The defaults are the embedded ones: SQLite, the in-memory channel layer, local kernels, DEBUG on. The production
shape is switched on by environment variables:

=========================== ===================================================================
variable                    effect
=========================== ===================================================================
``DATABASE_URL``            e.g. ``postgres://user:pass@db:5432/lms`` (default: SQLite file)
``REDIS_URL``               Redis channel layer, e.g. ``redis://redis:6379/0`` (default: in-memory)
``DJANGO_SECRET_KEY``       required when ``DJANGO_DEBUG`` is off
``DJANGO_DEBUG``            ``0``/``false`` turns debug off (default on)
``DJANGO_ALLOWED_HOSTS``    comma-separated (default ``localhost,127.0.0.1,[::1]``)
``DJANGO_SERVE_STATIC``     serve static files from the ASGI app (default: on when debug is on)
``DJANGO_TIME_ZONE``        default ``Asia/Seoul``
=========================== ===================================================================
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}.")


def env_list(name, default):
    value = os.environ.get(name)
    if not value:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_flag("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-groundup-demo-only-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so that its templates override the apps' (the impersonation banner: hijack/notification.html).
    "groundup_site",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third-party
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "hijack",
    "hijack.contrib.admin",
    "lms_core.apps.BackgroundTaskConfig",  # django-background-tasks, wrapped (see the docs)
    "lms_surveys.apps.SurveyConfig",  # django-survey-and-report, wrapped
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "wagtail.api.v2",
    "modelcluster",
    "taggit",
    # Groundup LMS
    "lms_core",
    "lms_kernels",
    "lms_cms_blocks",
    "lms_surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hijack.middleware.HijackUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "groundup_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "groundup_site.context.navigation",
            ],
        },
    },
]

ASGI_APPLICATION = "groundup_site.asgi.application"

# -- database ---------------------------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJANGO_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # The demo runs a web server and a task worker on one SQLite file.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- channel layer ----------------------------------------------------------------------------------------
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as the layer's blocking pop
            # (BZPOPMIN, 5 s): on a busy host the pop's empty answer comes a little later, the read times
            # out, and the consumer dies with its WebSocket (redis/redis-py#4091). Read for longer.
            "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 30}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# -- auth -------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Staff with the "lms_core.hijack_user" permission may impersonate learners to reproduce what they see; only
# superusers may impersonate staff or superusers; every start and end is audit-logged (django-hijack).
HIJACK_PERMISSION_CHECK = "lms_core.hijack.can_hijack"

# -- i18n -------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ko", _("Korean"))]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

# -- static and media -------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static_collected"
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"
SERVE_STATIC = env_flag("DJANGO_SERVE_STATIC", DEBUG)

# -- Wagtail ----------------------------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "Groundup LMS"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://localhost:8000")
# Lesson blocks: the Jupyter block's environments are lms_kernels' kernel environments (project glue).
LMS_CMS_BLOCKS = {"KERNELSPECS": "groundup_site.kernelspecs.lms_kernels_environments"}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "ipynb", "key", "odt", "pdf", "pptx", "rtf", "txt", "xlsx", "zip"]

# -- django-survey-and-report -----------------------------------------------------------------------------
CHOICES_SEPARATOR = "|"
USER_DID_NOT_ANSWER = "Left blank"  # read while apps load: a plain string
# The learner's survey page (after a completed content) wears the site's header and styles.
LMS_SURVEYS = {"BASE_TEMPLATE": "groundup_site/base.html"}

# -- REST framework ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}


def spectacular_exclude_foreign_apis(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: leave out what is not our REST API. Wagtail's API v2 views cannot be
    introspected (they would only add warnings), and the admin and CMS are HTML, not API."""
    excluded = ("/api/v2/", "/admin/", "/cms/", "/documents/", "/lessons/", "/hijack/")
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(excluded)]


# OpenAPI schema at /api/schema/, Swagger UI at /api/docs/ (drf-spectacular).
SPECTACULAR_SETTINGS = {
    "TITLE": "Groundup LMS API",
    "DESCRIPTION": "The REST API of the Groundup LMS apps (lms_core under /core/api/).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["groundup_site.settings.spectacular_exclude_foreign_apis"],
}

# -- production hardening (only with DEBUG off) -----------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", False)  # usually the proxy redirects
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))

# -- the demo command -------------------------------------------------------------------------------------
# Each entry loads one app's demo data idempotently; apps add theirs as they grow.
GROUNDUP_DEMO_LOADERS = [
    "groundup_site.demo.load_users",
    "groundup_site.demo.load_core",
    "groundup_site.demo_cohort.load_cohort_activity",
    "groundup_site.demo.load_surveys",
    "groundup_site.demo.load_lessons",
    "groundup_site.demo_lessons.load_more_lessons",
]

# Kernel clients may pass their API token in the WebSocket's URL (?token=...), and uvicorn logs every
# WebSocket handshake with its query string on "uvicorn.error" (access log or not): RedactTokens replaces
# such values with [redacted]. Django applies this when the ASGI application is imported, before uvicorn
# serves (and so logs) anything; uvicorn's own handlers still print its records.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "lms_kernels.logging.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"level": "INFO"},
        "background_task": {"level": "INFO"},
        "survey": {"level": "WARNING"},
        "uvicorn.error": {"level": "INFO", "filters": ["redact_tokens"]},
    },
}
