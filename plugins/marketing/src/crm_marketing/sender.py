"""Sending: claim queued sends, render, hand them to SMTP, record each as sent.

Exactly-once rests on three things:

1. ``marketing_send`` has UNIQUE (campaign, step, contact): a message for a step exists at
   most once, whoever queues it and however often.
2. A sender *claims* a batch (``queued`` → ``sending`` with its own ``claim_token`` and a
   ``lease_until``) in one short transaction. Concurrent senders never claim the same row
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's IMMEDIATE transactions serialise
   claims). A sender renews its lease while it works and checks the campaign's status
   between messages, handing unsent claims back on pause.
3. Once the SMTP server accepts a message (its ``250`` to DATA), the row is marked
   ``sent``, guarded by the claim token, in a commit shared with the other connections'
   marks; a connection hands over its next message only after that commit. A sender that
   dies leaves its unsent claims in ``sending``; once the lease expires they are claimed
   again.

The choice for a crash is **at-least-once**: a claim whose handoff did not complete is
retried. The only case that can duplicate a message is a process killed in the instant
between the server's ``250`` and the ``sent`` commit (at most one message per
connection; the commit overlaps the next message's MAIL and RCPT); every message carries
a stable ``Message-ID`` (``<m{send}.{campaign}@…>``) so a receiving system can drop that
duplicate. At-most-once would instead lose the
message, which is worse for a welcome email and no better for the reader.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from datetime import timedelta
from email.header import Header
from email.utils import formatdate, parseaddr
from typing import Any

import aiosmtplib

from crm_marketing import signing
from crm_marketing.config import MarketingConfig
from crm_marketing.rendering import RenderedEmail, render_email, rewrite_links
from crm_marketing.templates_store import contact_rows, get_template
from crmcore.jobs import clock, enqueue
from crmcore.services.mail import MailNotConfigured
from crmcore.services.records import engine_type, fetch
from crmcore.services.transaction import write_transaction

log = logging.getLogger("crm_marketing.sender")

MAX_ATTEMPTS = 5
RETRY_S = 60.0
JOB_BUDGET_S = 120.0


class RateLimiter:
    """Spaces messages to at most ``per_second`` (0: unlimited) across this process's
    connections."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = time.monotonic()
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            delay = self.next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.next_at = max(self.next_at, time.monotonic()) + self.interval


async def sent_last_hour() -> int:
    rows = await fetch(
        "SELECT count(*) AS n FROM marketing_send WHERE state = 'sent' AND sent_at >= {}",
        [clock.now() - timedelta(hours=1)],
    )
    return int(rows[0]["n"])


async def claim_batch(
    campaign_id: int, token: str, limit: int, lease_s: float
) -> list[dict[str, Any]]:
    """Take up to ``limit`` due sends of the campaign (queued, or claimed by a sender whose
    lease expired) for ``token``."""
    now = clock.now()
    lock = " FOR UPDATE SKIP LOCKED" if engine_type() == "postgres" else ""
    async with write_transaction():
        return await fetch(
            "UPDATE marketing_send SET state = 'sending', claim_token = {}, lease_until = {} "
            "WHERE id IN (SELECT id FROM marketing_send WHERE campaign = {} AND "
            "((state = 'queued' AND queued_at <= {}) OR (state = 'sending' AND lease_until < {})) "
            f"ORDER BY id LIMIT {{}}{lock}) RETURNING id, step, contact, email",
            [token, now + timedelta(seconds=lease_s), campaign_id, now, now, int(limit)],
        )


async def renew_claims(ids: list[int], token: str, lease_s: float) -> set[int]:
    """Extend the lease of our unsent claims; returns the ids still ours."""
    if not ids:
        return set()
    marks = ", ".join("{}" for _ in ids)
    async with write_transaction():
        rows = await fetch(
            f"UPDATE marketing_send SET lease_until = {{}} WHERE id IN ({marks}) "
            "AND claim_token = {} AND state = 'sending' RETURNING id",
            [clock.now() + timedelta(seconds=lease_s), *ids, token],
        )
    return {int(r["id"]) for r in rows}


