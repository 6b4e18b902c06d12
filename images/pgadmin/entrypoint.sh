#!/bin/bash
# /entrypoint.sh for dap-offline/pgadmin: the contract of the official dpage/pgadmin4 image's
# entrypoint (pkg/docker/entrypoint.sh), on Debian with pgAdmin from PyPI.
set -e

# Populate config_distro.py with defaults and every PGADMIN_CONFIG_<KEY>=<value> as
# `<KEY> = <value>` (value is Python: quote strings yourself, e.g. PGADMIN_CONFIG_X="'text'").
# Only on the first launch: the empty file is created at build time, owned by pgadmin.
if [ ! -s /pgadmin4/config_distro.py ]; then
    cat << 'EOF' > /pgadmin4/config_distro.py
CA_FILE = '/etc/ssl/certs/ca-certificates.crt'
LOG_FILE = '/dev/null'
HELP_PATH = '../../docs'
UPGRADE_CHECK_ENABLED = False
DEFAULT_BINARY_PATHS = {
        'pg': '/usr/lib/postgresql/15/bin',
        'pg-15': '/usr/lib/postgresql/15/bin'
}
EOF
    for var in $(env | grep -o "^PGADMIN_CONFIG_[A-Za-z0-9_]*" | sort -u); do
        echo "${var#PGADMIN_CONFIG_} = ${!var}" >> /pgadmin4/config_distro.py
    done
fi

# Is an external configuration database in use (PGADMIN_CONFIG_CONFIG_DATABASE_URI)?
external_config_db_exists="False"
if [ -n "${PGADMIN_CONFIG_CONFIG_DATABASE_URI}" ]; then
    external_config_db_exists=$(cd /pgadmin4/pgadmin/utils && python3 -c "from check_external_config_db import check_external_config_db; val = check_external_config_db(${PGADMIN_CONFIG_CONFIG_DATABASE_URI}); print(val)" 2>/dev/null || echo "False")
fi

