"""04. 고급 WebSocket: 실시간 스트리밍, 집계, 이상 탐지, 서버 메트릭

학습 목표
    1. 생산자 태스크 하나와 broadcast()로 가장 작은 스트리밍 서버를 만듭니다.
    2. 추세, 계절성, 잡음에 이상을 심은 신호를 시드로 재현 가능하게 만듭니다.
    3. 메시지 종류와 오류 코드를 StrEnum으로 정하고, 구독 요청과 빈도를 검사합니다.
    4. 허브: 토픽마다의 구독자 명단과 seq, 한 번 만들어 여럿에게 보내는 프레임.
    5. 연결 하나의 일생(handle_client): welcome, 검사, 오류 답, 구독 마감.
    6. 구독자마다 한정된 큐: 가장 오래된 것 버리기, 버린 수 알리기, 포화되면 1008.
    7. 텀블링 윈도 집계: Welford 알고리즘, p95, 지수 가중 이동 평균(EWMA).
    8. 이상 탐지: EWMA 밴드와 예열, 심은 정답과 비교한 정밀도와 재현율.
    9. 메트릭: 이벤트 루프 지연, 처리량, 버린 수, RSS, Prometheus 텍스트 형식.
    10. 대시보드: 캔버스 차트와 이상 표시를 담은 HTML 한 장과 CSP.
    11. 같은 포트의 HTTP: /, /metrics, /healthz, Origin, 정원, 잘못된 헤더.
    12. 서버 조립: 생산자, 집계, 탐지, 메트릭 방송을 한 허브에.
    13. 우아한 종료와 server 모드: 파일 한도, 신호, 1001.
    14. client: 틱을 한 줄씩 보여 주고 끝나면 요약합니다. 다시 연결하는 규칙.
    15. analytics: 클라이언트 쪽 집계와 탐지를 서버와 비교하는 보고서.
    16. slow-client: 일부러 느린 소비자로 보는 백프레셔.

핵심 개념
    - 실시간 데이터는 늦으면 가치가 없습니다. 따라오지 못하는 구독자에게는
      기다려 주는 대신(백프레셔) 가장 오래된 것을 버리고, 버린 수를 알리고,
      계속 못 따라오면 내보냅니다. 빠른 구독자는 느린 구독자와 상관없이 받습니다.
    - 모든 버퍼와 목록에 상한이 있고, 상한은 데이터를 넣는 자리에서 지킵니다.
    - 통계는 한 번 훑으며(온라인) 수치적으로 안정하게 계산합니다(Welford).
    - 탐지기의 품질은 정답을 아는 데이터로 잽니다(정밀도, 재현율).
    - 서버는 자기 상태를 잽니다: 이벤트 루프 지연, 처리량, 메모리.

프로토콜 (ws://HOST:PORT/ws, JSON 텍스트 프레임 하나가 메시지 하나)
    클라이언트 → 서버
      subscribe {topics: [이름...]}     답: subscribed {topics}
      unsubscribe {topics: [이름...]}   답: unsubscribed {topics}
    서버 → 클라이언트
      welcome {topics, rate}            연결하자마자, 무엇보다 먼저
      tick {topic, seq, value, ts}      seq는 연결·토픽마다 1부터. 버린 틱도 세므로
                                        빈틈의 크기가 곧 버린 틱 수. ts는 time.time()
      aggregate {topic, window, start, count, mean, min, max, std, p95, ewma}
                                        칸(1초, 10초)이 닫힐 때. std는 모표준편차
      anomaly {topic, value, score, threshold, ts}   ts는 그 틱의 ts
      metrics {clients, sent_per_s, bytes_per_s, received_per_s, dropped_total,
               queue_max, loop_lag_ms, rss_bytes, precision, recall, ts}
                                        1초마다 모든 연결에
      dropped {count, total}            큐가 넘쳐 버린 메시지 수(1초에 한 번까지)
      notice {text}                     서버 종료 알림
      error {code, message}             연결은 그대로. code: invalid_json,
                                        unknown_type, unknown_topic, invalid_topics,
                                        binary_not_supported, rate_limited
    닫는 경우: 64 KiB를 넘는 프레임 1009, 포화된 구독자·규칙 위반 반복·구독 마감
    1008, 서버 종료 1001. HTTP: 낯선 Origin 403, 정원 초과 503, 겹친 헤더 400.

실행 방법
    python 04_advanced_websocket.py                     # 메뉴
    python 04_advanced_websocket.py server              # 터미널 1: 서버
    (브라우저로 http://127.0.0.1:8765/ 를 열면 대시보드)
    python 04_advanced_websocket.py client              # 터미널 2: 틱 보기
    python 04_advanced_websocket.py analytics           # 서버 집계와 비교
    python 04_advanced_websocket.py slow-client         # 일부러 느린 소비자
    python 04_advanced_websocket.py demo 6              # 6절만 실행
    python 04_advanced_websocket.py demo all            # 1~16절 전부
    python 04_advanced_websocket.py --help
    성능 측정: python bench/04_streaming.py (README의 "성능 측정")

필요 패키지
    websockets>=17.1 (Python 3.11 이상). 서버 모드는 유닉스에서 resource 모듈로
    열 수 있는 파일 수 한도를 올리고, 리눅스에서는 /proc에서 RSS를 읽습니다.

참고
    https://websockets.readthedocs.io/en/stable/topics/broadcast.html
    https://websockets.readthedocs.io/en/stable/topics/memory.html
    https://prometheus.io/docs/instrumenting/exposition_formats/
    https://en.wikipedia.org/wiki/Algorithms_for_calculating_variance
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import errno
import functools
import hashlib
import json
import logging
import math
import os
import random
import re
import signal
import socket
import statistics
import sys
import time
import timeit
import unicodedata
import warnings
from collections import Counter, deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Generator,
    Iterable,
    Mapping,
)
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Any, NoReturn

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.client import process_exception
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Close, CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Origin

if sys.platform != "win32":
    import resource  # 유닉스 전용: 열 수 있는 파일 수 한도(13절)

PROG = "python 04_advanced_websocket.py"  # 도움말과 안내문에 보이는 실행 명령
DEFAULT_HOST = "127.0.0.1"  # 루프백: 이 컴퓨터에서만 접속 가능
DEFAULT_PORT = 8765  # 환경 변수 PORT가 있으면 그 값
WS_PATH = "/ws"  # WebSocket 주소의 경로
DEFAULT_TOPICS = 3  # 서버가 만드는 토픽 수
MAX_TOPICS = 50  # --topics의 상한
DEFAULT_RATE = 5.0  # 토픽마다 초당 틱 수
MAX_RATE = 200.0  # --rate의 상한
DEFAULT_SEED = 42  # 신호를 만드는 난수의 시드: 같은 시드면 같은 값
DEFAULT_ANOMALY_RATE = 2.0  # 토픽마다 1분에 심는 이상의 평균 개수
QUIET_SECONDS = 4.0  # 처음 이만큼(초)은 이상을 심지 않습니다(탐지기 예열, 8절)
MAX_FRAME_BYTES = 64 * 1024  # 받는 프레임의 최대 크기: 넘으면 1009로 닫힘
FRAME_RATE = 5.0  # 연결마다 받는 프레임의 속도 제한: 초당
FRAME_BURST = 10  # 연결마다 한꺼번에 허용하는 프레임 수
STRIKE_RATE = 1.0  # 규칙 위반 예산이 초당 채워지는 양
STRIKE_BURST = 20  # 규칙 위반 예산: 바닥나면 1008로 닫음
SUBSCRIBE_TIMEOUT = 10.0  # 연결한 뒤 이 시간(초) 안에 구독하지 않으면 1008로 닫음
QUEUE_SIZE = 128  # 구독자마다 보낼 메시지 큐의 길이(넘치면 가장 오래된 것을 버림)
SATURATION_LIMIT = 2.0  # 버리기가 이만큼(초) 넘게 이어지면 1008로 내보냄
DROP_REPORT_INTERVAL = 1.0  # 버린 수(dropped)를 알리는 최소 간격(초)
WRITE_LIMIT = 8 * 1024  # 연결의 쓰기 버퍼가 이만큼 차면 send()가 기다림(바이트)
SEND_BUFFER = 8 * 1024  # 서버 소켓의 커널 보내기 버퍼(SO_SNDBUF, 바이트)
PONG_LIMIT = 128 * 1024  # 읽지 않고 ping만 보내는 연결을 끊는 쓰기 버퍼 크기
WINDOWS = (1, 10)  # 텀블링 윈도의 길이(초)
EWMA_ALPHA = 0.1  # 집계의 EWMA: 새 값의 가중치
MEAN_HALF_LIFE = 0.5  # 탐지기: 평균의 반감기(초)
VAR_HALF_LIFE = 10.0  # 탐지기: 분산의 반감기(초)
THRESHOLD = 4.5  # 탐지기: 이 z-점수를 넘으면 이상
WARMUP_SECONDS = 3.0  # 탐지기: 처음 이만큼(초)은 판정하지 않음
MATCH_GRACE = 1.0  # 정답과 맞춰 볼 때 이상이 끝난 뒤 더 봐 주는 시간(초)
METRICS_INTERVAL = 1.0  # metrics 메시지를 보내는 간격(초)
LAG_INTERVAL = 0.1  # 이벤트 루프 지연을 재는 간격(초)
DEFAULT_MAX_CLIENTS = 1000  # 동시 연결 상한(핸드셰이크 중 포함): 넘으면 503
HANDSHAKE_SLACK = 64  # 정원을 넘어 503으로 답할 여유. 그 밖은 받자마자 끊음
OPEN_TIMEOUT = 10.0  # TCP 연결 뒤 핸드셰이크를 끝내야 하는 시간(초)
PING_INTERVAL = 10.0  # 하트비트: ping을 보내는 간격(초)
PING_TIMEOUT = 10.0  # 하트비트: pong을 기다리는 시간제한(초)
CLOSE_TIMEOUT = 5.0  # 닫기 핸드셰이크를 기다리는 시간제한(초): 느린 구독자도 닿게
SHUTDOWN_GRACE = 3.0  # 종료할 때 연결이 닫히기를 기다리는 최대 시간(초)
RETRY_CODES = (1001, 1011, 1012, 1013)  # 클라이언트가 다시 연결하는 종료 코드

log = logging.getLogger("stream")


def seconds(value: float) -> str:
    """걸린 시간을 사람이 읽기 좋게: 1ms 미만은 μs, 1초 미만은 ms, 그 이상은 초.

    >>> seconds(0.0000421), seconds(0.0123), seconds(1.5), seconds(math.nan)
    ('42μs', '12.3ms', '1.50초', '-')
    """
    if math.isnan(value):  # 잴 것이 없었음(빈 목록의 백분위수)
        return "-"
    if abs(value) < 0.001:
        return f"{value * 1e6:.0f}μs"
    return f"{value * 1000:.1f}ms" if abs(value) < 1 else f"{value:.2f}초"


def display_width(text: str) -> int:
    """터미널에서 차지하는 칸 수(한글 등 전각 문자는 2칸).

    >>> display_width("성공"), display_width("ok")
    (4, 2)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """전각 문자를 고려해 왼쪽 정렬합니다."""
    return text + " " * max(0, width - display_width(text))


def port_of(server: Server) -> int:
    """서버가 실제로 연 포트(포트 0으로 열면 운영체제가 고른 빈 포트)."""
    return int(server.sockets[0].getsockname()[1])


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """condition()이 참이 될 때까지 기다립니다(데모가 서버 쪽 상태를 볼 때)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110  여러 태스크가 바꾸는 상태라 가끔 봄
            await asyncio.sleep(0.01)


def printable(text: str) -> str:
    r"""기록에 쓸 글: 제어 문자를 \x1b처럼 눈에 보이는 글자로 바꿉니다(02 레슨 3절).

    >>> printable("/nope\x1b[2J\x9b 안녕")
    '/nope\\x1b[2J\\x9b 안녕'
    """
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


# =============================================================================
# 1. 가장 작은 스트리밍 서버: 생산자 태스크와 broadcast()
# =============================================================================
# 채팅(03)은 클라이언트가 보낸 것을 나눠 주었습니다. 스트리밍에서는 서버 안의
# 생산자(producer)가 데이터를 만들고, 연결된 모두에게 흘려보냅니다. 뼈대는 둘입니다.
#   - 핸들러: 연결을 명단에 올리고, 닫힐 때까지 기다리고, 명단에서 뺍니다.
#   - 생산자: 이벤트 루프에서 도는 태스크 하나가 0.1초마다 값을 만들어 broadcast().
# 이대로 쓰기 어려운 까닭이 나머지 절들입니다.
#   값이 단조로운 난수뿐(2절) → 무엇을 받을지 고를 수 없음(3~5절) → 읽지 않는
#   클라이언트의 버퍼가 끝없이 자람(6절) → 원값만 흘림: 요약(7절)도 경보(8절)도
#   없음 → 서버가 잘 도는지 모름(9절) → 사람이 볼 화면(10, 11절) → 조립과 종료
#   (12, 13절) → 받는 쪽 프로그램(13~16절).


async def tiny_stream(
    websocket: ServerConnection, listeners: set[ServerConnection]
) -> None:
    """가장 작은 스트리밍 핸들러: 연결을 명단에 올리고 닫힐 때까지 기다립니다."""
    listeners.add(websocket)
    try:
        await websocket.wait_closed()
    finally:
        listeners.discard(websocket)  # 어떻게 끝나든 뺍니다


async def tiny_producer(listeners: set[ServerConnection], rate: float) -> None:
    """초당 rate번 온도 값을 하나 만들어 명단의 모두에게 보냅니다."""
    rng = random.Random(DEFAULT_SEED)  # 시드를 정하면 실행할 때마다 같은 값
    value = 22.0
    while True:
        value = round(value + rng.gauss(0, 0.1), 2)
        broadcast(listeners, json.dumps({"topic": "temperature", "value": value}))
        await asyncio.sleep(1 / rate)


async def demo_01_tiny_stream() -> None:
    """1절: 생산자 태스크 하나와 broadcast().

    예상 출력(포트는 실행마다 다름):
        [서버] ws://127.0.0.1:41234 에 연결 2개, 초당 10번 보냅니다
        [클라이언트 1] <<< {"topic": "temperature", "value": 21.99}
        [클라이언트 1] <<< {"topic": "temperature", "value": 21.97}
        [클라이언트 1] <<< {"topic": "temperature", "value": 21.96}
        [클라이언트 2] <<< {"topic": "temperature", "value": 21.99}
        [클라이언트 2] <<< {"topic": "temperature", "value": 21.97}
        [클라이언트 2] <<< {"topic": "temperature", "value": 21.96}
        두 클라이언트가 받은 값이 같습니다: True
    """
    listeners: set[ServerConnection] = set()
    handler = functools.partial(tiny_stream, listeners=listeners)
    async with serve(handler, DEFAULT_HOST, 0) as server:
        url = f"ws://{DEFAULT_HOST}:{port_of(server)}"
        async with connect(url) as first, connect(url) as second:
            await wait_until(lambda: len(listeners) == 2)
            print(f"[서버] {url} 에 연결 {len(listeners)}개, 초당 10번 보냅니다")
            producer = asyncio.create_task(tiny_producer(listeners, rate=10))
            received: list[list[str]] = []
            for name, websocket in (("1", first), ("2", second)):
                frames = [await websocket.recv(decode=True) for _ in range(3)]
                for frame in frames:
                    print(f"[클라이언트 {name}] <<< {frame}")
                received.append(frames)
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
    print(f"두 클라이언트가 받은 값이 같습니다: {received[0] == received[1]}")


# =============================================================================
# 2. 시뮬레이션 신호: 추세, 계절성, 잡음, 그리고 심어 둔 이상
# =============================================================================
# 센서 값은 대개 세 가지가 겹친 모양입니다.
#   값 = 기준 + 추세(천천히 오르거나 내림) + 계절성(하루 주기를 몇십 초로 줄인
#        사인파) + 잡음(정규 분포, 표준편차 σ)
# 여기에 가끔 이상(anomaly)을 심습니다.
#   - spike: 한 틱만 6~10σ 튐(센서 오작동, 순간 과부하)
#   - shift: 1~3초 동안 수준이 5~8σ 옮겨 감(밸브가 열림, 장비가 바뀜)
# 이상을 심을 때마다 그 위치를 정답(ground truth)으로 돌려주므로 8절에서 탐지기가
# 얼마나 맞혔는지 잴 수 있습니다. 토픽마다 random.Random(f"{시드}:{토픽}")을 따로
# 쓰므로 같은 시드면 언제나 같은 값이 나오고, 토픽을 늘려도 기존 토픽의 값은
# 그대로입니다. 값은 틱 번호로만 정해지고 시계와 상관없습니다(재현 가능).


@dataclass(frozen=True)
class TopicSpec:
    """토픽 하나의 신호 모양."""

    name: str  # 토픽 이름: 영문 소문자와 숫자(프로토콜에 그대로 들어갑니다)
    base: float  # 기준값
    amplitude: float  # 계절성(사인파)의 진폭
    noise: float  # 잡음의 표준편차(σ)


TOPIC_SPECS = (  # 진폭은 모두 잡음의 5배: 계절성이 잡음보다 뚜렷하게
    TopicSpec("temperature", 22.0, 1.0, 0.2),
    TopicSpec("humidity", 45.0, 4.0, 0.8),
    TopicSpec("pressure", 1013.0, 1.5, 0.3),
    TopicSpec("power", 350.0, 50.0, 10.0),
    TopicSpec("vibration", 2.0, 0.4, 0.08),
    TopicSpec("co2", 600.0, 60.0, 12.0),
    TopicSpec("noise", 55.0, 5.0, 1.0),
    TopicSpec("light", 300.0, 40.0, 8.0),
    TopicSpec("flow", 12.0, 1.5, 0.3),
    TopicSpec("voltage", 230.0, 2.5, 0.5),
)


def topic_specs(count: int) -> list[TopicSpec]:
    """토픽 count개: 이름 있는 열 개 다음은 sensor11, sensor12 ...

    >>> [spec.name for spec in topic_specs(12)][-3:]
    ['voltage', 'sensor11', 'sensor12']
    """
    specs = list(TOPIC_SPECS[:count])
    for n in range(len(specs) + 1, count + 1):
        specs.append(TopicSpec(f"sensor{n:02d}", 100.0, 10.0, 2.0))
    return specs


@dataclass(frozen=True)
class Anomaly:
    """심어 둔 이상 하나(정답)."""

    kind: str  # "spike" 또는 "shift"
    start: int  # 시작 틱 번호(0부터)
    end: int  # 마지막 틱 번호(spike는 start와 같음)
    size: float  # 잡음 σ의 몇 배인지, 부호 포함


class SignalGenerator:
    """토픽 하나의 값을 틱마다 만듭니다. next()는 (값, 이 틱에 시작한 이상)."""

    def __init__(
        self,
        spec: TopicSpec,
        rate: float,
        seed: int = DEFAULT_SEED,
        anomaly_rate: float = DEFAULT_ANOMALY_RATE,
    ) -> None:
        self.spec, self.rate = spec, rate
        self.rng = random.Random(f"{seed}:{spec.name}")  # 토픽마다 따로, 재현 가능
        self.period = self.rng.uniform(60, 120)  # 계절성의 주기(초)
        self.phase = self.rng.uniform(0, 2 * math.pi)
        self.slope = self.rng.uniform(-1, 1) * spec.noise / 60  # 추세: 분당 최대 1σ
        self.chance = anomaly_rate / 60 / rate  # 틱 하나에서 이상이 시작될 확률
        self.tick = 0  # 다음 틱 번호
        self.ready_at = round(QUIET_SECONDS * rate)  # 이 틱부터 이상을 심을 수 있음
        self.shift: Anomaly | None = None  # 진행 중인(또는 마지막) 수준 이동

    def next(self) -> tuple[float, Anomaly | None]:
        k, t, spec = self.tick, self.tick / self.rate, self.spec
        self.tick += 1
        season = spec.amplitude * math.sin(2 * math.pi * t / self.period + self.phase)
        value = spec.base + self.slope * t + season + self.rng.gauss(0, spec.noise)
        started = None
        if self.shift is not None and k <= self.shift.end:
            value += self.shift.size * spec.noise
        elif k >= self.ready_at and self.rng.random() < self.chance:
            started = self.inject(k)
            value += started.size * spec.noise
        return round(value, 3), started  # 소수 셋째 자리: 보내는 값 = 계산하는 값

    def inject(self, k: int) -> Anomaly:
        """틱 k에서 시작하는 이상 하나를 정합니다(70%는 spike, 30%는 shift)."""
        rng = self.rng
        sign = rng.choice((-1, 1))
        if rng.random() < 0.7:
            anomaly = Anomaly("spike", k, k, sign * rng.uniform(6, 10))
        else:
            ticks = max(2, round(rng.uniform(1, 3) * self.rate))
            anomaly = Anomaly("shift", k, k + ticks - 1, sign * rng.uniform(5, 8))
            self.shift = anomaly
        self.ready_at = anomaly.end + round(2 * self.rate)  # 다음 이상은 2초 뒤부터
        return anomaly


def demo_02_signal() -> None:
    """2절: 2분 치 온도 신호와 심어 둔 이상(정답).

    예상 출력(시드 42라 언제나 같음):
        temperature: 기준 22, 계절성 ±1(주기 82초), 잡음 σ=0.2
        초당 10틱으로 2분: 1,200틱, 최소 20.44, 평균 21.90, 최대 24.56
        심은 이상 5개(분당 3개를 바랐음):
          spike 틱 87        (8.7초)    크기 +9.7σ
          spike 틱 366       (36.6초)   크기 +8.5σ
          shift 틱 439~457   (43.9초)   크기 -7.1σ
          shift 틱 641~663   (64.1초)   크기 -6.0σ
          shift 틱 893~915   (89.3초)   크기 +6.0σ
        첫 spike 앞뒤: 21.24 21.28 [22.83] 20.98 20.88
        같은 시드로 다시 만들면 같은 값: True
    """
    spec = TOPIC_SPECS[0]
    generator = SignalGenerator(spec, rate=10, anomaly_rate=3)
    values: list[float] = []
    injected: list[Anomaly] = []
    for _ in range(1200):
        value, anomaly = generator.next()
        values.append(value)
        if anomaly is not None:
            injected.append(anomaly)
    season = f"계절성 ±{spec.amplitude:g}(주기 {generator.period:.0f}초)"
    print(f"{spec.name}: 기준 {spec.base:g}, {season}, 잡음 σ={spec.noise:g}")
    low, mean, high = min(values), statistics.fmean(values), max(values)
    print(f"초당 10틱으로 2분: {len(values):,}틱, 최소 {low:.2f}, ", end="")
    print(f"평균 {mean:.2f}, 최대 {high:.2f}")
    print(f"심은 이상 {len(injected)}개(분당 3개를 바랐음):")
    for a in injected:
        ticks = f"{a.start}~{a.end}" if a.kind == "shift" else str(a.start)
        when = f"({a.start / 10:.1f}초)"
        print(f"  {a.kind} 틱 {ticks:<10}{when:<9} 크기 {a.size:+.1f}σ")
    spike = next(a for a in injected if a.kind == "spike")
    around = [f"{v:.2f}" for v in values[spike.start - 2 : spike.start + 3]]
    around[2] = f"[{around[2]}]"
    print(f"첫 spike 앞뒤: {' '.join(around)}")
    again = SignalGenerator(spec, rate=10, anomaly_rate=3)
    same = all(again.next()[0] == value for value in values)
    print(f"같은 시드로 다시 만들면 같은 값: {same}")


# =============================================================================
# 3. 프로토콜과 입력 검사: 메시지 종류, 오류 코드, 허용 목록, 토큰 버킷
# =============================================================================
# 프로토콜(모듈 docstring의 표)은 서버와 모든 클라이언트(터미널, 브라우저, 다른
# 언어)가 함께 지키는 약속입니다. type과 오류 코드는 StrEnum으로 한곳에 모읍니다.
# StrEnum은 str이기도 해서 json.dumps가 그대로 씁니다. 오류 코드는 프로그램이 읽는
# 값이라 바꾸지 않고, 사람이 읽는 설명은 따로 둡니다.
# 서버는 클라이언트가 보내는 것을 믿지 않습니다(03 레슨과 같은 순서).
#   - 크기: 64 KiB를 넘는 프레임은 라이브러리가 읽지 않고 1009로 닫습니다(5절).
#   - 빈도: 토큰 버킷(token bucket). 버킷에 토큰이 최대 burst개 있고 초당 rate개씩
#     다시 찹니다. 프레임 하나가 토큰 하나를 씁니다. subscribe/unsubscribe를 쉬지
#     않고 되풀이하는(churn) 연결은 rate_limited를 받고(1초에 한 번만 알림), 버린
#     프레임과 오류로 답한 프레임은 '위반 예산'(또 하나의 토큰 버킷)을 씁니다.
#     예산이 바닥나면 1008로 닫습니다.
#   - 모양: JSON 객체인지(invalid_json), 아는 type인지(unknown_type).
#   - 내용: topics는 문자열 목록이어야 하고(invalid_topics), 이름은 서버가 가진
#     토픽 중 하나여야 합니다(unknown_topic). 허용 목록(allowlist)과 정확히 같은지
#     비교하므로 이름에 무엇이 들어 있든 그 밖의 검사가 필요 없습니다.


class ClientType(StrEnum):
    """클라이언트 → 서버 메시지의 type."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class ServerType(StrEnum):
    """서버 → 클라이언트 메시지의 type."""

    WELCOME = "welcome"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    TICK = "tick"
    AGGREGATE = "aggregate"
    ANOMALY = "anomaly"
    METRICS = "metrics"
    DROPPED = "dropped"
    NOTICE = "notice"
    ERROR = "error"


