#!/usr/bin/env bash
# smoke.sh: prove, with swaks and IMAP, that the stack started by up.sh works
# end to end. Prints each check with its evidence and ends with
# "smoke: N passed, M failed"; exits non-zero if any check failed.
#
#   testdata/stack/up.sh && testdata/stack/smoke.sh
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ -r "$DIR/stack.env" ]] || {
  echo "smoke.sh: no $DIR/stack.env: is the stack up? (run up.sh)" >&2
  exit 1
}
# shellcheck source=/dev/null
source "$DIR/stack.env"

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
SEED1="${STACK_SEEDS%%,*}"
RUN="$$-$(date +%s)" # makes each run's subjects unique
WORK="$(mktemp -d /tmp/mailflow-smoke.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

pass() {
  PASSED=$((PASSED + 1))
  echo "[PASS] $*"
}
fail() {
  FAILED=$((FAILED + 1))
  echo "[FAIL] $*"
}
# indent: show evidence under a check.
indent() { sed 's/^/       /'; }

# swaks_to PORT OUTFILE ARGS...: one SMTP session to 127.0.0.1:PORT with
# certificate checking against the stack CA; the transcript goes to OUTFILE.
# Returns swaks's exit status (non-zero when the server refused something).
swaks_to() {
  local port="$1" out="$2"
  shift 2
  swaks --server "127.0.0.1:$port" --tls-verify --tls-ca-path "$STACK_CA" \
    --ehlo client.sender.test "$@" >"$out" 2>&1
}

# replies FILE: the server's lines of a swaks transcript.
# (swaks marks them "<-", "<~" under TLS, and "<**" / "<~*" for errors.)
replies() { grep -E '^(<-|<~|<\*\*|<~\*) ' "$1" | sed -E 's/^(<-|<~|<\*\*|<~\*) +//'; }

# imap ...: small IMAP client (Python imaplib) with subcommands:
#   wait USER MAILBOX SUBJECT SECONDS  poll over IMAPS until a message with that
#                                      subject is there; print its headers
#   absent USER MAILBOX SUBJECT        succeed if no such message is there
#   list USER                          LIST over IMAP+STARTTLS
# (Debian's /usr/bin/python3, installed by up.sh: a python3 found first on PATH
# may be a version-manager shim that takes half a second just to start.)
imap() {
  /usr/bin/python3 - "$STACK_CA" "$STACK_IMAP" "$STACK_IMAPS" "$STACK_SEED_PASSWORD" "$@" <<'PY'
import email, imaplib, ssl, sys, time
from email import policy

ca, port, ports, password, cmd, user = sys.argv[1:7]
args = sys.argv[7:]
ctx = ssl.create_default_context(cafile=ca)

def search(m, mailbox, subject):
    typ, _ = m.select(mailbox, readonly=True)
    if typ != "OK":
        sys.exit(f"cannot select {mailbox}")
    typ, data = m.search(None, "HEADER", "Subject", subject)
    return data[0].split()

if cmd == "wait":
    mailbox, subject, timeout = args[0], args[1], float(args[2])
    m = imaplib.IMAP4_SSL("127.0.0.1", int(ports), ssl_context=ctx)
    m.login(user, password)
    deadline = time.monotonic() + timeout
    while True:
        ids = search(m, mailbox, subject)
        if ids or time.monotonic() > deadline:
            break
        m.close()
        time.sleep(0.05)
    if not ids:
        print(f"not in {user}/{mailbox} after {timeout:g} s")
        sys.exit(1)
    typ, data = m.fetch(ids[-1], "(BODY.PEEK[HEADER])")
    msg = email.message_from_bytes(data[0][1], policy=policy.default)
    for name in ("Authentication-Results", "DKIM-Signature", "X-Spam", "X-Spam-Status",
                 "X-Rspamd-Score", "X-Rspamd-Action"):
        for value in msg.get_all(name, []):
            print(f"{name}: {' '.join(str(value).split())}")
    m.logout()
elif cmd == "absent":
    mailbox, subject = args[0], args[1]
    m = imaplib.IMAP4_SSL("127.0.0.1", int(ports), ssl_context=ctx)
    m.login(user, password)
    ids = search(m, mailbox, subject)
    m.logout()
    sys.exit(1 if ids else 0)
elif cmd == "list":
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.starttls(ssl_context=ctx)
    m.login(user, password)
    typ, data = m.list()
    for line in data:
        print(line.decode())
    m.logout()
PY
}

# ms_since START_EPOCHREALTIME: milliseconds elapsed.
ms_since() {
  local now="$EPOCHREALTIME"
  echo $(((${now/./} - ${1/./}) / 1000))
}

