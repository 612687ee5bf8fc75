"""Test settings: the README's test command and CI use these."""

from .base import *  # noqa: F401,F403
from .base import env

SECRET_KEY = "test-only-insecure-key"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default="/tmp/sozialraum-test-media")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REMINDER_BASE_URL = "https://sozialraum.example.org"

# For integration tests that run real `celery beat`/`worker` processes (tests/integration):
# TEST_BEAT_SCHEDULE="daily-reminders=1,stranded-work-resend=0.5" keeps only those beat entries,
# firing every so many seconds; TEST_CELERY_QUEUE routes every task of the process to the
# test's own queue; TEST_EMAIL_DIR writes e-mails as files there (readable by the test).
_test_beat = env.dict("TEST_BEAT_SCHEDULE", cast={"value": float}, default={})
if _test_beat:
    CELERY_BEAT_SCHEDULE = {name: {**CELERY_BEAT_SCHEDULE[name], "schedule": seconds}  # noqa: F405
                            for name, seconds in _test_beat.items()}
CELERY_TASK_DEFAULT_QUEUE = env.str("TEST_CELERY_QUEUE", default="celery")
if env.str("TEST_EMAIL_DIR", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.str("TEST_EMAIL_DIR")
# The suite makes thousands of API requests a minute from one address; the throttling tests set
# their own rates (tests/core/test_security.py).
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"}}  # noqa: F405
