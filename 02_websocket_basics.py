"""02. WebSocket 기초: 에코 서버부터 브로드캐스트, keepalive, 재연결까지

학습 목표
    1. HTTP 업그레이드 핸드셰이크를 실제 헤더로 보고, 프레임과 종료 코드를 읽습니다.
    2. 인자 하나짜리 핸들러로 serve()하고, connect()로 메시지를 주고받습니다.
    3. 열린 연결을 등록부에 모으고, 정상·비정상 종료를 구분해 finally에서 정리합니다.
    4. broadcast()와 gather(send)를 재어 보고, 백프레셔와 느린 클라이언트를 이해합니다.
    5. ping으로 왕복 시간을 재고, 1011 keepalive ping timeout의 원인을 봅니다.
    6. max_size, origins, open_timeout, 이진 프레임 거절, /healthz로 서버를 지킵니다.
    7. Ctrl+C와 SIGTERM에 1001로 우아하게 닫고, 재시작하는 서버에 다시 연결합니다.

핵심 개념
    - WebSocket은 HTTP 요청 하나로 시작해(101 Switching Protocols) 같은 TCP 연결
      위에서 양쪽이 아무 때나 메시지를 보내는 프로토콜입니다.
    - websockets의 새 asyncio 구현(websockets.asyncio)을 씁니다. 인터넷의 많은 예제가
      쓰는 WebSocketServerProtocol과 (websocket, path) 핸들러는 폐기 예정입니다.
    - send()는 await입니다. 받는 쪽이 느리면 send()가 기다립니다(백프레셔).
      broadcast()는 기다리지 않는 대신, 느린 연결의 버퍼가 끝없이 커질 수 있습니다.
    - 서버는 잘못된 입력(너무 큰 메시지, 이진 프레임, 낯선 Origin, 없는 경로)에
      종료 코드나 HTTP 상태로 답하고 계속 동작합니다.

실행 방법
    python 02_websocket_basics.py                          # 메뉴
    python 02_websocket_basics.py server                   # 터미널 1: 서버
    python 02_websocket_basics.py client                   # 터미널 2: 대화형
    python 02_websocket_basics.py client --path /broadcast # 브로드캐스트 방
    python 02_websocket_basics.py client --message 안녕     # 보내고 답을 받고 끝냄
    python 02_websocket_basics.py demo 4                   # 4절만 실행
    python 02_websocket_basics.py demo all                 # 1~7절 전부(약 5초)
    python 02_websocket_basics.py bench                    # 처리량과 지연 시간(약 15초)
    python 02_websocket_basics.py --help

필요 패키지
    websockets>=17.1 (pip install -r requirements.txt, 17.1과 17.4에서 확인했습니다).
    Python 3.11 이상이 필요합니다.

참고
    https://websockets.readthedocs.io/en/stable/
    https://datatracker.ietf.org/doc/html/rfc6455  (WebSocket 프로토콜)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import errno
import functools
import hashlib
import http
import itertools
import logging
import multiprocessing
import os
import random
import re
import signal
import socket
import statistics
import sys
import threading
import time
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from multiprocessing.connection import Connection
from typing import Any, NoReturn
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.client import process_exception
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.typing import Data, Origin

PROG = "python 02_websocket_basics.py"  # 도움말과 안내문에 보이는 실행 명령
DEFAULT_HOST = "127.0.0.1"  # 루프백: 이 컴퓨터에서만 접속 가능
DEFAULT_PORT = 8765  # websockets 문서의 예제들이 쓰는 포트
PATHS = ("/echo", "/broadcast")  # WebSocket으로 여는 경로. 나머지는 404
HEALTH_PATH = "/healthz"  # 같은 포트에서 평범한 HTTP로 답하는 상태 확인 경로
MAX_SIZE = 64 * 1024  # 받는 메시지 하나의 상한(바이트). 넘으면 1009로 닫음
OPEN_TIMEOUT = 10.0  # TCP 연결 뒤 핸드셰이크를 끝내야 하는 시간제한(초)
PING_INTERVAL = 20.0  # keepalive ping 간격(초)
PING_TIMEOUT = 20.0  # pong을 기다리는 시간제한(초). 넘으면 1011로 끊음
CLOSE_TIMEOUT = 3.0  # 종료 핸드셰이크의 시간제한(초). Ctrl+C가 빨리 끝나게
COMPRESSION = "deflate"  # permessage-deflate: 대역폭은 줄고 메모리와 CPU는 늘어남
SLOW_CLIENT_LIMIT = 1024 * 1024  # 쓰기 버퍼가 이보다 크면 느린 클라이언트로 끊음
ALLOWED_ORIGINS: list[Origin | re.Pattern[str] | None] = [  # Origin 허용 목록
    None,  # Origin 헤더가 없는 클라이언트(Python, Node, curl: 브라우저가 아님)
    re.compile(r"https?://(localhost|127\.0\.0\.1)(:\d+)?"),  # 이 컴퓨터의 페이지
]
CLIENT_PATIENCE = 30.0  # client --message가 답을 기다리다 포기하는 시간(초)
QUIT_COMMAND = "/quit"  # 대화형 클라이언트를 끝내는 입력
PING_COMMAND = "/ping"  # 대화형 클라이언트에서 왕복 시간을 재는 입력


def seconds(value: float) -> str:
    """걸린 시간을 사람이 읽기 좋게: 1ms 미만은 μs, 1초 미만은 ms, 그 이상은 초.

    >>> seconds(0.000042), seconds(0.0123), seconds(1.5)
    ('42μs', '12.3ms', '1.50초')
    """
    if value < 0.001:
        return f"{value * 1_000_000:.0f}μs"
    return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}초"


def display_width(text: str) -> int:
    """터미널에서 차지하는 칸 수(한글 등 전각 문자는 2칸).

    >>> display_width("성공"), display_width("ok")
    (4, 2)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """전각 문자를 고려해 왼쪽 정렬합니다."""
    return text + " " * max(0, width - display_width(text))


def heading(number: int, title: str) -> None:
    """절 제목을 출력합니다."""
    print(f"\n── {number}. {title} " + "─" * max(4, 64 - display_width(title)))


def row(first: str, *cells: str) -> str:
    """표의 한 줄: 첫 칸은 20칸, 나머지는 18칸씩 왼쪽 정렬."""
    return pad(first, 20) + "".join(pad(cell, 18) for cell in cells).rstrip()


def shown(message: Data) -> str:
    """받은 메시지를 화면용으로: 텍스트는 그대로, 이진은 크기만.

    >>> shown("안녕"), shown(b"\\x00\\xff")
    ('안녕', '(이진 2바이트)')
    """
    return message if isinstance(message, str) else f"(이진 {len(message)}바이트)"


def server_log(line: str) -> None:
    """핸들러의 [서버] 한 줄. 출력을 읽던 쪽(`| head`)이 먼저 끝나도 계속 돕니다."""
    try:
        print(f"[서버] {line}")
    except BrokenPipeError:  # main()과 같은 처리: 이후 출력은 버립니다
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def host_port(host: str, port: int) -> str:
    """주소에 쓰는 '호스트:포트'. IPv6 주소는 대괄호로 감쌉니다.

    >>> host_port("127.0.0.1", 8765), host_port("::1", 8765)
    ('127.0.0.1:8765', '[::1]:8765')
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def peer(websocket: ServerConnection | ClientConnection) -> str:
    """연결 상대의 주소를 '호스트:포트'로 돌려줍니다."""
    return host_port(*websocket.remote_address[:2])


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """condition()이 참이 될 때까지 기다립니다(데모와 bench에서 서버 쪽 상태를 봄)."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110  여러 곳에서 바뀌는 상태라 확인이 단순
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(server: Server) -> AsyncIterator[str]:
    """데모용: 서버를 띄우고 'ws://호스트:포트'를 넘겨준 뒤, 블록이 끝나면 닫습니다."""
    async with server:
        host, port = server.sockets[0].getsockname()[:2]
        yield f"ws://{host}:{port}"


# =============================================================================
# 1. WebSocket이란: 핸드셰이크, 프레임, 종료 코드
# =============================================================================
# WebSocket 연결은 평범한 HTTP GET 요청으로 시작합니다. 클라이언트가
# "Upgrade: websocket"과 무작위 키(Sec-WebSocket-Key)를 보내면, 서버는
# 101 Switching Protocols와 그 키로 계산한 Sec-WebSocket-Accept를 돌려줍니다.
# 이 계산으로 클라이언트는 상대가 WebSocket을 정말 이해하는 서버임을 확인합니다.
# 그 뒤 같은 TCP 연결에서는 HTTP가 아니라 프레임(frame)이 오갑니다.
# - 첫 바이트: FIN 비트 + 종류(opcode). 0x81은 마지막 조각인 텍스트(1), 0x82는
#   이진(2)입니다. 그 밖에 close(8), ping(9), pong(10)이 있습니다.
# - 둘째 바이트: 마스크 비트 + 길이. 클라이언트가 보내는 프레임은 반드시 4바이트
#   키로 마스킹(XOR)합니다. 중간 프록시의 캐시를 속이는 공격을 막기 위해서입니다.
# - 텍스트 프레임은 UTF-8이어야 하며 Python에서 str로, 이진 프레임은 bytes로 받습니다.
# 닫을 때는 종료 코드(close code)와 짧은 이유를 담은 close 프레임을 주고받습니다.

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455가 정한 고정 문자열

