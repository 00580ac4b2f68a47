"""What an operator sets wins over CareLedger's defaults."""

from __future__ import annotations

import pytest

from careledger.infra.telemetry import resource_of


def test_otel_service_name_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    assert resource_of("api").attributes["service.name"] == "careledger-api"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "clinic-north-api")
    assert resource_of("api").attributes["service.name"] == "clinic-north-api"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES",
                       "service.name=from-attributes,deployment.environment=staging")
    resource = resource_of("relay")
    assert resource.attributes["service.name"] == "from-attributes"
    assert resource.attributes["deployment.environment"] == "staging"
