#!/bin/sh
# The site from its template, then nginx in the foreground. Certificates: DRYDOCK_TLS_DIR on the
# host, mounted at /etc/drydock/tls (fullchain.pem, privkey.pem), e.g. Let's Encrypt's files.
set -eu
: "${DRYDOCK_SERVER_NAME:=localhost}" "${DRYDOCK_HTTPS_PORT:=443}" "${DRYDOCK_HTTP_PORT:=80}" "${DRYDOCK_WEB_PORT:=8000}"
export DRYDOCK_SERVER_NAME DRYDOCK_HTTPS_PORT DRYDOCK_HTTP_PORT DRYDOCK_WEB_PORT
for file in fullchain.pem privkey.pem; do
    [ -r "/etc/drydock/tls/$file" ] || { echo "drydock-proxy: /etc/drydock/tls/$file is missing (DRYDOCK_TLS_DIR)" >&2; exit 2; }
done
envsubst '$DRYDOCK_SERVER_NAME $DRYDOCK_HTTPS_PORT $DRYDOCK_HTTP_PORT $DRYDOCK_WEB_PORT' \
    < /etc/drydock/nginx.conf.template > /etc/nginx/conf.d/drydock.conf
nginx -t -q
exec nginx -g 'daemon off;'