CLOSE_MEANINGS: dict[int, str] = {
    CloseCode.NORMAL_CLOSURE: "정상 종료",
    CloseCode.GOING_AWAY: "떠남(서버 종료, 페이지 이동)",
    CloseCode.PROTOCOL_ERROR: "프로토콜 오류",
    CloseCode.UNSUPPORTED_DATA: "받을 수 없는 종류(예: 이진 프레임)",
    CloseCode.NO_STATUS_RCVD: "코드 없이 닫음(예: 브라우저의 close(), 정상)",
    CloseCode.ABNORMAL_CLOSURE: "인사 없이 끊김(보내지 않는 기록용 번호)",
    CloseCode.INVALID_DATA: "잘못된 데이터(예: UTF-8이 아닌 텍스트)",
    CloseCode.POLICY_VIOLATION: "정책 위반",
    CloseCode.MESSAGE_TOO_BIG: "메시지가 너무 큼",
    CloseCode.INTERNAL_ERROR: "서버 오류 또는 keepalive 시간 초과",
    CloseCode.SERVICE_RESTART: "서버 재시작",
}


def accept_key(key: str) -> str:
    """Sec-WebSocket-Key로 Sec-WebSocket-Accept를 계산합니다(RFC 6455의 예).

    >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    """
    digest = hashlib.sha1((key + WS_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def close_text(code: int | None, reason: str | None = "") -> str:
    """종료 코드와 이유를 한국어 설명과 함께 한 줄로.

    >>> close_text(1009, "frame exceeds limit")
    "1009 메시지가 너무 큼, 이유 'frame exceeds limit'"
    >>> close_text(1000)
    '1000 정상 종료'
    """
    if code is None:
        return "아직 열려 있음"
    text = f"{code} {CLOSE_MEANINGS.get(code, '알 수 없는 코드')}"
    return f"{text}, 이유 {reason!r}" if reason else text


async def show_handshake(uri: str) -> None:
    """실제 연결의 업그레이드 요청·응답 헤더를 출력하고 Accept 값을 검산합니다."""
    async with connect(uri) as websocket:
        request, response = websocket.request, websocket.response
        if request is None or response is None:  # 연결된 뒤에는 둘 다 있습니다
            return
        print(f"[클라이언트] 보낸 요청:\n  GET {request.path} HTTP/1.1")
        for name, value in request.headers.raw_items():
            print(f"  {name}: {value}")
        print("[클라이언트] 받은 응답:")
        print(f"  HTTP/1.1 {response.status_code} {response.reason_phrase}")
        for name, value in response.headers.raw_items():
            print(f"  {name}: {value}")
        expected = accept_key(request.headers["Sec-WebSocket-Key"])
        same = expected == response.headers["Sec-WebSocket-Accept"]
        print(f"Accept 검산: base64(SHA-1(키 + GUID)) = {expected} → 일치: {same}")


async def demo_01_what_is_websocket() -> None:
    """1절: 살아 있는 연결의 핸드셰이크, 프레임의 바이트, 종료 코드.

    예상 출력(키, 포트, 날짜는 실행마다 다름):
        [클라이언트] 보낸 요청:
          GET /echo HTTP/1.1
          Upgrade: websocket
          Sec-WebSocket-Key: 9xg4n2S0CfyA3EaRbWlqWw==  (그 밖의 헤더는 줄임)
        [클라이언트] 받은 응답:
          HTTP/1.1 101 Switching Protocols
          ...
        Accept 검산: base64(SHA-1(키 + GUID)) = 1vDlQ6...= → 일치: True
        프레임 바이트(16진수):
          텍스트 '안녕', 서버가 보냄      81 06 ec 95 88 eb 85 95
          ...
        종료 코드(CloseCode):
          1000 정상 종료
          ...
    """
    heading(1, "WebSocket이란: 핸드셰이크, 프레임, 종료 코드")
    async with running(lesson_server(Registry())) as base:  # 3절에서 조립
        await show_handshake(f"{base}/echo")
    print("프레임 바이트(16진수):")
    for label, opcode, payload, mask in (
        ("텍스트 '안녕', 서버가 보냄     ", Opcode.TEXT, "안녕".encode(), False),
        ("텍스트 '안녕', 클라이언트가 보냄", Opcode.TEXT, "안녕".encode(), True),
        ("이진 00 ff, 서버가 보냄        ", Opcode.BINARY, bytes([0, 255]), False),
    ):
        print(f"  {label} {Frame(opcode, payload).serialize(mask=mask).hex(' ')}")
    print("  (81 = FIN + 텍스트, 82 = FIN + 이진, 86 = 마스크 비트 + 길이 6,")
    print("   그 뒤 4바이트는 마스킹 키: 내용은 보낼 때마다 다른 바이트가 됩니다)")
    print("종료 코드(CloseCode):")
    for code in CLOSE_MEANINGS:
        print(f"  {close_text(code)}")


# =============================================================================
# 2. 에코 서버와 클라이언트
# =============================================================================
# 서버: serve(핸들러, 호스트, 포트). 연결 하나마다 핸들러가 태스크로 실행됩니다.
# 핸들러는 인자를 하나(연결 객체)만 받습니다. 경로는 websocket.request.path에 있습니다.
# 받기는 `async for message in websocket`이 가장 간단합니다. 상대가 정상적으로
# 닫으면(1000, 1001) 반복이 조용히 끝나고, 그 밖의 종료는 예외로 알려 줍니다(3절).
# 클라이언트: `async with connect(uri) as websocket`. 블록을 나가면 1000으로 닫습니다.
# 이 파일의 서버는 텍스트만 받습니다. 이진 프레임이 오면 1003으로 닫습니다(6절).
# 경고: 핸들러 밖으로 나간 예외는 websockets가 "connection handler failed"와
#       트레이스백으로 기록합니다. 그래서 데모도 3절의 handle_client(예외를 잡고
#       기록함)를 거쳐 echo()를 부르는 서버, lesson_server()로 돌립니다.


async def text_messages(websocket: ServerConnection) -> AsyncIterator[str]:
    """텍스트 메시지만 하나씩 내줍니다. 이진 프레임이 오면 1003으로 닫고 끝냅니다."""
    async for message in websocket:
        if isinstance(message, bytes):
            await websocket.close(CloseCode.UNSUPPORTED_DATA, "텍스트만 받습니다")
            return
        yield message


async def echo(websocket: ServerConnection) -> None:
    """에코 핸들러: 받은 텍스트를 그대로 돌려줍니다."""
    async for message in text_messages(websocket):
        await websocket.send(message)  # await 필수: 보낼 자리가 날 때까지 기다림


async def exchange(uri: str, messages: Iterable[str]) -> list[str]:
    """클라이언트: 메시지를 하나씩 보내고 답을 받아 출력합니다."""
    replies = []
    async with connect(uri) as websocket:
        for message in messages:
            await websocket.send(message)
            print(f"[클라이언트] >>> {message}")
            replies.append(shown(await websocket.recv()))
            print(f"[클라이언트] <<< {replies[-1]}")
    return replies


async def demo_02_echo() -> None:
    """2절: serve()와 인자 하나짜리 핸들러, connect()와 async with.

    예상 출력:
        [서버] ws://127.0.0.1:39721 에서 기다립니다 (/echo → echo)
        [서버] 입장 127.0.0.1:50102 → /echo (지금 연결 1개)
        [클라이언트] >>> 안녕하세요
        [클라이언트] <<< 안녕하세요
        ... (두 번 더)
        [서버] 퇴장 127.0.0.1:50102 ← /echo: 1000 정상 종료 (ConnectionClosedOK, ...)
        왕복 3번, 보낸 것과 받은 것이 같음: True (2.5ms)
    """
    heading(2, "에코 서버와 클라이언트")
    async with running(lesson_server(Registry())) as base:  # /echo → echo()
        print(f"[서버] {base} 에서 기다립니다 (/echo → echo)")
        sent = ["안녕하세요", "WebSocket은 양방향입니다", "세 번째"]
        start = time.perf_counter()
        received = await exchange(f"{base}/echo", sent)
        elapsed = seconds(time.perf_counter() - start)
    same = received == sent
    print(f"왕복 {len(received)}번, 보낸 것과 받은 것이 같음: {same} ({elapsed})")


# =============================================================================
# 3. 연결 관리: 등록부, 입장과 퇴장, 정리
# =============================================================================
# 서버는 "지금 누가 연결되어 있는지"를 알아야 브로드캐스트도 하고 인원도 셉니다.
# 연결이 열리면 등록부(registry)에 넣고, 어떻게 끝나든 finally에서 뺍니다.
# 끝나는 방식은 두 예외로 구분됩니다.
# - ConnectionClosedOK: 상대가 1000, 1001 또는 코드 없이(1005) 인사하고 닫음
# - ConnectionClosedError: 그 밖의 코드, 또는 close 프레임 없이 끊김(1006:
#   프로세스가 죽거나, 네트워크가 끊기거나, 상대가 TCP를 그냥 닫은 경우)
# 닫힌 뒤에는 websocket.close_code와 close_reason으로 무엇을 받았는지 봅니다.
# 핸들러는 인자를 하나만 받으므로 서버의 상태(등록부)는 functools.partial로 묶습니다.
# 참고: server.connections도 열린 연결을 모두 알려 주지만, 경로(방)별로 나누고
#       입장과 퇴장을 기록하려고 등록부를 직접 둡니다.


class Registry:
    """경로(방)별로 열린 연결을 모아 둡니다. 서버 하나에 하나씩 둡니다."""

    def __init__(self) -> None:
        self.rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)

    def join(self, path: str, websocket: ServerConnection) -> set[ServerConnection]:
        """연결을 방에 넣고 그 방(같은 경로의 연결들)을 돌려줍니다."""
        room = self.rooms[path]
        room.add(websocket)
        return room

    def leave(self, path: str, websocket: ServerConnection) -> None:
        self.rooms[path].discard(websocket)

    def __len__(self) -> int:
        return sum(len(room) for room in self.rooms.values())


def route(path: str) -> str:
    """요청 경로에서 쿼리 문자열(?...)을 뗍니다.

    >>> route("/echo?name=a")
    '/echo'
    """
    return urlsplit(path).path


async def handle_client(websocket: ServerConnection, registry: Registry) -> None:
    """연결 하나를 처리합니다: 등록, 경로별 처리, 퇴장 기록과 정리."""
    request = websocket.request  # 핸드셰이크를 마친 연결에는 늘 있습니다
    path, who = route(request.path if request else "/"), peer(websocket)
    room = registry.join(path, websocket)
    server_log(f"입장 {who} → {path} (지금 연결 {len(registry)}개)")
    ending = ""
    try:
        if path == "/echo":
            await echo(websocket)
        else:
            await relay_to_room(websocket, room)  # 4절
    except ConnectionClosedOK:  # 보내는 도중에 상대가 1000/1001로 닫음
        pass
    except ConnectionClosedError as exc:  # 오류 코드, 시간 초과, 인사 없이 끊김
        if exc.rcvd is None and exc.sent is not None:  # 서버가 오류로 먼저 닫음
            ending = f"서버가 보낸 {close_text(exc.sent.code, exc.sent.reason)}"
    finally:
        registry.leave(path, websocket)  # 어떻게 끝나든 반드시 뺍니다
        code = websocket.close_code
        ending = ending or close_text(code, websocket.close_reason)
        kind = "OK" if code in (1000, 1001, 1005) else "Error"  # 라이브러리의 기준
        server_log(
            f"퇴장 {who} ← {path}: {ending} "
            f"(ConnectionClosed{kind}, 남은 연결 {len(registry)}개)"
        )


def lesson_server(
    registry: Registry,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    open_timeout: float = OPEN_TIMEOUT,  # 데모는 시간 설정을 줄여서 씁니다
    ping_interval: float = PING_INTERVAL,
    ping_timeout: float = PING_TIMEOUT,
) -> Server:
    """이 레슨의 서버 설정을 모읍니다(server 모드, 데모, bench가 함께 씀).

    한계와 보안은 6절, keepalive는 5절, 종료는 7절에서 설명합니다.
    """
    return serve(
        functools.partial(handle_client, registry=registry),
        host,
        port,
        process_request=process_request,
        process_response=log_refusal,
        origins=ALLOWED_ORIGINS,
        max_size=MAX_SIZE,
        compression=COMPRESSION,
        open_timeout=open_timeout,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=CLOSE_TIMEOUT,
    )


async def demo_03_connections() -> None:
    """3절: 등록부와 입장·퇴장, 인사하고 닫기와 인사 없이 끊기.

    예상 출력(포트는 실행마다 다름):
        [서버] 입장 127.0.0.1:50112 → /echo (지금 연결 1개)
        [서버] 입장 127.0.0.1:50114 → /echo (지금 연결 2개)
        등록부: {'/echo': 2}
        [클라이언트 A] close(reason='안녕히 계세요')로 인사하고 닫습니다
        [서버] 퇴장 127.0.0.1:50112 ← /echo: 1000 ... (ConnectionClosedOK, ...)
        [클라이언트 B] transport.abort(): 인사 없이 TCP를 끊습니다
        [서버] 퇴장 127.0.0.1:50114 ← /echo: 1006 ... (ConnectionClosedError, ...)
        등록부: {'/echo': 0}
    """
    heading(3, "연결 관리: 등록부, 입장과 퇴장, 정리")
    registry = Registry()

    def census() -> dict[str, int]:
        return {path: len(room) for path, room in registry.rooms.items()}

    async with (
        running(lesson_server(registry)) as base,
        connect(f"{base}/echo") as polite,
        connect(f"{base}/echo") as rude,
    ):
        await wait_until(lambda: len(registry) == 2)
        print(f"등록부: {census()}")
        print("[클라이언트 A] close(reason='안녕히 계세요')로 인사하고 닫습니다")
        await polite.close(reason="안녕히 계세요")
        await wait_until(lambda: len(registry) == 1)
        print("[클라이언트 B] transport.abort(): 인사 없이 TCP를 끊습니다")
        rude.transport.abort()
        await wait_until(lambda: len(registry) == 0)
        print(f"등록부: {census()}")


# =============================================================================
# 4. 브로드캐스트: broadcast()와 gather(send), 백프레셔
# =============================================================================
# 백프레셔(backpressure)는 받는 쪽이 느릴 때 보내는 쪽을 늦추는 흐름 제어입니다.
# send()는 쓰기 버퍼가 write_limit(기본 32KiB)을 넘으면 비워질 때까지 기다립니다.
# - gather(*(ws.send(m) for ws in 방)): 모두에게 보낸 뒤 "전부 끝나기"를 기다리므로
#   읽지 않는 클라이언트 하나가 방 전체를 멈춥니다. 메시지마다 태스크도 N개 만듭니다.
# - broadcast(방, m): 기다리지 않고 각 연결의 버퍼에 바로 씁니다. 빠르고(태스크 없음)
#   느린 하나가 다른 사람을 막지 않습니다. 대신 백프레셔가 전혀 없어서 느린 연결의
#   버퍼가 서버 메모리에서 끝없이 커집니다. keepalive도 이것을 막지 못합니다
#   (ping이 가득 찬 버퍼 뒤에 줄을 서기 때문입니다).
# 그래서 이 서버의 /broadcast는 버퍼가 SLOW_CLIENT_LIMIT을 넘은 연결을 끊습니다.
# 보낸 사람도 방에 있으므로 자기 메시지를 한 번 받습니다(서버가 받았다는 확인).

FANOUT_MESSAGES = 400  # 4절: 방에 보내는 메시지 수
FANOUT_SIZE = 1024  # 4절: 메시지 하나의 크기(바이트)
FANOUT_LIMIT = 2.0  # 4절: 멈춘 보내기를 포기하는 시간제한(초)


def drop_slow_clients(room: Iterable[ServerConnection]) -> list[ServerConnection]:
    """쓰기 버퍼가 한도를 넘은 연결을 끊고 나머지를 돌려줍니다."""
    healthy = []
    for websocket in room:
        backlog = websocket.transport.get_write_buffer_size()
        if backlog > SLOW_CLIENT_LIMIT:
            server_log(f"느린 클라이언트 {peer(websocket)} 끊음: {backlog:,}바이트")
            websocket.transport.abort()  # 1008을 보내도 가득 찬 버퍼 뒤에 설 뿐입니다
        else:
            healthy.append(websocket)
    return healthy


async def relay_to_room(
    websocket: ServerConnection, room: set[ServerConnection]
) -> None:
    """/broadcast: 받은 텍스트를 방의 모두(보낸 사람 포함)에게 보냅니다."""
    async for message in text_messages(websocket):
        broadcast(drop_slow_clients(room), message)


async def fan_out(
    strategy: str, room: Iterable[ServerConnection], message: str
) -> None:
    """방의 모두에게: broadcast()는 기다리지 않고, gather는 모든 send()를 기다림."""
    if strategy == "broadcast":
        broadcast(room, message)
    else:
        sends = (websocket.send(message) for websocket in room)
        await asyncio.gather(*sends, return_exceptions=True)


async def stalled_socket(host: str, port: int) -> socket.socket:
    """먼 곳의 클라이언트처럼 버퍼가 작은 소켓(루프백의 기본 버퍼는 수 MB입니다)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with contextlib.suppress(OSError):  # 인터넷 크기의 세그먼트(Windows는 못 바꿈)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return sock


async def fanout_with_slow_client(strategy: str) -> tuple[int, list[int], float, int]:
    """빠른 클라이언트 3개와 읽지 않는 클라이언트 1개가 있는 방에 보냅니다.

    (보내기를 마친 수, 빠른 클라이언트마다 받은 수, 걸린 시간, 느린 연결의 버퍼)
    """
    room: list[ServerConnection] = []

    async def join(websocket: ServerConnection) -> None:
        room.append(websocket)
        await websocket.wait_closed()

    async with serve(join, DEFAULT_HOST, 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        uri = f"ws://{DEFAULT_HOST}:{port}/"
        fast = [await connect(uri, compression=None) for _ in range(3)]
        sock = await stalled_socket(DEFAULT_HOST, port)
        slow = await connect(uri, compression=None, sock=sock)
        slow.transport.pause_reading()  # 이 클라이언트는 이제 읽지 않습니다
        counts = [0] * len(fast)

        async def count(index: int) -> None:
            while counts[index] < FANOUT_MESSAGES:
                await fast[index].recv()
                counts[index] += 1

        payload, sent = "x" * FANOUT_SIZE, 0
        try:
            await wait_until(lambda: len(room) == 4)
            start = time.perf_counter()
            with contextlib.suppress(TimeoutError):  # 멈춘 gather를 시간제한으로 끊음
                async with asyncio.timeout(FANOUT_LIMIT), asyncio.TaskGroup() as tg:
                    for index in range(len(fast)):
                        tg.create_task(count(index))
                    for _ in range(FANOUT_MESSAGES):
                        await fan_out(strategy, room, payload)
                        sent += 1
            elapsed = time.perf_counter() - start
            backlog = max(ws.transport.get_write_buffer_size() for ws in room)
        finally:
            for connection in (*room, *fast, slow):
                connection.transport.abort()  # 쌓인 버퍼를 버리고 바로 닫음
    return sent, counts, elapsed, backlog


async def demo_04_broadcast() -> None:
    """4절: 읽지 않는 클라이언트가 있는 방에서 gather(send)와 broadcast().

    예상 출력:
        빠른 클라이언트 3개 + 읽지 않는 클라이언트 1개, 1,024바이트 메시지 400개
        gather(send): 164번째 메시지에서 멈춤, 빠른 클라이언트가 받은 수 [164, 164, 164]
                      걸린 시간 2.00초(시간제한), 느린 연결의 버퍼 33,784바이트
        broadcast() : 400개 모두 보냄, 빠른 클라이언트가 받은 수 [400, 400, 400]
                      걸린 시간 14.1ms, 느린 연결의 버퍼 351,688바이트
    """
    heading(4, "브로드캐스트: broadcast()와 gather(send), 백프레셔")
    print(
        f"빠른 클라이언트 3개 + 읽지 않는 클라이언트 1개, "
        f"{FANOUT_SIZE:,}바이트 메시지 {FANOUT_MESSAGES}개"
    )
    for label, strategy in (("gather(send)", "gather"), ("broadcast() ", "broadcast")):
        sent, counts, elapsed, backlog = await fanout_with_slow_client(strategy)
        stalled = sent < FANOUT_MESSAGES
        progress = (
            f"{sent + 1}번째 메시지에서 멈춤" if stalled else f"{sent}개 모두 보냄"
        )
        timing = seconds(elapsed) + ("(시간제한)" if stalled else "")
        print(f"{label}: {progress}, 빠른 클라이언트가 받은 수 {counts}")
        print(f"{'':14}걸린 시간 {timing}, 느린 연결의 버퍼 {backlog:,}바이트")
    print("→ gather는 가장 느린 연결에 맞춰 멈추고, broadcast는 그 연결의 버퍼를")
    print(
        f"  키웁니다. 이 서버의 /broadcast는 {SLOW_CLIENT_LIMIT:,}바이트에서 끊습니다."
    )


# =============================================================================
# 5. Keepalive: ping, pong, 왕복 시간, 1011
# =============================================================================
# TCP는 상대가 사라져도(전원이 꺼지거나 와이파이가 끊겨도) 한참 동안 모릅니다.
# 그래서 websockets는 keepalive(하트비트)로 ping_interval초마다 ping 프레임을
# 보내고, ping_timeout초 안에 pong이 오지 않으면 1011 "keepalive ping timeout"으로
# 연결을 끊습니다.
# pong은 라이브러리가 알아서 보냅니다. 단, 이벤트 루프가 돌아야 보낼 수 있습니다.
# 그래서 1011의 흔한 원인은 네트워크가 아니라 "막힌 이벤트 루프"입니다. 코루틴 안의
# 무거운 계산이나 블로킹 호출(01 레슨 7절)이 pong을 보내지 못하게 합니다.
# - `pong = await websocket.ping()`은 ping을 보내고 퓨처를 받습니다.
#   `await pong`의 결과가 왕복 시간(RTT, 초)입니다.
# - websocket.latency: keepalive가 마지막으로 잰 왕복 시간(초)
# 경고: keepalive는 "읽지 않는" 클라이언트를 쫓아내지 못합니다. ping이 가득 찬
#       쓰기 버퍼 뒤에 줄을 서기 때문입니다(그래서 4절의 버퍼 한도가 따로 있습니다).

DEMO_PING_INTERVAL = 0.2  # 5절: 빨리 보이게 줄인 ping 간격(초)
DEMO_PING_TIMEOUT = 0.3  # 5절: 빨리 보이게 줄인 pong 시간제한(초)
FREEZE = 1.0  # 5절: 클라이언트가 이벤트 루프를 막는 시간(초)


async def measure_ping(websocket: ServerConnection | ClientConnection) -> float:
    """ping을 보내고 pong이 올 때까지의 왕복 시간(초)을 잽니다."""
    pong = await websocket.ping()  # ping 프레임을 보내고, pong을 기다릴 퓨처를 받음
    return await pong


def hog_cpu(duration: float) -> None:
    """무거운 계산을 흉내 냅니다: duration초 동안 CPU를 붙잡고 놓지 않습니다."""
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        pass


async def frozen_client(uri: str, freeze: float) -> str:
    """나쁜 예: 연결한 뒤 이벤트 루프를 막습니다. 어떻게 닫혔는지 돌려줍니다."""
    async with connect(uri, ping_interval=None) as websocket:
        hog_cpu(freeze)  # 나쁜 예! 이 동안 이 루프는 pong을 보낼 수 없습니다
        with contextlib.suppress(ConnectionClosedError):
            await websocket.recv()
        return close_text(websocket.close_code, websocket.close_reason)


async def demo_05_keepalive() -> None:
    """5절: ping 왕복 시간, latency, 막힌 이벤트 루프가 부르는 1011.

    예상 출력:
        서버 설정: ping_interval=0.2초, ping_timeout=0.3초 (기본은 20초, 20초)
        [클라이언트 A] websocket.ping() 왕복 시간: 152μs, 61μs, 48μs
        [서버] keepalive가 잰 왕복 시간(websocket.latency): 201μs
        [클라이언트 B] 연결한 뒤 이벤트 루프를 1.0초 막습니다
        [서버] 퇴장 127.0.0.1:36998 ← /echo: 서버가 보낸 1011 서버 오류 또는
        keepalive 시간 초과, 이유 'keepalive ping timeout' (ConnectionClosedError, ...)
        [클라이언트 B] 루프가 풀린 뒤(1.00초)에야 알게 된 종료: 1011 서버 오류 ...
    """
    heading(5, "Keepalive: ping, pong, 왕복 시간, 1011")
    registry = Registry()
    server = lesson_server(
        registry, ping_interval=DEMO_PING_INTERVAL, ping_timeout=DEMO_PING_TIMEOUT
    )
    async with running(server) as base:
        print(
            f"서버 설정: ping_interval={DEMO_PING_INTERVAL}초, "
            f"ping_timeout={DEMO_PING_TIMEOUT}초 "
            f"(기본은 {PING_INTERVAL:.0f}초, {PING_TIMEOUT:.0f}초)"
        )
        async with connect(f"{base}/echo") as websocket:
            rtts = [seconds(await measure_ping(websocket)) for _ in range(3)]
            print(f"[클라이언트 A] websocket.ping() 왕복 시간: {', '.join(rtts)}")
            await asyncio.sleep(3 * DEMO_PING_INTERVAL)  # keepalive가 돌게 둡니다
            (on_server,) = registry.rooms["/echo"]
            latency = seconds(on_server.latency)
            print(f"[서버] keepalive가 잰 왕복 시간(websocket.latency): {latency}")
        await wait_until(lambda: len(registry) == 0)
        print(f"[클라이언트 B] 연결한 뒤 이벤트 루프를 {FREEZE}초 막습니다")
        start = time.perf_counter()
        frozen = frozen_client(f"{base}/echo", FREEZE)
        closed = await asyncio.to_thread(asyncio.run, frozen)  # 자기 스레드, 자기 루프
        elapsed = seconds(time.perf_counter() - start)
        print(f"[클라이언트 B] 루프가 풀린 뒤({elapsed})에야 알게 된 종료: {closed}")


# =============================================================================
# 6. 한계와 보안: max_size, origins, open_timeout, 상태 확인
# =============================================================================
# 인터넷에 열린 서버는 누구든 무엇이든 보낼 수 있다고 보고 한계를 둡니다.
# - max_size: 받는 메시지 하나의 상한. 넘으면 1009로 닫습니다(기본 1MiB).
# - origins: 브라우저는 WebSocket 요청마다 페이지의 출처(Origin)를 붙입니다.
#   WebSocket에는 CORS가 없어서, 검사하지 않으면 아무 웹사이트의 스크립트가 방문자의
#   쿠키를 들고 우리 서버에 접속합니다(교차 사이트 WebSocket 탈취, CSWSH).
#   허용 목록에 없는 Origin은 403으로 거절합니다. 기본값 None은 "검사 안 함"입니다!
# - open_timeout: TCP만 열고 핸드셰이크를 끝내지 않는 연결을 이 시간 뒤 끊습니다
#   (연결만 잔뜩 열어 두는 공격에 서버 자원이 묶이지 않게).
# - 텍스트만 받는 곳의 이진 프레임은 1003(2절의 text_messages), UTF-8이 아닌
#   텍스트는 1007, 망가진 프레임은 1002입니다. 1007과 1002는 라이브러리가 처리합니다.
# - process_request: 핸드셰이크 전에 요청을 봅니다. 응답을 돌려주면 WebSocket 대신
#   평범한 HTTP로 답합니다(상태 확인 /healthz, 없는 경로 404). None이면 계속합니다.
#   process_response: 응답을 보내기 직전에 봅니다. 여기서는 거절을 기록합니다.

DEMO_OPEN_TIMEOUT = 0.5  # 6절: 핸드셰이크 시간제한을 빨리 보이게 줄인 값(초)
FOREIGN_ORIGIN = Origin("https://evil.example")  # 6절: 허용 목록에 없는 출처


def process_request(connection: ServerConnection, request: Request) -> Response | None:
    """핸드셰이크 전: 상태 확인과 없는 경로는 평범한 HTTP로 답합니다."""
    path = route(request.path)
    if path == HEALTH_PATH:
        return connection.respond(http.HTTPStatus.OK, "ok\n")
    if path not in PATHS:
        known = ", ".join(PATHS)
        text = f"{path}에는 WebSocket이 없습니다. 있는 경로: {known}\n"
        return connection.respond(http.HTTPStatus.NOT_FOUND, text)
    return None  # WebSocket 핸드셰이크를 계속합니다(Origin 검사는 이 다음)


def log_refusal(
    connection: ServerConnection, request: Request, response: Response
) -> None:
    """응답 직전: 거절한 요청(4xx, 5xx)을 서버 화면에 남깁니다."""
    if response.status_code >= 400:
        origin = request.headers.get("Origin", "없음")
        server_log(
            f"거절 {peer(connection)} GET {request.path} (Origin: {origin}) "
            f"→ {response.status_code} {response.reason_phrase}"
        )


async def http_get(host: str, port: int, path: str) -> tuple[str, str]:
    """WebSocket이 아닌 평범한 HTTP GET을 보내고 (상태 줄, 본문)을 돌려줍니다."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    response = (await reader.read()).decode()  # 서버는 답한 뒤 연결을 닫습니다
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition("\r\n\r\n")
    return head.splitlines()[0], body


async def outcome_of(uri: str, payload: Data, *, text: bool | None = None) -> str:
    """메시지 하나를 보내고 서버의 반응(답 또는 종료 코드)을 돌려줍니다."""
    async with connect(uri) as websocket:
        await websocket.send(payload, text=text)
        try:
            return f"답 {shown(await websocket.recv())!r}"
        except ConnectionClosedError:
            return f"닫힘 {close_text(websocket.close_code, websocket.close_reason)}"


async def silent_connection(host: str, port: int) -> float:
    """TCP만 열고 아무것도 보내지 않습니다. 서버가 끊을 때까지 걸린 시간(초)."""
    reader, writer = await asyncio.open_connection(host, port)
    start = time.perf_counter()
    await reader.read()  # 서버가 open_timeout 뒤 끊으면 b''이 돌아옵니다
    elapsed = time.perf_counter() - start
    writer.close()
    await writer.wait_closed()
    return elapsed


async def probe_limits(host: str, port: int) -> None:
    """잘못된 요청과 메시지를 하나씩 보내 봅니다."""
    base = f"ws://{host}:{port}"
    echo_uri = f"{base}/echo"
    status, body = await http_get(host, port, HEALTH_PATH)
    print(f"[클라이언트] GET {HEALTH_PATH} (HTTP) → {status}, 본문 {body!r}")
    for label, path, origin in (
        ("없는 경로 /nope", "/nope", None),
        (f"Origin: {FOREIGN_ORIGIN}", "/echo", FOREIGN_ORIGIN),
    ):
        try:
            async with connect(f"{base}{path}", origin=origin):
                print(f"[클라이언트] {label} → 연결됨(거절되어야 합니다!)")
        except InvalidStatus as exc:
            print(f"[클라이언트] {label} → 거절: HTTP {exc.response.status_code}")
    for label, payload, text in (
        (f"{MAX_SIZE + 1:,}바이트 텍스트", "x" * (MAX_SIZE + 1), None),
        ("이진 프레임 00 ff", bytes([0, 255]), None),
        ("UTF-8이 아닌 텍스트 프레임 ff fe", bytes([255, 254]), True),
    ):
        print(
            f"[클라이언트] {label} → {await outcome_of(echo_uri, payload, text=text)}"
        )
    waited = seconds(await silent_connection(host, port))
    print(f"[클라이언트] TCP만 열고 핸드셰이크 없음 → 서버가 {waited} 뒤 끊음")
    print(f"[클라이언트] 그 뒤에도 서버는 정상: {await outcome_of(echo_uri, '안녕')}")


async def demo_06_limits() -> None:
    """6절: max_size, origins, open_timeout, 이진·깨진 프레임, /healthz, 없는 경로.

    예상 출력(포트는 실행마다 다름, [서버] 줄은 줄임):
        [클라이언트] GET /healthz (HTTP) → HTTP/1.1 200 OK, 본문 'ok\\n'
        [서버] 거절 127.0.0.1:50400 GET /nope (Origin: 없음) → 404 Not Found
        [클라이언트] 없는 경로 /nope → 거절: HTTP 404
        [클라이언트] Origin: https://evil.example → 거절: HTTP 403
        [클라이언트] 65,537바이트 텍스트 → 닫힘 1009 메시지가 너무 큼, 이유 '...'
        [클라이언트] 이진 프레임 00 ff → 닫힘 1003 받을 수 없는 종류(...) ...
        [클라이언트] UTF-8이 아닌 텍스트 프레임 ff fe → 닫힘 1007 잘못된 데이터(...) ...
        [클라이언트] TCP만 열고 핸드셰이크 없음 → 서버가 500.9ms 뒤 끊음
        [클라이언트] 그 뒤에도 서버는 정상: 답 '안녕'
    """
    heading(6, "한계와 보안: max_size, origins, open_timeout, 상태 확인")
    server = lesson_server(Registry(), open_timeout=DEMO_OPEN_TIMEOUT)
    async with running(server) as base:
        print(f"서버 설정: max_size={MAX_SIZE:,}, open_timeout={DEMO_OPEN_TIMEOUT}초")
        address = urlsplit(base)
        await probe_limits(address.hostname or DEFAULT_HOST, address.port or 0)


# =============================================================================
# 7. 종료와 재연결
# =============================================================================
# 서버를 끌 때(Ctrl+C, 배포 도구가 보내는 SIGTERM) 연결을 그냥 끊으면 클라이언트는
# 1006(인사 없이 끊김)을 받고 무슨 일인지 모릅니다. 우아한 종료(graceful
# shutdown)는 세 단계입니다.
#   1) 새 연결을 그만 받고 2) 열린 연결에 1001(떠남)을 보내고 3) 핸들러가 모두
#   끝나기를 기다립니다. server.close(code=1001)와 await server.wait_closed()입니다.
# 시그널은 loop.add_signal_handler로 받아 asyncio.Event를 켭니다. Windows에서는 이
# 메서드가 동작하지 않으므로, Ctrl+C가 태스크 취소로 들어오는 길도 같은 finally를
# 거칩니다.
# 클라이언트는 `async for websocket in connect(...)`로 다시 연결합니다. 연결 "시도"가
# 실패하면(서버가 꺼져 있음) 백오프하며 다시 시도하고, 연결된 뒤에 끊기면
# ConnectionClosed가 나므로 잡아서 continue합니다. 단, 서버가 일부러 거절한
# 메시지(1009 등)는 다시 보내도 같으므로 되풀이하지 않습니다.
# 참고: 라이브러리의 기본 백오프는 첫 재시도를 0~5초 사이 무작위로 미룹니다(RFC 6455
#       7.2.3). 여기서는 짧은 지수 백오프와 지터(01 레슨 10절)를 reconnect_delays로
#       넘기고, 실패 이유를 한국어로 알립니다.

DEMO_DOWNTIME = 0.5  # 7절: 서버가 꺼져 있는 시간(초)
RESEND_CODES = (1001, 1012)  # 다시 연결해 이어 보내는 종료 코드(서버 종료, 재시작)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT(Ctrl+C)와 SIGTERM이 오면 stop을 켭니다."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: Ctrl+C는 KeyboardInterrupt로 옵니다
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def shut_down(server: Server) -> None:
    """새 연결을 막고, 열린 연결에 1001을 보내고, 핸들러가 끝나기를 기다립니다."""
    count, start = len(server.connections), time.perf_counter()
    server.close(code=CloseCode.GOING_AWAY, reason="서버 종료")
    await server.wait_closed()
    elapsed = seconds(time.perf_counter() - start)
    server_log(f"연결 {count}개에 1001을 보내고 닫았습니다 ({elapsed})")


def describe_failure(exc: Exception) -> str:
    """연결 시도가 실패한 이유를 한국어로.

    >>> describe_failure(ConnectionRefusedError())
    '연결 거부: 그 포트에서 기다리는 서버가 없음'
    """
    if isinstance(exc, ConnectionRefusedError):
        return "연결 거부: 그 포트에서 기다리는 서버가 없음"
    if isinstance(exc, socket.gaierror):
        return "주소를 찾을 수 없음: --host를 확인하세요"
    if isinstance(exc, TimeoutError):
        return "시간 초과"
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


class Reconnector:
    """재연결 설정: 실패를 알리고, 지수 백오프와 지터로 다음 시도까지 기다립니다."""

    def __init__(self, uri: str, hint: str, first: float, cap: float) -> None:
        self.uri, self.hint, self.first, self.cap = uri, hint, first, cap
        self.error: Exception = ConnectionError()  # 마지막으로 실패한 이유
        self.rng = random.Random()  # 지터는 일부러 시드 없이: 클라이언트마다 달라야 함

    def connect_forever(self) -> connect:
        """`async for websocket in ...`에 넣는, 끊기면 다시 연결하는 connect()."""
        return connect(
            self.uri,
            process_exception=self.process_exception,
            reconnect_delays=self.delays,
            close_timeout=CLOSE_TIMEOUT,
        )

    def process_exception(self, exc: Exception) -> Exception | None:
        """실패한 시도를 보고 다시 시도할지 정합니다(None이면 다시 시도)."""
        self.error = exc
        return process_exception(exc)  # 라이브러리 판단: 네트워크 오류, 5xx만 재시도

    def delays(self) -> Generator[float, None, None]:
        """first, 2×first, ... cap으로 늘어나는 상한에서 절반~전부를 고릅니다.

        라이브러리는 연결에 성공하면 백오프를 처음으로 되돌립니다: 그 뒤 첫 실패에서
        이 제너레이터를 새로 만듭니다. 그래서 안내는 끊길 때마다 한 번만 나옵니다.
        """
        print(
            f"[클라이언트] {self.uri}에 연결할 수 없습니다"
            f"({describe_failure(self.error)}).\n  {self.hint}"
        )
        delay = self.first
        for failures in itertools.count(1):
            wait = self.rng.uniform(delay / 2, delay)
            print(f"[클라이언트] {wait:.1f}초 뒤 다시 연결합니다 ({failures}번째 실패)")
            yield wait
            delay = min(self.cap, delay * 2)


async def send_all(
    reconnect: Reconnector, messages: list[str], replies: list[str], pause: float = 0
) -> None:
    """메시지를 차례로 보내고 답을 replies에 모읍니다. 끊기면 다시 연결해 이어 갑니다.

    다시 보내는 것은 서버가 떠난다고 알리고 닫았을 때(1001, 1012)뿐입니다. 그 밖의
    종료(예: 1009 너무 큼)는 다시 보내도 같으므로 ConnectionClosed를 그대로 올립니다.
    """
    async for websocket in reconnect.connect_forever():
        print(f"[클라이언트] {reconnect.uri}에 연결했습니다")
        try:
            for text in messages[len(replies) :]:
                await websocket.send(text)
                print(f"[클라이언트] >>> {text}")
                replies.append(shown(await websocket.recv()))
                print(f"[클라이언트] <<< {replies[-1]}")
                await asyncio.sleep(pause)
        except ConnectionClosed:
            closed = close_text(websocket.close_code, websocket.close_reason)
            print(f"[클라이언트] 연결이 끊겼습니다: {closed}")
            if websocket.close_code in RESEND_CODES:
                continue  # 다시 연결해 남은 메시지를 보냅니다
            raise
        await websocket.close()  # 직접 닫고 나갑니다(그러지 않으면 1011로 닫힘)
        break


async def demo_07_restart() -> None:
    """7절: 서버가 1001로 닫고 재시작하는 동안 클라이언트가 다시 연결합니다.

    예상 출력(포트와 대기 시간은 실행마다 다름, [서버] 입장·퇴장 줄은 줄임):
        [클라이언트] >>> 메시지 1
        [클라이언트] <<< 메시지 1
        ...
        [서버] 연결 1개에 1001을 보내고 닫았습니다 (0.8ms)
        [클라이언트] 연결이 끊겼습니다: 1001 떠남(...), 이유 '서버 종료'
        [클라이언트] ws://127.0.0.1:44495/echo에 연결할 수 없습니다(연결 거부: ...).
        [클라이언트] 0.1초 뒤 다시 연결합니다 (1번째 실패)
        ...
        [서버] 같은 포트로 다시 켰습니다 (꺼져 있던 시간 501.2ms)
        ...
        [클라이언트] <<< 메시지 4
        다시 켠 뒤 클라이언트가 돌아오기까지 152.3ms(백오프 대기 포함)
    """
    heading(7, "종료와 재연결")
    registry, replies = Registry(), list[str]()
    async with lesson_server(registry) as first:
        port = first.sockets[0].getsockname()[1]
        hint = f"데모: 서버가 {DEMO_DOWNTIME}초 뒤 같은 포트로 다시 켜집니다."
        reconnect = Reconnector(f"ws://{DEFAULT_HOST}:{port}/echo", hint, 0.1, 0.4)
        sent = [f"메시지 {n}" for n in range(1, 5)]
        client = asyncio.create_task(send_all(reconnect, sent, replies, pause=0.05))
        try:
            await wait_until(lambda: len(replies) >= 2 or client.done())
            await shut_down(first)
            down = time.perf_counter()
            await asyncio.sleep(DEMO_DOWNTIME)  # 그동안 클라이언트는 백오프하며 재시도
            async with lesson_server(registry, port=port) as second:
                restarted = time.perf_counter()
                off = seconds(restarted - down)
                print(f"[서버] 같은 포트로 다시 켰습니다 (꺼져 있던 시간 {off})")
                await wait_until(lambda: len(registry) == 1 or client.done())
                back = seconds(time.perf_counter() - restarted)
                await client
                print(f"다시 켠 뒤 클라이언트가 돌아오기까지 {back}(백오프 대기 포함)")
                await shut_down(second)
        finally:  # 도중에 오류로 빠져나가도 클라이언트 태스크를 남기지 않습니다
            client.cancel()
            await asyncio.gather(client, return_exceptions=True)


# =============================================================================
# 실행 모드: server, client
# =============================================================================


async def serve_until_signal(host: str, port: int) -> int:
    """server 모드: 시그널이 올 때까지 서버를 돌리고 우아하게 닫습니다."""
    try:
        server = await lesson_server(Registry(), host, port)
    except OSError as exc:
        in_use = exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1))
        reason = "이미 다른 프로그램이 쓰고 있습니다" if in_use else str(exc)
        print(
            f"[서버] {host_port(host, port)}에서 기다릴 수 없습니다: {reason}. "
            f"그 프로그램을 끄거나 --port {port + 1}처럼 다른 포트를 고르세요.",
            file=sys.stderr,
        )
        return 1
    address = host_port(host, port)
    print(f"[서버] WebSocket 서버가 {address}에서 기다립니다.")
    print(f"  에코          ws://{address}/echo")
    print(f"  브로드캐스트  ws://{address}/broadcast  (보낸 사람을 포함해 모두에게)")
    print(f"  상태 확인     http://{address}{HEALTH_PATH}")
    print(f"  다른 터미널에서: {PROG} client{port_option(host, port)}")
    print("  멈추려면 Ctrl+C")
    stop = asyncio.Event()
    with stop_on_signals(stop):
        try:
            await stop.wait()
            print("\n[서버] 종료 신호를 받았습니다.")
        finally:  # 시그널이든, Windows에서 Ctrl+C로 인한 취소든 같은 정리
            await shut_down(server)
    return 0


