#!/usr/bin/env bash
# Make sure the services SAC's tests and full stack need are here and running:
#   - PostgreSQL on 127.0.0.1:5432 with role sac/sac (LOGIN CREATEDB) owning database sac,
#     i.e. reachable as postgres://sac:sac@127.0.0.1:5432/sac
#   - Redis on 127.0.0.1:6379
#   - Debian's Chromium at /usr/bin/chromium (for the browser tests; skip with --no-chromium)
# Installs missing pieces with apt-get, starts stopped ones. Idempotent: run it as often as you like.
# Prints what it does and stops with a clear message when it cannot.
#
# Usage: scripts/ensure_services.sh [--no-chromium] [--no-postgres] [--no-redis]
# Environment:
#   DATABASE_URL       when set, it is respected: only checked to be reachable, nothing is set up
#   REDIS_URL          when set, it is respected: only checked to answer PING
#   SAC_SKIP_CHROMIUM=1  same as --no-chromium
set -euo pipefail

want_pg=1
want_redis=1
want_chromium=1
[[ ${SAC_SKIP_CHROMIUM:-0} == 1 ]] && want_chromium=0

for arg in "$@"; do
  case "$arg" in
    --no-chromium | --skip-chromium) want_chromium=0 ;;
    --no-postgres) want_pg=0 ;;
    --no-redis) want_redis=0 ;;
    -h | --help)
      sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "ensure_services: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

PG_HOST=127.0.0.1
PG_PORT=${SAC_PG_PORT:-5432}          # SAC_PG_* / SAC_REDIS_PORT only exist to test this script
PG_CLUSTER=${SAC_PG_CLUSTER:-main}    # on spare ports; SAC always uses the defaults.
REDIS_HOST=127.0.0.1
REDIS_PORT=${SAC_REDIS_PORT:-6379}
WAIT_SECONDS=${SAC_SERVICE_WAIT_SECONDS:-30}
APT_LOCK_WAIT_SECONDS=${SAC_APT_LOCK_WAIT_SECONDS:-900}

log() { printf '[ensure_services] %s\n' "$*"; }
die() {
  printf '[ensure_services] ERROR: %s\n' "$*" >&2
  exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as root: directly when we are root, through sudo when it exists.
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for: $* -- run this script as root or install sudo"
  fi
}

# ---------------------------------------------------------------- apt helpers

# True while another apt/dpkg process is running (it holds the locks we need).
apt_busy() {
  local comm f
  for f in /proc/[0-9]*/comm; do
    comm=$(cat "$f" 2>/dev/null) || continue
    case "$comm" in
      apt | apt-get | aptitude | dpkg | unattended-upgr*) return 0 ;;
    esac
  done
  return 1
}

# apt-get, non-interactive and quiet; waits (bounded) for another apt/dpkg to finish
# instead of failing on its lock.
apt_get() {
  local waited=0 rc
  while true; do
    rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
      -o DPkg::Lock::Timeout=60 "$@" || rc=$?
    [[ $rc -eq 0 ]] && return 0
    if apt_busy && ((waited < APT_LOCK_WAIT_SECONDS)); then
      log "another apt/dpkg process is running; waiting for it (${waited}s of ${APT_LOCK_WAIT_SECONDS}s)"
      sleep 10
      waited=$((waited + 10))
      continue
    fi
    return "$rc"
  done
}

apt_updated=0
apt_update() {
  [[ $apt_updated -eq 1 ]] && return 0
  log "apt-get update"
  apt_get update || die "apt-get update failed (is the Debian mirror reachable?)"
  apt_updated=1
}

# apt_install PKG...: install; when that fails (stale or missing package lists) run
# apt-get update once and try again.
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "cannot install $* : apt-get not found (this script supports Debian/Ubuntu; install $* by hand)"
  log "apt-get install $*"
  if apt_get install "$@"; then
    return 0
  fi
  log "install failed; refreshing package lists and retrying"
  apt_update
  apt_get install "$@" || die "apt-get install $* failed"
}

# wait_until SECONDS CMD...: poll CMD once a second until it succeeds (bounded).
wait_until() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  "$@" >/dev/null 2>&1
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

