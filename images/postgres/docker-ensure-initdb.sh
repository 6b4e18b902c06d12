#!/usr/bin/env bash
# As in the official image: initialise PGDATA (and run init scripts) without starting the server.
set -Eeuo pipefail
source /usr/local/bin/docker-entrypoint.sh
if [ "$#" -eq 0 ] || [ "$1" != 'postgres' ]; then set -- postgres "$@"; fi
docker_setup_env
docker_create_db_directories
if [ "$(id -u)" = '0' ]; then exec gosu postgres "$BASH_SOURCE" "$@"; fi
if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
    docker_init_empty_database "$@"
else
    self="$(basename "$0")"
    printf >&2 '%s: note: database already initialized in %q!\n' "$self" "$PGDATA"
fi