def run_server(host: str, port: int) -> int:
    """server 모드의 진입점."""
    try:
        return asyncio.run(serve_until_signal(host, port))
    except KeyboardInterrupt:  # Windows: 정리는 finally에서 이미 끝났습니다
        return 0


def port_option(host: str, port: int) -> str:
    """같은 서버에 붙는 명령의 옵션 부분.

    >>> port_option("127.0.0.1", 8765), port_option("0.0.0.0", 9000)
    (' --port 8765', ' --host 0.0.0.0 --port 9000')
    """
    return (
        f" --port {port}" if host == DEFAULT_HOST else f" --host {host} --port {port}"
    )


def start_stdin_reader(lines: asyncio.Queue[str | None]) -> None:
    """표준 입력을 스레드에서 읽어 큐에 넣습니다(input()은 이벤트 루프를 멈춥니다).

    /quit이나 입력 끝(EOF는 None)을 넣으면 스레드도 끝나므로, 메뉴로 돌아간 뒤의
    입력을 가로채지 않습니다. Windows에서도 동작합니다.
    """
    loop = asyncio.get_running_loop()

    def deliver(item: str | None) -> bool:
        try:
            loop.call_soon_threadsafe(lines.put_nowait, item)
        except RuntimeError:  # 클라이언트가 먼저 끝나 루프가 닫혔습니다
            return False
        return item is not None and item.strip() != QUIT_COMMAND

    def pump() -> None:
        for raw in sys.stdin:  # 이 스레드만 블로킹합니다
            if not deliver(raw.rstrip("\r\n")):
                return
        deliver(None)

    threading.Thread(target=pump, name="stdin-reader", daemon=True).start()


