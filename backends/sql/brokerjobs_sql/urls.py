"""Database URLs: parsing for PyMySQL, and hiding passwords before anything is shown."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"(password=)[^\s&]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL password (and ``password=`` parameter) replaced by ``***``."""
    text = _PASSWORD.sub(r"\g<scheme>:***@", text)
    return _PASSWORD_PARAM.sub(r"\1***", text)


def mysql_connect_args(url: str) -> dict[str, Any]:
    """PyMySQL keyword arguments for ``mysql://user:password@host:port/database``."""
    parts = urlsplit(url)
    if parts.scheme not in {"mysql", "mariadb", "mysql+pymysql"}:
        raise ValueError(f"expected a mysql:// URL, got {redact(url)!r}")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError(f"the MySQL URL {redact(url)!r} names no database (mysql://host/NAME)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            f"the port in the MySQL URL {redact(url)!r} is not a number from 0 to 65535"
        ) from None
    return {
        "host": parts.hostname or "localhost",
        "port": port or 3306,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "database": database,
    }
