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


def test_allowed_origins_read_as_a_browser_sends_them() -> None:
    settings = Settings.from_env(
        {"CORS_ALLOWED_ORIGINS": "https://App.example.com, http://localhost:5173,,"}
    )
    assert settings.cors_allowed_origins == ("https://app.example.com", "http://localhost:5173")
    assert Settings().cors_allowed_origins == ()


@pytest.mark.parametrize(
    "raw",
    [
        "*",
        "null",
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/app",
        "https://app.example.com:443",
        "http://app.example.com:80",
        "https://user@app.example.com",
        "https://app.example.com:99999",
        "ftp://app.example.com",
    ],
)
def test_an_origin_no_browser_would_send_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="CORS_ALLOWED_ORIGINS"):
        Settings.from_env({"CORS_ALLOWED_ORIGINS": f"https://ok.example.com,{raw}"})


def test_event_senders_read_as_a_comma_separated_list() -> None:
    settings = Settings.from_env(
        {"EVENT_SENDERS": "system:serviceaccount:todo:a,\n system:serviceaccount:todo:b,,"}
    )
    assert settings.event_senders == (
        "system:serviceaccount:todo:a",
        "system:serviceaccount:todo:b",
    )