async def chat(reconnect: Reconnector) -> int:
    """대화형 클라이언트: 받기(끊기면 다시 연결)와 입력 보내기를 두 태스크로 돌립니다.

    입력은 연결과 따로 읽으므로, 서버가 꺼져 재연결을 기다리는 동안에도 /quit과
    입력 끝이 동작합니다.
    """
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    start_stdin_reader(lines)
    current: ClientConnection | None = None  # 지금 열린 연결(끊겨 있으면 None)
    quitting = False

    async def receive() -> None:
        nonlocal current
        async for websocket in reconnect.connect_forever():
            current = websocket
            print(f"[클라이언트] {reconnect.uri}에 연결했습니다. 보낼 글을 입력하세요.")
            print(f"  {PING_COMMAND}: 왕복 시간, {QUIT_COMMAND} 또는 입력 끝: 끝내기")
            with contextlib.suppress(ConnectionClosedError):
                async for message in websocket:
                    print(f"[클라이언트] <<< {shown(message)}")
            current = None
            if quitting:
                return
            closed = close_text(websocket.close_code, websocket.close_reason)
            print(f"[클라이언트] 연결이 끊겼습니다: {closed}. 다시 연결합니다.")

    async def send() -> None:
        while (line := await lines.get()) is not None and line.strip() != QUIT_COMMAND:
            if current is None:
                print("[클라이언트] 연결되어 있지 않아 보내지 못했습니다.")
                continue
            with contextlib.suppress(ConnectionClosed):  # 끊김은 receive()가 알림
                if line.strip() == PING_COMMAND:
                    rtt = seconds(await measure_ping(current))
                    print(f"[클라이언트] 왕복 시간 {rtt}")
                elif line:
                    await current.send(line)
                    print(f"[클라이언트] >>> {line}")

    receiving, sending = asyncio.create_task(receive()), asyncio.create_task(send())
    try:
        await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
        if receiving.done():
            receiving.result()  # 404 같은 거절(다시 해도 소용없음)을 run_client로
        quitting = True
        if current is None:
            print("[클라이언트] 연결하지 못한 채 끝냅니다.")
        else:
            await current.close()  # 1000 정상 종료. close를 받은 서버는 더 보내지
            await receiving  # 않으므로, 그 전에 보낸 것까지 출력하고 끝납니다
            print("[클라이언트] 연결을 닫았습니다.")
    except asyncio.CancelledError:  # Ctrl+C: 서버에 "떠남"을 알리고 끝냅니다
        quitting = True
        if current is not None:
            await current.close(CloseCode.GOING_AWAY)
        raise
    finally:
        for task in (receiving, sending):
            task.cancel()
        await asyncio.gather(receiving, sending, return_exceptions=True)
    return 0


