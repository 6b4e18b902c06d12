#!/usr/bin/env bash
# Run every dap-offline image briefly and check its contract for real (see images/README.md).
# Everything runs on a throwaway Docker network with ports published on 127.0.0.1 only, and is
# removed at the end (also on failure or Ctrl-C).
#
#   images/verify.sh                   all checks
#   images/verify.sh postgres nginx    only these groups (postgres is started when a group needs it)
#   KEEP=1 images/verify.sh            leave the containers running for inspection
#
# Needs on the host: docker, curl, psql, ssh, ssh-keygen, openssl (psql: Debian postgresql-client).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_BUILDKIT=0
tag() { "$HERE/build.sh" --list | grep -E "^dap-offline/$1:" | head -n 1; }

RUN_ID=dapv$$
NET=$RUN_ID-net
TMP=$(mktemp -d /tmp/dap-verify.XXXXXX)
PASS=0; FAIL=0; FAILED=()

log()  { printf '[verify %s] %s\n' "$(date +%T)" "$*" >&2; }
ok()   { PASS=$((PASS + 1)); printf '  ok   %s\n' "$*"; }
bad()  { FAIL=$((FAIL + 1)); FAILED+=("$*"); printf '  FAIL %s\n' "$*"; }
check() {  # check "description" command...
  local d=$1; shift
  if "$@" >"$TMP/last.out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/       | /' "$TMP/last.out" | tail -n 15; fi
}
check_not() {  # the command must fail
  local d=$1; shift
  if "$@" >"$TMP/last.out" 2>&1; then bad "$d"; sed 's/^/       | /' "$TMP/last.out" | tail -n 15; else ok "$d"; fi
}
wait_for() {  # wait_for SECONDS command...  (quiet)
  local t=$1 i; shift
  for ((i = 0; i < t; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}
cname() { echo "$RUN_ID-$1"; }
port() { docker port "$(cname "$1")" "$2" | head -n 1 | sed 's/.*://'; }
dlogs() { docker logs --tail 30 "$(cname "$1")" 2>&1 | sed 's/^/       | /'; }

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then log "KEEP=1: containers and network $NET left running"; return; fi
  docker ps -aq --filter "label=dap-verify=$RUN_ID" | xargs -r docker rm -f >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  docker volume ls -q --filter "name=$RUN_ID" | xargs -r docker volume rm >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

drun() {  # drun NAME [docker run args...] IMAGE [args...]
  local n=$1; shift
  docker run -d --name "$(cname "$n")" --label "dap-verify=$RUN_ID" --network "$NET" \
    --network-alias "$n" "$@" >/dev/null
}
dcreate() {
  local n=$1; shift
  docker create --name "$(cname "$n")" --label "dap-verify=$RUN_ID" --network "$NET" \
    --network-alias "$n" "$@" >/dev/null
}
dx() { local n=$1; shift; docker exec "$(cname "$n")" "$@"; }

WANT=" ${*:-all} "
want() { [[ "$WANT" == *" all "* || "$WANT" == *" $1 "* ]]; }

docker info >/dev/null 2>&1 || { echo "no Docker Engine"; exit 1; }
docker network create "$NET" >/dev/null
log "network $NET, work dir $TMP"

# ------------------------------------------------------------------------------------------------
PG_PASS=pg-$RANDOM$RANDOM
MLFLOW_DB_PASS=ml-$RANDOM$RANDOM
start_postgres() {
  [ -n "${PG_STARTED:-}" ] && return 0
  PG_STARTED=1
  mkdir -p "$TMP/pg/initdb" "$TMP/pg/conf"
  printf '%s\n' "$PG_PASS" > "$TMP/pg/password"
  cat > "$TMP/pg/initdb/010-configure-database.sh" <<'EOF'
#!/bin/bash
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<-EOSQL
  create user mlflow with encrypted password '$MLFLOW_DATABASE_PASSWORD';
  create database mlflow with owner = mlflow;
EOSQL
EOF
  chmod 755 "$TMP/pg/initdb/010-configure-database.sh"
  echo "create table dap_verify_sourced(id int); insert into dap_verify_sourced values (42);" \
    > "$TMP/pg/initdb/020-table.sql"
  cat > "$TMP/pg/conf/postgresql.conf" <<'EOF'
data_directory = '/var/lib/postgresql/data'
hba_file = '/etc/dap/pg_hba.conf'
ident_file = '/var/lib/postgresql/data/pg_ident.conf'
listen_addresses = '*'
max_connections = 100
shared_buffers = 128MB
password_encryption = scram-sha-256
lc_messages = 'en_US.utf8'
timezone = 'Europe/Amsterdam'
log_timezone = 'Europe/Amsterdam'
EOF
  cat > "$TMP/pg/conf/pg_hba.conf" <<'EOF'
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all all scram-sha-256
EOF
  chmod -R a+rX "$TMP/pg"
  drun postgres --shm-size 256m -p 127.0.0.1::5432 \
    -e POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password \
    -e MLFLOW_DATABASE_PASSWORD="$MLFLOW_DB_PASS" \
    -v "$TMP/pg/password:/run/secrets/postgres_password:ro" \
    -v "$TMP/pg/initdb:/docker-entrypoint-initdb.d:ro" \
    -v "$TMP/pg/conf:/etc/dap:ro" \
    "$(tag postgres)" postgres -c config_file=/etc/dap/postgresql.conf
  wait_for 60 dx postgres pg_isready -h 127.0.0.1 -U postgres || { bad "postgres did not become ready"; dlogs postgres; return 1; }
  sleep 1
}

if want postgres; then
  log "postgres: $(tag postgres)"
  if start_postgres; then
    P=$(port postgres 5432)
    check "postgres: pg_isready inside the container" dx postgres pg_isready -U postgres
    check "postgres: superuser password login over TCP (POSTGRES_PASSWORD_FILE)" \
      env PGPASSWORD="$PG_PASS" psql -h 127.0.0.1 -p "$P" -U postgres -d postgres -tAc 'select 1'
    check_not "postgres: wrong password rejected over TCP" \
      env PGPASSWORD=wrong psql -h 127.0.0.1 -p "$P" -U postgres -d postgres -tAc 'select 1'
    check "postgres: executable init script ran (mlflow user/db, scram password)" \
      env PGPASSWORD="$MLFLOW_DB_PASS" psql -h 127.0.0.1 -p "$P" -U mlflow -d mlflow -tAc 'select current_user'
    check "postgres: *.sql init file ran" bash -c \
      "PGPASSWORD='$PG_PASS' psql -h 127.0.0.1 -p $P -U postgres -d postgres -tAc 'select id from dap_verify_sourced' | grep -qx 42"
    check "postgres: config_file=/etc/dap/postgresql.conf passed through" bash -c \
      "PGPASSWORD='$PG_PASS' psql -h 127.0.0.1 -p $P -U postgres -tAc 'show hba_file' | grep -qx /etc/dap/pg_hba.conf"
    check "postgres: scram-sha-256 password storage" bash -c \
      "PGPASSWORD='$PG_PASS' psql -h 127.0.0.1 -p $P -U postgres -tAc \"select rolpassword like 'SCRAM-SHA-256%' from pg_authid where rolname='mlflow'\" | grep -qx t"
    check "postgres: server runs as uid 999" bash -c "[ \"\$(docker top $(cname postgres) -eo pid,uid,args | awk 'NR>1 && /postgres -c config_file/ {print \$2; exit}')\" = 999 ]"
    check "postgres: PGDATA owned by postgres (999:999)" bash -c \
      "[ \"\$(docker exec $(cname postgres) stat -c %u:%g /var/lib/postgresql/data)\" = 999:999 ]"
    check "postgres: postgres/psql/pg_isready/initdb/pg_ctl on PATH" \
      dx postgres sh -c 'for b in postgres psql pg_isready initdb pg_ctl docker-entrypoint.sh gosu; do command -v $b || exit 1; done'
  fi
fi

# ------------------------------------------------------------------------------------------------
MINIO_USER=dapadmin$RANDOM
MINIO_PASS=minio-$RANDOM$RANDOM$RANDOM
MLFLOW_KEY=mlflow$RANDOM
MLFLOW_SECRET=mlsecret-$RANDOM$RANDOM$RANDOM
start_minio() {
  [ -n "${MINIO_STARTED:-}" ] && return 0
  MINIO_STARTED=1
  mkdir -p "$TMP/minio"
  printf '%s' "$MINIO_USER" > "$TMP/minio/root_user"
  printf '%s' "$MINIO_PASS" > "$TMP/minio/root_password"
  chmod -R a+rX "$TMP/minio"
  drun minio -p 127.0.0.1::9000 \
    -e MINIO_ROOT_USER_FILE=/run/secrets/dap/minio_root_user \
    -e MINIO_ROOT_PASSWORD_FILE=/run/secrets/dap/minio_root_password \
    -v "$TMP/minio/root_user:/run/secrets/dap/minio_root_user:ro" \
    -v "$TMP/minio/root_password:/run/secrets/dap/minio_root_password:ro" \
    "$(tag minio)" server /data --address :9000 --console-address :9001
  wait_for 60 dx minio mc ready local || { bad "minio: mc ready local never passed"; dlogs minio; return 1; }
  dx minio mc alias set dap http://127.0.0.1:9000 "$MINIO_USER" "$MINIO_PASS" >/dev/null
}

if want minio || want mlflow || want dev-python; then
  log "minio: $(tag minio)"
  if start_minio; then
    check "minio: mc ready local" dx minio mc ready local
    check "minio: root credentials from *_FILE (absolute paths) accepted" dx minio mc admin info dap
    check "minio: mc mb dap/mlflow" dx minio mc mb --ignore-existing dap/mlflow
    check "minio: mc admin user add" dx minio mc admin user add dap "$MLFLOW_KEY" "$MLFLOW_SECRET"
    docker exec -i "$(cname minio)" sh -c 'cat > /tmp/mlflow-policy.json' <<'EOF'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::mlflow","arn:aws:s3:::mlflow/*"]}]}
EOF
    check "minio: mc admin policy create" dx minio mc admin policy create dap mlflow-rw /tmp/mlflow-policy.json
    check "minio: mc admin policy attach" dx minio mc admin policy attach dap mlflow-rw --user "$MLFLOW_KEY"
    check "minio: S3 API answers on the published port" \
      curl -fsS -o /dev/null "http://127.0.0.1:$(port minio 9000)/minio/health/live"
    check "minio: curl inside the image" dx minio curl -fsS -o /dev/null http://127.0.0.1:9000/minio/health/ready
    check_not "minio: wrong root password rejected" dx minio mc alias set bad http://127.0.0.1:9000 "$MINIO_USER" wrongpassword
  fi
fi

# ------------------------------------------------------------------------------------------------
start_mlflow() {
  [ -n "${MLFLOW_STARTED:-}" ] && return 0
  MLFLOW_STARTED=1
  start_postgres || return 1
  start_minio || return 1
  dx minio mc mb --ignore-existing dap/mlflow >/dev/null
  dx minio mc admin user add dap "$MLFLOW_KEY" "$MLFLOW_SECRET" >/dev/null
  dx minio mc admin policy attach dap readwrite --user "$MLFLOW_KEY" >/dev/null 2>&1 || true
  # As the program runs it: no secret in env or argv; pgpass and AWS credentials files are uploaded
  # and installed privately by the image's entrypoint (DAP_INSTALL_<VAR>=<file>).
  mkdir -p "$TMP/ml/secrets/dap"
  printf 'postgres:5432:mlflow:mlflow:%s\n' "$MLFLOW_DB_PASS" > "$TMP/ml/secrets/dap/pgpass"
  printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$MLFLOW_KEY" "$MLFLOW_SECRET" \
    > "$TMP/ml/secrets/dap/aws_credentials"
  chmod 0400 "$TMP/ml/secrets/dap/"*
  dcreate mlflow -p 127.0.0.1::5000 \
    -e MLFLOW_S3_ENDPOINT_URL=http://minio:9000 -e AWS_DEFAULT_REGION=us-east-1 \
    -e DAP_INSTALL_PGPASSFILE=/run/secrets/dap/pgpass \
    -e DAP_INSTALL_AWS_SHARED_CREDENTIALS_FILE=/run/secrets/dap/aws_credentials \
    "$(tag mlflow)" mlflow server --host 0.0.0.0 --port 5000 \
    --backend-store-uri "postgresql+psycopg://mlflow@postgres:5432/mlflow" \
    --artifacts-destination s3://mlflow --serve-artifacts --workers 1 \
    --allowed-hosts "mlflow,mlflow:5000,mlflow.dap.test,localhost:*,127.0.0.1:*"
  docker cp "$TMP/ml/secrets/." "$(cname mlflow):/run/secrets/"
  docker start "$(cname mlflow)" >/dev/null
  wait_for 180 dx mlflow python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health')" \
    || { bad "mlflow: /health never answered"; dlogs mlflow; return 1; }
}

if want mlflow || want dev-python; then
  log "mlflow: $(tag mlflow)"
  if start_mlflow; then
    M=$(port mlflow 5000)
    check "mlflow: healthcheck command (python3 urllib /health)" \
      dx mlflow python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health')"
    check "mlflow: server process runs as non-root user mlflow (uid 1000)" bash -c \
      "u=\$(docker top $(cname mlflow) -eo pid,uid,args | awk 'NR>1 && /mlflow/ {print \$2; exit}'); echo \"uid=\$u\"; [ \"\$u\" = 1000 ] && [ \"\$(docker exec $(cname mlflow) id -un mlflow)\" = mlflow ]"
    check "mlflow: create experiment via REST (postgres backend, psycopg 3)" bash -c \
      "curl -fsS -X POST -H 'Content-Type: application/json' -d '{\"name\":\"dap-verify\"}' http://127.0.0.1:$M/api/2.0/mlflow/experiments/create | grep -q experiment_id"
    check "mlflow: proxied artifact upload lands in MinIO (s3://mlflow)" bash -c \
      "curl -fsS -X PUT --data-binary 'hello' http://127.0.0.1:$M/api/2.0/mlflow-artifacts/artifacts/verify/hello.txt >/dev/null && docker exec $(cname minio) mc stat dap/mlflow/verify/hello.txt"
    check "mlflow: allowed Host header (mlflow.dap.test) accepted" \
      curl -fsS -o /dev/null -H 'Host: mlflow.dap.test' "http://127.0.0.1:$M/api/2.0/mlflow/experiments/search?max_results=1"
    check "mlflow: unknown Host header (evil.example) rejected (403)" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' 'http://127.0.0.1:$M/api/2.0/mlflow/experiments/search?max_results=1')\" = 403 ]"
    check "mlflow: DB password and S3 secret in no env value or argv (files via DAP_INSTALL_*)" bash -c \
      "! docker inspect $(cname mlflow) --format '{{json .Config.Env}} {{json .Args}}' | grep -qe '$MLFLOW_DB_PASS' -e '$MLFLOW_SECRET' && ! docker top $(cname mlflow) -eo pid,args | grep -qe '$MLFLOW_DB_PASS' -e '$MLFLOW_SECRET'"
    check "mlflow: psycopg 3 and boto3 importable" dx mlflow python3 -c "import psycopg, boto3, mlflow; print(mlflow.__version__)"
  fi
fi

# ------------------------------------------------------------------------------------------------
if want nginx; then
  log "nginx: $(tag nginx)"
  start_postgres
  mkdir -p "$TMP/nginx"
  cat > "$TMP/nginx/nginx.conf" <<'EOF'
user nginx;
pid /var/run/nginx.pid;
worker_processes auto;
include /etc/nginx/modules-enabled/*.conf;
events { worker_connections 1024; }
http {
  include mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  error_log /dev/stderr;
  server {
    listen 80;
    location / { return 200 "dap-verify-ok\n"; }
    location /mime { types { } default_type text/plain; return 200 "mime"; }
  }
}
stream {
  server {
    listen 54321;
    proxy_pass postgres:5432;
  }
}
EOF
  chmod -R a+rX "$TMP/nginx"
  drun nginx -p 127.0.0.1::80 -p 127.0.0.1::54321 -v "$TMP/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" "$(tag nginx)"
  if wait_for 30 curl -fsS "http://127.0.0.1:$(port nginx 80)/"; then
    check "nginx: serves the trivial http config" bash -c "curl -fsS http://127.0.0.1:$(port nginx 80)/ | grep -q dap-verify-ok"
    check "nginx: stream {} block (dynamic module) proxies postgres" \
      env PGPASSWORD="$PG_PASS" psql -h 127.0.0.1 -p "$(port nginx 54321)" -U postgres -d postgres -tAc 'select 1'
    check "nginx: worker processes run as nginx (uid 101)" bash -c \
      "[ \"\$(docker top $(cname nginx) -eo pid,uid,args | awk 'NR>1 && /worker process/ {print \$2; exit}')\" = 101 ]"
    check "nginx: user/group nginx is 101:101" bash -c "[ \"\$(docker exec $(cname nginx) id -u nginx):\$(docker exec $(cname nginx) id -g nginx)\" = 101:101 ]"
    check "nginx: /etc/nginx/mime.types present" dx nginx test -s /etc/nginx/mime.types
    check "nginx: pid file /var/run/nginx.pid" dx nginx test -s /var/run/nginx.pid
    check "nginx: health tool dap-nginx-healthcheck" dx nginx dap-nginx-healthcheck http://127.0.0.1:80/
    check "nginx: access log goes to stdout" bash -c "docker logs $(cname nginx) 2>/dev/null | grep -q 'GET / HTTP'"
  else
    bad "nginx did not answer"; dlogs nginx
  fi
fi

# ------------------------------------------------------------------------------------------------
if want pgadmin; then
  log "pgadmin: $(tag pgadmin)"
  start_postgres
  mkdir -p "$TMP/pgadmin"
  printf '%s\n' "pga-$RANDOM$RANDOM" > "$TMP/pgadmin/password"
  cat > "$TMP/pgadmin/servers.json" <<'EOF'
{"Servers": {"1": {"Name": "dap-verify-postgres", "Group": "Servers", "Host": "postgres",
  "Port": 5432, "MaintenanceDB": "postgres", "Username": "postgres", "SSLMode": "prefer"}}}
EOF
  chmod -R a+rX "$TMP/pgadmin"
  drun pgadmin -p 127.0.0.1::80 \
    -e PGADMIN_DEFAULT_EMAIL=admin@dap-verify.example.com \
    -e PGADMIN_DEFAULT_PASSWORD_FILE=/run/secrets/pgadmin_password \
    -e PGADMIN_SERVER_JSON_FILE=/run/secrets/servers.json \
    -e PGADMIN_DISABLE_POSTFIX=True \
    -e PGADMIN_CONFIG_ENABLE_PSQL=True \
    -e "PGADMIN_CONFIG_LOGIN_BANNER='dap verify banner'" \
    -v "$TMP/pgadmin/password:/run/secrets/pgadmin_password:ro" \
    -v "$TMP/pgadmin/servers.json:/run/secrets/servers.json:ro" \
    "$(tag pgadmin)"
  if wait_for 180 dx pgadmin wget -q -O /dev/null http://127.0.0.1:80/misc/ping; then
    A=$(port pgadmin 80)
    check "pgadmin: healthcheck wget /misc/ping" dx pgadmin wget -q -O /dev/null http://127.0.0.1:80/misc/ping
    check "pgadmin: login page" bash -c "curl -fsSL http://127.0.0.1:$A/login | grep -qi pgadmin"
    check "pgadmin: PGADMIN_CONFIG_* written to config_distro.py" bash -c \
      "docker exec $(cname pgadmin) cat /pgadmin4/config_distro.py | grep -qx \"LOGIN_BANNER = 'dap verify banner'\""
    check "pgadmin: servers.json loaded for the default user" bash -c \
      "docker exec -u pgadmin $(cname pgadmin) sh -c 'cd /pgadmin4 && python3 setup.py dump-servers /tmp/dump.json --user admin@dap-verify.example.com >/dev/null && cat /tmp/dump.json' | grep -q dap-verify-postgres"
    check "pgadmin: gunicorn runs as uid 5050 and binds port 80" bash -c \
      "[ \"\$(docker top $(cname pgadmin) -eo pid,uid,args | awk 'NR>1 && /gunicorn/ {print \$2; exit}')\" = 5050 ]"
    check "pgadmin: data in /var/lib/pgadmin owned by 5050" bash -c \
      "[ \"\$(docker exec $(cname pgadmin) stat -c %u /var/lib/pgadmin/pgadmin4.db)\" = 5050 ]"
    check "pgadmin: login with the password from PGADMIN_DEFAULT_PASSWORD_FILE" bash -c "
      j=$TMP/pgadmin/cookies; rm -f \$j
      csrf=\$(curl -fsS -c \$j -b \$j http://127.0.0.1:$A/login | sed -n 's/.*csrf_token\" *value=\"\\([^\"]*\\)\".*/\\1/p; s/.*\"csrfToken\": *\"\\([^\"]*\\)\".*/\\1/p' | head -n1)
      [ -n \"\$csrf\" ] || { echo no csrf token; exit 1; }
      code=\$(curl -s -o /dev/null -w '%{http_code}' -c \$j -b \$j -X POST \
        --data-urlencode email=admin@dap-verify.example.com --data-urlencode password=\"\$(cat $TMP/pgadmin/password)\" \
        --data-urlencode csrf_token=\"\$csrf\" http://127.0.0.1:$A/authenticate/login)
      [ \"\$code\" = 302 ] || { echo \"login returned \$code\"; exit 1; }
      curl -fsS -b \$j http://127.0.0.1:$A/browser/ -o /dev/null -w '%{http_code}' | grep -q 200"
  else
    bad "pgadmin: /misc/ping never answered"; dlogs pgadmin
  fi
fi

# ------------------------------------------------------------------------------------------------
if want dev-python; then
  log "dev-python: $(tag dev-python)"
  start_mlflow
  D=$TMP/dev; mkdir -p "$D/secrets" "$D/client"
  ssh-keygen -q -t ed25519 -N '' -C dap-verify-host -f "$D/secrets/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C dap-verify-user -f "$D/client/id_ed25519"
  cp "$D/client/id_ed25519.pub" "$D/secrets/authorized_keys"
  TOKEN=tok$RANDOM$RANDOM$RANDOM$RANDOM; printf '%s\n' "$TOKEN" > "$D/secrets/jupyter_token"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/secrets/ca.crt" -days 2 \
    -subj "/CN=dap-verify-ca" >/dev/null 2>&1
  printf '[mlflow]\nmlflow_tracking_username = dev\nmlflow_tracking_password = devpw\n' > "$D/secrets/mlflow_credentials"
  dcreate dev -p 127.0.0.1::22 -p 127.0.0.1::8888 -e MLFLOW_TRACKING_URI=http://mlflow:5000 \
    -e PGHOST=postgres -e PGPORT=5432 -e PGSSLMODE=prefer -e DAP_SOME_PASSWORD=hidden "$(tag dev-python)"
  docker cp "$D/secrets/." "$(cname dev):/run/secrets/dap/"
  docker start "$(cname dev)" >/dev/null
  if wait_for 90 dx dev dap-dev-healthcheck; then
    S=$(port dev 22); J=$(port dev 8888)
    echo "[127.0.0.1]:$S $(cut -d' ' -f1,2 "$D/secrets/ssh_host_ed25519_key.pub")" > "$D/client/known_hosts"
    SSH=(ssh -p "$S" -o UserKnownHostsFile="$D/client/known_hosts" -o StrictHostKeyChecking=yes
         -o BatchMode=yes -o ConnectTimeout=10 -o IdentitiesOnly=yes)
    check "dev-python: healthcheck dap-dev-healthcheck" dx dev dap-dev-healthcheck
    check "dev-python: SSH key login as dev, host key is the uploaded one" bash -c \
      "[ \"\$(${SSH[*]} -i $D/client/id_ed25519 dev@127.0.0.1 id -un)\" = dev ]"
    check_not "dev-python: password login refused" \
      ssh -p "$S" -o UserKnownHostsFile="$D/client/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
      -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive dev@127.0.0.1 true
    check_not "dev-python: root login refused (even with the dev key)" "${SSH[@]}" -i "$D/client/id_ed25519" root@127.0.0.1 true
    check "dev-python: sshd offers only the uploaded ed25519 host key" bash -c \
      "ssh-keyscan -p $S 127.0.0.1 2>/dev/null | awk '{print \$2, \$3}' | sort -u | tee /dev/stderr | diff - <(cut -d' ' -f1,2 $D/secrets/ssh_host_ed25519_key.pub)"
    check "dev-python: host private key installed 0600 root" bash -c \
      "[ \"\$(docker exec $(cname dev) stat -c '%a %U' /etc/ssh/ssh_host_ed25519_key)\" = '600 root' ]"
    check "dev-python: authorized_keys 0600 dev, ~/.ssh 0700" bash -c \
      "[ \"\$(docker exec $(cname dev) stat -c '%a %U' /home/dev/.ssh/authorized_keys /home/dev/.ssh | tr '\n' ' ')\" = '600 dev 700 dev ' ]"
    check "dev-python: no sudo for dev" bash -c "! docker exec -u dev $(cname dev) sh -c 'command -v sudo'"
    check "dev-python: data stack imports over SSH (numpy pandas pyarrow sklearn matplotlib mlflow psycopg boto3)" \
      "${SSH[@]}" -i "$D/client/id_ed25519" dev@127.0.0.1 \
      'python3 -c "import numpy, pandas, pyarrow, sklearn, matplotlib, mlflow, psycopg, boto3, jupyterlab; print(mlflow.__version__)"'
    check "dev-python: git and curl present, MLFLOW_TRACKING_URI visible in SSH sessions" bash -c \
      "${SSH[*]} -i $D/client/id_ed25519 dev@127.0.0.1 'git --version && curl --version >/dev/null && echo \$MLFLOW_TRACKING_URI' | grep -q http://mlflow:5000"
    check "dev-python: PG* settings reach SSH sessions, secret-looking names do not" bash -c \
      "out=\$(${SSH[*]} -i $D/client/id_ed25519 dev@127.0.0.1 'echo \$PGHOST:\$PGPORT:\$PGSSLMODE:\${DAP_SOME_PASSWORD:-none}'); echo \$out; [ \"\$out\" = postgres:5432:prefer:none ]"
    check "dev-python: uploaded CA installed into the system trust" bash -c \
      "docker exec $(cname dev) grep -qF \"\$(sed -n 2p $D/secrets/ca.crt)\" /etc/ssl/certs/ca-certificates.crt"
    check "dev-python: mlflow credentials at /home/dev/.mlflow/credentials (0600 dev)" bash -c \
      "[ \"\$(docker exec $(cname dev) stat -c '%a %U' /home/dev/.mlflow/credentials)\" = '600 dev' ]"
    check "dev-python: Jupyter /api answers" bash -c "curl -fsS http://127.0.0.1:$J/api | grep -q version"
    check "dev-python: Jupyter rejects requests without the token" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$J/api/contents)\" = 403 ]"
    check "dev-python: Jupyter rejects a wrong token" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: token wrong' http://127.0.0.1:$J/api/contents)\" = 403 ]"
    check "dev-python: Jupyter accepts the uploaded token" \
      curl -fsS -o /dev/null -H "Authorization: token $TOKEN" "http://127.0.0.1:$J/api/contents"
    check "dev-python: Jupyter runs as dev" bash -c \
      "[ \"\$(docker top $(cname dev) -eo pid,uid,args | awk 'NR>1 && /jupyter/ {print \$2; exit}')\" = 1000 ]"
    check "dev-python: token not in process args or container env" bash -c \
      "! docker top $(cname dev) -eo pid,args | grep -q $TOKEN && ! docker inspect $(cname dev) --format '{{json .Config.Env}}' | grep -q $TOKEN"
    check "dev-python: mlflow client logs a run to the MLflow server" \
      "${SSH[@]}" -i "$D/client/id_ed25519" dev@127.0.0.1 \
      'python3 -c "import mlflow; mlflow.set_experiment(\"dap-verify-dev\"); r = mlflow.start_run(); mlflow.log_param(\"alpha\", 2); mlflow.log_metric(\"rmse\", 0.007); mlflow.end_run(); print(r.info.run_id)"'
    # JUPYTER_ENABLED=false: sshd in the foreground only
    dcreate devnojup -e JUPYTER_ENABLED=false "$(tag dev-python)"
    docker cp "$D/secrets/." "$(cname devnojup):/run/secrets/dap/"
    docker start "$(cname devnojup)" >/dev/null
    if wait_for 30 dx devnojup dap-dev-healthcheck; then
      check "dev-python: JUPYTER_ENABLED=false -> healthy with sshd only, no jupyter" bash -c \
        "docker exec $(cname devnojup) dap-dev-healthcheck && ! docker top $(cname devnojup) -eo pid,args | grep -q jupyter"
    else
      bad "dev-python: JUPYTER_ENABLED=false container not healthy"; dlogs devnojup
    fi
  else
    bad "dev-python: healthcheck never passed"; dlogs dev
  fi
fi

# ------------------------------------------------------------------------------------------------
if want gitlab || want gitlab-runner; then
  log "gitlab stand-in: $(tag gitlab-standin)"
  docker volume create "$RUN_ID-gitlab-data" >/dev/null
  # As the program starts it: gitlab.rb in /etc/dap (GITLAB_OMNIBUS_CONFIG=from_file(...)) and the
  # root password in a 0400 root file, both uploaded before the first start.
  GPW1=init-$RANDOM$RANDOM-pw; GPW2=new-$RANDOM$RANDOM-pw; GPW3=third-$RANDOM$RANDOM-pw
  GPWFILE=/run/secrets/dap/gitlab_root_password
  mkdir -p "$TMP/gitlab/secrets/dap" "$TMP/gitlab/dap"
  printf '%s\n' "$GPW1" > "$TMP/gitlab/secrets/dap/gitlab_root_password"
  chmod 0400 "$TMP/gitlab/secrets/dap/gitlab_root_password"
  printf '%s\n' "external_url 'http://gitlab.dap.test'" \
    "# gitlab_rails['initial_root_password'] = 'commented-out'" \
    "gitlab_rails['initial_root_password'] = File.read('$GPWFILE').strip" \
    "registry_external_url 'http://registry.dap.test'" "gitlab_rails['registry_enabled'] = true" \
    "registry_nginx['listen_port'] = 5050" > "$TMP/gitlab/dap/gitlab.rb"
  dcreate gitlab -p 127.0.0.1::80 -p 127.0.0.1::5050 -p 127.0.0.1::22 \
    -e GITLAB_OMNIBUS_CONFIG="from_file('/etc/dap/gitlab.rb')" \
    -v "$RUN_ID-gitlab-data:/var/opt/gitlab" "$(tag gitlab-standin)"
  docker cp "$TMP/gitlab/secrets" "$(cname gitlab):/run/secrets"
  docker cp "$TMP/gitlab/dap" "$(cname gitlab):/etc/dap"
  docker start "$(cname gitlab)" >/dev/null
  gl_signin() {  # gl_signin LOGIN PASSWORD [curl args]: GET the form, POST it; prints the status code
    local login=$1 pw=$2 page tok ck; shift 2
    page=$(curl -s -D "$TMP/gl.get.hdr" "$@" "http://127.0.0.1:$G/users/sign_in") || return 1
    tok=$(printf '%s' "$page" | sed -n 's/.*name="authenticity_token" value="\([^"]*\)".*/\1/p' | head -n 1)
    ck=$(tr -d '\r' < "$TMP/gl.get.hdr" | sed -n 's/^[Ss]et-[Cc]ookie: \(_gitlab_session=[^;]*\).*/\1/p')
    if [ -z "$tok" ] || [ -z "$ck" ]; then echo "no authenticity_token or _gitlab_session cookie" >&2; return 1; fi
    curl -s -b "$ck" -o "$TMP/gl.body" -D "$TMP/gl.hdr" -w '%{http_code}' --data-urlencode "user[login]=$login" \
      --data-urlencode "user[password]=$pw" --data-urlencode "authenticity_token=$tok" "$@" "http://127.0.0.1:$G/users/sign_in"
  }
  gl_signin_ok() {  # gl_signin_ok EXPECTED_LOCATION LOGIN PASSWORD [curl args]: 302 to that Location
    local want=$1 code; shift
    code=$(gl_signin "$@"); echo "status $code"; tr -d '\r' < "$TMP/gl.hdr" | grep -i '^location' || true
    [ "$code" = 302 ] && tr -d '\r' < "$TMP/gl.hdr" | grep -qix "location: $want"
  }
  gl_signin_refused() {  # 200 with GitLab's alert
    local code; code=$(gl_signin "$@"); echo "status $code"
    [ "$code" = 200 ] && grep -q 'Invalid login or password\.' "$TMP/gl.body"
  }
  if wait_for 30 dx gitlab /opt/gitlab/bin/gitlab-healthcheck --fail --max-time 10; then
    G=$(port gitlab 80); R=$(port gitlab 5050); GS=$(port gitlab 22)
    check "gitlab-standin: /opt/gitlab/bin/gitlab-healthcheck" dx gitlab /opt/gitlab/bin/gitlab-healthcheck --fail --max-time 10
    check "gitlab-standin: /-/health" bash -c "curl -fsS http://127.0.0.1:$G/-/health | grep -q 'GitLab OK'"
    check "gitlab-standin: /-/readiness" bash -c "curl -fsS http://127.0.0.1:$G/-/readiness | grep -q '\"status\": \"ok\"'"
    check "gitlab-standin: /users/sign_in page" bash -c "curl -fsS http://127.0.0.1:$G/users/sign_in | grep -qi 'sign in'"
    check "gitlab-standin: sign-in form has a hidden authenticity_token and sets a _gitlab_session cookie" bash -c \
      "curl -s -D '$TMP/gl.h0' http://127.0.0.1:$G/users/sign_in | grep -q 'type=\"hidden\" name=\"authenticity_token\" value=\"[^\"]\+\"' && grep -qi '^set-cookie: _gitlab_session=' '$TMP/gl.h0'"
    check "gitlab-standin: sign-in as root with the initial password (gitlab.rb File.read) -> 302 Location http://<Host>/" \
      gl_signin_ok "http://127.0.0.1:$G/" root "$GPW1"
    check "gitlab-standin: sign-in behind the proxy (Host, X-Forwarded-Proto: https) -> 302 Location https://gitlab.dap.test/" \
      gl_signin_ok "https://gitlab.dap.test/" root "$GPW1" -H 'Host: gitlab.dap.test' -H 'X-Forwarded-Proto: https'
    check "gitlab-standin: sign-in with a wrong password -> 200 'Invalid login or password.'" \
      gl_signin_refused root "wrong-$GPW1"
    check "gitlab-standin: sign-in as another user -> 200 'Invalid login or password.'" \
      gl_signin_refused alice "$GPW1"
    check "gitlab-standin: POST /users/sign_in with a wrong authenticity_token -> 422" bash -c "
      ck=\$(curl -s -D - -o /dev/null http://127.0.0.1:$G/users/sign_in | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(_gitlab_session=[^;]*\).*/\1/p')
      [ -n \"\$ck\" ] && [ \"\$(curl -s -o /dev/null -w '%{http_code}' -b \"\$ck\" --data-urlencode 'user[login]=root' --data-urlencode 'user[password]=$GPW1' -d authenticity_token=forged http://127.0.0.1:$G/users/sign_in)\" = 422 ]"
    check "gitlab-standin: POST /users/sign_in without the session cookie (token from a GET) -> 422" bash -c "
      tok=\$(curl -s http://127.0.0.1:$G/users/sign_in | sed -n 's/.*name=\"authenticity_token\" value=\"\([^\"]*\)\".*/\1/p')
      [ -n \"\$tok\" ] && [ \"\$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode 'user[login]=root' --data-urlencode 'user[password]=$GPW1' --data-urlencode \"authenticity_token=\$tok\" http://127.0.0.1:$G/users/sign_in)\" = 422 ]"
    check "gitlab-standin: root password stored as a salted PBKDF2 hash, never in plain text" bash -c \
      "docker exec $(cname gitlab) grep -q 'pbkdf2_sha256' /var/opt/gitlab/standin/state.json && ! docker exec $(cname gitlab) grep -rqF -- '$GPW1' /var/opt/gitlab /var/log/gitlab /etc/gitlab"
    check "gitlab-standin: the secret stays 0400 root (user git cannot read it)" bash -c \
      "[ \"\$(docker exec $(cname gitlab) stat -c '%a %U' $GPWFILE)\" = '400 root' ] && ! docker exec -u git $(cname gitlab) cat $GPWFILE"
    check "gitlab-standin: registry /v2/ -> 401 + Docker-Distribution-API-Version + Bearer realm at GitLab's /jwt/auth" bash -c \
      "curl -s -D - -o /dev/null http://127.0.0.1:$R/v2/ | tr -d '\r' | tee '$TMP/reg.h' >&2; grep -q '^HTTP/1.[01] 401' '$TMP/reg.h' &&
       grep -qi '^Docker-Distribution-API-Version: registry/2.0' '$TMP/reg.h' &&
       grep -qi '^Www-Authenticate: Bearer realm=\"http://gitlab.dap.test/jwt/auth\",service=\"container_registry\"' '$TMP/reg.h'"
    check "gitlab-standin: /jwt/auth with a wrong password -> 401" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'root:wrong-$GPW1' 'http://127.0.0.1:$G/jwt/auth?service=container_registry&scope=repository:root/x:push,pull')\" = 401 ]"
    check "gitlab-standin: a /jwt/auth token (root's password) opens the registry (/v2/ 200, catalog lists nothing yet)" bash -c "
      tok=\$(curl -fsS -u 'root:$GPW1' 'http://127.0.0.1:$G/jwt/auth?service=container_registry&scope=registry:catalog:*' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])') &&
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H \"Authorization: Bearer \$tok\" http://127.0.0.1:$R/v2/)\" = 200 ] &&
      curl -fsS -H \"Authorization: Bearer \$tok\" http://127.0.0.1:$R/v2/_catalog | grep -q '\"repositories\":\[\]'"
    check "gitlab-standin: the registry runs as user git (uid 998)" bash -c \
      "[ \"\$(docker top $(cname gitlab) -eo pid,uid,args | awk 'NR>1 && /registry serve/ {print \$2; exit}')\" = 998 ]"
    check "gitlab-standin: HTTP server runs as user git (uid 998), not root" bash -c \
      "[ \"\$(docker top $(cname gitlab) -eo pid,uid,args | awk 'NR>1 && /gitlab_standin.py/ {print \$2; exit}')\" = 998 ]"
    check "gitlab-standin: SSH banner on 22" bash -c \
      "timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$GS; head -c 8 <&3' | grep -q SSH-2.0"
    PAT=$(dx gitlab gitlab-rails runner "token = User.find_by_username('root').personal_access_tokens.create(scopes: [:api, :admin_mode], name: 'dap-pulumi', expires_at: 365.days.from_now); token.save!; puts token.token" 2>/dev/null | tail -n 1)
    check "gitlab-standin: gitlab-rails runner prints a glpat- token" bash -c "[[ '$PAT' == glpat-* ]]"
    # The program's bootstrap: the token value comes on stdin and must not be echoed.
    BOOT="t = STDIN.read.strip; u = User.find_by_username('root'); u.personal_access_tokens.where(name: 'dap-automation').each(&:revoke!); pat = u.personal_access_tokens.build(name: 'dap-automation', scopes: ['api', 'create_runner', 'manage_runner'], expires_at: 365.days.from_now); pat.set_token(t); pat.save!; puts 'admin token ready'"
    T1=boot$RANDOM$RANDOM$RANDOM$RANDOM; T2=boot$RANDOM$RANDOM$RANDOM$RANDOM
    check "gitlab-standin: gitlab-rails runner with the token on stdin (not echoed), token works" bash -c "
      out=\$(printf '%s\n' $T1 | docker exec -i $(cname gitlab) gitlab-rails runner \"\$0\"); echo \"\$out\"
      ! echo \"\$out\" | grep -q $T1 &&
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'PRIVATE-TOKEN: $T1' http://127.0.0.1:$G/api/v4/user)\" = 200 ]" "$BOOT"
    check "gitlab-standin: re-running the bootstrap revokes the earlier token of that name" bash -c "
      printf '%s\n' $T2 | docker exec -i $(cname gitlab) gitlab-rails runner \"\$0\" >/dev/null &&
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'PRIVATE-TOKEN: $T2' http://127.0.0.1:$G/api/v4/user)\" = 200 ] &&
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'PRIVATE-TOKEN: $T1' http://127.0.0.1:$G/api/v4/user)\" = 401 ]" "$BOOT"
    # The program's bootstrap now also sets root's password from the uploaded file, on every deploy.
    BOOT2="t = STDIN.read.strip; u = User.find_by_username('root'); pw = File.read('$GPWFILE').strip; u.password = pw; u.password_confirmation = pw; u.password_automatically_set = false; u.save!; u.personal_access_tokens.where(name: 'dap-automation').each(&:revoke!); pat = u.personal_access_tokens.build(name: 'dap-automation', scopes: ['api', 'create_runner', 'manage_runner'], expires_at: 365.days.from_now); pat.set_token(t); pat.save!; puts 'admin token ready'"
    T3=boot$RANDOM$RANDOM$RANDOM$RANDOM; T4=boot$RANDOM$RANDOM$RANDOM$RANDOM
    docker exec "$(cname gitlab)" sh -c 'printf "%s\n" "$1" > "$2"' sh "$GPW2" "$GPWFILE"
    check "gitlab-standin: gitlab-rails runner (password from File.read, PAT from stdin) exits 0, echoes neither" bash -c "
      out=\$(printf '%s\n' $T3 | docker exec -i $(cname gitlab) gitlab-rails runner \"\$0\" 2>&1); rc=\$?; echo \"\$out\"
      [ \$rc = 0 ] && ! echo \"\$out\" | grep -qe $T3 -e '$GPW2'" "$BOOT2"
    check "gitlab-standin: after the runner the new password signs in (302)" \
      gl_signin_ok "http://127.0.0.1:$G/" root "$GPW2"
    check "gitlab-standin: after the runner the old password is refused" \
      gl_signin_refused root "$GPW1"
    check "gitlab-standin: the PAT from stdin works (GET /api/v4/user -> root), the earlier one is revoked" bash -c "
      curl -fsS -H 'PRIVATE-TOKEN: $T3' http://127.0.0.1:$G/api/v4/user | grep -q '\"username\": \"root\"' &&
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'PRIVATE-TOKEN: $T2' http://127.0.0.1:$G/api/v4/user)\" = 401 ]"
    check_not "gitlab-standin: gitlab-rails runner fails when the password file is missing" bash -c \
      "printf '%s\n' $T4 | docker exec -i $(cname gitlab) gitlab-rails runner \"\$0\"" "${BOOT2//$GPWFILE//run/secrets/dap/missing}"
    check "gitlab-standin: ... and changes nothing (no new PAT, the previous one and password still work)" bash -c "
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'PRIVATE-TOKEN: $T4' http://127.0.0.1:$G/api/v4/user)\" = 401 ] &&
      [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'PRIVATE-TOKEN: $T3' http://127.0.0.1:$G/api/v4/user)\" = 200 ]"
    check "gitlab-standin: ... the new password still signs in" gl_signin_ok "http://127.0.0.1:$G/" root "$GPW2"
    check "gitlab-standin: API rejects requests without a PAT (401)" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d runner_type=instance_type http://127.0.0.1:$G/api/v4/user/runners)\" = 401 ]"
    RJSON=$(curl -s -X POST -H "PRIVATE-TOKEN: $PAT" -d runner_type=instance_type -d description=dap-verify \
      -d tag_list=docker,dap -d run_untagged=true -w '\n%{http_code}' "http://127.0.0.1:$G/api/v4/user/runners")
    RID=$(echo "$RJSON" | head -n1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
    RTOK=$(echo "$RJSON" | head -n1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null)
    check "gitlab-standin: POST /api/v4/user/runners -> 201 {id, glrt- token, token_expires_at null}" bash -c \
      "[ '$(echo "$RJSON" | tail -n1)' = 201 ] && [[ '$RTOK' == glrt-* ]] && echo '$(echo "$RJSON" | head -n1)' | grep -q '\"token_expires_at\": null'"
    check "gitlab-standin: POST /api/v4/runners/verify known token -> 200" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d token=$RTOK http://127.0.0.1:$G/api/v4/runners/verify)\" = 200 ]"
    check "gitlab-standin: POST /api/v4/runners/verify unknown token -> 403" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d token=glrt-nope http://127.0.0.1:$G/api/v4/runners/verify)\" = 403 ]"
    check "gitlab-standin: GET /api/v4/runners/all lists the runner with its tags" bash -c \
      "curl -fsS -H 'PRIVATE-TOKEN: $PAT' http://127.0.0.1:$G/api/v4/runners/all | python3 -c 'import json,sys; l=json.load(sys.stdin); assert any(r[\"id\"]==$RID and r[\"description\"]==\"dap-verify\" and r[\"tag_list\"]==[\"docker\",\"dap\"] for r in l), l'"
    check "gitlab-standin: POST /api/v4/jobs/request -> 204" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{\"token\":\"$RTOK\"}' http://127.0.0.1:$G/api/v4/jobs/request)\" = 204 ]"
    # initial_root_password is a first-boot setting: a changed file must not apply at the next start.
    docker exec "$(cname gitlab)" sh -c 'printf "%s\n" "$1" > "$2"' sh "$GPW3" "$GPWFILE"
    docker restart "$(cname gitlab)" >/dev/null
    wait_for 30 dx gitlab /opt/gitlab/bin/gitlab-healthcheck
    G=$(port gitlab 80)
    check "gitlab-standin: after a restart the password set by the runner still signs in" \
      gl_signin_ok "http://127.0.0.1:$G/" root "$GPW2"
    check "gitlab-standin: after a restart initial_root_password is not applied again" \
      gl_signin_refused root "$GPW3"
    check "gitlab-standin: PAT and runner survive a restart (state in /var/opt/gitlab)" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d token=$RTOK http://127.0.0.1:$G/api/v4/runners/verify)\" = 200 ] && curl -fsS -H 'PRIVATE-TOKEN: $PAT' http://127.0.0.1:$G/api/v4/runners/all >/dev/null"
    check "gitlab-standin: DELETE /api/v4/runners/:id -> 204, then verify -> 403" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H 'PRIVATE-TOKEN: $PAT' http://127.0.0.1:$G/api/v4/runners/$RID)\" = 204 ] && [ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d token=$RTOK http://127.0.0.1:$G/api/v4/runners/verify)\" = 403 ]"

    if want gitlab-runner || want all; then
      log "gitlab-runner stand-in: $(tag gitlab-runner-standin)"
      RTOK2=$(curl -s -X POST -H "PRIVATE-TOKEN: $PAT" -H 'Content-Type: application/json' \
        -d '{"runner_type":"instance_type","description":"dap-runner-1","tag_list":["docker"],"run_untagged":true}' \
        "http://127.0.0.1:$G/api/v4/user/runners" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
      mkdir -p "$TMP/runner"
      cat > "$TMP/runner/config.toml" <<EOF
concurrent = 4
check_interval = 2

[[runners]]
  name = "dap-runner-1"
  url = "http://gitlab"
  token = "$RTOK2"
  executor = "docker"
  [runners.docker]
    image = "dap-offline/debian-base:bookworm"
    privileged = false
EOF
      drun runner -v "$TMP/runner:/etc/gitlab-runner" -v /var/run/docker.sock:/var/run/docker.sock \
        "$(tag gitlab-runner-standin)" run --config /etc/gitlab-runner/config.toml
      if wait_for 30 dx runner /standin-healthcheck; then
        check "gitlab-runner-standin: /standin-healthcheck" dx runner /standin-healthcheck
        check "gitlab-runner-standin: polls jobs/request (runner shows online in GitLab stand-in)" bash -c \
          "sleep 3; curl -fsS -H 'PRIVATE-TOKEN: $PAT' 'http://127.0.0.1:$G/api/v4/runners/all?status=online' | grep -q dap-runner-1"
        check "gitlab-runner-standin: gitlab-runner verify" dx runner gitlab-runner verify --config /etc/gitlab-runner/config.toml
        check "gitlab-runner-standin: gitlab-runner register --non-interactive --token" \
          dx runner gitlab-runner register --non-interactive --url http://gitlab --token "$RTOK2" \
          --name dap-runner-2 --executor docker --docker-image dap-offline/debian-base:bookworm \
          --config /tmp/config2.toml
        check "gitlab-runner-standin: registered config.toml parses with 1 runner" dx runner python3 -c \
          "import tomllib; c=tomllib.load(open('/tmp/config2.toml','rb')); assert len(c['runners'])==1 and c['runners'][0]['docker']['image'], c"
        check "gitlab-runner-standin: runs as root with docker.sock visible" \
          dx runner sh -c '[ "$(id -u)" = 0 ] && [ -S /var/run/docker.sock ]'
      else
        bad "gitlab-runner-standin: never healthy"; dlogs runner
      fi
    fi
  else
    bad "gitlab-standin: never healthy"; dlogs gitlab
  fi
fi

# ------------------------------------------------------------------------------------------------
if want portainer; then
  log "portainer stand-in: $(tag portainer-standin)"
  mkdir -p "$TMP/portainer"
  PPW=ppw-$RANDOM$RANDOM; printf '%s\n' "$PPW" > "$TMP/portainer/admin_password"; chmod -R a+rX "$TMP/portainer"
  drun portainer -p 127.0.0.1::9000 -v "$TMP/portainer/admin_password:/run/secrets/portainer_admin_password:ro" \
    "$(tag portainer-standin)" -H unix:///var/run/docker.sock --admin-password-file /run/secrets/portainer_admin_password \
    --http-enabled --bind :9000
  if wait_for 30 dx portainer /standin-healthcheck; then
    PP=$(port portainer 9000)
    check "portainer-standin: /standin-healthcheck" dx portainer /standin-healthcheck
    check "portainer-standin: GET /api/system/status" bash -c "curl -fsS http://127.0.0.1:$PP/api/system/status | grep -q '\"Version\"'"
    check "portainer-standin: admin created from --admin-password-file (auth -> jwt)" bash -c \
      "curl -fsS -X POST -H 'Content-Type: application/json' -d '{\"Username\":\"admin\",\"Password\":\"$PPW\"}' http://127.0.0.1:$PP/api/auth | grep -q jwt"
    check "portainer-standin: wrong password -> 422" bash -c \
      "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{\"Username\":\"admin\",\"Password\":\"x\"}' http://127.0.0.1:$PP/api/auth)\" = 422 ]"
    pt_auth() {  # pt_auth PASSWORD: status of POST /api/auth as admin (200 also needs a jwt)
      local code; code=$(curl -s -o "$TMP/pt.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d "{\"Username\":\"admin\",\"Password\":\"$1\"}" "http://127.0.0.1:$PP/api/auth")
      if [ "$code" = 200 ] && ! grep -q '"jwt": *"[^"]\+"' "$TMP/pt.body"; then code=200-without-jwt; fi
      echo "$code"
    }
    pt_auth_is() { local got; got=$(pt_auth "$2"); echo "POST /api/auth -> $got (want $1)"; [ "$got" = "$1" ]; }
    pt_restart() {
      docker restart "$(cname portainer)" >/dev/null
      wait_for 30 dx portainer /standin-healthcheck; PP=$(port portainer 9000)
    }
    check "portainer-standin: state in /data/portainer.db (0600), no portainer-standin.json, no plain password" \
      bash -c "docker exec $(cname portainer) sh -c '[ -s /data/portainer.db ] && [ ! -e /data/portainer-standin.json ] && [ \"\$(stat -c %a /data/portainer.db)\" = 600 ]' && ! docker exec $(cname portainer) grep -qF -- '$PPW' /data/portainer.db"
    # A changed password file does nothing while the admin exists; a state file of stand-in 1.0.0 is migrated.
    PPW2=ppw2-$RANDOM$RANDOM; printf '%s\n' "$PPW2" > "$TMP/portainer/admin_password"
    dx portainer mv /data/portainer.db /data/portainer-standin.json
    pt_restart
    check "portainer-standin: an old portainer-standin.json is renamed to portainer.db at start" \
      dx portainer sh -c '[ -s /data/portainer.db ] && [ ! -e /data/portainer-standin.json ]'
    check "portainer-standin: after that restart the admin keeps its password (auth -> 200 jwt)" \
      pt_auth_is 200 "$PPW"
    check "portainer-standin: --admin-password-file is not applied again while the admin exists" \
      pt_auth_is 422 "$PPW2"
    # The recovery procedure: move portainer.db aside and restart.
    dx portainer mv /data/portainer.db /data/portainer.db.aside
    pt_restart
    check "portainer-standin: portainer.db moved aside + restart -> the new --admin-password-file value logs in (200 jwt)" \
      pt_auth_is 200 "$PPW2"
    check "portainer-standin: ... and the old password is refused (422)" \
      pt_auth_is 422 "$PPW"
    check "portainer-standin: ... with a new /data/portainer.db" dx portainer test -s /data/portainer.db
  else
    bad "portainer-standin: never healthy"; dlogs portainer
  fi
fi

# ------------------------------------------------------------------------------------------------
if want nokeys; then
  log "no private keys or secrets baked into the images"
  for t in $("$HERE/build.sh" --list); do
    check "nokeys: $t has no private key under /etc /home /root /opt/gitlab* /var/opt /data" \
      docker run --rm --entrypoint sh "$t" -c \
      '! grep -rlsE "BEGIN (OPENSSH|RSA|EC|DSA|ENCRYPTED)? ?PRIVATE KEY" /etc /home /root /opt/gitlab /opt/gitlab-standin /var/opt /data /var/lib/pgadmin 2>/dev/null | grep .'
  done
fi

echo
if [ "$FAIL" -gt 0 ]; then printf 'failed: %s\n' "${FAILED[@]}"; fi
echo "verify: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
