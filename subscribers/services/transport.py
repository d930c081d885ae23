"""SMTP transport of the digests: a pre-built, dot-stuffed message sent over smtplib's connection without
smtplib rescanning it (``_sendmail_wire``). Which errors are transient, the backoff and the send timeout are
shared with every kind of mail (``mailings.transport``)."""

import contextlib
import smtplib


def _sendmail_wire(smtp, sender, recipient, data, meanwhile=None):
    """``smtplib.SMTP.sendmail`` for one recipient and a message already dot-stuffed (``personalise_wire``): the
    same commands, replies and exceptions, without smtplib rescanning the whole message each time. ``meanwhile``
    runs while the server answers MAIL (the previous message's mark is read then)."""

    def give_up(code):
        if code == 421:
            smtp.close()
        else:
            with contextlib.suppress(smtplib.SMTPServerDisconnected):
                smtp.rset()

    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    smtp.putcmd("mail", f"FROM:{smtplib.quoteaddr(sender)}{''.join(' ' + option for option in options)}")
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:
            smtp.close()  # MAIL's answer is unread: this conversation cannot go on
            raise
    code, reply = smtp.getreply()
    if code != 250:
        give_up(code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        give_up(code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    smtp.send(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        give_up(code)
        raise smtplib.SMTPDataError(code, reply)
