"""04_advanced_websocket.py: 스트리밍 서버를 학습자처럼 띄우고 구독자로 두드려 봅니다.

서버는 언제나 서브프로세스(`python 04_advanced_websocket.py server --port P`)이고,
클라이언트는 이 테스트 안의 WebSocket 클라이언트, 레슨의 client/analytics/slow-client
서브프로세스, Chromium(Playwright), Node의 내장 WebSocket입니다. 남용(abuse) 테스트는
각 방어를 빼면 실패하는지 확인했습니다(보고서의 '돌연변이 검사').
"""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import errno
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.conftest import (
    LessonProcess,
    RssWatch,
    assert_no_traceback,
    far_socket,
    half_open_sockets,
    http_get,
    load_lesson,
    open_files,
    run_lesson,
    run_node,
    wait_for_port,
)

if TYPE_CHECKING:  # playwright는 브라우저 테스트에서만 가져옵니다
    from playwright.sync_api import Page

LESSON = "04_advanced_websocket.py"
Launch = Callable[..., LessonProcess]  # server(...)와 start_lesson(...)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
TOPICS = ["temperature", "humidity", "pressure", "power", "vibration"]

# Any: JSON에서 읽은 이벤트. 필드마다 타입이 다릅니다(str, int, float, list ...).
Event = dict[str, Any]


@pytest.fixture
def server(start_lesson: Launch, free_port: int) -> Launch:
    """server(*옵션): free_port에 서버를 띄우고 포트가 열릴 때까지 기다립니다."""

    def start(*options: str) -> LessonProcess:
        process = start_lesson(LESSON, "server", "--port", str(free_port), *options)
        wait_for_port(free_port, process=process)
        return process

    return start


def ws_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/ws"


class Peer:
    """테스트용 구독자: JSON 이벤트를 주고받습니다."""

    def __init__(self, websocket: ClientConnection, welcome: Event) -> None:
        self.websocket = websocket
        self.welcome = welcome

    async def send(self, frame: str | bytes | Event) -> None:
        if isinstance(frame, dict):
            frame = json.dumps(frame)
        await self.websocket.send(frame)

    async def next(self, kind: str | None = None, within: float = 5) -> Event:
        """다음 이벤트(kind를 주면 그 type이 올 때까지 건너뜀)."""
        async with asyncio.timeout(within):
            while True:
                event: Event = json.loads(await self.websocket.recv())
                if kind is None or event["type"] == kind:
                    return event

    async def subscribe(self, topics: list[str], kind: str = "subscribe") -> Event:
        await self.send({"type": kind, "topics": topics})
        return await self.next(f"{kind}d")

    async def error_code(self, frame: str | bytes | Event) -> str:
        """frame을 보내고 받은 오류 코드. 설명(message)은 한국어여야 합니다."""
        await self.send(frame)
        event = await self.next("error")
        assert HANGUL.search(event["message"]), event
        return str(event["code"])

    async def close_code(self, within: float = 10) -> tuple[int | None, str]:
        """연결이 닫힐 때까지 읽고 받은 (종료 코드, 이유). 닫기 프레임이 없으면 None."""
        return await closed_with(self.websocket, within)


async def closed_with(
    websocket: ClientConnection, within: float = 10
) -> tuple[int | None, str]:
    try:
        async with asyncio.timeout(within):
            while True:
                await websocket.recv()
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            return None, ""
        return exc.rcvd.code, exc.rcvd.reason


@contextlib.asynccontextmanager
async def peer(
    port: int, topics: list[str] | None = None, origin: str | None = None
) -> AsyncIterator[Peer]:
    """연결하고 welcome을 받은(topics가 있으면 구독까지 한) Peer. 나가면 닫습니다."""
    browser_origin = Origin(origin) if origin else None  # 브라우저처럼 Origin을 붙임
    async with connect(
        ws_url(port), compression=None, origin=browser_origin
    ) as websocket:
        welcome: Event = json.loads(await websocket.recv())
        assert welcome["type"] == "welcome", welcome  # 무엇보다 먼저
        client = Peer(websocket, welcome)
        if topics:
            await client.subscribe(topics)
        try:
            yield client
        finally:  # 쌓인 메시지를 읽어 버려야 닫기 프레임에 닿습니다(읽지 않으면 10초)
            draining = asyncio.create_task(closed_with(websocket, within=5))
            await websocket.close()
            await draining


async def stalled_peer(port: int, topics: list[str]) -> ClientConnection:
    """먼 네트워크 너머의 클라이언트처럼 연결하고, 구독한 뒤 읽기를 멈춥니다.

    루프백에서는 커널이 몇 MB를 받아 주므로 세그먼트와 받기 버퍼를 줄입니다
    (TESTING.md의 '읽지 않는 클라이언트').
    """
    sock = await far_socket(port)
    websocket = await connect(ws_url(port), sock=sock, compression=None)
    await websocket.recv()  # welcome
    await websocket.send(json.dumps({"type": "subscribe", "topics": topics}))
    websocket.transport.pause_reading()
    return websocket


