"""Drydock settings: one module, every value read from the environment.

`.env.example` lists each variable with its default. DEBUG is off unless
DJANGO_DEBUG asks for it, and a run without DEBUG refuses to start without
SECRET_KEY.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from drydock import queues
from drydock.env import env_bool, env_choice, env_int, env_labels, env_list, env_pool_sizes, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DRYDOCK_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. A production run needs a long random SECRET_KEY in the "
            "environment (see .env.example); for local development set DJANGO_DEBUG=1 or use "
            "./drydock up, which creates one under var/."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "courses",
    "labs",
    "quizzes",
    "classrooms",
    "lti",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "drydock.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, reading the signed-in user with a query written once (drydock/auth.py).
    "drydock.auth.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before the X-Frame-Options middleware, so it sees the response after it: LTI sessions show in the LMS's frame.
    "lti.middleware.LtiFrameMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "drydock.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "drydock.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "drydock.sandbox_mode.sandbox_mode",
            ],
        },
    },
]

_DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'drydock.sqlite3'}")
# SQLite: each thread keeps its connection, for 10 minutes. The web's requests run on threads made once
# (drydock/asgi.py), and opening a connection costs ~2.2 ms of CPU (its PRAGMAs and Django's SQL functions): a
# third of what a lab page's status poll costs the web, 30 of them every 300 ms while a class starts. PostgreSQL
# lends pooled connections instead (below).
DATABASES = {
    "default": dj_database_url.parse(
        _DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600 if _DATABASE_URL.startswith("sqlite") else 0, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the Celery worker write concurrently: WAL lets readers
    # go on during a write, IMMEDIATE takes the write lock up front instead of
    # failing with "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: integration tests share the test database with a real Celery worker
    # (given its path); one file per test run, so two runs side by side never meet.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-drydock-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Kept connections (CONN_MAX_AGE) would be one per thread of every web process and worker, each opened
    # cold (~13 ms, then cold catalog caches: ~30 ms more per request), and a class opening a quiz at once ran
    # past max_connections. A pool per process lends connections to requests and makes the others wait
    # (bench/exam_burst.py: 500 learners).
    DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 8, minimum=0, maximum=200)
    if DATABASE_POOL_SIZE:
        if DATABASES["default"]["CONN_MAX_AGE"]:
            raise ImproperlyConfigured(
                "DATABASE_CONN_MAX_AGE keeps connections, DATABASE_POOL_SIZE pools them: set one of them to 0."
            )
        DATABASES["default"]["OPTIONS"] = {"pool": {
            "min_size": min(2, DATABASE_POOL_SIZE),
            "max_size": DATABASE_POOL_SIZE,
            # A request waits this long for a free connection, then fails rather than hang.
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
        }}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Requests each web process runs in Django at once; the others wait their turn (drydock/asgi.py).
# Near DATABASE_POOL_SIZE: a request beyond the pool would only wait there for a connection.
WEB_REQUESTS_PER_PROCESS = env_int("WEB_REQUESTS_PER_PROCESS", 8, minimum=1)
# How long each web process keeps a course's path for the pages' pager (courses/pager.py); 0: never.
COURSE_PATH_SECONDS = env_int("COURSE_PATH_SECONDS", 30, minimum=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "courses:home"
LOGOUT_REDIRECT_URL = "courses:home"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Browser libraries come from the npm registry (package.json, package-lock.json), served from here: no CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/xterm", BASE_DIR / "node_modules" / "@xterm" / "xterm"),
    ("vendor/xterm-addon-fit", BASE_DIR / "node_modules" / "@xterm" / "addon-fit"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the source folders when collectstatic has not run (tests, DEBUG).
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Drydock <noreply@localhost>")

SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024, minimum=1024)

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    # Per process: what the health page and the LTI tokens keep for a few seconds (and cache.get on every page).
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every web process: the sessions, read on each request (below).
    "sessions": {"BACKEND": "drydock.cache.ProcessRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "drydock"},
}
# Sessions stay rows in the database, read through Redis: a request reads its session there instead of
# with a query (bench/exam_burst.py), a logout deletes both, and a session missing from Redis (flushed,
# restarted) is read from its row again. Redis unreachable: read from the database as before.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"
# /metrics (Prometheus): with a token, scrapes must send "Authorization: Bearer <token>"; without one,
# only the host's loopback, not through a proxy, is answered (drydock/metrics.py).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No global time limits: each task sets its own (labs/tasks.py), the kinds of work differ too much for one default.
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 times reads out after 5 s by default, exactly channels_redis's blocking pop:
        # a longer socket timeout keeps idle consumers from crashing.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
    }
}

# The Docker engine sandboxes run on: by default the one bin/drydock starts
# (user namespaces, its own socket under var/run).
DOCKER_HOST = env_str("DOCKER_HOST", f"unix://{VAR_DIR / 'run' / 'docker.sock'}")
# For an engine on tcp://: a folder with its CA and this client's certificate and key (ca.pem, cert.pem, key.pem,
# as Docker's own DOCKER_CERT_PATH); other hosts name theirs on their row (manage.py docker_hosts add --tls-dir).
DOCKER_CERT_PATH = env_str("DOCKER_CERT_PATH", "")
# An engine without user namespaces makes a learner root on the host: refused unless this says otherwise.
SANDBOX_WITHOUT_USER_NAMESPACES = env_bool("SANDBOX_WITHOUT_USER_NAMESPACES", False)

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Sandboxes ---------------------------------------------------------------
SANDBOX_IMAGE = env_str("SANDBOX_IMAGE", "drydock/sandbox:latest")
# Names and labels sandbox containers of this deployment; two deployments (or the tests) on one
# engine never touch each other's sandboxes.
SANDBOX_NAME_PREFIX = env_str("SANDBOX_NAME_PREFIX", "drydock-sandbox")
# Extra labels for sandbox containers, as key=value pairs (the tests add drydock.test=1).
SANDBOX_LABELS = env_labels("SANDBOX_LABELS")
# Project-made --internal network holding the course registry: a sandbox reaches it and nothing else.
SANDBOX_NETWORK = env_str("SANDBOX_NETWORK", "drydock-sandboxes")
# The network's bridge on the host: each sandbox's port on it is isolated (grader/isolation.py).
SANDBOX_BRIDGE = env_str("SANDBOX_BRIDGE", "drydock-sbx")
# Each sandbox's /var/lib/docker and /root live on a disk of this size of its own.
SANDBOX_DISK_GB = env_int("SANDBOX_DISK_GB", 10, minimum=1, maximum=1024)
SANDBOX_DISK_TEMPLATES = VAR_DIR / "disk-templates"
# Docker's default seccomp profile plus what a nested daemon needs (images/README.md).
SANDBOX_SECCOMP_PROFILE = BASE_DIR / "images" / "sandbox" / "seccomp.json"
# What the course registry serves (images/build.py makes it): the pack loader refuses a runnable
# code block that pulls or runs an image not in it. None: no such check.
COURSE_IMAGE_CATALOG = BASE_DIR / "images" / "catalog.json"
SANDBOX_REGISTRY_MIRROR = env_str("SANDBOX_REGISTRY_MIRROR", "http://drydock-registry:5000")
# Host folder holding one sub-folder per sandbox, where its nested daemon's socket appears.
SANDBOX_SOCKET_ROOT = Path(env_str("SANDBOX_SOCKET_ROOT", str(VAR_DIR / "sandboxes")))
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 1024, minimum=128)
SANDBOX_PIDS_LIMIT = env_int("SANDBOX_PIDS_LIMIT", 512, minimum=32)
SANDBOX_CPUS = env_int("SANDBOX_CPU_PERCENT", 100, minimum=10, maximum=6400) / 100
# The CPU group every sandbox runs in, and its weight against each of the platform's processes (1024): the platform,
# then the sandbox being started, then the started sandboxes' work (grader/cpu_priority.py). none: where the engine
# puts its containers, at its weight.
SANDBOX_CPU_GROUP = env_str("SANDBOX_CPU_GROUP", "drydock-sandboxes")
if SANDBOX_CPU_GROUP == "none":
    SANDBOX_CPU_GROUP = ""
elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", SANDBOX_CPU_GROUP):
    raise ImproperlyConfigured(f"SANDBOX_CPU_GROUP={SANDBOX_CPU_GROUP!r} must be a cgroup's name (letters, digits, '.', '_', '-') or none.")
SANDBOX_CPU_GROUP_SHARES = env_int("SANDBOX_CPU_GROUP_SHARES", 256, minimum=2, maximum=262144)
SANDBOX_LOG_MAX_SIZE = env_str("SANDBOX_LOG_MAX_SIZE", "1m")
SANDBOX_READY_TIMEOUT_SECONDS = env_int("SANDBOX_READY_TIMEOUT_SECONDS", 30, minimum=1)
# A sandbox's own Docker daemon starts at its first client (the learner's first docker command, a Check), not
# with the sandbox; a playground's (its kept disk's containers restart with it) and a warm pool's (made ahead for a
# learner who types at once) always start with it.
SANDBOX_DAEMON_ON_DEMAND = env_bool("SANDBOX_DAEMON_ON_DEMAND", True)
# The engine networks each sandbox (Docker's endpoint on SANDBOX_NETWORK), not the platform (grader/sandbox_network.py):
# the baseline bench/class_start.py measures. An engine on another machine always does.
SANDBOX_NETWORK_BY_ENGINE = env_bool("SANDBOX_NETWORK_BY_ENGINE", False)
SANDBOX_SETUP_STEP_TIMEOUT_SECONDS = env_int("SANDBOX_SETUP_STEP_TIMEOUT_SECONDS", 120, minimum=1)
SANDBOX_TTL_MINUTES = env_int("SANDBOX_TTL_MINUTES", 60, minimum=1)
SANDBOX_IDLE_MINUTES = env_int("SANDBOX_IDLE_MINUTES", 15, minimum=1)
SANDBOX_EXTEND_MINUTES = env_int("SANDBOX_EXTEND_MINUTES", 30, minimum=1)
SANDBOX_MAX_LIFETIME_MINUTES = env_int("SANDBOX_MAX_LIFETIME_MINUTES", 180, minimum=1)
# A row still provisioning after this long lost its worker: the reaper fails it.
SANDBOX_PROVISION_DEADLINE_SECONDS = env_int("SANDBOX_PROVISION_DEADLINE_SECONDS", 180, minimum=10)
SANDBOX_MAX_PER_LEARNER = env_int("SANDBOX_MAX_PER_LEARNER", 1, minimum=1)
# Admission: a new sandbox starts when the host keeps SANDBOX_HOST_RESERVE_MB for itself and has
# SANDBOX_ADMISSION_MB more free for it (counting those starting), and below this ceiling; otherwise it
# waits in a queue, shown to the learner, and starts when room frees up (labs/capacity.py).
SANDBOX_MAX_PER_HOST = env_int("SANDBOX_MAX_PER_HOST", 400, minimum=1)
SANDBOX_HOST_RESERVE_MB = env_int("SANDBOX_HOST_RESERVE_MB", 2048, minimum=0)
SANDBOX_ADMISSION_MB = env_int("SANDBOX_ADMISSION_MB", 256, minimum=16)
# Warm pool: ready sandboxes waiting to be claimed, ready at the learner's click. Blank ones serve every
# lab without set-up steps; a lab named here ("slug=count,…") gets its own, set up ahead of time.
SANDBOX_POOL_BLANK = env_int("SANDBOX_POOL_BLANK", 1, minimum=0)
SANDBOX_POOL_LABS = env_pool_sizes("SANDBOX_POOL_LABS")
# The pools refill once no sandbox was claimed from them for this long: while a class clicks Start, each refill
# would boot a sandbox (most of a core-second) beside the claims and Checks of those who just got theirs.
SANDBOX_POOL_REFILL_QUIET_SECONDS = env_int("SANDBOX_POOL_REFILL_QUIET_SECONDS", 5, minimum=0)

# Playgrounds: one free sandbox per learner whose disk (Docker's storage and /root) is kept between
# starts, for this many days after it was last used; then the reaper deletes it.
PLAYGROUND_RETENTION_DAYS = env_int("PLAYGROUND_RETENTION_DAYS", 14, minimum=1)
PLAYGROUND_DISK_ROOT = Path(env_str("PLAYGROUND_DISK_ROOT", str(VAR_DIR / "playgrounds")))
# Web previews of published ports: a link's lifetime (it also dies with its sandbox).
PREVIEW_LINK_MINUTES = env_int("PREVIEW_LINK_MINUTES", 120, minimum=1)
# Preview requests (the ports list, opening one, each page and each of its files) a learner may make in any
# minute: each costs the engine an inspect and most an exec in the sandbox. Past it: 429 with Retry-After.
PREVIEW_REQUESTS_PER_MINUTE = env_int("PREVIEW_REQUESTS_PER_MINUTE", 120, minimum=1)

# Browser terminals: how many one learner may have open, and the output rate each may send.
TERMINALS_PER_LEARNER = env_int("TERMINALS_PER_LEARNER", 3, minimum=1)
TERMINAL_OUTPUT_BYTES_PER_SECOND = env_int("TERMINAL_OUTPUT_BYTES_PER_SECOND", 512 * 1024, minimum=4096)

# Docker hosts (labs.DockerHost, manage.py docker_hosts): how often each host's worker is asked for a heartbeat,
# and how long a host that beat before may stay silent before it is marked down and its sandboxes failed.
HOST_HEARTBEAT_EVERY_SECONDS = env_int("HOST_HEARTBEAT_EVERY_SECONDS", 10, minimum=1)
HOST_HEARTBEAT_TIMEOUT_SECONDS = env_int("HOST_HEARTBEAT_TIMEOUT_SECONDS", 60, minimum=2)
# A learner's next sandbox of a lab goes back to the host that ran their last one within this many hours
# (its images are there), when that host has room.
HOST_AFFINITY_HOURS = env_int("HOST_AFFINITY_HOURS", 24, minimum=0)

CELERY_BEAT_SCHEDULE = {
    "reap-sandboxes": {"task": "labs.reap_sandboxes", "schedule": 60.0},
    "refill-sandbox-pools": {"task": "labs.refill_pools", "schedule": 15.0},
    # Scores for the LMS whose Celery retry was lost or used up are sent again (lti/outbox.py).
    "flush-lti-scores": {"task": "lti.flush_scores", "schedule": 60.0},
    # Each Docker host's worker beats (a heartbeat sent to its own queue); a host silent too long is marked down.
    "check-docker-hosts": {"task": "labs.check_hosts", "schedule": float(HOST_HEARTBEAT_EVERY_SECONDS)},
}
# A worker killed mid-task gets its message back after this long (Redis transport).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=60)}
# One queue per kind of work, each with a worker of its own (drydock/queues.py), so a Check
# never waits behind a sandbox being provisioned or removed.
CELERY_TASK_ROUTES = queues.ROUTES
CELERY_TASK_DEFAULT_QUEUE = queues.HOUSEKEEPING
# Work on one sandbox goes to its host's queue of its kind, named when it is sent (labs/queue.py).
SANDBOX_HOST_QUEUES = queues.HOST_TASK_QUEUES
# Checks one learner may ask for in any minute; more get a message saying when to try again.
CHECKS_PER_MINUTE = env_int("CHECKS_PER_MINUTE", 20, minimum=1)

# Live checks (labs/live.py, manage.py watch_sandboxes): the activity timeline's bounds and the watcher's grading threads.
LIVE_EVENTS_PER_SANDBOX = env_int("LIVE_EVENTS_PER_SANDBOX", 2000, minimum=10)
LIVE_EVENTS_RETENTION_DAYS = env_int("LIVE_EVENTS_RETENTION_DAYS", 90, minimum=1)
LIVE_GRADE_THREADS = env_int("LIVE_GRADE_THREADS", 4, minimum=1, maximum=64)
