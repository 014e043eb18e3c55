# The delivery platform's images, built from this repository:
#   app  – one Hypercorn node (`delivery serve`); scale it with `docker-compose up --scale app=N`
#   web  – nginx in front of the nodes, serving the static files itself
# Front-end packages come from the npm registry through the lock file, never from a CDN.

FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/delivery
COPY pyproject.toml README.md hypercorn.toml alembic.ini ./
COPY app ./app
COPY realtime ./realtime
COPY dispatch ./dispatch
COPY static ./static
COPY --from=assets /src/node_modules ./node_modules
# Editable, so the code finds static/, node_modules/ and the migrations beside it.
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /srv/delivery delivery \
    && mkdir -p var \
    && chown delivery var
USER delivery
# The proxy's address (TRUSTED_PROXIES) is the deployment's to set; docker-compose.yml sets it.
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=12 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
CMD ["delivery", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM nginx:1.27-bookworm AS web
# The official image renders /etc/nginx/templates/*.template with envsubst at start; only the
# NGINX_* variables below are substituted, nginx's own $variables are left alone.
COPY nginx/nginx.conf /etc/nginx/templates/nginx.conf.template
COPY static /srv/static
COPY --from=assets /src/node_modules/socket.io-client/dist /srv/node_modules/socket.io-client/dist
COPY --from=assets /src/node_modules/swagger-ui-dist /srv/node_modules/swagger-ui-dist
RUN mkdir -p /tmp/nginx
ENV NGINX_ENVSUBST_OUTPUT_DIR=/etc/nginx \
    NGINX_LISTEN=80 \
    NGINX_WORKERS=auto \
    NGINX_RUN_DIR=/tmp/nginx \
    NGINX_LOG_DIR=/var/log/nginx \
    NGINX_STATIC_ROOT=/srv/static \
    NGINX_NODE_MODULES=/srv/node_modules \
    NGINX_MIME_TYPES=/etc/nginx/mime.types \
    NGINX_PROXY_BIND="" \
    NGINX_UPSTREAM_SERVERS="server app:8000 max_fails=1 fail_timeout=5s;"
EXPOSE 80
