"""`omniroute up` starts the broker and the embedded PostgreSQL again when they die."""

from __future__ import annotations

from omniroute.stack import Service, Supervisor


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
