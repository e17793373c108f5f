"""``make serve``: the whole deployment on 127.0.0.1, moto as AWS, until Ctrl-C.

python -m local.serve [--port 8000] [--workers 4] [--reaper-every 60] [--keep-in DIR]

FAULT_RATE=0.05 injects AWS's transient errors into 5% of the functions' calls (local.faults);
ACCOUNT_CONCURRENCY=20 gives the account a pool of 20 concurrent executions (local.concurrency;
1,000 without it, AWS's default).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from . import faults, lambdas
from .gateway import API_GATEWAY_MAX_PAYLOAD
from .runtime import LocalDeployment
from .statefile import claim_state, state_file
from .template import ROOT

KEPT_IN = ROOT / ".uws-local"  # where `make serve` keeps jobs and files; `make clean` forgets


class ApiGatewayHandler(BaseHTTPRequestHandler):
    """Turns each HTTP request into the REST proxy event API Gateway would send."""

    deployment: LocalDeployment
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, and without Nagle's delay: otherwise a
        # keep-alive client waits ~40 ms for the delayed ACK on every response with a body.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._chunked_body()  # Java's HttpURLConnection streams uploads so
        elif length > API_GATEWAY_MAX_PAYLOAD:
            body = None  # answered without reading what is too much
        else:
            body = self.rfile.read(length) if length else b""
        if body is None:
            reply = self.deployment.too_large()
            self._reply(reply.status, reply.headers, reply.body)
            self.close_connection = True
            return
        url = urlsplit(self.path)
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        reply = self.deployment.http(
            self.command, url.path, url.query, dict(self.headers.items()), body, host
        )
        self._reply(reply.status, reply.headers, reply.body)

    def _chunked_body(self) -> bytes | None:
        """A chunked request body (RFC 9112, 7.1), as API Gateway takes it whole before the
        function sees it; None once it passes API Gateway's payload limit."""
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailer fields, then the blank line
                    pass
                return b"".join(chunks)
            total += size
            if total > API_GATEWAY_MAX_PAYLOAD:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)  # the CRLF after each chunk

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """One write for headers and body; a HEAD gets the headers (Content-Length that of
        the GET) and no body."""
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")  # end_headers() without its separate flush
        self.wfile.write(b"".join(self._headers_buffer) + (b"" if self.command == "HEAD" else body))
        self._headers_buffer = []

    def __getattr__(self, name: str) -> object:
        """Every method reaches the deployment (do_TRACE, do_FOO …), which answers as API
        Gateway does, instead of http.server's own 501 page."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("ACCESS_LOG"):
            super().log_message(format, *args)


class ApiServer(ThreadingHTTPServer):
    """One thread a connection. The listen backlog is the kernel's usual maximum, not
    http.server's 5, so a burst of clients queues instead of being reset."""

    request_queue_size = 1024
    daemon_threads = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 4)))
    parser.add_argument(
        "--reaper-every", type=float, default=float(os.environ.get("REAPER_EVERY", 60))
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=os.environ.get("PARAMETER_OVERRIDES", "").split(),
        metavar="NAME=VALUE",
        help="template parameters, as for sam deploy (e.g. WaitCapSeconds=5 AuthMode=iam)",
    )
    parser.add_argument(
        "--tap",
        action="store_true",
        help="a TAP service over Hipparcos-2 (JobType=tap; the catalogue in the embedded S3)",
    )
    parser.add_argument(
        "--keep-in",
        default=os.environ.get("KEEP_IN", str(KEPT_IN)),
        metavar="DIR",
        help="where jobs and files survive restarts ('' keeps them in memory only)",
    )
    args = parser.parse_args(argv)
    # On Lambda each function has a process; here they share one. With Python's default
    # switch interval (5 ms) a thread holding moto's DynamoDB lock is preempted by the tens
    # of others a burst of clients brings, and all of them queue behind it: 50 clients took
    # twice as long. Longer slices let a call finish before the next thread runs.
    sys.setswitchinterval(0.05)
    overrides = dict(item.split("=", 1) for item in args.parameter_overrides)
    if args.tap:
        overrides.setdefault("JobType", "tap")
        overrides.setdefault("JobTypeModules", "tap.jobtype")

    try:  # the port first: a busy one is a sentence, before anything else starts
        server = ApiServer(("127.0.0.1", args.port), ApiGatewayHandler)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        sys.exit(f"Port {args.port} is in use (another make serve?); try PORT={args.port + 1}.")
    # The events function's JOB_URL_BASE (the template gives it the API's URL)
    os.environ["JOB_URL_BASE"] = f"http://127.0.0.1:{server.server_address[1]}"
    enforce_iam = os.environ.get("ENFORCE_IAM", "") not in ("", "0")
    keep_in = Path(args.keep_in) if args.keep_in else None
    deployment = LocalDeployment().start(
        parameters=overrides, enforce_iam=enforce_iam, keep_in=keep_in
    )
    if args.tap:
        from .catalogue import serve_hipparcos

        catalogue = serve_hipparcos()
    deployment.start_event_sources(workers=args.workers, reaper_every=args.reaper_every)
    ApiGatewayHandler.deployment = deployment
    fault_rate = float(os.environ.get("FAULT_RATE") or 0)
    if fault_rate:
        faults.inject(fault_rate)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    state = {
        "pid": os.getpid(),
        "endpoint": deployment.endpoint,
        "refs": deployment.refs,
        "url": base,
        "harness": deployment.harness,
    }
    claimed = claim_state(state)
    iam_note = ", every function under its own IAM role" if enforce_iam else ""
    print(
        f"UWS job service at {base}/async  (embedded AWS: moto at {deployment.endpoint}{iam_note})"
    )
    if args.tap:
        print(f"TAP service at {base} (/sync, /async, /tables, /capabilities) over {catalogue}")
    if fault_rate:
        print(f"AWS's transient errors in {fault_rate:.0%} of the functions' calls (FAULT_RATE)")
    held = lambdas.limits()
    if held is not None and os.environ.get("ACCOUNT_CONCURRENCY"):
        print(f"Lambda concurrency: an account pool of {held.pool}, {held.unreserved} unreserved"
              f" (ACCOUNT_CONCURRENCY)")  # fmt: skip
    if keep_in is None:
        print("jobs and files are kept in memory only")
    else:
        shown = keep_in.relative_to(ROOT) if keep_in.is_relative_to(ROOT) else keep_in
        again = f", {deployment.restored} stored items loaded" if deployment.restored else ""
        print(
            f"jobs and files are kept in {shown}/ across restarts{again} (make clean forgets them)"
        )
    if args.tap:
        query = "SELECT TOP 5 hip, ra, dec, hpmag FROM hipparcos.main ORDER BY hpmag"
        print(f'try: curl -d LANG=ADQL --data-urlencode "QUERY={query}" {base}/sync')
    else:
        print(f"try: curl -i -d TEXT=hello -d PHASE=RUN {base}/async")
    sys.stdout.flush()

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        deployment.stop()
        if claimed:
            state_file().unlink(missing_ok=True)
        if fault_rate:
            print(f"faults injected: {faults.INJECTOR.summary()}")
        if held is not None:
            print(f"invocations throttled: {held.summary()}")
        print("stopped")


if __name__ == "__main__":
    main()
