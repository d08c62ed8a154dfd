"""Docker HEALTHCHECK for the web container: GET /healthz on the local gunicorn.

Exits 0 only on HTTP 200 (database and broker both reachable); 503 "degraded", a refused
connection or a timeout all exit 1. /healthz is answered before host validation and tenant
routing (dentaltap.middleware.HealthCheckMiddleware), so 127.0.0.1 as the host is fine.
"""

import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("DENTALTAP_HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=4) as response:  # noqa: S310 - fixed local URL
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as error:
        print(f"{URL}: HTTP {error.code} {error.read()[:300]!r}", file=sys.stderr)
    except OSError as error:
        print(f"{URL}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
