"""Where a webhook request's time goes: the real WSGI handler (every middleware, the view, the
inbox insert, the broker publish) called in-process with signed `invoice.paid` bodies, under
cProfile. No HTTP server: the figure is Django's and ours, not gunicorn's.

    .venv/bin/python bench/webhook_profile.py [--events 2000] [--sort tottime] [--limit 40]

Runs on its own embedded PostgreSQL and Redis under --data-dir (never the dev or test data).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

SECRET = "whsec_bench"  # noqa: S105 - the bench servers' own signing secret


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-webhook-profile"))
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--no-profile", action="store_true", help="only time the requests")
    parser.add_argument(
        "--wall",
        action="store_true",
        help="profile wall time (default: this thread's CPU time, which waiting does not inflate)",
    )
    return parser.parse_args()


def main() -> None:
    options = arguments()
    stack.stack_start(options.data_dir, environ={"STRIPE_WEBHOOK_SECRETS": SECRET, "DJANGO_LOG_LEVEL": "ERROR"})
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from bench.stripe_events import invoice_event
    from billing.standin import sign

    stack.database_reset()
    handler = WSGIHandler()

    def request(body: str) -> int:
        data = body.encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/stripe/webhook/",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": settings.BASE_DOMAIN,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": settings.BASE_DOMAIN,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "HTTP_STRIPE_SIGNATURE": sign(body, SECRET),
            "wsgi.input": io.BytesIO(data),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        statuses: list[str] = []
        chunks = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        return int(statuses[0].split()[0])

    try:
        bodies = [
            invoice_event(f"evt_prof_{n}", f"cus_unknown_{n}", f"in_prof_{n}") for n in range(options.events + 200)
        ]
        for body in bodies[:200]:
            assert request(body) == 200
        profiler = cProfile.Profile() if options.wall else cProfile.Profile(time.thread_time)
        started = time.perf_counter()
        cpu = time.process_time()
        if not options.no_profile:
            profiler.enable()
        for body in bodies[200:]:
            assert request(body) == 200
        if not options.no_profile:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{options.events} distinct events in-process: {options.events / elapsed:.0f}/s, "
            f"{elapsed / options.events * 1e6:.0f} µs wall and {cpu / options.events * 1e6:.0f} µs CPU each"
            + ("" if options.no_profile else " (under the profiler)")
        )
        if not options.no_profile:
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats(options.sort).print_stats(options.limit)
            print(stream.getvalue())
    finally:
        stack.stack_stop()


if __name__ == "__main__":
    main()