def raw_exchange(port: int, request: bytes) -> tuple[int, str]:
    """날것의 HTTP 요청을 보내고 (상태 코드, 본문). 응답 없이 닫히면 (0, '')."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data:
        return 0, ""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def health(port: int) -> Event:
    result: Event = json.loads(http_get(port, "/healthz")[2])
    return result


def ticks_of(events: list[Event], topic: str) -> list[Event]:
    return [e for e in events if e["type"] == "tick" and e["topic"] == topic]


def assert_contiguous(events: list[Event], topics: list[str]) -> int:
    """토픽마다 seq가 1부터 빈틈 없이 이어지는지. 받은 틱 수를 돌려줍니다."""
    total = 0
    for topic in topics:
        seqs = [e["seq"] for e in ticks_of(events, topic)]
        assert seqs == list(range(1, len(seqs) + 1)), (topic, seqs[:20])
        total += len(seqs)
    return total


# ---------------------------------------------------------------------------
# 프로토콜: welcome, 구독, 틱, 구독 끊기, 오류
# ---------------------------------------------------------------------------


def test_welcome_subscribe_ticks_unsubscribe_and_resubscribe(
    server: Launch, free_port: int
) -> None:
    server("--topics", "3", "--rate", "50")

    async def scenario() -> tuple[Event, Event, list[Event], list[Event], Event]:
        async with peer(free_port) as client:
            subscribed = await client.subscribe(["temperature"])
            ticks = [await client.next("tick") for _ in range(10)]
            await client.send({"type": "unsubscribe", "topics": ["temperature"]})
            after: list[Event] = []
            while (event := await client.next())["type"] != "unsubscribed":
                after.append(event)
            with contextlib.suppress(TimeoutError):  # 0.5초 동안 틱이 오지 않아야 함
                while True:
                    after.append(event := await client.next(within=0.5))
                    assert event["type"] != "tick", event
            await client.subscribe(["temperature"])
            again = await client.next("tick")
            last = max(e["seq"] for e in [*ticks, *after] if e["type"] == "tick")
            return client.welcome, subscribed, ticks, after, again | {"last": last}

    welcome, subscribed, ticks, _, again = asyncio.run(scenario())
    assert welcome == {
        "type": "welcome",
        "topics": ["temperature", "humidity", "pressure"],
        "rate": 50.0,
    }
    assert subscribed == {"type": "subscribed", "topics": ["temperature"]}
    assert [t["seq"] for t in ticks] == list(range(1, 11))
    assert {t["topic"] for t in ticks} == {"temperature"}
    assert set(ticks[0]) == {"type", "topic", "seq", "value", "ts"}
    assert all(abs(time.time() - t["ts"]) < 5 for t in ticks)
    assert all(isinstance(t["value"], float) for t in ticks)
    # 구독을 다시 하면 seq가 이어집니다: 빈틈은 언제나 버린 틱 수.
    assert again["seq"] == again["last"] + 1


BAD_FRAMES: list[tuple[str | bytes | Event, str]] = [
    ("안녕", "invalid_json"),
    ("[1, 2]", "invalid_json"),
    ("[" * 10_000, "invalid_json"),  # 너무 깊은 중첩도 서버를 넘어뜨리지 않습니다
    ({"type": "dance"}, "unknown_type"),
    ({"topics": ["temperature"]}, "unknown_type"),
    ({"type": "subscribe", "topics": ["nope"]}, "unknown_topic"),
    ({"type": "unsubscribe", "topics": ["temperature", "nope"]}, "unknown_topic"),
    ({"type": "subscribe", "topics": "temperature"}, "invalid_topics"),
    ({"type": "subscribe", "topics": []}, "invalid_topics"),
    (b"\x00\x01", "binary_not_supported"),
]


def test_every_error_code_is_answered_and_the_connection_stays_open(
    server: Launch, free_port: int
) -> None:
    server()

    async def scenario() -> tuple[list[str], Event]:
        async with peer(free_port) as client:
            codes = [await client.error_code(frame) for frame, _ in BAD_FRAMES]
            await asyncio.sleep(0.5)  # 속도 제한의 토큰이 다시 찹니다(한꺼번에 10개)
            return codes, await client.subscribe(["humidity"])

    codes, subscribed = asyncio.run(scenario())
    assert codes == [code for _, code in BAD_FRAMES]
    assert subscribed["topics"] == ["humidity"]
    covered = {code for _, code in BAD_FRAMES} | {"rate_limited"}  # 아래 테스트
    assert covered == set(load_lesson(LESSON).ErrorCode)


def test_subscribe_churn_is_rate_limited_then_closed_with_1008(
    server: Launch, free_port: int
) -> None:
    process = server()  # 기본값: 초당 5개, 한꺼번에 10개, 위반 예산 20

    async def scenario() -> tuple[int, int, tuple[int | None, str], float]:
        async with peer(free_port) as client:
            started = time.monotonic()
            for n in range(200):  # subscribe와 unsubscribe를 쉬지 않고 되풀이
                kind = "subscribe" if n % 2 == 0 else "unsubscribe"
                with contextlib.suppress(ConnectionClosed):
                    await client.send({"type": kind, "topics": ["temperature"]})
            answered = limited = 0
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                while True:
                    event = await client.next(within=3)
                    answered += event["type"] in ("subscribed", "unsubscribed")
                    limited += event.get("code") == "rate_limited"
            closed = await client.close_code()
            return answered, limited, closed, time.monotonic() - started

    answered, limited, closed, took = asyncio.run(scenario())
    # 한꺼번에 10개 + 초당 5개씩 다시 찬 토큰. 바쁜 컴퓨터에서는 서버가 홍수를 더 긴
    # 시간에 걸쳐 읽으므로 걸린 시간으로 상한을 잡습니다(보통은 1초도 걸리지 않음).
    assert 10 <= answered <= 10 + 5 * took + 1, (answered, took)
    assert 1 <= limited <= took + 1, (limited, took)  # 알림은 1초에 한 번
    assert closed == (1008, "규칙 위반 반복"), process.describe()
    process.wait_for_output("규칙 위반 반복(1008)", stream="stderr")


def test_oversize_frame_is_closed_with_1009(server: Launch, free_port: int) -> None:
    server()

    async def scenario() -> tuple[tuple[int | None, str], Event]:
        async with peer(free_port) as other, peer(free_port) as big:
            await big.send("가" * 30_000)  # 90,000바이트 > 64 KiB
            closed = await big.close_code()
            return closed, await other.subscribe(["temperature"])

    closed, subscribed = asyncio.run(scenario())
    assert closed[0] == 1009
    assert subscribed["type"] == "subscribed"  # 다른 연결은 멀쩡합니다


# ---------------------------------------------------------------------------
# 스트림: seq, 집계, 이상, 메트릭
# ---------------------------------------------------------------------------


def test_fast_subscriber_gets_contiguous_seq_and_aggregates_equal_a_reference(
    server: Launch, free_port: int
) -> None:
    server("--topics", "2", "--rate", "50")
    topics = ["temperature", "humidity"]
    lesson = load_lesson(LESSON)

    async def scenario() -> list[Event]:
        events: list[Event] = []
        async with peer(free_port, topics) as client:
            started = time.monotonic()
            while time.monotonic() - started < 3.3:
                events.append(await client.next())
        return events

    events = asyncio.run(scenario())
    assert assert_contiguous(events, topics) >= 250
    assert not [e for e in events if e["type"] == "dropped"]
    checked = 0
    for topic in topics:
        ticks = ticks_of(events, topic)
        first_window = math.floor(ticks[0]["ts"])  # 구독 전부터 열린 칸: 건너뜀
        aggregates = [
            (i, e)
            for i, e in enumerate(events)
            if e["type"] == "aggregate" and e["topic"] == topic and e["window"] == 1
        ]
        previous: Event | None = None
        for index, aggregate in aggregates:
            start = aggregate["start"]
            inside = [t for t in ticks if start <= t["ts"] < start + 1]
            values = [t["value"] for t in inside]
            if start > first_window:
                p95 = statistics.quantiles(values, n=20, method="inclusive")[18]
                reference = {
                    "count": len(values),
                    "mean": statistics.fmean(values),
                    "min": min(values),
                    "max": max(values),
                    "std": statistics.pstdev(values),
                    "p95": p95,
                }
                for key, want in reference.items():
                    assert math.isclose(aggregate[key], want, rel_tol=1e-9), key
                # 칸의 틱은 모두 aggregate보다 먼저 왔습니다(같은 큐, 만든 순서).
                assert max(events.index(t) for t in inside) < index
                checked += 1
            if previous is not None and previous["start"] == start - 1:
                # EWMA: 앞 칸 끝의 값에서 이 칸의 틱으로 한 걸음씩.
                level = previous["ewma"]
                for value in values:
                    level += lesson.EWMA_ALPHA * (value - level)
                assert math.isclose(aggregate["ewma"], level, rel_tol=1e-9)
            previous = aggregate
    assert checked >= 4, checked


def test_anomalies_carry_value_score_threshold_and_metrics_count_them(
    server: Launch, free_port: int
) -> None:
    server("--topics", "2", "--rate", "50", "--anomaly-rate", "120")

    async def scenario() -> tuple[list[Event], Event]:
        events: list[Event] = []
        async with peer(free_port, ["temperature", "humidity"]) as client:
            while (event := await client.next(within=15))["type"] != "anomaly":
                events.append(event)  # 처음 4초는 이상을 심지 않습니다(예열)
            return events, event

    events, anomaly = asyncio.run(scenario())
    assert set(anomaly) == {"type", "topic", "value", "score", "threshold", "ts"}
    assert abs(anomaly["score"]) > anomaly["threshold"] == 4.5
    tick = next(
        t
        for t in ticks_of(events, anomaly["topic"])
        if t["ts"] == anomaly["ts"]  # 이상으로 판정한 그 틱이 먼저 왔습니다
    )
    assert tick["value"] == anomaly["value"]
    metrics = {
        f.name: f
        for f in text_string_to_metric_families(http_get(free_port, "/metrics")[2])
    }
    flagged = sum(s.value for s in metrics["stream_anomalies"].samples)
    injected = sum(s.value for s in metrics["stream_anomalies_injected"].samples)
    assert flagged >= 1
    assert injected >= 1


def test_detector_precision_and_recall_against_the_injected_truth() -> None:
    """EWMA 밴드 탐지기의 품질(4개 토픽 × 10분, 초당 5, 10, 50틱, 시드 42).

    시드가 정해져 있어 값은 언제나 같습니다: 정밀도 0.99~1.00, 재현율 0.93, 0.93,
    1.00(20개 시드로 재면 재현율 평균 0.94~0.98). 문턱은 정밀도 0.95, 재현율 0.90입니다.
    탐지기의 손질 하나를 빼면 문턱 아래로 떨어지는 것을 쟀습니다: 편향 보정 없음,
    예열 없음, 임계값 3은 정밀도가, 이상값으로 평균과 분산을 갱신하면 재현율이
    0.87까지 떨어집니다.
    """
    lesson = load_lesson(LESSON)
    for rate in (5, 10, 50):
        cards = [lesson.evaluate(spec, rate, 10) for spec in lesson.TOPIC_SPECS[:4]]
        alerts = sum(card.alerts for card in cards)
        precision = sum(card.true_alerts for card in cards) / alerts
        recall = sum(card.found for card in cards) / sum(
            card.injected for card in cards
        )
        assert precision >= 0.95, (rate, precision)
        assert recall >= 0.90, (rate, recall)


def test_scorecard_counts_runs_of_flags_as_one_alert() -> None:
    lesson = load_lesson(LESSON)
    card = lesson.Scorecard(grace=2)
    spike = lesson.Anomaly("spike", 10, 10, 8.0)
    shift = lesson.Anomaly("shift", 30, 34, 6.0)
    flags = {3, 10, 11, 31, 32, 33, 50}  # 3과 50은 헛경보, 10~11은 경보 하나
    for k in range(60):
        injected = {10: spike, 30: shift}.get(k)
        card.record(k, injected, k in flags)
    card.close()
    assert (card.alerts, card.true_alerts) == (4, 2)
    assert (card.found, card.missed, card.injected) == (2, 0, 2)
    assert card.precision == 0.5
    assert card.recall == 1.0


def test_window_statistics_are_numerically_stable() -> None:
    lesson = load_lesson(LESSON)
    values = [1e9 + x for x in (4.0, 7.0, 13.0, 16.0)]
    assert lesson.naive_variance(values) != pytest.approx(22.5)  # 나쁜 예는 틀림
    welford = lesson.Welford()
    for value in values:
        welford.add(value)
    assert welford.variance == pytest.approx(22.5, rel=1e-12)
    window = lesson.TumblingWindow(10)
    closed = [window.add(100.0 + k / 4, float(k)) for k in range(60)]
    done = [stats for stats in closed if stats is not None]
    assert [(s.start, s.count) for s in done] == [(100, 40)]
    assert done[0].p95 == pytest.approx(
        statistics.quantiles(range(40), n=20, method="inclusive")[18]
    )


def test_metrics_are_prometheus_text_and_healthz_answers(
    server: Launch, free_port: int
) -> None:
    server("--topics", "3", "--rate", "20")

    async def scenario() -> tuple[str, str, Event, Event, Event]:
        async with peer(free_port, ["temperature"]), peer(free_port) as watcher:
            message = await watcher.next("metrics", within=5)
            first = await asyncio.to_thread(http_get, free_port, "/metrics")
            await asyncio.sleep(1.2)
            second = await asyncio.to_thread(http_get, free_port, "/metrics")
            status = await asyncio.to_thread(health, free_port)
            assert first[1]["Content-Type"].startswith("text/plain; version=0.0.4")
            return first[2], second[2], status, message, watcher.welcome

    first, second, status, message, _ = asyncio.run(scenario())
    # 형식 규칙: 표본마다 앞에 HELP와 TYPE, 이름의 문법, 값은 수.
    declared: dict[str, str] = {}
    for line in first.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name), line
            declared.setdefault(name, "")
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name in declared, f"TYPE보다 HELP가 먼저: {line}"
            assert kind in ("counter", "gauge"), line
            assert kind != "counter" or name.endswith("_total"), line
            declared[name] = kind
        else:
            sample = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", line)
            assert sample, line
            assert declared.get(sample[1]), f"HELP/TYPE 없는 표본: {line}"
            float(sample[3])
    # 독립된 파서(prometheus-client)도 같은 텍스트를 읽습니다.
    families = {f.name: f for f in text_string_to_metric_families(first)}
    later = {f.name: f for f in text_string_to_metric_families(second)}
    assert families["stream_clients"].type == "gauge"
    assert families["stream_clients"].samples[0].value == 2
    for name in ("stream_messages_sent", "stream_messages_dropped"):
        assert families[name].type == "counter", name
    sent = families["stream_messages_sent"].samples[0].value
    assert later["stream_messages_sent"].samples[0].value > sent > 0  # 늘기만 함
    lag = families["stream_event_loop_lag_seconds"]
    assert lag.type == "gauge"
    assert 0 <= lag.samples[0].value < 1
    assert families["process_resident_memory_bytes"].samples[0].value > 2**20
    subs = {
        s.labels["topic"]: s.value for s in families["stream_subscriptions"].samples
    }
    assert subs == {"temperature": 1, "humidity": 0, "pressure": 0}
    assert status["status"] == "ok"
    assert status["clients"] == 2
    assert {"clients", "sent_per_s", "loop_lag_ms", "rss_bytes"} <= set(message)


# ---------------------------------------------------------------------------
# 느린 구독자: 1008, 빠른 구독자는 영향 없음, 메모리 상한
# ---------------------------------------------------------------------------


def test_stalled_subscriber_is_closed_1008_while_a_fast_one_keeps_up(
    server: Launch, free_port: int
) -> None:
    process = server(
        "--topics",
        "5",
        "--rate",
        "100",
        "--queue-size",
        "64",
        "--saturation-limit",
        "1",
    )

    async def scenario() -> tuple[list[Event], dict[bool, list[float]], Any, float]:
        events: list[Event] = []
        latency: dict[bool, list[float]] = {False: [], True: []}
        stalling = False
        async with peer(free_port, TOPICS) as fast:

            async def read() -> None:
                while True:
                    event = await fast.next(within=20)
                    events.append(event)
                    if event["type"] == "tick":
                        latency[stalling].append(time.time() - event["ts"])

            reader = asyncio.create_task(read())
            await asyncio.sleep(1.5)  # 기준: 느린 구독자가 없을 때
            stalling = True
            started = time.monotonic()
            stalled = await stalled_peer(free_port, TOPICS)
            await asyncio.to_thread(
                process.wait_for_output, "느린 구독자를 내보냅니다", 20, stream="stderr"
            )
            evicted_after = time.monotonic() - started
            stalled.transport.resume_reading()  # 이제 읽으면 1008 닫기 프레임에 닿음
            closed = await closed_with(stalled)
            await asyncio.sleep(0.5)
            reader.cancel()
        return events, latency, closed, evicted_after

    events, latency, closed, evicted_after = asyncio.run(scenario())
    assert closed == (1008, "느린 구독자")
    assert evicted_after < 15, evicted_after
    assert assert_contiguous(events, TOPICS) > 1000  # 빠른 쪽은 하나도 잃지 않음
    assert not [e for e in events if e["type"] == "dropped"]
    before = statistics.quantiles(latency[False], n=20)[18]
    during = statistics.quantiles(latency[True], n=20)[18]
    assert during <= 5 * before + 0.02, (before, during)  # 느린 쪽에 묶이지 않음
    assert "연결 끝" in process.stderr


def test_memory_stays_bounded_with_many_stalled_subscribers(
    server: Launch, free_port: int
) -> None:
    """읽지 않는 구독자 30명에게 초당 2,000틱씩: 큐의 상한과 1008이 메모리를 지킴."""
    process = server("--topics", "20", "--rate", "100", "--saturation-limit", "1")
    watch = RssWatch(process.popen.pid)
    topics = [f"sensor{n:02d}" for n in range(11, 21)] + TOPICS

    async def scenario() -> list[tuple[int | None, str]]:
        stalled = [await stalled_peer(free_port, topics) for _ in range(30)]
        await asyncio.sleep(6)
        closed = []
        for websocket in stalled:
            websocket.transport.resume_reading()
            closed.append(await closed_with(websocket, within=10))
        return closed

    closed = asyncio.run(scenario())
    growth = watch.stop()
    assert growth < 40 * 2**20, f"RSS가 {growth / 2**20:.0f} MiB 늘었습니다"
    assert closed == [(1008, "느린 구독자")] * 30
    families = {
        f.name: f
        for f in text_string_to_metric_families(http_get(free_port, "/metrics")[2])
    }
    assert families["stream_slow_subscribers_closed"].samples[0].value == 30
    assert health(free_port)["clients"] == 0
    assert_no_traceback(process.stderr)


def test_a_ping_flood_that_never_reads_is_cut(server: Launch, free_port: int) -> None:
    """읽지 않으면서 ping만 쏟아부으면 라이브러리가 쓰는 pong이 쌓입니다."""
    process = server()
    watch = RssWatch(process.popen.pid)

    async def scenario() -> None:
        flooder = await stalled_peer(free_port, ["temperature"])
        with contextlib.suppress(ConnectionClosed):
            for n in range(3000):
                await flooder.ping(n.to_bytes(2, "big") + os.urandom(120))
        await asyncio.to_thread(
            process.wait_for_output,
            "ping만 보내는 연결을 끊습니다",
            10,
            stream="stderr",
        )
        flooder.transport.abort()

    asyncio.run(scenario())
    assert watch.stop() < 20 * 2**20
    assert health(free_port)["clients"] == 0


# ---------------------------------------------------------------------------
# HTTP, 출처, 정원, 헤더, 기록
# ---------------------------------------------------------------------------


def test_origin_allowlist(server: Launch, free_port: int) -> None:
    server("--allow-origin", "http://dash.example:8080")
    allowed = [
        f"http://127.0.0.1:{free_port}",
        f"http://localhost:{free_port}",
        "http://dash.example:8080",
        None,  # Origin 헤더가 없는 클라이언트(터미널, 다른 프로그램)
    ]

    async def scenario() -> tuple[int, int, str]:
        opened = 0
        for origin in allowed:
            async with peer(free_port, ["temperature"], origin=origin):
                opened += 1
        with pytest.raises(InvalidStatus) as refused:
            async with peer(free_port, origin="http://evil.example"):
                pass
        response = refused.value.response
        return opened, response.status_code, response.body.decode()

    opened, status, body = asyncio.run(scenario())
    assert opened == len(allowed)
    assert status == 403
    assert "출처" in body


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("Origin: http://localhost\r\nOrigin: http://evil.example\r\n", "Origin 헤더"),
        ("Host: other.example\r\n", "Host 헤더"),
        ("BROKEN-KEY", "핸드셰이크 요청이 잘못"),
    ],
    ids=["two-origins", "two-hosts", "malformed-key"],
)
def test_duplicate_or_malformed_headers_get_a_korean_400(
    server: Launch, free_port: int, extra: str, expected: str
) -> None:
    process = server()
    upgrade = (
        f"Host: 127.0.0.1:{free_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    )
    if extra == "BROKEN-KEY":  # 라이브러리가 찾아내는 잘못: 16바이트가 아닌 키
        upgrade = upgrade.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")
    else:
        upgrade += extra
    status, body = raw_exchange(
        free_port, f"GET /ws HTTP/1.1\r\n{upgrade}\r\n".encode()
    )
    assert status == 400, body
    assert expected in body
    # 요청 줄부터 깨진 요청은 응답 없이 닫힙니다. 서버는 계속 답합니다.
    assert raw_exchange(free_port, b"GARBAGE\r\n\r\n")[0] == 0
    assert health(free_port)["status"] == "ok"
    process.wait_for_output("→ 400 Bad Request", stream="stderr")
    assert "process_request failed" not in process.stderr
    assert_no_traceback(process.stderr)


def test_control_characters_from_clients_are_escaped_in_the_log(
    server: Launch, free_port: int
) -> None:
    process = server()
    request = (
        f"GET /nope\x1b[2J\x07 HTTP/1.1\r\nHost: 127.0.0.1:{free_port}\r\n"
        "Origin: http://evil\x9b.example\r\n\r\n"
    ).encode("latin-1")
    status, _ = raw_exchange(free_port, request)
    assert status == 404
    log = process.wait_for_output("→ 404", stream="stderr")
    assert r"/nope\x1b[2J\x07" in log, log
    assert r"http://evil\x9b.example" in log, log
    assert "\x1b" not in log
    assert "\x9b" not in log


def test_routes_on_the_same_port(server: Launch, free_port: int) -> None:
    server()
    status, headers, page = http_get(free_port, "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'")
    assert "unsafe-inline" not in csp
    assert page.count("<script") == 1  # 외부 스크립트(CDN) 없음
    assert ".innerHTML" not in page
    page.encode("cp949")
    status, headers, body = http_get(free_port, "/healthz")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert {"status", "clients"} <= set(json.loads(body))
    status, _, body = http_get(free_port, "/nope")
    assert status == 404
    assert "/metrics" in body


def test_capacity_counts_handshakes_in_progress(server: Launch, free_port: int) -> None:
    """핸드셰이크를 하다 만 연결도 정원을 차지합니다: 세 번째는 503."""
    server("--max-clients", "2")

    async def scenario() -> tuple[int, str]:
        writers = []
        for _ in range(3):  # 요청을 끝내지 않은 TCP 연결 셋
            _, writer = await asyncio.open_connection("127.0.0.1", free_port)
            writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
            writers.append(writer)
        await asyncio.sleep(0.3)
        try:
            with pytest.raises(InvalidStatus) as full:
                async with peer(free_port):
                    pass
        finally:
            for writer in writers:
                writer.transport.abort()
        await asyncio.sleep(0.3)
        async with peer(free_port, ["temperature"]):  # 자리가 나면 다시 받습니다
            pass
        return full.value.response.status_code, full.value.response.body.decode()

    status, body = asyncio.run(scenario())
    assert status == 503
    assert "정원" in body


def test_connections_that_never_subscribe_are_closed(
    server: Launch, free_port: int
) -> None:
    """구독하지 않는 연결 5개가 정원 5명을 영원히 막지 못합니다."""
    process = server("--max-clients", "5", "--subscribe-timeout", "1")

    async def scenario() -> tuple[list[tuple[int | None, str]], int]:
        idle = [await connect(ws_url(free_port)) for _ in range(5)]
        with pytest.raises(InvalidStatus) as full:
            await connect(ws_url(free_port))
        closed = [await closed_with(ws, within=5) for ws in idle]
        async with peer(free_port, ["temperature"]) as client:
            await client.next("tick")
        return closed, full.value.response.status_code

    closed, status = asyncio.run(scenario())
    assert status == 503
    assert closed == [(1008, "구독 시간 초과")] * 5
    assert process.stderr.count("구독 시간 초과(1008)") == 5


def test_half_open_handshakes_under_a_low_file_limit(
    start_lesson: Launch, free_port: int
) -> None:
    """파일 한도보다 많은, 핸드셰이크를 하다 만 연결: 정원을 한도에 맞추고 버팁니다."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit(util-linux)이 없습니다")
    process = start_lesson(
        LESSON,
        "server",
        "--port",
        str(free_port),
        prefix=["prlimit", "--nofile=256:256"],
    )
    wait_for_port(free_port, process=process)
    notice = process.wait_for_output("정원을")
    assert "정원을 1000명에서 64명으로 줄였습니다" in notice, notice
    sockets = half_open_sockets(free_port, 320)
    try:
        time.sleep(3)  # 서버가 받을 수 있는 만큼 받도록
        assert process.poll() is None
        # 정원(64) + 여유(64)를 넘는 연결은 받자마자 끊어 파일 디스크립터가 남습니다.
        assert open_files(process.popen.pid) < 200
    finally:
        for sock in sockets:
            sock.close()

    async def still_serves() -> Event:
        async with peer(free_port, ["temperature"]) as client:
            return await client.next("tick")

    time.sleep(0.5)
    assert asyncio.run(still_serves())["seq"] == 1
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "Too many open files" not in process.stderr
    assert_no_traceback(process.stderr)


