# The Maestro server in a container (the seed's commands):
#
#   docker build -t maestro-server .
#   docker run -p 3000:3000 -v ~/.maestro/data:/data maestro-server
#
# Bound to 0.0.0.0 with no MAESTRO_TOKEN, the server generates an admin token at
# its first start, keeps it in /data/admin-token and prints the URL to open (once).
# Pass -e MAESTRO_TOKEN=... to choose the token instead. Runners and agents run on
# the developers' machines, not in this image (docs/operations.md, "Deployment").
FROM python:3.11-slim

# uid 1000: the usual owner of ~/.maestro/data on a Linux host, so the bind mount
# is writable; another owner runs the image with --user "$(id -u):$(id -g)".
RUN useradd --create-home --uid 1000 --user-group maestro \
    && mkdir /data \
    && chown maestro:maestro /data

WORKDIR /opt/maestro
COPY pyproject.toml README.md ./
COPY src ./src
# With the PostgreSQL driver, so MAESTRO_DATABASE_URL works in the same image.
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore '.[postgres]'

ENV DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000 \
    PYTHONUNBUFFERED=1
USER maestro
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/health', timeout=4)"
CMD ["maestro", "serve"]
