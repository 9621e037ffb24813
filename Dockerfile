# One image for every Python service of docker-compose.yml (every pattern's servers and clients).
# Build context: the repository root (.dockerignore leaves out tests, benchmarks and local state).
FROM python:3.11-slim AS wirelab-app

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Runtime dependencies only, checked against their hashes; this layer is rebuilt
# only when the lock file changes.  (The tests' packages are in requirements-dev.lock.)
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then the project itself, without touching the pinned dependencies.
COPY . .
RUN pip install --no-deps .

# Nothing here needs root.  The services' data folders belong to nobody: a named volume
# mounted there takes its owner from the image the first time, so nobody can write it.
RUN mkdir -p /data /repos && chown nobody:nogroup /data /repos
USER nobody

EXPOSE 8000
CMD ["python", "-m", "learn_websocket.chat.server", "--host", "0.0.0.0", "--port", "8000"]

# The streaming service's image (docker-compose.yml: build target wirelab-streaming): the same, plus
# Debian's ffmpeg (packaging and the live encoder) and the font its burnt-in digits use.  A stage
# of its own, so every other service's image stays without ffmpeg's few hundred MB.
FROM wirelab-app AS wirelab-streaming
USER root
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
USER nobody
EXPOSE 8040
CMD ["python", "-m", "learn_streaming.server", "--host", "0.0.0.0", "--port", "8040", "--live"]

# The default target (what `build: .` without a target gets): the plain image above.
FROM wirelab-app
