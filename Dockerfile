# SP4N Engine image: one image, two processes.
#   API (default):  uvicorn server:app on 0.0.0.0:8000
#   Worker:         same image, command `python worker.py`
# The portal's browser libraries (Leaflet, its clustering) from npm, exactly as locked; only their
# dist/ folders reach the image. Debian's node and npm: nothing else is downloaded.
FROM python:3.11-slim AS assets
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer, so code edits don't reinstall them.
COPY pyproject.toml ./
# The runtime dependencies and the `s3` extra (ATTACHMENT_STORAGE=s3 in production).
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['s3']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (worker.py runs from /app, so the source stays here too).
COPY . .
COPY --from=assets /assets/node_modules/leaflet/dist /app/node_modules/leaflet/dist
COPY --from=assets /assets/node_modules/leaflet.markercluster/dist /app/node_modules/leaflet.markercluster/dist
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app --no-create-home sp4n \
    && mkdir -p /var/lib/sp4n \
    && chown sp4n /var/lib/sp4n

# Only used when DATABASE_URL is not given (compose and production always set it).
ENV DATABASE_URL=sqlite:////var/lib/sp4n/sp4n.db
# Attachments on local disk unless ATTACHMENT_STORAGE=s3 (compose mounts a volume here).
ENV ATTACHMENT_DIR=/var/lib/sp4n/attachments

USER sp4n
EXPOSE 8000

# No uvicorn access log: it would keep private links (reporter tokens in the query) for good; the
# app logs each request itself by route template (api/main.py).
CMD ["python", "-m", "uvicorn", "server:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
