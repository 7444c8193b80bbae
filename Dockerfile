# SAC image: one image for every process of the full stack (web, worker, beat, simulator);
# docker-compose.yml picks the command. Settings come from the environment (sac.settings.prod).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=sac.settings.prod

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin sac \
    && mkdir -p /app/staticfiles /app/var \
    && chown -R sac:sac /app

USER sac
EXPOSE 8000 8001

# Default: the web process. docker-compose.yml runs migrate + seed_demo + collectstatic first.
CMD ["gunicorn", "sac.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
