# shellcheck shell=bash disable=SC2034 # (variables are used by the scripts that source this)
# lib.sh: shared by up.sh, down.sh and smoke.sh (sourced, not run).
#
# Everything the stack writes lives under one directory, $DIR. Each daemon has
# a pid file under $DIR/run/ (a symlink for Postfix and Dovecot, which write
# their own elsewhere under $DIR), and nothing is ever stopped by name.

STACK_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${MAILFLOW_STACK_DIR:-/tmp/mailflow-stack}"
DIR="${DIR%/}"
MARKER=".mailflow-stack" # a directory holding this file is ours to delete

# Daemons in stop order (start order is the reverse), and the process name
# (/proc/PID/comm) each pid file must point at. A pid file whose process has
# another name is stale (the pid was reused) and is ignored.
SERVICES=(postfix-out postfix-in dovecot rspamd dnsmasq)
declare -A COMM=(
  [dnsmasq]=dnsmasq
  [rspamd]=rspamd
  [dovecot]=dovecot
  [postfix-in]=master
  [postfix-out]=master
)

# Every TCP port the stack listens on (all on 127.0.0.1), and what owns it.
declare -A PORT_OWNER=(
  [5354]=dnsmasq
  [11332]=rspamd [11333]=rspamd [11334]=rspamd
  [10012]=dovecot [10024]=dovecot [10143]=dovecot [10993]=dovecot
  [10025]=postfix-in [10026]=postfix-in
  [10587]=postfix-out [10465]=postfix-out
)
TCP_PORTS=(5354 11332 11333 11334 10012 10024 10143 10993 10025 10026 10587 10465)

VMAIL_USER=mailflow-vmail # owns the mailboxes; Dovecot delivers as this user

# check_dir: refuse directory names that would break configs or rm -rf.
check_dir() {
  if [[ ! "$DIR" =~ ^/[A-Za-z0-9._/-]+$ ]] || [[ "$DIR" =~ (^|/)\.\.?(/|$) ]]; then
    echo "MAILFLOW_STACK_DIR must be an absolute path of [A-Za-z0-9._/-] without . or .. parts: '$DIR'" >&2
    return 1
  fi
  # Dovecot puts unix sockets under $DIR/run/dovecot; keep their paths < 108 bytes.
  if ((${#DIR} > 60)); then
    echo "MAILFLOW_STACK_DIR is too long (${#DIR} > 60 characters): $DIR" >&2
    return 1
  fi
  case "$DIR" in
  / | /tmp | /var | /var/tmp | /root | /home | /etc | /usr) echo "refusing MAILFLOW_STACK_DIR=$DIR" >&2; return 1 ;;
  esac
}

# live_pid SERVICE: print the pid in $DIR/run/SERVICE.pid if that process is
# alive and has the expected name; fail otherwise.
live_pid() {
  local svc="$1" file="$DIR/run/$1.pid" pid comm
  [[ -r "$file" ]] || return 1
  pid="$(cat "$file" 2>/dev/null)" || return 1 # Rspamd writes no final newline
  pid="${pid//[[:space:]]/}"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$comm" == "${COMM[$svc]}" ]] || return 1
  running "$pid" || return 1
  echo "$pid"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  exec {fd}>&-
} 2>/dev/null

# smtp_banner PORT: print the greeting line of the server on 127.0.0.1:PORT.
smtp_banner() {
  local fd line
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  if ! IFS= read -r -t 5 line <&"$fd"; then
    exec {fd}>&-
    return 1
  fi
  printf 'QUIT\r\n' >&"$fd"
  exec {fd}>&-
  printf '%s\n' "${line%$'\r'}"
} 2>/dev/null

# running PID: the process exists and has not exited. An exited daemon stays a
# zombie until init reaps it (which can take seconds in some containers), and
# kill -0 still succeeds on a zombie, so look at its state instead.
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # fields after "pid (comm) "
  [[ "${stat:0:1}" != Z ]]
}

# group_running PGID: some process of process group PGID has not exited.
group_running() {
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# wait_gone PID|-PGID SECONDS: wait until the process (or the group) has exited.
wait_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if [[ "$1" == -* ]]; then
      group_running "${1#-}" || return 0
    else
      running "$1" || return 0
    fi
    sleep 0.1
  done
  return 1
}

# stop_service SERVICE: SIGTERM the pid from its pid file and wait up to 10 s
# for it to exit, then SIGKILL. SIGTERM makes each master stop its own children
# (Postfix's master signals its process group, Dovecot and Rspamd their
# workers). Each master runs in a process group of its own (they all call
# setsid), so when the master is gone but members of its group remain (a run
# killed with SIGKILL leaves orphaned workers), the group is stopped too.
stop_service() {
  local svc="$1" file="$DIR/run/$1.pid" pid=""
  if pid="$(live_pid "$svc")"; then
    echo "stopping $svc (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
      echo "$svc (pid $pid) still running after 10 s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 2 || { echo "$svc (pid $pid) did not exit" >&2; return 1; }
    fi
  elif [[ -r "$file" ]]; then
    pid="$(cat "$file" 2>/dev/null)" || true
    pid="${pid//[[:space:]]/}"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    # Stale pid file: if the pid now belongs to some other process, that
    # process and its group are none of ours.
    if running "$pid"; then
      return 0
    fi
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # The group's leader is gone now; while any member is left the kernel does not
  # reuse its id, so whatever is still in process group $pid is ours.
  if group_running "$pid"; then
    echo "stopping what is left of $svc's process group $pid"
    kill -TERM -- "-$pid" 2>/dev/null || true
    if ! wait_gone "-$pid" 10; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      wait_gone "-$pid" 2 || { echo "process group $pid of $svc did not exit" >&2; return 1; }
    fi
  fi
  return 0
}

# stop_all: stop every daemon that has a live pid file, in stop order.
stop_all() {
  local svc rc=0
  for svc in "${SERVICES[@]}"; do
    stop_service "$svc" || rc=1
  done
  return "$rc"
}

# busy_ports: print "PORT (who)" for each stack port something still listens on.
busy_ports() {
  local p
  for p in "${TCP_PORTS[@]}"; do
    if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p ($(ss -Htlnp "sport = :$p" | grep -o 'users:.*' | head -1))"
    fi
  done
  if ss -Huln "sport = :5354" 2>/dev/null | grep -q .; then
    echo "5354/udp ($(ss -Hulnp "sport = :5354" | grep -o 'users:.*' | head -1))"
  fi
}

# remove_dir: delete $DIR, but only if it is ours (has the marker) or empty.
remove_dir() {
  [[ -e "$DIR" ]] || return 0
  if [[ -f "$DIR/$MARKER" ]] || [[ -z "$(ls -A "$DIR" 2>/dev/null)" ]]; then
    rm -rf -- "$DIR"
  else
    echo "$DIR exists but is not a mailflow stack directory (no $MARKER): not deleting it" >&2
    return 1
  fi
}