async def release_claims(ids: list[int], token: str) -> None:
    """Hand unsent claims back to the queue (pause, shutdown)."""
    if not ids:
        return
    marks = ", ".join("{}" for _ in ids)
    async with write_transaction():
        await fetch(
            f"UPDATE marketing_send SET state = 'queued', claim_token = NULL, lease_until = NULL "
            f"WHERE id IN ({marks}) AND claim_token = {{}} AND state = 'sending'",
            [*ids, token],
        )


class SentRecorder:
    """Records handed-over messages as ``sent``, committing for several connections at once.

    A connection may open the next message's envelope (MAIL, RCPT) while its last message's
    mark is still uncommitted, but it waits for that commit before it hands the next message
    over (DATA). So the window in which a crash could leave an accepted message unrecorded
    stays one message per connection, while the commit overlaps the next envelope and the
    marks of all connections that finished meanwhile share one commit (a group commit).
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.pending: list[tuple[int, str, list[str], asyncio.Future[None]]] = []
        self.lock = asyncio.Lock()

    def add(self, send_id: int, message_id: str, links: list[str]) -> asyncio.Future[None]:
        """Queue the mark of an accepted message; :meth:`wait` on the result commits it."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((send_id, message_id, links, future))
        return future

    async def wait(self, future: asyncio.Future[None]) -> None:
        """Return once the mark behind ``future`` is committed, with every mark queued
        so far."""
        if future.done():
            return future.result()
        async with self.lock:
            if not future.done():
                batch, self.pending = self.pending, []
                try:
                    await self._write(batch)
                except Exception as exc:
                    for *_rest, waiting in batch:
                        if not waiting.done():
                            waiting.set_exception(exc)
                else:
                    for *_rest, waiting in batch:
                        if not waiting.done():
                            waiting.set_result(None)
        return await future

    async def _write(self, batch: list[tuple[int, str, list[str], Any]]) -> None:
        # One UPDATE for the whole group, outside a transaction: a single statement is
        # atomic on both engines, and on SQLite it runs on the shared connection instead
        # of opening a connection (and a thread) for a transaction of its own.
        ids = [send_id for send_id, *_rest in batch]
        message_ids = [message_id for _id, message_id, *_rest in batch]
        links = [json.dumps(urls) for _id, _mid, urls, _future in batch]
        if engine_type() == "postgres":
            rows = "SELECT * FROM unnest({}::bigint[], {}::text[], {}::text[])"
            args: list[Any] = [ids, message_ids, links]
            links_value = "v.links::json"
        else:
            rows = "VALUES " + ", ".join("({}, {}, {})" for _ in batch)
            args = [value for row in zip(ids, message_ids, links, strict=True) for value in row]
            links_value = "v.links"
        await fetch(
            f"WITH v (id, message_id, links) AS ({rows}) UPDATE marketing_send SET "
            f"state = 'sent', sent_at = {{}}, message_id = v.message_id, links = {links_value}, "
            "claim_token = NULL, lease_until = NULL, error = '' "
            "FROM v WHERE marketing_send.id = v.id AND marketing_send.claim_token = {}",
            [*args, clock.now(), self.token],
        )


async def mark_failed(send_id: int, token: str, error: str, *, permanent: bool) -> None:
    """A refused message: a permanent (5xx) refusal is a bounce; a temporary one is queued
    again after a pause until ``MAX_ATTEMPTS``."""
    now = clock.now()
    async with write_transaction():
        rows = await fetch(
            "UPDATE marketing_send SET attempts = attempts + 1, error = {} "
            "WHERE id = {} AND claim_token = {} RETURNING attempts, campaign, contact",
            [error[:1000], send_id, token],
        )
        if not rows:
            return
        attempts = int(rows[0]["attempts"])
        if permanent or attempts >= MAX_ATTEMPTS:
            await fetch(
                "UPDATE marketing_send SET state = 'failed', claim_token = NULL, "
                "bounced_at = {} WHERE id = {}",
                [now if permanent else None, send_id],
            )
            if permanent:
                await fetch(
                    "INSERT INTO marketing_tracking_event (send, campaign, contact, kind, url, "
                    "user_agent, proxy, at) VALUES ({}, {}, {}, 'bounce', '', '', {}, {})",
                    [send_id, rows[0]["campaign"], rows[0]["contact"], False, now],
                )
        else:
            await fetch(
                "UPDATE marketing_send SET state = 'queued', claim_token = NULL, "
                "lease_until = NULL, queued_at = {} WHERE id = {}",
                [now + timedelta(seconds=RETRY_S * attempts), send_id],
            )


