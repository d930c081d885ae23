"""A real SMTP server on loopback (aiosmtpd) that records every message it accepts; optionally it answers
451 to every n-th message, as a busy relay does."""

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller


@dataclass
class Received:
    rcpt: list
    content: bytes
    at: float

    @property
    def headers(self):
        return email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(self.content)

    @property
    def message(self):
        return email.message_from_bytes(self.content, policy=email.policy.default)

    def part(self, content_type):
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise LookupError(content_type)


class Recorder:
    def __init__(self, *, fail_every=0, fail_reply="451 4.3.0 Try again later"):
        self.fail_every, self.fail_reply = fail_every, fail_reply
        self.lock = threading.Lock()
        self.messages = []
        self.data_commands = 0
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_commands += 1
            if self.fail_every and self.data_commands % self.fail_every == 0:
                self.refused += 1
                return self.fail_reply
            self.messages.append(Received(rcpt=list(envelope.rcpt_tos), content=envelope.content, at=time.time()))
        return "250 2.0.0 OK"

    def digests(self):
        """The digests received: the workflow's notices about the issue (to its editors) share the server."""
        with self.lock:
            return [m for m in self.messages if str(m.headers.get("Message-ID", "")).startswith("<dgd-issue")]

    def digest_count(self):
        return len(self.digests())

    def to(self, address):
        with self.lock:
            return [m for m in self.messages if address in m.rcpt]

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("timed out waiting for mail")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, **recorder_options):
        self.recorder = Recorder(**recorder_options)
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def use_in(self, settings):
        """Point Django's mail at this server (instead of pytest-django's in-memory outbox)."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = self.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