def test_running_out_of_files_is_one_korean_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """accept()의 EMFILE은 트레이스백 대신 한 줄, 다른 오류는 기본 처리기로."""
    lesson = load_lesson(LESSON)
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level("WARNING"):
            emfile = OSError(errno.EMFILE, "Too many open files")
            lesson.report_loop_error(loop, {"message": "accept", "exception": emfile})
            lesson.report_loop_error(loop, {"message": "다른 오류"})
    finally:
        loop.close()
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    line = "열 수 있는 파일이 모자라 1초 동안 새 연결을 받지 않습니다"
    assert ("stream", line) in messages
    assert any(name == "asyncio" and "다른 오류" in text for name, text in messages)


# ---------------------------------------------------------------------------
# 종료
# ---------------------------------------------------------------------------


def test_sigterm_notifies_everyone_closes_with_1001_and_exits_0(
    server: Launch, free_port: int
) -> None:
    process = server()

    async def scenario() -> list[tuple[str, tuple[int | None, str]]]:
        async with peer(free_port, ["temperature"]) as a, peer(free_port) as b:
            process.send_signal(signal.SIGTERM)
            endings = []
            for client in (a, b):
                notice = await client.next("notice")
                endings.append((str(notice["text"]), await client.close_code()))
            return endings

    endings = asyncio.run(scenario())
    assert process.wait(timeout=10) == 0
    assert [closed for _, closed in endings] == [(1001, "서버 종료")] * 2
    assert all("종료" in text for text, _ in endings)
    assert "종료했습니다" in process.stdout
    assert process.stderr.count("서버 종료로 1001") == 2
    assert_no_traceback(process.stderr)


