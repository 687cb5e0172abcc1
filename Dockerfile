# One image for every production process: gunicorn (web), Celery worker and
# Celery beat; docker-compose.yml picks the command. Settings come only from
# the environment (CSP_ENV=production refuses to start without the secrets).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CSP_ENV=production \
    CSP_DATA_DIR=/app/var

WORKDIR /app
COPY . .

# collectstatic reads settings, which in production insist on these; the
# throwaway values exist only for this build step (no database is contacted).
RUN pip install . \
 && DJANGO_SECRET_KEY=collectstatic-only \
    DATABASE_URL=postgresql://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput \
 && useradd --system --create-home --uid 10001 csp \
 && mkdir -p /app/var \
 && chown csp /app/var

USER csp
EXPOSE 8000
CMD ["gunicorn", "csplatform.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
