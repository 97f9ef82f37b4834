"""The one settings object: each variable converted by its field's declared type."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from todo.settings import CONVERSIONS, Settings, _boolean, _converters


def test_every_field_is_read_by_the_conversion_of_its_declared_type() -> None:
    settings = Settings.from_env(
        {
            "DB_POOL_MAX": "7",
            "DB_CONNECT_TIMEOUT": "2.5",
            "DATA_DIR": "/var/lib/todo",
            "JWT_ISSUER": "issuer",
            "DAPR_HTTP_PORT": "3501",
        }
    )
    assert settings.db_pool_max == 7
    assert settings.db_connect_timeout == 2.5
    assert settings.data_dir == Path("/var/lib/todo")
    assert settings.jwt_issuer == "issuer"
    assert settings.dapr_http_port == 3501  # `int | None` reads as an int
    assert set(_converters()) == {f.name for f in dataclasses.fields(Settings)}
    for name, value in dataclasses.asdict(Settings.from_env({})).items():
        assert value == getattr(Settings(), name)


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("0", False), (" Yes ", True)])
def test_a_boolean_reads_as_a_boolean_not_as_text(raw: str, value: bool) -> None:
    assert _boolean(raw) is value
    assert CONVERSIONS[bool] is _boolean


@pytest.mark.parametrize(("name", "raw"), [("DB_POOL_MAX", "lots"), ("DB_CONNECT_TIMEOUT", "soon")])
def test_a_malformed_value_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: raw})
