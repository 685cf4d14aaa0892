"""Fixtures of the service tests: one synthetic dataset per session, one app per module."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from jpki_fast_service import ServiceConfig, create_app
from .svc_helpers import Dataset, build


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Dataset:
    return build(tmp_path_factory.mktemp("service"))


@pytest.fixture(scope="module")
def config(dataset, tmp_path_factory) -> ServiceConfig:
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    return ServiceConfig(store=dataset.store, api_keys=dataset.key_file, audit_log=audit)


@pytest.fixture(scope="module")
def client(config):
    with TestClient(create_app(config)) as c:
        yield c


@pytest.fixture(scope="session")
def console_world(tmp_path_factory):
    """The console's store: a few days of history up to the real current time (console_helpers)."""
    from .console_helpers import build_world

    return build_world(tmp_path_factory.mktemp("console-world"))
