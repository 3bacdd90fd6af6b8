"""A real SMTP server (aiosmtpd) for tests: logs every accepted message as a JSON line.

usage: smtp_sink.py PORT LOG_FILE DELAY_SECONDS
Each message is written to the log before it is answered; with a delay, the answer
("250 OK") comes that much later, so a sender killed meanwhile never hears it was taken.
"""

import asyncio
import email
import email.policy
import json
import sys
import time

from aiosmtpd.controller import Controller

PORT, LOG, DELAY = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "to": envelope.rcpt_tos,
            "message_id": msg["Message-ID"],
            "in_reply_to": msg["In-Reply-To"],
            "references": msg["References"],
            "subject": str(msg["Subject"]),
            "body": body.get_content() if body is not None else "",
            "at": time.time(),
        }
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if DELAY > 0:
            await asyncio.sleep(DELAY)
        return "250 OK"


controller = Controller(Sink(), hostname="127.0.0.1", port=PORT)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