pg_version() {
  local v
  v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1) || true
  printf '%s' "$v"
}

pg_server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

# Admin psql: first over TCP as postgres (works with trust auth), else over the local
# socket as the postgres OS user (peer auth, the stock Debian setup).
PG_ADMIN=()
pick_pg_admin() {
  if psql -X -w -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    PG_ADMIN=(psql -X -w -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres)
    log "PostgreSQL: admin access as postgres over TCP"
    return 0
  fi
  local runuser_cmd=(runuser -u postgres --)
  if ! is_root; then
    command -v sudo >/dev/null 2>&1 ||
      die "PostgreSQL: cannot connect as postgres over TCP and need root/sudo for 'runuser -u postgres -- psql'"
    runuser_cmd=(sudo -u postgres --)
  fi
  local sock=/var/run/postgresql
  if "${runuser_cmd[@]}" psql -X -w -q -h "$sock" -p "$PG_PORT" -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    PG_ADMIN=("${runuser_cmd[@]}" psql -X -w -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -d postgres)
    log "PostgreSQL: admin access as postgres over the local socket"
    return 0
  fi
  die "PostgreSQL is up on $PG_HOST:$PG_PORT but neither 'psql -h $PG_HOST -U postgres' nor 'runuser -u postgres -- psql' can log in; fix pg_hba.conf or set DATABASE_URL"
}

pg_admin() { "${PG_ADMIN[@]}" "$@"; }

ensure_postgres() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    local shown
    shown=$(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')
    log "PostgreSQL: DATABASE_URL is set ($shown); only checking that it is reachable"
    command -v psql >/dev/null 2>&1 || apt_install postgresql-client
    psql -X -w -q "$DATABASE_URL" -tAc 'select 1' >/dev/null ||
      die "PostgreSQL: cannot connect to DATABASE_URL ($shown); start that server or unset DATABASE_URL"
    log "PostgreSQL: DATABASE_URL is reachable"
    return 0
  fi

  if command -v pg_isready >/dev/null 2>&1 && pg_ready; then
    log "PostgreSQL: already accepting connections on $PG_HOST:$PG_PORT"
  else
    if ! pg_server_installed || ! command -v pg_ctlcluster >/dev/null 2>&1; then
      log "PostgreSQL: server not installed"
      apt_install postgresql
    fi
    local v
    v=$(pg_version)
    [[ -n $v ]] || die "PostgreSQL: installed, but /etc/postgresql has no version directory"
    if [[ ! -d /etc/postgresql/$v/$PG_CLUSTER ]]; then
      log "PostgreSQL: no cluster $v/$PG_CLUSTER; creating it"
      as_root pg_createcluster --port "$PG_PORT" "$v" "$PG_CLUSTER" || die "pg_createcluster $v $PG_CLUSTER failed"
    fi
    if pg_ready; then
      log "PostgreSQL: $v/$PG_CLUSTER came up with the install"
    else
      log "PostgreSQL: starting cluster $v/$PG_CLUSTER"
      # Fails harmlessly when the cluster is already running (e.g. still starting up).
      as_root pg_ctlcluster --skip-systemctl-redirect "$v" "$PG_CLUSTER" start ||
        log "PostgreSQL: pg_ctlcluster start returned non-zero (already running?); waiting for it"
    fi
    log "PostgreSQL: waiting up to ${WAIT_SECONDS}s for $PG_HOST:$PG_PORT"
    wait_until "$WAIT_SECONDS" pg_ready ||
      die "PostgreSQL: not ready on $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s; see /var/log/postgresql/postgresql-$v-$PG_CLUSTER.log (and 'pg_lsclusters' for its port)"
    log "PostgreSQL: ready"
  fi

  pick_pg_admin

  if [[ $(pg_admin -tAc "select 1 from pg_roles where rolname = 'sac'") == 1 ]]; then
    log "PostgreSQL: role sac exists; making sure it has LOGIN CREATEDB and password sac"
    pg_admin -c "alter role sac with login createdb password 'sac'" >/dev/null
  else
    log "PostgreSQL: creating role sac (LOGIN CREATEDB, password sac)"
    pg_admin -c "create role sac with login createdb password 'sac'" >/dev/null
  fi

  if [[ $(pg_admin -tAc "select 1 from pg_database where datname = 'sac'") == 1 ]]; then
    if [[ $(pg_admin -tAc "select pg_get_userbyid(datdba) from pg_database where datname = 'sac'") != sac ]]; then
      log "PostgreSQL: database sac exists; giving it to role sac"
      pg_admin -c "alter database sac owner to sac" >/dev/null
    else
      log "PostgreSQL: database sac exists, owned by sac"
    fi
  else
    log "PostgreSQL: creating database sac owned by sac"
    pg_admin -c "create database sac owner sac" >/dev/null
  fi

  PGPASSWORD=sac psql -X -w -q -h "$PG_HOST" -p "$PG_PORT" -U sac -d sac -tAc 'select 1' >/dev/null ||
    die "PostgreSQL: role and database are set up but postgres://sac:***@$PG_HOST:$PG_PORT/sac refuses the login; check pg_hba.conf allows password (scram-sha-256/md5) or trust for host 127.0.0.1/32"
  log "PostgreSQL: OK  postgres://sac:sac@$PG_HOST:$PG_PORT/sac"
}