async def send_one(reconnect: Reconnector, text: str) -> int:
    """client --message: 하나 보내고 답 하나를 출력하고 끝냅니다(7절의 send_all)."""
    try:
        async with asyncio.timeout(CLIENT_PATIENCE):
            await send_all(reconnect, [text], [])
    except TimeoutError:
        print(
            f"[클라이언트] {CLIENT_PATIENCE:.0f}초 안에 답을 받지 못해 포기합니다.",
            file=sys.stderr,
        )
        return 1
    except ConnectionClosed:  # 다시 보내도 같은 결과일 종료(위에 출력한 코드)
        print("[클라이언트] 답을 받지 못하고 끝냅니다.", file=sys.stderr)
        return 1
    return 0


def run_client(host: str, port: int, path: str, message: str | None) -> int:
    """client 모드의 진입점: 거절과 엉뚱한 상대는 한국어 한 문장으로 끝냅니다."""
    uri = f"ws://{host_port(host, port)}{path}"
    hint = (
        f"서버가 켜져 있나요? 다른 터미널에서: {PROG} server{port_option(host, port)}"
    )
    reconnect = Reconnector(uri, hint, first=0.5, cap=8.0)
    try:
        if message is None:
            return asyncio.run(chat(reconnect))
        return asyncio.run(send_one(reconnect, message))
    except InvalidStatus as exc:
        status = exc.response.status_code
        why = {
            404: f"{path} 경로가 없습니다. --path는 {' 또는 '.join(PATHS)}입니다",
            403: "Origin이 허용 목록에 없습니다",
        }.get(status, "서버 화면의 기록을 확인하세요")
        print(
            f"[클라이언트] 서버가 거절했습니다(HTTP {status}): {why}.", file=sys.stderr
        )
    except InvalidHandshake as exc:
        print(
            f"[클라이언트] {uri}의 상대가 WebSocket 서버가 아닙니다({exc}).",
            file=sys.stderr,
        )
    except InvalidURI:
        print(f"[클라이언트] {uri}은(는) 올바른 주소가 아닙니다.", file=sys.stderr)
    return 1


