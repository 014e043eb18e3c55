"""Real redis-server and mariadbd processes on free ports, in a folder of their own."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from app.launcher.processes import LaunchError, find_binary, free_port, stop_process, wait_for_port


@dataclass
class RedisServer:
    """One redis-server; `restart(wipe=True)` simulates a crash that loses its data."""

    folder: Path
    port: int = field(default_factory=free_port)
    persistent: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            find_binary("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--logfile",
            str(self.folder / "redis.log"),
            "--maxclients",
            "10000",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, process=self.process, timeout=15, what="redis-server")
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the data in memory is gone (unless persistent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, *, wipe: bool = False) -> None:
        """Stop and start again on the same port; `wipe` also drops any persisted data."""
        self.kill()
        if wipe:
            for leftover in self.folder.glob("appendonly*"):
                if leftover.is_dir():
                    for part in leftover.iterdir():
                        part.unlink()
                    leftover.rmdir()
                else:
                    leftover.unlink()
        self.start()


@dataclass
class MariaDBServer:
    """A mariadbd with its own data folder, root without a password, on a free port."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # False trades the last second of commits on an OS crash for speed (tests, benchmarks of
    # the app rather than of the disk); the cluster keeps full durability.
    durable: bool = True

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    @property
    def tmpdir(self) -> Path:
        return self.folder / "tmp"

    def url(self, database: str, *, user: str = "root", password: str = "") -> str:
        auth = f"{user}:{password}" if password else user
        return f"mysql+aiomysql://{auth}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def start(self) -> MariaDBServer:
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").exists():
            result = subprocess.run(
                [
                    find_binary("mariadb-install-db", "mysql_install_db"),
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    # A private temp dir: concurrent installs in /tmp collide on table names.
                    f"--tmpdir={self.tmpdir}",
                ],
                capture_output=True,
                check=False,
            )
            if result.returncode != 0:
                raise LaunchError(f"mariadb-install-db failed: {result.stderr.decode()[-800:]}")
        args = [
            find_binary("mariadbd", "mysqld"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.folder / 'mysqld.sock'}",
            f"--pid-file={self.folder / 'mysqld.pid'}",
            f"--log-error={self.folder / 'mariadb.log'}",
            f"--tmpdir={self.tmpdir}",
            "--user=root",
            "--skip-log-bin",
            "--skip-name-resolve",
            "--max-connections=1000",
            "--innodb-buffer-pool-size=256M",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            f"--innodb-flush-log-at-trx-commit={1 if self.durable else 2}",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, process=self.process, timeout=60, what="mariadbd")
        return self

    def create_database(self, name: str) -> None:
        """Create (or recreate empty) the database `name`."""
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="")
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            conn.commit()
        finally:
            conn.close()

    def stop(self) -> None:
        stop_process(self.process, timeout=30)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: the next start runs InnoDB's crash recovery."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None
