"""02. WebSocket 기초: 에코 서버부터 브로드캐스트, 하트비트, 재연결까지

학습 목표
    1. 네트워크 없이 핸드셰이크의 실제 바이트, 프레임, 종료 코드를 읽습니다.
    2. 인자 하나짜리 핸들러로 serve()하고, connect()로 메시지를 주고받습니다.
    3. 열린 연결을 등록부에 모으고, 정상·비정상 종료를 구분해 finally에서 정리합니다.
    4. broadcast()와 gather(send)를 재어 보고, 모든 길에서 쓰기 버퍼에 한도를 둡니다.
    5. ping으로 왕복 시간을 재고, 1011(하트비트 시간 초과)의 원인을 봅니다.
    6. max_size, open_timeout, 정원(--max-clients)으로 서버 자원에 한도를 둡니다.
    7. HTTP 단계에서 상태 확인, 경로, Origin, 겹친 헤더를 거르고 서버를 조립합니다.
    8. 시그널에 1001로 닫되 시간 안에 끝내고, 다시 해 볼 만한 종료에만 재연결합니다.

핵심 개념
    - WebSocket은 HTTP 요청 하나로 시작해(101 Switching Protocols) 같은 TCP 연결
      위에서 양쪽이 아무 때나 메시지를 보내는 프로토콜입니다.
    - websockets의 새 asyncio 구현(websockets.asyncio)을 씁니다. 인터넷의 많은 예제가
      쓰는 WebSocketServerProtocol과 (websocket, path) 핸들러는 폐기 예정입니다.
    - send()는 await입니다. 쓰기 버퍼가 상한(write_limit)을 넘으면, 버퍼가 하한까지
      줄어들 때까지 기다립니다(백프레셔). broadcast()와 라이브러리가 대신 쓰는 pong은
      기다리지 않으므로, 서버가 버퍼에 넣는 바로 그 자리에서 한도를 검사합니다.
    - 서버는 잘못된 입력(너무 큰 메시지, 이진 프레임, 낯선 Origin, 겹친 헤더, 없는
      경로)에 종료 코드나 HTTP 상태로 답하고 계속 동작합니다.

실행 방법
    python 02_websocket_basics.py                          # 메뉴
    python 02_websocket_basics.py server                   # 터미널 1: 서버
    python 02_websocket_basics.py client                   # 터미널 2: 대화형
    python 02_websocket_basics.py client --path /broadcast # 브로드캐스트 방
    python 02_websocket_basics.py client --message 안녕     # 보내고 답을 받고 끝냄
    python 02_websocket_basics.py demo 4                   # 4절만 실행
    python 02_websocket_basics.py demo all                 # 1~8절 전부(약 6초)
    python 02_websocket_basics.py --help
    python bench/02_websocket_echo.py                      # 성능 측정(별도 스크립트)

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
import inspect
import logging
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, ClassVar, NoReturn

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.client import ClientProtocol, process_exception
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
from websockets.server import ServerProtocol
from websockets.typing import Data, Origin
from websockets.uri import parse_uri

PROG = "python 02_websocket_basics.py"  # 도움말과 안내문에 보이는 실행 명령
DEFAULT_HOST = "127.0.0.1"  # 루프백: 이 컴퓨터에서만 접속 가능
DEFAULT_PORT = 8765  # websockets 문서의 예제들이 쓰는 포트
HEALTH_PATH = "/healthz"  # 같은 포트에서 평범한 HTTP로 답하는 상태 확인 경로
MAX_SIZE = 64 * 1024  # 받는 메시지 하나의 상한(64 KiB). 넘으면 1009로 닫음
MAX_CLIENTS = 500  # 정원: 핸드셰이크 중인 연결까지 센 동시 연결 수. 넘으면 503
WRITE_BUFFER_LIMIT = 1024 * 1024  # 연결 하나의 쓰기 버퍼 한도(1 MiB). 넘으면 끊음
OPEN_TIMEOUT = 10.0  # TCP 연결 뒤 핸드셰이크를 끝내야 하는 시간제한(초)
PING_INTERVAL = 20.0  # 하트비트 ping 간격(초)
PING_TIMEOUT = 20.0  # pong을 기다리는 시간제한(초). 넘으면 1011로 끊음
CLOSE_TIMEOUT = 3.0  # 닫기 핸드셰이크의 시간제한(초)
SHUTDOWN_GRACE = 3.0  # 종료 신호 뒤 연결이 닫히기를 기다리는 시간(초). 넘으면 끊음
COMPRESSION = "deflate"  # permessage-deflate: 대역폭은 줄고 메모리와 CPU는 늘어남
CLIENT_PATIENCE = 30.0  # client --message가 답을 기다리다 포기하는 시간(초)
QUIT_COMMAND = "/quit"  # 대화형 클라이언트를 끝내는 입력
PING_COMMAND = "/ping"  # 대화형 클라이언트에서 왕복 시간을 재는 입력
STDIN_READER = "stdin-reader"  # 대화형 클라이언트의 입력 스레드 이름(메뉴가 찾음)


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


def shown(message: Data) -> str:
    """받은 메시지를 화면용으로: 텍스트는 그대로, 이진은 크기만.

    >>> shown("안녕"), shown(b"\\x00\\xff")
    ('안녕', '(이진 2바이트)')
    """
    return message if isinstance(message, str) else f"(이진 {len(message)}바이트)"


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
    """condition()이 참이 될 때까지 기다립니다(데모에서 서버 쪽 상태를 봄)."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110  여러 곳에서 바뀌는 상태라 확인이 단순
            await asyncio.sleep(0.01)


def server_port(server: Server) -> int:
    """서버가 기다리는 포트 번호(포트 0으로 열었을 때 운영체제가 고른 것)."""
    return int(server.sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def running(server: Server) -> AsyncIterator[str]:
    """데모용: 서버를 띄우고 'ws://127.0.0.1:포트'를 넘겨준 뒤, 블록 끝에서 닫습니다."""
    async with server:
        yield f"ws://{DEFAULT_HOST}:{server_port(server)}"


# =============================================================================
# 1. WebSocket이란: 핸드셰이크, 프레임, 종료 코드
# =============================================================================
# WebSocket 연결은 평범한 HTTP GET 요청으로 시작합니다. 클라이언트가
# "Upgrade: websocket"과 무작위 키(Sec-WebSocket-Key)를 보내면, 서버는
# 101 Switching Protocols와 그 키로 계산한 Sec-WebSocket-Accept를 돌려줍니다.
# 이 계산으로 클라이언트는 상대가 WebSocket을 정말 이해하는 서버임을 확인합니다.
# 그 뒤 같은 TCP 연결에서는 HTTP가 아니라 프레임(frame)이 오갑니다.
# - 첫 바이트: FIN 비트 + 종류(opcode). 0x81은 마지막 조각인 텍스트(1), 0x82는
#   이진(2)입니다. 그 밖에 닫기(8), ping(9), pong(10)이 있습니다.
# - 둘째 바이트: 마스크 비트 + 길이. 클라이언트가 보내는 프레임은 반드시 4바이트
#   키로 마스킹(XOR)합니다. 중간 프록시의 캐시를 속이는 공격을 막기 위해서입니다.
# - 텍스트 프레임은 UTF-8이어야 하며 Python에서 str로, 이진 프레임은 bytes로 받습니다.
# 닫을 때는 종료 코드(close code)와 짧은 이유를 담은 닫기 프레임을 주고받습니다.
# websockets는 프로토콜을 입출력 없는(sans-I/O) 객체로도 제공합니다.
# ClientProtocol과 ServerProtocol에 바이트를 넣고(receive_data) 보낼 바이트를
# 꺼내면(data_to_send) 네트워크 없이 두 쪽이 나누는 대화를 그대로 볼 수 있습니다.

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
    CloseCode.INTERNAL_ERROR: "서버 오류 또는 하트비트 시간 초과",
    CloseCode.SERVICE_RESTART: "서버 재시작",
    CloseCode.TRY_AGAIN_LATER: "나중에 다시 시도",
}