# =============================================================================
# 실행 모드: bench
# =============================================================================
# 서버와 클라이언트를 다른 프로세스에 두고 잽니다(한 프로세스면 CPU를 나눠 씀).
# 1) 에코 왕복: 클라이언트 N개가 보내고 답을 기다리기를 되풀이합니다. 같은 실행에서
#    가장 단순한 에코 핸들러도 재어, 이 레슨 서버(등록부, 경로, 검사, 기록)의
#    처리량을 그 비율로 보여 줍니다. 두 서버를 번갈아 재고 좋은 쪽을 씁니다.
# 2) 팬아웃: 클라이언트 N개에게 같은 메시지를 broadcast()와 gather(send)로 보내고
#    전달 하나당 송신 비용(보내는 코드에 쓴 시간)과 모두 받기까지의 시간을 잽니다.

BENCH_MESSAGE = "x" * 100  # bench 메시지(100바이트)
BENCH_ROUNDS = 2  # 같은 측정을 번갈아 되풀이하는 횟수(좋은 쪽을 씀)
ECHO_TARGET = 0.85  # 목표: 이 레슨 서버의 처리량이 최소 핸들러의 85% 이상
SERVER_KINDS = {"bare": "최소 에코 핸들러", "lesson": "이 레슨의 서버"}