def test_sigterm_under_load_exits_within_the_grace(
    server: Launch, free_port: int
) -> None:
    """읽지 않는 구독자 20명과 하다 만 핸드셰이크 3개가 있어도 3 + 2초 안에 끝납니다."""
    process = server("--topics", "10", "--rate", "100")

    async def scenario() -> float:
        stalled = [await stalled_peer(free_port, TOPICS) for _ in range(20)]
        half_open = []
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", free_port)
            writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # 요청을 끝내지 않음
            half_open.append(writer)
        await asyncio.sleep(1.5)  # 버퍼가 차도록
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 15)
        elapsed = time.monotonic() - started
        for websocket in stalled:
            websocket.transport.abort()
        for writer in half_open:
            writer.transport.abort()
        return elapsed

    elapsed = asyncio.run(scenario())
    assert process.returncode == 0, process.describe()
    assert elapsed < 3 + 2, elapsed
    assert_no_traceback(process.stderr)


# ---------------------------------------------------------------------------
# 클라이언트 모드: client, analytics, slow-client, 메뉴
# ---------------------------------------------------------------------------


def test_client_prints_ticks_and_a_summary(server: Launch, free_port: int) -> None:
    server("--rate", "20")
    result = run_lesson(
        LESSON,
        "client",
        "--port",
        str(free_port),
        "--subscribe",
        "temperature,humidity",
        "--count",
        "12",
    )
    assert result.returncode == 0, result.stderr
    ticks = re.findall(
        r"^(temperature|humidity) +#(\d+) +-?[\d.]+  지연 ", result.stdout, re.M
    )
    assert len(ticks) == 12, result.stdout
    assert {topic for topic, _ in ticks} == {"temperature", "humidity"}
    assert "구독: temperature, humidity" in result.stdout
    assert re.search(r"요약: .* 틱 12개\(초당 [\d.]+\), 빈틈 0개", result.stdout)
    assert_no_traceback(result.stderr)


