"""What the stand-in remembers: customers, balances, sessions, coupons, idempotent answers and
the test controls' counters. One lock guards it all."""

from __future__ import annotations

import itertools
import secrets
import threading
from typing import Any


class StandinState:
    def __init__(
        self,
        webhook_url: str = "",
        webhook_secret: str = "",
        price_amounts: dict[str, int] | None = None,
        webhook_host: str = "",
    ):
        self.webhook_host = webhook_host
        self.lock = threading.Lock()
        self.customers: dict[str, dict[str, Any]] = {}
        self.balance_transactions: dict[str, list[dict[str, Any]]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.coupons: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.fail_status = 500
        self.lose_next = 0
        self.lose_status = 500
        self.lose_by_dropping = False
        self.delay_next = 0
        self.delay_seconds = 0.0
        self.in_flight: set[str] = set()
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.price_amounts = price_amounts or {}
        self.ids = itertools.count(1)
        self.base_url = ""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_standin{next(self.ids):06d}{secrets.token_hex(4)}"