def accept_key(key: str) -> str:
    """Sec-WebSocket-Key로 Sec-WebSocket-Accept를 계산합니다.

    >>> accept_key("x3JJHMbDL1EzLkh9GBhXDw==")
    'HSmrc0sMlYUkAGmm5OPpG2HaGWk='
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


def show_http(speaker: str, data: bytes) -> None:
    """HTTP 요청이나 응답의 바이트를 줄 단위로 보여 줍니다."""
    print(f"{speaker} ({len(data)}바이트):")
    for line in data.decode("latin-1").split("\r\n\r\n")[0].split("\r\n"):
        print(f"  {line}")


def demo_01_what_is_websocket() -> None:
    """1절: 네트워크 없이 두 쪽의 프로토콜 객체가 주고받는 바이트를 봅니다.

    예상 출력(키, 날짜, 마스킹 키는 실행마다 다름):
        [클라이언트] 보내는 업그레이드 요청 (165바이트):
          GET /echo HTTP/1.1
          Host: 127.0.0.1:8765
          Upgrade: websocket
          Connection: Upgrade
          Sec-WebSocket-Key: ...
          Sec-WebSocket-Version: 13
        [서버] 보내는 응답 (166바이트):
          HTTP/1.1 101 Switching Protocols
          Date: ...
          Upgrade: websocket
          Connection: Upgrade
          Sec-WebSocket-Accept: ...
        Accept 검산: base64(SHA-1(키 + GUID)) = ... → 일치: True
        상태: 클라이언트 OPEN, 서버 OPEN. 이제부터는 프레임이 오갑니다.
        프레임(16진수):
          서버 → 클라이언트, 텍스트 '안녕'     81 06 ec 95 88 eb 85 95
          클라이언트 → 서버, 텍스트 '안녕'     81 86 ...
          서버 → 클라이언트, 이진 00 ff        82 02 00 ff
          (81 = FIN + 텍스트, 82 = FIN + 이진, 86 = 마스크 비트 + 길이 6,
           그 뒤 4바이트는 마스킹 키: 같은 내용도 보낼 때마다 다른 바이트가 됩니다)
        닫기 핸드셰이크:
          클라이언트 → 서버, 닫기 프레임       88 8b ...
          서버 → 클라이언트, 같은 코드로 답함  88 0b 03 e8 ...
          서버는 답한 뒤 TCP를 닫습니다(data_to_send()의 마지막 b'').
          클라이언트가 본 종료: 1000 정상 종료, 이유 '안녕히'
        종료 코드(CloseCode):
          1000 정상 종료
          ...
          1013 나중에 다시 시도
    """
    client = ClientProtocol(parse_uri(f"ws://{DEFAULT_HOST}:{DEFAULT_PORT}/echo"))
    server = ServerProtocol()
    client.send_request(client.connect())
    request_bytes = b"".join(client.data_to_send())  # TCP로 나갈 바이트 그대로
    show_http("[클라이언트] 보내는 업그레이드 요청", request_bytes)
    server.receive_data(request_bytes)
    (request,) = [e for e in server.events_received() if isinstance(e, Request)]
    server.send_response(server.accept(request))  # 키를 검사하고 101을 만듭니다
    response_bytes = b"".join(server.data_to_send())
    show_http("[서버] 보내는 응답", response_bytes)
    client.receive_data(response_bytes)
    (response,) = [e for e in client.events_received() if isinstance(e, Response)]
    expected = accept_key(request.headers["Sec-WebSocket-Key"])
    same = expected == response.headers["Sec-WebSocket-Accept"]
    print(f"Accept 검산: base64(SHA-1(키 + GUID)) = {expected} → 일치: {same}")
    print(f"상태: 클라이언트 {client.state.name}, 서버 {server.state.name}. ", end="")
    print("이제부터는 프레임이 오갑니다.")
    print("프레임(16진수):")
    for label, sender, send, payload in (
        ("서버 → 클라이언트, 텍스트 '안녕'", server, server.send_text, "안녕".encode()),
        ("클라이언트 → 서버, 텍스트 '안녕'", client, client.send_text, "안녕".encode()),
        ("서버 → 클라이언트, 이진 00 ff", server, server.send_binary, bytes([0, 255])),
    ):
        send(payload)
        print(f"  {pad(label, 34)} {b''.join(sender.data_to_send()).hex(' ')}")
    print("  (81 = FIN + 텍스트, 82 = FIN + 이진, 86 = 마스크 비트 + 길이 6,")
    print("   그 뒤 4바이트는 마스킹 키: 같은 내용도 보낼 때마다 다른 바이트가 됩니다)")
    print("닫기 핸드셰이크:")
    client.send_close(CloseCode.NORMAL_CLOSURE, "안녕히")
    closing = b"".join(client.data_to_send())
    print(f"  {pad('클라이언트 → 서버, 닫기 프레임', 34)} {closing.hex(' ')}")
    server.receive_data(closing)  # 서버는 닫기 프레임을 받으면 자동으로 답합니다
    reply, end_of_tcp = server.data_to_send()  # b'': "이제 TCP를 닫으라"는 표시
    print(f"  {pad('서버 → 클라이언트, 같은 코드로 답함', 34)} {reply.hex(' ')}")
    client.receive_data(reply)
    client.receive_eof()  # 서버가 TCP를 닫음
    print(f"  서버는 답한 뒤 TCP를 닫습니다(data_to_send()의 마지막 {end_of_tcp!r}).")
    seen = close_text(client.close_code, client.close_reason)
    print(f"  클라이언트가 본 종료: {seen}")
    print("종료 코드(CloseCode):")
    for code in CLOSE_MEANINGS:
        print(f"  {close_text(code)}")


# =============================================================================
# 2. 에코 서버와 클라이언트
# =============================================================================
# 가장 작은 WebSocket 서버는 websockets의 example/asyncio/echo.py와 같습니다.
# - 핸들러는 연결 하나마다 태스크로 실행되며, 인자를 하나(연결 객체)만 받습니다.
# - 받기는 `async for message in websocket`이 가장 간단합니다. 상대가 정상적으로
#   닫으면(1000, 1001) 반복이 조용히 끝나고, 그 밖의 종료는 예외로 알려 줍니다(3절).
# - serve(핸들러, 호스트, 포트)를 async with로 열고 serve_forever()로 기다립니다.
#   이 태스크를 취소하면(Ctrl+C) serve_forever()가 서버를 닫고 끝납니다.
# 클라이언트는 `async with connect(uri) as websocket`입니다. 블록을 나가면 1000으로
# 닫습니다. 3절부터는 이 서버를 한 절에 하나씩 단단하게 만듭니다.


async def echo(websocket: ServerConnection) -> None:
    """에코 핸들러: 받은 메시지를 그대로 돌려줍니다."""
    async for message in websocket:
        await websocket.send(message)  # await 필수: 보낼 자리가 날 때까지 기다림


async def echo_server(host: str, port: int) -> None:
    """가장 작은 서버: 취소될 때까지 연결을 받아 echo()에 넘깁니다."""
    async with serve(echo, host, port) as server:
        await server.serve_forever()


async def exchange(uri: str, messages: list[str]) -> list[str]:
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
    """2절: serve(echo, 호스트, 포트)와 async for, connect()와 async with.

    예상 출력(포트와 시간은 실행마다 다름):
        [서버] echo_server(): ws://127.0.0.1:39721 에서 기다립니다
        [클라이언트] >>> 안녕하세요
        [클라이언트] <<< 안녕하세요
        [클라이언트] >>> WebSocket은 양방향입니다
        [클라이언트] <<< WebSocket은 양방향입니다
        [클라이언트] >>> 세 번째
        [클라이언트] <<< 세 번째
        왕복 3번, 보낸 것과 받은 것이 같음: True (2.5ms)
        [서버] 태스크를 취소하자 serve_forever()가 서버를 닫고 끝났습니다
    """
    with socket.create_server((DEFAULT_HOST, 0)) as sock:  # 비어 있는 포트 하나
        port = sock.getsockname()[1]
    server = asyncio.create_task(echo_server(DEFAULT_HOST, port))
    await asyncio.sleep(0.1)  # 서버 태스크가 포트를 열 차례를 줍니다
    print(f"[서버] echo_server(): ws://{DEFAULT_HOST}:{port} 에서 기다립니다")
    sent = ["안녕하세요", "WebSocket은 양방향입니다", "세 번째"]
    start = time.perf_counter()
    received = await exchange(f"ws://{DEFAULT_HOST}:{port}", sent)
    elapsed, same = seconds(time.perf_counter() - start), received == sent
    print(f"왕복 {len(received)}번, 보낸 것과 받은 것이 같음: {same} ({elapsed})")
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
    print("[서버] 태스크를 취소하자 serve_forever()가 서버를 닫고 끝났습니다")


# =============================================================================
# 3. 연결 관리: 등록부, 입장과 퇴장, 정리
# =============================================================================
# 서버는 "지금 누가 연결되어 있는지"를 알아야 브로드캐스트도 하고 인원도 셉니다.
# 연결이 열리면 등록부(registry)에 넣고, 어떻게 끝나든 finally에서 뺍니다.
# 끝나는 방식은 두 예외로 구분됩니다.
# - ConnectionClosedOK: 상대가 1000, 1001 또는 코드 없이(1005) 인사하고 닫음
# - ConnectionClosedError: 그 밖의 코드, 또는 닫기 프레임 없이 끊김(1006:
#   프로세스가 죽거나, 네트워크가 끊기거나, 상대가 TCP를 그냥 닫은 경우)
# 핸들러는 인자를 하나만 받으므로 등록부와 경로별 처리는 functools.partial로 묶습니다.
# 2절의 echo는 이진 메시지도 돌려주었지만, 이 서버는 텍스트만 받습니다: 이진
# 프레임이 오면 1003(받을 수 없는 종류)으로 닫습니다(text_messages).
# 경고: 서버 기록에는 클라이언트가 보낸 글자(경로, Origin, 종료 이유)가 섞입니다.
#       ESC(\x1b)나 C1 제어 문자(\x9b)를 그대로 찍으면 운영자의 터미널 화면을
#       지우거나 가짜 기록 줄을 만들 수 있습니다. 그래서 기록을 쓰는 한 곳
#       (server_log)에서 제어 문자를 \x1b처럼 보이는 글자로 바꿉니다. 콘솔이 못
#       쓰는 글자(cp949 밖의 이모지)도 \U0001f600처럼 바꿔, 기록 때문에 죽지 않습니다.

RoomHandler = Callable[[ServerConnection, set[ServerConnection]], Awaitable[None]]


def printable(text: str) -> str:
    r"""제어 문자와 보이지 않는 문자를 \x1b처럼 눈에 보이는 글자로 바꿉니다.

    >>> printable("/nope\x1b[2J\x9b 안녕")
    '/nope\\x1b[2J\\x9b 안녕'
    """
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def server_log(line: str) -> None:
    """[서버] 한 줄. 출력을 읽던 쪽(`| head`)이 먼저 끝나도 서버는 계속 돕니다."""
    encoding = sys.stdout.encoding or "utf-8"
    safe = printable(line).encode(encoding, "backslashreplace").decode(encoding)
    try:
        print(f"[서버] {safe}")
    except BrokenPipeError:  # main()과 같은 처리: 이후 출력은 버립니다
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
    """요청 경로에서 쿼리 문자열(?...)을 뗍니다(어떤 경로에도 예외를 내지 않음).

    >>> route("/echo?name=a"), route("//[")
    ('/echo', '//[')
    """
    return path.split("?", 1)[0]


async def text_messages(websocket: ServerConnection) -> AsyncIterator[str]:
    """텍스트 메시지만 하나씩 내줍니다. 이진 프레임이 오면 1003으로 닫고 끝냅니다."""
    async for message in websocket:
        if isinstance(message, bytes):
            await websocket.close(CloseCode.UNSUPPORTED_DATA, "텍스트만 받습니다")
            return
        yield message


async def echo_text(websocket: ServerConnection, room: set[ServerConnection]) -> None:
    """/echo: 2절의 echo와 같되 텍스트만 받습니다(방은 쓰지 않음)."""
    async for message in text_messages(websocket):
        await websocket.send(message)


async def handle_client(
    websocket: ServerConnection, registry: Registry, handlers: dict[str, RoomHandler]
) -> None:
    """연결 하나를 처리합니다: 등록, 경로별 처리, 퇴장 기록과 정리."""
    request = websocket.request  # 핸드셰이크를 마친 연결에는 늘 있습니다
    path, who = route(request.path if request else "/"), peer(websocket)
    handler = handlers.get(path)
    if handler is None:  # 7절부터는 핸드셰이크 전에 404로 거절합니다
        await websocket.close(CloseCode.POLICY_VIOLATION, "없는 경로")
        return
    room = registry.join(path, websocket)
    server_log(f"입장 {who} → {path} (지금 연결 {len(registry)}개)")
    ending = ""
    try:
        await handler(websocket, room)
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
            f"퇴장 {who} ({path}): {ending} "
            f"(ConnectionClosed{kind}, 남은 연결 {len(registry)}개)"
        )


ECHO_ONLY: dict[str, RoomHandler] = {"/echo": echo_text}  # 3~6절 데모 서버의 경로


def room_server(registry: Registry) -> Callable[[ServerConnection], Awaitable[None]]:
    """serve()에 넘기는 인자 하나짜리 핸들러: 등록부와 경로(/echo)를 묶습니다."""
    return functools.partial(handle_client, registry=registry, handlers=ECHO_ONLY)


async def demo_03_connections() -> None:
    """3절: 등록부와 입장·퇴장, 인사하고 닫기와 인사 없이 끊기.

    예상 출력(포트는 실행마다 다름):
        [서버] 입장 127.0.0.1:50112 → /echo (지금 연결 1개)
        [서버] 입장 127.0.0.1:50114 → /echo (지금 연결 2개)
        등록부: {'/echo': 2}
        [클라이언트 A] close(reason='안녕히 계세요')로 인사하고 닫습니다
        [서버] 퇴장 127.0.0.1:50112 (/echo): 1000 ... (ConnectionClosedOK, ...)
        [클라이언트 B] transport.abort(): 인사 없이 TCP를 끊습니다
        [서버] 퇴장 127.0.0.1:50114 (/echo): 1006 ... (ConnectionClosedError, ...)
        등록부: {'/echo': 0}
    """
    registry = Registry()

    def census() -> dict[str, int]:
        return {path: len(room) for path, room in registry.rooms.items()}

    async with running(serve(room_server(registry), DEFAULT_HOST, 0)) as base:
        polite = await connect(f"{base}/echo")
        await wait_until(lambda: len(registry) == 1)  # 입장 줄이 차례대로 나오게
        rude = await connect(f"{base}/echo")
        await wait_until(lambda: len(registry) == 2)
        print(f"등록부: {census()}")
        print("[클라이언트 A] close(reason='안녕히 계세요')로 인사하고 닫습니다")
        await polite.close(reason="안녕히 계세요")
        await wait_until(lambda: len(registry) == 1)
        print("[클라이언트 B] transport.abort(): 인사 없이 TCP를 끊습니다")
        rude.transport.abort()
        await wait_until(lambda: len(registry) == 0)
        await rude.wait_closed()
        print(f"등록부: {census()}")


# =============================================================================
# 4. 브로드캐스트와 백프레셔: 쓰기 버퍼에 한도 두기
# =============================================================================
# 백프레셔(backpressure)는 받는 쪽이 느릴 때 보내는 쪽을 늦추는 흐름 제어입니다.
# 연결마다 쓰기 버퍼(아직 소켓으로 나가지 못한 바이트)가 있습니다. send()는 프레임을
# 버퍼에 넣은 뒤, 버퍼가 상한(write_limit, 기본 32 KiB)을 넘었으면 버퍼가 하한
# (기본은 상한의 1/4인 8 KiB)까지 줄어들 때까지 기다립니다. 버퍼가 다 비기를
# 기다리는 것이 아니며, 상한 아래라면 기다리지 않고 바로 돌아옵니다.
# - gather(*(ws.send(m) for ws in 방)): 모두의 send()가 끝나기를 기다리므로 읽지
#   않는 클라이언트 하나가 방 전체를 멈춥니다. 메시지마다 태스크도 N개 만듭니다.
# - broadcast(방, m): 기다리지 않고 각 연결의 버퍼에 바로 씁니다. 빠르고 느린 하나가
#   다른 사람을 막지 않는 대신, 백프레셔가 전혀 없어 느린 연결의 버퍼가 끝없이 큽니다.
# 기다리지 않고 버퍼에 쓰는 길은 하나 더 있습니다. 라이브러리는 받은 ping마다 pong을
# 자동으로 씁니다. 읽지 않으면서 ping만 퍼붓는 클라이언트에게는 pong이 쌓여, 에코
# 핸들러가 send()를 기다리든 말든 서버 메모리가 끝없이 늘어납니다.
# 그래서 버퍼에 넣는 바로 그 자리에서 한도(WRITE_BUFFER_LIMIT)를 검사합니다.
# - broadcast 직전: relay_to_room()이 한도를 넘은 연결을 빼고 끊습니다.
# - 받은 데이터를 처리한 직후(pong, 닫기 프레임의 답): BoundedConnection.data_received
# 끊을 때는 transport.abort()입니다. 1008 닫기 프레임을 보내도 가득 찬 버퍼 뒤에
# 줄을 설 뿐이라 상대에게 닿지 않습니다.
# 참고: 몇 초마다 모든 연결을 훑는 감시 태스크는 한도가 아닙니다. 검사와 검사 사이에
#       쌓이는 양에는 상한이 없고(빠른 송신자는 1초에 수십 MiB를 쌓습니다), 이벤트
#       루프가 바쁠수록 감시 태스크 자신이 늦게 돌기 때문입니다. 쌓이는 순간 검사해야
#       "연결 하나가 차지할 수 있는 메모리"를 말할 수 있습니다.
# 경고: 받아 둔 메시지가 있으면 `async for`(recv)는 기다리지 않고 바로 돌려주므로,
#       그동안 이 태스크는 이벤트 루프에 차례를 넘기지 않습니다(await가 늘 멈추지는
#       않음, 01 레슨). 방에 N명이면 메시지 하나가 쓰기 N번이라, 수천 개가 쌓이면
#       몇 초 동안 시그널도 시간제한도 다른 연결도 멈춥니다. 그래서 relay_to_room()은
#       메시지 하나를 보낼 때마다 asyncio.sleep(0)으로 차례를 넘깁니다.
# 보낸 사람도 방에 있으므로 자기 메시지를 한 번 받습니다(서버가 받았다는 확인).

FANOUT_MESSAGES = 400  # 4절: 방에 보내는 메시지 수
FANOUT_SIZE = 1024  # 4절: 메시지 하나의 크기(바이트)
FANOUT_LIMIT = 2.0  # 4절: 멈춘 보내기를 포기하는 시간제한(초)
PING_BATCH = 100  # 4절: 읽지 않는 클라이언트가 한 번에 쓰는 ping 프레임 수


def drop_if_backlogged(websocket: ServerConnection) -> bool:
    """쓰기 버퍼가 한도를 넘었으면 연결을 끊고 True를 돌려줍니다."""
    backlog = websocket.transport.get_write_buffer_size()
    if backlog <= WRITE_BUFFER_LIMIT:
        return False
    server_log(
        f"쓰기 버퍼 {backlog:,}바이트 > 한도 {WRITE_BUFFER_LIMIT:,}바이트: "
        f"읽지 않는 클라이언트 {peer(websocket)}을(를) 끊습니다"
    )
    websocket.transport.abort()  # 버퍼를 버리고 바로 닫음(1008은 버퍼 뒤에 섬)
    return True


class BoundedConnection(ServerConnection):
    """pong과 닫기 프레임의 답에도 한도를 두는 연결(serve(create_connection=...))."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # 여기서 라이브러리가 ping마다 pong을 씁니다
        drop_if_backlogged(self)


