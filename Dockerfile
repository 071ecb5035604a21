# syntax=docker/dockerfile:1
# Build stage: compile wheels for the project and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: only the installed wheels, run as an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 SHAGYM_CONFIG=/etc/shagym/config.yaml
RUN groupadd --system shagym && useradd --system --gid shagym --home-dir /var/lib/shagym --create-home shagym
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config.example.yaml /etc/shagym/config.yaml
WORKDIR /var/lib/shagym
USER shagym
# 8080: the webhook (webhook mode only); 9464: /healthz and /metrics (observability.host 0.0.0.0 to reach it
# from outside the container)
EXPOSE 8080 9464
# healthy while the database and the department queue answer (observability.port must stay 9464 for this)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
CMD ["shagym", "run"]
