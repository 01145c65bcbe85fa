"""The event hub's choice between queued and direct writes, without a socket: a
transport that only counts what is waiting in it, and a WebSocket whose ``send``
leaves its bytes there the way uvicorn does when the peer reads slowly."""

from __future__ import annotations

import asyncio

from maestro.domain.events import StoredEvent
from maestro.server.hub import EventHub, Subscriber, text_frame
from maestro.server.ws import send_frames

LIMIT = 4  # events queued per client; direct mode allows 4 KiB waiting


class Transport:
    def __init__(self, waiting: int = 0) -> None:
        self.waiting = waiting
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.waiting

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self.waiting += len(data)


class SlowSocket:
    """``send_text`` returns once the frame is in the transport, not on the wire."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.sent: list[str] = []

    async def send_text(self, frame: str) -> None:
        self.sent.append(frame)
        self.transport.write(text_frame(frame))

    async def close(self, code: int, reason: str) -> None:
        self.sent.append(f"close {code}")


def event(seq: int, size: int = 10) -> StoredEvent:
    return StoredEvent(seq, "p1", f'{{"seq":{seq},"pad":"{"x" * size}"}}')


def subscribed(hub: EventHub, transport: Transport, since: int | None = None) -> Subscriber:
    return hub.subscribe(since, None, transport)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_client_whose_queue_is_empty_and_socket_has_room_is_written_directly() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    transport = Transport()
    subscriber = subscribed(hub, transport)
    hub.go_direct_if_caught_up(subscriber)
    hub.publish([event(1)])
    assert subscriber.direct
    assert transport.written == [text_frame(event(1).frame)]
    assert subscriber.queue.empty()


def test_a_client_with_bytes_still_waiting_in_its_socket_stays_queued() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    transport = Transport(waiting=hub.buffer_limit + 1)
    subscriber = subscribed(hub, transport)
    hub.go_direct_if_caught_up(subscriber)
    hub.publish([event(1)])
    assert not subscriber.direct
    assert transport.written == []
    assert subscriber.queue.qsize() == 1
    assert subscriber in hub.subscribers


def test_a_big_replay_then_a_ping_does_not_drop_the_client() -> None:
    """The replay's frames are still in the transport when the pong comes: the pong
    waits its turn in the queue instead of overflowing a direct write."""

    async def scenario() -> tuple[Subscriber, SlowSocket]:
        hub = EventHub(retained=100, queue_limit=LIMIT)
        hub.load([event(seq, size=3000) for seq in range(1, 11)], "s1")
        transport = Transport()
        socket = SlowSocket(transport)
        subscriber = subscribed(hub, transport, since=0)
        sender = asyncio.create_task(send_frames(socket, hub, subscriber))  # type: ignore[arg-type]
        await settle()
        hub.pong(subscriber)
        await settle()
        sender.cancel()
        return subscriber, socket

    subscriber, socket = asyncio.run(scenario())
    assert not subscriber.dropped.is_set()
    assert len(socket.sent) == 11
    assert socket.sent[-1] == '{"type":"pong"}'


def test_a_direct_client_too_far_behind_is_dropped_and_told_to_reconnect() -> None:
    async def scenario() -> tuple[EventHub, Subscriber, SlowSocket]:
        hub = EventHub(retained=100, queue_limit=LIMIT)
        transport = Transport()
        socket = SlowSocket(transport)
        subscriber = subscribed(hub, transport)
        sender = asyncio.create_task(send_frames(socket, hub, subscriber))  # type: ignore[arg-type]
        await settle()
        hub.publish([event(seq, size=3000) for seq in range(1, 4)])
        await settle()
        await sender
        return hub, subscriber, socket

    hub, subscriber, socket = asyncio.run(scenario())
    assert subscriber.dropped.is_set()
    assert subscriber not in hub.subscribers
    assert hub.dropped == 1
    assert socket.sent == ["close 1013"]


def test_a_queued_client_is_dropped_when_its_queue_is_full() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    subscriber = hub.subscribe(None, None)
    hub.publish([event(seq) for seq in range(1, LIMIT + 1)])
    assert not subscriber.dropped.is_set()
    hub.publish([event(LIMIT + 1)])
    assert subscriber.dropped.is_set()
    assert subscriber not in hub.subscribers


# -- session activity (?sessionId=) --------------------------------------------------


def activity(text: str = "→ Bash: ls") -> str:
    return f'{{"type":"session:activity","data":{{"text":"{text}"}}}}'


def test_activity_frames_reach_only_the_clients_watching_that_session() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    watching = hub.subscribe(None, None, session_id="s1")
    other_session = hub.subscribe(None, None, session_id="s2")
    plain = hub.subscribe(None, None)
    hub.publish_activity("s1", activity())
    assert watching.queue.get_nowait() == activity()
    assert other_session.queue.empty()
    assert plain.queue.empty()


def test_a_client_watching_a_session_still_gets_the_events_of_its_project_filter() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    watching = hub.subscribe(None, "p1", session_id="s1")
    hub.publish([event(1), StoredEvent(2, "p2", '{"seq":2}')])
    assert watching.queue.get_nowait() == event(1).frame
    assert watching.queue.empty()


def test_activity_frames_are_not_retained_for_replay() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    hub.publish([event(1)])
    hub.subscribe(None, None, session_id="s1")
    hub.publish_activity("s1", activity())
    assert hub.last_seq == 1
    assert [e.seq for e in hub.recent] == [1]
    assert hub.subscribe(0, None, session_id="s1").backlog == [event(1).frame]


def test_activity_for_a_session_nobody_watches_goes_nowhere() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    plain = hub.subscribe(None, None)
    assert not hub.watching("s1")
    hub.publish_activity("s1", activity())
    assert plain.queue.empty()


def test_a_direct_watcher_gets_the_activity_frame_written_to_its_socket() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    transport = Transport()
    watching = hub.subscribe(None, None, transport, session_id="s1")
    hub.go_direct_if_caught_up(watching)
    hub.publish_activity("s1", activity())
    assert transport.written == [text_frame(activity())]


def test_a_slow_watcher_skips_activity_frames_instead_of_being_dropped() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    watching = hub.subscribe(None, None, session_id="s1")
    for k in range(LIMIT * 3):
        hub.publish_activity("s1", activity(str(k)))
    assert not watching.dropped.is_set()
    # Activity takes at most half the queue; the rest stays for the events.
    assert watching.queue.qsize() == LIMIT // 2
    assert watching.activity_skipped == LIMIT * 3 - LIMIT // 2
    hub.publish([event(seq) for seq in range(1, LIMIT - LIMIT // 2 + 1)])
    assert not watching.dropped.is_set()


def test_a_direct_watcher_with_a_full_socket_skips_activity_frames_and_stays() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    transport = Transport()
    watching = hub.subscribe(None, None, transport, session_id="s1")
    hub.go_direct_if_caught_up(watching)
    transport.waiting = hub.buffer_limit // 2 + 1
    hub.publish_activity("s1", activity())
    assert transport.written == []
    assert watching.activity_skipped == 1
    assert watching in hub.subscribers
    assert not watching.dropped.is_set()


def test_a_watcher_that_leaves_or_is_dropped_is_no_longer_watching() -> None:
    hub = EventHub(retained=100, queue_limit=LIMIT)
    leaving = hub.subscribe(None, None, session_id="s1")
    dropped = hub.subscribe(None, None, session_id="s2")
    hub.unsubscribe(leaving)
    hub.drop(dropped)
    assert hub.watchers == {}
    assert not hub.watching("s1")
    assert not hub.watching("s2")
