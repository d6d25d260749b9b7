#!/usr/bin/env bash
# up.sh: bring up the mailflow real mail stack on 127.0.0.1 (see README.md).
#
#   testdata/stack/up.sh            # state in ${MAILFLOW_STACK_DIR:-/tmp/mailflow-stack}
#   . "$MAILFLOW_STACK_DIR/stack.env" # ports, users, CA, log paths for the tests
#
# dnsmasq (DNS for the test zones), Rspamd (milter: DKIM signing and
# SPF/DKIM/DMARC checks), Dovecot (IMAP, LMTP, SASL, Sieve) and two Postfix
# instances ("out": submission for sender.test; "in": the MX for seeds.test).
# All of them run as daemons with a pid file under $DIR/run/ and keep every
# byte of state under $DIR; down.sh stops them and removes $DIR.
#
# Idempotent: when the stack in $DIR is already up and healthy it says so and
# exits 0. Leftovers of a killed run (stale pid files, orphaned workers) are
# cleaned up first. Needs root; installs its Debian packages when missing.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

CONF="$STACK_SRC/conf"
DKIM_SELECTOR=mf
SEED_PASSWORD=seedpass
SUBMIT_USER=monitor@sender.test
SUBMIT_PASSWORD=submitpass
SEEDS=(seed1@seeds.test seed2@seeds.test seed3@seeds.test seed4@seeds.test seed5@seeds.test)

# Debian packages, and a file from each that shows it is installed.
PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve rspamd
  dnsmasq-base swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl
  openssl python3 iproute2 procps)
NEEDED_FILES=(/usr/sbin/postfix /usr/sbin/dovecot /usr/bin/doveadm /usr/lib/dovecot/imap
  /usr/lib/dovecot/lmtp /usr/bin/sievec /usr/lib/dovecot/modules/lib90_sieve_plugin.so
  /usr/bin/rspamd /usr/sbin/dnsmasq /usr/bin/swaks /usr/bin/openssl /usr/bin/python3
  /usr/bin/ss /usr/bin/pgrep)
# Packages whose maintainer scripts would start a system-wide daemon.
SERVICE_PACKAGES=(postfix dovecot-core rspamd)

# Rspamd modules switched off: they need the internet, Redis, or keys we
# don't have, and only add noise (and DNS look-ups that are refused anyway).
# hfilter too: it scores the client's HELO and host name, which are arbitrary
# here (everything is 127.0.0.1 alias localhost), and made scores depend on them.
RSPAMD_DISABLED=(fuzzy_check rbl asn neural ratelimit greylist replies reputation
  url_redirector phishing history_redis arc hfilter)

START=$SECONDS
STEP="start"
FAIL_LOG=""   # log whose tail explains a failure of the current step
STARTED=0     # set once we have started daemons (so a failure stops them)
OK=0

log() { printf 'up.sh: %s\n' "$*"; }

# step NAME [LOG]: name what we are doing, for the failure report.
step() {
  STEP="$1"
  FAIL_LOG="${2:-}"
}

# On any failure: name the step, show the end of its log, stop what we started.
on_exit() {
  local rc=$?
  ((OK)) && return 0
  {
    echo
    echo "up.sh: FAILED (exit $rc) at step: $STEP"
    if [[ -n "$FAIL_LOG" && -s "$FAIL_LOG" ]]; then
      echo "---- last lines of $FAIL_LOG ----"
      tail -n 25 "$FAIL_LOG"
      echo "----"
    fi
  } >&2
  if ((STARTED)); then
    wait 2>/dev/null || true # let background starts finish, so they can be stopped
    echo "up.sh: stopping the daemons started so far (logs stay in $DIR/log)" >&2
    stop_all >&2 || true
  fi
  exit "$rc"
}
trap on_exit EXIT