class ErrorCode(StrEnum):
    """error 메시지의 code: 클라이언트 프로그램이 읽는 값이라 바꾸지 않습니다."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_TOPIC = "unknown_topic"
    INVALID_TOPICS = "invalid_topics"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    RATE_LIMITED = "rate_limited"


ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_JSON: 'JSON 객체({"type": ...})가 아닙니다.',
    ErrorCode.UNKNOWN_TYPE: "모르는 type입니다. subscribe 또는 unsubscribe를 보내세요.",
    ErrorCode.UNKNOWN_TOPIC: "없는 토픽입니다. welcome의 topics 중에서 고르세요.",
    ErrorCode.INVALID_TOPICS: "topics는 토픽 이름(문자열)을 1개 이상 담은 목록입니다.",
    ErrorCode.BINARY_NOT_SUPPORTED: "이진 프레임은 받지 않습니다(JSON 텍스트만).",
    ErrorCode.RATE_LIMITED: "너무 자주 보내고 있습니다. 잠시 뒤에 보내 주세요.",
}

Event = dict[str, object]  # JSON 객체 하나(메시지 한 개)


def encode(event: Event) -> str:
    """이벤트를 JSON 텍스트 프레임으로: 한글은 그대로, 공백 없이(바이트 절약).

    >>> encode({"type": ServerType.SUBSCRIBED, "topics": ["temperature"]})
    '{"type":"subscribed","topics":["temperature"]}'
    """
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def error_event(code: ErrorCode) -> Event:
    """오류 응답. 연결은 닫지 않습니다."""
    return {"type": ServerType.ERROR, "code": code, "message": ERROR_MESSAGES[code]}


def parse_frame(frame: str) -> dict[str, object] | None:
    """JSON 객체면 dict, 아니면(깨진 JSON, 배열, 문자열, 너무 깊은 중첩) None.

    >>> parse_frame('{"type": "subscribe"}'), parse_frame("[1]"), parse_frame("{")
    ({'type': 'subscribe'}, None, None)
    >>> parse_frame("[" * 5000) is None  # 깊은 중첩은 RecursionError를 냅니다
    True
    """
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):  # JSONDecodeError는 ValueError의 하위 클래스
        return None
    return data if isinstance(data, dict) else None


def requested_topics(
    data: dict[str, object], known: Collection[str]
) -> list[str] | ErrorCode:
    """subscribe/unsubscribe의 topics 검사: 겹친 이름은 하나로, 순서는 그대로.

    >>> known = ["temperature", "humidity"]
    >>> requested_topics({"topics": ["humidity", "humidity"]}, known)
    ['humidity']
    >>> requested_topics({"topics": ["nope"]}, known)
    <ErrorCode.UNKNOWN_TOPIC: 'unknown_topic'>
    >>> requested_topics({"topics": "humidity"}, known)
    <ErrorCode.INVALID_TOPICS: 'invalid_topics'>
    """
    raw = data.get("topics")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_TOPICS:
        return ErrorCode.INVALID_TOPICS
    if not all(isinstance(name, str) for name in raw):
        return ErrorCode.INVALID_TOPICS
    if any(name not in known for name in raw):
        return ErrorCode.UNKNOWN_TOPIC
    return list(dict.fromkeys(map(str, raw)))


@dataclass
class TokenBucket:
    """초당 rate개씩 채워지고 최대 burst개까지 쌓이는 토큰 버킷.

    >>> bucket = TokenBucket(rate=5, burst=10, updated=0.0)
    >>> sum(bucket.take(0.0) for _ in range(15))  # 한꺼번에 15개: 10개만 통과
    10
    >>> bucket.take(0.1), bucket.take(0.3)  # 0.1초엔 0.5개, 0.3초엔 1.5개가 참
    (False, True)
    """

    rate: float  # 초당 채워지는 토큰 수
    burst: float  # 버킷 크기
    updated: float = field(default_factory=time.monotonic)  # 마지막으로 채운 시각
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst  # 처음에는 가득 차 있습니다

    def take(self, now: float) -> bool:
        """토큰 하나를 씁니다. 없으면 False."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Verdict(Enum):
    """프레임 하나에 대한 판정."""

    ALLOW = "통과"
    DROP = "버림"
    NOTIFY = "버리고 rate_limited로 알림"
    DISCONNECT = "위반 예산 바닥: 1008로 닫음"


@dataclass
class RateGuard:
    """연결 하나의 속도 제한(limiter)과 위반 예산(strikes)."""

    limiter: TokenBucket
    strikes: TokenBucket
    notified_at: float = -math.inf  # 마지막으로 rate_limited를 보낸 시각

    @classmethod
    def create(cls, now: float) -> RateGuard:
        limiter = TokenBucket(FRAME_RATE, FRAME_BURST, now)
        return cls(limiter, TokenBucket(STRIKE_RATE, STRIKE_BURST, now))

    def check(self, now: float) -> Verdict:
        """프레임이 들어올 때마다(JSON을 읽기 전에) 부릅니다."""
        if self.limiter.take(now):
            return Verdict.ALLOW
        if not self.strikes.take(now):
            return Verdict.DISCONNECT
        if now - self.notified_at < 1.0:  # rate_limited는 1초에 한 번만
            return Verdict.DROP
        self.notified_at = now
        return Verdict.NOTIFY


def demo_03_protocol() -> None:
    """3절: 메시지 종류, 오류 코드, 검사 결과, 구독 되풀이(churn)의 운명.

    예상 출력:
        클라이언트 → 서버: subscribe, unsubscribe
        서버 → 클라이언트: welcome, subscribed, unsubscribed, tick, aggregate, ...
        오류 코드 6개:
          invalid_json          JSON 객체({"type": ...})가 아닙니다.
          unknown_type          모르는 type입니다. subscribe 또는 ...
          unknown_topic         없는 토픽입니다. welcome의 topics 중에서 고르세요.
          invalid_topics        topics는 토픽 이름(문자열)을 1개 이상 담은 목록입니다.
          binary_not_supported  이진 프레임은 받지 않습니다(JSON 텍스트만).
          rate_limited          너무 자주 보내고 있습니다. 잠시 뒤에 보내 주세요.
        {"type":"subscribe","topics":["humidity","humidity"]} → ['humidity']
        {"type":"subscribe","topics":["nope"]}                → unknown_topic
        {"type":"subscribe","topics":"humidity"}              → invalid_topics
        {"type":"subscribe","topics":[7]}                     → invalid_topics
        ["subscribe"]                                         → invalid_json
        subscribe를 초당 50번: 통과 13, 버림 19, rate_limited 알림 1,
          0.66초(34번째 프레임)에 위반 예산이 바닥나 1008로 닫음
    """
    print("클라이언트 → 서버:", ", ".join(ClientType))
    print("서버 → 클라이언트:", ", ".join(ServerType))
    print(f"오류 코드 {len(ErrorCode)}개:")
    for code in ErrorCode:
        print(f"  {code:<22}{ERROR_MESSAGES[code]}")
    known = [spec.name for spec in TOPIC_SPECS[:3]]
    for frame in (
        '{"type":"subscribe","topics":["humidity","humidity"]}',
        '{"type":"subscribe","topics":["nope"]}',
        '{"type":"subscribe","topics":"humidity"}',
        '{"type":"subscribe","topics":[7]}',
        '["subscribe"]',
    ):
        data = parse_frame(frame)
        result = requested_topics(data, known) if data else ErrorCode.INVALID_JSON
        shown = result if isinstance(result, ErrorCode) else repr(result)
        print(f"{frame:<54}→ {shown}")
    guard = RateGuard.create(now=0.0)
    counts: Counter[Verdict] = Counter()
    for n in range(150):  # 초당 50개를 3초 동안 보내 봅니다(가짜 시계)
        verdict = guard.check(now=n / 50)
        counts[verdict] += 1
        if verdict is Verdict.DISCONNECT:
            break
    allowed, dropped = counts[Verdict.ALLOW], counts[Verdict.DROP]
    print(f"subscribe를 초당 50번: 통과 {allowed}, 버림 {dropped}, ", end="")
    print(f"rate_limited 알림 {counts[Verdict.NOTIFY]},")
    print(f"  {n / 50:.2f}초({n + 1}번째 프레임)에 위반 예산이 바닥나 1008로 닫음")


# =============================================================================
# 4. 허브: 구독자 명단, seq, 한 번 만들어 여럿에게 보내는 틱 프레임
# =============================================================================
# 허브(Hub)는 토픽마다 구독자 명단을 들고, 생산자가 만든 값을 그 명단에 나눠 줍니다.
# 메서드에는 await가 없습니다. 메서드 하나가 도는 동안 다른 태스크가 끼어들 수 없으니
# "명단 확인 → 보내기"가 한 덩어리로 실행되어 Lock이 필요 없습니다(03과 같은 생각).
# seq: 구독자마다, 토픽마다 하나씩 1부터 셉니다. 서버가 그 구독에 틱을 만들 때마다
# 보냈든 버렸든(6절) 1씩 늘리므로, 받는 쪽에서 본 빈틈이 곧 잃어버린 틱 수입니다.
# 구독을 끊었다가 다시 하면 이어서 셉니다(끊긴 동안의 틱은 세지 않으므로 빈틈이
# 생기지 않습니다).
# 생산자(run_producer)는 태스크 하나입니다. 초당 rate번 모든 토픽의 값을 만들어 허브에
# 넘기고, 잠들 시간은 절대 시각으로 맞춰 늦어진 만큼 다음을 당깁니다.
# 성능: 틱 프레임은 구독자마다 seq만 다릅니다. JSON을 구독자마다 다시 만들지 않고
# seq 앞과 뒤를 한 번 만들어 바이트로 잇습니다(tick_parts, 아래 데모가 잽니다).
# 보낼 때도 구독자마다 다시 인코딩하지 않도록 바이트를 text=True로 보냅니다.


@dataclass
class ServerConfig:
    """서버 설정. 명령줄 옵션(server --help)과 같은 뜻입니다."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    topics: int = DEFAULT_TOPICS  # 2절
    rate: float = DEFAULT_RATE
    seed: int = DEFAULT_SEED
    anomaly_rate: float = DEFAULT_ANOMALY_RATE
    subscribe_timeout: float = SUBSCRIBE_TIMEOUT  # 5절
    queue_size: int = QUEUE_SIZE  # 6절
    saturation_limit: float = SATURATION_LIMIT
    ping_interval: float = PING_INTERVAL
    ping_timeout: float = PING_TIMEOUT
    max_clients: int = DEFAULT_MAX_CLIENTS  # 11절
    allow_origins: tuple[str, ...] = ()


@dataclass(eq=False)  # eq=False: 객체마다 따로 보고 set에 넣을 수 있게(해시 유지)
class Client:
    """연결 하나: WebSocket, 속도 제한, 구독한 토픽과 seq, 보낼 큐(6절)."""

    websocket: ServerConnection
    guard: RateGuard
    queue: deque[bytes]  # 보낼 프레임(6절). maxlen이 상한입니다
    topics: set[str] = field(default_factory=set)  # 지금 구독 중인 토픽
    seq: dict[str, int] = field(default_factory=dict)  # 토픽 → 마지막으로 매긴 번호
    gone: bool = False  # 허브를 떠남(내보냈거나 연결이 끝남)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # 큐에 넣었음(6절)
    writer: asyncio.Task[None] | None = None  # 큐를 비우는 태스크(6절)
    dropped: int = 0  # 큐가 넘쳐 버린 메시지 수(6절)
    unreported: int = 0  # 그중 아직 알리지 않은 수
    report_after: float = 0.0  # 이 시각부터 다음 dropped를 보낼 수 있음
    saturated_since: float | None = None  # 이번에 버리기 시작한 시각
    dropped_at: float = -math.inf  # 마지막으로 버린 시각

    @property
    def label(self) -> str:
        """기록에 쓰는 이름: 상대의 주소와 포트."""
        return ":".join(map(str, self.websocket.remote_address[:2]))


def tick_parts(topic: str, value: float, ts: float) -> tuple[bytes, bytes]:
    """틱 프레임의 seq 앞과 뒤. 토픽 이름은 서버가 정한 영문 소문자와 숫자입니다.

    >>> head, tail = tick_parts("power", 21.5, 1767225600.25)
    >>> json.loads(head + b"7" + tail)
    {'type': 'tick', 'topic': 'power', 'seq': 7, 'value': 21.5, 'ts': 1767225600.25}
    """
    head = f'{{"type":"tick","topic":"{topic}","seq":'
    tail = f',"value":{json.dumps(value)},"ts":{json.dumps(ts)}}}'
    return head.encode(), tail.encode()


class Hub:
    """토픽마다의 구독자 명단과 보내기. 메서드는 모두 동기 함수입니다(await 없음)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        specs = topic_specs(config.topics)
        self.generators = [
            SignalGenerator(spec, config.rate, config.seed, config.anomaly_rate)
            for spec in specs
        ]
        self.subscribers: dict[str, set[Client]] = {spec.name: set() for spec in specs}
        self.clients: set[Client] = set()  # 핸드셰이크를 마친 연결
        self.sockets: set[ServerConnection] = set()  # 모든 TCP 연결(11절에서 셈)
        self.sent = self.sent_bytes = self.received = self.dropped = 0  # 9절이 읽음
        self.evicted = 0  # 포화되어 내보낸 구독자 수(6절)
        self.tasks: set[asyncio.Task[None]] = set()  # 백그라운드 태스크의 참조 보관소
        self.closing = False  # 종료 중(13절)
        self.url = ""  # 서버가 뜬 뒤의 ws://호스트:포트/ws

    @property
    def topics(self) -> list[str]:
        return list(self.subscribers)

    def join(self, client: Client) -> None:
        self.clients.add(client)

    def leave(self, client: Client, reason: str) -> None:
        """연결이 끝났거나 내보낼 때. 여러 번 불려도 한 번만 처리하고 기록합니다."""
        if client.gone:
            return
        client.gone = True
        self.clients.discard(client)
        for topic in client.topics:
            self.subscribers[topic].discard(client)
        log.info("연결 끝: %s (%s, 지금 %d개)", client.label, reason, len(self.clients))

    def send(self, client: Client, frame: bytes) -> None:
        """프레임 하나를 broadcast()로 바로 씁니다(흐름 제어 없음, 6절이 바꿈)."""
        broadcast([client.websocket], frame, text=True)
        self.sent += 1
        self.sent_bytes += len(frame)

    def publish(self, topic: str | None, event: Event) -> None:
        """topic의 구독자(None이면 모든 연결)에게 같은 프레임 하나를 보냅니다."""
        frame = encode(event).encode()
        for client in list(self.clients if topic is None else self.subscribers[topic]):
            self.send(client, frame)

    def reply(self, client: Client, event: Event) -> None:
        self.send(client, encode(event).encode())

    def subscribe(self, client: Client, topics: list[str]) -> None:
        for topic in topics:
            client.topics.add(topic)
            client.seq.setdefault(topic, 0)  # 다시 구독하면 이어서 셉니다
            self.subscribers[topic].add(client)
        self.reply(client, {"type": ServerType.SUBSCRIBED, "topics": topics})

    def unsubscribe(self, client: Client, topics: list[str]) -> None:
        for topic in topics:
            client.topics.discard(topic)
            self.subscribers[topic].discard(client)
        self.reply(client, {"type": ServerType.UNSUBSCRIBED, "topics": topics})

    def new_value(
        self, topic: str, value: float, ts: float, injected: Anomaly | None
    ) -> None:
        """생산자가 만든 값 하나. 여기서는 틱만 보냅니다(12절이 집계와 탐지를 더함)."""
        head, tail = tick_parts(topic, value, ts)
        for client in list(self.subscribers[topic]):
            client.seq[topic] += 1  # 보내든 버리든 셉니다
            self.send(client, head + str(client.seq[topic]).encode() + tail)

    def spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        """기다리지 않을 작업을 태스크로 띄우고 끝날 때까지 참조를 쥡니다(01의 3절)."""
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


async def run_producer(hub: Hub) -> None:
    """생산자: 초당 rate번, 모든 토픽의 값을 하나씩 만들어 허브에 넘깁니다."""
    loop = asyncio.get_running_loop()
    period = 1 / hub.config.rate
    next_at = loop.time()
    while True:
        ts = round(time.time(), 6)  # 이 틱을 만든 시각(μs까지)
        for generator in hub.generators:
            value, injected = generator.next()
            hub.new_value(generator.spec.name, value, ts, injected)
        next_at += period  # 절대 시각으로 맞춰 늦어진 만큼 다음을 당깁니다
        if next_at < loop.time() - 1:  # 1초 넘게 밀렸으면 몰아서 따라잡지 않음
            next_at = loop.time()
        await asyncio.sleep(max(0.0, next_at - loop.time()))


def demo_04_hub() -> None:
    """4절: 틱 하나를 구독자 1,000명의 프레임으로 만드는 두 방법을 잽니다.

    예상 출력(시간은 실행마다 다름):
        토픽 3개: temperature, humidity, pressure (토픽마다 초당 5틱)
        틱 하나를 구독자 1,000명의 프레임으로(seq만 다름, 5번 중 가장 빠른 값):
          구독자마다 json.dumps     3.5ms (프레임 하나에 3.50μs)
          앞뒤를 잇기               158μs (프레임 하나에 0.16μs)
          → 앞뒤를 잇기가 22.1배 빠릅니다
        두 방법의 바이트가 같습니다: True
    """
    hub = Hub(ServerConfig())
    names = ", ".join(hub.topics)
    print(f"토픽 {len(hub.topics)}개: {names} (토픽마다 초당 {hub.config.rate:g}틱)")
    value, ts = hub.generators[0].next()[0], round(time.time(), 6)
    tick: Event = {"type": ServerType.TICK, "topic": "temperature", "seq": 0}

    def each_time() -> list[bytes]:
        return [
            encode(tick | {"seq": n, "value": value, "ts": ts}).encode()
            for n in range(1, 1001)
        ]

    def once() -> list[bytes]:
        head, tail = tick_parts("temperature", value, ts)
        return [head + str(n).encode() + tail for n in range(1, 1001)]

    print("틱 하나를 구독자 1,000명의 프레임으로(seq만 다름, 5번 중 가장 빠른 값):")
    took = []
    for label, build in (("구독자마다 json.dumps", each_time), ("앞뒤를 잇기", once)):
        took.append(min(timeit.repeat(build, number=1, repeat=5)))
        per_frame = f"프레임 하나에 {took[-1] * 1000:.2f}μs"
        print(f"  {pad(label, 22)}{seconds(took[-1]):>9} ({per_frame})")
    print(f"  → 앞뒤를 잇기가 {took[0] / took[1]:.1f}배 빠릅니다")
    print(f"두 방법의 바이트가 같습니다: {each_time() == once()}")


# =============================================================================
# 5. 연결 하나의 일생: welcome, 검사, 구독 마감
# =============================================================================
# websockets는 연결마다 handle_client를 태스크 하나로 실행합니다. 함수 안은 순서대로
# 읽힙니다: welcome을 가장 먼저 보내고, 프레임마다 빈도(3절의 토큰 버킷) → 이진
# 프레임 → JSON → type 순서로 검사하고(dispatch), 잘못된 프레임에는 error로 답하고
# 연결은 그대로 둡니다. 한 번도 구독하지 않은 연결은 마감(subscribe_timeout,
# asyncio.timeout_at) 뒤에 1008로 닫습니다. 정원만 차지하는 연결을 남기지 않으려는
# 것입니다. 어떻게 끝나든 finally에서 허브를 떠납니다(명단에 유령이 남지 않음).
# stream_server()는 이 레슨의 serve() 설정을 한곳에 모읍니다.
# - compression=None: permessage-deflate는 연결마다 수십 KiB의 압축 상태와 CPU를
#   씁니다. 100바이트 남짓한 틱을 초당 수천 개 보내는 서버에는 얻는 것보다 잃는 것이
#   많습니다. 이진 프레임(예: struct로 24바이트)은 JSON보다 몇 배 작고 빠르지만
#   브라우저와 다른 언어의 클라이언트가 형식을 따로 알아야 합니다. 사람이 읽을 수
#   있는 JSON으로 시작하고, 재어 보고 모자랄 때 바꿉니다(차이는 bench가 잽니다).
# - 하트비트(heartbeat, websockets 문서의 keepalive): 10초마다 ping을 보내고 10초
#   안에 pong이 없으면 1011로 닫습니다. 전원이 꺼진 클라이언트를 치웁니다.


