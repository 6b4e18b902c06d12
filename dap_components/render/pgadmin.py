"""pgAdmin's servers.json: the platform's databases pre-registered, TLS required and verified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class PgServer:
    name: str
    host: str
    username: str
    port: int = 5432
    maintenance_db: str = "postgres"


SERVER_GROUP = "Data Analysis Platform"  # the group pgAdmin's explorer lists the platform's servers under


def render_servers_json(servers: Sequence[PgServer], ca_file: str) -> str:
    doc = {
        "Servers": {
            str(i): {
                "Name": s.name,
                "Group": SERVER_GROUP,
                "Host": s.host,
                "Port": s.port,
                "MaintenanceDB": s.maintenance_db,
                "Username": s.username,
                "ConnectionParameters": {"sslmode": "verify-full", "sslrootcert": ca_file, "connect_timeout": 10},
            }
            for i, s in enumerate(servers, start=1)
        }
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
