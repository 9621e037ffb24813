# One image for every Python service of docker-compose.yml (every pattern's servers and clients).
# Build context: the repository root.  Needs requirements.lock (pinned dependencies).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the project itself, without touching the pinned dependencies.
COPY pyproject.toml README.md ./
COPY common ./common
COPY websocket ./websocket
COPY sse ./sse
COPY webhook ./webhook
COPY pubsub ./pubsub
COPY queue ./queue
COPY dns ./dns
COPY mcp ./mcp
COPY mini_git ./mini_git
COPY webrtc ./webrtc
RUN pip install --no-deps .

# Nothing here needs root.
USER nobody

EXPOSE 8000
CMD ["python", "-m", "learn_websocket.chat.server", "--host", "0.0.0.0", "--port", "8000"]