async def relay_to_room(
    websocket: ServerConnection, room: set[ServerConnection]
) -> None:
    """/broadcast: 받은 텍스트를 방의 모두(보낸 사람 포함)에게 보냅니다."""
    async for message in text_messages(websocket):  # 보내기 직전에 한도를 검사
        broadcast([ws for ws in room if not drop_if_backlogged(ws)], message)
        await asyncio.sleep(0)  # 쌓인 메시지가 많아도 차례를 넘깁니다(위 경고)


async def stalled_socket(host: str, port: int) -> socket.socket:
    """먼 곳의 클라이언트처럼 버퍼가 작은 소켓(루프백의 기본 버퍼는 수 MiB입니다)."""
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
        port = server_port(server)
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
                        if strategy == "broadcast":  # 기다리지 않고 버퍼에 씀
                            broadcast(room, payload)
                        else:  # 모두의 send()가 끝나기를 기다림
                            sends = (ws.send(payload) for ws in room)
                            await asyncio.gather(*sends, return_exceptions=True)
                        sent += 1
            elapsed = time.perf_counter() - start
            backlog = max(ws.transport.get_write_buffer_size() for ws in room)
        finally:
            for connection in (*room, *fast, slow):
                connection.transport.abort()  # 쌓인 버퍼를 버리고 바로 닫음
    return sent, counts, elapsed, backlog