def _header(value: str) -> str:
    """A header value, RFC 2047-encoded when it is not plain ASCII (Persian subjects)."""
    if value.isascii():
        return " ".join(value.split())
    return Header(value, "utf-8").encode()


def _part(content_type: str, text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    # 76-character lines ending in CRLF, as sent: the SIZE announced is the real size.
    lines = "".join(f"{encoded[i : i + 76]}\r\n" for i in range(0, len(encoded), 76))
    return (f"Content-Type: {content_type}; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{lines}")  # fmt: skip


_date_cache: tuple[int, str] = (0, "")


def _date_header() -> str:
    """The ``Date`` header value, formatted once a second rather than once a message."""
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache = (second, formatdate(second, usegmt=True))
    return _date_cache[1]


def build_message(
    config: MarketingConfig,
    send: dict[str, Any],
    campaign_id: int,
    rendered: RenderedEmail,
    unsubscribe: str,
) -> tuple[bytes, str, list[str]]:
    """The MIME message (bytes), its ``Message-ID`` and the original link targets, with
    tracked links, open pixel and one-click unsubscribe (``unsubscribe``, the signed URL)
    headers. Built directly rather than through ``email.message``: its header parsing
    cost more than the SMTP exchange itself at bulk rates."""
    base, secret, send_id = config.base_url, config.secret, int(send["id"])
    domain = config.smtp.sender.rpartition("@")[2] or "localhost"
    message_id = f"<m{send_id}.{campaign_id}@{domain}>"
    headers = [
        f"From: {config.smtp.sender}",
        f"To: {send['email']}",
        f"Subject: {_header(rendered.subject)}",
        f"Date: {_date_header()}",
        f"Message-ID: {message_id}",
        f"List-Unsubscribe: <{unsubscribe}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Precedence: bulk",
        "MIME-Version: 1.0",
    ]
    text_part = _part("text/plain", rendered.text or " ")
    links: list[str] = []
    if rendered.html:
        html = rewrite_links(
            rendered.html, lambda url: signing.click_url(base, secret, send_id, url), links
        )
        pixel = f'<img src="{signing.open_url(base, secret, send_id)}" width="1" height="1" alt="">'
        html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
        boundary = f"=_m{send_id}_{secrets.token_hex(8)}"
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        body = (f"--{boundary}\r\n{text_part}\r\n--{boundary}\r\n"
                f"{_part('text/html', html)}\r\n--{boundary}--\r\n")  # fmt: skip
        return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii"), message_id, links
    return ("\r\n".join(headers) + "\r\n" + text_part).encode("ascii"), message_id, links


def envelope_sender(address: str) -> bytes:
    """The ``MAIL FROM`` argument for the configured sender, checked once per job."""
    mailbox = parseaddr(address)[1] or address.strip()
    if not mailbox or any(c in mailbox for c in "<>\r\n ") or not mailbox.isascii():
        raise MailNotConfigured(
            f"the marketing sender address {address!r} cannot be used in SMTP: set from= in "
            "CRM_SMTP_URL or smtp_url to a plain address such as news@example.com"
        )
    return f"FROM:<{mailbox}>".encode("ascii")


async def open_envelope(client: aiosmtplib.SMTP, sender: bytes, recipient: str, size: int) -> None:
    """``MAIL`` and ``RCPT`` of one message, after ``EHLO`` when the connection is new.

    ``sendmail`` would parse the sender and the recipient twice each per message, which
    cost as much as rendering it. A recipient address that cannot go on an SMTP command line
    raises ``ValueError``; a refused envelope is reset so the connection stays usable.
    """
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()
    options = [b"SIZE=%d" % size] if client.supports_extension("size") else []
    try:
        response = await client.execute_command(b"MAIL", sender, *options)
        if response.code != 250:
            raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender.decode())
        await client.rcpt(recipient)
    except (aiosmtplib.SMTPResponseException, ValueError):
        await _reset(client)
        raise


