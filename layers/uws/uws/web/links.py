"""Absolute URLs of the service's resources, as clients must be given them (docs/uws.md:
every Location and href is absolute, under the API's public base URL)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Links:
    """Absolute URLs under the API's public base (stage prefix or custom domain included)."""

    base: str  # e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def jobs(self) -> str:
        return self.url("async")

    def job(self, job_id: str) -> str:
        return self.url(f"async/{job_id}")

    def result(self, job_id: str, result_id: str) -> str:
        return self.url(f"async/{job_id}/results/{quote(result_id, safe='')}")

    def parameter(self, job_id: str, name: str) -> str:
        return self.url(f"async/{job_id}/parameters/{quote(name, safe='')}")