async def bare_echo(websocket: ServerConnection) -> None:
    """비교 기준: 가장 단순한 에코 핸들러(검사도, 기록도, 등록부도 없음)."""
    with contextlib.suppress(ConnectionClosed):  # 트레이스백 기록만 막습니다
        async for message in websocket:
            await websocket.send(message)


def bench_server_process(kind: str, report: Connection) -> None:
    """bench의 자식 프로세스: 서버를 띄우고 포트 번호를 부모에게 알립니다."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C는 부모가 받아 정리합니다

    async def main() -> None:
        if kind == "bare":
            server = serve(bare_echo, DEFAULT_HOST, 0, compression=COMPRESSION)
        else:
            server = lesson_server(Registry())
        async with server:
            await asyncio.to_thread(report.send, server.sockets[0].getsockname()[1])
            await asyncio.get_running_loop().create_future()  # 부모가 끝낼 때까지

    with (
        open(os.devnull, "w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
    ):
        asyncio.run(main())  # 입장·퇴장 기록은 버립니다


def bench_fanout_clients(uri: str, clients: int, messages: int, rounds: int) -> None:
    """bench의 자식 프로세스: 클라이언트마다 messages개를 받을 때마다 'done'을 보냄."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def member() -> None:
        async with connect(uri, compression=COMPRESSION) as websocket:
            for _ in range(rounds):
                for _ in range(messages):
                    await websocket.recv()
                await websocket.send("done")
            await websocket.wait_closed()

    async def main() -> None:
        await asyncio.gather(*(member() for _ in range(clients)))

    asyncio.run(main())


@contextlib.asynccontextmanager
async def child_process(
    target: Callable[..., None], *args: object
) -> AsyncIterator[None]:
    """자식 프로세스를 띄우고, 블록이 끝나면 반드시 끝냅니다."""
    context = multiprocessing.get_context("spawn")  # 세 운영체제에서 같은 방식
    process = context.Process(target=target, args=args, daemon=True)
    await asyncio.to_thread(process.start)
    try:
        yield
    finally:
        process.terminate()
        await asyncio.to_thread(process.join, 10)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99: 작은 것부터 늘어놓았을 때 50%, 95%, 99% 자리의 값.

    >>> percentiles([float(n) for n in range(1, 102)])  # 1, 2, ..., 101
    (51.0, 96.0, 100.0)
    """
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


async def echo_load(
    port: int, clients: int, duration: float
) -> tuple[float, list[float]]:
    """클라이언트 N개가 duration초 동안 주고받습니다. (초당 왕복 수, 왕복 시간들)."""
    uri = f"ws://{DEFAULT_HOST}:{port}/echo"
    latencies: list[float] = []
    connections = await asyncio.gather(*(connect(uri) for _ in range(clients)))

    async def ping_pong(websocket: ClientConnection, deadline: float) -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            await websocket.send(BENCH_MESSAGE)
            await websocket.recv()
            latencies.append(time.perf_counter() - sent)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(ping_pong(ws, start + duration) for ws in connections))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(websocket.close() for websocket in connections))
    return len(latencies) / elapsed, latencies


async def echo_bench(
    clients: int, duration: float
) -> dict[str, tuple[float, list[float]]]:
    """두 서버를 자식 프로세스로 띄워 번갈아 잽니다. 서버마다 가장 좋은 결과."""
    best: dict[str, tuple[float, list[float]]] = {}
    ports: dict[str, int] = {}
    async with contextlib.AsyncExitStack() as stack:
        for kind in SERVER_KINDS:
            receiver, sender = multiprocessing.get_context("spawn").Pipe(duplex=False)
            await stack.enter_async_context(
                child_process(bench_server_process, kind, sender)
            )
            if not await asyncio.to_thread(receiver.poll, 30):
                raise TimeoutError(f"bench 서버({kind})가 30초 안에 뜨지 않았습니다")
            ports[kind] = receiver.recv()
        for kind in SERVER_KINDS:  # 예열: 첫 측정만 불리하지 않게
            await echo_load(ports[kind], clients, min(0.5, duration))
        for round_number in range(1, BENCH_ROUNDS + 1):
            for kind, label in SERVER_KINDS.items():
                result = await echo_load(ports[kind], clients, duration)
                print(
                    f"  {round_number}/{BENCH_ROUNDS}회차 {pad(label, 18)}"
                    f"{result[0]:>9,.0f} 왕복/초"
                )
                best[kind] = max(best.get(kind, result), result, key=lambda r: r[0])
    return best


async def fanout_bench(clients: int, messages: int) -> dict[str, tuple[float, float]]:
    """클라이언트 N개(자식 프로세스)에게 broadcast()와 gather(send)로 보냅니다.

    방식마다 가장 좋은 (전달 하나당 송신 비용, 모두 받기까지의 시간)을 돌려줍니다.
    """
    room: set[ServerConnection] = set()
    done: asyncio.Queue[None] = asyncio.Queue()

    async def member(websocket: ServerConnection) -> None:
        room.add(websocket)
        with contextlib.suppress(ConnectionClosed):
            async for _ in websocket:  # 클라이언트가 다 받았다며 보낸 'done'
                done.put_nowait(None)

    best: dict[str, tuple[float, float]] = {}
    async with serve(member, DEFAULT_HOST, 0, compression=COMPRESSION) as server:
        uri = f"ws://{DEFAULT_HOST}:{server.sockets[0].getsockname()[1]}/"
        rounds = BENCH_ROUNDS * 2
        async with child_process(bench_fanout_clients, uri, clients, messages, rounds):
            await wait_until(lambda: len(room) == clients, limit=60)
            for _ in range(BENCH_ROUNDS):
                for strategy in ("broadcast", "gather"):
                    cost, start = 0.0, time.perf_counter()
                    for _ in range(messages):
                        before = time.perf_counter()
                        await fan_out(strategy, room, BENCH_MESSAGE)
                        cost += time.perf_counter() - before
                        await asyncio.sleep(0)  # 'done'을 받는 일도 돌게 차례를 넘김
                    for _ in range(clients):
                        await done.get()
                    result = (cost / (clients * messages), time.perf_counter() - start)
                    best[strategy] = min(best.get(strategy, result), result)
            server.close()  # 1001로 닫으면 자식 프로세스의 클라이언트도 끝납니다
            await server.wait_closed()
    return best


def run_bench(clients: int, messages: int, duration: float) -> int:
    """bench 모드: 에코 왕복과 팬아웃을 재고 표로 보여 줍니다."""
    started = time.perf_counter()
    print(
        f"에코 왕복: 클라이언트 {clients}개, {len(BENCH_MESSAGE)}바이트, "
        f"{duration}초씩 {BENCH_ROUNDS}번 (서버는 별도 프로세스, 압축 {COMPRESSION})"
    )
    try:
        echo_results = asyncio.run(echo_bench(clients, duration))
        print(row("서버", "왕복/초", "p50", "p95", "p99"))
        for kind, label in SERVER_KINDS.items():
            throughput, latencies = echo_results[kind]
            spread = (seconds(p) for p in percentiles(latencies))
            print(row(label, f"{throughput:,.0f}", *spread))
        ratio = echo_results["lesson"][0] / echo_results["bare"][0]
        verdict = "달성" if ratio >= ECHO_TARGET else "미달"
        print(
            f"→ 이 레슨 서버의 처리량은 최소 핸들러의 {ratio:.1%}입니다 "
            f"(목표 {ECHO_TARGET:.0%} 이상: {verdict})"
        )

        print(
            f"\n팬아웃: 클라이언트 {clients}개(별도 프로세스)에게 "
            f"{len(BENCH_MESSAGE)}바이트 메시지 {messages}개씩"
        )
        fanout = asyncio.run(fanout_bench(clients, messages))
        print(row("방식", "전달당 송신 비용", "모두 받기까지", "전달/초"))
        for strategy, label in (
            ("broadcast", "broadcast()"),
            ("gather", "gather(send)"),
        ):
            cost, total = fanout[strategy]
            rate = f"{clients * messages / total:,.0f}"
            print(row(label, f"{cost * 1e6:.1f}μs", seconds(total), rate))
        share = fanout["broadcast"][0] / fanout["gather"][0]
        print(
            f"→ 전달 하나의 송신 비용: broadcast()는 gather(send)의 {share:.0%}입니다. "
            "대신 백프레셔가 없습니다(4절)."
        )
    except OSError as exc:  # 파일 디스크립터 한도(EMFILE), 뜨지 않은 서버 ...
        print(
            f"\n벤치마크를 마치지 못했습니다({exc}). --clients를 줄여 보세요.",
            file=sys.stderr,
        )
        return 1
    print(f"\n벤치마크를 {seconds(time.perf_counter() - started)}에 마쳤습니다.")
    return 0


# =============================================================================
# 실행 모드: demo
# =============================================================================

SECTIONS: dict[int, tuple[str, Callable[[], Awaitable[None]]]] = {
    1: ("WebSocket이란: 핸드셰이크, 프레임, 종료 코드", demo_01_what_is_websocket),
    2: ("에코 서버와 클라이언트", demo_02_echo),
    3: ("연결 관리: 등록부, 입장과 퇴장", demo_03_connections),
    4: ("브로드캐스트와 백프레셔", demo_04_broadcast),
    5: ("Keepalive: ping, 왕복 시간, 1011", demo_05_keepalive),
    6: ("한계와 보안: max_size, origins, 시간제한", demo_06_limits),
    7: ("종료와 재연결", demo_07_restart),
}


async def run_sections(numbers: list[int]) -> None:
    """절들을 한 이벤트 루프에서 차례로 실행합니다."""
    start = time.perf_counter()
    for number in numbers:
        await SECTIONS[number][1]()
    if len(numbers) > 1:
        print(
            f"\n{len(numbers)}개 절을 "
            f"{seconds(time.perf_counter() - start)}에 마쳤습니다."
        )


def run_demo(section: str) -> int:
    """demo 모드: 한 절 또는 전체(all)를 실행합니다."""
    asyncio.run(run_sections(list(SECTIONS) if section == "all" else [int(section)]))
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
    (r"invalid int value: (.+)", r"\1은(는) 정수가 아닙니다"),
    (r"invalid float value: (.+)", r"\1은(는) 숫자가 아닙니다"),
    (r"invalid (\w+) value: (.+)", r"\2은(는) 올바른 \1 값이 아닙니다"),
    (r"^argument (\S+): ", r"\1: "),
)


class KoreanHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """도움말 첫 줄의 'usage:'를 '사용법:'으로 바꿉니다."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        # add_subparsers()는 prefix=""로 하위 명령의 prog를 만듭니다: None만 바꿈
        korean = "사용법: " if prefix is None else prefix
        super().add_usage(usage, actions, groups, korean)


