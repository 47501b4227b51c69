#!/usr/bin/python3
"""A real SMTP server for tocsin's e-mail tests: Debian's aiosmtpd, on a loopback port.

It records, as one JSON object per line in --record:
  {"event": "message", ...}     each accepted message: envelope, whether it came over TLS
                                and after which AUTH, the exact DATA bytes as they crossed
                                the wire (still dot-stuffed, with the final ".\\r\\n") and the
                                content after aiosmtpd removed the stuffing (both as hex);
  {"event": "rejected", ...}    each message refused by the checks below, with the reply;
  {"event": "connection", ...}  each closed connection: whether STARTTLS happened, every AUTH
                                attempt, and every byte received before TLS (hex), so a test can
                                prove that a password never crossed in clear text.

STARTTLS is offered only with --cert/--key. AUTH PLAIN/LOGIN is offered only after STARTTLS
(aiosmtpd's auth_require_tls, as real submission servers do) unless --auth-in-clear, and with
--user/--password it is required before MAIL and only those credentials are accepted.

It is no more permissive than a real server: on top of aiosmtpd's own checks (CRLF line ends
for the DATA terminator, 1000-octet lines, command order) it refuses a message with a bare CR
or LF (RFC 5321 2.3.8; accepting them is what made SMTP smuggling possible), a message with a
NUL (RFC 5322 4), and a message without the From and Date headers RFC 5322 3.6 requires.

Usage: smtp_server.py --port-file F --record F [--cert C --key K] [--user U --password P]
                      [--auth-in-clear]
The port it listens on (127.0.0.1, chosen by the kernel) is written to --port-file once it
accepts connections. SIGTERM stops it after the open connections end (at most 5 s), so the
record is complete when the process has exited.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax

RECORD = None
CONNECTIONS = set()


def record(obj):
    RECORD.write(json.dumps(obj) + "\n")
    RECORD.flush()


class WireRecorder:
    """Wraps the connection's StreamReader during DATA to keep the bytes as received."""

    def __init__(self, inner, sink):
        self._inner = inner
        self._sink = sink

    async def readuntil(self, separator=b"\n"):
        data = await self._inner.readuntil(separator)
        self._sink.extend(data)
        return data

    async def read(self, n=-1):
        data = await self._inner.read(n)
        self._sink.extend(data)
        return data

    def __getattr__(self, name):
        return getattr(self._inner, name)


class RecordingSMTP(SMTP):
    _next_id = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingSMTP._next_id += 1
        self.conn_id = RecordingSMTP._next_id
        self.cleartext = bytearray()
        self.auth_attempts = []
        self.wire = None

    def connection_made(self, transport):
        if self._original_transport is None:
            CONNECTIONS.add(self)
        super().connection_made(transport)

    def data_received(self, data):
        # Before STARTTLS this is what crossed the network as is; after it, the SSL layer
        # hands us decrypted bytes, which are not recorded as clear text.
        if self._tls_protocol is None:
            self.cleartext.extend(data)
        super().data_received(data)

    def connection_lost(self, exc):
        if self in CONNECTIONS:
            CONNECTIONS.discard(self)
            record({
                "event": "connection",
                "conn": self.conn_id,
                "starttls": self._tls_protocol is not None,
                "auth_attempts": self.auth_attempts,
                "cleartext_hex": bytes(self.cleartext).hex(),
            })
        super().connection_lost(exc)

    @syntax("DATA")
    async def smtp_DATA(self, arg):
        self.wire = bytearray()
        inner = self._reader
        self._reader = WireRecorder(inner, self.wire)
        try:
            await super().smtp_DATA(arg)
        finally:
            self._reader = inner


class Handler:
    async def handle_DATA(self, server, session, envelope):
        content = bytes(envelope.original_content)
        reply = check_message(content)
        base = {
            "conn": server.conn_id,
            "tls": server._tls_protocol is not None,
            "auth_user": (session.auth_data.login.decode()
                          if isinstance(session.auth_data, LoginPassword) else None),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
        }
        if reply:
            record(dict(base, event="rejected", reply=reply))
            return reply
        record(dict(base, event="message",
                    wire_hex=bytes(server.wire or b"").hex(),
                    content_hex=content.hex()))
        return "250 2.0.0 OK queued"


def check_message(content):
    """The reply refusing `content`, or None to accept it."""
    body = content.replace(b"\r\n", b"")
    if b"\r" in body or b"\n" in body:
        return "550 5.6.11 bare CR or LF in the message (RFC 5321 2.3.8)"
    if b"\0" in content:
        # As Cyrus, Symantec's mail gateways and others refuse it: RFC 5322 section 4 forbids
        # generating NUL.
        return "554 5.6.0 Message contains NUL characters (RFC 5322 4)"
    header = content.split(b"\r\n\r\n", 1)[0]
    for name in (b"From", b"Date"):
        if not re.search(rb"(?im)^" + name + rb":", header):
            return "550 5.6.0 message without a %s header (RFC 5322 3.6)" % name.decode()
    return None


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        server.auth_attempts.append({
            "mechanism": mechanism,
            "tls": server._tls_protocol is not None,
            "login": auth_data.login.decode(errors="replace")
            if isinstance(auth_data, LoginPassword) else None,
            "ok": ok,
        })
        # handled=False on failure: aiosmtpd then answers 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return authenticate


async def main():
    global RECORD
    # aiosmtpd 1.4 warns about its own use of a deprecated session field on every AUTH.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--auth-in-clear", action="store_true",
                    help="offer AUTH without TLS, as a legacy server or a man in the middle "
                         "that strips STARTTLS would")
    args = ap.parse_args()
    RECORD = open(args.record, "a", encoding="utf-8")

    tls_context = None
    if args.cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)
    user = args.user or ""
    password = args.password or ""

    def factory():
        return RecordingSMTP(
            Handler(),
            hostname="tocsin-test-smtp",
            decode_data=False,
            tls_context=tls_context,
            auth_require_tls=not args.auth_in_clear,
            auth_required=bool(user),
            authenticator=make_authenticator(user, password),
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()
    # Clients have hung up by the time a test stops the server; let their connections be
    # recorded, without waiting forever for one that did not.
    for _ in range(500):
        if not CONNECTIONS:
            break
        await asyncio.sleep(0.01)
    RECORD.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
