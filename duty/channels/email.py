"""E-mail over SMTP (aiosmtplib). The Message-ID carries the outbox key, so a message sent again after a
crash between sending and recording is recognisably the same message."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from duty.channels.base import Outgoing
from duty.errors import DeliveryError


class EmailAdapter:
    def __init__(self, *, host: str, port: int, sender: str, starttls: bool = False, user: str = "",
                 password: str = "", timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.user, self.password, self.timeout_s = starttls, user, password, timeout_s

    @staticmethod
    def message_id(key: str, sender: str) -> str:
        domain = sender.rpartition("@")[2] or "localhost"
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"

    async def send(self, message: Outgoing) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = self.message_id(message.key, self.sender)
        mail.set_content(message.body, charset="utf-8")
        try:
            await aiosmtplib.send(mail, hostname=self.host, port=self.port, start_tls=self.starttls,
                                  username=self.user or None, password=self.password or None,
                                  timeout=self.timeout_s)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from None