def test_client_reports_an_unknown_topic_and_exits_1(
    server: Launch, free_port: int
) -> None:
    server()
    result = run_lesson(
        LESSON, "client", "--port", str(free_port), "--subscribe", "nope"
    )
    assert result.returncode == 1
    assert "구독하지 못했습니다: 없는 토픽입니다" in result.stdout


def test_client_retries_a_refused_connection_with_the_delay_shown(
    free_port: int,
) -> None:
    result = run_lesson(
        LESSON, "client", "--port", str(free_port), "--duration", "2", timeout=20
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"연결할 수 없습니다.*[\d.]+초 뒤 다시 연결합니다", result.stdout)
    assert "2초가 지나 끝냅니다" in result.stdout
    assert "요약:" in result.stdout
    assert_no_traceback(result.stdout + result.stderr)


def test_analytics_reports_aggregates_that_match_the_server(
    server: Launch, free_port: int
) -> None:
    server("--topics", "2", "--rate", "50")
    result = run_lesson(
        LESSON,
        "analytics",
        "--port",
        str(free_port),
        "--duration",
        "3.5",
        "--report-every",
        "1.5",
    )
    assert result.returncode == 0, result.stderr
    compared = re.findall(r"일치 (\d+), 다름 (\d+)", result.stdout)
    assert len(compared) >= 3, result.stdout  # 주기 보고 둘 + 마지막
    matched, differed = map(int, compared[-1])
    assert matched >= 4
    assert differed == 0
    assert re.search(r"지연 p50 \S+, p95 \S+, p99 \S+", result.stdout)
    assert re.search(r"빈틈 0개", result.stdout)


