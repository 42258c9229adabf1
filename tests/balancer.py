"""Replicas of the app behind HAProxy on loopback, from deploy/haproxy.cfg as checked in: only the
addresses it reads from the environment (QE_BIND, QE_STATS_BIND, QE_APP1, QE_APP2) are set here.
tests/test_deploy.py and bench/load.py use it.

    with Cluster.start(tmp_path) as cluster:      # two `streamlit run serve.py` and one haproxy
        cluster.url                               # where a reader connects
        cluster.servers()                         # {"app1": {"status": "UP", "stot": "3", ...}, ...}
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT, free_port, live_children, start_streamlit, stop_streamlit

HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
REPLICA_NAMES = ("app1", "app2")  # the config's `server` lines, in order
AFFINITY_COOKIE = "QE_REPLICA"  # the config's `cookie` line
BACKEND = "streamlit"
STARTUP_SECONDS = 20


def haproxy_missing() -> str | None:
    """Why the balancer cannot run here, or None when Debian's haproxy is installed."""
    if shutil.which("haproxy") is None:
        return "haproxy not found: install Debian's package with `apt-get install haproxy` (.ci/run does)"
    return None


@dataclass
class Cluster:
    """Streamlit replicas (their processes, base URLs and logs) and the HAProxy in front of them."""

    replicas: dict[str, subprocess.Popen]
    replica_urls: dict[str, str]
    logs: dict[str, Path]
    haproxy: subprocess.Popen | None = None
    url: str = ""
    stats_url: str = ""
    stopped: set[str] = field(default_factory=set)

    @classmethod
    def start(cls, directory: Path, processes: int = 2) -> Cluster:
        """`processes` (1 or 2) streamlit servers, and haproxy sending the config's two servers to them:
        with one process, both server lines name it (the balancer's work stays the same)."""
        if processes not in (1, 2):
            raise ValueError(f"processes must be 1 or 2; got {processes}")
        cluster = cls({}, {}, {})
        try:
            for name in REPLICA_NAMES[:processes]:
                cluster.logs[name] = directory / f"{name}.log"
                cluster.replicas[name], cluster.replica_urls[name] = start_streamlit(cluster.logs[name])
            cluster._start_haproxy(directory / "haproxy.log")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_haproxy(self, log_path: Path) -> None:
        port, stats_port = free_port(), free_port()
        urls = list(self.replica_urls.values())
        addresses = {name: urls[i % len(urls)].removeprefix("http://") for i, name in enumerate(REPLICA_NAMES)}
        environment = {
            **os.environ,
            "QE_BIND": f"127.0.0.1:{port}",
            "QE_STATS_BIND": f"127.0.0.1:{stats_port}",
            **{f"QE_{name.upper()}": address for name, address in addresses.items()},
        }
        with open(log_path, "wb") as log:
            # -db: stay in the foreground, so the PID is haproxy's own.
            self.haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(HAPROXY_CONFIG)], env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        self.url, self.stats_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats_port}/stats;csv"
        self.wait_for(lambda servers: all(row["status"] == "UP" for row in servers.values()), "every replica UP")

    def servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's statistics of each server line: status (UP/DOWN), stot (sessions so far), scur (open now)..."""
        with urllib.request.urlopen(self.stats_url, timeout=5) as response:
            text = response.read().decode().removeprefix("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text)) if row["pxname"] == BACKEND and row["svname"] in REPLICA_NAMES}

    def wait_for(self, condition, what: str, timeout: float = STARTUP_SECONDS) -> float:
        """Seconds until condition(self.servers()) held; RuntimeError naming `what` after timeout s."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.haproxy is not None and self.haproxy.poll() is not None:
                raise RuntimeError(f"haproxy exited with code {self.haproxy.returncode}")
            try:
                if condition(self.servers()):
                    return time.monotonic() - start
            except OSError:  # the statistics page is not listening yet
                pass
            time.sleep(0.1)
        raise RuntimeError(f"not {what} after {timeout:g} s: {self.servers()}")

    def kill(self, name: str) -> None:
        """SIGKILL one replica, as a crash or an out-of-memory kill would end it, and its worker processes with it,
        as its container would go (left alone, they outlived the test run)."""
        workers = live_children(self.replicas[name].pid)
        self.replicas[name].kill()
        self.replicas[name].wait()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.stopped.add(name)

    def stop(self) -> None:
        """Stop haproxy and every replica still running, each by its own PID."""
        if self.haproxy is not None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        for name, process in self.replicas.items():
            if name not in self.stopped:
                stop_streamlit(process)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
