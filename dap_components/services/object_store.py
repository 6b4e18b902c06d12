"""The object-store seam: MLflow needs a bucket and a key that can use only that bucket.

MinIO is archived upstream; a second S3 server (RustFS, Garage, SeaweedFS) plugs in by providing
another ``ObjectStore`` with the same two members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi

from .base import ServiceResult


@dataclass(frozen=True)
class BucketCredentials:
    bucket: str
    access_key_id: pulumi.Output[str]  # secret
    secret_access_key: pulumi.Output[str]  # secret
    ready: pulumi.Resource  # the provisioning step; depend on it before using the key


class ObjectStore(Protocol):
    service: ServiceResult
    # The public S3 URL (https://s3.<domain>[:port]). Servers use it too, through the proxy's alias on the
    # storage network, so the presigned URLs MLflow hands to clients are reachable by them.
    endpoint: str

    def bucket_with_key(self, bucket: str) -> BucketCredentials:
        """Create ``bucket`` and an access key whose policy allows that bucket only."""
        ...
