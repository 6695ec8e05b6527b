# syntax=docker/dockerfile:1
# close-events-mcp serving MCP over streamable HTTP at :8000/mcp. Stateless (no sessions; cursors
# and checkpoints are self-contained), so any number of replicas can sit behind any load balancer.
# Secrets come at run time, never in the image:
#
#   docker build -t close-events-mcp .
#   docker run --rm -p 8000:8000 -e CLOSE_API_KEY -e CLOSE_EVENTS_HTTP_TOKEN close-events-mcp
#
# It binds every address, so it refuses to start without CLOSE_EVENTS_HTTP_TOKEN (the bearer token
# clients send). CLOSE_EVENTS_HTTP_ALLOWED_HOSTS lists the host names clients use besides localhost.
# Arguments replace the command: `docker run --rm close-events-mcp call list_events limit=3 --demo`.

ARG PYTHON_IMAGE=python:3.12-slim

# Builder: the packages (the server, and the emulator that --demo runs) and their dependencies into
# /opt/venv (pip builds the wheel from the source).
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY close_events_mcp/ close_events_mcp/
COPY close_events_sandbox/ close_events_sandbox/
# The venv gets no pip of its own: the builder's pip installs into it.
RUN python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install .

# Runtime: the same base with the venv, without pip, not root.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="close-events-mcp" \
      org.opencontainers.image.description="MCP server for Close CRM's Event Log (streamable HTTP)" \
      org.opencontainers.image.source="https://github.com/close-events-mcp/close-events-mcp" \
      org.opencontainers.image.licenses="MIT"
RUN python -m pip uninstall --yes --root-user-action=ignore pip \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK: the only route, POST /mcp, needs the bearer token; probe the TCP port instead.
ENTRYPOINT ["close-events-mcp"]
CMD ["--transport", "streamable-http", "--host", "0.0.0.0", "--port", "8000"]
