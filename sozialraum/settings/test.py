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