echo "smoke: stack in $MAILFLOW_STACK_DIR"

# 1. Submission on 10587: STARTTLS + AUTH, DKIM-signed by Rspamd on "out",
#    checked on "in", delivered to seed1's INBOX.
check_submission() {
  local n="$1" port="$2" tlsopt="$3" what="$4" subj="mf-smoke-$1-$RUN" t0 hdrs
  t0="$EPOCHREALTIME"
  if ! swaks_to "$port" "$WORK/$n.txt" "$tlsopt" --auth PLAIN \
    --auth-user "$STACK_SUBMIT_USER" --auth-password "$STACK_SUBMIT_PASSWORD" \
    --from "$STACK_SUBMIT_USER" --to "$SEED1" --h-Subject "$subj"; then
    fail "$n $what: swaks failed"
    replies "$WORK/$n.txt" | tail -3 | indent
    return
  fi
  if ! hdrs="$(imap wait "$SEED1" INBOX "$subj" 5)"; then
    fail "$n $what: $hdrs"
    return
  fi
  local ar
  ar="$(grep "^Authentication-Results: $STACK_AUTHSERV_ID;" <<<"$hdrs" || true)"
  if [[ "$ar" == *"dkim=pass"* && "$ar" == *"spf=pass"* && "$ar" == *"dmarc=pass"* ]] &&
    grep -q "^DKIM-Signature: .*d=sender.test; s=$STACK_DKIM_SELECTOR;" <<<"$hdrs"; then
    pass "$n $what -> $SEED1 INBOX in $(ms_since "$t0") ms, dkim/spf/dmarc pass"
  else
    fail "$n $what: in INBOX but not dkim=pass spf=pass dmarc=pass with a DKIM-Signature"
  fi
  grep -E '^(Authentication-Results|X-Rspamd-Score|X-Spam-Status):' <<<"$hdrs" | indent
}
check_submission 1 "$STACK_SUBMISSION" --tls "submission $STACK_SUBMISSION STARTTLS+AUTH"

# 2. The same on 10465 with implicit TLS.
check_submission 2 "$STACK_SMTPS" --tlsc "smtps $STACK_SMTPS implicit TLS+AUTH"

# 3. Straight to the MX on 10025, no AUTH, no DKIM: SPF passes for 127.0.0.1
#    (and aligns, so DMARC passes too).
n=3 subj="mf-smoke-3-$RUN"
if swaks_to "$STACK_SMTP_IN" "$WORK/$n.txt" --tls --from "$STACK_SUBMIT_USER" \
  --to "$SEED1" --h-Subject "$subj" && hdrs="$(imap wait "$SEED1" INBOX "$subj" 5)"; then
  ar="$(grep "^Authentication-Results: $STACK_AUTHSERV_ID;" <<<"$hdrs" || true)"
  if [[ "$ar" == *"spf=pass"* && "$ar" != *"dkim=pass"* ]] && ! grep -q '^DKIM-Signature:' <<<"$hdrs"; then
    pass "$n unauthenticated on $STACK_SMTP_IN from $STACK_SUBMIT_USER -> INBOX, spf=pass, not signed"
  else
    fail "$n unauthenticated on $STACK_SMTP_IN: expected spf=pass and no DKIM signature"
  fi
  grep -E '^(Authentication-Results|X-Rspamd-Score):' <<<"$hdrs" | indent
else
  fail "$n unauthenticated on $STACK_SMTP_IN: ${hdrs:-swaks failed}"
  replies "$WORK/$n.txt" | tail -3 | indent
fi
hdrs=""

# 4. GTUBE through submission: scored as spam on "in", X-Spam: Yes, Sieve
#    files it into Junk (and not INBOX).
n=4 subj="mf-smoke-4-$RUN"
if swaks_to "$STACK_SUBMISSION" "$WORK/$n.txt" --tls --auth PLAIN \
  --auth-user "$STACK_SUBMIT_USER" --auth-password "$STACK_SUBMIT_PASSWORD" \
  --from "$STACK_SUBMIT_USER" --to "$SEED1" --h-Subject "$subj" --body "$GTUBE" &&
  hdrs="$(imap wait "$SEED1" Junk "$subj" 5)"; then
  if grep -q '^X-Spam: Yes' <<<"$hdrs" && grep -q '^X-Rspamd-Score: ' <<<"$hdrs" &&
    imap absent "$SEED1" INBOX "$subj"; then
    pass "$n GTUBE via $STACK_SUBMISSION -> $SEED1 Junk with X-Spam: Yes"
  else
    fail "$n GTUBE: in Junk but without X-Spam: Yes / X-Rspamd-Score, or also in INBOX"
  fi
  grep -E '^(X-Spam|X-Spam-Status|X-Rspamd-Score|X-Rspamd-Action):' <<<"$hdrs" | indent
