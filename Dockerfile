# paperbot: the Discord bot and its scheduled arXiv worker in one process.
#
# BASE: any Debian-based image with Python >= 3.11, or plain Debian bookworm (its python3 is
# 3.11; it is installed below when the base has none). scripts/build_image.sh builds on a
# local bookworm base where no image registry can be reached.
#
# For an image that is the same image next month, pin the base by digest:
#   docker buildx imagetools inspect python:3.11-slim   # prints "Digest: sha256:…"
#   docker build --build-arg BASE=python:3.11-slim@sha256:… -t paperbot .
# The Python dependencies are pinned with their hashes in requirements.lock (refresh it
# with `make lock` after changing pyproject.toml's dependencies).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8 \
    PATH=/opt/paperbot/bin:$PATH \
    PAPERBOT_DATA_DIR=/data

# git publishes approved papers as commits (paperbot publish); ssh reaches a git remote.
# paperbot lives in a virtual environment of its own, so the base's Python (a slim image's
# or Debian's) is never changed by pip.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends git openssh-client ca-certificates passwd; \
    if ! python3 -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null \
        || ! python3 -m venv /opt/paperbot 2>/dev/null; then \
        rm -rf /opt/paperbot; \
        apt-get install -y --no-install-recommends python3 python3-venv; \
        python3 -m venv /opt/paperbot; \
    fi; \
    /opt/paperbot/bin/python -c 'import sys; assert sys.version_info >= (3, 11), sys.version'; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*

# Build time only: a CA bundle for pip behind a TLS-inspecting proxy (the build mounts it;
# see scripts/build_image.sh). Unset, pip uses its own.
ARG PIP_CERT

WORKDIR /app
# The dependencies first, in a layer of their own: a change to paperbot's code does not
# reinstall numpy, scipy and scikit-learn. Exactly the locked versions, each checked against
# its hash: an image built next month installs the same files.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY feeds ./feeds
COPY db ./db
RUN pip install --no-deps . \
    && rm -rf /app/build \
    && useradd --system --uid 10001 --create-home --home-dir /home/paperbot \
        --shell /usr/sbin/nologin paperbot \
    && mkdir -p /data /config \
    && chown paperbot /data

USER paperbot
# A config file is optional: mount one at /config/paperbot.toml (read-only is fine), or set
# PAPERBOT_* variables. Relative paths in it are relative to /config; what paperbot writes
# goes under /data. Without a config file, relative paths are relative to /config too.
WORKDIR /config
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 \
    CMD ["paperbot", "doctor", "--quiet", "--service"]
CMD ["paperbot", "run"]