def test_slow_client_sees_gaps_then_ends_on_1008(
    server: Launch, free_port: int
) -> None:
    process = server(
        "--topics",
        "5",
        "--rate",
        "100",
        "--queue-size",
        "32",
        "--saturation-limit",
        "1",
    )
    result = run_lesson(
        LESSON,
        "slow-client",
        "--port",
        str(free_port),
        "--delay",
        "0.004",
        "--duration",
        "30",
        timeout=40,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "정책 위반으로 연결을 닫았습니다(1008 느린 구독자). 끝냅니다." in result.stdout
    )
    last = re.findall(r"끝: 받은 틱 ([\d,]+)개, 빈틈 ([\d,]+)개", result.stdout)
    assert last, result.stdout
    assert int(last[-1][1].replace(",", "")) > 0  # 서버가 버린 틱이 빈틈으로 보임
    assert "다시 연결" not in result.stdout
    assert "느린 구독자를 내보냅니다" in process.stderr


@pytest.mark.slow
def test_client_reconnects_after_a_server_restart(
    server: Launch, start_lesson: Launch, free_port: int
) -> None:
    first = server()
    client = start_lesson(LESSON, "client", "--port", str(free_port))
    client.wait_for_output("지연")
    first.send_signal(signal.SIGTERM)
    assert first.wait() == 0
    client.wait_for_output("서버가 종료되었습니다(1001 서버 종료)")
    client.wait_for_output("초 뒤 다시 연결합니다")
    server()  # 같은 포트로 다시 시작
    deadline = time.monotonic() + 30
    while client.stdout.count("에 연결했습니다") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.stdout.count("에 연결했습니다") == 2, client.describe()
    time.sleep(0.5)
    client.send_signal(signal.SIGINT)  # Ctrl+C: 요약을 보여 주고 끝냅니다
    assert client.wait(timeout=10) == 0, client.describe()
    assert "요약:" in client.stdout
    assert_no_traceback(client.stderr)


