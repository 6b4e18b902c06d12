"""Small credential files read by client libraries (so secrets never sit in container environments)."""

from __future__ import annotations

import configparser
import io


def _ini(section: str, values: dict[str, str]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser[section] = values
    buf = io.StringIO()
    parser.write(buf)
    return buf.getvalue()


def render_aws_credentials(access_key_id: str, secret_access_key: str) -> str:
    """boto3's shared credentials file (AWS_SHARED_CREDENTIALS_FILE)."""
    return _ini("default", {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key})


def render_mlflow_credentials(username: str, password: str) -> str:
    """MLflow's ~/.mlflow/credentials file for HTTP basic auth."""
    return _ini("mlflow", {"mlflow_tracking_username": username, "mlflow_tracking_password": password})


def render_pgpass(host: str, port: int, database: str, user: str, password: str) -> str:
    """libpq's password file (PGPASSFILE)."""
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace(":", "\\:")

    return f"{esc(host)}:{port}:{esc(database)}:{esc(user)}:{esc(password)}\n"