async def ping_flood(port: int, registry: Registry) -> int:
    """읽지 않으면서 ping만 퍼붓습니다. 서버가 끊을 때까지 보낸 ping 수를 돌려줍니다."""
    sock = await stalled_socket(DEFAULT_HOST, port)
    uri = f"ws://{DEFAULT_HOST}:{port}/echo"
    transport = (await connect(uri, sock=sock, ping_interval=None)).transport
    transport.pause_reading()  # pong을 읽지 않습니다
    await wait_until(lambda: len(registry) == 1)  # 입장 줄이 먼저 나오게
    print("[클라이언트 C] pong을 읽지 않으면서 ping만 보냅니다")
    pings, sent = Frame(Opcode.PING, b"x" * 125).serialize(mask=True) * PING_BATCH, 0
    async with asyncio.timeout(30):
        while len(registry) == 1:  # 서버의 핸들러가 끝날 때까지
            if not transport.is_closing() and transport.get_write_buffer_size() < 65536:
                transport.write(pings)  # 라이브러리를 거치지 않은 날 바이트
                sent += PING_BATCH
            await asyncio.sleep(0)  # 같은 루프의 서버가 읽을 차례
    transport.abort()
    return sent


async def demo_04_broadcast() -> None:
    """4절: gather(send)와 broadcast(), 그리고 읽지 않으면서 ping만 보내는 클라이언트.

    예상 출력(포트, 시간, 버퍼 크기는 실행마다 다름):
        빠른 클라이언트 3개 + 읽지 않는 클라이언트 1개, 1,024바이트 메시지 400개
        gather(send): 164번째 메시지에서 멈춤, 빠른 클라이언트가 받은 수 [164, 164, 164]
                      걸린 시간 2.00초(시간제한), 느린 연결의 버퍼 33,784바이트
        broadcast() : 400개 모두 보냄, 빠른 클라이언트가 받은 수 [400, 400, 400]
                      걸린 시간 14.1ms, 느린 연결의 버퍼 351,688바이트
        → gather는 가장 느린 연결에 맞춰 멈추고, broadcast는 그 연결의 버퍼를
          키웁니다. 이 서버는 1,048,576바이트를 넘으면 끊습니다.
        [서버] 입장 127.0.0.1:50120 → /echo (지금 연결 1개)
        [클라이언트 C] pong을 읽지 않으면서 ping만 보냅니다
        [서버] 쓰기 버퍼 1,056,640바이트 > 한도 1,048,576바이트: 읽지 않는 ... 끊습니다
        [서버] 퇴장 127.0.0.1:50120 (/echo): 1006 ... (ConnectionClosedError, ...)
        [클라이언트 C] ping 21,300개를 보낸 뒤 서버가 끊었습니다 (412.5ms)
    """
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
    print(f"  키웁니다. 이 서버는 {WRITE_BUFFER_LIMIT:,}바이트를 넘으면 끊습니다.")
    registry = Registry()
    async with serve(
        room_server(registry), DEFAULT_HOST, 0, create_connection=BoundedConnection
    ) as server:
        start = time.perf_counter()
        pings = await ping_flood(server_port(server), registry)
        took = seconds(time.perf_counter() - start)
    print(f"[클라이언트 C] ping {pings:,}개를 보낸 뒤 서버가 끊었습니다 ({took})")


# =============================================================================
# 5. 하트비트: ping, pong, 왕복 시간, 1011
# =============================================================================
# TCP는 상대가 사라져도(전원이 꺼지거나 와이파이가 끊겨도) 한참 동안 모릅니다.
# 그래서 websockets는 하트비트(heartbeat, websockets 문서의 keepalive)로
# ping_interval초마다 ping 프레임을 보내고, ping_timeout초 안에 pong이 오지 않으면
# 1011 "keepalive ping timeout"으로 연결을 끊습니다.
# pong은 라이브러리가 알아서 보냅니다. 단, 이벤트 루프가 돌아야 보낼 수 있습니다.
# 그래서 1011의 흔한 원인은 네트워크가 아니라 "막힌 이벤트 루프"입니다. 코루틴 안의
# 무거운 계산이나 블로킹 호출(01 레슨)이 pong을 보내지 못하게 합니다.
# - `pong = await websocket.ping()`은 ping을 보내고 퓨처를 받습니다.
#   `await pong`의 결과가 왕복 시간(RTT, 초)입니다.
# - websocket.latency: 하트비트가 마지막으로 잰 왕복 시간(초)
# 경고: 하트비트는 "읽지 않는" 클라이언트를 쫓아내지 못합니다. 서버의 ping이 가득 찬
#       쓰기 버퍼 뒤에 줄을 서기 때문입니다. 그 일은 4절의 쓰기 버퍼 한도가 합니다.

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


