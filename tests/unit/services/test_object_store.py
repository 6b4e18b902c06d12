"""services/object_store.py is a seam without behaviour of its own: the contract is that MinioStore provides what
the ObjectStore protocol names, with the types MLflow relies on."""

import dataclasses
import inspect
from typing import Protocol, runtime_checkable

import pulumi
import pytest

from tests.unit.helpers import host_context

from dap_components.services.base import ServiceResult
from dap_components.services.minio import MinioStore
from dap_components.services.object_store import BucketCredentials, ObjectStore


@runtime_checkable
class CheckableStore(ObjectStore, Protocol):
    pass


def protocol_members(proto):
    return set(proto.__annotations__) | {k for k, v in vars(proto).items() if inspect.isfunction(v) and not k.startswith("_")}


def test_the_protocol_names_two_members_and_one_method():
    assert protocol_members(ObjectStore) == {"service", "endpoint", "bucket_with_key"}


def test_minio_store_declares_the_members_with_the_same_signature():
    for name in protocol_members(ObjectStore) - set(ObjectStore.__annotations__):
        assert inspect.signature(getattr(MinioStore, name)) == inspect.signature(getattr(ObjectStore, name)), name


def test_a_minio_store_is_an_object_store(program):
    def fn():
        s = MinioStore(host_context())
        b = s.bucket_with_key("mlflow")
        return {"store": s, "bucket": b, "id": b.access_key_id, "secret": b.secret_access_key}

    run = program(fn)
    store, bucket = run.objects["store"], run.objects["bucket"]
    assert isinstance(store, CheckableStore)
    assert isinstance(store.service, ServiceResult) and store.service.container is not None
    assert isinstance(store.endpoint, str) and store.endpoint == "https://s3.dap.example.test"
    # what bucket_with_key promises: that bucket, a key whose parts are secret, the step to wait for
    assert isinstance(bucket, BucketCredentials) and bucket.bucket == "mlflow"
    assert run.outputs["id"][1] is True and run.outputs["secret"][1] is True
    assert isinstance(bucket.ready, pulumi.Resource)


def test_bucket_credentials_are_immutable():
    b = BucketCredentials("mlflow", None, None, None)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.bucket = "other"  # type: ignore[misc]