def test_menu_client_returns_to_the_menu_after_ctrl_c(
    server: Launch, start_lesson: Launch, free_port: int
) -> None:
    server()
    menu = start_lesson(LESSON, env={"PORT": str(free_port)}, stdin=True)
    menu.wait_for_output("번호를 고르세요 > ")
    menu.send_line("c")
    menu.wait_for_output("지연")
    time.sleep(0.3)
    menu.send_signal(signal.SIGINT)
    menu.wait_for_output("요약:")
    deadline = time.monotonic() + 5
    while menu.stdout.count("번호를 고르세요 >") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert menu.stdout.count("번호를 고르세요 >") == 2, menu.describe()
    menu.send_line("q")
    assert menu.wait(timeout=10) == 0, menu.describe()
    assert_no_traceback(menu.stdout + menu.stderr)


def test_wrong_options_are_korean_errors() -> None:
    for argv in (
        ["server", "--topics", "0"],
        ["server", "--rate", "nan"],
        ["client", "--subscribe", "Temperature!"],
        ["slow-client", "--delay", "-1"],
    ):
        result = run_lesson(LESSON, *argv)
        assert result.returncode == 2, argv
        assert "오류:" in result.stderr, result.stderr
        assert_no_traceback(result.stderr)


# ---------------------------------------------------------------------------
# 남이 만든 클라이언트: Chromium(대시보드), Node
# ---------------------------------------------------------------------------


