"""The two databases the store runs on, behind one small interface: a transaction that executes
SQL written once (``?`` placeholders), its migrations, its size, and a lock that lets one syncer
run at a time.

SQLite is embedded: one file per organization, WAL (readers never wait for the writer), mode 0600,
one connection shared by the process's worker threads behind a lock. PostgreSQL is shared: a
connection pool, and advisory locks where SQLite would rely on its single writer.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from close_events_mcp.store.schema import LATEST, MIGRATIONS, VERSION_TABLE

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

Row = tuple[Any, ...]
Kind = Literal["sqlite", "postgresql"]
BUSY_TIMEOUT_MS = 5000
"""How long SQLite waits for another process's write before it says the store is locked."""


class StoreFailed(Exception):
    """The store cannot be used (missing, corrupt, locked, unreachable, or of another organization).
    The message says which, never what the store holds."""


class Transaction(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def lock(self, name: str) -> None:
        """Serialise this transaction with others that lock ``name`` (until it ends)."""
        ...


class Database(Protocol):
    kind: Kind
    where: str
    """Where it is, for status lines: a path, or a PostgreSQL address without its password."""

    def transaction(self, *, write: bool = True) -> contextlib.AbstractContextManager[Transaction]:
        """One transaction; ``write=False`` for one that only reads (SQLite then lets a writer in
        another process go on beside it)."""
        ...

    def size_bytes(self, org_id: str) -> int: ...

    def syncer_lock(self, org_id: str) -> contextlib.AbstractContextManager[bool]:
        """Held while one ``sync`` runs for ``org_id``; yields False when another holds it."""
        ...

    def close(self) -> None: ...


def migrate(database: Database) -> None:
    """Bring the schema to ``LATEST``; refuse a store written by a newer version."""
    with database.transaction() as tx:
        tx.lock("schema")
        tx.execute(VERSION_TABLE)
        rows = tx.execute("SELECT MAX(version) FROM schema_version")
        current = int(rows[0][0] or 0)
        if current > LATEST:
            raise StoreFailed(
                f"the store's schema is version {current}, newer than this server knows ({LATEST}); "
                "upgrade close-events-mcp"
            )
        for version in range(current + 1, LATEST + 1):
            for statement in MIGRATIONS[version - 1]:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, int(time.time()))
            )


# --- SQLite ---------------------------------------------------------------------------------------


class _SqliteTransaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._connection.execute(sql, tuple(params)).fetchall()

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._connection.executemany(sql, [tuple(row) for row in rows])

    def lock(self, name: str) -> None:
        """Nothing to do: a SQLite transaction begun IMMEDIATE is the only writer."""


class SqliteDatabase:
    """A SQLite file. Each worker thread reads and writes through a connection of its own, so that a
    long read never holds up another call (WAL lets readers and the one writer go on side by side)."""

    kind: Kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._local = threading.local()
        self._connections: list[tuple[sqlite3.Connection, threading.Lock]] = []
        """Each thread's connection, and the lock it holds while in a transaction (``close`` waits)."""
        self._guard = threading.Lock()
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # 0600 before SQLite opens it (its -wal and -shm files take the same mode): CRM data is
            # never readable by others, not even for a moment, nor when the file was made by hand.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except OSError as error:
            raise StoreFailed(f"the SQLite store could not be opened ({_sqlite_reason(error)})") from None
        connection, _ = self._connection()
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            # Reading the schema finds a file that is not a database at once; damage deeper in is
            # found by the query that meets it (a full integrity check would read every page).
            connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as error:
            self.close()
            raise StoreFailed(f"the SQLite store could not be opened ({_sqlite_reason(error)})") from None
        for sidecar in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(OSError):
                sidecar.chmod(0o600)

    def _connection(self) -> tuple[sqlite3.Connection, threading.Lock]:
        """This thread's connection, opened on its first use, and its lock."""
        mine: tuple[sqlite3.Connection, threading.Lock] | None = getattr(self._local, "connection", None)
        if mine is not None:
            return mine
        try:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as error:
            raise StoreFailed(f"the SQLite store could not be opened ({_sqlite_reason(error)})") from None
        mine = (connection, threading.Lock())
        with self._guard:
            if self._closed:
                connection.close()
                raise StoreFailed("the SQLite store was closed")
            self._connections.append(mine)
        self._local.connection = mine
        return mine

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        connection, in_use = self._connection()
        with in_use:
            if self._closed:
                raise StoreFailed("the SQLite store was closed")
            try:
                connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as error:
                reason = _sqlite_reason(error)
                raise StoreFailed(f"the SQLite store could not be written ({reason})") from None
            try:
                yield _SqliteTransaction(connection)
                connection.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise StoreFailed(f"the SQLite store failed ({_sqlite_reason(error)})") from None
                raise

    def size_bytes(self, org_id: str) -> int:
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    @contextlib.contextmanager
    def syncer_lock(self, org_id: str) -> Iterator[bool]:
        import fcntl  # noqa: PLC0415  (POSIX only; the lock is only taken by ``sync``)

        lock_path = self.path.with_name(self.path.name + ".sync-lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close every thread's connection, each once its transaction (if any) is over."""
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for index, (connection, in_use) in enumerate(connections):
            with in_use, contextlib.suppress(sqlite3.Error):
                if index == 0:  # as SQLite advises: statistics for the planner, where they would help
                    connection.execute("PRAGMA analysis_limit = 400")
                    connection.execute("PRAGMA optimize")
                connection.close()


def _sqlite_reason(error: BaseException) -> str:
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return f"locked by another process for over {BUSY_TIMEOUT_MS // 1000} s"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "the file is damaged or not a SQLite database"
    if isinstance(error, PermissionError) or "readonly" in text or "permission" in text:
        return "no permission to read and write it"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__


# --- PostgreSQL -----------------------------------------------------------------------------------


class _PostgresTransaction:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(_pg(sql), tuple(params))
        return list(self._cursor.fetchall()) if self._cursor.description else []

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(_pg(sql), [tuple(row) for row in rows])

    def lock(self, name: str) -> None:
        self._cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(name),))


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _lock_key(name: str) -> int:
    """A stable 63-bit key for an advisory lock on ``name``."""
    return zlib.crc32(name.encode()) | (zlib.adler32(name.encode()) << 32) & 0x7FFFFFFFFFFFFFFF


