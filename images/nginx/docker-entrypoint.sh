#!/bin/sh
# Minimal version of the official nginx image's entrypoint: when the command is nginx, run the
# scripts in /docker-entrypoint.d/ (executable *.sh run, *.envsh sourced), then exec the command.
set -e
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    if [ -d /docker-entrypoint.d ] && [ -n "$(find /docker-entrypoint.d -mindepth 1 -maxdepth 1 -type f 2>/dev/null)" ]; then
        for f in $(find /docker-entrypoint.d -mindepth 1 -maxdepth 1 -type f | sort); do
            case "$f" in
                *.envsh) [ -x "$f" ] && . "$f" ;;
                *.sh) if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: ignoring $f, not executable"; fi ;;
                *) echo "$0: ignoring $f" ;;
            esac
        done
    fi
fi
exec "$@"