async def demo_05_heartbeat() -> None:
    """5절: ping 왕복 시간, latency, 막힌 이벤트 루프가 부르는 1011.

    예상 출력(포트와 시간은 실행마다 다름):
        서버 설정: ping_interval=0.2초, ping_timeout=0.3초 (기본은 20초, 20초)
        [서버] 입장 127.0.0.1:36032 → /echo (지금 연결 1개)
        [클라이언트 A] websocket.ping() 왕복 시간: 152μs, 61μs, 48μs
        [서버] 하트비트가 잰 왕복 시간(websocket.latency): 201μs
        [서버] 퇴장 127.0.0.1:36032 (/echo): 1000 정상 종료 (ConnectionClosedOK, ...)
        [클라이언트 B] 연결한 뒤 이벤트 루프를 1.0초 막습니다
        [서버] 입장 127.0.0.1:36042 → /echo (지금 연결 1개)
        [서버] 퇴장 ... 서버가 보낸 1011 ... 'keepalive ping timeout' ...
        [클라이언트 B] 루프가 풀린 뒤(1.00초)에야 알게 된 종료: 1011 ...
    """
    registry = Registry()
    server = serve(
        room_server(registry),
        DEFAULT_HOST,
        0,
        create_connection=BoundedConnection,
        ping_interval=DEMO_PING_INTERVAL,
        ping_timeout=DEMO_PING_TIMEOUT,
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
            await asyncio.sleep(3 * DEMO_PING_INTERVAL)  # 하트비트가 돌게 둡니다
            (on_server,) = registry.rooms["/echo"]
            latency = seconds(on_server.latency)
            server_log(f"하트비트가 잰 왕복 시간(websocket.latency): {latency}")
        await wait_until(lambda: len(registry) == 0)
        print(f"[클라이언트 B] 연결한 뒤 이벤트 루프를 {FREEZE}초 막습니다")
        start = time.perf_counter()
        frozen = frozen_client(f"{base}/echo", FREEZE)
        closed = await asyncio.to_thread(asyncio.run, frozen)  # 자기 스레드, 자기 루프
        elapsed = seconds(time.perf_counter() - start)
        await wait_until(lambda: len(registry) == 0)  # 서버의 퇴장 줄이 먼저 나오게
        print(f"[클라이언트 B] 루프가 풀린 뒤({elapsed})에야 알게 된 종료: {closed}")


# =============================================================================
# 6. 한계: 메시지 크기, 핸드셰이크 시간제한, 정원
# =============================================================================
# 인터넷에 열린 서버는 누구든 무엇이든 보낸다고 보고, 연결 하나와 연결 수에 한도를
# 둡니다.
# - max_size: 받는 메시지 하나의 상한. 넘으면 1009로 닫습니다(기본 1 MiB).
# - open_timeout: TCP만 열고 핸드셰이크를 끝내지 않는 연결을 이 시간 뒤 끊습니다.
# - 텍스트만 받는 곳의 이진 프레임은 1003(3절), UTF-8이 아닌 텍스트는 1007, 망가진
#   프레임은 1002입니다. 1007과 1002는 라이브러리가 처리합니다.
# - 정원(--max-clients): 연결 하나가 붙잡을 수 있는 메모리는 받는 쪽(max_size ×
#   max_queue = 64 KiB × 16 = 1 MiB), 쓰기 버퍼 한도(1 MiB, 4절), 압축 상태(약
#   64 KiB)를 더한 정도입니다. 정원 × 이 값이 서버가 견뎌야 할 최악의 메모리입니다.
#   정원을 넘는 연결은 핸드셰이크에서 503으로 거절합니다. 이때 핸드셰이크 중인
#   연결도 셉니다: 요청을 보내지 않고 TCP만 열어 둔 연결도 소켓과 메모리를 차지하기
#   때문입니다(open_timeout이 지나면 풀립니다).
# TCP 연결은 생기는 순간(connection_made)부터 끊기는 순간(connection_lost)까지
# 셉니다. 4절의 BoundedConnection을 한 번 더 상속합니다. 8절의 종료도 이 목록으로
# "아직 닫히지 않은 연결"을 찾습니다.

DEMO_OPEN_TIMEOUT = 0.5  # 6절: 핸드셰이크 시간제한을 빨리 보이게 줄인 값(초)


class CountedConnection(BoundedConnection):
    """서버마다 열린 TCP 연결을 셉니다(핸드셰이크 중인 연결 포함)."""

    open_connections: ClassVar[defaultdict[Server, set[CountedConnection]]] = (
        defaultdict(set)
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.open_connections[self.server].add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections[self.server].discard(self)
        super().connection_lost(exc)


def refuse_when_full(
    connection: ServerConnection, request: Request, *, max_clients: int
) -> Response | None:
    """process_request: 정원을 넘었으면 503으로 거절합니다(None이면 계속)."""
    if len(CountedConnection.open_connections[connection.server]) <= max_clients:
        return None
    text = f"정원({max_clients:,}명)이 찼습니다. 잠시 뒤 다시 접속하세요.\n"
    return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, text)


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


async def demo_06_limits() -> None:
    """6절: open_timeout, 정원(503), max_size(1009), 이진(1003), 깨진 UTF-8(1007).

    예상 출력(포트와 시간은 실행마다 다름):
        서버 설정: max_size=65,536바이트, open_timeout=0.5초, 정원 2명
        [클라이언트] TCP만 열고 핸드셰이크 없음 → 서버가 500.9ms 뒤 끊음
        [클라이언트] TCP만 연 연결 2개로 정원이 찬 뒤 접속 → HTTP 503 '정원...'
        [서버] 입장 127.0.0.1:50120 → /echo (지금 연결 1개)
        [서버] 퇴장 127.0.0.1:50120 (/echo): 서버가 보낸 1009 ... (...)
        [클라이언트] 65,537바이트 텍스트 → 닫힘 1009 메시지가 너무 큼, 이유 '...'
        ...
        [클라이언트] 이진 프레임 00 ff → 닫힘 1003 받을 수 없는 종류(...) ...
        ...
        [클라이언트] UTF-8이 아닌 텍스트 프레임 ff fe → 닫힘 1007 잘못된 ...
        ...
        [클라이언트] 그 뒤에도 서버는 정상: '안녕' → 답 '안녕'
    """
    registry = Registry()
    server = serve(
        room_server(registry),
        DEFAULT_HOST,
        0,
        create_connection=CountedConnection,
        process_request=functools.partial(refuse_when_full, max_clients=2),
        max_size=MAX_SIZE,
        open_timeout=DEMO_OPEN_TIMEOUT,
    )
    async with running(server) as base:
        port, limit = server_port(server), DEMO_OPEN_TIMEOUT
        print(
            f"서버 설정: max_size={MAX_SIZE:,}바이트, open_timeout={limit}초, 정원 2명"
        )
        waited = seconds(await silent_connection(DEFAULT_HOST, port))
        print(f"[클라이언트] TCP만 열고 핸드셰이크 없음 → 서버가 {waited} 뒤 끊음")
        idle = [await asyncio.open_connection(DEFAULT_HOST, port) for _ in range(2)]
        try:
            async with connect(f"{base}/echo"):
                print("[클라이언트] 정원이 찼는데 연결됨(거절되어야 합니다!)")
        except InvalidStatus as exc:
            answer = f"HTTP {exc.response.status_code} {exc.response.body.decode()!r}"
            print(f"[클라이언트] TCP만 연 연결 2개로 정원이 찬 뒤 접속 → {answer}")
        for _, writer in idle:
            writer.close()
        await wait_until(lambda: not CountedConnection.open_connections[server])
        for label, payload, text in (
            (f"{MAX_SIZE + 1:,}바이트 텍스트", "x" * (MAX_SIZE + 1), None),
            ("이진 프레임 00 ff", bytes([0, 255]), None),
            ("UTF-8이 아닌 텍스트 프레임 ff fe", bytes([255, 254]), True),
            ("그 뒤에도 서버는 정상: '안녕'", "안녕", None),
        ):
            outcome = await outcome_of(f"{base}/echo", payload, text=text)
            await wait_until(lambda: len(registry) == 0)  # 서버의 퇴장 줄이 먼저
            print(f"[클라이언트] {label} → {outcome}")


# =============================================================================
# 7. HTTP 단계의 검사: 상태 확인, 경로, Origin, 헤더
# =============================================================================
# WebSocket 연결도 HTTP 요청으로 시작하므로, 업그레이드하기 전에 HTTP로 답할 수
# 있습니다. serve()의 두 갈고리를 씁니다.
# - process_request(connection, request): 핸드셰이크 전에 요청을 봅니다. 응답을
#   돌려주면 WebSocket 대신 평범한 HTTP로 답하고(상태 확인 200, 겹친 헤더 400,
#   없는 경로 404, 정원 초과 503), None이면 핸드셰이크를 계속합니다. 상태 확인은
#   정원이 차도 답합니다: 바쁜 서버를 배포 도구가 죽은 것으로 보고 재시작하지 않게.
# - origins: 브라우저는 WebSocket 요청마다 페이지의 출처(Origin)를 붙입니다.
#   WebSocket에는 CORS가 없어서, 검사하지 않으면 아무 웹사이트의 스크립트가 방문자의
#   쿠키를 들고 우리 서버에 접속합니다(교차 사이트 WebSocket 탈취, CSWSH).
#   허용 목록에 없는 Origin은 403입니다. 기본값 None은 "검사 안 함"입니다!
# - process_response(connection, request, response): 응답을 보내기 직전에 봅니다.
#   여기서는 거절을 기록하고, 라이브러리가 만든 영어 거절문을 한국어로 바꿉니다.
# 두 갈고리가 예외를 내면 라이브러리는 500과 트레이스백을 남깁니다. 그래서 어떤
# 요청에도 예외를 내지 않게 씁니다. 한 번만 와야 하는 헤더(Host, Origin ...)가 두 번
# 오면 request.headers["Origin"]은 MultipleValuesError를 냅니다. 헤더는 get_all()로
# 읽고, 두 번 온 헤더는 400으로 거절합니다(어느 값을 믿을지 정할 수 없습니다).
# 이제 서버의 마지막 조각이 모였습니다: lesson_server()가 server 모드의 서버입니다.

ALLOWED_ORIGINS: list[Origin | re.Pattern[str] | None] = [  # Origin 허용 목록
    None,  # Origin 헤더가 없는 클라이언트(Python, Node, curl: 브라우저가 아님)
    re.compile(r"https?://(localhost|127\.0\.0\.1)(:\d+)?"),  # 이 컴퓨터의 페이지
]
SINGLE_HEADERS = ("Host", "Origin", "Sec-WebSocket-Key", "Sec-WebSocket-Version")
ROUTES: dict[str, RoomHandler] = {"/echo": echo_text, "/broadcast": relay_to_room}
KOREAN_REFUSALS = {  # 라이브러리가 거절할 때 쓰는 영어 본문 대신
    400: "WebSocket 핸드셰이크 요청이 잘못되었습니다(빠졌거나 형식이 틀린 헤더).",
    403: "허용하지 않는 출처(Origin)에서 온 요청입니다.",
}


def process_request(
    connection: ServerConnection, request: Request, *, max_clients: int = MAX_CLIENTS
) -> Response | None:
    """핸드셰이크 전: 상태 확인, 겹친 헤더, 없는 경로, 정원을 HTTP로 답합니다."""
    path = route(request.path)
    if path == HEALTH_PATH:
        return connection.respond(http.HTTPStatus.OK, "ok\n")
    for name in SINGLE_HEADERS:
        if len(request.headers.get_all(name)) > 1:
            text = f"{name} 헤더가 여러 번 왔습니다. 한 번만 보내세요.\n"
            return connection.respond(http.HTTPStatus.BAD_REQUEST, text)
    if path not in ROUTES:
        known = ", ".join(ROUTES)
        text = f"{printable(path)}에는 WebSocket이 없습니다. 있는 경로: {known}\n"
        return connection.respond(http.HTTPStatus.NOT_FOUND, text)
    return refuse_when_full(connection, request, max_clients=max_clients)


def log_refusal(
    connection: ServerConnection, request: Request, response: Response
) -> Response | None:
    """응답 직전: 거절(4xx, 5xx)을 기록하고, 라이브러리의 거절문은 한국어로 바꿉니다."""
    if response.status_code < 400:
        return None
    origin = ", ".join(request.headers.get_all("Origin")) or "없음"
    why = connection.protocol.handshake_exc  # 라이브러리가 거절한 이유(있을 때만)
    server_log(
        f"거절 {peer(connection)} GET {request.path} (Origin: {origin}) → "
        f"{response.status_code} {response.reason_phrase}" + (f": {why}" if why else "")
    )
    korean = KOREAN_REFUSALS.get(response.status_code)
    if why is None or korean is None:
        return None  # process_request가 만든 한국어 응답은 그대로 보냅니다
    return connection.respond(response.status_code, korean + "\n")


def lesson_server(
    registry: Registry,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    max_clients: int = MAX_CLIENTS,
    open_timeout: float = OPEN_TIMEOUT,
) -> Server:
    """이 레슨의 서버: 3~7절의 조각을 모두 모읍니다(server 모드와 8절이 씀)."""
    return serve(
        functools.partial(handle_client, registry=registry, handlers=ROUTES),
        host,
        port,
        create_connection=CountedConnection,  # 쓰기 버퍼 한도(4절)와 연결 수(6절)
        process_request=functools.partial(process_request, max_clients=max_clients),
        process_response=log_refusal,
        origins=ALLOWED_ORIGINS,
        max_size=MAX_SIZE,
        compression=COMPRESSION,
        open_timeout=open_timeout,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
    )


async def http_get(port: int, path: str, *headers: str) -> str:
    """평범한 HTTP GET을 날것으로 보내고 '상태 줄, 본문'을 한 줄로 돌려줍니다."""
    reader, writer = await asyncio.open_connection(DEFAULT_HOST, port)
    lines = [f"GET {path} HTTP/1.1", f"Host: {DEFAULT_HOST}:{port}", *headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    response = (await reader.read()).decode()  # 서버는 답한 뒤 연결을 닫습니다
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition("\r\n\r\n")
    return f"{head.splitlines()[0]}, 본문 {body.strip()!r}"


async def demo_07_http_checks() -> None:
    """7절: /healthz, 없는 경로, 낯선 Origin, 겹친 헤더, 제어 문자가 든 경로.

    예상 출력(포트는 실행마다 다름):
        [클라이언트] GET /healthz → HTTP/1.1 200 OK, 본문 'ok'
        [서버] 거절 127.0.0.1:50400 GET /nope (Origin: 없음) → 404 Not Found
        [클라이언트] 없는 경로 /nope → HTTP/1.1 404 Not Found, 본문 '/nope에는 ...'
        [서버] 거절 ... (Origin: https://evil.example) → 403 Forbidden: ...
        [클라이언트] 낯선 Origin → HTTP/1.1 403 Forbidden, 본문 '허용하지 않는 ...'
        [서버] 거절 ... (Origin: http://localhost, https://evil.example) → 400 ...
        [클라이언트] Origin 두 개 → HTTP/1.1 400 Bad Request, 본문 'Origin 헤더가 ...'
        [서버] 거절 127.0.0.1:50406 GET /nope\\x1b[2J (Origin: 없음) → 404 Not Found
        [클라이언트] 경로에 ESC(화면 지우기) → HTTP/1.1 404 Not Found, 본문 ...
    """
    upgrade = (  # 1절에서 본 업그레이드 요청의 헤더들
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    )
    evil, local = "Origin: https://evil.example", "Origin: http://localhost"
    server = lesson_server(Registry())
    async with server:
        for label, path, headers in (
            (f"GET {HEALTH_PATH}", HEALTH_PATH, ()),
            ("없는 경로 /nope", "/nope", upgrade),
            ("낯선 Origin", "/echo", (*upgrade, evil)),
            ("Origin 두 개", "/echo", (*upgrade, local, evil)),
            ("경로에 ESC(화면 지우기)", "/nope\x1b[2J", upgrade),
        ):
            answer = await http_get(server_port(server), path, *headers)
            print(f"[클라이언트] {label} → {answer}")


# =============================================================================
# 8. 종료와 재연결
# =============================================================================
# 서버를 끌 때(Ctrl+C, 배포 도구가 보내는 SIGTERM) 연결을 그냥 끊으면 클라이언트는
# 1006(인사 없이 끊김)을 받고 무슨 일인지 모릅니다. 우아한 종료(graceful
# shutdown)는 1) 새 연결을 그만 받고 2) 열린 연결에 1001(떠남)을 보내고 3) 핸들러가
# 모두 끝나기를 기다립니다. server.close(code=1001)와 await server.wait_closed()입니다.
# 단, 3)은 상대가 닫기 프레임에 답해야 끝납니다. 읽지 않는 클라이언트, 핸드셰이크를
# 보내다 만 연결은 답하지 않으므로 기다림에 끝이 없습니다(배포 도구는 기다리다
# SIGKILL을 보내고, 그러면 아무 정리도 못 합니다). 그래서 SHUTDOWN_GRACE초까지만
# 기다리고, 그때까지 닫히지 않은 TCP 연결(6절의 CountedConnection이 셈)은 끊습니다.
# 시그널은 loop.add_signal_handler로 받아 asyncio.Event를 켭니다. Windows에서는 이
# 메서드가 동작하지 않으므로, Ctrl+C가 태스크 취소로 들어오는 길도 같은 finally를
# 거칩니다.
# 클라이언트는 `async for websocket in connect(...)`로 다시 연결합니다. 연결 "시도"가
# 실패하면(서버가 꺼져 있음, 503) 백오프하며 다시 시도합니다. 연결된 뒤 끊기면 종료
# 코드를 봅니다. "다시 해 보라"는 뜻인 1001(떠남), 1006(인사 없이 끊김), 1011(서버
# 오류), 1012(재시작), 1013(나중에)에만 다시 연결합니다. 그 밖의 종료(1000 정상
# 종료, 정책 위반인 1003, 1007, 1008, 1009)는 다시 해도 같으므로 이유를 알리고
# 끝냅니다.
# 참고: 라이브러리의 기본 백오프는 첫 재시도를 0~5초 사이 무작위로 미룹니다(RFC 6455
#       7.2.3). 여기서는 짧은 지수 백오프와 지터(01 레슨)를 reconnect_delays로 넘기고,
#       실패 이유와 기다릴 시간을 한국어로 알립니다.

DEMO_DOWNTIME = 0.5  # 8절: 서버가 꺼져 있는 시간(초)
DEMO_GRACE = 0.5  # 8절: 닫기를 기다리는 시간을 빨리 보이게 줄인 값(초)
RETRY_CODES = (1001, 1006, 1011, 1012, 1013)  # 다시 연결해 볼 종료 코드
CLOSE_ADVICE = {  # 다시 연결하지 않고 끝낼 때 덧붙이는 안내
    1000: "서버가 연결을 정상적으로 끝냈습니다.",
    1003: "이 서버는 텍스트만 받습니다.",
    1007: "UTF-8 텍스트만 보내세요.",
    1008: "서버의 규칙을 어겨 끊겼습니다. 서버 화면의 기록을 확인하세요.",
    1009: f"메시지를 {MAX_SIZE // 1024} KiB 이하로 줄여 보내세요.",
}


def stop_signal() -> asyncio.Event:
    """Ctrl+C(SIGINT)나 SIGTERM이 오면 set되는 이벤트(루프가 닫히면 처리기도 풀림)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt로
            loop.add_signal_handler(sig, stop.set)
    return stop


async def shut_down(server: Server, grace: float = SHUTDOWN_GRACE) -> None:
    """1001로 닫고 grace초까지 기다린 뒤, 그때까지 닫히지 않은 연결은 끊습니다."""
    count, start = len(server.connections), time.perf_counter()
    server.close(code=CloseCode.GOING_AWAY, reason="서버 종료")
    try:
        async with asyncio.timeout(grace):
            await server.wait_closed()
    except TimeoutError:
        stuck = list(CountedConnection.open_connections[server])
        for connection in stuck:
            connection.transport.abort()
        server_log(f"{grace}초 안에 닫히지 않은 연결 {len(stuck)}개를 끊었습니다")
        with contextlib.suppress(TimeoutError):  # 끊긴 연결의 핸들러는 곧 끝납니다
            async with asyncio.timeout(1.0):
                await server.wait_closed()
    elapsed = seconds(time.perf_counter() - start)
    server_log(f"연결 {count}개에 1001을 보내고 닫았습니다 ({elapsed})")


def close_code(exc: ConnectionClosed) -> int:
    """상대가 보낸 종료 코드. 닫기 프레임 없이 끊겼으면 1006입니다."""
    return exc.rcvd.code if exc.rcvd else CloseCode.ABNORMAL_CLOSURE


def describe_failure(exc: Exception) -> str:
    """연결이 끊기거나 연결하지 못한 이유를 한국어로.

    >>> describe_failure(ConnectionRefusedError())
    '연결 거부: 그 포트에서 기다리는 서버가 없음'
    """
    if isinstance(exc, ConnectionClosed):
        reason = exc.rcvd.reason if exc.rcvd else ""
        return f"연결이 끊김: {close_text(close_code(exc), reason)}"
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
    """재연결 규칙: 무엇을 다시 해 볼지 정하고, 지수 백오프와 지터로 기다립니다."""

    def __init__(self, uri: str, hint: str, first: float, cap: float) -> None:
        self.uri, self.hint, self.first, self.cap = uri, hint, first, cap
        self.error: Exception = ConnectionError()  # 마지막으로 실패한 이유
        self.failures = 0  # 마지막으로 연결된 뒤 실패한 횟수
        self.hinted = False  # 서버를 켜는 방법을 이미 알렸는지
        self.rng = random.Random()  # 지터는 일부러 시드 없이: 클라이언트마다 달라야 함

    def connect_forever(self) -> connect:
        """`async for websocket in ...`에 넣는, 끊기면 다시 연결하는 connect()."""
        return connect(
            self.uri,
            process_exception=self.process_exception,
            reconnect_delays=self.delays,
            close_timeout=CLOSE_TIMEOUT,
        )

    def connected(self) -> None:
        """연결될 때마다 부릅니다: 다음 끊김의 백오프를 처음부터 셉니다."""
        self.failures, self.hinted = 0, False
        print(f"[클라이언트] {self.uri}에 연결했습니다")

    def process_exception(self, exc: Exception) -> Exception | None:
        """연결 시도가 실패했을 때: 다시 시도하면 None(네트워크 오류와 5xx만)."""
        self.error = exc
        return process_exception(exc)

    def next_delay(self) -> float:
        """first, 2×first, ... cap으로 늘어나는 상한에서 절반~전부를 고르고 알립니다."""
        self.failures += 1
        delay = min(self.cap, self.first * 2 ** (self.failures - 1))
        wait = self.rng.uniform(delay / 2, delay)
        why, count = describe_failure(self.error), f"{self.failures}번째"
        line = f"[클라이언트] {why}. {wait:.1f}초 뒤 다시 연결합니다 ({count})"
        if not self.hinted and not isinstance(self.error, ConnectionClosed):
            line, self.hinted = f"{line}\n  {self.hint}", True  # 안내는 한 번만
        print(line)  # 한 번에 출력: 안내가 다음 줄과 떨어져 보이지 않게
        return wait

    def delays(self) -> Generator[float, None, None]:
        """라이브러리가 연결 시도에 실패할 때마다 꺼내 쓰는 대기 시간."""
        while True:
            yield self.next_delay()

    async def retry_after(self, exc: ConnectionClosed) -> None:
        """연결된 뒤 끊겼을 때: 다시 해 볼 종료면 기다리고, 아니면 예외를 올립니다.

        `async for` 본문에서 난 예외는 connect()에 전해지지 않으므로 본문이 정합니다.
        """
        if close_code(exc) not in RETRY_CODES:
            raise exc
        self.error = exc
        await asyncio.sleep(self.next_delay())


async def send_all(
    reconnect: Reconnector, messages: list[str], replies: list[str], pause: float = 0
) -> None:
    """차례로 보내고 답을 replies에 모읍니다. 다시 연결하면 답을 못 받은 것부터."""
    async for websocket in reconnect.connect_forever():
        reconnect.connected()
        try:
            for text in messages[len(replies) :]:
                await websocket.send(text)
                print(f"[클라이언트] >>> {text}")
                replies.append(shown(await websocket.recv()))
                print(f"[클라이언트] <<< {replies[-1]}")
                await asyncio.sleep(pause)
        except ConnectionClosed as exc:
            await reconnect.retry_after(exc)  # 다시 해 볼 종료가 아니면 여기서 올림
            continue
        await websocket.close()  # 직접 닫고 나갑니다(그러지 않으면 1011로 닫힘)
        break


async def demo_08_restart() -> None:
    """8절: 답하지 않는 연결이 있어도 시간 안에 닫고, 클라이언트는 다시 연결합니다.

    예상 출력(포트와 대기 시간은 실행마다 다름):
        [클라이언트 M] 연결만 하고 읽지 않습니다(닫기 프레임에 답하지 못함)
        [서버] 입장 127.0.0.1:44001 → /echo (지금 연결 1개)
        [서버] 입장 127.0.0.1:44002 → /echo (지금 연결 2개)
        [클라이언트] ws://127.0.0.1:44495/echo에 연결했습니다
        [클라이언트] >>> 메시지 1
        [클라이언트] <<< 메시지 1
        ...
        [서버] 0.5초 안에 닫히지 않은 연결 1개를 끊었습니다
        ...
        [서버] 연결 2개에 1001을 보내고 닫았습니다 (502.3ms)
        ...
        [서버] 같은 포트로 다시 켰습니다 (꺼져 있던 시간 501.2ms)
        ...
        [클라이언트] <<< 메시지 4
        [서버] 퇴장 127.0.0.1:44010 (/echo): 1000 정상 종료 (ConnectionClosedOK, ...)
        다시 켠 뒤 클라이언트가 돌아오기까지 152.3ms(백오프 대기 포함)
        [서버] 연결 0개에 1001을 보내고 닫았습니다 (0.8ms)
    """
    registry, replies = Registry(), list[str]()
    async with lesson_server(registry) as first:
        port = server_port(first)
        uri = f"ws://{DEFAULT_HOST}:{port}/echo"
        print("[클라이언트 M] 연결만 하고 읽지 않습니다(닫기 프레임에 답하지 못함)")
        mute = await connect(uri)
        mute.transport.pause_reading()
        hint = f"데모: 서버가 {DEMO_DOWNTIME}초 뒤 같은 포트로 다시 켜집니다."
        reconnect = Reconnector(uri, hint, 0.1, 0.4)
        sent = [f"메시지 {n}" for n in range(1, 5)]
        client = asyncio.create_task(send_all(reconnect, sent, replies, pause=0.05))
        try:
            await wait_until(lambda: len(replies) >= 2 or client.done())
            await shut_down(first, grace=DEMO_GRACE)
            down = time.perf_counter()
            await asyncio.sleep(DEMO_DOWNTIME)  # 그동안 클라이언트는 백오프하며 재시도
            async with lesson_server(registry, port=port) as second:
                restarted = time.perf_counter()
                off = seconds(restarted - down)
                server_log(f"같은 포트로 다시 켰습니다 (꺼져 있던 시간 {off})")
                await wait_until(lambda: len(registry) == 1 or client.done())
                back = seconds(time.perf_counter() - restarted)
                await client
                await wait_until(lambda: len(registry) == 0)
                print(f"다시 켠 뒤 클라이언트가 돌아오기까지 {back}(백오프 대기 포함)")
                await shut_down(second)
        finally:  # 도중에 오류로 빠져나가도 클라이언트 태스크를 남기지 않습니다
            client.cancel()
            await asyncio.gather(client, return_exceptions=True)
            mute.transport.abort()


# =============================================================================
# 실행 모드: server, client, demo
# =============================================================================
# 성능은 레슨 밖에서 잽니다: python bench/02_websocket_echo.py가 server 모드를 별도
# 프로세스로 띄우고, 가장 단순한 에코 서버(2절의 echo)와 번갈아 같은 부하를 주어
# 처리량과 지연 시간을 여러 번 잰 뒤, 두 서버의 비율을 그 퍼짐과 함께 보여 줍니다.
# 그래서 server 모드의 --host와 --port 옵션은 바꾸지 않습니다.


async def serve_until_signal(host: str, port: int, max_clients: int) -> int:
    """server 모드: 시그널이 올 때까지 서버를 돌리고 시간 안에 닫습니다."""
    try:
        server = await lesson_server(Registry(), host, port, max_clients=max_clients)
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
    print(f"[서버] WebSocket 서버가 {address}에서 기다립니다 (정원 {max_clients}명).")
    print(f"  에코          ws://{address}/echo")
    print(f"  브로드캐스트  ws://{address}/broadcast  (보낸 사람을 포함해 모두에게)")
    print(f"  상태 확인     http://{address}{HEALTH_PATH}")
    print(f"  다른 터미널에서: {PROG} client{port_option(host, port)}")
    print("  멈추려면 Ctrl+C")
    stop = stop_signal()
    try:
        await stop.wait()
        print("\n[서버] 종료 신호를 받았습니다.")
    finally:  # 시그널이든, Windows에서 Ctrl+C로 인한 취소든 같은 정리
        await shut_down(server)
    return 0


def port_option(host: str, port: int) -> str:
    """같은 서버에 붙는 명령의 옵션 부분.

    >>> port_option("127.0.0.1", 8765), port_option("0.0.0.0", 9000)
    (' --port 8765', ' --host 0.0.0.0 --port 9000')
    """
    return f"{'' if host == DEFAULT_HOST else f' --host {host}'} --port {port}"


def start_stdin_reader(lines: asyncio.Queue[str | None]) -> None:
    """표준 입력을 스레드에서 읽어 큐에 넣습니다(input()은 이벤트 루프를 멈춥니다).

    /quit이나 입력 끝(None)을 넘기면 스레드도 끝나, 메뉴의 입력을 가로채지 않습니다.
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

    threading.Thread(target=pump, name=STDIN_READER, daemon=True).start()


async def chat(reconnect: Reconnector) -> int:
    """대화형 클라이언트: 받기(끊기면 규칙대로 재연결)와 입력 보내기를 두 태스크로.

    입력은 연결과 따로 읽으므로 재연결을 기다리는 동안에도 /quit과 입력 끝이 듣습니다.
    """
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    start_stdin_reader(lines)
    current: ClientConnection | None = None  # 지금 열린 연결(끊겨 있으면 None)
    quitting = False

    async def receive() -> None:
        nonlocal current
        async for websocket in reconnect.connect_forever():
            reconnect.connected()
            print(f"  {PING_COMMAND}: 왕복 시간, {QUIT_COMMAND} 또는 입력 끝: 끝내기")
            current = websocket
            try:
                while True:
                    print(f"[클라이언트] <<< {shown(await websocket.recv())}")
            except ConnectionClosed as exc:
                current = None
                if quitting:
                    return
                await reconnect.retry_after(exc)  # 다시 해 볼 종료가 아니면 올림

    async def send() -> None:
        while (line := await lines.get()) is not None and line.strip() != QUIT_COMMAND:
            if current is None:
                print("[클라이언트] 연결되어 있지 않아 보내지 못했습니다.")
            elif line.strip() == PING_COMMAND:
                with contextlib.suppress(ConnectionClosed):  # 끊김은 receive()가 알림
                    print(
                        f"[클라이언트] 왕복 시간 {seconds(await measure_ping(current))}"
                    )
            elif line:
                with contextlib.suppress(ConnectionClosed):
                    await current.send(line)
                    print(f"[클라이언트] >>> {line}")

    receiving, sending = asyncio.create_task(receive()), asyncio.create_task(send())
    try:
        await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
        if receiving.done():
            receiving.result()  # 다시 해도 소용없는 종료와 거절을 run_client로
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


def run_client(host: str, port: int, path: str, message: str | None) -> int:
    """client 모드: 대화형, 또는 --message 하나를 보내고 답을 받고 끝냅니다."""
    uri = f"ws://{host_port(host, port)}{path}"
    hint = (
        f"서버가 켜져 있나요? 다른 터미널에서: {PROG} server{port_option(host, port)}"
    )
    reconnect = Reconnector(uri, hint, first=0.5, cap=8.0)
    try:
        if message is None:
            return asyncio.run(chat(reconnect))
        once = send_all(reconnect, [message], [])  # 8절: 보내고 답 하나를 받음
        asyncio.run(asyncio.wait_for(once, CLIENT_PATIENCE))
        return 0
    except TimeoutError:
        why = f"{CLIENT_PATIENCE:.0f}초 안에 답을 받지 못해 포기합니다"
    except ConnectionClosed as exc:  # 다시 연결해도 같은 결과일 종료
        code = close_code(exc)
        advice = CLOSE_ADVICE.get(code, "다시 연결해도 같은 결과라 끝냅니다.")
        print(f"[클라이언트] {describe_failure(exc)}. {advice}", file=sys.stderr)
        return 0 if code == CloseCode.NORMAL_CLOSURE else 1
    except InvalidStatus as exc:
        status = exc.response.status_code
        why = f"서버가 거절했습니다(HTTP {status}): " + {
            404: f"{path} 경로가 없습니다. --path는 {' 또는 '.join(ROUTES)}입니다",
            403: "Origin이 허용 목록에 없습니다",
        }.get(status, "서버 화면의 기록을 확인하세요")
    except InvalidHandshake as exc:
        why = f"{uri}의 상대가 WebSocket 서버가 아닙니다({exc})"
    except InvalidURI:
        why = f"{uri}은(는) 올바른 주소가 아닙니다"
    print(f"[클라이언트] {why}.", file=sys.stderr)
    return 1


SECTIONS: dict[int, tuple[str, Callable[[], Awaitable[None] | None]]] = {
    1: ("WebSocket이란: 핸드셰이크, 프레임, 종료 코드", demo_01_what_is_websocket),
    2: ("에코 서버와 클라이언트", demo_02_echo),
    3: ("연결 관리: 등록부, 입장과 퇴장", demo_03_connections),
    4: ("브로드캐스트와 백프레셔, 쓰기 버퍼 한도", demo_04_broadcast),
    5: ("하트비트: ping, 왕복 시간, 1011", demo_05_heartbeat),
    6: ("한계: 메시지 크기, 시간제한, 정원", demo_06_limits),
    7: ("HTTP 단계의 검사: 상태 확인, Origin, 헤더", demo_07_http_checks),
    8: ("종료와 재연결", demo_08_restart),
}


def run_demo(section: str) -> int:
    """demo 모드: 한 절 또는 전체(all)를 한 이벤트 루프에서 차례로 실행합니다."""
    numbers = list(SECTIONS) if section == "all" else [int(section)]

    async def run_all() -> None:
        start = time.perf_counter()
        for number in numbers:
            title, demo = SECTIONS[number]
            heading(number, title)
            result = demo()
            if inspect.isawaitable(result):  # 1절만 네트워크가 없어 보통 함수입니다
                await result
        if len(numbers) > 1:
            took = seconds(time.perf_counter() - start)
            print(f"\n{len(numbers)}개 절을 {took}에 마쳤습니다.")

    asyncio.run(run_all())
    return 0


# =============================================================================
# 명령줄(CLI)과 메뉴: 모든 레슨 파일이 같은 모양을 씁니다
# =============================================================================

ARGPARSE_KOREAN = (  # argparse의 영어 오류 문구 → 한국어
    (r"invalid choice: (.+?) \(choose from (.+)\)", r"\1은(는) 고를 수 없습니다 (\2)"),
    (r"unrecognized arguments: (.+)", r"알 수 없는 인자: \1"),
    (r"expected one argument", "값이 하나 필요합니다"),
    (r"^argument (\S+): ", r"\1: "),
)


class KoreanArgumentParser(argparse.ArgumentParser):
    """도움말과 오류를 한국어로 보여 주는 ArgumentParser."""

    # Any: add_parser()가 넘기는 argparse 인자를 그대로 전달합니다.
    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(add_help=False, **kwargs)
        self._positionals.title, self._optionals.title = "위치 인자", "옵션"
        self.add_argument("-h", "--help", action="help", help="이 도움말을 보여 줍니다")

    def format_usage(self) -> str:
        return super().format_usage().replace("usage:", "사용법:", 1)

    def format_help(self) -> str:
        return super().format_help().replace("usage:", "사용법:", 1)

    def error(self, message: str) -> NoReturn:
        for pattern, korean in ARGPARSE_KOREAN:
            message = re.sub(pattern, korean, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"오류: {message}\n도움말: {self.prog} --help\n")


def checked(kind: str, low: int, high: int) -> Callable[[str], int]:
    """low~high의 정수만 받는 argparse 타입(--port, PORT, --max-clients)."""

    def convert(value: str) -> int:
        if value.strip().isdecimal() and low <= int(value) <= high:
            return int(value)
        raise argparse.ArgumentTypeError(f"'{value}'은(는) {kind}가 아닙니다")

    return convert


def section_choice(value: str) -> str:
    """demo의 절 번호를 검사합니다(허용 목록: 1~8, all)."""
    value = value.strip().lower()
    if value == "all" or (value.isdecimal() and int(value) in SECTIONS):
        return value
    raise argparse.ArgumentTypeError(
        f"'{value}'은(는) 없는 절입니다. 1~{len(SECTIONS)} 또는 all 중에서 고르세요"
    )


def add_address(parser: argparse.ArgumentParser) -> None:
    """--host와 --port. 기본값은 환경 변수 HOST와 PORT가 바꿉니다."""
    host, port = os.environ.get("HOST", DEFAULT_HOST), os.environ.get("PORT")
    parser.add_argument(
        "--host", default=host, help="주소 (기본: 127.0.0.1, 환경 변수 HOST)"
    )
    parser.add_argument(
        "--port",
        type=checked("포트 번호(1~65535)", 1, 65535),
        default=port or str(DEFAULT_PORT),  # 문자열 기본값도 type으로 검사됩니다
        help=f"포트 (기본: {DEFAULT_PORT}, 환경 변수 PORT)",
    )


def build_parser() -> KoreanArgumentParser:
    """모드마다 하위 명령(subcommand)을 둔 파서를 만듭니다."""
    parser = KoreanArgumentParser(
        prog=PROG,
        description="02. WebSocket 기초. 인자 없이 실행하면 메뉴가 나옵니다.",
        epilog=(
            f"예시:\n  {PROG}                        # 메뉴\n"
            f"  {PROG} server                 # 터미널 1\n"
            f"  {PROG} client                 # 터미널 2\n"
            f"  {PROG} client --message 안녕  # 한 번 보내고 끝냄\n"
            f"  {PROG} demo 4                 # 4절만 실행\n"
        ),
    )
    modes = parser.add_subparsers(
        dest="mode", metavar="모드", help="실행할 모드 (아래 중 하나)"
    )
    server = modes.add_parser(
        "server",
        help="WebSocket 서버 (/echo, /broadcast, /healthz). Ctrl+C나 SIGTERM으로 멈춤",
        epilog=f"예시:\n  {PROG} server\n  {PROG} server --port 9000 --max-clients 100",
    )
    add_address(server)
    server.add_argument(
        "--max-clients",
        type=checked("1 이상의 정수", 1, 1_000_000),
        default=MAX_CLIENTS,
        help=f"정원: 동시 연결 수의 상한, 넘으면 503 (기본: {MAX_CLIENTS})",
    )
    client = modes.add_parser(
        "client",
        help="클라이언트 (대화형 또는 --message 한 번)",
        epilog=(
            f"예시:\n  {PROG} client\n  {PROG} client --path /broadcast\n"
            f"  {PROG} client --message 안녕   # 답을 출력하고 끝냄(스크립트용)"
        ),
    )
    add_address(client)
    client.add_argument("--path", default="/echo", help="경로 (기본: /echo)")
    client.add_argument(
        "--message", help="이 메시지 하나만 보내고 답을 받으면 끝냅니다"
    )
    sections = "\n".join(f"  {n}. {title}" for n, (title, _) in SECTIONS.items())
    demo = modes.add_parser(
        "demo",
        help=f"절을 골라 예제를 실행합니다 (1~{len(SECTIONS)} 또는 all)",
        description=f"절 번호를 주면 그 절만, all이면 전부 실행합니다.\n\n{sections}",
        epilog=f"예시:\n  {PROG} demo 4\n  {PROG} demo all",
    )
    demo.add_argument(
        "section",
        nargs="?",
        default="all",
        type=section_choice,
        help=f"절 번호 1~{len(SECTIONS)} 또는 all (기본: all)",
    )
    return parser


def run_mode(args: argparse.Namespace) -> int:
    """하위 명령을 실행합니다."""
    if args.mode == "server":
        try:
            return asyncio.run(
                serve_until_signal(args.host, args.port, args.max_clients)
            )
        except KeyboardInterrupt:  # Windows: 정리는 finally에서 이미 끝났습니다
            return 0
    if args.mode == "client":
        path = args.path if args.path.startswith("/") else f"/{args.path}"
        return run_client(args.host, args.port, path, args.message)
    return run_demo(args.section)


def ask(prompt: str) -> str:
    """input()과 같되, 프롬프트를 쓴 직후에 온 Ctrl+C도 놓치지 않습니다.

    input()은 프롬프트를 쓰고 읽기 시작하기 전까지 C 코드 안에 머물러, 그 틈의
    SIGINT는 다음 입력까지 처리되지 않습니다. print() 뒤에는 파이썬이 신호를 봅니다.
    """
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError  # 입력이 닫힘(파이프가 끝남, Ctrl+D)
    return line.rstrip("\n")


def wait_for_stdin_reader() -> None:
    """입력 스레드가 아직 읽고 있으면 Enter를 기다립니다(메뉴의 입력을 뺏기지 않게)."""
    for thread in threading.enumerate():
        if thread.name == STDIN_READER:
            thread.join(timeout=0.2)  # /quit이나 입력 끝이었다면 곧 스스로 끝납니다
            if thread.is_alive():
                print("Enter를 누르면 메뉴로 돌아갑니다.")
                thread.join()


def run_menu(parser: KoreanArgumentParser) -> int:
    """인자 없이 실행했을 때의 번호 메뉴. 각 항목은 하위 명령 하나와 같습니다."""
    entries = {str(n): (title, ["demo", str(n)]) for n, (title, _) in SECTIONS.items()}
    entries["a"] = (f"전체 실행 (1~{len(SECTIONS)}절, 약 6초)", ["demo", "all"])
    entries["s"] = ("서버 실행 (터미널 1, Ctrl+C로 메뉴로)", ["server"])
    entries["c"] = ("클라이언트 실행 (터미널 2, /quit로 메뉴로)", ["client"])
    while True:
        print("\n02. WebSocket 기초 ─ 메뉴")
        for key, (title, argv) in entries.items():
            print(f"  {key:>2}. {pad(title, 46)} ({' '.join(argv)})")
        print("   q. 종료 (0 또는 빈 줄도 종료)")
        try:
            choice = ask("번호를 고르세요 > ").strip().lower()
        except EOFError:
            print("\n입력이 끝나 종료합니다.")
            return 0
        if choice in ("", "0", "q"):
            print("종료합니다.")
            return 0
        if choice not in entries:
            keys = f"1~{len(SECTIONS)}, a, s, c, q"
            print(f"'{choice}'은(는) 메뉴에 없습니다. {keys} 중에서 골라 주세요.")
            continue
        run_mode(parser.parse_args(entries[choice][1]))
        wait_for_stdin_reader()


def main(argv: list[str] | None = None) -> int:
    """진입점: 인자가 없으면 메뉴, 있으면 그 모드를 실행합니다."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run_menu(parser) if args.mode is None else run_mode(args)
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