class KoreanArgumentParser(argparse.ArgumentParser):
    """도움말과 오류를 한국어로 보여 주는 ArgumentParser."""

    # Any: add_parser()가 넘기는 argparse 인자를 그대로 전달합니다.
    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401
        kwargs.setdefault("formatter_class", KoreanHelpFormatter)
        super().__init__(add_help=False, **kwargs)
        self._positionals.title = "위치 인자"
        self._optionals.title = "옵션"
        self.add_argument(
            "-h", "--help", action="help", help="이 도움말을 보여 주고 끝냅니다"
        )

    def error(self, message: str) -> NoReturn:
        for pattern, korean in ARGPARSE_KOREAN:
            message = re.sub(pattern, korean, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"오류: {message}\n도움말: {self.prog} --help\n")


def section_choice(value: str) -> str:
    """demo의 절 번호를 검사합니다(허용 목록: 1~7, all)."""
    value = value.strip().lower()
    if value == "all" or (value.isdigit() and int(value) in SECTIONS):
        return value
    raise argparse.ArgumentTypeError(
        f"'{value}'은(는) 없는 절입니다. 1~{len(SECTIONS)} 또는 all 중에서 고르세요"
    )


def port_number(value: str) -> int:
    """--port와 PORT 환경 변수를 검사합니다(1~65535)."""
    if value.strip().isdigit() and 1 <= int(value) <= 65535:
        return int(value)
    raise argparse.ArgumentTypeError(f"'{value}'은(는) 포트 번호(1~65535)가 아닙니다")


def duration_seconds(value: str) -> float:
    """bench --duration을 검사합니다(0.1초 이상: 백분위수를 낼 만큼 왕복을 모음)."""
    with contextlib.suppress(ValueError):
        if float(value) >= 0.1:
            return float(value)
    raise argparse.ArgumentTypeError(f"'{value}'은(는) 0.1 이상의 초가 아닙니다")


def whole_number(value: str) -> int:
    """bench --clients와 --messages를 검사합니다(1 이상의 정수)."""
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    raise argparse.ArgumentTypeError(f"'{value}'은(는) 1 이상의 정수가 아닙니다")


def ws_path(value: str) -> str:
    """--path: 앞의 '/'를 빠뜨려도 붙여 줍니다.

    >>> ws_path("broadcast")
    '/broadcast'
    """
    return value if value.startswith("/") else f"/{value}"


def add_address(parser: argparse.ArgumentParser) -> None:
    """--host와 --port. 기본값은 환경 변수 HOST와 PORT가 바꿉니다."""
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", DEFAULT_HOST),
        help=f"주소 (기본: {DEFAULT_HOST}, 환경 변수 HOST)",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=os.environ.get("PORT", str(DEFAULT_PORT)),  # 문자열 기본값도 검사됨
        help=f"포트 (기본: {DEFAULT_PORT}, 환경 변수 PORT)",
    )


def build_parser() -> KoreanArgumentParser:
    """모드마다 하위 명령(subcommand)을 둔 파서를 만듭니다."""
    parser = KoreanArgumentParser(
        prog=PROG,
        description=(
            "02. WebSocket 기초: 에코 서버부터 브로드캐스트, keepalive, 재연결까지.\n"
            "인자 없이 실행하면 메뉴가 나옵니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                        # 메뉴\n"
            f"  {PROG} server                 # 터미널 1\n"
            f"  {PROG} client                 # 터미널 2\n"
            f"  {PROG} client --message 안녕  # 한 번 보내고 끝냄\n"
            f"  {PROG} demo 4                 # 4절만 실행\n"
            f"  {PROG} bench                  # 처리량과 지연 시간\n"
        ),
    )
    modes = parser.add_subparsers(dest="mode", title="모드", metavar="모드")
    server = modes.add_parser(
        "server",
        help="WebSocket 서버 (/echo, /broadcast, /healthz)",
        description="에코와 브로드캐스트 방을 엽니다. Ctrl+C나 SIGTERM으로 멈춥니다.",
        epilog=f"예시:\n  {PROG} server\n  {PROG} server --port 9000",
    )
    add_address(server)
    client = modes.add_parser(
        "client",
        help="클라이언트 (대화형 또는 --message 한 번)",
        description="서버에 연결해 입력한 줄을 보내고 받은 것을 보여 줍니다.",
        epilog=(
            "예시:\n"
            f"  {PROG} client\n"
            f"  {PROG} client --path /broadcast\n"
            f"  {PROG} client --message 안녕   # 답을 출력하고 끝냄(스크립트용)"
        ),
    )
    add_address(client)
    client.add_argument(
        "--path", type=ws_path, default="/echo", help="경로 (기본: /echo)"
    )
    client.add_argument(
        "--message", help="이 메시지 하나만 보내고 답을 받으면 끝냅니다"
    )
    sections = "\n".join(f"  {n}. {title}" for n, (title, _) in SECTIONS.items())
    demo = modes.add_parser(
        "demo",
        help="절을 골라 예제를 실행합니다 (1~7 또는 all)",
        description=f"절 번호를 주면 그 절만, all이면 전부 실행합니다.\n\n{sections}",
        epilog=f"예시:\n  {PROG} demo 4\n  {PROG} demo all",
    )
    demo.add_argument(
        "section",
        nargs="?",
        default="all",
        type=section_choice,
        help="절 번호 1~7 또는 all (기본: all)",
    )
    bench = modes.add_parser(
        "bench",
        help="에코 처리량·지연 시간과 팬아웃 비용을 잽니다",
        description="서버와 클라이언트를 다른 프로세스에 두고 잽니다(기본값 약 15초).",
        epilog=f"예시:\n  {PROG} bench\n  {PROG} bench --clients 100 --duration 5",
    )
    for option, kind, default, text in (
        ("--clients", whole_number, 50, "동시 클라이언트 수"),
        ("--messages", whole_number, 200, "팬아웃에서 보내는 메시지 수"),
        ("--duration", duration_seconds, 3.0, "에코 측정 한 번의 시간(초)"),
    ):
        bench.add_argument(
            option, type=kind, default=default, help=f"{text} (기본: {default})"
        )
    return parser


def run_mode(args: argparse.Namespace) -> int:
    """하위 명령을 실행합니다."""
    if args.mode == "server":
        return run_server(args.host, args.port)
    if args.mode == "client":
        return run_client(args.host, args.port, args.path, args.message)
    if args.mode == "demo":
        return run_demo(args.section)
    if args.mode == "bench":
        return run_bench(args.clients, args.messages, args.duration)
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
    entries["a"] = ("전체 실행 (1~7절)", ["demo", "all"])
    entries["s"] = ("서버 실행 (터미널 1, Ctrl+C로 메뉴로)", ["server"])
    entries["c"] = ("클라이언트 실행 (터미널 2, /quit로 메뉴로)", ["client"])
    entries["b"] = ("벤치마크 (약 15초)", ["bench"])
    while True:
        print("\n02. WebSocket 기초 ─ 메뉴")
        for key, (title, argv) in entries.items():
            print(f"  {key:>2}. {pad(title, 46)} ({' '.join(argv)})")
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
            print(
                f"'{choice}'은(는) 메뉴에 없습니다. "
                f"1~{len(SECTIONS)}, a, s, c, b, q 중에서 골라 주세요."
            )
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
