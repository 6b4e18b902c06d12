"""render/credentials.py: the credential files client libraries read, parsed back as those libraries do."""

import configparser

import pytest

from dap_components.render.credentials import render_aws_credentials, render_mlflow_credentials, render_pgpass

TRICKY = ["plain", "with%percent", "with:colon", "back\\slash", "trailing\\", "a=b;c#d", "-_leading"]


def ini(text):
    parser = configparser.ConfigParser(interpolation=None)  # botocore and MLflow read without interpolation
    parser.read_string(text)
    return parser


@pytest.mark.parametrize("secret", TRICKY)
def test_aws_shared_credentials(secret):
    p = ini(render_aws_credentials("AKID", secret))
    assert p.sections() == ["default"]
    assert dict(p["default"]) == {"aws_access_key_id": "AKID", "aws_secret_access_key": secret}


@pytest.mark.parametrize("secret", TRICKY)
def test_mlflow_credentials(secret):
    p = ini(render_mlflow_credentials("mlflow", secret))
    assert p.sections() == ["mlflow"]
    assert dict(p["mlflow"]) == {"mlflow_tracking_username": "mlflow", "mlflow_tracking_password": secret}


def pgpass_fields(line):
    """Split one .pgpass line as libpq does: ':' separates, '\\' escapes the next character."""
    fields, cur, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            i += 2
        elif ch == ":":
            fields.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(ch)
            i += 1
    fields.append("".join(cur))
    return fields


@pytest.mark.parametrize("secret", TRICKY)
def test_pgpass(secret):
    text = render_pgpass("postgres-service", 5432, "mlflow", "mlflow", secret)
    assert text.endswith("\n") and text.count("\n") == 1
    assert pgpass_fields(text.rstrip("\n")) == ["postgres-service", "5432", "mlflow", "mlflow", secret]


def test_pgpass_escapes_every_field():
    text = render_pgpass("h:1", 5432, "d\\b", "u:x", "p")
    assert pgpass_fields(text.rstrip("\n")) == ["h:1", "5432", "d\\b", "u:x", "p"]


def test_the_secret_is_only_where_it_belongs():
    secret = "mocksecret-xyz"
    for text, key in [
        (render_aws_credentials("AKID", secret), "aws_secret_access_key"),
        (render_mlflow_credentials("mlflow", secret), "mlflow_tracking_password"),
    ]:
        assert text.count(secret) == 1
        (line,) = [ln for ln in text.splitlines() if secret in ln]
        assert line.split("=", 1)[0].strip() == key
    assert pgpass_fields(render_pgpass("h", 1, "d", "u", secret).rstrip("\n")).index(secret) == 4  # the password field
