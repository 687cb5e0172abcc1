"""`make run`: everything a laptop needs, in one foreground process.

Starts PostgreSQL and Redis (embedded, unless DATABASE_URL / REDIS_URL name
real servers), migrates, seeds the demo tenant once, then runs the web server
(gunicorn), a Celery worker and Celery beat as child processes. Ctrl-C or
SIGTERM stops the children gracefully and waits for them; if one child dies,
the others are stopped and the exit status is non-zero. The embedded
PostgreSQL and Redis keep running for the next start (`make stop-embedded`
stops them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable
EMBEDDED = {"PostgreSQL": "DATABASE_URL", "Redis": "REDIS_URL"}
STOP_TIMEOUT = 30.0  # seconds a child gets to finish its work before SIGKILL


def log(message: str) -> None:
    print(f"[runall] {message}", flush=True)


class Child:
    """One supervised process in its own process group, output prefixed."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name = name
        # Own process group: a terminal Ctrl-C reaches only the supervisor, which
        # then stops each child once (Celery cold-stops on a second SIGINT).
        self.proc = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            process_group=0,
        )
        self.reader = threading.Thread(target=self._copy_output, daemon=True)
        self.reader.start()

    def _copy_output(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            sys.stdout.write(f"{self.name:>6} | {line}")
            sys.stdout.flush()

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signum)

    def kill_group(self) -> None:
        # Also takes down pool processes a killed parent would leave behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def supervise(children: dict[str, list[str]], *, env: dict[str, str], ready=None) -> int:
    """Run the children until a signal (exit 0) or until one of them exits (exit 1)."""
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum, _frame):
        signals.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    running: list[Child] = []
    failed: Child | None = None
    try:
        for name, argv in children.items():
            running.append(Child(name, argv, env))
        announced = ready is None
        while not stop.is_set():
            failed = next((c for c in running if c.proc.poll() is not None), None)
            if failed is not None:
                log(f"{failed.name} exited with status {failed.proc.returncode}; stopping the rest")
                break
            if not announced:
                announced = ready()
            stop.wait(0.2)
        else:
            log("stopping (signal received) ...")
    finally:
        _stop_all(running, signals)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 1 if failed is not None else 0


def _stop_all(running: list[Child], signals: list[int]) -> None:
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in running:
        # A second Ctrl-C while waiting means "now": skip the grace period.
        while child.proc.poll() is None and time.monotonic() < deadline and len(signals) < 2:
            time.sleep(0.1)
        if child.proc.poll() is None:
            log(f"{child.name} did not stop in time; killing it")
        child.kill_group()
        child.proc.wait()
        child.reader.join(timeout=2)
    log("all processes stopped")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args],
        cwd=BASE_DIR,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        log(f"manage.py {' '.join(args)} failed with status {result.returncode}")
        raise SystemExit(result.returncode)
    if capture:
        sys.stdout.write(result.stdout)
    return result.stdout or ""


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    host = os.environ.setdefault("CSP_HOST", "127.0.0.1")
    port = int(os.environ.setdefault("CSP_PORT", "8000"))
    if _port_open(host, port):
        log(f"{host}:{port} is already in use; stop what runs there or set CSP_PORT")
        return 1
    # The embedded PostgreSQL/Redis start here, once, and their URLs go into
    # the environment, so the children (manage.py, gunicorn, the Celery
    # worker and beat) connect instead of racing to start them.
    from csplatform.embedded import ensure_env

    embedded = [name for name, var in EMBEDDED.items() if not os.environ.get(var)]
    if embedded:
        log(f"starting embedded {' and '.join(embedded)} (data in CSP_DATA_DIR, default var/) ...")
    ensure_env()
    from csplatform import settings as conf

    conf.DATA_DIR.mkdir(parents=True, exist_ok=True)  # beat's schedule file lives there
    manage("migrate", "--noinput")
    logins = ""
    if os.environ.get("CSP_SEED_DEMO", "1") != "0":
        logins = manage("seed_demo", capture=True)
        manage("seed_demo_work")
    if not conf.DEBUG:
        # With DEBUG, whitenoise serves static files straight from the apps.
        manage("collectstatic", "--noinput")

    # fmt: off
    children = {
        "web": [PY, "-m", "gunicorn", "csplatform.wsgi:application",
                "--bind", f"{host}:{port}",
                "--workers", os.environ.get("CSP_WEB_WORKERS", "2"), "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "10"],
        "worker": [PY, "-m", "celery", "-A", "csplatform", "worker",
                   "-l", "info", "--concurrency", "2",
                   "-Q", ",".join(conf.WORKER_QUEUES)],
        "beat": [PY, "-m", "celery", "-A", "csplatform", "beat",
                 "-l", "info", "--schedule", str(conf.DATA_DIR / "celerybeat-schedule")],
    }
    # fmt: on

    def ready() -> bool:
        if not _port_open(host, port):
            return False
        url = f"http://{host}:{port}/"
        banner = ["", f"csplatform is running at {url}", *logins.strip().splitlines()[1:]]
        banner.append(
            "Serving the web app with a Celery worker and Celery beat; Ctrl-C stops all three."
        )
        print("\n".join(banner) + "\n", flush=True)
        return True

    log(f"starting web on {host}:{port}, a Celery worker and Celery beat ...")
    return supervise(children, env=dict(os.environ), ready=ready)


def stop_embedded() -> int:
    """`make stop-embedded`: stop the embedded PostgreSQL and Redis, which stay
    up between runs so that `make run` and `make test` start fast."""
    from csplatform.embedded import data_dir as embedded_data_dir

    data_dir = embedded_data_dir()
    pgdata = data_dir / "pg"
    if (pgdata / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl

        # pgserver runs PostgreSQL as its own system user when started by root.
        user = "pgserver" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
            log("stopped the embedded PostgreSQL")
        except subprocess.CalledProcessError:
            log("the embedded PostgreSQL was not running")
    sock = data_dir / "redis" / "redis.sock"
    if sock.exists():
        import redis

        try:
            redis.Redis(unix_socket_path=str(sock)).shutdown()
            log("stopped the embedded Redis")
        except redis.ConnectionError:
            log("the embedded Redis was not running")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(stop_embedded() if sys.argv[1:] == ["stop-embedded"] else main())
    except KeyboardInterrupt:  # Ctrl-C before the servers started
        sys.exit(130)
