# Sozialraum: one image for web (gunicorn), worker and beat (Celery). See README,
# "Production deployment", and docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=sozialraum.settings.production \
    DJANGO_MEDIA_ROOT=/data/media

WORKDIR /app

# An unprivileged user runs the app; /data/media is the private upload volume
# shared by web and worker (a new named volume takes over this ownership).
RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data/media \
    && chown app:app /data/media

COPY requirements.txt ./
RUN pip install -r requirements.txt

# The project's code, folder by folder (no local .venv/.pgdata/media in the image).
# tests/test_compose.py checks that every app folder is copied here.
COPY manage.py ./
COPY sozialraum ./sozialraum
COPY core ./core
COPY regions ./regions
COPY cooperation ./cooperation
COPY budgets ./budgets
COPY templates ./templates
COPY static ./static
COPY locale ./locale

# Static files are collected at build time. The secret, hosts and database URL
# below exist only for this one step (production settings refuse to load
# without them); they are not in the image's environment. collectstatic does not
# connect to the database.
RUN DJANGO_SECRET_KEY=build-time-only-collectstatic-dummy-secret-not-used-at-run-time-0123456789 \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build:build@localhost:5432/build \
    python manage.py collectstatic --noinput

USER app
EXPOSE 8000

# docker-compose.yml sets the command per service (web, worker, beat, migrate).
CMD ["gunicorn", "sozialraum.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