if [ ! -f /var/lib/pgadmin/pgadmin4.db ] && [ "${external_config_db_exists}" = "False" ]; then
    if [ -z "${PGADMIN_DEFAULT_EMAIL}" ] || { [ -z "${PGADMIN_DEFAULT_PASSWORD}" ] && [ -z "${PGADMIN_DEFAULT_PASSWORD_FILE}" ]; }; then
        echo 'You need to define the PGADMIN_DEFAULT_EMAIL and PGADMIN_DEFAULT_PASSWORD or PGADMIN_DEFAULT_PASSWORD_FILE environment variables.'
        exit 1
    fi

    # Validate PGADMIN_DEFAULT_EMAIL with pgAdmin's own validator (same switches as the official image)
    CHECK_EMAIL_DELIVERABILITY="${PGADMIN_CONFIG_CHECK_EMAIL_DELIVERABILITY:-False}"
    ALLOW_SPECIAL_EMAIL_DOMAINS="${PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS:-[]}"
    GLOBALLY_DELIVERABLE="${PGADMIN_CONFIG_GLOBALLY_DELIVERABLE:-True}"
    email_config="{'CHECK_EMAIL_DELIVERABILITY': ${CHECK_EMAIL_DELIVERABILITY}, 'ALLOW_SPECIAL_EMAIL_DOMAINS': ${ALLOW_SPECIAL_EMAIL_DOMAINS}, 'GLOBALLY_DELIVERABLE': ${GLOBALLY_DELIVERABLE}}"
    echo "email config is ${email_config}"
    is_valid_email=$(cd /pgadmin4/pgadmin/utils && PGADMIN_DEFAULT_EMAIL="${PGADMIN_DEFAULT_EMAIL}" python3 -c "
import os
from validation_utils import validate_email
print(validate_email(os.environ['PGADMIN_DEFAULT_EMAIL'], ${email_config}))" 2>&1 || true)
    if echo "${is_valid_email}" | grep "False" > /dev/null; then
        echo "'${PGADMIN_DEFAULT_EMAIL}' does not appear to be a valid email address. Please reset the PGADMIN_DEFAULT_EMAIL environment variable and try again."
        echo "Validation output: ${is_valid_email}"
        exit 1
    fi

    if [ -n "${PGADMIN_DEFAULT_PASSWORD_FILE}" ]; then
        PGADMIN_DEFAULT_PASSWORD=$(cat "${PGADMIN_DEFAULT_PASSWORD_FILE}")
        export PGADMIN_DEFAULT_PASSWORD
    fi
    export PGADMIN_SETUP_EMAIL="${PGADMIN_DEFAULT_EMAIL}"
    export PGADMIN_SETUP_PASSWORD="${PGADMIN_DEFAULT_PASSWORD}"

    # Initialize DB before starting Gunicorn; importing pgadmin4 (from this script) is enough
    (cd /pgadmin4 && python3 run_pgadmin.py)

    export PGADMIN_SERVER_JSON_FILE="${PGADMIN_SERVER_JSON_FILE:-/pgadmin4/servers.json}"
    export PGADMIN_PREFERENCES_JSON_FILE="${PGADMIN_PREFERENCES_JSON_FILE:-/pgadmin4/preferences.json}"

    # Pre-load any required servers
    if [ -f "${PGADMIN_SERVER_JSON_FILE}" ]; then
        # When running in Desktop mode, no user is created, so import servers anonymously
        if [ "${PGADMIN_CONFIG_SERVER_MODE}" = "False" ]; then
            python3 /pgadmin4/setup.py load-servers "${PGADMIN_SERVER_JSON_FILE}"
        else
            python3 /pgadmin4/setup.py load-servers "${PGADMIN_SERVER_JSON_FILE}" --user "${PGADMIN_DEFAULT_EMAIL}"
        fi
    fi

    # Pre-load any required preferences
    if [ -f "${PGADMIN_PREFERENCES_JSON_FILE}" ]; then
        if [ "${PGADMIN_CONFIG_SERVER_MODE}" = "False" ]; then
            DATA_DIR=$(cd /pgadmin4 && python3 -c "import config; print(config.DATA_DIR)")
            python3 /pgadmin4/setup.py set-prefs "${PGADMIN_PREFERENCES_JSON_FILE}" --sqlite-path "${DATA_DIR}/pgadmin4.db"
        else
            python3 /pgadmin4/setup.py set-prefs "${PGADMIN_DEFAULT_EMAIL}" --input-file "${PGADMIN_PREFERENCES_JSON_FILE}"
        fi
    fi
elif [ "${PGADMIN_REPLACE_SERVERS_ON_STARTUP}" = "True" ] && [ -f "${PGADMIN_SERVER_JSON_FILE:-/pgadmin4/servers.json}" ]; then
    if [ "${PGADMIN_CONFIG_SERVER_MODE}" = "False" ]; then
        python3 /pgadmin4/setup.py load-servers "${PGADMIN_SERVER_JSON_FILE:-/pgadmin4/servers.json}" --replace
    else
        python3 /pgadmin4/setup.py load-servers "${PGADMIN_SERVER_JSON_FILE:-/pgadmin4/servers.json}" --user "${PGADMIN_DEFAULT_EMAIL}" --replace
    fi
fi

# The official image starts Postfix (mail for password resets) unless PGADMIN_DISABLE_POSTFIX is
# set. This image ships no MTA: mail is disabled either way.
if [ -z "${PGADMIN_DISABLE_POSTFIX}" ]; then
    echo "NOTE: this image has no Postfix; pgAdmin cannot send mail (set PGADMIN_DISABLE_POSTFIX=True to silence this)."
fi

# Session expiry (days) -> gunicorn timeout in seconds, as in the official image
TIMEOUT=$(cd /pgadmin4 && python3 -c 'import config; print(config.SESSION_EXPIRATION_TIME * 60 * 60 * 24)')

# Bind to the given address, else [::] when IPv6 is available, else 0.0.0.0
if [ -n "${PGADMIN_LISTEN_ADDRESS}" ]; then
    BIND_ADDRESS="${PGADMIN_LISTEN_ADDRESS}"
elif [ -f /proc/net/if_inet6 ] && [ -s /proc/net/if_inet6 ]; then
    BIND_ADDRESS="[::]"
else
    BIND_ADDRESS="0.0.0.0"
fi

cd /pgadmin4
if [ -n "${PGADMIN_ENABLE_TLS}" ]; then
    exec gunicorn --limit-request-line "${GUNICORN_LIMIT_REQUEST_LINE:-8190}" --timeout "${TIMEOUT}" \
        --bind "${BIND_ADDRESS}:${PGADMIN_LISTEN_PORT:-443}" -w 1 --threads "${GUNICORN_THREADS:-25}" \
        --access-logfile "${GUNICORN_ACCESS_LOGFILE:--}" --keyfile /certs/server.key \
        --certfile /certs/server.cert -c gunicorn_config.py run_pgadmin:app
else
    exec gunicorn --limit-request-line "${GUNICORN_LIMIT_REQUEST_LINE:-8190}" --timeout "${TIMEOUT}" \
        --bind "${BIND_ADDRESS}:${PGADMIN_LISTEN_PORT:-80}" -w 1 --threads "${GUNICORN_THREADS:-25}" \
        --access-logfile "${GUNICORN_ACCESS_LOGFILE:--}" -c gunicorn_config.py run_pgadmin:app
fi
