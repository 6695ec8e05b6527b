"""Where the store is: ``CLOSE_EVENTS_STORE`` read into a place, and the database it opens.

- unset (the default): SQLite, one file per organization under the user data directory
  (``$XDG_DATA_HOME/close-events-mcp``, else ``~/.local/share/close-events-mcp``; the platform's
  own on macOS and Windows);
- ``off``: no store;
- ``postgresql://…`` (or ``postgres://…``): PostgreSQL, shared by every server pointed at it;
- a path: a directory for the per-organization files, or one file (ending ``.sqlite3``, ``.sqlite`` or
  ``.db``) for one organization.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from close_events_mcp.store.backends import Database, PostgresDatabase, SqliteDatabase, without_password

APP_DIR = "close-events-mcp"
_FILE_SUFFIXES = (".sqlite3", ".sqlite", ".db")


@dataclass(frozen=True, slots=True)
class StorePlace:
    kind: Literal["sqlite-dir", "sqlite-file", "postgresql"]
    target: str

    def open(self, org_id: str) -> Database:
        if self.kind == "postgresql":
            return PostgresDatabase(self.target)
        return SqliteDatabase(self.file_for(org_id))

    def file_for(self, org_id: str) -> Path:
        if self.kind == "sqlite-file":
            return Path(self.target)
        return Path(self.target) / f"{_file_safe(org_id)}.sqlite3"

    def describe(self) -> str:
        if self.kind == "postgresql":
            return f"PostgreSQL {without_password(self.target)}"
        if self.kind == "sqlite-file":
            return f"SQLite {self.target}"
        return f"SQLite, one file per organization in {self.target}"


def store_place(setting: str, env: dict[str, str] | None = None) -> StorePlace | None:
    """The place ``CLOSE_EVENTS_STORE`` names; None when it is off."""
    value = setting.strip()
    if value.lower() == "off":
        return None
    if value.startswith(("postgresql://", "postgres://")):
        return StorePlace("postgresql", value)
    if not value:
        return StorePlace("sqlite-dir", str(default_directory(env)))
    path = Path(value).expanduser()
    if path.suffix in _FILE_SUFFIXES:
        return StorePlace("sqlite-file", str(path))
    return StorePlace("sqlite-dir", str(path))


def default_directory(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / APP_DIR


def _file_safe(org_id: str) -> str:
    return "".join(char if char.isalnum() or char in "_-" else "_" for char in org_id)[:100] or "org"