class PostgresDatabase:
    kind: Kind = "postgresql"

    def __init__(self, dsn: str, *, max_connections: int = 8) -> None:
        try:
            import psycopg  # noqa: PLC0415  (only a PostgreSQL store needs it)
            from psycopg_pool import ConnectionPool  # noqa: PLC0415
        except ImportError:
            raise StoreFailed(
                "CLOSE_EVENTS_STORE names PostgreSQL, but psycopg is not installed: "
                "pip install 'close-events-mcp[postgres]'"
            ) from None
        self.where = without_password(dsn)
        self._errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        try:  # one connection first: a server that is down is said at once, not after the pool's wait
            psycopg.connect(dsn, connect_timeout=5).close()
        except psycopg.Error as error:
            raise StoreFailed(
                f"PostgreSQL at {self.where} cannot be reached ({type(error).__name__})"
            ) from None
        try:
            self._pool: ConnectionPool = ConnectionPool(
                dsn,
                min_size=1,
                max_size=max_connections,
                open=False,
                timeout=10,
                kwargs={"connect_timeout": 5},
            )
            self._pool.open(wait=True, timeout=10)
        except Exception as error:  # psycopg_pool raises timeouts of its own
            raise self._unreachable(error) from None

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        try:
            with (
                self._pool.connection() as connection,
                connection.transaction(),
                connection.cursor() as cursor,
            ):
                yield _PostgresTransaction(cursor)
        except self._errors as error:
            raise StoreFailed(f"PostgreSQL at {self.where} failed ({type(error).__name__})") from None
        except Exception as error:
            if type(error).__module__.startswith("psycopg_pool"):
                raise self._unreachable(error) from None
            raise

    def _unreachable(self, error: BaseException) -> StoreFailed:
        return StoreFailed(f"PostgreSQL at {self.where} cannot be reached ({type(error).__name__})")

    def size_bytes(self, org_id: str) -> int:
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT COALESCE(SUM(pg_column_size(e.*)), 0) FROM events e WHERE org_id = ?", (org_id,)
            )
        return int(rows[0][0] or 0)

    @contextlib.contextmanager
    def syncer_lock(self, org_id: str) -> Iterator[bool]:
        key = _lock_key(f"sync:{org_id}")
        try:
            with self._pool.connection() as connection:
                held = bool(connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])  # type: ignore[index]
                connection.commit()
                try:
                    yield held
                finally:
                    if held:
                        connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
                        connection.commit()
        except self._errors as error:
            raise StoreFailed(f"PostgreSQL at {self.where} failed ({type(error).__name__})") from None

    def close(self) -> None:
        self._pool.close()


def without_password(dsn: str) -> str:
    """A PostgreSQL URL as shown to people: no password, no query (it may carry one too); several
    hosts (``h1:5432,h2:5432``) are kept as they are."""
    scheme, _, rest = dsn.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        user_info, _, hosts = authority.rpartition("@")
        authority = f"{user_info.partition(':')[0]}@{hosts}"
    return f"{scheme}://{authority}{slash}{path.partition('?')[0]}"