def dispatch(hub: Hub, client: Client, frame: str | bytes) -> ErrorCode | None:
    """프레임 하나를 처리합니다. 문제가 있으면 오류 코드를 돌려줍니다."""
    if isinstance(frame, bytes):
        return ErrorCode.BINARY_NOT_SUPPORTED
    data = parse_frame(frame)
    if data is None:
        return ErrorCode.INVALID_JSON
    match data:
        case {"type": ClientType.SUBSCRIBE | ClientType.UNSUBSCRIBE as kind}:
            topics = requested_topics(data, hub.subscribers)
            if isinstance(topics, ErrorCode):
                return topics
            if kind == ClientType.SUBSCRIBE:
                hub.subscribe(client, topics)
            else:
                hub.unsubscribe(client, topics)
            return None
        case _:
            return ErrorCode.UNKNOWN_TYPE


def describe_close(exc: ConnectionClosed) -> str:
    """연결이 끝난 까닭을 기록에 남길 한국어로. 닫기 프레임을 먼저 보낸 쪽이 닫은 쪽.

    >>> describe_close(ConnectionClosedError(None, None))
    '연결 끊김(닫기 프레임 없음)'
    """
    if exc.rcvd is not None and (exc.sent is None or exc.rcvd_then_sent):
        return f"클라이언트가 닫음 {exc.rcvd.code}"
    if exc.sent is None:
        return "연결 끊김(닫기 프레임 없음)"
    if exc.sent.reason == "keepalive ping timeout":  # 라이브러리가 붙이는 이유
        return "응답 없음(ping 시간 초과)"
    if exc.sent.code == CloseCode.GOING_AWAY:
        return "서버 종료로 1001"
    return f"서버가 닫음 {exc.sent.code} {exc.sent.reason}".strip()


async def close_or_abort(websocket: ServerConnection, code: int, reason: str) -> None:
    """닫기 프레임을 보내 보고, CLOSE_TIMEOUT 안에 안 닫히면 TCP 연결을 끊습니다.

    읽지 않는 상대에게는 닫기 프레임도 버퍼 뒤에 줄을 서서 닿지 않습니다.
    websocket.close()는 그 버퍼가 빠지기를 기다리므로 시간제한이 꼭 필요합니다.
    """
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await websocket.close(code, reason)
    except TimeoutError:
        websocket.transport.abort()  # 버퍼를 버리고 즉시 끊습니다


def expel(hub: Hub, client: Client, why: str) -> None:
    """허브에서 빼고(그 자리에서 기록) 1008로 닫습니다. 닫기는 기다리지 않습니다.

    닫는 동안에도 handle_client는 들어오는 프레임을 읽어서 버립니다. 읽지 않으면
    받은 쪽 큐가 차서 라이브러리가 읽기를 멈추고, 상대가 답한 닫기 프레임이 그 뒤에
    막혀 닫기 핸드셰이크가 CLOSE_TIMEOUT까지 끝나지 않습니다.
    """
    hub.leave(client, f"{why}(1008)")
    if hub.closing:  # 종료 중이면 기다리지 않고 끊습니다(13절)
        client.websocket.transport.abort()
    else:
        hub.spawn(close_or_abort(client.websocket, CloseCode.POLICY_VIOLATION, why))


async def handle_client(hub: Hub, websocket: ServerConnection) -> None:
    """연결 하나의 일생: welcome, 구독 요청 처리, 검사, 그리고 반드시 정리."""
    queue: deque[bytes] = deque(maxlen=hub.config.queue_size)
    client = Client(websocket, RateGuard.create(time.monotonic()), queue)
    log.info("연결: %s (지금 %d개)", client.label, len(hub.clients) + 1)
    subscribe_by = asyncio.get_running_loop().time() + hub.config.subscribe_timeout
    reason = "처리 중 예외"  # 아래에서 까닭이 정해지지 않고 끝났다면
    try:
        welcome = {"type": ServerType.WELCOME, "topics": hub.topics}
        await websocket.send(encode(welcome | {"rate": hub.config.rate}))  # 가장 먼저
        hub.join(client)
        while True:  # async for는 1000, 1001 종료를 조용히 끝내 누가 닫았는지 숨깁니다
            waiting = not client.seq and not client.gone  # 구독했으면 seq가 있음
            try:
                async with asyncio.timeout_at(subscribe_by if waiting else None):
                    frame = await websocket.recv()
            except TimeoutError:  # subscribe_by까지 구독하지 않았습니다
                expel(hub, client, "구독 시간 초과")
                continue
            if client.gone:  # 떠나게 한 연결: 닫히는 동안 온 프레임은 읽어서 버림
                continue
            hub.received += 1
            now = time.monotonic()
            verdict = client.guard.check(now)
            code = ErrorCode.RATE_LIMITED if verdict is Verdict.NOTIFY else None
            if verdict is Verdict.ALLOW:
                code = dispatch(hub, client, frame)
                if code is not None and not client.guard.strikes.take(now):
                    verdict = Verdict.DISCONNECT  # 오류의 벌점으로 예산이 바닥남
            if code is not None:
                hub.reply(client, error_event(code))
            if verdict is Verdict.DISCONNECT:
                expel(hub, client, "규칙 위반 반복")
    except ConnectionClosed as exc:  # 어떤 종료든 연결의 평범한 끝입니다
        reason = describe_close(exc)
    finally:
        hub.leave(client, reason)  # 이미 떠났으면 아무것도 하지 않습니다


# Any: serve()의 키워드 인자(process_request, origins ...)를 그대로 넘깁니다.
def stream_server(hub: Hub, **options: Any) -> Server:  # noqa: ANN401
    """이 레슨의 serve() 설정. 6절과 11절이 options로 연결 클래스와 HTTP 처리를 더함."""
    config = hub.config
    return serve(
        functools.partial(handle_client, hub),  # 인자 하나(websocket)짜리 핸들러
        config.host,
        config.port,
        compression=None,
        max_size=MAX_FRAME_BYTES,  # 이보다 큰 프레임은 읽지 않고 1009로 닫습니다
        max_queue=16,  # 연결마다 읽어 둔 뒤 처리를 기다리는 프레임 수의 상한
        write_limit=WRITE_LIMIT,  # 이만큼 쌓이면 await send()가 기다립니다(6절)
        open_timeout=OPEN_TIMEOUT,
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        close_timeout=CLOSE_TIMEOUT,
        **options,
    )


def ws_url(host: str, port: int) -> str:
    """ws://호스트:포트/ws. IPv6 주소는 대괄호로 감쌉니다.

    >>> ws_url("127.0.0.1", 8765), ws_url("::1", 8765)
    ('ws://127.0.0.1:8765/ws', 'ws://[::1]:8765/ws')
    """
    host = f"[{host}]" if ":" in host else host
    return f"ws://{host}:{port}{WS_PATH}"


@contextlib.asynccontextmanager
async def serving(hub: Hub, **options: Any) -> AsyncIterator[Server]:  # noqa: ANN401
    """데모용: 서버와 생산자를 띄우고 hub.url을 채운 뒤, 블록이 끝나면 닫습니다."""
    async with stream_server(hub, **options) as server:
        hub.url = ws_url(hub.config.host, port_of(server))
        producer = asyncio.create_task(run_producer(hub))
        try:
            yield server
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer


@dataclass
class DemoClient:
    """데모용 클라이언트: 주고받는 프레임을 >>> / <<< 로 보여 줍니다(ts는 생략)."""

    name: str
    websocket: ClientConnection
    last_seq: dict[object, object] = field(default_factory=dict)  # 토픽 → 받은 seq

    @classmethod
    async def open(cls, url: str, name: str, *, show: bool = True) -> DemoClient:
        """연결하고 welcome을 받습니다."""
        client = cls(name, await connect(url, compression=None))
        await client.expect(ServerType.WELCOME, show=show)
        return client

    async def send(self, event: Event | str | bytes, *, show: bool = True) -> None:
        frame = event if isinstance(event, (str, bytes)) else encode(event)
        if show:
            shown = frame if isinstance(frame, str) else repr(frame)
            print(f"[클라이언트 {self.name}] >>> {shown}")
        await self.websocket.send(frame)

    def show(self, event: Event) -> None:
        shown = {key: value for key, value in event.items() if key != "ts"}
        print(f"[클라이언트 {self.name}] <<< {encode(shown)}")

    async def expect(self, kind: ServerType, *, show: bool = True) -> Event:
        """kind가 올 때까지 받습니다(다른 종류는 조용히 넘김, 5초 시간제한)."""
        async with asyncio.timeout(5):
            while True:
                event: Event = json.loads(await self.websocket.recv())
                if event["type"] == ServerType.TICK:
                    self.last_seq[event["topic"]] = event["seq"]
                if event["type"] == kind:
                    if show:
                        self.show(event)
                    return event


async def demo_05_walkthrough() -> None:
    """5절: 구독, 틱의 seq, 오류, 구독을 끊고 다시 하기, 구독 마감.

    예상 출력(포트와 값은 실행마다 다름, ts는 생략):
        [서버] ws://127.0.0.1:41234/ws 에서 토픽 2개를 초당 20틱씩 보냅니다
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [클라이언트 A] <<< {"type":"welcome","topics":["temperature","humidity"],...}
        [클라이언트 A] >>> {"type":"subscribe","topics":["temperature"]}
        [클라이언트 A] <<< {"type":"subscribed","topics":["temperature"]}
        [클라이언트 A] <<< {"type":"tick","topic":"temperature","seq":1,"value":20.977}
        [클라이언트 A] <<< {"type":"tick","topic":"temperature","seq":2,"value":20.794}
        [클라이언트 A] <<< {"type":"tick","topic":"temperature","seq":3,"value":21.195}
        [클라이언트 A] >>> 안녕
        [클라이언트 A] <<< {"type":"error","code":"invalid_json",...}
        [클라이언트 A] >>> {"type": "dance"}
        [클라이언트 A] <<< {"type":"error","code":"unknown_type",...}
        [클라이언트 A] >>> {"type": "subscribe", "topics": ["nope"]}
        [클라이언트 A] <<< {"type":"error","code":"unknown_topic",...}
        [클라이언트 A] >>> b'\\x00\\x01'
        [클라이언트 A] <<< {"type":"error","code":"binary_not_supported",...}
        [클라이언트 A] >>> {"type":"unsubscribe","topics":["temperature"]}
        [클라이언트 A] <<< {"type":"unsubscribed","topics":["temperature"]}
        [클라이언트 A] 다시 구독: 끊기 전 마지막 seq 3, 다시 구독한 뒤 첫 seq 4
        [서버] 연결: 127.0.0.1:50002 (지금 2개)
        [클라이언트 B] 구독하지 않고 기다립니다
        [서버] 연결 끝: 127.0.0.1:50002 (구독 시간 초과(1008), 지금 1개)
        [클라이언트 B] 종료 코드 1008 (구독 시간 초과)
        [서버] 연결 끝: 127.0.0.1:50000 (클라이언트가 닫음 1000, 지금 0개)
    """
    hub = Hub(ServerConfig(port=0, topics=2, rate=20, subscribe_timeout=0.5))
    async with serving(hub):
        print(f"[서버] {hub.url} 에서 토픽 {len(hub.topics)}개를 초당 20틱씩 보냅니다")
        a = await DemoClient.open(hub.url, "A")
        subscribe: Event = {"type": ClientType.SUBSCRIBE, "topics": ["temperature"]}
        await a.send(subscribe)
        await a.expect(ServerType.SUBSCRIBED)
        for _ in range(3):
            await a.expect(ServerType.TICK)
        for frame in (
            "안녕",
            '{"type": "dance"}',
            '{"type": "subscribe", "topics": ["nope"]}',
            b"\x00\x01",
        ):
            await a.send(frame)
            await a.expect(ServerType.ERROR)
        await a.send({"type": ClientType.UNSUBSCRIBE, "topics": ["temperature"]})
        await a.expect(ServerType.UNSUBSCRIBED)
        last = a.last_seq["temperature"]  # unsubscribed 뒤로는 temperature 틱이 없음
        await a.send(subscribe, show=False)
        first = (await a.expect(ServerType.TICK, show=False))["seq"]
        print(f"[클라이언트 A] 다시 구독: 끊기 전 마지막 seq {last}, ", end="")
        print(f"다시 구독한 뒤 첫 seq {first}")
        b = await DemoClient.open(hub.url, "B", show=False)
        print("[클라이언트 B] 구독하지 않고 기다립니다")
        try:
            await b.expect(ServerType.TICK, show=False)
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
            print(f"[클라이언트 B] 종료 코드 {code} ({reason})")
        await a.websocket.close()
        await wait_until(lambda: not hub.clients)


# =============================================================================
# 6. 구독자마다 한정된 큐: 가장 오래된 것 버리기, 버린 수, 포화되면 1008
# =============================================================================
# 4절의 허브는 broadcast()로 바로 썼습니다. 읽지 않는 구독자(잠든 노트북, 멈춘 탭,
# 일부러 그러는 공격자)에게도 계속 쓰므로 서버의 쓰기 버퍼가 끝없이 자랍니다.
# 채팅(03)은 그런 연결을 재서 내보냈습니다. 실시간 데이터는 한 가지를 더 할 수
# 있습니다: 늦게 도착한 값은 어차피 가치가 적으니, 기다리지 말고 버립니다.
#   - 구독자마다 deque(maxlen=N) 큐 하나. 넣을 때 가득 차 있으면 가장 오래된 것을
#     버리고 셉니다(drop-oldest). 상한은 넣는 바로 그 자리에서 지켜집니다.
#     (비슷한 방법: 토픽마다 최신 값 하나만 남기는 합치기(conflate). 시세 화면처럼
#     지금 값만 중요할 때 씁니다. 여기서는 모든 틱이 집계에 쓰이므로 버린 것을 셉니다.)
#   - 구독자마다 큐를 비우는 태스크 하나(write_loop)가 await send()로 보냅니다.
#     쓰기 버퍼가 write_limit을 넘으면 send()가 기다리므로 버퍼는 8 KiB 남짓에서
#     멈추고, 그동안 쌓이는 것은 큐(상한 있음)뿐입니다. 빠른 구독자의 태스크는 느린
#     구독자의 태스크와 상관없이 돕니다: 빠른 쪽의 지연 시간이 느린 쪽에 묶이지
#     않습니다.
#   - 버린 수는 클라이언트도 압니다: 틱의 seq 빈틈(토픽마다 정확히 버린 틱 수)과,
#     보내는 태스크가 1초에 한 번까지 보내는 dropped {count, total}.
#   - 버리기 시작한 뒤 saturation_limit(2초)보다 긴 쉼 없이 계속 버리게 되면 그
#     구독자는 실시간을 따라올 수 없습니다(포화). 그 자리에서 허브를 떠나게 하고
#     1008로 닫습니다(안 닫히면 끊음). 잠깐 느렸다가 2초 넘게 버리지 않으면 풀립니다.
#     '큐가 한 번도 비지 않음'을 기준으로 삼으면 안 됩니다: 쓰기 버퍼가 빠질 때마다
#     보내는 태스크가 큐를 한꺼번에 비우므로, 느린 구독자의 큐도 잠깐씩 비어 보입니다.
# 커널도 버퍼입니다. 리눅스는 소켓마다 보내기 버퍼를 수 MiB까지 키우므로, 읽지
# 않는 클라이언트를 서버가 알아채기까지 한참 걸립니다. 그래서 받아들인 소켓의
# SO_SNDBUF를 8 KiB로 줄입니다(GuardedConnection, 커널은 두 배를 잡습니다).
# 왕복 50ms인 먼 클라이언트에게도 초당 300 KiB쯤 보낼 수 있어 틱에는 넉넉합니다.
# 버퍼가 작으면 닫기 프레임도 빨리 닿습니다: 닫기 프레임은 이미 쓴 데이터 뒤에 줄을
# 서므로, 느리게나마 읽는 구독자가 1008을 받기까지의 시간이 버퍼 크기에 비례합니다.
# 받는 쪽 커널은 서버가 줄일 수 없습니다. 루프백처럼 읽지 않는 소켓에도 MiB를
# 받아 주면 큐는 한참 차지 않고, 그동안은 하트비트(5절)가 1011로 치웁니다.
# 쓰기 버퍼를 키우는 길은 하나 더 있습니다: 클라이언트가 보낸 ping마다 라이브러리가
# pong을 씁니다. 읽지 않으면서 ping만 쏟아붓는 연결은 받은 데이터를 처리한 직후
# (data_received)에 재서 끊습니다(03 레슨 7절과 같은 검사).


class BoundedHub(Hub):
    """4절의 Hub와 같되, 구독자마다 한정된 큐와 그 큐를 비우는 태스크를 둡니다."""

    def join(self, client: Client) -> None:
        super().join(client)
        client.writer = self.spawn(self.write_loop(client))

    def leave(self, client: Client, reason: str) -> None:
        if client.writer is not None:
            client.writer.cancel()
        super().leave(client, reason)

    def send(self, client: Client, frame: bytes) -> None:
        """보내는 대신 큐에 넣습니다. 가득 차 있으면 가장 오래된 것을 버립니다."""
        if client.gone:
            return
        queue = client.queue
        if len(queue) == queue.maxlen:
            queue.popleft()
            client.dropped += 1
            client.unreported += 1
            self.dropped += 1
            if self.saturated(client):
                return
        queue.append(frame)
        client.wake.set()

    def saturated(self, client: Client) -> bool:
        """하나를 버렸습니다. 버리기가 saturation_limit 넘게 이어졌으면 내보냅니다."""
        now, limit = time.monotonic(), self.config.saturation_limit
        if client.saturated_since is None or now - client.dropped_at > limit:
            client.saturated_since = now  # 새로 넘치기 시작함(한동안 쉬었다 다시 포함)
        client.dropped_at = now
        if now - client.saturated_since < limit:
            return False
        took = now - client.saturated_since
        what = "느린 구독자를 내보냅니다: %s (%.1f초째 버리는 중, 버린 메시지 %d개)"
        log.warning(what, client.label, took, client.dropped)
        self.evicted += 1
        expel(self, client, "느린 구독자")  # 5절: 빼고, 기록하고, 1008로 닫음
        return True

    async def write_loop(self, client: Client) -> None:
        """구독자 하나의 큐를 비웁니다. send()가 기다리는 동안 큐만 찹니다."""
        with contextlib.suppress(ConnectionClosed):  # 정리는 handle_client의 몫
            while True:
                await client.wake.wait()
                client.wake.clear()
                while client.queue:
                    if client.unreported and time.monotonic() >= client.report_after:
                        await self.report_drops(client)
                    await self.write(client, client.queue.popleft())

    async def report_drops(self, client: Client) -> None:
        """버린 수를 큐를 거치지 않고 알립니다(알림 자체가 버려지지 않게)."""
        event = {"type": ServerType.DROPPED, "count": client.unreported}
        client.unreported = 0
        client.report_after = time.monotonic() + DROP_REPORT_INTERVAL
        await self.write(client, encode(event | {"total": client.dropped}).encode())

    async def write(self, client: Client, frame: bytes) -> None:
        await client.websocket.send(frame, text=True)
        self.sent += 1
        self.sent_bytes += len(frame)


class GuardedConnection(ServerConnection):
    """커널 보내기 버퍼를 줄이고, pong으로 쌓이는 쓰기 버퍼도 재는 연결."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # 줄이지 못해도 큐가 상한을 지킵니다
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # 여기서 라이브러리가 ping에 pong을 씁니다
        if self.transport.get_write_buffer_size() > PONG_LIMIT:
            who = ":".join(map(str, self.remote_address[:2]))
            log.warning("읽지 않으면서 ping만 보내는 연결을 끊습니다: %s", who)
            self.transport.abort()


def percentile(values: Iterable[float], q: float) -> float:
    """q 분위수(0~1). 정렬한 뒤 두 값 사이는 직선으로 잇습니다(선형 보간).

    numpy의 기본값, statistics.quantiles(method="inclusive")와 같은 정의입니다.

    >>> percentile([5, 1, 4, 2, 3], 0.5), percentile([1, 2, 3, 4], 0.5)
    (3.0, 2.5)
    """
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def clamped_socket(host: str, port: int) -> socket.socket:
    """먼 네트워크 너머의 클라이언트처럼 받기 버퍼가 작은 소켓으로 연결합니다.

    루프백에서는 운영체제가 읽지 않는 소켓에도 몇 MiB를 받아 주므로, 실제 네트워크의
    클라이언트처럼 세그먼트를 1,460바이트로, 받기 버퍼를 8 KiB로 줄입니다.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if hasattr(socket, "TCP_MAXSEG"):  # Windows에는 없습니다
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def collect(websocket: ClientConnection) -> tuple[list[Event], int | None, str]:
    """닫힐 때까지 받은 이벤트 전부와 (종료 코드, 이유). 닫기 프레임이 없으면 None."""
    events: list[Event] = []
    try:
        while True:
            events.append(json.loads(await websocket.recv()))
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            return events, None, ""
        return events, exc.rcvd.code, exc.rcvd.reason


@dataclass
class TickLog:
    """받은 틱의 기록: 토픽마다 마지막 seq, 빈틈, 지연 시간(초)."""

    last: dict[str, int] = field(default_factory=dict)
    ticks: int = 0
    gaps: int = 0  # 못 받은 틱 수(seq 빈틈의 합)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))

    def add(self, event: Event) -> int:
        """틱 하나를 기록하고, 바로 앞 틱과의 빈틈(못 받은 수)을 돌려줍니다."""
        topic, seq = str(event["topic"]), int(str(event["seq"]))
        gap = seq - self.last.get(topic, seq - 1) - 1
        self.last[topic] = seq
        self.ticks += 1
        self.gaps += gap
        self.latencies.append(time.time() - float(str(event["ts"])))
        return gap


async def demo_06_bounded_queues() -> None:
    """6절: 읽지 않는 구독자는 1008로 나가고, 잘 읽는 구독자는 하나도 잃지 않습니다.

    예상 출력(숫자는 실행마다 다름):
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [서버] 연결: 127.0.0.1:50002 (지금 2개)
        [서버] 느린 구독자를 내보냅니다: 127.0.0.1:50002 (1.0초째 버리는 중, ...)
        [서버] 연결 끝: 127.0.0.1:50002 (느린 구독자(1008), 지금 1개)
        [서버] 연결 끝: 127.0.0.1:50000 (클라이언트가 닫음 1000, 지금 0개)
        토픽 2개 × 초당 200틱, 구독자 큐 50개, 포화 한도 1초:
          읽지 않는 구독자: 2.16초 만에 내보냄, 받은 종료 코드 1008 (느린 구독자)
          잘 읽는 구독자: 틱 864개, seq 빈틈 0개, 버림 알림 0번, 지연 p50 300μs, ...
    """
    config = ServerConfig(port=0, topics=2, rate=200, queue_size=50)
    config.saturation_limit = 1.0
    hub = BoundedHub(config)
    async with serving(hub, create_connection=GuardedConnection) as server:
        fast = await DemoClient.open(hub.url, "빠름", show=False)
        subscribe: Event = {"type": ClientType.SUBSCRIBE, "topics": hub.topics}
        await fast.send(subscribe, show=False)
        record = TickLog()
        notices = 0

        async def read_fast() -> None:
            nonlocal notices
            while True:
                event: Event = json.loads(await fast.websocket.recv())
                if event["type"] == ServerType.TICK:
                    record.add(event)
                notices += event["type"] == ServerType.DROPPED

        reader = asyncio.create_task(read_fast())
        sock = await clamped_socket(DEFAULT_HOST, port_of(server))
        stalled = await connect(hub.url, sock=sock, compression=None)
        await stalled.recv()  # welcome
        await stalled.send(encode(subscribe))
        stalled.transport.pause_reading()  # 이제 읽지 않습니다(잠든 노트북, 멈춘 탭)
        await wait_until(lambda: len(hub.clients) == 2)
        started = time.perf_counter()
        await wait_until(lambda: len(hub.clients) == 1, within=30)
        evicted_after = time.perf_counter() - started
        stalled.transport.resume_reading()  # 지금 읽으면 닫기 프레임까지 닿습니다
        _, code, reason = await collect(stalled)
        reader.cancel()
        await fast.websocket.close()
        await wait_until(lambda: not hub.clients)
    print(f"토픽 {config.topics}개 × 초당 {config.rate:g}틱, 구독자 큐 ", end="")
    print(f"{config.queue_size}개, 포화 한도 {config.saturation_limit:g}초:")
    print(f"  읽지 않는 구독자: {seconds(evicted_after)} 만에 내보냄, ", end="")
    print(f"받은 종료 코드 {code} ({reason})")
    p50, p99 = (seconds(percentile(record.latencies, q)) for q in (0.5, 0.99))
    print(f"  잘 읽는 구독자: 틱 {record.ticks:,}개, ", end="")
    print(f"seq 빈틈 {record.gaps}개, 버림 알림 {notices}번, 지연 p50 {p50}, p99 {p99}")


