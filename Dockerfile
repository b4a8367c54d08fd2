# syntax=docker/dockerfile:1.7
# SoulSpot container image. Build:  make image   (docker buildx build, labelled with the
#                                   version: --build-arg SOULSPOT_VERSION=<soulspot.__version__>)
# Run (see docs/deployment.md):     docker compose up -d
#
# Stage 1 builds wheels of SoulSpot and every dependency; stage 2 installs them into a slim
# runtime without compilers, pip caches or the source tree. No secret is baked in: keys are
# generated into /data/keys on first start (or come from the environment at run time).

ARG PYTHON_VERSION=3.11

# --- stage 1: wheels ------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY kernel ./kernel
COPY plugins ./plugins
# the wheel's data files (share/doc/soulspot: deployment docs, the production config example)
COPY docs/deployment.md ./docs/
COPY docs/operations/runbook.md docs/operations/upgrade.md ./docs/operations/
COPY config/production.example.toml ./config/
COPY deploy/systemd/soulspot.service deploy/systemd/soulspot.socket ./deploy/systemd/
# Every dependency at the version constraints.txt pins (the versions the suite passed with).
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

# --- stage 2: runtime -----------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
# The package version (soulspot.__version__), for the label: `make image` and the release
# workflow pass it; the build fails when it differs from the wheel's version.
ARG SOULSPOT_VERSION
LABEL org.opencontainers.image.title="SoulSpot" \
      org.opencontainers.image.description="Your Spotify account and your music library at home" \
      org.opencontainers.image.version="${SOULSPOT_VERSION}" \
      org.opencontainers.image.licenses="MIT"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SOULSPOT__KERNEL__HOST=0.0.0.0 \
    SOULSPOT__KERNEL__PORT=8765 \
    SOULSPOT__KERNEL__DATA_DIR=/data

# Install from the wheels of stage 1 only (no index), without keeping them in a layer (pip
# byte-compiles while installing, so a read-only root filesystem never needs a write).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/soulspot-*.whl \
    && installed="$(python -c 'import soulspot; print(soulspot.__version__)')" \
    && { [ -z "${SOULSPOT_VERSION}" ] || [ "${SOULSPOT_VERSION}" = "${installed}" ] \
         || { echo "SOULSPOT_VERSION=${SOULSPOT_VERSION} but the wheel is ${installed}" >&2; exit 1; }; } \
    && groupadd --system --gid 10001 soulspot \
    && useradd --system --uid 10001 --gid soulspot --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin soulspot \
    && mkdir -p /data \
    && chown soulspot:soulspot /data \
    && chmod 0700 /data

# The only writable places at run time: /data (a volume) and /tmp (a tmpfs in compose).
# An optional config file can be mounted read-only at /app/config/soulspot.toml.
WORKDIR /app
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8765

# Liveness: the process answers (no dependencies checked). Python, because there is no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('SOULSPOT__KERNEL__PORT', '8765'), timeout=4).close()"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["soulspot"]
CMD ["serve"]
