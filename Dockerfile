# paperbot: the Discord bot and its scheduled arXiv worker in one process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PAPERBOT_DATA_DIR=/data

# git publishes approved papers as commits (paperbot publish); ssh reaches a git remote.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The dependencies first, in a layer of their own: a change to paperbot's code does not
# reinstall numpy, scipy and scikit-learn.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md LICENSE ./
COPY bot ./bot
COPY feeds ./feeds
COPY db ./db
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data paperbot \
    && mkdir -p /data /config \
    && chown paperbot /data

USER paperbot
# A config file is optional: mount one at /config/paperbot.toml, or set PAPERBOT_* variables.
WORKDIR /config
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 \
    CMD ["paperbot", "doctor", "--quiet"]
CMD ["paperbot", "run"]
