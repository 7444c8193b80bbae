#!/usr/bin/env bash
# The full SAC stack on this machine (what docker-compose.yml describes, without Docker):
# PostgreSQL + Redis (started or installed by ensure_services.sh), then as children of this
# script: the social-network simulator (:8001), gunicorn (:8000, 2 workers), a Celery worker
# for every queue and Celery beat. Ctrl-C / SIGTERM stops them all; if any of them dies the
# rest are stopped and the script exits non-zero.
#
# Usually started by `make up`. Settings: sac.settings.prod. Override with the environment:
# SECRET_KEY (else generated once into .local/secret_key), DATABASE_URL, REDIS_URL,
# ALLOWED_HOSTS, SAC_SIMULATOR_URL, SAC_WEB_PORT (8000), SAC_SIMULATOR_PORT (8001).
set -euo pipefail

((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))) ||
  { echo "[up] ERROR: needs bash >= 5.1 (wait -n -p); this is $BASH_VERSION" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

log() { printf '[up] %s\n' "$*"; }
die() {
  printf '[up] ERROR: %s\n' "$*" >&2
  exit 1
}

venv=$root/.venv
py=$venv/bin/python
web_port=${SAC_WEB_PORT:-8000}
sim_port=${SAC_SIMULATOR_PORT:-8001}
crm_port=${SAC_FAKE_CRM_PORT:-8002}
queues=ingest,outbound,sla,surveys,crm,celery

# ------------------------------------------------------------------ services and install

# PostgreSQL and Redis only: the stack needs no browser. With DATABASE_URL / REDIS_URL set,
# the script only checks that they are reachable.
bash scripts/ensure_services.sh --no-chromium

# `make install` is a no-op while pyproject.toml is unchanged (`make up` has already run it).
make --no-print-directory install
[[ -x $py ]] || die "$py missing after 'make install'"

# ------------------------------------------------------------------ environment

mkdir -p .local
chmod 700 .local
if [[ -z ${SECRET_KEY:-} ]]; then
  if [[ ! -s .local/secret_key ]]; then
    log "generating a SECRET_KEY into .local/secret_key (kept across runs, gitignored)"
    (umask 077 && "$py" -c 'import secrets; print(secrets.token_urlsafe(64))' >.local/secret_key)
  fi
  SECRET_KEY=$(<.local/secret_key)
fi

export SECRET_KEY
export DJANGO_SETTINGS_MODULE=sac.settings.prod
export DATABASE_URL=${DATABASE_URL:-postgres://sac:sac@127.0.0.1:5432/sac}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
export SAC_SIMULATOR_URL=${SAC_SIMULATOR_URL:-http://127.0.0.1:$sim_port}
export SAC_FAKE_CRM_URL=${SAC_FAKE_CRM_URL:-http://127.0.0.1:$crm_port}
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
export PATH=$venv/bin:$PATH

# ------------------------------------------------------------------ database and static files

log "migrating $(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')"
"$py" manage.py migrate --noinput
log "seeding the demo tenant"
"$py" manage.py seed_demo
log "collecting static files"
"$py" manage.py collectstatic --noinput >/dev/null

# ------------------------------------------------------------------ children

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$web_port" "$sim_port" "$crm_port"; do
  port_in_use "$port" && die "port $port on 127.0.0.1 is already in use (another 'make up' or 'make demo'?)"
done

declare -A names=() # pid -> name
pids=()
stopping=0

start() {
  local name=$1
  shift
  "$@" &
  names[$!]=$name
  pids+=("$!")
  log "started $name (pid $!)"
}

alive() {
  local pid
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && return 0
  done
  return 1
}

stop_all() {
  local rc=$?
  ((stopping)) && return
  stopping=1
  trap - INT TERM
  if ((${#pids[@]})); then
    log "stopping ${#pids[@]} processes"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    # Bounded graceful stop (Celery finishes its current tasks), then SIGKILL.
    local i
    for ((i = 0; i < 20; i++)); do
      alive || break
      sleep 1
    done
    if alive; then
      log "still running after 20s; killing"
      kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    log "all stopped"
  fi
  exit "$rc"
}

trap stop_all EXIT
trap 'log "SIGINT received"; exit 130' INT
trap 'log "SIGTERM received"; exit 143' TERM

start simulator "$py" -m channels_ingest.simulator --host 127.0.0.1 --port "$sim_port"
start fake-crm "$py" -m crm_bridge.fake_crm --host 127.0.0.1 --port "$crm_port"
start web "$venv/bin/gunicorn" sac.wsgi:application \
  --bind "127.0.0.1:$web_port" --workers 2 --access-logfile - --graceful-timeout 10
start worker "$venv/bin/celery" -A sac worker -Q "$queues" --loglevel INFO --concurrency 2 \
  --hostname "sac-worker@%h"
start beat "$venv/bin/celery" -A sac beat --loglevel INFO --schedule "$root/.local/celerybeat-schedule"

# Wait (bounded) for the web server, then say where everything is.
for ((i = 0; i < 60; i++)); do
  port_in_use "$web_port" && break
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "${names[$pid]} (pid $pid) exited during startup"
  done
  sleep 0.5
done
port_in_use "$web_port" || log "web is not answering on :$web_port yet; carrying on"

cat <<EOF

  SAC full stack is up (settings sac.settings.prod)
    web          http://127.0.0.1:$web_port/
    admin        http://127.0.0.1:$web_port/admin/
    simulator    $SAC_SIMULATOR_URL/_sim/
    fake CRM     $SAC_FAKE_CRM_URL/
    PostgreSQL   $(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')
    Redis        $REDIS_URL
  Demo logins (password sac-demo): admin, supervisor, agent1, agent2
  Ctrl-C stops everything.

EOF

# The first child to exit, for whatever reason, brings the whole stack down.
set +e
died=
wait -n -p died "${pids[@]}"
rc=$?
set -e
if [[ -n $died ]]; then
  log "${names[$died]} (pid $died) exited with status $rc; stopping the rest"
else
  log "wait returned $rc without a child; stopping the rest"
fi
((rc == 0)) && rc=1
exit "$rc"
