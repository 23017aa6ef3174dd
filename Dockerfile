# Image for the Follow-through worker and CLI (`followthrough migrate`, ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system --gid 10001 followthrough \
    && useradd --system --uid 10001 --gid followthrough --no-create-home \
       --home-dir /app --shell /usr/sbin/nologin followthrough

WORKDIR /app

# Source stays root-owned and read-only for the runtime user.
COPY . .
RUN pip install --no-cache-dir . \
    && rm -rf build *.egg-info

USER followthrough

CMD ["python", "worker.py"]
