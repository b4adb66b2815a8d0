"""A throw-away PostgreSQL cluster on a loopback port, for tests and benchmarks.

    with throwaway_postgres() as url:       # postgresql://arena:<password>@127.0.0.1:<port>/arena
        ...

``initdb`` makes a cluster in a fresh temporary folder, ``pg_ctl`` starts it on a free loopback port
(its Unix socket in the same folder, so nothing outside it is touched), a database is created, and at the
end the server is stopped and the folder removed. PostgreSQL refuses to run as root: as root, the folder
is given to the ``postgres`` user and the commands run through ``runuser -u postgres --``.

The binaries are looked up on ``PATH``, then in ``/usr/lib/postgresql/<version>/bin`` (Debian's layout,
newest version first). :class:`PostgresMissing` says how to install them when they are not there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

RUN_AS = "postgres"  # the user that owns the cluster when this runs as root


class PostgresMissing(RuntimeError):
    """initdb / pg_ctl are not installed (or cannot be run)."""


def pg_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's versioned folder (newest first), else PATH."""
    versions = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in versions:
        if (folder / "pg_ctl").exists():
            return folder
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    raise PostgresMissing(
        "PostgreSQL's initdb and pg_ctl were not found (/usr/lib/postgresql/*/bin, PATH). Install them "
        "(Debian/Ubuntu: apt-get install -y postgresql; .ci/run does it), or set "
        "GENCOMMONS_TESTS_NO_POSTGRES=1 to skip the PostgreSQL tests."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """One cluster: ``start()`` → ``url`` → ``stop()`` (which also removes its folder).

    Args:
        durable: keep PostgreSQL's defaults (fsync on every commit). False (tests) turns off fsync,
            synchronous_commit and full_page_writes: faster, and safe enough for a cluster that lives
            for one test session.
        dbname: the database to create.
    """

    def __init__(self, *, durable: bool = False, dbname: str = "arena", user: str = "arena"):
        self.bin = pg_bin_dir()
        self.durable = durable
        self.dbname = dbname
        self.user = user
        self.password = secrets.token_hex(12)
        self.port = 0
        self.root: Path | None = None
        self.as_root = os.geteuid() == 0

    # -- commands -----------------------------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        exe = [str(self.bin / args[0]), *args[1:]]
        return ["runuser", "-u", RUN_AS, "--", *exe] if self.as_root else exe

    def _run(self, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            log = self.log_tail()
            raise RuntimeError(
                f"{' '.join(args[:2])} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout}"
                + (f"\n--- server log ---\n{log}" if log else "")
            )

    def log_tail(self, lines: int = 30) -> str:
        if self.root is None or not (self.root / "server.log").exists():
            return ""
        return "\n".join((self.root / "server.log").read_text(errors="replace").splitlines()[-lines:])

    # -- life cycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    def start(self) -> str:
        """Create, start and return the URL of the database (tries a few ports if one is taken)."""
        self.root = Path(tempfile.mkdtemp(prefix="gencommons-pg-"))
        if self.as_root:
            try:
                pw = pwd.getpwnam(RUN_AS)
            except KeyError:
                raise PostgresMissing(
                    f"Running as root, and there is no {RUN_AS!r} user to own the cluster "
                    "(PostgreSQL refuses to run as root); install the postgresql package, which creates it."
                ) from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.as_root:
            os.chown(pwfile, pwd.getpwnam(RUN_AS).pw_uid, -1)
        data = self.root / "data"
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        pwfile.unlink()
        options = [f"-c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=200"]
        if not self.durable:
            options.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        last: Exception | None = None
        for _ in range(5):  # a free port can be taken between free_port() and the server's bind
            self.port = free_port()
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {self.port} " + " ".join(options),
                    "start",
                )
                break
            except RuntimeError as e:
                last = e
        else:
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {last}")
        self._create_database()
        return self.url

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                self.create_database(self.dbname)
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def create_database(self, name: str) -> str:
        """Create one more (empty) database in this cluster; return its URL."""
        import psycopg

        base = f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is kept) and remove its folder."""
        if self.root is None:
            return
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


@contextlib.contextmanager
def throwaway_postgres(*, durable: bool = False, dbname: str = "arena") -> Iterator[str]:
    """Start a cluster, yield its database URL, stop and remove it at the end."""
    cluster = PostgresCluster(durable=durable, dbname=dbname)
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()
