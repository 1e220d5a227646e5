"""Limits that hold across every API process: their counters live in the read model
(`throttle_counters`, one atomic INSERT ... ON CONFLICT DO UPDATE per event, SQLite and
PostgreSQL alike), keyed by a keyed digest of what they count (no address or e-mail in clear).

- `SubmissionRateLimiter`: submissions per client (token, or address) per minute.
- `SignInThrottle`: staff sign-in. Failed passwords slow the one guessing, never lock the
  owner out: per (account, address) the wait between attempts doubles after a few failures; per
  address, attempts across all accounts per minute are capped; per account, once many addresses
  together have failed, every address, also a fresh one, waits a little (at most
  SIGN_IN_ACCOUNT_DELAY_MAX_SECONDS) after the account's last failure, so the owner, from another
  address, always gets in after at most that delay.
An "address" is what `api.auth.client_address_key` makes of it: IPv6 counts per /64.
Every method does database work: call them on the thread pool from async code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session, sessionmaker

from api.problems import Problem
from config import Settings
from db.throttle_models import ThrottleCounter
from db.upsert import dialect_insert
from domain.tokens import keyed_digest

TABLE = ThrottleCounter.__table__
# Counters quiet this long are deleted (every CLEANUP_EVERY-th event of a process).
FORGET_AFTER_SECONDS = 24 * 3600
CLEANUP_EVERY = 1000
# Failed sign-ins are forgotten after an hour without another one.
FAILURES_FORGOTTEN_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class Counter:
    count: int
    window_start: float
    last_at: float


class ThrottleStore:
    """Named counters in the database (shared by every process using it)."""

    def __init__(self, sessions: sessionmaker[Session], secret_key: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.sessions, self.secret_key, self.clock = sessions, secret_key, clock
        self._events = 0

    def key(self, purpose: str, value: str) -> str:
        return f"{purpose[:20]}:{keyed_digest(self.secret_key, 'throttle:' + purpose, value)}"

    def count_in_window(self, key: str, window_seconds: float) -> Counter:
        """Count one event in the key's current window (a new window once the last has passed)."""
        now = self.clock()
        expired = TABLE.c.window_start <= now - window_seconds
        return self._upsert(key, now, {
            "count": case((expired, 1), else_=TABLE.c.count + 1),
            "window_start": case((expired, now), else_=TABLE.c.window_start),
            "last_at": now,
        })

    def add_failure(self, key: str, forgotten_after_seconds: float) -> Counter:
        """Count one failure in a run that ends after `forgotten_after_seconds` without one."""
        now = self.clock()
        forgotten = TABLE.c.last_at <= now - forgotten_after_seconds
        return self._upsert(key, now, {
            "count": case((forgotten, 1), else_=TABLE.c.count + 1),
            "window_start": case((forgotten, now), else_=TABLE.c.window_start),
            "last_at": now,
        })

    def read(self, key: str) -> Counter | None:
        with self.sessions() as session:
            row = session.execute(select(TABLE.c.count, TABLE.c.window_start, TABLE.c.last_at)
                                  .where(TABLE.c.key == key)).first()
        return Counter(*row) if row else None

    def clear(self, key: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(TABLE).where(TABLE.c.key == key))

    def _upsert(self, key: str, now: float, changes: dict) -> Counter:
        with self.sessions.begin() as session:
            statement = dialect_insert(session, TABLE).values(key=key, count=1, window_start=now, last_at=now)
            statement = statement.on_conflict_do_update(index_elements=[TABLE.c.key], set_=changes)
            row = session.execute(statement.returning(TABLE.c.count, TABLE.c.window_start, TABLE.c.last_at)).one()
            self._events += 1
            if self._events % CLEANUP_EVERY == 0:
                session.execute(delete(TABLE).where(TABLE.c.last_at < now - FORGET_AFTER_SECONDS))
        return Counter(*row)


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class SubmissionRateLimiter:
    """`per_minute` submissions per client key and minute (a window that starts with the first).
    Another `purpose` counts something else apart (uploads count files: api/attachments.py)."""

    def __init__(self, store: ThrottleStore, per_minute: int, *, purpose: str = "submit",
                 what: str = "laporan", what_en: str = "reports") -> None:
        self.store, self.per_minute = store, per_minute
        self.purpose, self.what, self.what_en = purpose, what, what_en

    def check(self, client_key: str) -> None:
        if self.per_minute <= 0:
            return
        counter = self.store.count_in_window(self.store.key(self.purpose, client_key), 60)
        if counter.count > self.per_minute:
            raise Problem(429, f"Batas {self.per_minute} {self.what} per menit terlampaui.",
                          headers=retry_after(counter.window_start + 60 - self.store.clock()),
                          detail_en=f"The limit of {self.per_minute} {self.what_en} per minute is reached.")


class SignInThrottle:
    """Backoff per (account, address), a cap per address, a bounded delay per account."""

    def __init__(self, store: ThrottleStore, settings: Settings) -> None:
        self.store, self.settings = store, settings

    def _keys(self, account: str, address: str) -> tuple[str, str, str]:
        account = account.strip().lower()[:320]
        return (self.store.key("sign-in-pair", f"{account}\n{address}"),
                self.store.key("sign-in-account", account),
                self.store.key("sign-in-address", address))

    def wait_before(self, account: str, address: str) -> float:
        """Seconds this address must still wait before trying this account (0: go ahead). The
        attempt is counted against the address's per-minute cap."""
        s, now = self.settings, self.store.clock()
        pair_key, account_key, address_key = self._keys(account, address)
        per_address = self.store.count_in_window(address_key, 60)
        if per_address.count > s.sign_in_per_address_per_minute:
            return per_address.window_start + 60 - now
        pair, whole = self.store.read(pair_key), self.store.read(account_key)
        free_at = now
        if pair is not None and now - pair.last_at <= FAILURES_FORGOTTEN_AFTER_SECONDS \
                and pair.count >= s.sign_in_free_failures:
            free_at = pair.last_at + min(
                s.sign_in_backoff_base_seconds * 2 ** (pair.count - s.sign_in_free_failures),
                s.sign_in_backoff_max_seconds)
        if whole is not None and now - whole.last_at <= FAILURES_FORGOTTEN_AFTER_SECONDS \
                and whole.count >= s.sign_in_account_free_failures:
            # An account under attack: every address (also one that never failed on it, else each
            # fresh address would be a free guess) waits after the account's last failure, a little
            # more for every failure past the threshold, never more than the account's maximum.
            extra = float(whole.count - s.sign_in_account_free_failures + 1)
            free_at = max(free_at, whole.last_at + min(extra, s.sign_in_account_delay_max_seconds))
        return max(0.0, free_at - now)

    def failed(self, account: str, address: str) -> None:
        pair_key, account_key, _ = self._keys(account, address)
        self.store.add_failure(pair_key, FAILURES_FORGOTTEN_AFTER_SECONDS)
        self.store.add_failure(account_key, FAILURES_FORGOTTEN_AFTER_SECONDS)

    def succeeded(self, account: str, address: str) -> None:
        """The owner got in from this address: its own backoff is over (the account's count of
        other addresses' failures stays until it is forgotten)."""
        self.store.clear(self._keys(account, address)[0])