# =============================================================================
# 7. 텀블링 윈도 집계: Welford 알고리즘, p95, EWMA
# =============================================================================
# 원값을 초당 수천 개 받는 사람은 없습니다. 대시보드와 경보는 요약을 봅니다.
# 텀블링 윈도(tumbling window)는 시간을 겹치지 않는 칸(1초, 10초)으로 나눕니다.
# 틱의 ts가 속한 칸은 floor(ts / 길이) × 길이이고, 다음 칸의 첫 틱이 오면 앞 칸을
# 닫아 개수, 평균, 최소, 최대, 표준편차, p95를 aggregate로 보냅니다.
# 평균과 분산은 값을 모아 두지 않고 한 번 훑으며(온라인) 셉니다. 교과서 공식
#   분산 = (제곱의 합 / n) - 평균²
# 은 값이 크고 흩어짐이 작으면 틀립니다. 10억 근처의 값(누적 계량기, 나노초 시각)을
# 제곱하면 10^18 크기가 되고, 비슷한 두 수를 빼는 순간 float의 유효숫자 15~16자리가
# 거의 다 사라집니다(파국적 상쇄). 음수 분산까지 나옵니다. Welford 알고리즘은
# 평균과의 차이(작은 수)만 더해 가므로 이런 일이 없습니다.
#   delta = x - 평균;  평균 += delta / n;  M2 += delta × (x - 새 평균);  분산 = M2 / n
# p95(값을 줄 세웠을 때 95% 지점)는 칸의 값을 정렬해 6절의 percentile()로 구합니다.
# 칸 하나의 값은 rate × 길이개(최대 200 × 10 = 2,000개)라 정렬해도 쌉니다. 긴 창이나
# 많은 값에는 t-digest 같은 근사 알고리즘을 씁니다.
# 지수 가중 이동 평균(EWMA): 새 값에 α, 지난 평균에 1-α의 무게를 줍니다.
#   EWMA += α × (x - EWMA)
# 칸의 경계와 상관없이 부드럽게 따라가는 수준선입니다(aggregate의 ewma).


class Welford:
    """평균과 분산을 한 번 훑으며 안정하게 셉니다. 최솟값과 최댓값도 함께."""

    __slots__ = ("count", "high", "low", "m2", "mean")

    def __init__(self) -> None:
        self.count = 0
        self.mean = self.m2 = 0.0
        self.low, self.high = math.inf, -math.inf

    def add(self, x: float) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)  # 옛 평균과 새 평균으로 본 편차의 곱
        self.low, self.high = min(self.low, x), max(self.high, x)

    @property
    def variance(self) -> float:
        """모분산(n으로 나눔): 칸 안의 값 전부가 모집단입니다."""
        return self.m2 / self.count if self.count else 0.0


def naive_variance(values: list[float]) -> float:
    """나쁜 예: 제곱의 합으로 구한 분산(값이 크면 틀립니다).

    >>> naive_variance([4.0, 7.0, 13.0, 16.0])
    22.5
    """
    n = len(values)
    return sum(x * x for x in values) / n - (sum(values) / n) ** 2


@dataclass(frozen=True)
class WindowStats:
    """닫힌 칸 하나의 요약."""

    size: int  # 칸의 길이(초)
    start: int  # 칸이 시작한 시각(유닉스 시간, 초)
    count: int
    mean: float
    low: float
    high: float
    std: float
    p95: float


class TumblingWindow:
    """길이 size초의 텀블링 윈도. add()가 칸을 닫으면 그 칸의 요약을 돌려줍니다."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.start: int | None = None  # 지금 칸의 시작 시각
        self.stats = Welford()
        self.values: list[float] = []  # p95용. 칸 하나 치만 들고 있습니다

    def add(self, ts: float, value: float) -> WindowStats | None:
        start = math.floor(ts / self.size) * self.size
        closed = None
        if self.start is not None and start != self.start:
            closed = self.summary()
            self.stats, self.values = Welford(), []
        self.start = start
        self.stats.add(value)
        self.values.append(value)
        return closed

    def summary(self) -> WindowStats | None:
        """지금 칸의 요약(아직 값이 없으면 None). 닫지 않고 볼 때도 씁니다."""
        if self.start is None:
            return None
        s = self.stats
        std, p95 = math.sqrt(s.variance), percentile(self.values, 0.95)
        return WindowStats(
            self.size, self.start, s.count, s.mean, s.low, s.high, std, p95
        )


class Ewma:
    """지수 가중 이동 평균. 첫 값에서 시작합니다."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value: float | None = None

    def update(self, x: float) -> float:
        previous = x if self.value is None else self.value  # 첫 값에서 시작
        self.value = previous + self.alpha * (x - previous)
        return self.value


def aggregate_event(topic: str, stats: WindowStats, ewma: float | None) -> Event:
    """닫힌 칸을 aggregate 메시지로(숫자는 float 그대로: JSON에서 정확히 되읽힘)."""
    return {
        "type": ServerType.AGGREGATE,
        "topic": topic,
        "window": stats.size,
        "start": stats.start,
        "count": stats.count,
        "mean": stats.mean,
        "min": stats.low,
        "max": stats.high,
        "std": stats.std,
        "p95": stats.p95,
        "ewma": ewma,
    }


def demo_07_windows() -> None:
    """7절: 제곱합 공식이 틀리는 모습과 텀블링 윈도의 요약.

    예상 출력(시드 42라 언제나 같음):
        모분산을 세 가지로 계산합니다(정확한 값은 statistics.pvariance):
          값                           정확한 값   제곱합 공식     Welford
          4, 7, 13, 16                   22.5000       22.5000     22.5000
          10억 + (4, 7, 13, 16)          22.5000     -128.0000     22.5000
          10억 + 잡음(σ=0.5) 1만 개       0.2498    9,344.0000      0.2498
        온도 12초(초당 10틱)를 텀블링 윈도로 요약합니다:
          칸          개수    평균    최소    최대  표준편차     p95    EWMA
          1초 +0초      10  21.000  20.791  21.215   0.141  21.204  21.016
          1초 +1초      10  21.051  20.792  21.169   0.112  21.169  21.033
          1초 +2초      10  21.096  20.877  21.457   0.183  21.430  21.086
          10초 +0초    100  21.035  20.644  21.585   0.196  21.396  21.068
        닫힌 칸: 1초 11개, 10초 1개(마지막 칸은 아직 열림)
        statistics 모듈로 다시 계산한 값과 같습니다(상대 오차 1e-9 미만): True
    """
    rng = random.Random(DEFAULT_SEED)
    base = 1_000_000_000.0  # 10억
    rows = {
        "4, 7, 13, 16": [4.0, 7.0, 13.0, 16.0],
        "10억 + (4, 7, 13, 16)": [base + x for x in (4.0, 7.0, 13.0, 16.0)],
        "10억 + 잡음(σ=0.5) 1만 개": [base + rng.gauss(0, 0.5) for _ in range(10_000)],
    }
    print("모분산을 세 가지로 계산합니다(정확한 값은 statistics.pvariance):")
    print("  값                           정확한 값   제곱합 공식     Welford")
    for label, data in rows.items():
        welford = Welford()
        for x in data:
            welford.add(x)
        exact, naive = statistics.pvariance(data), naive_variance(data)
        cells = f"{exact:>11.4f}{naive:>14,.4f}{welford.variance:>12.4f}"
        print(f"  {pad(label, 27)}{cells}")
    print("온도 12초(초당 10틱)를 텀블링 윈도로 요약합니다:")
    print("  칸          개수    평균    최소    최대  표준편차     p95    EWMA")
    generator = SignalGenerator(TOPIC_SPECS[0], rate=10, anomaly_rate=0)
    start = 1_767_225_600  # 2026-01-01 00:00:00 UTC
    windows, ewma = [TumblingWindow(size) for size in WINDOWS], Ewma(EWMA_ALPHA)
    ticks: list[tuple[float, float]] = []
    closed: list[tuple[WindowStats, float | None]] = []
    for k in range(120):
        ts, value = start + k / 10, generator.next()[0]
        for window in windows:
            stats = window.add(ts, value)
            if stats is not None:  # 칸이 닫힘: EWMA는 그 칸의 마지막 틱까지
                closed.append((stats, ewma.value))
        ewma.update(value)
        ticks.append((ts, value))
    ones = [c for c in closed if c[0].size == 1]
    for stats, level in ones[:3] + [c for c in closed if c[0].size == 10]:
        label = f"{stats.size}초 +{stats.start - start}초"
        numbers = (stats.mean, stats.low, stats.high, stats.std, stats.p95, level or 0)
        cells = "".join(f"{x:>8.3f}" for x in numbers)
        print(f"  {pad(label, 11)}{stats.count:>5}{cells}")
    tens = len(closed) - len(ones)
    print(f"닫힌 칸: 1초 {len(ones)}개, 10초 {tens}개(마지막 칸은 아직 열림)")

    def recomputed(stats: WindowStats) -> bool:
        part = [v for ts, v in ticks if stats.start <= ts < stats.start + stats.size]
        p95 = statistics.quantiles(part, n=20, method="inclusive")[18]
        want = (statistics.fmean(part), min(part), max(part), statistics.pstdev(part))
        got = (stats.mean, stats.low, stats.high, stats.std)
        return stats.count == len(part) and all(
            math.isclose(a, b, rel_tol=1e-9)
            for a, b in zip((*got, stats.p95), (*want, p95), strict=True)
        )

    same = all(recomputed(stats) for stats, _ in closed)
    print(f"statistics 모듈로 다시 계산한 값과 같습니다(상대 오차 1e-9 미만): {same}")


# =============================================================================
# 8. 이상 탐지: EWMA 밴드, 예열, 정밀도와 재현율
# =============================================================================
# 값이 평소 범위에서 얼마나 벗어났는지를 z-점수로 잽니다.
#   z = (x - 평균) / 표준편차,  |z| > 임계값(4.5)이면 이상
# 평소의 평균과 표준편차는 지수 가중으로 따라갑니다(EWMA 밴드). 두 반감기를 따로 둡니다.
#   - 평균은 짧게(0.5초): 계절성과 추세를 바짝 따라가야 그만큼을 이상으로 보지 않습니다.
#   - 분산은 길게(10초): 몇 개의 값으로 재면 흔들려서 멀쩡한 값이 경보를 울립니다.
# 반감기는 초로 정하고 틱의 가중치 α로 바꿉니다(rate가 달라도 같은 시간 감각).
# 세 가지 손질이 정밀도를 크게 바꿉니다(아래 데모에서 잽니다).
#   - 예열(warm-up): 처음 3초는 판정하지 않습니다. 값 몇 개의 표준편차는 믿을 수
#     없습니다.
#   - 편향 보정: 0에서 시작한 지수 가중 분산은 처음 한참 동안 작게 나옵니다.
#     지금까지 쌓인 가중치의 합 1 - (1 - β)^n으로 나눠 바로잡습니다.
#   - 이상으로 판정한 값은 평균과 분산에 넣지 않습니다. 넣으면 spike 하나가 분산을
#     부풀려 바로 뒤의 이상을 놓칩니다.
# 품질은 정답(2절에서 심은 이상)과 맞춰 잽니다. 연달아 울린 경보는 하나로 셉니다.
#   - 정밀도(precision): 경보 가운데 진짜 이상(끝난 뒤 1초 여유 포함)을 맞힌 비율.
#     낮으면 사람들이 경보를 무시하게 됩니다.
#   - 재현율(recall): 심은 이상 가운데 경보가 한 번이라도 울린 비율. 낮으면 놓칩니다.
# 임계값을 내리면 재현율이 오르고 정밀도가 내려갑니다. 둘 다 재어 보고 정합니다.


def half_life_alpha(half_life: float, rate: float) -> float:
    """반감기(초)를 틱 하나의 가중치로: 반감기만큼 지나면 옛 값의 무게가 절반.

    >>> round(half_life_alpha(1.0, rate=10), 4), round(half_life_alpha(0.5, rate=2), 4)
    (0.067, 0.5)
    """
    return 1 - math.pow(0.5, 1 / (half_life * rate))


class EwmaDetector:
    """EWMA 밴드 탐지기. update()는 (z-점수, 이상인지)."""

    def __init__(
        self, rate: float, threshold: float = THRESHOLD, warmup: float = WARMUP_SECONDS
    ) -> None:
        self.alpha = half_life_alpha(MEAN_HALF_LIFE, rate)  # 평균의 가중치
        self.beta = half_life_alpha(VAR_HALF_LIFE, rate)  # 분산의 가중치
        self.threshold = threshold
        self.warmup = round(warmup * rate)  # 이만큼의 값을 본 뒤부터 판정
        self.mean: float | None = None
        self.var = 0.0
        self.count = 0  # 평균과 분산에 넣은 값의 수

    def update(self, x: float) -> tuple[float, bool]:
        if self.mean is None:
            self.mean, self.count = x, 1
            return 0.0, False
        deviation = x - self.mean
        weight = 1 - (1 - self.beta) ** self.count  # 편향 보정
        std = math.sqrt(self.var / weight)
        score = deviation / std if std > 0 else 0.0
        if self.count >= self.warmup and abs(score) > self.threshold:
            return score, True  # 이상값으로 평균과 분산을 더럽히지 않습니다
        self.var = (1 - self.beta) * (self.var + self.beta * deviation * deviation)
        self.mean += self.alpha * deviation
        self.count += 1
        return score, False


@dataclass
class Scorecard:
    """탐지 결과를 정답과 틱마다 맞춰 봅니다(서버도 같은 것을 씁니다, 12절)."""

    grace: int  # 이상이 끝난 뒤 더 봐 주는 틱 수
    pending: deque[Anomaly] = field(default_factory=deque)  # 아직 판정 중인 정답
    hit: set[int] = field(default_factory=set)  # 경보가 맞힌 정답(시작 틱)
    injected: int = 0  # 심은 이상
    alerts: int = 0  # 경보(연달아 울린 것은 하나)
    true_alerts: int = 0  # 정답을 맞힌 경보
    found: int = 0  # 판정이 끝난 정답 중 맞힌 것
    missed: int = 0  # 판정이 끝난 정답 중 놓친 것
    previous: bool = False  # 바로 앞 틱이 이상이었나

    def record(self, k: int, injected: Anomaly | None, flagged: bool) -> None:
        """틱 k의 정답(이 틱에 시작한 이상)과 판정을 기록합니다."""
        if injected is not None:
            self.pending.append(injected)
            self.injected += 1
        if flagged and not self.previous:  # 경보 하나가 시작됨
            self.alerts += 1
            matched = [
                a.start for a in self.pending if a.start <= k <= a.end + self.grace
            ]
            self.true_alerts += bool(matched)
            self.hit.update(matched)
        self.previous = flagged
        while self.pending and self.pending[0].end + self.grace < k:
            self.settle(self.pending.popleft())

    def settle(self, anomaly: Anomaly) -> None:
        if anomaly.start in self.hit:
            self.found += 1
            self.hit.discard(anomaly.start)
        else:
            self.missed += 1

    def close(self) -> None:
        """끝: 판정 중인 정답을 모두 판정합니다(끝까지 못 맞힌 것은 놓친 것)."""
        while self.pending:
            self.settle(self.pending.popleft())

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        settled = self.found + self.missed
        return self.found / settled if settled else None


def combined(cards: Iterable[Scorecard]) -> Scorecard:
    """여러 토픽의 성적표를 더한 하나(전체의 정밀도와 재현율)."""
    total = Scorecard(grace=0)
    for card in cards:
        total.injected += card.injected
        total.alerts += card.alerts
        total.true_alerts += card.true_alerts
        total.found += card.found
        total.missed += card.missed
    return total


def evaluate(
    spec: TopicSpec, rate: float, minutes: float, **options: float
) -> Scorecard:
    """토픽 하나를 minutes분 동안 만들고 탐지해 성적표를 돌려줍니다."""
    generator = SignalGenerator(spec, rate)
    detector = EwmaDetector(rate, **options)
    card = Scorecard(grace=round(MATCH_GRACE * rate))
    for k in range(round(minutes * 60 * rate)):
        value, injected = generator.next()
        card.record(k, injected, detector.update(value)[1])
    card.close()
    return card


def demo_08_detection() -> None:
    """8절: 4개 토픽 × 10분(초당 10틱)에서 잰 정밀도와 재현율.

    예상 출력(시드 42라 언제나 같음):
        탐지기: 평균 반감기 0.5초, 분산 반감기 10초, 임계값 4.5, 예열 3초
          토픽          심은 이상   경보   맞힌 경보   정밀도   재현율
          temperature          21     28          28     1.00     1.00
          humidity             11     11          11     1.00     0.91
          pressure             26     36          36     1.00     0.92
          power                18     24          24     1.00     0.89
          전체                 76     99          99     1.00     0.93
        예열 없이 처음부터 판정하면: 경보 106개, 정밀도 0.93, 재현율 0.93
        임계값 3.5로 내리면: 경보 105개, 정밀도 0.86, 재현율 0.99
    """
    half_lives = f"평균 반감기 {MEAN_HALF_LIFE:g}초, 분산 반감기 {VAR_HALF_LIFE:g}초"
    print(f"탐지기: {half_lives}, 임계값 {THRESHOLD:g}, 예열 {WARMUP_SECONDS:g}초")
    print("  토픽          심은 이상   경보   맞힌 경보   정밀도   재현율")
    cards = [evaluate(spec, rate=10, minutes=10) for spec in TOPIC_SPECS[:4]]
    names = [spec.name for spec in TOPIC_SPECS[:4]]
    for label, card in [*zip(names, cards, strict=True), ("전체", combined(cards))]:
        print(f"  {pad(label, 14)}{card.injected:>9}{card.alerts:>7}", end="")
        print(f"{card.true_alerts:>12}{card.precision:>9.2f}{card.recall:>9.2f}")
    for label, options in (
        ("예열 없이 처음부터 판정하면", {"warmup": 0.0}),
        ("임계값 3.5로 내리면", {"threshold": 3.5}),
    ):
        total = combined(evaluate(s, 10, 10, **options) for s in TOPIC_SPECS[:4])
        measured = f"정밀도 {total.precision:.2f}, 재현율 {total.recall:.2f}"
        print(f"{label}: 경보 {total.alerts}개, {measured}")


# =============================================================================
# 9. 메트릭: 이벤트 루프 지연, 처리량, RSS, Prometheus 텍스트 형식
# =============================================================================
# 서버가 잘 도는지는 짐작하지 말고 잽니다. 무엇을 재는지가 곧 무엇을 고칠지입니다.
#   - 이벤트 루프 지연(lag): 0.1초 잠드는 태스크가 깨어난 시각이 예정보다 얼마나
#     늦었는지. 코루틴 하나가 블로킹 호출로 루프를 붙잡으면 모든 연결이 그만큼 멈추고,
#     이 숫자가 바로 그 시간입니다. asyncio 서버에서 가장 먼저 볼 숫자입니다.
#     (잠든 0.1초 가운데 어디서 막혔느냐에 따라 막힌 시간보다 최대 0.1초 짧게 보입니다.)
#   - 처리량: 허브의 카운터(보낸 메시지와 바이트, 받은 프레임, 버린 메시지)를 1초마다
#     읽어 직전 값과의 차이로 초당 값을 냅니다. 카운터는 늘기만 합니다.
#   - 큐 깊이: 구독자 큐 가운데 가장 긴 것. 느린 구독자가 있는지 먼저 알려 줍니다.
#   - 메모리: 프로세스의 RSS. 리눅스는 /proc/self/statm에서 읽습니다.
# 같은 숫자를 세 곳에 내놓습니다: 1초마다 모든 연결에 보내는 metrics 메시지(대시보드),
# GET /metrics(Prometheus가 긁어 가는 텍스트 형식), GET /healthz(살아 있는지만 묻는
# 배포 도구용 JSON). Prometheus 텍스트 형식은 줄 단위라 손으로 써도 됩니다.
#   # HELP 이름 설명          ← 사람을 위한 설명
#   # TYPE 이름 gauge         ← counter(늘기만 함, 이름이 _total로 끝남) 또는 gauge
#   이름{라벨="값"} 숫자       ← 라벨 값의 \, ", 줄바꿈은 \로 이스케이프
# 실제 서비스에서는 prometheus-client 패키지가 같은 일을 합니다(06 레슨).


class LoopLag:
    """이벤트 루프 지연을 재는 태스크(run)와 최근 1초의 최댓값(recent)."""

    def __init__(self) -> None:
        window = round(METRICS_INTERVAL / LAG_INTERVAL)  # 최근 1초의 표본 수
        self.samples: deque[float] = deque(maxlen=window)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            self.samples.append(max(0.0, loop.time() - started - LAG_INTERVAL))

    @property
    def recent(self) -> float:
        return max(self.samples, default=0.0)


def rss_bytes() -> int | None:
    """이 프로세스의 RSS(바이트). 리눅스가 아니면 None.

    /proc은 디스크가 아니라 커널이 그 자리에서 만들어 주는 글이라 몇 μs면 읽습니다.
    """
    try:
        pages = Path("/proc/self/statm").read_text().split()[1]
    except (OSError, IndexError):
        return None
    return int(pages) * os.sysconf("SC_PAGE_SIZE")


MetricValue = float | Mapping[str, float | None] | None  # 값 하나, 토픽 → 값, 없음


@dataclass
class MetricFamily:
    """Prometheus 메트릭 하나: 이름, 종류, 설명, (라벨, 값) 표본들."""

    name: str
    kind: str  # "counter" 또는 "gauge"
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    @classmethod
    def of(cls, name: str, kind: str, text: str, value: MetricValue) -> MetricFamily:
        """값 하나(라벨 없음) 또는 토픽 → 값(topic 라벨). None인 값은 뺍니다."""
        pairs = value.items() if isinstance(value, Mapping) else [("", value)]
        samples = [({"topic": t} if t else {}, v) for t, v in pairs if v is not None]
        return cls(name, kind, text, samples)


