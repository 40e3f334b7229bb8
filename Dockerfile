# paperbot: the Discord bot and its scheduled arXiv worker in one process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PAPERBOT_DATA_DIR=/data \
    PAPERBOT_CONFIG=/config/paperbot.toml

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY feeds ./feeds
COPY db ./db
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data paperbot \
    && mkdir -p /data /config \
    && chown paperbot /data

USER paperbot
VOLUME ["/data"]
CMD ["paperbot", "run"]
