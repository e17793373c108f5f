"""The embedded AWS: moto's server on a port of 127.0.0.1 and the same backends in-process.

The functions' AWS calls reach moto in-process (``mock_aws``: no HTTP hop, a GetItem costs a
third of what it does through moto's server). S3's endpoint is moto's server
(``AWS_ENDPOINT_URL_S3``), so that a presigned URL names a host a client can reach, and moto is
told it is S3 (``MOTO_S3_CUSTOM_ENDPOINTS``), so that the functions' own S3 calls to it stay
in-process too. The server shares the same backends and offers them to ``make invoke``, the AWS
CLI and the container tasks.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import boto3

from .events import REGION
from .moto_fixes import apply_all


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedAws:
    """moto, started by :meth:`start` (the process's AWS from then on), stopped by :meth:`stop`."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self._server: Any = None
        self._in_process: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedAws:
        from moto import mock_aws
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from moto.server import ThreadedMotoServer

        # Keep-alive, as S3 offers: HTTP/1.0 made every download of a result a new connection.
        MotoRequestHandler.protocol_version = "HTTP/1.1"

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server's access log
        apply_all()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        # The same backends in-process; our keys stay (moto would put in fake ones).
        self._in_process = mock_aws(config={"core": {"mock_credentials": False}})
        self._in_process.start(reset=False)
        os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws serves only AWS's own hosts
        os.environ.update(
            {
                "AWS_ENDPOINT_URL_S3": self.endpoint,
                "MOTO_S3_CUSTOM_ENDPOINTS": self.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        boto3.DEFAULT_SESSION = None
        return self

    def stop(self) -> None:
        if self._in_process is not None:
            self._in_process.stop(remove_data=False)
            self._in_process = None
        if self._server is not None:
            self._server.stop()
            self._server = None