async def hand_over(client: aiosmtplib.SMTP, message: bytes) -> None:
    """``DATA``: returns once the server accepted the message (its ``250``)."""
    try:
        await client.data(message)
    except aiosmtplib.SMTPResponseException:
        await _reset(client)
        raise


async def _reset(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


class CampaignSender:
    """Sends one campaign's due messages over a few SMTP connections until none is due,
    the campaign is paused, or the job's time budget is spent."""

    def __init__(self, campaign_id: int, config: MarketingConfig) -> None:
        self.campaign_id = campaign_id
        self.config = config
        self.token = secrets.token_hex(12)
        self.limiter = RateLimiter(config.per_second)
        self.recorder = SentRecorder(self.token)
        self.envelope_from = envelope_sender(config.smtp.sender)
        self.sent = 0
        self._templates: dict[int, tuple[dict[str, Any], str | None]] = {}
        self._campaign: dict[str, Any] = {}

    async def _status(self) -> str:
        rows = await fetch("SELECT status FROM marketing_campaign WHERE id = {}",
                           [self.campaign_id])  # fmt: skip
        return str(rows[0]["status"]) if rows else "deleted"

    async def _template_for(self, step: int) -> tuple[dict[str, Any], str | None]:
        if step not in self._templates:
            from crm_marketing.campaigns import get_campaign

            campaign = self._campaign or await get_campaign(self.campaign_id)
            self._campaign = campaign
            if campaign["kind"] == "broadcast":
                template_ref, subject = campaign["template_id"], campaign["subject"] or None
            else:
                spec = campaign["steps"][step]
                template_ref, subject = spec["template"], spec.get("subject") or None
            ref = int(template_ref) if str(template_ref).isdigit() else str(template_ref)
            self._templates[step] = (await get_template(ref), subject)
        return self._templates[step]

    async def run(self, budget_s: float = JOB_BUDGET_S) -> str:
        """Send until nothing is due; returns ``idle``, ``paused``, ``budget`` (time is up)
        or ``later`` (the hourly limit is reached)."""
        started = time.monotonic()
        clients = await self._connect()
        try:
            while True:
                if await self._status() not in ("sending", "active"):
                    return "paused"
                limit = self.config.batch_size
                if self.config.per_hour:
                    room = self.config.per_hour - await sent_last_hour()
                    if room <= 0:
                        return "later"
                    limit = min(limit, room)
                batch = await claim_batch(self.campaign_id, self.token, limit,
                                          self.config.lease_s)  # fmt: skip
                if not batch:
                    return "idle"
                if await self._send_batch(batch, clients) == "paused":
                    return "paused"
                if time.monotonic() - started > budget_s:
                    return "budget"
        finally:
            for client in clients:
                if client.is_connected:
                    try:
                        await client.quit()
                    except aiosmtplib.SMTPException:
                        client.close()

    async def _connect(self) -> list[aiosmtplib.SMTP]:
        smtp = self.config.smtp
        clients = []
        for _ in range(self.config.connections):
            client = aiosmtplib.SMTP(
                hostname=smtp.host, port=smtp.port, use_tls=smtp.use_tls,
                start_tls=smtp.start_tls, username=smtp.username, password=smtp.password,
                timeout=30,
            )  # fmt: skip
            clients.append(client)
        return clients

    async def _send_batch(self, batch: list[dict[str, Any]], clients: list[Any]) -> str:
        contacts = await contact_rows([int(r["contact"]) for r in batch])
        pending: dict[int, dict[str, Any]] = {int(r["id"]): r for r in batch}
        claimed_at = time.monotonic()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for row in batch:
            queue.put_nowait(row)
        state = {"paused": False}

        async def worker(client: Any) -> None:
            nonlocal claimed_at
            recorded: asyncio.Future[None] | None = None  # this connection's last mark
            try:
                while not queue.empty() and not state["paused"]:
                    row = queue.get_nowait()
                    send_id = int(row["id"])
                    if send_id not in pending:
                        continue
                    if time.monotonic() - claimed_at > self.config.lease_s / 3:
                        claimed_at = time.monotonic()
                        still = await renew_claims(list(pending), self.token,
                                                   self.config.lease_s)  # fmt: skip
                        for lost in [i for i in pending if i not in still]:
                            pending.pop(lost, None)
                        if await self._status() not in ("sending", "active"):
                            state["paused"] = True
                            return
                        if send_id not in pending:
                            continue
                    contact = contacts.get(int(row["contact"]))
                    recorded = await self._send_one(client, row, contact, recorded) or recorded
                    pending.pop(send_id, None)
            finally:
                if recorded is not None and not recorded.done():
                    await self.recorder.wait(recorded)

        await asyncio.gather(*(worker(c) for c in clients))
        if state["paused"] or await self._status() not in ("sending", "active"):
            await release_claims(list(pending), self.token)
            return "paused"
        return "ok"

    async def _send_one(
        self,
        client: Any,
        row: dict[str, Any],
        contact: dict[str, Any] | None,
        previous: asyncio.Future[None] | None,
    ) -> asyncio.Future[None] | None:
        """Send one message; returns the future of its ``sent`` mark when the server
        accepted it. ``previous`` (the connection's last mark) is committed before this
        message is handed over."""
        send_id = int(row["id"])
        if contact is None:
            await mark_failed(send_id, self.token, "the contact no longer exists", permanent=True)
            return None
        try:
            template, subject = await self._template_for(int(row["step"]))
            unsubscribe = signing.unsubscribe_url(self.config.base_url, self.config.secret, send_id)
            rendered = render_email(
                template, contact, subject=subject, extra={"unsubscribe_url": unsubscribe}
            )
            message, message_id, links = build_message(
                self.config, row, self.campaign_id, rendered, unsubscribe
            )
        except Exception as exc:
            await mark_failed(send_id, self.token, f"render: {exc}", permanent=True)
            return None
        await self.limiter.wait()
        try:
            if not client.is_connected:
                await client.connect()
            await open_envelope(client, self.envelope_from, row["email"], len(message))
            if previous is not None:
                await self.recorder.wait(previous)
            await hand_over(client, message)
        except ValueError as exc:
            await mark_failed(send_id, self.token, str(exc), permanent=True)
            return None
        except aiosmtplib.SMTPResponseException as exc:
            await mark_failed(send_id, self.token, f"{exc.code} {exc.message}",
                              permanent=500 <= exc.code < 600)  # fmt: skip
            if exc.code in (421,) or not client.is_connected:
                client.close()
            return None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            await mark_failed(send_id, self.token, f"SMTP: {exc}", permanent=False)
            return None
        self.sent += 1
        return self.recorder.add(send_id, message_id, links)


async def send_campaign_job(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Job ``marketing.send_campaign``: send what is due, then either finish the campaign
    or queue itself again for what waits (a retry, the hourly limit, the time budget)."""
    from crm_marketing.campaigns import finish_if_done
    from crm_marketing.config import marketing_config
    from crmcore.services.context import current_pm

    campaign_id = int(payload["campaign_id"])
    config = marketing_config(current_pm().settings)
    sender = CampaignSender(campaign_id, config)
    outcome = await sender.run()
    if outcome == "paused":
        return {"sent": sender.sent, "outcome": outcome}
    if not await finish_if_done(campaign_id):
        delay: float | None = 0.0 if outcome == "budget" else 60.0
        if outcome == "idle":
            rows = await fetch(
                "SELECT min(queued_at) AS due FROM marketing_send WHERE campaign = {} "
                "AND state = 'queued'",
                [campaign_id],
            )
            due = rows[0]["due"]
            delay = 5.0 if due is None else None  # claimed elsewhere: look again shortly
            if due is not None:
                await enqueue(SEND_JOB_NAME, {"campaign_id": campaign_id}, at=_aware(due))
                return {"sent": sender.sent, "outcome": "waiting"}
        wait_s = delay if delay is not None else 5.0
        await enqueue(
            SEND_JOB_NAME, {"campaign_id": campaign_id}, at=clock.now() + timedelta(seconds=wait_s)
        )
    return {"sent": sender.sent, "outcome": outcome}


SEND_JOB_NAME = "marketing.send_campaign"


def _aware(value: Any) -> Any:
    from crmcore.services.records import parse_datetime

    return parse_datetime(value, "queued_at")
