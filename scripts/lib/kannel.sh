# Kannel 1.4.5 from Debian's packages as a peer for the benchmarks (sourced by scripts/bench-*).
# The settings and why: see scripts/bench-kannel's header.

# Installs bearerbox and smsbox if missing; a system Kannel the package starts is stopped.
kannel_install() {
  if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/sbin/smsbox ]; then
    echo "== installing kannel" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq kannel >&2 || { apt-get update -qq && apt-get install -y -qq kannel >&2; }
    service kannel stop >/dev/null 2>&1 || true
  fi
}

KANNEL_BEARER='' KANNEL_SMSBOX=''

# SIGTERM first (Kannel shuts down cleanly and writes its store), SIGKILL after 10 s.
kannel_stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

kannel_stop() {
  kannel_stop_pid "$KANNEL_SMSBOX"; KANNEL_SMSBOX=''
  kannel_stop_pid "$KANNEL_BEARER"; KANNEL_BEARER=''
}

# kannel_start WORK_DIR SIM_PORT BINDS WINDOW [LOG_LEVEL]: bearerbox + smsbox with BINDS
# transceiver binds to the simulator, a file store, sendsms user bench/secret; returns once
# every bind is online. Sets KANNEL_SENDSMS_PORT, KANNEL_ADMIN_PORT, KANNEL_BEARER, KANNEL_SMSBOX.
kannel_start() {
  local work=$1 sim_port=$2 binds=$3 window=$4 log_level=${5:-4}
  local port_of='import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  local box_port
  KANNEL_ADMIN_PORT=$(python3 -c "$port_of") box_port=$(python3 -c "$port_of")
  KANNEL_SENDSMS_PORT=$(python3 -c "$port_of")
  {
    cat <<CONF
group = core
admin-port = $KANNEL_ADMIN_PORT
admin-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = $box_port
box-allow-ip = "127.0.0.1"
log-file = "$work/bearerbox.log"
log-level = $log_level
dlr-storage = internal
store-type = file
store-location = "$work/kannel.store"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $box_port
sendsms-port = $KANNEL_SENDSMS_PORT
log-file = "$work/smsbox.log"
log-level = $log_level

group = sendsms-user
username = bench
password = secret
max-messages = 10
concatenation = true
CONF
    for i in $(seq 1 "$binds"); do
      cat <<CONF

group = smsc
smsc = smpp
smsc-id = sim
smsc-admin-id = sim$i
host = 127.0.0.1
port = $sim_port
transceiver-mode = true
smsc-username = bench
smsc-password = secret
system-type = ""
interface-version = 34
max-pending-submits = $window
reconnect-delay = 1
CONF
    done
  } >"$work/kannel.conf"
  /usr/sbin/bearerbox -v 4 "$work/kannel.conf" >"$work/bearerbox.out" 2>&1 &
  KANNEL_BEARER=$!
  # smsbox needs bearerbox's box port open first.
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $box_port), 1)" 2>/dev/null && break
    sleep 0.1
  done
  /usr/sbin/smsbox -v 4 "$work/kannel.conf" >"$work/smsbox.out" 2>&1 &
  KANNEL_SMSBOX=$!
  # Ready when every bind is online and smsbox is connected (admin status page).
  local status_url="http://127.0.0.1:$KANNEL_ADMIN_PORT/status.txt?password=bench" st='' online
  for _ in $(seq 1 300); do
    st=$(curl -fs "$status_url" 2>/dev/null || true)
    online=$(grep -c 'SMPP:.*(online' <<<"$st" || true)
    if [ "$online" -ge "$binds" ] && grep -q 'smsbox:.*on-line' <<<"$st"; then return 0; fi
    sleep 0.2
  done
  echo "Kannel did not come up:" >&2; echo "$st" >&2
  return 1
}
