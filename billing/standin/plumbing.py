"""The HTTP plumbing every part of the handler shares: answers, errors, the request body and
the server's state."""

from __future__ import annotations

import json
import secrets
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from billing.standin.state import StandinState

if TYPE_CHECKING:
    from billing.standin.server import StandinServer


class HandlerBase(BaseHTTPRequestHandler):
    server: StandinServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(
        self,
        status: int,
        body: dict[str, Any] | str,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str, error_type: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"type": error_type, "message": message}})

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    @property
    def state(self) -> StandinState:
        return self.server.state
