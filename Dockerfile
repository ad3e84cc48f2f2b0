# The platform (web, Celery workers, beat, the one-shot release) for docker-compose.yaml.
# Built FROM the local debian:bookworm-slim (images/build.py makes it; no registry is reachable),
# with Python packages from PyPI (requirements.txt) and xterm.js from the npm registry
# (package-lock.json), translations compiled and static files collected at build time.

FROM debian:bookworm-slim AS base
# Extra CAs of the build host (bin/drydock compose-build copies them; see deploy/ca-certificates/).
COPY deploy/ca-certificates/ /usr/local/share/ca-certificates/
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt

# Browser libraries: only their files are kept, not Node.
FROM base AS frontend
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends nodejs npm; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel error

FROM base
# What the workers run on the host for the sandboxes: iptables and iproute2 (grader/isolation.py:
# the bridge's rules and isolated ports, nsenter), e2fsprogs and mount (grader/disks.py: each
# sandbox's loop-mounted ext4 disk); gettext for compilemessages.
# No setuid or setgid program: everything here runs as root already, and on an engine with user
# namespaces an image's files belong to the remapped root (uid 100000) even in a `userns_mode: host`
# container, so the setuid-root /usr/bin/mount ran with euid 100000, without a capability, and
# every mount failed "must be superuser to use mount" (EPERM).
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 python3-venv gettext iptables iproute2 e2fsprogs mount util-linux; \
    rm -rf /var/lib/apt/lists/*; \
    find / -xdev -type f -perm /6000 -exec chmod ug-s {} +
WORKDIR /app
COPY requirements.txt .
RUN python3 -m venv /venv && /venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.txt
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=drydock.settings DRYDOCK_VAR_DIR=/var/lib/drydock
COPY . .
COPY --from=frontend /build/node_modules /app/node_modules
RUN set -eux; \
    export SECRET_KEY=build-only-not-a-secret; \
    python manage.py compilemessages --ignore .venv --ignore node_modules -v0; \
    python manage.py collectstatic --noinput -v0; \
    rm -f /var/lib/drydock/drydock.sqlite3*
EXPOSE 8000
CMD ["uvicorn", "drydock.asgi:application", "--host", "127.0.0.1", "--port", "8000", "--lifespan", "off", "--proxy-headers"]
