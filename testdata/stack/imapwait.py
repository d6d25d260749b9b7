#!/usr/bin/env python3
"""The baseline's IMAP side: a minimal watcher written with the standard library.

Logs in to one mailbox over implicit TLS and keeps searching INBOX. For each
token read on stdin it prints "TOKEN UNIXTIME" as soon as a message carrying
"X-Mailflow-Probe: TOKEN" is there (searching every 5 ms, faster than any
server's IDLE notice), then deletes it. Used by BenchmarkStackRoundTrip to time
swaks + IMAP against mailflow on the same stack.

usage: imapwait.py HOST PORT CAFILE USER PASSWORD
"""
import imaplib
import ssl
import sys
import time


def main():
    host, port, cafile, user, password = sys.argv[1:6]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # the stack's certificate names imap.seeds.test, we dial 127.0.0.1
    imap = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
    imap.login(user, password)
    imap.select("INBOX")
    print("ready", flush=True)
    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        deadline = time.time() + 60
        while time.time() < deadline:
            imap.noop()
            typ, data = imap.uid("SEARCH", None, "HEADER", "X-Mailflow-Probe", token)
            uids = data[0].split() if typ == "OK" and data and data[0] else []
            if uids:
                print(token, "%.6f" % time.time(), flush=True)
                imap.uid("STORE", b",".join(uids), "+FLAGS", r"(\Deleted)")
                imap.expunge()
                break
            time.sleep(0.005)
        else:
            print(token, "timeout", flush=True)
    imap.logout()


if __name__ == "__main__":
    main()