else
  fail "$n GTUBE via $STACK_SUBMISSION: ${hdrs:-swaks failed}"
  replies "$WORK/$n.txt" | tail -3 | indent
fi
hdrs=""

# 5. Unsigned mail From strict.test (SPF -all, DMARC p=reject) on 10025:
#    DMARC fails and the stack enforces p=reject, so DATA gets a 5xx.
n=5 subj="mf-smoke-5-$RUN"
swaks_to "$STACK_SMTP_IN" "$WORK/$n.txt" --tls --from ceo@strict.test --to "$SEED1" \
  --h-Subject "$subj" || true
reply="$(replies "$WORK/$n.txt" | grep -E '^5[0-9][0-9] ' | tail -1 || true)"
if [[ "$reply" =~ ^5[0-9][0-9]\ 5\.7\.1\ .*DMARC ]]; then
  pass "$n unsigned From strict.test on $STACK_SMTP_IN -> rejected at DATA"
else
  fail "$n unsigned From strict.test on $STACK_SMTP_IN: expected a 5xx 5.7.1 DMARC reply"
fi
echo "$reply" | indent
grep -h 'strict.test' "$STACK_RSPAMD_LOG" | grep -o 'DMARC_POLICY_REJECT([0-9.]*){[^}]*}' | tail -1 | indent || true

# 6a. Wrong password on submission: 535 5.7.8.
n=6a
swaks_to "$STACK_SUBMISSION" "$WORK/$n.txt" --tls --auth PLAIN --auth-user "$STACK_SUBMIT_USER" \
  --auth-password wrong-password --from "$STACK_SUBMIT_USER" --to "$SEED1" --quit-after AUTH || true
reply="$(replies "$WORK/$n.txt" | grep -E '^535 ' | tail -1 || true)"
if [[ "$reply" == "535 5.7.8 "* ]]; then
  pass "$n wrong password on $STACK_SUBMISSION -> 535 5.7.8"
else
  fail "$n wrong password on $STACK_SUBMISSION: expected 535 5.7.8"
fi
echo "$reply" | indent

# 6b. Unknown seed mailbox: refused at RCPT with 550 5.1.1.
n=6b
swaks_to "$STACK_SMTP_IN" "$WORK/$n.txt" --from "$STACK_SUBMIT_USER" --to nosuch@seeds.test \
  --quit-after RCPT || true
reply="$(replies "$WORK/$n.txt" | grep -E '^550 ' | tail -1 || true)"
if [[ "$reply" == "550 5.1.1 "* ]]; then
  pass "$n RCPT nosuch@seeds.test on $STACK_SMTP_IN -> 550 5.1.1"
else
  fail "$n RCPT nosuch@seeds.test on $STACK_SMTP_IN: expected 550 5.1.1"
fi
echo "$reply" | indent

# 6c. STARTTLS is offered on 10025 and not on 10026.
n=6c
swaks_to "$STACK_SMTP_IN" "$WORK/$n-tls.txt" --quit-after EHLO || true
swaks_to "$STACK_SMTP_IN_NOTLS" "$WORK/$n.txt" --quit-after EHLO || true
if grep -q 'STARTTLS' "$WORK/$n-tls.txt" && ! grep -q 'STARTTLS' "$WORK/$n.txt" &&
  grep -q '^<- *250' "$WORK/$n.txt"; then
  pass "$n EHLO on $STACK_SMTP_IN_NOTLS offers no STARTTLS (on $STACK_SMTP_IN it does)"
else
  fail "$n expected STARTTLS on $STACK_SMTP_IN and none on $STACK_SMTP_IN_NOTLS"
fi
replies "$WORK/$n.txt" | grep -E '^250[- ]' | tr '\n' ' ' | indent
echo

# 7. seed1's folders over IMAP (STARTTLS on 10143): Junk has \Junk.
n=7
if folders="$(imap list "$SEED1")" && grep -qE '\\Junk.*"/" "?Junk"?$' <<<"$folders"; then
  pass "$n IMAP LIST for $SEED1 shows Junk with \\Junk"
else
  fail "$n IMAP LIST for $SEED1: no Junk with \\Junk"
fi
echo "${folders:-}" | indent

echo "smoke: $PASSED passed, $FAILED failed"
((FAILED == 0))
