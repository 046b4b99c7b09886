"""`omniroute up` starts the broker and the embedded PostgreSQL again when they die, and
says it is up only once every process is ready."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from omniroute.settings import Settings
from omniroute.stack import Component, Service, Supervisor, _Child, stack_instances


class Server:
    """A server that dies when told, and refuses to start ``refusals`` times."""

    def __init__(self, refusals: int = 0) -> None:
        self.up = True
        self.refusals = refusals
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        if self.refusals:
            self.refusals -= 1
            raise RuntimeError("port still in use")
        self.up = True


def supervised(server: Server) -> tuple[Supervisor, list[str]]:
    said: list[str] = []
    service = Service("kafka", running=lambda: server.up, start=server.start)
    return Supervisor(env={}, say=said.append, services=[service]), said


def test_a_running_server_is_left_alone() -> None:
    server = Server()
    supervisor, said = supervised(server)
    supervisor.watch_once(now=0.0)
    assert server.starts == 0 and said == []


def test_a_dead_server_is_started_again_at_once() -> None:
    server = Server()
    supervisor, said = supervised(server)
    server.up = False
    supervisor.watch_once(now=0.0)
    assert server.up and server.starts == 1
    assert said == ["kafka is not running; starting it again", "kafka is running again"]


def test_a_server_that_will_not_start_is_retried_later_and_later() -> None:
    server = Server(refusals=2)
    supervisor, said = supervised(server)
    server.up = False
    [service] = supervisor.services
    supervisor.watch_once(now=0.0)
    assert server.starts == 1 and "did not start: port still in use; next try in 1s" in said[-1]
    supervisor.watch_once(now=service.next_start - 0.1)
    assert server.starts == 1, "not before the back-off"
    supervisor.watch_once(now=service.next_start)
    assert server.starts == 2 and said[-1].endswith("next try in 2s")
    supervisor.watch_once(now=service.next_start)
    assert server.starts == 3 and server.up and said[-1] == "kafka is running again"
    assert service.restarts == 0


@contextmanager
def readiness_server(ready_after: int) -> Iterator[tuple[str, list[int]]]:
    """``/readyz`` answering 503 ``ready_after`` times, then 200; the codes it answered."""
    answered: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if len(answered) >= ready_after else 503
            answered.append(code)
            self.send_response(code)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/readyz", answered
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def children(*names: str) -> Iterator[tuple[Supervisor, list[str]]]:
    """A supervisor of long-sleeping children named ``names``; what it says."""
    said: list[str] = []
    supervisor = Supervisor(env={}, say=said.append)
    for name in names:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        supervisor.children.append(_Child(Component(name, ()), process))
    try:
        yield supervisor, said
    finally:
        for child in supervisor.children:
            child.process.kill()
            child.process.wait()


def test_up_waits_until_every_process_answers_ready() -> None:
    with readiness_server(ready_after=3) as (slow, slow_codes), \
            readiness_server(ready_after=0) as (quick, quick_codes), \
            children("gateway", "prometheus") as (supervisor, said):
        urls = {"gateway": slow, "prometheus": quick}
        starting = supervisor.wait_ready(lambda c: urls[c.name], timeout=30, poll=0.05, every=0.1)
    assert starting == []
    assert slow_codes == [503, 503, 503, 200], "asked again until it answered 200"
    assert quick_codes == [200], "not asked again once ready"
    assert any(line.startswith("waiting for gateway to be ready") for line in said), said


def test_up_names_what_is_still_not_ready_when_the_wait_ends() -> None:
    with readiness_server(ready_after=10**6) as (never, codes), children("worker") as (supervisor, _said):
        starting = supervisor.wait_ready(lambda _c: never, timeout=0.3, poll=0.05)
    assert starting == ["worker"] and codes and set(codes) == {503}


def test_each_child_has_its_own_instance_id_and_keeps_it_across_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Static membership: a restarted child takes its partitions back without a rebalance."""
    started: list[dict[str, str]] = []

    def popen(_argv: list[str], env: dict[str, str], **_: object) -> object:
        started.append(env)
        return object()

    monkeypatch.setattr(subprocess, "Popen", popen)
    supervisor = Supervisor(env={"OMNIROUTE_INSTANCE_ID": "from-the-shell"}, say=lambda _: None,
                            instances="host-1a2b3c4d")
    worker, sink = Component("worker", ("worker",)), Component("sink", ("sink",))
    supervisor._spawn(worker)
    supervisor._spawn(sink)
    supervisor._spawn(worker)  # a restart
    assert [e["OMNIROUTE_INSTANCE_ID"] for e in started] == [
        "host-1a2b3c4d-worker", "host-1a2b3c4d-sink", "host-1a2b3c4d-worker"]


def test_a_stack_is_named_by_its_host_and_state_directory(tmp_path: Path) -> None:
    """The same stack started again has the same ids; another stack on the broker has others."""
    one, other = tmp_path / "one", tmp_path / "other"
    named = stack_instances(Settings(state_dir=one))
    assert named == stack_instances(Settings(state_dir=one))
    assert named != stack_instances(Settings(state_dir=other))
    assert named.startswith(socket.gethostname())
    Settings(instance_id=f"{named}-email-delivery")  # a valid id for every component
    assert stack_instances(Settings(state_dir=one, instance_id="pod-7")) == "pod-7"


def test_a_host_name_kafka_would_refuse_is_spelled_with_its_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kafka's clients allow [A-Za-z0-9._-] in a group instance id, and so does
    OMNIROUTE_INSTANCE_ID: a child whose id the settings refuse would never start."""
    monkeypatch.setattr(socket, "gethostname", lambda: "build_box:7")
    named = stack_instances(Settings(state_dir=tmp_path))
    assert named.startswith("build-box-7-")
    Settings(instance_id=f"{named}-email-delivery")
    with pytest.raises(ValidationError):
        Settings(instance_id="build_box:7")


def test_children_stop_when_up_is_sigkilled(tmp_path: Path) -> None:
    """An ``up`` that is SIGKILLed takes its processes with it (SIGTERM: they stop cleanly),
    so the next ``up`` never runs a second copy under the same instance ids."""
    fake = tmp_path / "fake" / "omniroute"  # what the child runs as `python -m omniroute`
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        "import pathlib, signal, sys, time\n"
        f"done = pathlib.Path({str(tmp_path / 'stopped')!r})\n"
        "signal.signal(signal.SIGTERM, lambda *_: (done.write_text('SIGTERM'), sys.exit(0)))\n"
        "print('child running', flush=True)\n"
        "time.sleep(60)\n")
    up = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, time\n"
         "from omniroute.stack import Component, Supervisor\n"
         f"env = {{**os.environ, 'PYTHONPATH': {str(fake.parent)!r}}}\n"
         "child = Supervisor(env=env, say=print)._spawn(Component('worker', ('worker',)))\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert up.stdout is not None
        assert up.stdout.readline().strip() == "child running"
        up.kill()
        up.wait(10)
        for _ in range(100):
            if (tmp_path / "stopped").exists():
                break
            time.sleep(0.1)
        assert (tmp_path / "stopped").read_text() == "SIGTERM"
    finally:
        up.kill()