def prometheus_text(families: Iterable[MetricFamily]) -> str:
    """Prometheus 텍스트 형식(0.0.4).

    >>> family = MetricFamily("stream_clients", "gauge", "연결 수", [({}, 3)])
    >>> print(prometheus_text([family]), end="")
    # HELP stream_clients 연결 수
    # TYPE stream_clients gauge
    stream_clients 3
    """

    def escape(text: str) -> str:
        return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")

    def number(value: float) -> str:
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return "NaN" if math.isnan(value) else repr(value)

    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {escape(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            pairs = ",".join(f'{key}="{escape(text)}"' for key, text in labels.items())
            label_text = f"{{{pairs}}}" if pairs else ""
            lines.append(f"{family.name}{label_text} {number(value)}")
    return "\n".join(lines) + "\n"


class Metrics:
    """허브의 카운터, 루프 지연, RSS를 metrics 메시지, /metrics, /healthz로 내줍니다."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.lag = LoopLag()
        self.started = time.monotonic()
        self.previous = self.counters()

    def counters(self) -> tuple[float, int, int, int, int]:
        hub = self.hub
        return time.monotonic(), hub.sent, hub.sent_bytes, hub.received, hub.dropped

    def queue_max(self) -> int:
        return max((len(client.queue) for client in self.hub.clients), default=0)

    def snapshot(self) -> Event:
        """metrics 메시지: 지난번 부른 뒤로의 초당 값."""
        now = self.counters()
        before, self.previous = self.previous, now
        elapsed = max(now[0] - before[0], 1e-9)
        sent, sent_bytes, received, _ = (
            (a - b) / elapsed for a, b in zip(now[1:], before[1:], strict=True)
        )
        return {
            "type": ServerType.METRICS,
            "clients": len(self.hub.clients),
            "sent_per_s": round(sent, 1),
            "bytes_per_s": round(sent_bytes),
            "received_per_s": round(received, 1),
            "dropped_total": self.hub.dropped,
            "queue_max": self.queue_max(),
            "loop_lag_ms": round(self.lag.recent * 1000, 2),
            "rss_bytes": rss_bytes(),
            "ts": round(time.time(), 6),
        }

    def families(self) -> list[MetricFamily]:
        """GET /metrics의 메트릭들. 이름 앞에 stream_을 붙입니다(RSS는 표준 이름)."""
        hub, g, c = self.hub, "gauge", "counter"
        subscribers = {topic: len(group) for topic, group in hub.subscribers.items()}
        rows: list[tuple[str, str, str, MetricValue]] = [
            ("clients", g, "핸드셰이크를 마친 연결 수", len(hub.clients)),
            ("connections", g, "TCP 연결 수(핸드셰이크 중 포함)", len(hub.sockets)),
            ("subscriptions", g, "토픽마다 구독자 수", subscribers),
            ("messages_sent_total", c, "보낸 메시지 수", hub.sent),
            ("bytes_sent_total", c, "보낸 바이트 수", hub.sent_bytes),
            ("messages_received_total", c, "받은 프레임 수", hub.received),
            ("messages_dropped_total", c, "큐가 넘쳐 버린 메시지 수", hub.dropped),
            ("slow_subscribers_closed_total", c, "내보낸 구독자", hub.evicted),
            ("queue_depth_max", g, "가장 긴 구독자 큐의 길이", self.queue_max()),
            ("event_loop_lag_seconds", g, "루프 지연(최근 1초)", self.lag.recent),
        ]
        families = [MetricFamily.of(f"stream_{n}", k, t, v) for n, k, t, v in rows]
        rss = MetricFamily.of("process_resident_memory_bytes", g, "RSS", rss_bytes())
        return [*families, rss]

    def text(self) -> str:
        return prometheus_text(self.families())

    def health(self) -> Event:
        """GET /healthz: 살아 있는지와 몇 가지 숫자."""
        return {
            "status": "ok",
            "clients": len(self.hub.clients),
            "connections": len(self.hub.sockets),
            "topics": len(self.hub.topics),
            "rate": self.hub.config.rate,
            "uptime": round(time.monotonic() - self.started, 1),
            "loop_lag_ms": round(self.lag.recent * 1000, 2),
        }


def blocking_call(duration: float) -> None:
    """블로킹 호출의 대역(동기 DB 드라이버, 큰 파일 읽기 ...). 나쁜 예에만 씁니다."""
    time.sleep(duration)


async def demo_09_metrics() -> None:
    """9절: 루프 지연을 재고, Prometheus 텍스트를 만들어 봅니다.

    예상 출력(숫자는 실행마다 다름):
        이벤트 루프 지연(0.1초마다 잠들었다 깬 시각의 늦음, 최댓값):
          평소                                             668μs
          나쁜 예: 코루틴 안에서 0.2초짜리 블로킹 호출   150.7ms
          좋은 예: 같은 호출을 asyncio.to_thread로         2.3ms
        메모리(RSS): 35.2 MiB
        빈 서버의 GET /metrics (11개 메트릭, 33줄) 앞부분:
          # HELP stream_clients 핸드셰이크를 마친 연결 수
          # TYPE stream_clients gauge
          stream_clients 0
          # HELP stream_connections TCP 연결 수(핸드셰이크 중 포함)
          # TYPE stream_connections gauge
          stream_connections 0
          # HELP stream_subscriptions 토픽마다 구독자 수
          # TYPE stream_subscriptions gauge
          stream_subscriptions{topic="temperature"} 0
    """
    print("이벤트 루프 지연(0.1초마다 잠들었다 깬 시각의 늦음, 최댓값):")
    lag = LoopLag()
    ticker = asyncio.create_task(lag.run())
    for how in (
        "평소",
        "나쁜 예: 코루틴 안에서 0.2초짜리 블로킹 호출",
        "좋은 예: 같은 호출을 asyncio.to_thread로",
    ):
        lag.samples.clear()
        await asyncio.sleep(0.15)
        if how.startswith("나쁜 예"):
            blocking_call(0.2)  # 경고: 이 0.2초 동안 이벤트 루프 전체가 멈춥니다
        elif how.startswith("좋은 예"):
            await asyncio.to_thread(blocking_call, 0.2)  # 다른 스레드에서 기다림
        await asyncio.sleep(0.25)
        print(f"  {pad(how, 46)}{seconds(max(lag.samples, default=0.0)):>8}")
    ticker.cancel()
    rss = rss_bytes()
    print(f"메모리(RSS): {rss / 2**20:.1f} MiB" if rss else "메모리(RSS): 잴 수 없음")
    metrics = Metrics(Hub(ServerConfig(topics=1)))
    lines = metrics.text().splitlines()
    print(f"빈 서버의 GET /metrics ({len(metrics.families())}개 메트릭, ", end="")
    print(f"{len(lines)}줄) 앞부분:")
    for line in lines[:9]:
        print(f"  {line}")


# =============================================================================
# 10. 대시보드: 캔버스 차트, 이상 표시, 집계 표, 메트릭 판
# =============================================================================
# GET /가 내주는 페이지 한 장에 CSS와 JavaScript를 모두 넣었습니다(CDN 없음:
# 인터넷이 없어도 동작합니다). 하는 일은 터미널 클라이언트와 같습니다: welcome을
# 받으면 모든 토픽을 구독하고, 틱은 토픽마다의 선 그래프(canvas)에, anomaly는 빨간
# 점과 목록에, aggregate(10초 칸)는 표에, metrics는 오른쪽 판에 그립니다.
# - 그리기는 메시지마다 하지 않고 0.25초마다 한 번 합니다. 초당 수백 개의 틱마다
#   다시 그리면 브라우저가 메시지를 처리하는 것보다 그리는 데 시간을 더 씁니다.
# - 토픽마다 최근 300개만 들고 있습니다(브라우저 메모리도 상한이 필요합니다).
# - 서버가 보낸 글(토픽 이름, 알림)은 textContent로만 넣습니다(innerHTML 금지, 03의
#   8절). 응답 헤더의 콘텐츠 보안 정책(CSP)이 이 페이지의 인라인 스크립트와 스타일만
#   (내용의 SHA-256 해시로) 허용하고, 나머지 스크립트와 외부 연결은 막습니다.
# - 끊기면 '다시 해 보라'는 종료(1001, 1006, 1011, 1012, 1013)에만 백오프하며 다시
#   연결하고, 정책 위반(1008) 같은 종료는 까닭을 보여 주고 멈춥니다.
# - 테스트와 자동화를 위해 받은 틱 수와 이상 수를 window.dashboard와
#   <body data-received data-anomalies>에 내놓습니다.

PAGE_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em;
  background: #263238; color: #fff; }
h1 { font-size: 1.1em; margin: 0; }
h2 { font-size: 1em; margin: .8em 0 .4em; }
#status { font-size: .85em; padding: .1em .7em; border-radius: 1em;
  background: #607d8b; }
#status.online { background: #2e7d32; }
#status.offline { background: #c62828; }
main { display: flex; gap: 1em; padding: 1em; align-items: flex-start; }
#left { flex: 1; min-width: 0; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr));
  gap: .8em; }
.chart { background: #fff; border: 1px solid #ccd; padding: .4em; }
.chart h3 { font-size: .9em; margin: 0 0 .3em; display: flex;
  justify-content: space-between; }
canvas { width: 100%; height: 140px; display: block; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { border: 1px solid #ccd; padding: .2em .5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
aside { width: 16em; }
dl { display: grid; grid-template-columns: auto auto; gap: .2em .6em; margin: 0;
  background: #fff; border: 1px solid #ccd; padding: .5em; }
dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
#anomalies { list-style: none; padding: 0; margin: 0; font-size: .85em; }
#anomalies li, #notice { color: #c62828; }
"""

PAGE_SCRIPT = """
"use strict";
const $ = (id) => document.getElementById(id);
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const url = scheme + location.host + "/ws";
const RETRY = [1001, 1006, 1011, 1012, 1013];  // 다시 해 보라는 종료 코드
const KEEP = 300;  // 토픽마다 그릴 최근 틱 수
const METRICS = [  // 메트릭 판: [metrics의 필드, 이름, 소수 자릿수, 단위, 나눌 수]
  ["clients", "접속", 0],
  ["sent_per_s", "보낸 메시지/초", 0],
  ["bytes_per_s", "보낸 양/초", 1, " KiB", 1024],
  ["received_per_s", "받은 프레임/초", 1],
  ["dropped_total", "버린 메시지", 0],
  ["queue_max", "가장 긴 큐", 0],
  ["loop_lag_ms", "루프 지연", 2, " ms"],
  ["rss_bytes", "메모리(RSS)", 1, " MiB", 1048576],
  ["precision", "탐지 정밀도", 2],
  ["recall", "탐지 재현율", 2],
];
const charts = new Map();  // 토픽 → {canvas, last, points, marks}
const rows = new Map();  // 토픽 → 집계 표의 칸들
const dashboard = {received: 0, anomalies: 0};
window.dashboard = dashboard;
let ws = null;
let attempts = 0;

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = cls;
}

function fixed(x, digits, unit = "", scale = 1) {
  return typeof x === "number" ? (x / scale).toFixed(digits) + unit : "-";
}

function el(tag, text = "", ...children) {
  const node = document.createElement(tag);
  node.textContent = text;
  node.append(...children);
  return node;
}

function setup(topics) {
  charts.clear();
  rows.clear();
  $("charts").replaceChildren(...topics.map((topic) => {
    const last = el("span");
    const canvas = el("canvas");
    charts.set(topic, {canvas, last, points: [], marks: []});
    const box = el("section", "", el("h3", "", el("span", topic), last), canvas);
    box.className = "chart";
    return box;
  }));
  $("table").replaceChildren(...topics.map((topic) => {
    const cells = Array.from({length: 8}, (_, i) => el("td", i ? "" : topic));
    rows.set(topic, cells);
    return el("tr", "", ...cells);
  }));
}

function draw() {
  document.body.dataset.received = String(dashboard.received);
  document.body.dataset.anomalies = String(dashboard.anomalies);
  for (const chart of charts.values()) {
    const canvas = chart.canvas;
    const w = canvas.width = canvas.clientWidth;
    const h = canvas.height = canvas.clientHeight;
    const ctx = canvas.getContext("2d");
    const pts = chart.points;
    if (pts.length < 2) continue;
    const values = pts.map((p) => p.value);
    const low = Math.min(...values);
    const span = Math.max(...values) - low || 1;
    const t0 = pts[0].ts;
    const dt = pts[pts.length - 1].ts - t0 || 1;
    const x = (ts) => (ts - t0) / dt * (w - 8) + 4;
    const y = (v) => h - 4 - (v - low) / span * (h - 8);
    ctx.strokeStyle = "#1565c0";
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(p.ts), y(p.value)));
    ctx.stroke();
    ctx.fillStyle = "#c62828";
    for (const m of chart.marks) {
      if (m.ts < t0) continue;
      ctx.beginPath();
      ctx.arc(x(m.ts), y(m.value), 4, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

function onTick(ev) {
  const chart = charts.get(ev.topic);
  if (!chart) return;
  dashboard.received += 1;
  chart.points.push({ts: ev.ts, value: ev.value});
  if (chart.points.length > KEEP) chart.points.shift();
  chart.last.textContent = fixed(ev.value, 3);
}

function onAnomaly(ev) {
  const chart = charts.get(ev.topic);
  if (!chart) return;
  dashboard.anomalies += 1;
  chart.marks.push({ts: ev.ts, value: ev.value});
  if (chart.marks.length > 50) chart.marks.shift();
  const when = new Date(ev.ts * 1000).toLocaleTimeString("ko-KR", {hour12: false});
  const what = " " + ev.topic + " " + fixed(ev.value, 3);
  $("anomalies").prepend(el("li", when + what + " (점수 " + fixed(ev.score, 1) + ")"));
  while ($("anomalies").children.length > 20) $("anomalies").lastChild.remove();
}

function onAggregate(ev) {
  const cells = rows.get(ev.topic);
  if (!cells || ev.window !== 10) return;
  const values = [ev.count, ev.mean, ev.min, ev.max, ev.std, ev.p95, ev.ewma];
  values.forEach((v, i) => (cells[i + 1].textContent = fixed(v, i ? 3 : 0)));
}

function onMetrics(ev) {
  for (const [key, , digits, unit, scale] of METRICS) {
    $("m-" + key).textContent = fixed(ev[key], digits, unit, scale);
  }
}

function handle(ev) {
  switch (ev.type) {
    case "welcome":
      attempts = 0;
      setup(ev.topics);
      ws.send(JSON.stringify({type: "subscribe", topics: ev.topics}));
      break;
    case "tick": onTick(ev); break;
    case "anomaly": onAnomaly(ev); break;
    case "aggregate": onAggregate(ev); break;
    case "metrics": onMetrics(ev); break;
    case "dropped":
      $("notice").textContent = "따라가지 못해 버려진 메시지 " + ev.total + "개";
      break;
    case "notice": $("notice").textContent = ev.text; break;
    case "error": $("notice").textContent = ev.code + ": " + ev.message; break;
  }
}

function connect() {
  setStatus("연결 중...", "");
  ws = new WebSocket(url);
  ws.onopen = () => setStatus("연결됨", "online");
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onclose = (e) => {
    if (!RETRY.includes(e.code)) {
      setStatus("연결 끊김(" + e.code + ")", "offline");
      $("notice").textContent = "서버가 연결을 닫았습니다(" + e.code + " " + e.reason +
        "). 새로 고치면 다시 연결합니다.";
      return;
    }
    const delay = Math.min(8, 0.5 * 2 ** attempts) * (0.5 + Math.random() / 2);
    attempts += 1;
    const again = delay.toFixed(1) + "초 뒤 다시 연결";
    setStatus("끊김(" + e.code + "), " + again, "offline");
    setTimeout(connect, delay * 1000);
  };
}

$("metrics").replaceChildren(...METRICS.flatMap(([key, label]) => {
  const value = el("dd", "-");
  value.id = "m-" + key;  // 테스트가 #m-clients를 읽습니다
  return [el("dt", label), value];
}));
setInterval(draw, 250);
connect();
"""

TABLE_HEAD = "".join(
    f"<th>{name}</th>"
    for name in ("토픽", "개수", "평균", "최소", "최대", "표준편차", "p95", "EWMA")
)

PAGE_HTML = f"""<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>실시간 센서 대시보드</title>
<style>{PAGE_STYLE}</style>
</head>
<body data-received="0" data-anomalies="0">
<header><h1>실시간 센서 대시보드</h1><span id="status">연결 전</span>
<span id="notice"></span></header>
<main>
<section id="left">
<div id="charts"></div>
<h2>10초 집계</h2>
<table><thead><tr>{TABLE_HEAD}</tr></thead><tbody id="table"></tbody></table>
</section>
<aside>
<h2>서버 메트릭</h2>
<dl id="metrics"></dl>
<h2>최근 이상</h2>
<ul id="anomalies"></ul>
</aside>
</main>
<script>{PAGE_SCRIPT}</script>
</body>
</html>
"""


def csp_hash(source: str) -> str:
    """CSP에 적는 인라인 코드의 해시: 'sha256-<base64>'."""
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


PAGE_CSP = (  # 'self'는 같은 호스트와 포트의 ws://도 허용합니다(CSP 3)
    f"default-src 'none'; script-src {csp_hash(PAGE_SCRIPT)}; "
    f"style-src {csp_hash(PAGE_STYLE)}; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": PAGE_CSP,
}


def demo_10_dashboard() -> None:
    """10절: 대시보드 페이지 한 장과 그 CSP.

    예상 출력:
        페이지: 8,237바이트(CSS와 JavaScript를 안에 담음, 외부 파일 0개)
        서버가 보낸 글을 넣는 곳: textContent 9곳, innerHTML 0곳
        그리는 것: 토픽마다 canvas 선 그래프(최근 300틱), 이상은 빨간 점과 목록
        테스트가 읽는 값: window.dashboard, data-received, data-anomalies
        CSP 지시어:
          default-src 'none'
          script-src 'sha256-...'
          style-src 'sha256-...'
          connect-src 'self'
          base-uri 'none'
          form-action 'none'
          frame-ancestors 'none'
    """
    size = len(PAGE_HTML.encode())
    external = len(re.findall(r"<(?:script|link|img)[^>]*(?:src|href)=", PAGE_HTML))
    print(f"페이지: {size:,}바이트(CSS와 JavaScript를 안에 담음, ", end="")
    print(f"외부 파일 {external}개)")
    text_content = PAGE_SCRIPT.count(".textContent =")
    inner = PAGE_SCRIPT.count(".innerHTML")
    print(
        f"서버가 보낸 글을 넣는 곳: textContent {text_content}곳, innerHTML {inner}곳"
    )
    keep = re.search(r"const KEEP = (\d+)", PAGE_SCRIPT)
    print(
        f"그리는 것: 토픽마다 canvas 선 그래프(최근 {keep[1] if keep else '?'}틱), ",
        end="",
    )
    print("이상은 빨간 점과 목록")
    print("테스트가 읽는 값: window.dashboard, data-received, data-anomalies")
    print("CSP 지시어:")
    for directive in PAGE_CSP.split("; "):
        print(f"  {directive}")


# =============================================================================
# 11. 같은 포트의 HTTP: 대시보드, /metrics, /healthz, Origin, 정원, 잘못된 헤더
# =============================================================================
# WebSocket 연결은 HTTP 요청(핸드셰이크)으로 시작합니다. serve(process_request=...)
# 가 그 요청을 먼저 보고, 응답을 돌려주면 평범한 HTTP로 끝나고 None이면 WebSocket
# 핸드셰이크가 이어집니다(02의 7절, 03의 9절). 그래서 포트 하나로
#   GET /         → 대시보드(10절의 HTML 한 장)
#   GET /metrics  → Prometheus 텍스트(9절)
#   GET /healthz  → 상태 확인 JSON(정원이 차도 답합니다: 배포 도구가 바쁜 서버를
#                   죽은 것으로 보고 재시작하지 않게)
#   GET /ws       → 정원이 찼으면 503, 아니면 WebSocket
# 을 모두 처리합니다. 나머지 검사는 03과 같습니다.
# - 정원은 TCP 연결부터 셉니다(핸드셰이크 중인 연결 포함). 정원에 여유(64)를 더한
#   수를 넘는 연결은 읽지도 않고 끊어 파일 디스크립터를 지킵니다.
# - 출처(Origin) 허용 목록: 이 서버가 내준 페이지의 출처와 --allow-origin만 받고
#   나머지 브라우저 페이지는 403(교차 사이트 WebSocket 탈취 방지). None은 Origin
#   헤더가 없는 클라이언트(터미널, 다른 프로그램)입니다.
# - 한 번만 와야 하는 헤더(Host, Origin ...)가 두 번 오면 어느 값을 믿을지 정할 수
#   없으므로 400입니다. process_request가 예외를 내면 라이브러리가 500과 트레이스백을
#   남기므로 헤더는 get_all()로 읽습니다.
# - 거절(4xx, 5xx)은 process_response에서 한 줄로 기록합니다. 경로와 Origin은
#   클라이언트가 보낸 글이라 printable()로 제어 문자를 보이는 글자로 바꿉니다.
#   라이브러리가 만든 영어 거절문(400, 403)은 한국어로 바꿉니다.

SINGLE_HEADERS = ("Host", "Origin", "Sec-WebSocket-Key", "Sec-WebSocket-Version")
KOREAN_REFUSALS = {  # 라이브러리가 거절할 때 쓰는 영어 본문 대신
    400: "WebSocket 핸드셰이크 요청이 잘못되었습니다(빠졌거나 형식이 틀린 헤더).",
    403: "허용하지 않는 출처(Origin)에서 온 요청입니다.",
}


def allowed_origins(config: ServerConfig) -> list[Origin | None]:
    """이 서버의 페이지 출처들 + --allow-origin + None(브라우저가 아닌 클라이언트).

    >>> allowed_origins(ServerConfig(port=8765))
    [None, 'http://127.0.0.1:8765', 'http://localhost:8765']
    """
    hosts = dict.fromkeys(["127.0.0.1", "localhost", config.host])  # 순서 유지
    own = [
        f"http://[{h}]:{config.port}" if ":" in h else f"http://{h}:{config.port}"
        for h in hosts
    ]
    return [None, *(Origin(origin) for origin in [*own, *config.allow_origins])]


def respond(
    connection: ServerConnection,
    status: HTTPStatus,
    body: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """평범한 HTTP 응답 하나. 기본은 한국어 텍스트, headers가 그 위를 덮습니다."""
    response = connection.respond(status, body)
    del response.headers["Content-Type"]
    extra = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
    extra |= {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    response.headers.update(extra)
    return response


def process_request(
    metrics: Metrics, connection: ServerConnection, request: Request
) -> Response | None:
    """핸드셰이크 전에 HTTP 요청을 봅니다. None이면 WebSocket으로 진행합니다."""
    hub = metrics.hub
    for name in SINGLE_HEADERS:
        if len(request.headers.get_all(name)) > 1:
            text = f"{name} 헤더가 여러 번 왔습니다. 한 번만 보내세요.\n"
            return respond(connection, HTTPStatus.BAD_REQUEST, text)
    path = request.path.partition("?")[0]
    if path == WS_PATH and len(hub.sockets) <= hub.config.max_clients:
        return None  # 다음은 라이브러리의 Origin 검사(403)와 핸드셰이크
    if path == WS_PATH:
        full = "서버 정원이 찼습니다. 잠시 뒤에 다시 접속해 주세요.\n"
        return respond(connection, HTTPStatus.SERVICE_UNAVAILABLE, full)
    if path == "/":
        return respond(connection, HTTPStatus.OK, PAGE_HTML, PAGE_HEADERS)
    if path == "/metrics":
        kind = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        return respond(connection, HTTPStatus.OK, metrics.text(), kind)
    if path == "/healthz":
        kind = {"Content-Type": "application/json"}
        return respond(connection, HTTPStatus.OK, json.dumps(metrics.health()), kind)
    routes = "/ (대시보드), /ws (WebSocket), /metrics, /healthz"
    return respond(connection, HTTPStatus.NOT_FOUND, f"없는 주소입니다. {routes}\n")


def log_refusal(
    connection: ServerConnection, request: Request, response: Response
) -> Response | None:
    """응답 직전: 거절(4xx, 5xx)을 기록하고, 라이브러리의 거절문은 한국어로 바꿉니다."""
    if response.status_code < 400:
        return None
    who = ":".join(map(str, connection.remote_address[:2]))
    origin = ", ".join(request.headers.get_all("Origin")) or "없음"
    what = f"{who} GET {printable(request.path)} (Origin: {printable(origin)})"
    log.warning("거절 %s → %d %s", what, response.status_code, response.reason_phrase)
    korean = KOREAN_REFUSALS.get(response.status_code)
    if connection.protocol.handshake_exc is None or korean is None:
        return None  # process_request가 만든 한국어 응답은 그대로 보냅니다
    return respond(connection, HTTPStatus(response.status_code), korean + "\n")


def counted_connection(hub: Hub) -> type[ServerConnection]:
    """TCP 연결이 들어온 순간부터 hub.sockets에 세는 연결 클래스(6절의 검사 포함)."""

    class CountedConnection(GuardedConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            hub.sockets.add(self)
            if len(hub.sockets) > hub.config.max_clients + HANDSHAKE_SLACK:
                log.warning("정원과 여유를 넘은 연결을 받자마자 끊습니다")
                self.transport.abort()  # 요청을 읽지도 않습니다: 파일 디스크립터 보호

        def connection_lost(self, exc: Exception | None) -> None:
            hub.sockets.discard(self)
            super().connection_lost(exc)

    return CountedConnection


def http_options(metrics: Metrics) -> dict[str, object]:
    """serve()에 더할 이 절의 설정: HTTP 처리, 거절 기록, Origin, 연결 세기."""
    return {
        "process_request": functools.partial(process_request, metrics),
        "process_response": log_refusal,
        "origins": allowed_origins(metrics.hub.config),
        "create_connection": counted_connection(metrics.hub),
    }


async def http_get(
    port: int, path: str, *headers: str
) -> tuple[str, dict[str, str], str]:
    """아주 작은 HTTP 클라이언트(데모용): (상태 줄, 헤더, 본문)."""
    reader, writer = await asyncio.open_connection(DEFAULT_HOST, port)
    lines = [f"GET {path} HTTP/1.1", f"Host: {DEFAULT_HOST}:{port}", *headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    raw = await reader.read()  # 서버가 응답 뒤에 연결을 닫습니다
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *rest = head.decode().split("\r\n")
    return status, dict(line.split(": ", 1) for line in rest), body.decode()


async def demo_11_http() -> None:
    """11절: 같은 포트의 HTTP, 겹친 헤더, 기록 속 제어 문자, Origin, 정원.

    예상 출력(포트는 실행마다 다름):
        GET /healthz → HTTP/1.1 200 OK (application/json) {"status": "ok", ...}
        GET /        → HTTP/1.1 200 OK (text/html; charset=utf-8) 8,237바이트
        GET /metrics → HTTP/1.1 200 OK (text/plain; version=0.0.4; ...) 1,475바이트
        [서버] 거절 127.0.0.1:50000 GET /nope\\x1b[2J (Origin: 없음) → 404 Not Found
        경로에 ESC(화면 지우기) → HTTP/1.1 404 Not Found: 없는 주소입니다. ...
        [서버] 거절 ... (Origin: http://a, http://b) → 400 Bad Request
        Origin 두 개 → HTTP/1.1 400 Bad Request: Origin 헤더가 여러 번 왔습니다. ...
        [서버] 연결: 127.0.0.1:50006 (지금 1개)
        Origin http://127.0.0.1:54321    → 101 WebSocket 연결됨
        [서버] 연결 끝: 127.0.0.1:50006 (클라이언트가 닫음 1000, 지금 0개)
        [서버] 거절 ... (Origin: http://evil.example) → 403 Forbidden
        Origin http://evil.example       → 403 거절
        [서버] 연결: 127.0.0.1:50010 (지금 1개)
        [서버] 연결: 127.0.0.1:50012 (지금 2개)
        [서버] 거절 127.0.0.1:50014 GET /ws (Origin: 없음) → 503 Service Unavailable
        정원 2명일 때 세 번째 연결 → 503 서버 정원이 찼습니다. 잠시 뒤에 ...
        ...      ← 두 연결의 '연결 끝' 두 줄(순서는 실행마다 다름)
    """
    with (
        socket.socket() as sock
    ):  # 빈 포트를 미리 받습니다(Origin 목록에 포트가 들어감)
        sock.bind((DEFAULT_HOST, 0))
        port = int(sock.getsockname()[1])
    hub = BoundedHub(ServerConfig(port=port, topics=2, max_clients=2))
    metrics = Metrics(hub)
    upgrade = (  # 02 레슨 1절에서 본 업그레이드 요청의 헤더들
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    )
    async with serving(hub, **http_options(metrics)):
        for path in ("/healthz", "/", "/metrics"):
            status, headers, body = await http_get(port, path)
            kind = headers.get("Content-Type", "")
            shown = body if path == "/healthz" else f"{len(body.encode()):,}바이트"
            print(f"GET {pad(path, 9)}→ {status} ({kind}) {shown.strip()}")
        two_origins = (*upgrade, "Origin: http://a", "Origin: http://b")
        for label, path, extra in (
            ("경로에 ESC(화면 지우기)", "/nope\x1b[2J", ()),
            ("Origin 두 개", WS_PATH, two_origins),
        ):
            status, _, body = await http_get(port, path, *extra)
            print(f"{label} → {status}: {body.strip()}")
        for origin in (f"http://127.0.0.1:{port}", "http://evil.example"):
            try:
                async with connect(hub.url, origin=Origin(origin)) as websocket:
                    await websocket.recv()  # welcome
                    print(f"Origin {pad(origin, 26)}→ 101 WebSocket 연결됨")
                await wait_until(lambda: not hub.clients)
            except InvalidStatus as exc:
                print(f"Origin {pad(origin, 26)}→ {exc.response.status_code} 거절")
        async with connect(hub.url) as one, connect(hub.url) as two:
            for websocket in (one, two):
                await websocket.recv()
            try:
                await connect(hub.url)
            except InvalidStatus as exc:
                reply = exc.response.body.decode().strip()
                print(f"정원 {hub.config.max_clients}명일 때 세 번째 연결 → ", end="")
                print(f"{exc.response.status_code} {reply}")
        await wait_until(lambda: not hub.clients)


# =============================================================================
# 12. 서버 조립: 생산자, 집계, 탐지, 메트릭 방송을 한 허브에
# =============================================================================
# 지금까지의 조각을 모읍니다. StreamHub는 6절의 BoundedHub에 값마다 할 일을 더합니다.
#   값 하나 → 텀블링 윈도 둘(7절)에 넣음. 칸이 닫히면 aggregate를 그 토픽의
#   구독자에게(틱보다 먼저: 받는 쪽은 aggregate를 받을 때 그 칸의 틱을 모두 받은
#   뒤입니다) → EWMA → 탐지기(8절)와 성적표 → 틱(4절) → 이상이면 anomaly.
# 같은 큐를 지나므로 집계와 이상도 느린 구독자에게서는 버려지고(dropped에 셈),
# 메시지의 순서는 구독자마다 언제나 만든 순서 그대로입니다.
# 서버가 정답을 알고 있으므로 탐지기의 정밀도와 재현율을 실행 중에도 잽니다
# (metrics 메시지, /metrics, /healthz). 탐지기는 토픽마다 따로이고 서로 모릅니다.
# 백그라운드 태스크는 셋입니다: 생산자(4절), 루프 지연(9절), 1초마다 모든 연결에
# metrics를 보내는 방송(publish_metrics).


class StreamHub(BoundedHub):
    """6절의 BoundedHub에 집계(7절)와 이상 탐지(8절)를 더한 허브."""

    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config)
        grace = round(MATCH_GRACE * config.rate)
        self.windows = {
            t: [TumblingWindow(size) for size in WINDOWS] for t in self.topics
        }
        self.ewmas = {topic: Ewma(EWMA_ALPHA) for topic in self.topics}
        self.detectors = {topic: EwmaDetector(config.rate) for topic in self.topics}
        self.scores = {topic: Scorecard(grace) for topic in self.topics}
        self.ticks: Counter[str] = Counter()  # 토픽마다 만든 틱 수
        self.anomalies: Counter[str] = Counter()  # 토픽마다 보낸 anomaly 수

    def new_value(
        self, topic: str, value: float, ts: float, injected: Anomaly | None
    ) -> None:
        ewma = self.ewmas[topic]
        for window in self.windows[topic]:
            closed = window.add(ts, value)
            if closed is not None:  # 지난 칸의 요약을 이 틱보다 먼저 보냅니다
                self.publish(topic, aggregate_event(topic, closed, ewma.value))
        ewma.update(value)
        score, flagged = self.detectors[topic].update(value)
        self.scores[topic].record(self.ticks[topic], injected, flagged)
        self.ticks[topic] += 1
        super().new_value(topic, value, ts, injected)  # 틱
        if flagged:
            self.anomalies[topic] += 1
            event: Event = {"type": ServerType.ANOMALY, "topic": topic, "value": value}
            event |= {"score": round(score, 2), "threshold": THRESHOLD, "ts": ts}
            self.publish(topic, event)

    def detection(self) -> tuple[float | None, float | None]:
        """모든 토픽을 합친 (정밀도, 재현율). 아직 잴 것이 없으면 None."""
        total = combined(self.scores.values())
        return total.precision, total.recall


class StreamMetrics(Metrics):
    """9절의 Metrics에 토픽마다의 틱, 이상, 탐지 성적을 더합니다."""

    hub: StreamHub

    def __init__(self, hub: StreamHub) -> None:
        super().__init__(hub)
        self.hub = hub

    def snapshot(self) -> Event:
        precision, recall = self.hub.detection()
        return super().snapshot() | {"precision": precision, "recall": recall}

    def families(self) -> list[MetricFamily]:
        hub, cards, c, g = self.hub, self.hub.scores.items(), "counter", "gauge"
        injected = {topic: card.injected for topic, card in cards}
        precision = {topic: card.precision for topic, card in cards}
        recall = {topic: card.recall for topic, card in cards}
        rows: list[tuple[str, str, str, MetricValue]] = [
            ("ticks_total", c, "토픽마다 만든 틱 수", hub.ticks),
            ("anomalies_total", c, "토픽마다 보낸 anomaly 수", hub.anomalies),
            ("anomalies_injected_total", c, "토픽마다 심은 이상(정답)", injected),
            ("detector_precision", g, "경보 중 정답을 맞힌 비율", precision),
            ("detector_recall", g, "정답 중 경보가 울린 비율", recall),
        ]
        extra = [MetricFamily.of(f"stream_{n}", k, t, v) for n, k, t, v in rows]
        return super().families() + extra

    def health(self) -> Event:
        precision, recall = self.hub.detection()
        return super().health() | {"precision": precision, "recall": recall}


async def publish_metrics(hub: Hub, metrics: Metrics) -> None:
    """1초마다 모든 연결에 metrics 메시지를 보냅니다."""
    while True:
        await asyncio.sleep(METRICS_INTERVAL)
        hub.publish(None, metrics.snapshot())


async def demo_12_assembled() -> None:
    """12절: 한 허브가 틱, 집계, 메트릭을 모두 보냅니다.

    예상 출력(숫자는 실행마다 다름):
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [클라이언트 A] <<< {"type":"tick","topic":"temperature","seq":1,"value":20.977}
        [클라이언트 A] <<< {"type":"aggregate","topic":"temperature","window":1,...}
        [클라이언트 A] <<< {"type":"metrics","clients":1,"sent_per_s":50.9,...}
        GET /metrics에서 토픽마다의 줄:
          stream_subscriptions{topic="temperature"} 1
          stream_subscriptions{topic="humidity"} 0
          stream_ticks_total{topic="temperature"} 51
          stream_ticks_total{topic="humidity"} 51
        [서버] 연결 끝: 127.0.0.1:50000 (클라이언트가 닫음 1000, 지금 0개)
    """
    hub = StreamHub(ServerConfig(port=0, topics=2, rate=50))
    metrics = StreamMetrics(hub)
    async with serving(hub, **http_options(metrics)) as server:
        helpers = [asyncio.create_task(metrics.lag.run())]
        helpers.append(asyncio.create_task(publish_metrics(hub, metrics)))
        client = await DemoClient.open(hub.url, "A", show=False)
        topics = ["temperature"]
        await client.send({"type": ClientType.SUBSCRIBE, "topics": topics}, show=False)
        for kind in (ServerType.TICK, ServerType.AGGREGATE, ServerType.METRICS):
            await client.expect(kind)
        _, _, body = await http_get(port_of(server), "/metrics")
        print("GET /metrics에서 토픽마다의 줄:")
        for line in body.splitlines():
            if line.startswith(("stream_ticks_total", "stream_subscriptions")):
                print(f"  {line}")
        for task in helpers:
            task.cancel()
        await client.websocket.close()
        await wait_until(lambda: not hub.clients)


# =============================================================================
# 13. 우아한 종료와 server 모드
# =============================================================================
# running_server()가 server 모드의 서버입니다: StreamHub, 11절의 HTTP 처리와 연결
# 세기, 12절의 백그라운드 태스크 셋.
# 종료 순서: 신호 → 생산자와 방송을 멈춤 → 모든 연결에 notice(큐를 거치지 않고
# 바로 씀) → 새 연결 받지 않기 → 1001(떠남)로 닫기 → SHUTDOWN_GRACE(3초) 안에 안
# 닫히는 연결(읽지 않는 구독자, 핸드셰이크를 하다 만 연결)은 끊기 → 종료 코드 0.
# 라이브러리의 server.close()와 wait_closed()는 닫기 핸드셰이크와 open_timeout을
# 끝까지 기다리므로 시간제한은 직접 겁니다.
# 신호는 loop.add_signal_handler로 받습니다. Windows에는 이 기능이 없어서
# (NotImplementedError) Ctrl+C가 KeyboardInterrupt로 오고, asyncio.run이 실행 중인
# 태스크를 취소하면서 같은 finally(shutdown)를 거칩니다.
# 연결 하나는 파일 디스크립터 하나입니다. 리눅스의 기본 한도(흔히 1,024개)로는
# 정원 1,000명을 받을 수 없으므로 시작할 때 한도를 올리고, 올릴 수 없으면 정원을
# 한도에 맞게 줄인 뒤 그렇게 했다고 알립니다. 그래도 한꺼번에 몰린 연결로 accept()가
# EMFILE(파일이 너무 많음)을 만나면 이벤트 루프의 오류 처리기가 트레이스백 수천 개
# 대신 한국어 한 줄을 남깁니다.
# 성능은 레슨 밖에서 잽니다. bench/04_streaming.py가 이 파일을 server 모드로 띄우고
# 빠른 구독자와 멈춘 구독자를 섞어 전달량, 지연 시간, 내보내기까지 걸린 시간, RSS,
# 탐지 성적을 잽니다(README의 "성능 측정").

FD_RESERVE = 64  # 정원 밖에 남겨 두는 파일 디스크립터(표준 입출력, 듣는 소켓 ...)
ACCEPT_BURST = 64  # 이벤트 루프가 한 번에 accept()하는 연결 수(serve의 backlog)
NOTICE_TEXT = "서버를 종료합니다. 잠시 뒤 다시 접속해 주세요."


@contextlib.asynccontextmanager
async def running_server(config: ServerConfig) -> AsyncIterator[StreamHub]:
    """서버를 띄우고 허브를 넘겨줍니다. 블록을 나가면 우아하게 종료합니다."""
    hub = StreamHub(config)
    metrics = StreamMetrics(hub)
    server = await stream_server(hub, backlog=ACCEPT_BURST, **http_options(metrics))
    config.port = port_of(server)  # 포트 0으로 열었다면 운영체제가 고른 포트
    hub.url = ws_url(config.host, config.port)
    background = [
        asyncio.create_task(run_producer(hub)),
        asyncio.create_task(metrics.lag.run()),
        asyncio.create_task(publish_metrics(hub, metrics)),
    ]
    try:
        yield hub
    finally:
        await shutdown(hub, server, background)


async def shutdown(
    hub: Hub, server: Server, background: list[asyncio.Task[None]]
) -> None:
    """알리고, 1001로 닫고, SHUTDOWN_GRACE초 안에 안 닫히는 연결은 끊습니다."""
    hub.closing = True
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    started = time.monotonic()
    notice = encode({"type": ServerType.NOTICE, "text": NOTICE_TEXT})
    broadcast([client.websocket for client in hub.clients], notice)  # 큐를 거치지 않음
    log.info("종료합니다: 연결 %d개에 알리고 1001로 닫습니다", len(hub.sockets))
    server.close(close_connections=True, code=CloseCode.GOING_AWAY, reason="서버 종료")
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await server.wait_closed()
    except TimeoutError:
        stuck = list(hub.sockets)
        what = "%g초 안에 닫히지 않은 연결 %d개를 끊습니다"
        log.warning(what, SHUTDOWN_GRACE, len(stuck))
        for connection in stuck:
            connection.transport.abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await server.wait_closed()
    for task in hub.tasks:
        task.cancel()  # 구독자마다 보내는 태스크, 내보낸 연결을 닫는 태스크
    await asyncio.gather(*hub.tasks, return_exceptions=True)
    log.info("모든 연결을 닫았습니다 (%s)", seconds(time.monotonic() - started))


# Any: asyncio가 넘기는 context는 값의 타입이 키마다 다른 dict입니다.
def report_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """루프의 오류 처리기: 파일이 모자라 accept()가 실패하면 트레이스백 대신 한 줄.

    이벤트 루프는 그럴 때 1초 동안 새 연결을 받지 않고 다시 시도합니다(저절로 버팀).
    """
    error = context.get("exception")
    if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
        log.warning("열 수 있는 파일이 모자라 1초 동안 새 연결을 받지 않습니다")
        return
    loop.default_exception_handler(context)


def stop_signal() -> asyncio.Event:
    """Ctrl+C(SIGINT)나 SIGTERM이 오면 set되는 이벤트."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt로
            loop.add_signal_handler(sig, stop.set)
    return stop


def fit_open_files(config: ServerConfig) -> str | None:
    """정원만큼 소켓을 열 수 있게 한도를 올립니다. 못 올리면 정원을 줄이고 그 안내를."""
    if sys.platform == "win32":
        return None
    spare = HANDSHAKE_SLACK + ACCEPT_BURST + FD_RESERVE
    needed = config.max_clients + spare
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):  # macOS는 OPEN_MAX 위를 거절
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft >= needed:
        return None
    wanted = config.max_clients
    config.max_clients = max(1, soft - spare)
    return (
        f"[서버] 열 수 있는 파일 수의 한도가 {soft}개라 정원을 {wanted}명에서 "
        f"{config.max_clients}명으로 줄였습니다. 더 받으려면 `ulimit -n {needed}`로 "
        "한도를 올리고 다시 실행하세요."
    )


async def serve_until_stopped(config: ServerConfig) -> None:
    """server 모드: 신호가 올 때까지 서버를 돌립니다."""
    stop = stop_signal()
    notice = fit_open_files(config)
    if notice:
        print(notice)
    asyncio.get_running_loop().set_exception_handler(report_loop_error)
    async with running_server(config) as hub:
        page = hub.url.replace("ws://", "http://").removesuffix(WS_PATH)
        names = ", ".join(hub.topics[:5]) + (" ..." if len(hub.topics) > 5 else "")
        print(f"[서버] 스트리밍 서버를 시작했습니다: {hub.url}")
        print(f"[서버] 토픽 {len(hub.topics)}개({names}), 토픽마다 초당 ", end="")
        print(f"{config.rate:g}틱, 시드 {config.seed}")
        print(f"[서버] 대시보드: {page}/   메트릭: {page}/metrics   ", end="")
        print(f"상태: {page}/healthz")
        limits = f"구독자 큐 {config.queue_size}개, {config.saturation_limit:g}초"
        print(f"[서버] {limits} 넘치면 1008, 정원 {config.max_clients:,}명")
        local = config.host in ("0.0.0.0", "::", DEFAULT_HOST)  # noqa: S104  이 컴퓨터
        hint = f"{PROG} client" + ("" if local else f" --host {config.host}")
        hint += "" if config.port == DEFAULT_PORT else f" --port {config.port}"
        print(f"[서버] 다른 터미널에서: {hint}")
        print("[서버] 끝내려면 Ctrl+C를 누르세요.")
        await stop.wait()
        print("[서버] 종료 신호를 받았습니다. 구독자에게 알리고 연결을 닫습니다...")
    print("[서버] 종료했습니다.")


def port_problem(exc: OSError, host: str, port: int) -> str:
    """서버를 열 수 없을 때의 한국어 안내.

    >>> port_problem(OSError(errno.EADDRINUSE, "in use"), "127.0.0.1", 36581)[:36]
    '[서버] 포트 36581번은 이미 다른 프로그램이 쓰고 있습니다.'
    """
    if exc.errno in (errno.EADDRINUSE, 10048):  # 10048: Windows의 WSAEADDRINUSE
        return (
            f"[서버] 포트 {port}번은 이미 다른 프로그램이 쓰고 있습니다. 그 프로그램을 "
            f"끝내거나 --port {port + 1}처럼 다른 포트를 고르세요."
        )
    return (
        f"[서버] {host}:{port}에서 서버를 열 수 없습니다({exc.strerror or exc}). "
        "--host와 --port 값을 확인하세요."
    )


def run_server(config: ServerConfig) -> int:
    """server 모드의 진입점. 포트 문제는 한국어 한 문장과 종료 코드 1로."""
    try:
        asyncio.run(serve_until_stopped(config))
    except OSError as exc:
        print(port_problem(exc, config.host, config.port), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Windows: 신호 처리기 대신 여기로 옵니다
        print("[서버] Ctrl+C: 종료했습니다.")
    return 0


async def demo_13_shutdown() -> None:
    """13절: 구독자가 받는 중에 우아하게 종료합니다.

    예상 출력(시간은 실행마다 다름):
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [서버] 연결: 127.0.0.1:50002 (지금 2개)
        [서버] 종료합니다: 연결 2개에 알리고 1001로 닫습니다
        ...      ← '연결 끝' 두 줄(서버 종료로 1001). 순서는 실행마다 다름
        [서버] 모든 연결을 닫았습니다 (663μs)
        [클라이언트 1] <<< {"type":"notice","text":"서버를 종료합니다. 잠시 뒤 ..."}
        [클라이언트 1] 종료 코드 1001 (서버 종료)
        [클라이언트 2] <<< {"type":"notice","text":"서버를 종료합니다. 잠시 뒤 ..."}
        [클라이언트 2] 종료 코드 1001 (서버 종료)
    """
    async with running_server(ServerConfig(port=0, topics=2, rate=20)) as hub:
        clients = [await DemoClient.open(hub.url, n, show=False) for n in ("1", "2")]
        readers = []
        for client in clients:
            subscribe: Event = {"type": ClientType.SUBSCRIBE, "topics": hub.topics}
            await client.send(subscribe, show=False)
            await client.expect(ServerType.SUBSCRIBED, show=False)
            readers.append(asyncio.create_task(collect(client.websocket)))
    for client, reader in zip(clients, readers, strict=True):
        events, code, reason = await reader
        notice = next(e for e in events if e["type"] == ServerType.NOTICE)
        client.show(notice)
        print(f"[클라이언트 {client.name}] 종료 코드 {code} ({reason})")


# =============================================================================
# 14. client: 틱을 한 줄씩, 끝나면 요약, 다시 연결하는 규칙
# =============================================================================
# 받는 쪽 프로그램 셋(client, analytics, slow-client)은 같은 뼈대(consume)를 씁니다.
#   연결 → welcome → subscribe → 받은 이벤트를 handle()에 → handle()이 True면 끝.
# handle은 모드마다 다릅니다: client는 틱을 한 줄씩 보여 주고, analytics(15절)는
# 스스로 집계하고 탐지해서 서버와 비교하고, slow-client(16절)는 일부러 천천히 읽습니다.
# 끊기면 종료 코드를 봅니다. '다시 해 보라'는 종료(1001 서버 종료, 1011, 1012, 1013,
# 닫기 프레임 없는 끊김)와 연결 실패(서버가 아직 안 떴음, 503)에는 지수 백오프와
# 지터로 기다린 뒤 다시 연결하고 다시 구독합니다. 기다리는 시간을 보여 줍니다.
# 정책 위반(1008)이나 너무 큰 메시지(1009), 403처럼 다시 해도 같은 결과일 종료는
# 까닭을 보여 주고 끝냅니다(종료 코드 1). 다시 연결하면 seq는 1부터 다시 셉니다
# (seq는 연결마다입니다). 그래서 welcome을 받을 때마다 빈틈 기록을 새로 시작합니다.
# 지연 시간 = 받은 시각 - 틱의 ts. 두 시계가 같은 컴퓨터에 있을 때만 정확합니다.
# Ctrl+C(또는 SIGTERM)를 받으면 1001(떠남)로 닫고 요약을 보여 준 뒤 끝납니다.

Handler = Callable[[Event], Awaitable[bool]]  # 이벤트 하나를 처리. True면 그만 받기
REFUSED = (ErrorCode.UNKNOWN_TOPIC, ErrorCode.INVALID_TOPICS)  # 구독이 거절된 오류


def reconnect_delays() -> Generator[float]:
    """다시 연결하기 전 대기(초): 0.5초에서 두 배씩 8초까지, 지터를 섞어서.

    >>> delays = reconnect_delays()
    >>> all(0.25 <= next(delays) <= 8 for _ in range(20))
    True
    """
    cap = 0.5
    while True:
        yield random.uniform(cap / 2, cap)  # 모두가 같은 순간에 몰리지 않게
        cap = min(cap * 2, 8.0)


def should_retry(exc: ConnectionClosed) -> bool:
    """다시 연결할 종료인가: 닫기 프레임 없이 끊김(1006)이나 RETRY_CODES.

    >>> should_retry(ConnectionClosedError(Close(1008, "느린 구독자"), None))
    False
    >>> should_retry(ConnectionClosedError(None, None))
    True
    """
    return exc.rcvd is None or exc.rcvd.code in RETRY_CODES


def explain_close(exc: ConnectionClosed) -> str:
    """연결이 끊긴 까닭을 사용자에게."""
    rcvd = exc.rcvd
    if rcvd is None:
        return "연결이 끊겼습니다(닫기 프레임 없음)."
    meaning = {
        1001: "서버가 종료되었습니다",
        1008: "서버가 정책 위반으로 연결을 닫았습니다",
        1009: "보낸 메시지가 너무 커서 서버가 닫았습니다",
        1011: "서버가 응답 없음이나 내부 오류로 닫았습니다",
    }.get(rcvd.code, "서버가 연결을 닫았습니다")
    reason = f" {rcvd.reason}" if rcvd.reason else ""
    return f"{meaning}({rcvd.code}{reason})."


def explain_connect_error(exc: BaseException, uri: str) -> str:
    """연결 시도가 실패한 까닭을 한국어 한 문장으로."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            return "서버 정원이 찼거나 종료 중입니다(503)."
        if status == HTTPStatus.FORBIDDEN:
            return "서버가 이 출처(Origin)를 거절했습니다(403)."
        return f"서버가 거절했습니다(HTTP {status}). 스트리밍 서버가 맞나요?"
    if isinstance(exc, InvalidURI):
        return f"주소 형식이 잘못되었습니다: {uri} (--host를 확인하세요)"
    if isinstance(exc, TimeoutError):
        return f"{uri}가 제시간에 응답하지 않습니다."
    if isinstance(exc, OSError):
        return f"{uri}에 연결할 수 없습니다. 서버가 켜져 있는지, 주소를 확인하세요."
    return f"WebSocket 연결에 실패했습니다({exc})."


async def hang_up(websocket: ClientConnection, code: int) -> None:
    """닫기 프레임을 보내고, 서버의 답이 올 때까지 쌓인 메시지를 읽어 버립니다.

    읽지 않은 메시지가 라이브러리의 큐(max_queue)를 채우면 읽기가 멈춰 서버의 닫기
    프레임에 닿지 못하고, close()는 close_timeout(10초)까지 기다립니다(5절과 같은 일).
    """
    draining = asyncio.create_task(collect(websocket))  # 6절: 닫힐 때까지 읽음
    await websocket.close(code)
    await draining


async def consume(
    address: tuple[str, int],
    topics: list[str] | None,
    handle: Handler,
    who: str,
    *,
    clamp: bool = False,
) -> int:
    """연결, 구독, 받은 이벤트(welcome 포함)를 handle에. 종료 코드(0, 1)를 돌려줌."""
    uri = ws_url(*address)
    delays = reconnect_delays()
    while True:
        try:
            sock = await clamped_socket(*address) if clamp else None  # 16절
            async with connect(uri, sock=sock, compression=None) as websocket:
                welcome: Event = json.loads(await websocket.recv())
                names = welcome.get("topics")
                offered = list(map(str, names)) if isinstance(names, list) else []
                wanted = topics or offered
                subscribe: Event = {"type": ClientType.SUBSCRIBE, "topics": wanted}
                await websocket.send(encode(subscribe))
                print(f"[{who}] {uri}에 연결했습니다. 구독: {', '.join(wanted)}")
                delays = reconnect_delays()  # 연결되면 백오프를 처음부터
                event, result = welcome, 0
                try:
                    while not await handle(event):
                        event = json.loads(await websocket.recv())
                        if event.get("code") in REFUSED:
                            print(f"[{who}] 구독하지 못했습니다: {event['message']}")
                            result = 1
                            break
                except asyncio.CancelledError:  # Ctrl+C: 1001(떠남)로 닫고 끝냅니다
                    await hang_up(websocket, CloseCode.GOING_AWAY)
                    raise
                await hang_up(websocket, CloseCode.NORMAL_CLOSURE)  # 정해진 만큼 받음
                return result
        except ConnectionClosed as exc:
            if not should_retry(exc):
                print(f"[{who}] {explain_close(exc)} 끝냅니다.")
                return 0 if exc.rcvd is not None and exc.rcvd.code == 1000 else 1
            why = explain_close(exc)
        except (OSError, InvalidHandshake, InvalidURI) as exc:  # TimeoutError도 OSError
            why = explain_connect_error(exc, uri)
            if process_exception(exc) is not None:  # 라이브러리의 판단: 다시 해도 같음
                print(f"[{who}] {why}")
                return 1
        delay = next(delays)
        print(f"[{who}] {why} {delay:.1f}초 뒤 다시 연결합니다.")
        await asyncio.sleep(delay)


async def until_stopped(
    work: Coroutine[object, object, int],
    who: str,
    duration: float | None = None,
    *,
    signals: bool = True,
) -> int:
    """work를 돌리다가 duration초가 지나거나 Ctrl+C(SIGINT), SIGTERM이 오면 취소합니다.

    취소되면 consume이 1001(떠남)로 닫습니다. signals=False는 데모용(신호는 그대로).
    """
    stop = stop_signal() if signals else asyncio.Event()  # 13절의 신호 처리
    task = asyncio.create_task(work)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait(
        {task, waiter}, timeout=duration, return_when=asyncio.FIRST_COMPLETED
    )
    waiter.cancel()
    if not task.done():
        why = "멈추라는 신호를 받아" if stop.is_set() else f"{duration:g}초가 지나"
        print(f"[{who}] {why} 끝냅니다.")
        task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return 0


def describe(event: Event) -> str | None:
    """client가 화면에 쓸 한 줄(틱은 따로). 보여 줄 것이 없는 종류는 None.

    >>> describe({"type": "anomaly", "topic": "power", "value": 412.5, "score": 7.2})
    '[이상] power 값 412.5, 점수 7.2'
    >>> describe({"type": "dropped", "count": 12, "total": 40})
    '[버림] 따라가지 못해 서버가 12개를 버렸습니다(모두 40개)'
    """
    match event:
        case {"type": ServerType.ANOMALY, "topic": topic, "value": value, "score": z}:
            return f"[이상] {topic} 값 {value}, 점수 {z}"
        case {"type": ServerType.DROPPED, "count": count, "total": total}:
            return f"[버림] 따라가지 못해 서버가 {count}개를 버렸습니다(모두 {total}개)"
        case {"type": ServerType.NOTICE, "text": text}:
            return f"[알림] {text}"
        case {"type": ServerType.ERROR, "code": code, "message": message}:
            return f"[오류] {code}: {message}"
    return None


@dataclass
class TickPrinter:
    """client 모드의 handle: 틱을 한 줄씩, 그 밖의 알림도 한 줄씩."""

    who: str = "클라이언트"
    count: int | None = None  # 이만큼 틱을 받으면 끝(없으면 계속)
    record: TickLog = field(default_factory=TickLog)
    kinds: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    async def handle(self, event: Event) -> bool:
        self.kinds[str(event["type"])] += 1
        if event["type"] == ServerType.WELCOME:
            self.record.last.clear()  # 새 연결: seq는 1부터 다시
        elif event["type"] == ServerType.TICK:
            gap = self.record.add(event)
            topic, seq = str(event["topic"]), int(str(event["seq"]))
            if gap:
                missed = f"#{seq - gap - 1}와 #{seq} 사이 {gap}개를 못 받음"
                print(f"[빈틈] {topic} {missed}")
            value, latency = float(str(event["value"])), self.record.latencies[-1]
            print(f"{topic:<12} #{seq:<6} {value:>10.3f}  지연 {seconds(latency)}")
        elif line := describe(event):
            print(line)
        return self.count is not None and self.record.ticks >= self.count

    def summary(self) -> None:
        ticks, gaps = self.record.ticks, self.record.gaps
        p50, p99 = (seconds(percentile(self.record.latencies, q)) for q in (0.5, 0.99))
        elapsed = time.monotonic() - self.started
        rate = ticks / max(elapsed, 1e-9)
        print(f"[{self.who}] 요약: {seconds(elapsed)} 동안 틱 {ticks:,}개", end="")
        print(f"(초당 {rate:.1f}), 빈틈 {gaps}개, 지연 p50 {p50}, p99 {p99}")
        kinds = ("aggregate", "anomaly", "metrics", "dropped")
        others = ", ".join(f"{kind} {self.kinds[kind]}" for kind in kinds)
        print(f"[{self.who}] 그 밖에 받은 것: {others}")


async def run_client(
    address: tuple[str, int],
    topics: list[str] | None,
    count: int | None = None,
    duration: float | None = None,
) -> int:
    """client 모드: count개나 duration초가 되거나 Ctrl+C면 요약하고 끝냅니다."""
    printer = TickPrinter(count=count)
    try:
        work = consume(address, topics, printer.handle, printer.who)
        return await until_stopped(work, printer.who, duration)
    finally:
        printer.summary()


async def demo_14_client() -> None:
    """14절: 닫는 까닭에 따른 행동, 그리고 client로 틱 5개 받기.

    예상 출력(숫자는 실행마다 다름):
        닫기 1001 → 서버가 종료되었습니다(1001 서버 종료). 다시 연결: True
        닫기 1008 → 서버가 정책 위반으로 ...(1008 느린 구독자). 다시 연결: False
        닫기 1009 → 보낸 메시지가 너무 커서 서버가 닫았습니다(1009). 다시 연결: False
        닫기 없음 → 연결이 끊겼습니다(닫기 프레임 없음). 다시 연결: True
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [클라이언트] ws://127.0.0.1:41234/ws에 연결했습니다. 구독: temperature
        temperature  #1          20.977  지연 437μs
        temperature  #2          20.794  지연 434μs
        temperature  #3          21.195  지연 433μs
        temperature  #4          20.894  지연 392μs
        temperature  #5          20.989  지연 501μs
        [서버] 연결 끝: 127.0.0.1:50000 (클라이언트가 닫음 1000, 지금 0개)
        [클라이언트] 요약: 261.9ms 동안 틱 5개(초당 19.1), 빈틈 0개, 지연 p50 434μs, ...
        [클라이언트] 그 밖에 받은 것: aggregate 1, anomaly 0, metrics 0, dropped 0
        [서버] 종료합니다: 연결 0개에 알리고 1001로 닫습니다
        [서버] 모든 연결을 닫았습니다 (224μs)
    """
    closes = (Close(1001, "서버 종료"), Close(1008, "느린 구독자"), Close(1009, ""))
    for close in (*closes, None):
        closed = ConnectionClosedError(close, None)
        what = f"닫기 {close.code}" if close else "닫기 없음"
        print(f"{what} → {explain_close(closed)} 다시 연결: {should_retry(closed)}")
    config = ServerConfig(port=0, topics=2, rate=20, anomaly_rate=0)
    async with running_server(config) as hub:
        printer = TickPrinter(count=5)
        address = (config.host, config.port)
        await consume(address, ["temperature"], printer.handle, printer.who)
        await wait_until(lambda: not hub.clients)  # 서버의 '연결 끝' 기록을 먼저
        printer.summary()


# =============================================================================
# 15. analytics: 클라이언트 쪽 집계와 탐지를 서버와 비교하는 보고서
# =============================================================================
# 분석 클라이언트는 원값(tick)만 믿고 7절, 8절의 코드로 스스로 집계하고 탐지합니다.
# 그리고 서버가 보낸 aggregate와 anomaly를 자기 결과와 맞춰 봅니다. 같은 틱에서 같은
# 알고리즘으로 계산했으니 집계는 부동소수점 오차 안에서 같아야 합니다. 다르면 어딘가
# (서버, 네트워크, 클라이언트)에 버그가 있다는 뜻입니다.
# 비교하지 않고 건너뛰는 칸: 구독하기 전에 시작한 첫 칸(앞부분 틱을 못 봄)과 빈틈이
# 있었던 칸(버려진 틱). EWMA와 탐지기는 서버가 켜진 뒤의 모든 틱을 기억하므로
# 처음에는 클라이언트와 다릅니다. 탐지기는 예열(3초)이 지나면 대부분 같은 틱을 고릅니다.
# 보고서(--report-every초마다): 처리량, 지연 시간의 백분위수(p50, p95, p99), seq
# 빈틈, 집계 비교, 이상(서버, 클라이언트, 둘 다).


@dataclass
class Analyzer:
    """analytics 모드의 handle과 보고서."""

    who: str = "분석"
    report_every: float = 5.0
    rate: float = DEFAULT_RATE  # welcome에서 받음(탐지기의 반감기를 틱으로 바꿀 때)
    record: TickLog = field(default_factory=TickLog)
    windows: dict[str, list[TumblingWindow]] = field(default_factory=dict)
    detectors: dict[str, EwmaDetector] = field(default_factory=dict)
    partial: set[tuple[str, int, int]] = field(default_factory=set)  # 건너뛸 칸
    waiting: dict[tuple[str, int, int], Event] = field(default_factory=dict)  # 서버 것
    compared: Counter[str] = field(default_factory=Counter)  # 일치, 다름, 건너뜀
    anomalies: Counter[str] = field(default_factory=Counter)  # 서버, 클라이언트, 둘 다
    recent: dict[str, deque[tuple[str, float]]] = field(default_factory=dict)
    period: Counter[str] = field(default_factory=Counter)  # 이번 보고 기간의 틱, 빈틈
    period_started: float = field(default_factory=time.monotonic)

    async def handle(self, event: Event) -> bool:
        match event["type"]:
            case ServerType.WELCOME:  # 새 연결: 칸과 탐지기를 처음부터
                self.rate = float(str(event.get("rate", DEFAULT_RATE)))
                self.record.last.clear()
                self.windows.clear()
                self.detectors.clear()
                self.waiting.clear()
            case ServerType.TICK:
                self.on_tick(event)
            case ServerType.AGGREGATE:  # 내 칸이 닫힐 때 맞춰 봅니다(compare)
                start = int(str(event["start"]))
                key = (str(event["topic"]), int(str(event["window"])), start)
                self.waiting[key] = event
            case ServerType.ANOMALY:
                self.anomaly("서버", str(event["topic"]), float(str(event["ts"])))
        now = time.monotonic()
        if now - self.period_started >= self.report_every:
            self.report(f"{seconds(now - self.period_started)} 동안")
        return False  # 끝은 until_stopped가 정합니다(시간, Ctrl+C)

    def anomaly(self, side: str, topic: str, ts: float) -> None:
        """한쪽이 찾은 이상. 다른 쪽이 같은 틱을 이미 찾았으면 '둘 다'도 셉니다."""
        other = "클라이언트" if side == "서버" else "서버"
        self.anomalies[side] += 1
        self.anomalies["둘 다"] += (topic, ts) in self.recent.get(other, ())
        self.recent.setdefault(side, deque(maxlen=1000)).append((topic, ts))

    def on_tick(self, event: Event) -> None:
        topic, ts = str(event["topic"]), float(str(event["ts"]))
        value = float(str(event["value"]))
        gap = self.record.add(event)
        self.period.update(ticks=1, gaps=gap)
        windows = self.windows.setdefault(topic, [TumblingWindow(s) for s in WINDOWS])
        for window in windows:
            first = window.start is None
            closed = window.add(ts, value)
            if closed is not None:  # 빈틈의 틱은 닫힌 칸에 있었을 수도 있습니다
                self.compare(topic, closed, skip=gap > 0)
            if first or gap:  # 구독 전부터 열린 칸, 빈틈이 있는 칸
                self.partial.add((topic, window.size, window.start or 0))
        detector = self.detectors.setdefault(topic, EwmaDetector(self.rate))
        if detector.update(value)[1]:
            self.anomaly("클라이언트", topic, ts)

    def compare(self, topic: str, mine: WindowStats, *, skip: bool) -> None:
        """방금 닫힌 내 칸을 서버의 aggregate(먼저 와서 기다리던 것)와 맞춰 봅니다.

        서버는 aggregate를 그 칸을 닫는 틱보다 먼저 보냅니다. 그 틱에서야 빈틈(버린
        틱)이 보이므로, 비교는 내 칸이 닫히는 이 자리에서 합니다.
        """
        key = (topic, mine.size, mine.start)
        theirs = self.waiting.pop(key, None)
        if theirs is None or skip or key in self.partial:
            self.compared["건너뜀"] += 1
            self.partial.discard(key)
            return
        values = [float(str(theirs[k])) for k in ("mean", "min", "max", "std", "p95")]
        ours = [mine.mean, mine.low, mine.high, mine.std, mine.p95]
        same = theirs["count"] == mine.count and all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            for a, b in zip(values, ours, strict=True)
        )
        self.compared["일치" if same else "다름"] += 1

    def report(self, title: str) -> None:
        elapsed = max(time.monotonic() - self.period_started, 1e-9)
        ticks, gaps = self.period["ticks"], self.period["gaps"]
        latencies = list(self.record.latencies)[-ticks:] if ticks else []
        p50, p95, p99 = (seconds(percentile(latencies, q)) for q in (0.5, 0.95, 0.99))
        done, found = self.compared, self.anomalies
        lines = (
            f"── {title} ──",
            f"틱 {ticks:,}개(초당 {ticks / elapsed:.1f}), 빈틈 {gaps}개, "
            f"지연 p50 {p50}, p95 {p95}, p99 {p99}",
            f"서버 집계와 비교: 일치 {done['일치']}, 다름 {done['다름']}, "
            f"건너뜀 {done['건너뜀']}(구독 전에 시작한 칸, 빈틈)",
            f"이상: 서버 {found['서버']}개, 클라이언트 {found['클라이언트']}개, "
            f"둘 다 {found['둘 다']}개",
        )
        for line in lines:
            print(f"[{self.who}] {line}")
        self.period.clear()
        self.period_started = time.monotonic()


async def run_analytics(
    address: tuple[str, int],
    topics: list[str] | None,
    report_every: float = 5.0,
    duration: float | None = None,
) -> int:
    """analytics 모드: 주기 보고서, 끝날 때 마지막 보고서."""
    analyzer = Analyzer(report_every=report_every)
    try:
        work = consume(address, topics, analyzer.handle, analyzer.who)
        return await until_stopped(work, analyzer.who, duration)
    finally:
        analyzer.report("끝")


async def demo_15_analytics() -> None:
    """15절: 클라이언트가 스스로 계산한 집계가 서버의 것과 같은지 봅니다.

    예상 출력(숫자는 실행마다 다름):
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [분석] ws://127.0.0.1:41234/ws에 연결했습니다. 구독: temperature, humidity
        [분석] ── 2.00초 동안 ──
        [분석] 틱 199개(초당 99.4), 빈틈 0개, 지연 p50 460μs, p95 627μs, p99 758μs
        [분석] 서버 집계와 비교: 일치 2, 다름 0, 건너뜀 2(구독 전에 시작한 칸, 빈틈)
        [분석] 이상: 서버 0개, 클라이언트 0개, 둘 다 0개
        [분석] ── 2.00초 동안 ──
        [분석] 틱 201개(초당 100.3), 빈틈 0개, 지연 p50 434μs, p95 559μs, p99 708μs
        [분석] 서버 집계와 비교: 일치 6, 다름 0, 건너뜀 2(구독 전에 시작한 칸, 빈틈)
        [분석] 이상: 서버 0개, 클라이언트 0개, 둘 다 0개
        [분석] 5초가 지나 끝냅니다.
        [서버] 연결 끝: 127.0.0.1:50000 (클라이언트가 닫음 1001, 지금 0개)
        [분석] ── 끝 ──
        [분석] 틱 99개(초당 98.3), 빈틈 0개, 지연 p50 522μs, p95 628μs, p99 764μs
        [분석] 서버 집계와 비교: 일치 8, 다름 0, 건너뜀 2(구독 전에 시작한 칸, 빈틈)
        [분석] 이상: 서버 12개, 클라이언트 12개, 둘 다 12개
        [서버] 종료합니다: 연결 0개에 알리고 1001로 닫습니다
        [서버] 모든 연결을 닫았습니다 (314μs)
    """
    config = ServerConfig(port=0, topics=2, rate=50, anomaly_rate=60)  # 이상을 자주
    async with running_server(config) as hub:
        analyzer = Analyzer(report_every=2.0)
        address = (config.host, config.port)
        work = consume(address, None, analyzer.handle, analyzer.who)
        await until_stopped(work, analyzer.who, 5.0, signals=False)
        await wait_until(lambda: not hub.clients)
        analyzer.report("끝")


# =============================================================================
# 16. slow-client: 일부러 느린 소비자로 보는 백프레셔
# =============================================================================
# 메시지 하나를 받을 때마다 --delay초 쉬는 클라이언트입니다. 서버가 보내는 속도보다
# 느리면 무슨 일이 생기는지 받는 쪽에서 봅니다(6절을 반대편에서).
#   1. 처음에는 커널 버퍼와 서버의 쓰기 버퍼가 차이를 삼킵니다(아무 일도 없어 보임).
#   2. 버퍼가 차면 서버가 가장 오래된 것부터 버립니다: seq 빈틈과 dropped 알림.
#      받는 틱은 몇 초 늦지만 더 늦어지지는 않습니다(기다려 주는 대신 버린 덕분).
#   3. 버리기가 2초 넘게 이어지면 서버가 1008(느린 구독자)로 닫습니다. 다시 연결해도
#      같은 결과이므로 다시 연결하지 않고 끝냅니다. 닫기 프레임도 앞에 쌓인 데이터
#      뒤에 줄을 서므로, 느린 클라이언트에게는 몇 초 뒤에 닿습니다.
# 먼 네트워크 너머의 클라이언트처럼 받기 버퍼를 8 KiB로 줄인 소켓을 씁니다(6절의
# clamped_socket). 루프백의 커널은 MiB 단위를 받아 주어 2단계가 한참 늦게 옵니다.
# 서버를 `server --topics 10 --rate 50`(초당 500개)처럼 띄우면 몇 초 안에 봅니다.


@dataclass
class SlowReader:
    """slow-client의 handle: 메시지마다 delay초 쉬고, 1초마다 진행을 보여 줍니다."""

    delay: float
    who: str = "느린 클라이언트"
    record: TickLog = field(default_factory=TickLog)
    reported: int = 0  # 서버가 dropped로 알린 버린 수(total)
    started: float = field(default_factory=time.monotonic)
    shown_at: float = field(default_factory=time.monotonic)

    async def handle(self, event: Event) -> bool:
        if event["type"] == ServerType.WELCOME:
            self.record.last.clear()
            pause = f"메시지 하나마다 {seconds(self.delay)}씩 쉽니다"
            print(f"[{self.who}] {pause}(초당 약 {1 / self.delay:,.0f}개까지 읽음).")
        elif event["type"] == ServerType.TICK:
            self.record.add(event)
        elif event["type"] == ServerType.DROPPED:
            self.reported = int(str(event["total"]))
        now = time.monotonic()
        if now - self.shown_at >= 1.0:
            self.shown_at = now
            self.progress(f"{now - self.started:.0f}초")
        await asyncio.sleep(self.delay)  # 일부러 느리게: 여기서 쉬는 동안 쌓입니다
        return False

    def progress(self, title: str) -> None:
        record, latencies = self.record, self.record.latencies
        late = seconds(latencies[-1]) if latencies else "-"
        counts = f"받은 틱 {record.ticks:,}개, 빈틈 {record.gaps:,}개"
        told = f"알린 버림 {self.reported:,}개"
        print(f"[{self.who}] {title}: {counts}, {told}, 지연 {late}")


async def run_slow_client(
    address: tuple[str, int],
    topics: list[str] | None,
    delay: float = 0.01,
    duration: float | None = None,
) -> int:
    """slow-client 모드."""
    reader = SlowReader(delay)
    try:
        work = consume(address, topics, reader.handle, reader.who, clamp=True)
        return await until_stopped(work, reader.who, duration)
    finally:
        reader.progress("끝")


async def demo_16_slow_client() -> None:
    """16절: 느린 소비자는 버림(빈틈)을 겪다가 1008로 내보내집니다.

    예상 출력(숫자와 진행 줄의 수는 실행마다 다름):
        [서버] 연결: 127.0.0.1:50000 (지금 1개)
        [느린 클라이언트] ws://127.0.0.1:41234/ws에 연결했습니다. 구독: temperature, ...
        [느린 클라이언트] 메시지 하나마다 3.0ms씩 쉽니다(초당 약 333개까지 읽음).
        ...      ← 1초마다 진행: 받은 틱, 빈틈, 서버가 알린 버림, 지금 받는 틱의 지연
        [서버] 느린 구독자를 내보냅니다: 127.0.0.1:50000 (1.1초째 버리는 중, ...)
        [서버] 연결 끝: 127.0.0.1:50000 (느린 구독자(1008), 지금 0개)
        ...
        [느린 클라이언트] 서버가 정책 위반으로 ...(1008 느린 구독자). 끝냅니다.
        [느린 클라이언트] 끝: 받은 틱 1,116개, 빈틈 567개, 알린 버림 192개, 지연 1.77초
        [느린 클라이언트] 종료 코드 1
        [서버] 종료합니다: 연결 0개에 알리고 1001로 닫습니다
        [서버] 모든 연결을 닫았습니다 (197μs)
    """
    # 서버는 초당 800개(4토픽 × 200)를 보내고, 클라이언트는 초당 300개쯤 읽습니다.
    config = ServerConfig(port=0, topics=4, rate=200, queue_size=50, anomaly_rate=0)
    config.saturation_limit = 1.0
    async with running_server(config) as hub:
        reader = SlowReader(delay=0.003)
        address = (config.host, config.port)
        work = consume(address, None, reader.handle, reader.who, clamp=True)
        code = await until_stopped(work, reader.who, 30, signals=False)
        await wait_until(lambda: not hub.clients)
        reader.progress("끝")
        print(f"[{reader.who}] 종료 코드 {code}")


# =============================================================================
# 실행 모드: demo
# =============================================================================

SECTIONS: dict[int, tuple[str, Callable[[], object]]] = {
    1: ("가장 작은 스트리밍 서버", demo_01_tiny_stream),
    2: ("시뮬레이션 신호와 심은 이상", demo_02_signal),
    3: ("프로토콜과 입력 검사", demo_03_protocol),
    4: ("허브: 구독자 명단, seq, 틱 프레임", demo_04_hub),
    5: ("연결 하나의 일생: 검사와 구독 마감", demo_05_walkthrough),
    6: ("구독자마다 한정된 큐와 1008", demo_06_bounded_queues),
    7: ("텀블링 윈도 집계와 Welford", demo_07_windows),
    8: ("이상 탐지: 정밀도와 재현율", demo_08_detection),
    9: ("메트릭: 루프 지연, Prometheus", demo_09_metrics),
    10: ("대시보드 페이지와 CSP", demo_10_dashboard),
    11: ("같은 포트의 HTTP, Origin, 정원", demo_11_http),
    12: ("서버 조립: 틱, 집계, 메트릭", demo_12_assembled),
    13: ("우아한 종료", demo_13_shutdown),
    14: ("client: 틱 보기와 다시 연결 규칙", demo_14_client),
    15: ("analytics: 서버 집계와 비교", demo_15_analytics),
    16: ("slow-client: 느린 소비자", demo_16_slow_client),
}


def heading(number: int, title: str) -> None:
    """절 제목을 출력합니다."""
    print(f"\n── {number}. {title} " + "─" * max(4, 50 - display_width(title)))


def configure_logging(level: str, *, demo: bool = False) -> None:
    """서버 기록: 연결, 끝, 거절, 내보내기마다 한 줄. 데모에서는 출력 사이에."""
    layout = "[서버] %(message)s" if demo else "%(asctime)s [서버] %(message)s"
    stream = sys.stdout if demo else sys.stderr
    logging.basicConfig(
        stream=stream, format=layout, datefmt="%H:%M:%S", level=level, force=True
    )
    # 라이브러리의 영어 INFO 기록("connection open" 등)은 끕니다.
    logging.getLogger("websockets").setLevel(logging.WARNING)


def run_demo(section: str) -> int:
    """demo 모드: 한 절 또는 전체(all)를 실행합니다."""
    configure_logging("INFO", demo=True)
    numbers = list(SECTIONS) if section == "all" else [int(section)]
    start = time.perf_counter()
    for number in numbers:
        title, demo = SECTIONS[number]
        heading(number, title)
        result = demo()
        if asyncio.iscoroutine(result):  # async def 데모는 이벤트 루프를 새로 띄워 실행
            asyncio.run(result)
    if len(numbers) > 1:
        took = seconds(time.perf_counter() - start)
        print(f"\n{len(numbers)}개 절을 {took}에 마쳤습니다.")
    return 0


# =============================================================================
# 명령줄(CLI)과 메뉴: 모든 레슨 파일이 같은 모양을 씁니다
# =============================================================================

ARGPARSE_KOREAN = (  # argparse의 영어 오류 문구 → 한국어
    (
        r"invalid choice: (.+?) \(choose from (.+)\)",
        r"\1은(는) 고를 수 없습니다 (가능한 값: \2)",
    ),
    (r"unrecognized arguments: (.+)", r"알 수 없는 인자: \1"),
    (r"the following arguments are required: (.+)", r"다음 인자가 필요합니다: \1"),
    (r"expected one argument", "값이 하나 필요합니다"),
    (r"^argument (\S+): ", r"\1: "),
)


class KoreanArgumentParser(argparse.ArgumentParser):
    """도움말과 오류를 한국어로 보여 주는 ArgumentParser."""

    # Any: add_parser()가 넘기는 argparse 인자를 그대로 전달합니다.
    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(add_help=False, **kwargs)
        self._positionals.title = "위치 인자"
        self._optionals.title = "옵션"
        self.add_argument(
            "-h", "--help", action="help", help="이 도움말을 보여 주고 끝냅니다"
        )

    def format_usage(self) -> str:
        return super().format_usage().replace("usage:", "사용법:", 1)

    def format_help(self) -> str:
        return super().format_help().replace("usage:", "사용법:", 1)

    def error(self, message: str) -> NoReturn:
        for pattern, korean in ARGPARSE_KOREAN:
            message = re.sub(pattern, korean, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"오류: {message}\n도움말: {self.prog} --help\n")


def section_choice(value: str) -> str:
    """demo의 절 번호를 검사합니다(허용 목록: 1~15, all)."""
    value = value.strip().lower()
    if value == "all" or (value.isdecimal() and int(value) in SECTIONS):
        return value
    raise argparse.ArgumentTypeError(
        f"'{value}'은(는) 없는 절입니다. 1~{len(SECTIONS)} 또는 all"
    )


def bounded(
    kind: Callable[[str], float], high: float, *, zero: bool = False
) -> Callable[[str], float]:
    """0보다 크고(zero면 0 이상) high 이하인 수만 받는 argparse 타입(int 또는 float).

    >>> bounded(float, 10)("0.5"), bounded(int, 10, zero=True)("0")
    (0.5, 0)
    """

    def check(value: str) -> float:
        with contextlib.suppress(ValueError):
            number = kind(value)
            above = number >= 0 if zero else number > 0  # nan은 어떤 비교도 거짓
            if above and number <= high:
                return number
        what = f"{'0 이상' if zero else '0보다 크고'} {high:,.10g} 이하인 수"
        raise argparse.ArgumentTypeError(f"'{value}'은(는) {what}가 아닙니다")

    return check


def port_choice(value: str) -> int:
    """--port: 1~65535."""
    if not value.isdecimal() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(
            f"'{value}'은(는) 포트 번호(1~65535)가 아닙니다"
        )
    return int(value)


def origin_choice(value: str) -> str:
    """--allow-origin: 'http(s)://호스트[:포트]' 모양만(경로, 끝의 / 없이)."""
    if not re.fullmatch(r"https?://[^/\s]+", value):
        example = "예: http://192.168.0.10:8765 (경로와 끝의 / 없이)"
        raise argparse.ArgumentTypeError(f"'{value}'은(는) 출처가 아닙니다. {example}")
    return value


def topics_choice(value: str) -> list[str]:
    """--subscribe: 쉼표로 구분한 토픽 이름(영문 소문자와 숫자).

    >>> topics_choice("temperature, humidity")
    ['temperature', 'humidity']
    """
    names = [name.strip() for name in value.split(",") if name.strip()]
    if names and all(re.fullmatch(r"[a-z0-9]{1,32}", name) for name in names):
        return names
    example = "예: temperature,humidity"
    raise argparse.ArgumentTypeError(f"'{value}'은(는) 토픽 목록이 아닙니다. {example}")


# 옵션 하나: (플래그, 타입, 기본값, 설명). 기본값이 None이면 도움말에 적지 않습니다.
Option = tuple[str, Callable[[str], float], float | None, str]
SERVER_OPTIONS: tuple[Option, ...] = (
    ("--topics", bounded(int, MAX_TOPICS), DEFAULT_TOPICS, "토픽 수"),
    ("--rate", bounded(float, MAX_RATE), DEFAULT_RATE, "토픽마다 초당 틱 수"),
    ("--seed", bounded(int, 2**31, zero=True), DEFAULT_SEED, "신호의 난수 시드"),
    ("--anomaly-rate", bounded(float, 600, zero=True), DEFAULT_ANOMALY_RATE,
     "토픽마다 1분에 심는 이상"),
    ("--max-clients", bounded(int, 100_000), DEFAULT_MAX_CLIENTS, "동시 연결 상한"),
    ("--queue-size", bounded(int, 100_000), QUEUE_SIZE, "구독자마다 큐 길이"),
    ("--saturation-limit", bounded(float, 600), SATURATION_LIMIT,
     "버리기가 이만큼(초) 이어지면 1008"),
    ("--subscribe-timeout", bounded(float, 3600), SUBSCRIBE_TIMEOUT, "구독 마감(초)"),
    ("--ping-interval", bounded(float, 3600), PING_INTERVAL, "ping 간격(초)"),
    ("--ping-timeout", bounded(float, 3600), PING_TIMEOUT, "pong 시간제한(초)"),
)  # fmt: skip
CLIENT_MODES: dict[str, tuple[str, str, list[Option]]] = {  # 설명, 예시, 옵션
    "client": ("틱을 한 줄씩 보여 주는 클라이언트", "--count 20", [
        ("--count", bounded(int, 10**9), None, "틱 N개를 받으면 끝냅니다"),
    ]),
    "analytics": ("스스로 집계·탐지해 서버와 견주는 클라이언트", "--report-every 2", [
        ("--report-every", bounded(float, 3600), 5.0, "보고 간격(초)"),
    ]),
    "slow-client": ("일부러 느리게 읽는 클라이언트(백프레셔 관찰)", "--delay 0.01", [
        ("--delay", bounded(float, 10), 0.01, "메시지 하나마다 쉬는 시간(초)"),
    ]),
}  # fmt: skip


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for flag, kind, default, text in options:
        shown = "" if default is None else f" (기본: {default:g})"
        parser.add_argument(
            flag, type=kind, default=default, metavar="N", help=text + shown
        )


def add_address_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--host/--port: 기본값은 환경 변수 HOST/PORT가 있으면 그 값."""
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", DEFAULT_HOST),
        help=f"{what} (기본: {DEFAULT_HOST}, 환경 변수 HOST)",
    )
    parser.add_argument(
        "--port",
        type=port_choice,
        default=os.environ.get("PORT", str(DEFAULT_PORT)),  # 문자열 기본값도 검사됨
        help=f"포트 (기본: {DEFAULT_PORT}, 환경 변수 PORT)",
    )


def build_parser() -> KoreanArgumentParser:
    """모드마다 하위 명령(subcommand)을 둔 파서를 만듭니다."""
    parser = KoreanArgumentParser(
        prog=PROG,
        description=(
            "04. 고급 WebSocket: 실시간 스트리밍, 집계, 이상 탐지, 서버 메트릭.\n"
            "인자 없이 실행하면 메뉴가 나옵니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                          # 메뉴\n"
            f"  {PROG} server                   # 터미널 1: 서버\n"
            f"  {PROG} client                   # 터미널 2: 틱 보기\n"
            f"  {PROG} analytics                # 서버 집계와 비교\n"
            f"  {PROG} slow-client              # 느린 소비자\n"
            f"  {PROG} demo 6                   # 6절만 실행\n"
            f"  {PROG} demo all                 # 1~{len(SECTIONS)}절 전부\n"
        ),
    )
    modes = parser.add_subparsers(
        dest="mode", metavar="모드", help="실행할 모드 (아래 중 하나)"
    )
    server = modes.add_parser(
        "server",
        help="스트리밍 서버를 실행합니다",
        description="스트리밍 서버. 브라우저로 http://HOST:PORT/ 를 열면 대시보드.",
        epilog=(
            "예시:\n"
            f"  {PROG} server\n"
            f"  {PROG} server --topics 10 --rate 10 --port 9000\n"
            f"  {PROG} server --host 0.0.0.0 --allow-origin http://192.168.0.10:8765"
        ),
    )
    add_address_options(server, "들을 주소, 모두에게 열려면 0.0.0.0")
    add_options(server, SERVER_OPTIONS)
    server.add_argument(
        "--allow-origin",
        type=origin_choice,
        action="append",
        default=[],
        dest="allow_origins",
        metavar="ORIGIN",
        help="더 허용할 브라우저 출처 (여러 번 쓸 수 있음)",
    )
    server.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING"],
        default="INFO",
        help="기록 수준 (기본: INFO)",
    )
    for mode, (text, example, options) in CLIENT_MODES.items():
        sub = modes.add_parser(
            mode,
            help=text,
            description=f"{text}. Ctrl+C로 끝내면 요약을 보여 줍니다.",
            epilog=(
                "예시:\n"
                f"  {PROG} {mode}\n"
                f"  {PROG} {mode} --subscribe temperature,humidity {example}\n"
                f"  {PROG} {mode} --port 9000 --duration 30"
            ),
        )
        add_address_options(sub, "서버 주소")
        sub.add_argument(
            "--subscribe",
            type=topics_choice,
            metavar="TOPICS",
            help="구독할 토픽, 쉼표로 구분 (기본: 서버의 모든 토픽)",
        )
        duration = ("--duration", bounded(float, 86_400), None, "이만큼(초) 뒤에 끝냄")
        add_options(sub, [duration, *options])
    demo = modes.add_parser(
        "demo",
        help=f"절을 골라 예제를 실행합니다 (1~{len(SECTIONS)} 또는 all)",
        description="절 번호를 주면 그 절만, all이면 전부 실행합니다.\n\n"
        + "\n".join(f"  {n:>2}. {title}" for n, (title, _) in SECTIONS.items()),
        epilog=f"예시:\n  {PROG} demo all\n  {PROG} demo 6",
    )
    demo.add_argument(
        "section",
        nargs="?",
        default="all",
        type=section_choice,
        help=f"절 번호 1~{len(SECTIONS)} 또는 all (기본: all)",
    )
    return parser


def server_config(args: argparse.Namespace) -> ServerConfig:
    """명령줄 인자 → ServerConfig."""
    names = {f.name for f in fields(ServerConfig)}  # --queue-size → queue_size ...
    options = {key: value for key, value in vars(args).items() if key in names}
    return ServerConfig(**options | {"allow_origins": tuple(args.allow_origins)})


def run_mode(args: argparse.Namespace) -> int:
    """하위 명령을 실행합니다."""
    if args.mode == "server":
        configure_logging(args.log_level)
        return run_server(server_config(args))
    if args.mode == "demo":
        return run_demo(args.section)
    address, topics = (args.host, args.port), args.subscribe
    if args.mode == "client":
        return asyncio.run(run_client(address, topics, args.count, args.duration))
    if args.mode == "analytics":
        every = args.report_every
        return asyncio.run(run_analytics(address, topics, every, args.duration))
    if args.mode == "slow-client":
        work = run_slow_client(address, topics, args.delay, args.duration)
        return asyncio.run(work)
    raise AssertionError(f"모르는 모드: {args.mode}")


def ask(prompt: str) -> str:
    """input()과 같되, 프롬프트를 쓴 직후에 온 Ctrl+C도 놓치지 않습니다.

    input()은 프롬프트를 쓰고 나서 읽기 시작하기 전까지 C 코드 안에 머뭅니다.
    그 틈에 SIGINT가 오면 KeyboardInterrupt가 나지 않고 읽기에서 멈춥니다.
    print()가 끝나는 시점에는 파이썬이 신호를 확인하므로 그 틈이 거의 없습니다.
    """
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError  # 입력이 닫힘(파이프가 끝남, Ctrl+D)
    return line.rstrip("\n")


def run_menu(parser: KoreanArgumentParser) -> int:
    """인자 없이 실행했을 때의 번호 메뉴. 각 항목은 하위 명령 하나와 같습니다."""
    entries = {str(n): (title, ["demo", str(n)]) for n, (title, _) in SECTIONS.items()}
    entries["a"] = (f"전체 실행 (1~{len(SECTIONS)}절)", ["demo", "all"])
    entries["s"] = ("스트리밍 서버 (터미널 1, Ctrl+C로 메뉴로)", ["server"])
    entries["c"] = ("클라이언트 (터미널 2, Ctrl+C로 메뉴로)", ["client"])
    entries["n"] = ("분석 클라이언트 (Ctrl+C로 메뉴로)", ["analytics"])
    entries["w"] = ("느린 클라이언트 (Ctrl+C로 메뉴로)", ["slow-client"])
    while True:
        print("\n04. 고급 WebSocket ─ 메뉴")
        for key, (title, argv) in entries.items():
            print(f"  {key:>2}. {pad(title, 44)}({' '.join(argv)})")
        print("   q. 종료 (0 또는 빈 줄도 종료)")
        try:
            choice = ask("번호를 고르세요 > ").strip().lower()
        except EOFError:  # 입력이 닫힘(파이프가 끝남, Ctrl+D)
            print("\n입력이 끝나 종료합니다.")
            return 0
        if choice in ("", "0", "q"):
            print("종료합니다.")
            return 0
        if choice not in entries:
            letters = ", ".join(key for key in entries if not key.isdecimal())
            print(f"'{choice}'은(는) 메뉴에 없습니다. ", end="")
            print(f"1~{len(SECTIONS)}, {letters}, q 중에서 골라 주세요.")
            continue
        run_mode(parser.parse_args(entries[choice][1]))


def main(argv: list[str] | None = None) -> int:
    """진입점: 인자가 없으면 메뉴, 있으면 그 모드를 실행합니다."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.mode is None:
            return run_menu(parser)
        return run_mode(args)
    except KeyboardInterrupt:
        print("\nCtrl+C로 중단했습니다.", file=sys.stderr)
        # 중간에 끊겨 정리되지 못한 객체(시작 전의 코루틴, 만들다 만 이벤트 루프)가
        # 종료 중에 내는 경고와 'Exception ignored' 메시지는 이미 멈추기로 한
        # 프로그램의 잔해일 뿐이므로 끕니다. 화면에는 한국어 한 줄만 남습니다.
        warnings.simplefilter("ignore")
        sys.unraisablehook = lambda _unraisable: None
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        return 130  # 셸 관례: 128 + SIGINT(2)
    except BrokenPipeError:  # `| head`처럼 출력을 읽던 쪽이 먼저 끝났습니다
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
