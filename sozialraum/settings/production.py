"""Production: every secret comes from the environment, with no default."""

import environ

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # required, no default
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")  # required, no default
if not SECRET_KEY or len(SECRET_KEY) < 50:
    raise environ.ImproperlyConfigured("DJANGO_SECRET_KEY must be set to at least 50 random characters")
if not env.str("DATABASE_URL", default=""):
    raise environ.ImproperlyConfigured("DATABASE_URL is required in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # security.W021 ("SECURE_HSTS_PRELOAD is not True") is silenced while preloading is off, on purpose:
    # the preload list binds the whole registrable domain and every subdomain to HTTPS in every browser
    # for months and is hard to undo — a decision of the domain's owner (the municipality's IT), not of
    # this app. They opt in with DJANGO_SECURE_HSTS_PRELOAD=true (then the check runs again).
    SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