die() {
  echo "up.sh: ERROR: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# Health: every pid file live, every port open, both SMTP greetings right.
# ---------------------------------------------------------------------------
stack_is_up() {
  local svc p
  [[ -f "$DIR/stack.env" ]] || return 1
  for svc in "${SERVICES[@]}"; do
    live_pid "$svc" >/dev/null || return 1
  done
  for p in "${TCP_PORTS[@]}"; do
    port_open "$p" || return 1
  done
  [[ "$(smtp_banner 10025)" == "220 mx.seeds.test "* ]] || return 1
  [[ "$(smtp_banner 10587)" == "220 smtp.sender.test "* ]] || return 1
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------
ensure_packages() {
  local f missing=() new=() p
  for f in "${NEEDED_FILES[@]}"; do
    [[ -e "$f" ]] || missing+=("$f")
  done
  perl -MNet::SSLeay -MIO::Socket::SSL -MAuthen::SASL -e 1 2>/dev/null || missing+=("perl TLS/SASL modules")
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  step "install packages (missing: ${missing[*]})" /tmp/mailflow-stack-apt.log
  log "installing packages (missing: ${missing[*]}); log in /tmp/mailflow-stack-apt.log"
  for p in "${SERVICE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || new+=("$p")
  done

  # Keep maintainer scripts from starting system-wide daemons: policy-rc.d
  # exit 101 makes invoke-rc.d (and deb-systemd-invoke) skip every start.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from mailflow testdata/stack/up.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  # Postfix without a system configuration (no /etc/postfix/main.cf, no
  # system instance); our instances bring their own.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  local rc=0
  {
    # Bounded: a mirror that stalls fails CI in minutes, not at its 90.
    timeout 600 apt-get -o Acquire::http::Timeout=30 update &&
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o Acquire::http::Timeout=30 \
        install -y --no-install-recommends "${PACKAGES[@]}"
  } >/tmp/mailflow-stack-apt.log 2>&1 || rc=$?
  ((own_policy)) && rm -f "$policy"
  ((rc == 0)) || die "apt-get failed (exit $rc)"

  # Belt and braces: if a package we just installed left its daemon running
  # or enabled anyway (e.g. no policy-rc.d honoured), stop and disable it.
  for p in "${new[@]}"; do
    local svc="${p%-core}"
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$svc" ]]; then
      "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
  for f in "${NEEDED_FILES[@]}"; do
    [[ -e "$f" ]] || die "still missing after apt-get install: $f"
  done
  log "packages installed ($((SECONDS - START)) s)"
}

# ---------------------------------------------------------------------------
# Files: directories, TLS, DKIM, configs rendered from conf/
# ---------------------------------------------------------------------------

# render SRC DEST: copy a template, filling in @DIR@ and friends.
render() {
  sed -e "s|@DIR@|$DIR|g" \
    -e "s|@VMAIL_UID@|$VMAIL_UID|g" -e "s|@VMAIL_GID@|$VMAIL_GID|g" \
    -e "s|@DKIM_SELECTOR@|$DKIM_SELECTOR|g" \
    "$1" >"$2"
}

make_dirs() {
  step "create $DIR"
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  echo "mailflow test stack; created by $STACK_SRC/up.sh; removed by down.sh" >"$DIR/$MARKER"
  mkdir -p "$DIR"/{run,log,tls,dkim,dns} \
    "$DIR"/dovecot/{state,sieve} \
    "$DIR"/rspamd/{conf/local.d,conf/override.d,db,tmp} \
    "$DIR"/postfix-{in,out}/{conf,queue,data}
  install -d -m 700 -o "$VMAIL_USER" -g "$VMAIL_USER" "$DIR/mail"
  chown _rspamd:_rspamd "$DIR/rspamd/db" "$DIR/rspamd/tmp"
  chown postfix:postfix "$DIR/postfix-in/data" "$DIR/postfix-out/data"
  # Rspamd's workers write their log as _rspamd.
  install -m 640 -o _rspamd -g _rspamd /dev/null "$DIR/log/rspamd.log"
}

make_tls() {
  step "make TLS CA and server certificate" "$DIR/log/openssl.log"
  local t="$DIR/tls"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
      -keyout "$t/ca.key" -out "$t/ca.pem" -subj "/CN=mailflow stack test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" \
      -subj "/CN=mx.seeds.test"
    printf '%s\n' \
      "subjectAltName=DNS:mx.seeds.test,DNS:smtp.sender.test,DNS:imap.seeds.test,DNS:localhost,IP:127.0.0.1" \
      "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" >"$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
      -days 30 -sha256 -extfile "$t/server.ext" -out "$t/server.pem"
  } >"$DIR/log/openssl.log" 2>&1
  openssl verify -CAfile "$t/ca.pem" "$t/server.pem" >>"$DIR/log/openssl.log" 2>&1
  chmod 644 "$t/ca.pem" "$t/server.pem"
  chmod 600 "$t/ca.key" "$t/server.key" # read by the root masters before they drop privileges
}

# DKIM key for sender.test (selector mf): private key for Rspamd, public key
# as a TXT record (split in <=250-byte strings) for dnsmasq.
make_dkim() {
  step "make DKIM key" "$DIR/log/openssl.log"
  local key="$DIR/dkim/sender.test.$DKIM_SELECTOR.key" pub txt="" rest
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>>"$DIR/log/openssl.log"
  chown root:_rspamd "$key"
  chmod 640 "$key"
  pub="$(openssl pkey -in "$key" -pubout -outform DER 2>>"$DIR/log/openssl.log" | base64 -w0)"
  [[ -n "$pub" ]] || die "could not extract the DKIM public key"
  rest="v=DKIM1; k=rsa; p=$pub"
  printf '%s\n' "$rest" >"$DIR/dkim/sender.test.$DKIM_SELECTOR.txt"
  while [[ -n "$rest" ]]; do
    txt+=",\"${rest:0:250}\""
    rest="${rest:250}"
  done
  DKIM_DNSMASQ_LINE="txt-record=$DKIM_SELECTOR._domainkey.sender.test$txt"
}

write_configs() {
  step "write configuration files"
  local f name

  # dnsmasq
  render "$CONF/dnsmasq.conf" "$DIR/dns/dnsmasq.conf"
  echo "$DKIM_DNSMASQ_LINE" >>"$DIR/dns/dnsmasq.conf"

  # Rspamd: the packaged /etc/rspamd as CONFDIR, ours as LOCAL_CONFDIR.
  for f in "$CONF"/rspamd/local.d/* "$CONF"/rspamd/override.d/*; do
    render "$f" "$DIR/rspamd/conf/${f#"$CONF"/rspamd/}"
  done
  render "$CONF/rspamd/rspamd.local.lua" "$DIR/rspamd/conf/rspamd.local.lua"
  # Top-level domains only (no multi-label public suffixes) plus "test": Rspamd
  # compiles this list at every start, ~2 s instead of ~11 s for the full one.
  { grep -v -e '^//' -e '^$' -e '\.' /usr/share/rspamd/effective_tld_names.dat; echo test; } \
    >"$DIR/rspamd/tld.dat"
  for name in "${RSPAMD_DISABLED[@]}"; do
    echo "enabled = false; # mailflow stack: see up.sh RSPAMD_DISABLED" >"$DIR/rspamd/conf/local.d/$name.conf"
  done

  # Dovecot: users (the passdb and userdb), config, Sieve script (precompiled:
  # LMTP runs as the mail user and could not write the binary next to it).
  {
    for f in "${SEEDS[@]}"; do
      echo "$f:{PLAIN}$SEED_PASSWORD:$VMAIL_UID:$VMAIL_GID::$DIR/mail/${f#*@}/${f%@*}::"
    done
    echo "$SUBMIT_USER:{PLAIN}$SUBMIT_PASSWORD:$VMAIL_UID:$VMAIL_GID::$DIR/mail/${SUBMIT_USER#*@}/${SUBMIT_USER%@*}::"
  } >"$DIR/dovecot/users"
  chown root:dovecot "$DIR/dovecot/users"
  chmod 640 "$DIR/dovecot/users"
  render "$CONF/dovecot/dovecot.conf" "$DIR/dovecot/dovecot.conf"
  render "$CONF/dovecot/spam-to-junk.sieve" "$DIR/dovecot/sieve/spam-to-junk.sieve"
  step "compile Sieve script" "$DIR/log/sievec.log"
  sievec -c "$DIR/dovecot/dovecot.conf" "$DIR/dovecot/sieve/spam-to-junk.sieve" >"$DIR/log/sievec.log" 2>&1

  # Postfix: main.cf = shared part + instance part; master.cf likewise.
  step "write Postfix configuration"
  for name in in out; do
    local d="$DIR/postfix-$name/conf"
    {
      sed "s|@NAME@|postfix-$name|g" "$CONF/postfix/common-main.cf"
      echo
      cat "$CONF/postfix/$name-main.cf"
    } >"$d/main.cf.in"
    render "$d/main.cf.in" "$d/main.cf"
    rm -f "$d/main.cf.in"
    cat "$CONF/postfix/common-master.cf" "$CONF/postfix/$name-master.cf" >"$d/master.cf"
  done
  printf '%s OK\n' "${SEEDS[@]}" >"$DIR/postfix-in/conf/vmailbox"
}

# ---------------------------------------------------------------------------
# Daemons
# ---------------------------------------------------------------------------

# Each starter daemonizes the program with stdin/stdout/stderr redirected and
# leaves (or links) its pid file at $DIR/run/NAME.pid.

start_dnsmasq() {
  step "start dnsmasq" "$DIR/log/dnsmasq.out"
  dnsmasq --conf-file="$DIR/dns/dnsmasq.conf" </dev/null >"$DIR/log/dnsmasq.out" 2>&1
}

RSPAMD_BG=""
start_rspamd() {
  # Rspamd loads its config (a few seconds: it compiles Hyperscan databases)
  # before it forks into the background; let the other daemons start meanwhile.
  rspamd -c /etc/rspamd/rspamd.conf -u _rspamd -g _rspamd \
    --var "LOCAL_CONFDIR=$DIR/rspamd/conf" --var "DBDIR=$DIR/rspamd/db" \
    --var "RUNDIR=$DIR/run" --var "LOGDIR=$DIR/log" \
    </dev/null >"$DIR/log/rspamd.out" 2>&1 &
  RSPAMD_BG=$!
}

wait_rspamd() {
  step "start rspamd" "$DIR/log/rspamd.out"
  wait "$RSPAMD_BG" || {
    cat "$DIR/log/rspamd.log" >>"$DIR/log/rspamd.out" 2>/dev/null
    die "rspamd exited with an error"
  }
  # Its parent has exited; the daemonized child writes the pid file next.
  local i
  for ((i = 0; i < 100; i++)); do
    live_pid rspamd >/dev/null && return 0
    sleep 0.1
  done
  die "rspamd did not write a live pid file ($DIR/run/rspamd.pid)"
}

start_dovecot() {
  step "start dovecot" "$DIR/log/dovecot.out"
  dovecot -c "$DIR/dovecot/dovecot.conf" </dev/null >"$DIR/log/dovecot.out" 2>&1 || {
    cat "$DIR/log/dovecot.log" >>"$DIR/log/dovecot.out" 2>/dev/null
    die "dovecot failed to start"
  }
  ln -sfn dovecot/master.pid "$DIR/run/dovecot.pid"
}

# start_postfix in|out runs `postfix start` in the background (it takes a
# second or two: it checks and creates the queue first); wait_postfix collects
# it. Without syslog Postfix writes its errors not to a non-terminal stderr but
# to maillog_file ($DIR/log/postfix-NAME.log).
declare -A POSTFIX_BG=()
start_postfix() {
  local name="postfix-$1"
  postfix -c "$DIR/$name/conf" start </dev/null >"$DIR/log/$name.out" 2>&1 &
  POSTFIX_BG[$name]=$!
  ln -sfn "../$name/queue/pid/master.pid" "$DIR/run/$name.pid"
}

wait_postfix() {
  local name="postfix-$1"
  step "start $name" "$DIR/log/$name.log"
  wait "${POSTFIX_BG[$name]}" || die "'postfix -c $DIR/$name/conf start' failed"
}

# wait_ports: every port must accept connections within 30 s.
wait_ports() {
  local p svc deadline=$((SECONDS + 30))
  for p in "${TCP_PORTS[@]}"; do
    svc="${PORT_OWNER[$p]}"
    step "wait for $svc on 127.0.0.1:$p" "$DIR/log/$svc.log"
    until port_open "$p"; do
      live_pid "$svc" >/dev/null || die "$svc is not running (pid file $DIR/run/$svc.pid)"
      ((SECONDS < deadline)) || die "$svc does not listen on 127.0.0.1:$p after 30 s"
      sleep 0.1
    done
  done
}

check_health() {
  local b svc
  for svc in "${SERVICES[@]}"; do
    step "check $svc pid file" "$DIR/log/$svc.log"
    live_pid "$svc" >/dev/null || die "$svc: no live process behind $DIR/run/$svc.pid"
  done
  step "check SMTP greeting on 10025" "$DIR/log/postfix-in.log"
  b="$(smtp_banner 10025)" || true
  [[ "$b" == "220 mx.seeds.test "* ]] || die "unexpected greeting on 10025: '$b'"
  step "check SMTP greeting on 10587" "$DIR/log/postfix-out.log"
  b="$(smtp_banner 10587)" || true
  [[ "$b" == "220 smtp.sender.test "* ]] || die "unexpected greeting on 10587: '$b'"
  step "check IMAP greeting on 10143" "$DIR/log/dovecot.log"
  b="$(smtp_banner 10143)" || true
  [[ "$b" == "* OK "* ]] || die "unexpected greeting on 10143: '$b'"
}

write_env() {
  step "write $DIR/stack.env"
  local seeds
  seeds="$(IFS=,; echo "${SEEDS[*]}")"
  cat >"$DIR/stack.env.tmp" <<EOF
MAILFLOW_STACK_DIR=$DIR
STACK_CA=$DIR/tls/ca.pem
STACK_DNS=127.0.0.1:5354
STACK_SMTP_IN=10025
STACK_SMTP_IN_NOTLS=10026
STACK_SUBMISSION=10587
STACK_SMTPS=10465
STACK_IMAP=10143
STACK_IMAPS=10993
STACK_LMTP=10024
STACK_RSPAMD_CONTROLLER=11334
STACK_AUTHSERV_ID=mx.seeds.test
STACK_SUBMIT_USER=$SUBMIT_USER
STACK_SUBMIT_PASSWORD=$SUBMIT_PASSWORD
STACK_SEED_PASSWORD=$SEED_PASSWORD
STACK_SEEDS=$seeds
STACK_DKIM_SELECTOR=$DKIM_SELECTOR
STACK_DKIM_DOMAIN=sender.test
STACK_DKIM_KEY=$DIR/dkim/sender.test.$DKIM_SELECTOR.key
STACK_DOVECOT_CONF=$DIR/dovecot/dovecot.conf
STACK_DOVECOT_LOG=$DIR/log/dovecot.log
STACK_POSTFIX_IN_LOG=$DIR/log/postfix-in.log
STACK_POSTFIX_OUT_LOG=$DIR/log/postfix-out.log
STACK_RSPAMD_LOG=$DIR/log/rspamd.log
STACK_DNSMASQ_LOG=$DIR/log/dnsmasq.log
EOF
  mv "$DIR/stack.env.tmp" "$DIR/stack.env"
}

# ---------------------------------------------------------------------------
main() {
  step "check environment"
  ((EUID == 0)) || die "must run as root (it installs packages and starts the daemons as root)"
  check_dir || die "bad MAILFLOW_STACK_DIR"

  if stack_is_up; then
    OK=1
    log "stack already up in $DIR (env: $DIR/stack.env)"
    exit 0
  fi

  ensure_packages

  # Leftovers of an earlier run: stop whatever its pid files still point at,
  # then make sure no port of ours is taken before starting afresh.
  step "clean up leftovers in $DIR"
  if [[ -d "$DIR/run" ]]; then
    stop_all || die "could not stop the leftover daemons of $DIR"
  fi
  local busy
  busy="$(busy_ports)"
  [[ -z "$busy" ]] || die "ports needed by the stack are in use:"$'\n'"$busy"
  remove_dir || die "cannot reuse $DIR"

  step "create user $VMAIL_USER"
  if ! getent passwd "$VMAIL_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$VMAIL_USER"
  fi
  VMAIL_UID="$(id -u "$VMAIL_USER")"
  VMAIL_GID="$(id -g "$VMAIL_USER")"

  make_dirs
  make_tls
  make_dkim
  write_configs

  # DNS first (Rspamd resolves at start-up), then Rspamd in the background,
  # then Dovecot (SASL and LMTP) and the two Postfix instances.
  STARTED=1
  start_dnsmasq
  start_rspamd
  start_dovecot
  start_postfix in
  start_postfix out
  wait_postfix in
  wait_postfix out
  wait_rspamd
  wait_ports
  check_health
  write_env

  OK=1
  log "stack up in $DIR in $((SECONDS - START)) s"
  log "  SMTP in 127.0.0.1:10025 (no STARTTLS: 10026), submission 10587, smtps 10465"
  log "  IMAP 10143, IMAPS 10993, DNS 127.0.0.1:5354, CA $DIR/tls/ca.pem"
  log "  env: $DIR/stack.env"
}

main "$@"