def wait_js(page: Page, predicate: str, within: float = 10) -> None:
    """페이지에서 predicate가 참이 될 때까지 기다립니다.

    page.wait_for_function은 문자열을 페이지 안에서 eval하는데, 대시보드의 CSP가
    eval을 막습니다(막는 것이 맞습니다). 그래서 파이썬 쪽에서 evaluate로 물어봅니다.
    """
    deadline = time.monotonic() + within
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            pytest.fail(f"{within:g}초 안에 참이 되지 않았습니다: {predicate}")
        time.sleep(0.1)


@pytest.mark.slow
def test_dashboard_in_chromium_draws_ticks_and_marks_anomalies(
    server: Launch, free_port: int, chromium_page: Page
) -> None:
    server("--topics", "2", "--rate", "50", "--anomaly-rate", "120")
    page = chromium_page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"http://127.0.0.1:{free_port}/")
    wait_js(page, "() => window.dashboard.received > 50")
    assert page.text_content("#status") == "연결됨"
    assert HANGUL.search(page.title())
    assert page.locator("canvas").count() == 2
    wait_js(page, "() => window.dashboard.anomalies > 0", within=20)
    page.wait_for_selector("#anomalies li")  # 목록에 이상이 보이고
    wait_js(page, "() => Number(document.body.dataset.anomalies) > 0")
    marks = page.evaluate(
        "() => [...document.querySelectorAll('canvas')].map((c) => {"
        "  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "  let red = 0;"
        "  for (let i = 0; i < d.length; i += 4)"
        "    if (d[i] > 180 && d[i + 1] < 80 && d[i + 2] < 80) red++;"
        "  return red; })"
    )
    assert sum(marks) > 0, marks  # 캔버스에 빨간 점(이상 표시)이 그려짐
    wait_js(page, "() => document.getElementById('m-clients').textContent === '1'")
    assert page.locator("#table tr").count() == 2
    assert problems == []  # 스크립트 오류도, CSP 위반도 없음


def test_node_websocket_client_subscribes_and_receives_ticks(
    server: Launch, free_port: int
) -> None:
    server("--rate", "20")
    script = """
const ws = new WebSocket(process.argv[1]);
let seen = 0;
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === "welcome") {
    ws.send(JSON.stringify({type: "subscribe", topics: [message.topics[0]]}));
  } else if (message.type === "tick" && ++seen === 3) {
    console.log(message.topic + " " + message.seq);
    ws.close();
  }
};
ws.onerror = () => process.exit(1);
"""
    result = run_node(script, ws_url(free_port))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "temperature 3"


# ---------------------------------------------------------------------------
# doctest
# ---------------------------------------------------------------------------


def test_doctests_pass() -> None:
    module = load_lesson(LESSON)
    failed, attempted = doctest.testmod(module, verbose=False)
    assert attempted > 20
    assert failed == 0