# ---------------------------------------------------------------- Redis

# PING without redis-cli too: plain RESP over bash's /dev/tcp.
redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
    return
  fi
  local reply
  reply=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    printf '%s' "$line"
  ) || return 1
  [[ $reply == +PONG* ]]
}

ensure_redis() {
  if [[ -n ${REDIS_URL:-} ]]; then
    log "Redis: REDIS_URL is set; only checking that it answers PING"
    command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools
    [[ $(redis-cli -u "$REDIS_URL" ping 2>/dev/null) == PONG ]] ||
      die "Redis: no PONG from REDIS_URL; start that server or unset REDIS_URL"
    log "Redis: REDIS_URL answers PONG"
    return 0
  fi

  if redis_ping; then
    log "Redis: already answering PONG on $REDIS_HOST:$REDIS_PORT"
    return 0
  fi

  if ! command -v redis-server >/dev/null 2>&1; then
    log "Redis: redis-server not installed"
    apt_install redis-server
    # Debian's package may have started its own service; use it when it answers.
    if wait_until 5 redis_ping; then
      log "Redis: came up with the install; OK"
      return 0
    fi
  fi

  local dir=/var/lib/redis logfile=/var/log/redis/ci.log
  if is_root; then
    mkdir -p /var/lib/redis /var/log/redis
  else
    dir=/tmp
    logfile=/tmp/sac-redis.log
  fi
  log "Redis: starting redis-server on $REDIS_HOST:$REDIS_PORT (dir $dir, log $logfile)"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir "$dir" --logfile "$logfile" ||
    die "Redis: redis-server failed to start; see $logfile"
  log "Redis: waiting up to ${WAIT_SECONDS}s for PONG"
  wait_until "$WAIT_SECONDS" redis_ping ||
    die "Redis: no PONG on $REDIS_HOST:$REDIS_PORT after ${WAIT_SECONDS}s; see $logfile"
  log "Redis: OK  redis://$REDIS_HOST:$REDIS_PORT/0"
}

# ---------------------------------------------------------------- Chromium

ensure_chromium() {
  if [[ -x /usr/bin/chromium ]]; then
    log "Chromium: /usr/bin/chromium present"
  else
    log "Chromium: /usr/bin/chromium missing (this can take a minute or two)"
    apt_install chromium
    [[ -x /usr/bin/chromium ]] || die "Chromium: installed the package but /usr/bin/chromium is still missing"
  fi
  local version
  version=$(/usr/bin/chromium --version 2>/dev/null | head -n 1) ||
    die "Chromium: /usr/bin/chromium --version failed; the install looks broken (try: apt-get install --reinstall chromium)"
  log "Chromium: OK  ${version:-/usr/bin/chromium}"
}

# ---------------------------------------------------------------- main

[[ $want_pg -eq 1 ]] && ensure_postgres
[[ $want_redis -eq 1 ]] && ensure_redis
[[ $want_chromium -eq 1 ]] && ensure_chromium
log "all requested services are ready"
