"""03. 실시간 채팅: 믿고 쓸 수 있는 서버와 터미널·브라우저 클라이언트

학습 목표
    1. 연결 집합과 broadcast()만으로 가장 작은 채팅 서버를 만듭니다.
    2. 메시지 종류를 StrEnum으로 정하고, 바뀌지 않는 오류 코드로 답합니다.
    3. 허용 목록(allowlist)과 fullmatch로 이름과 글을 검증합니다.
    4. 토큰 버킷(token bucket)으로 연결마다 속도 제한을 겁니다.
    5. 접속자, 기록, 방 전체 예산, 묶어서 알리는 입장·퇴장으로 방을 지킵니다.
    6. 연결 하나의 일생을 handle_client로 쓰고 match 문으로 나눕니다.
    7. 읽지 않는 클라이언트는 보내는 순간에 재서 내보내고, 죽은 연결은 하트비트로.
    8. 사용자 글을 textContent로만 그리는 브라우저 클라이언트와 CSP.
    9. 같은 포트에서 HTTP(화면, /healthz)를 내주고 Origin과 정원을 지킵니다.
    10. 알리고, 1001로 닫고, 정해진 시간 안에 끝내는 우아한 종료.
    11. 키보드를 막지 않고 읽는 터미널 클라이언트: 명령과 화면.
    12. 끊기면 백오프로 다시 연결하고 다시 입장하는 터미널 클라이언트.

핵심 개념
    - 서버는 클라이언트를 믿지 않습니다. 모든 프레임은 크기(max_size), 빈도
      (토큰 버킷), 모양(JSON 객체), 내용(허용 목록)을 차례로 통과해야 합니다.
      잘못된 입력에는 오류 코드로 답하고 연결은 그대로 둡니다. 계속 어기면 닫습니다.
    - 모든 버퍼, 목록, 연결 수에 상한이 있고, 상한은 데이터가 들어오는 자리에서
      지킵니다. 가끔 둘러보는 감시 태스크는 바쁠 때 밀려서 상한이 되지 못합니다.
    - 채팅의 팬아웃은 제곱으로 커집니다. N명이 저마다 초당 r개를 보내면 서버는
      초당 r × N × N건을 전달해야 합니다. 그래서 방 전체의 예산을 둡니다.
    - 종료도 기능입니다. 신호를 받으면 알리고, 1001로 닫고, 몇 초 안에 끝냅니다.

    프로토콜(메시지 종류, 오류 코드, 닫는 경우)은 2절에 있습니다.

실행 방법
    python 03_realtime_chat.py                       # 메뉴
    python 03_realtime_chat.py server                # 터미널 1: 서버
    python 03_realtime_chat.py client --name 민수    # 터미널 2
    python 03_realtime_chat.py client --name 지영    # 터미널 3
    (브라우저로 http://127.0.0.1:8765/ 를 열어도 됩니다)
    python 03_realtime_chat.py demo 5                # 5절만 실행
    python 03_realtime_chat.py demo all              # 1~12절 전부
    python 03_realtime_chat.py --help
    성능 측정: python bench/03_chat_load.py (README의 "성능 측정")

필요 패키지
    websockets>=17.1 (Python 3.11 이상). 서버 모드는 유닉스에서 resource 모듈로
    열 수 있는 파일 수 한도를 올립니다(Windows에서는 건너뜁니다).

참고
    https://websockets.readthedocs.io/en/stable/topics/broadcast.html
    https://websockets.readthedocs.io/en/stable/topics/keepalive.html
    https://websockets.readthedocs.io/en/stable/topics/security.html
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
import sys
import threading
import time
import unicodedata
import warnings
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from http import HTTPStatus
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
    import resource  # 유닉스 전용: 열 수 있는 파일 수 한도(10절)

PROG = "python 03_realtime_chat.py"  # 도움말과 안내문에 보이는 실행 명령
DEFAULT_HOST = "127.0.0.1"  # 루프백: 이 컴퓨터에서만 접속 가능
DEFAULT_PORT = 8765  # 환경 변수 PORT가 있으면 그 값
WS_PATH = "/ws"  # WebSocket 주소의 경로
MAX_NAME = 20  # 이름 최대 글자 수
MAX_TEXT = 1000  # 글 최대 글자 수(앞뒤 공백을 뺀 뒤)
MAX_LINES = 20  # 글 하나의 최대 줄 수
MAX_FRAME_BYTES = 16 * 1024  # 받는 프레임의 최대 크기: 넘으면 1009로 닫힘
DEFAULT_RATE = 5.0  # 연결마다 속도 제한: 초당 프레임(지속)
DEFAULT_BURST = 10  # 연결마다 속도 제한: 한꺼번에 허용하는 프레임
STRIKE_RATE = 5.0  # 규칙 위반 예산이 초당 채워지는 양
STRIKE_BURST = 50  # 규칙 위반 예산: 바닥나면 1008로 닫음
DEFAULT_ROOM_RATE = 40.0  # 방 전체 예산: 모두에게 가는 메시지 수(초당)
DEFAULT_JOIN_RATE = 1.0  # 주소(IP) 하나의 입장 시도: 초당(한꺼번에는 JOIN_BURST까지)
JOIN_BURST = 20  # 주소 하나가 한꺼번에 할 수 있는 입장 시도
MAX_ADDRESSES = 10_000  # 입장 빈도를 기억하는 주소 수의 상한
MAX_HISTORY = 100  # 기록에 남기는 채팅 메시지 수
WELCOME_HISTORY_BYTES = 32 * 1024  # 입장 인사에 담는 기록의 최대 크기(바이트)
PRESENCE_DELAY = 0.25  # 입장·퇴장을 모아서 알리는 간격(초)
DEFAULT_MAX_CLIENTS = 1000  # 동시 연결 상한(핸드셰이크 중 포함): 넘으면 503
HANDSHAKE_SLACK = 64  # 정원을 넘어 503으로 답할 여유. 그 밖은 받자마자 끊음
JOIN_TIMEOUT = 10.0  # 연결한 뒤 이 시간(초) 안에 입장하지 않으면 닫음
OPEN_TIMEOUT = 10.0  # TCP 연결 뒤 핸드셰이크를 끝내야 하는 시간(초)
PING_INTERVAL = 20.0  # 하트비트: ping을 보내는 간격(초)
PING_TIMEOUT = 20.0  # 하트비트: pong을 기다리는 시간제한(초)
CLOSE_TIMEOUT = 2.0  # 닫기 핸드셰이크를 기다리는 시간제한(초)
SLOW_LIMIT = 256 * 1024  # 연결 하나의 쓰기 버퍼 한도(바이트)
SLOW_GRACE = 2.0  # 한도를 이만큼(초) 계속 넘으면 내보냄(4배를 넘으면 바로)
SHUTDOWN_GRACE = 3.0  # 종료할 때 연결이 닫히기를 기다리는 최대 시간(초)
RETRY_CODES = (1001, 1011, 1012, 1013)  # 클라이언트가 다시 연결하는 종료 코드

log = logging.getLogger("chat")


def seconds(value: float) -> str:
    """걸린 시간을 사람이 읽기 좋게: 1초 미만은 ms, 그 이상은 초.

    >>> seconds(0.0123), seconds(1.5)
    ('12.3ms', '1.50초')
    """
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


def port_of(server: Server) -> int:
    """서버가 실제로 연 포트(포트 0으로 열면 운영체제가 고른 빈 포트)."""
    return int(server.sockets[0].getsockname()[1])


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """condition()이 참이 될 때까지 기다립니다(데모가 서버 쪽 상태를 볼 때)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110  여러 태스크가 바꾸는 상태라 가끔 봄
            await asyncio.sleep(0.01)


# =============================================================================
# 1. 가장 작은 채팅 서버: 연결 집합과 broadcast()
# =============================================================================
# 채팅 서버의 뼈대는 스무 줄이면 됩니다. 연결이 들어오면 집합에 넣고, 받은 글을
# broadcast()로 모두(보낸 사람 포함)에게 보내고, 연결이 끝나면 집합에서 뺍니다.
# 02 레슨의 에코 서버에 '모두에게'만 더한 모양입니다.
# 이대로 인터넷에 열면 곤란한 까닭이 이 레슨의 나머지 절들입니다.
#   누가 무엇을 보냈는지 약속이 없음(2절) → 아무 글이나 그대로 퍼뜨림(3절) →
#   한 명이 초당 수천 개를 보내도 막지 않음(4절) → 기록도 이름도 없음(5절) →
#   연결 하나의 처리와 잘못된 프레임(6절) → 읽지 않는 클라이언트의 버퍼가 끝없이
#   자람(7절) → 브라우저 화면(8절)과 HTTP(9절) → 끌 때 인사 없이 끊김(10절) →
#   사람이 쓰는 클라이언트(11, 12절).


async def tiny_chat(
    websocket: ServerConnection, members: set[ServerConnection]
) -> None:
    """가장 작은 채팅 핸들러: 받은 글을 지금 연결된 모두에게 보냅니다."""
    members.add(websocket)
    try:
        async for message in websocket:
            broadcast(members, message)  # 기다리지 않고 각 연결의 버퍼에 넣습니다
    finally:
        members.discard(websocket)  # 어떻게 끝나든 뺍니다


async def tiny_chat_tour() -> None:
    """서버 하나와 클라이언트 둘: 민수가 보낸 글을 둘 다 받습니다."""
    members: set[ServerConnection] = set()
    handler = functools.partial(tiny_chat, members=members)
    async with serve(handler, DEFAULT_HOST, 0) as server:
        url = f"ws://{DEFAULT_HOST}:{port_of(server)}"
        async with connect(url) as minsu, connect(url) as jiyoung:
            await wait_until(lambda: len(members) == 2)
            print(f"[서버] {url} 에 연결 {len(members)}개")
            await minsu.send("안녕하세요")
            print("[클라이언트 민수] >>> 안녕하세요")
            for name, websocket in (("민수", minsu), ("지영", jiyoung)):
                print(f"[클라이언트 {name}] <<< {await websocket.recv(decode=True)}")


def demo_01_tiny_chat() -> None:
    """1절: 스무 줄짜리 채팅 서버.

    예상 출력(포트는 실행마다 다름):
        [서버] ws://127.0.0.1:41234 에 연결 2개
        [클라이언트 민수] >>> 안녕하세요
        [클라이언트 민수] <<< 안녕하세요
        [클라이언트 지영] <<< 안녕하세요
    """
    asyncio.run(tiny_chat_tour())


# =============================================================================
# 2. 프로토콜: 메시지 종류와 오류 코드
# =============================================================================
# 프로토콜은 서버와 모든 클라이언트(터미널, 브라우저, 다른 언어)가 함께 지키는
# 약속입니다. 주소는 ws://HOST:PORT/ws이고 메시지는 JSON 텍스트 프레임 하나입니다.
#   클라이언트 → 서버: join {name} (가장 먼저), message {text}, whisper {to, text},
#                      nick {name}, users
#   서버 → 클라이언트: welcome {name, users, history} (입장한 본인에게),
#     message {id, from, text, ts} (보낸 사람 포함 모두에게, id는 1씩 증가),
#     whisper {from, to, text, ts}, presence {joined, left, ts} (입장·퇴장 묶음),
#     nick {old, new, ts}, users {users}, system {text, ts}, error {code, message}
# 판정 순서: JSON 객체가 아니면 invalid_json → 입장 전에는 join 말고 모두
# not_joined → 입장 뒤 모르는 type은 unknown_type. 오류에 답해도 연결은 그대로입니다.
# 서버가 닫는 경우: 16 KiB를 넘는 프레임 1009, 규칙 위반을 멈추지 않거나 읽지 않아
# 버퍼가 쌓이거나 10초 안에 입장하지 않으면 1008, 서버 종료는 system 알림 뒤 1001.
# 문자열을 코드 곳곳에 흩어 두면 오타 하나가 조용한 버그가 되므로 type과 오류 코드를
# StrEnum으로 한곳에 모읍니다. StrEnum은 str이기도 해서 json.dumps가 그대로 씁니다.
# 오류 코드는 프로그램이 읽는 값이라 바꾸지 않고, 사람이 읽는 설명은 따로 둡니다.


class ClientType(StrEnum):
    """클라이언트 → 서버 메시지의 type."""

    JOIN = "join"
    MESSAGE = "message"
    WHISPER = "whisper"
    NICK = "nick"
    USERS = "users"


class ServerType(StrEnum):
    """서버 → 클라이언트 메시지의 type."""

    WELCOME = "welcome"
    MESSAGE = "message"
    WHISPER = "whisper"
    PRESENCE = "presence"
    NICK = "nick"
    USERS = "users"
    SYSTEM = "system"
    ERROR = "error"


class ErrorCode(StrEnum):
    """error 메시지의 code: 클라이언트 프로그램이 읽는 값이라 바꾸지 않습니다."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    INVALID_NAME = "invalid_name"
    NAME_TAKEN = "name_taken"
    INVALID_TEXT = "invalid_text"
    NO_SUCH_USER = "no_such_user"
    RATE_LIMITED = "rate_limited"
    BINARY_NOT_SUPPORTED = "binary_not_supported"


ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_JSON: 'JSON 객체({"type": ...})가 아닙니다.',
    ErrorCode.UNKNOWN_TYPE: "모르는 type입니다. /help 또는 프로토콜 표를 보세요.",
    ErrorCode.NOT_JOINED: "먼저 join으로 입장해 주세요.",
    ErrorCode.ALREADY_JOINED: "이미 입장했습니다. 이름은 nick으로 바꿉니다.",
    ErrorCode.INVALID_NAME: "이름은 한글, 영문, 숫자, _, - 로 1~20자입니다.",
    ErrorCode.NAME_TAKEN: "이미 쓰이는 이름입니다(대소문자만 다른 이름도).",
    ErrorCode.INVALID_TEXT: "글은 1~1,000자, 20줄 이하, 보이는 글자가 있어야 합니다.",
    ErrorCode.NO_SUCH_USER: "그 이름의 접속자가 없습니다.",
    ErrorCode.RATE_LIMITED: "너무 빨리 보내고 있습니다. 잠시 뒤에 보내 주세요.",
    ErrorCode.BINARY_NOT_SUPPORTED: "이진 프레임은 받지 않습니다(JSON 텍스트만).",
}

Event = dict[str, object]  # JSON 객체 하나(메시지 한 개)


def encode(event: Event) -> str:
    """이벤트를 JSON 텍스트 프레임으로: 한글은 그대로, 공백 없이(바이트 절약).

    >>> encode({"type": ServerType.NICK, "old": "민수", "new": "철수"})
    '{"type":"nick","old":"민수","new":"철수"}'
    """
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def error_event(code: ErrorCode) -> Event:
    """오류 응답. 연결은 닫지 않습니다.

    >>> encode(error_event(ErrorCode.NOT_JOINED))
    '{"type":"error","code":"not_joined","message":"먼저 join으로 입장해 주세요."}'
    """
    return {"type": ServerType.ERROR, "code": code, "message": ERROR_MESSAGES[code]}


def demo_02_protocol() -> None:
    """2절: 메시지 종류와 오류 코드.

    예상 출력:
        클라이언트 → 서버: join, message, whisper, nick, users
        서버 → 클라이언트: welcome, message, whisper, presence, nick, users, ...
        오류 코드 10개:
          invalid_json          JSON 객체({"type": ...})가 아닙니다.
        ...
          binary_not_supported  이진 프레임은 받지 않습니다(JSON 텍스트만).
        보낼 프레임 예: {"type":"message","id":1,"from":"민수",...} (70바이트, ...)
    """
    print("클라이언트 → 서버:", ", ".join(ClientType))
    print("서버 → 클라이언트:", ", ".join(ServerType))
    print(f"오류 코드 {len(ErrorCode)}개:")
    for code in ErrorCode:
        print(f"  {code:<22}{ERROR_MESSAGES[code]}")
    sample: Event = {"type": ServerType.MESSAGE, "id": 1, "from": "민수"}
    frame = encode(sample | {"text": "안녕", "ts": 1767225600.0})
    size = len(frame.encode())
    print(f"보낼 프레임 예: {frame} ({size}바이트, 한글은 글자당 3바이트)")


# =============================================================================
# 3. 입력 검증: 허용 목록, fullmatch, 보이지 않는 글자
# =============================================================================
# 무엇을 막을지(차단 목록)가 아니라 무엇을 허용할지(허용 목록)를 적습니다.
# 이름은 한글 음절(가~힣), 영문, 숫자, _, - 만 1~20자입니다. 그러면 <script>도,
# 보이지 않는 문자도, 남의 이름과 헷갈리는 공백도 애초에 들어올 수 없습니다.
# - re.match(r"^...$")는 끝의 줄바꿈 하나를 통과시킵니다($는 마지막 \n 앞에서도
#   맞습니다). 검증에는 fullmatch를 씁니다. \d는 온갖 유니코드 숫자에 맞으니 [0-9].
# - 'Admin'과 'admin'은 화면에서 같은 사람처럼 보입니다. 이름이 겹치는지는
#   str.casefold()로 접은 열쇠로 봅니다(표시는 입력한 그대로).
# 글은 자유로워야 하니 허용 목록 대신 다음을 거절합니다(앞뒤 공백을 뺀 뒤).
# - 줄바꿈과 탭이 아닌 제어 문자(터미널 화면을 지우는 ESC 등), 짝 없는 서로게이트
#   (UTF-8로 바꿀 수 없어 보내는 순간 서버가 예외를 냄).
# - 글자의 방향을 뒤집는 제어 문자(U+202A~202E, U+2066~2069: 'Trojan Source'),
#   태그 문자(U+E0000~E007F: 보이지 않게 숨긴 글).
# - 보이는 글자가 하나도 없는 글(폭 없는 공백 U+200B, 한글 채움 문자 U+3164 ...)과
#   20줄을 넘는 글(줄바꿈 수백 개로 남의 화면을 밀어냄).

NAME_PATTERN = re.compile(rf"[가-힣A-Za-z0-9_-]{{1,{MAX_NAME}}}")
BAD_TEXT = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff"  # 제어 문자(\t, \n 제외), 서로게이트
    r"\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]"  # 방향 제어, 태그 문자
)
FILLERS = frozenset(map(chr, (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800)))  # 빈 글자


def valid_name(value: object) -> str | None:
    """허용 목록에 '전부' 맞는 이름이면 그대로, 아니면 None.

    >>> valid_name("민수"), valid_name("dev_kim-2")
    ('민수', 'dev_kim-2')
    >>> valid_name("민수\\n"), valid_name("a b"), valid_name("x" * 21), valid_name(7)
    (None, None, None, None)
    """
    if isinstance(value, str) and NAME_PATTERN.fullmatch(value):
        return value
    return None


def name_key(name: str) -> str:
    """이름이 겹치는지 볼 때 쓰는 열쇠: 대소문자를 접습니다.

    >>> name_key("Admin") == name_key("admin") == name_key("ADMIN")
    True
    """
    return name.casefold()


def clean_text(value: object) -> str | None:
    """앞뒤 공백을 뺀 글이 규칙에 맞으면 그 글, 아니면 None.

    >>> clean_text("  안녕하세요 \\n"), clean_text(["글"])
    ('안녕하세요', None)
    >>> clean_text("\\ud800"), clean_text("\\u3164")  # 짝 없는 서로게이트, 채움 문자
    (None, None)
    >>> clean_text("줄\\n" * 21), clean_text("\\U0001f468\\u200d\\U0001f469") is None
    (None, False)
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not 1 <= len(text) <= MAX_TEXT or text.count("\n") >= MAX_LINES:
        return None
    if BAD_TEXT.search(text):
        return None
    visible = (
        ch for ch in text if unicodedata.category(ch)[0] in "LNPS" and ch not in FILLERS
    )  # 글자(L), 숫자(N), 문장 부호(P), 기호(S): 폭 없는 문자(Cf)는 여기 없습니다
    return text if any(visible) else None


def parse_frame(frame: str) -> dict[str, object] | None:
    """JSON 객체면 dict, 아니면(깨진 JSON, 배열, 문자열, 너무 깊은 중첩) None.

    >>> parse_frame('{"type": "users"}'), parse_frame("[1, 2]"), parse_frame("{")
    ({'type': 'users'}, None, None)
    >>> parse_frame("[" * 5000) is None  # 깊은 중첩은 RecursionError를 냅니다
    True
    """
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):  # JSONDecodeError는 ValueError의 하위 클래스
        return None
    return data if isinstance(data, dict) else None


def demo_03_validation() -> None:
    """3절: 이름과 글 검증.

    예상 출력:
        이름 '민수'                    → 통과
        이름 '민수\\n'                  → 거절 (re.match(^...$)였다면 통과)
        이름 '<b>관리자</b>'           → 거절
        이름 '관 리 자'                → 거절
        이름 'aaaaaaaaaaaaaaaaaaaaa'   → 거절
        이름 '１２３'                  → 거절
        'Admin'과 'admin'의 열쇠: 'admin', 'admin' → 같은 이름으로 봄
        글 '  안녕하세요  '            → '안녕하세요'
        글 '   '                       → 거절
        글 '\\x1b[2J화면 지우기'        → 거절
        글 '\\u202e뒤집힌 글'           → 거절
        글 '\\u200b\\u200b'              → 거절
        글 '줄\\n' × 25                 → 거절
        글 '가' × 1001                 → 거절
        프레임 '{"type": "users"}'     → JSON 객체
        프레임 '[1, 2]'                → JSON 객체가 아님(invalid_json)
        프레임 '안녕'                  → JSON 객체가 아님(invalid_json)
    """
    loose = re.compile(rf"^{NAME_PATTERN.pattern}$")  # 나쁜 예: match와 $
    for name in ["민수", "민수\n", "<b>관리자</b>", "관 리 자", "a" * 21, "１２３"]:
        verdict = "통과" if valid_name(name) else "거절"
        if verdict == "거절" and loose.match(name):
            verdict += " (re.match(^...$)였다면 통과)"
        print(f"이름 {pad(repr(name), 26)}→ {verdict}")
    keys = f"{name_key('Admin')!r}, {name_key('admin')!r}"
    print(f"'Admin'과 'admin'의 열쇠: {keys} → 같은 이름으로 봄")
    rlo, zwsp = chr(0x202E), chr(0x200B)  # 방향 뒤집기, 폭 없는 공백(화면에 안 보임)
    texts = ["  안녕하세요  ", "   ", "\x1b[2J화면 지우기", f"{rlo}뒤집힌 글", zwsp * 2]
    shown = {repr(text): text for text in texts}
    shown |= {"'줄\\n' × 25": "줄\n" * 25, "'가' × 1001": "가" * 1001}
    for label, text in shown.items():
        cleaned = clean_text(text)
        print(f"글 {pad(label, 28)}→ {'거절' if cleaned is None else repr(cleaned)}")
    for frame in ['{"type": "users"}', "[1, 2]", "안녕"]:
        ok = parse_frame(frame) is not None
        result = "JSON 객체" if ok else "JSON 객체가 아님(invalid_json)"
        print(f"프레임 {pad(repr(frame), 24)}→ {result}")


# =============================================================================
# 4. 속도 제한: 토큰 버킷
# =============================================================================
# 버킷에 토큰이 최대 burst개 들어 있고 초당 rate개씩 다시 찹니다. 프레임 하나가
# 토큰 하나를 씁니다. "평소엔 초당 5개, 잠깐 몰아서는 10개까지"를 숫자 두 개로
# 나타냅니다. 현재 시각을 인자로 받게 만들면 시계 없이도 검사할 수 있습니다.
# - 속도 제한은 JSON을 읽기 전에, 잘못된 것까지 모든 프레임에 적용합니다.
# - 버릴 때마다 답하면 그 답이 또 부하가 되므로 rate_limited는 1초에 한 번만.
# - 버린 프레임과 오류로 답한 프레임은 '위반 예산'(또 하나의 토큰 버킷)을 씁니다.
#   예산이 바닥나면(계속 어기면) 1008(정책 위반)로 닫습니다. 잠깐 몰아서 보낸
#   사람은 살아남고, 멈추지 않고 쏟아붓는 프로그램만 끊깁니다.
# 같은 버킷을 5절에서 방 전체의 예산과 주소마다의 입장 빈도에 다시 씁니다.


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
    def create(cls, rate: float, burst: int, now: float) -> RateGuard:
        strikes = TokenBucket(STRIKE_RATE, STRIKE_BURST, now)
        return cls(TokenBucket(rate, burst, now), strikes)

    def should_notify(self, now: float) -> bool:
        """rate_limited를 보내도 되는지: 1초에 한 번만."""
        if now - self.notified_at < 1.0:
            return False
        self.notified_at = now
        return True

    def check(self, now: float) -> Verdict:
        """프레임이 들어올 때마다(JSON을 읽기 전에) 부릅니다."""
        if self.limiter.take(now):
            return Verdict.ALLOW
        if not self.strikes.take(now):
            return Verdict.DISCONNECT
        return Verdict.NOTIFY if self.should_notify(now) else Verdict.DROP


def simulate_flood(rate: float, duration: float) -> tuple[Counter[Verdict], float]:
    """기본 설정의 RateGuard에 초당 rate개씩 duration초 동안 보낸다고 칩니다.

    가짜 시계를 쓰므로 실제로 기다리지 않습니다. (판정별 개수, 끊긴 시각)을 돌려줍니다.

    >>> counts, _ = simulate_flood(20, 3.0)  # 초당 20개를 3초: 끈질기지만 끊기진 않음
    >>> counts[Verdict.ALLOW], counts[Verdict.NOTIFY], counts[Verdict.DISCONNECT]
    (24, 3, 0)
    """
    guard = RateGuard.create(DEFAULT_RATE, DEFAULT_BURST, now=0.0)
    counts: Counter[Verdict] = Counter()
    for n in range(round(rate * duration)):
        now = n / rate
        verdict = guard.check(now)
        counts[verdict] += 1
        if verdict is Verdict.DISCONNECT:
            return counts, now
    return counts, math.inf


def demo_04_rate_limit() -> None:
    """4절: 토큰 버킷과 위반 예산을 가짜 시계로 돌려 봅니다.

    예상 출력:
        설정: 초당 5개, 한꺼번에 10개, 위반 예산 50개(초당 5개씩 회복)
        초당 20개로 3초(60개): 통과 24, 버림 33, rate_limited 알림 3, 연결 유지
        초당 100개로 3초(300개): 통과 13, 버림 51, rate_limited 알림 1,
          0.65초(66번째 프레임)에 위반 예산이 바닥나 닫음
    """
    print(f"설정: 초당 {DEFAULT_RATE:g}개, 한꺼번에 {DEFAULT_BURST}개, ", end="")
    print(f"위반 예산 {STRIKE_BURST}개(초당 {STRIKE_RATE:g}개씩 회복)")
    for per_second in (20, 100):
        counts, cut_at = simulate_flood(per_second, 3.0)
        allowed, dropped = counts[Verdict.ALLOW], counts[Verdict.DROP]
        print(f"초당 {per_second}개로 3초({per_second * 3}개): 통과 {allowed}", end="")
        print(f", 버림 {dropped}, rate_limited 알림 {counts[Verdict.NOTIFY]}", end="")
        if math.isinf(cut_at):
            print(", 연결 유지")
        else:
            frames = counts.total()
            print(f",\n  {cut_at:.2f}초({frames}번째 프레임)에 위반 예산이 바닥나 닫음")


# =============================================================================
# 5. 채팅방 상태: 접속자, 기록, 방 전체 예산, 입장·퇴장 묶음
# =============================================================================
# 상태는 메모리에만 둡니다(서버를 끄면 사라짐). 대신 모든 자료 구조에 상한이 있고,
# 상한은 데이터가 들어오는 자리(메서드 안)에서 지킵니다.
# - users: 이름 열쇠(3절의 casefold) → 클라이언트. 중복 검사가 dict 조회 한 번입니다.
# - history: deque(maxlen=100). 101번째를 넣으면 가장 오래된 것이 저절로 빠집니다.
#   입장 인사(welcome)에는 그중 최근 것을 32 KiB까지만 담습니다. 긴 글 100개면
#   400 KiB 가까이 되어, 입장과 퇴장을 되풀이하는 것만으로 서버가 큰 데이터를
#   퍼 나르게 되기 때문입니다. 입장 시도는 주소(IP)마다 토큰 버킷으로 셉니다.
# - 방 전체 예산: 메시지 하나는 N명 모두에게 갑니다. N명이 저마다 초당 r개를 보내면
#   전달은 초당 r × N × N건입니다(150명이 초당 4개씩이면 90,000건). 연결마다의
#   제한은 r만 묶으므로 방 전체가 보내는 양에도 예산(초당 R개)을 두어 전달을
#   R × N건으로 묶습니다. 예산을 넘은 글에는 rate_limited로 답합니다.
# - 입장·퇴장 알림도 N명에게 가므로 1,000명이 한꺼번에 들어오면 거의 백만 건이
#   됩니다(서버를 다시 켜면 모두가 한꺼번에 다시 들어옵니다). 그래서 0.25초 동안의
#   변화를 모아 presence {joined, left} 하나로 알립니다.
# - 보내기는 한 명에게 보낼 때도 broadcast()로 합니다. await ws.send()는 상대가
#   느리면 보내는 태스크가 그 자리에서 기다립니다(귓속말 받는 사람이 멈춰 있으면
#   보낸 사람의 연결까지 멈춤). broadcast()는 각 연결의 버퍼에 넣고 바로 돌아옵니다.
#   흐름 제어가 없다는 대가는 7절에서 치릅니다.
# - 메서드에는 await가 없습니다. 메서드 하나가 도는 동안 다른 태스크가 끼어들 수
#   없으니 "이름 검사 → 등록"이 한 덩어리로 실행되어 Lock이 필요 없습니다.
# - 로그는 입장, 퇴장, 오류마다 한 줄입니다. 메시지마다 남기지 않습니다(동기식
#   쓰기는 블로킹 호출이고, 대화 내용을 로그에 남기는 것은 개인정보 문제입니다).


@dataclass
class ServerConfig:
    """서버 설정. 명령줄 옵션(server --help)과 같은 뜻입니다."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    rate: float = DEFAULT_RATE  # 4절
    burst: int = DEFAULT_BURST
    room_rate: float = DEFAULT_ROOM_RATE  # 5절
    join_rate: float = DEFAULT_JOIN_RATE
    join_timeout: float = JOIN_TIMEOUT  # 6절
    slow_grace: float = SLOW_GRACE  # 7절
    ping_interval: float = PING_INTERVAL
    ping_timeout: float = PING_TIMEOUT
    max_clients: int = DEFAULT_MAX_CLIENTS  # 9절
    allow_origins: tuple[str, ...] = ()


class ClientState(Enum):
    """연결 하나의 상태."""

    CONNECTED = "입장 전"
    JOINED = "입장함"
    GONE = "나감"


@dataclass(eq=False)  # eq=False: 객체마다 따로 보고 set에 넣을 수 있게(해시 유지)
class Client:
    """연결 하나: WebSocket, 속도 제한, 주소, 이름, 상태."""

    websocket: ServerConnection
    guard: RateGuard
    address: str = ""  # 상대의 IP 주소(입장 빈도를 주소마다 셉니다)
    name: str = ""
    state: ClientState = ClientState.CONNECTED
    over_limit_since: float | None = None  # 쓰기 버퍼가 한도를 넘기 시작한 시각(7절)

    @property
    def label(self) -> str:
        return self.name or "(입장 전)"


class ChatRoom:
    """채팅방 하나의 모든 상태. 메서드는 모두 동기 함수입니다(중간에 await 없음)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.clients: set[Client] = set()  # 핸드셰이크를 마친 모든 연결(입장 전 포함)
        self.sockets: set[ServerConnection] = set()  # 모든 TCP 연결(9절에서 셈)
        self.users: dict[str, Client] = {}  # 입장한 사람: 이름 열쇠 → 클라이언트
        self.history: deque[tuple[Event, int]] = deque(maxlen=MAX_HISTORY)  # 글과 크기
        self.last_id = 0
        room_burst = max(1.0, config.room_rate)  # 1초 치를 한꺼번에까지
        self.budget = TokenBucket(config.room_rate, room_burst)
        self.joins: OrderedDict[str, TokenBucket] = OrderedDict()  # 주소 → 버킷
        self.announced: set[str] = set()  # 마지막 presence 때의 접속자 이름
        self.presence_timer: asyncio.TimerHandle | None = None
        self.started = time.monotonic()
        self.closing = False  # 종료 중에는 퇴장을 알리지 않습니다
        self.url = ""  # 서버가 뜬 뒤의 ws://호스트:포트/ws
        self.tasks: set[asyncio.Task[None]] = set()  # 백그라운드 태스크의 참조 보관소

    def send(self, clients: Iterable[Client], event: Event) -> None:
        """기다리지 않고 보냅니다: 각 연결의 쓰기 버퍼에 넣고 바로 돌아옵니다."""
        broadcast([client.websocket for client in clients], encode(event))

    def names(self) -> list[str]:
        return sorted(client.name for client in self.users.values())

    def join_allowed(self, address: str, now: float) -> bool:
        """주소마다의 입장 빈도. 기억하는 주소 수에도 상한이 있습니다."""
        bucket = self.joins.pop(address, None)
        if bucket is None:
            rate = self.config.join_rate
            bucket = TokenBucket(rate, max(JOIN_BURST, rate), now)
            if len(self.joins) >= MAX_ADDRESSES:
                self.joins.popitem(last=False)  # 가장 오래 조용했던 주소를 잊습니다
        self.joins[address] = bucket  # 맨 뒤로: 최근에 본 주소
        return bucket.take(now)

    def recent_history(self) -> list[Event]:
        """입장 인사에 담을 기록: 최근 것부터 WELCOME_HISTORY_BYTES까지."""
        picked: list[Event] = []
        total = 0
        for event, size in reversed(self.history):
            total += size
            if total > WELCOME_HISTORY_BYTES:
                break
            picked.append(event)
        return picked[::-1]

    def join(self, client: Client, raw_name: object) -> ErrorCode | None:
        if not self.join_allowed(client.address, time.monotonic()):
            return ErrorCode.RATE_LIMITED
        name = valid_name(raw_name)
        if name is None:
            return ErrorCode.INVALID_NAME
        if name_key(name) in self.users:
            return ErrorCode.NAME_TAKEN
        client.name, client.state = name, ClientState.JOINED
        self.users[name_key(name)] = client
        welcome: Event = {"type": ServerType.WELCOME, "name": name}
        welcome |= {"users": self.names(), "history": self.recent_history()}
        self.send([client], welcome)
        self.presence_changed()
        log.info("입장: %s (접속 %d명)", name, len(self.users))
        return None

    def post(self, sender: str, raw_text: object) -> ErrorCode | None:
        text = clean_text(raw_text)
        if text is None:
            return ErrorCode.INVALID_TEXT
        if not self.budget.take(time.monotonic()):
            return ErrorCode.RATE_LIMITED  # 방 전체 예산을 넘음
        self.last_id += 1
        event: Event = {"type": ServerType.MESSAGE, "id": self.last_id, "from": sender}
        event |= {"text": text, "ts": time.time()}
        self.history.append((event, len(encode(event).encode())))  # 넘치면 빠짐
        self.send(self.users.values(), event)  # 보낸 사람 포함: 받은 id가 접수 확인
        return None

    def whisper(
        self, client: Client, raw_to: object, raw_text: object
    ) -> ErrorCode | None:
        target = self.users.get(name_key(valid_name(raw_to) or ""))
        if target is None:
            return ErrorCode.NO_SUCH_USER
        text = clean_text(raw_text)
        if text is None:
            return ErrorCode.INVALID_TEXT
        event: Event = {"type": ServerType.WHISPER, "from": client.name}
        event |= {"to": target.name, "text": text, "ts": time.time()}
        self.send({target, client}, event)  # 두 사람에게만, 기록에는 남기지 않음
        return None

    def rename(self, client: Client, raw_name: object) -> ErrorCode | None:
        name = valid_name(raw_name)
        if name is None:
            return ErrorCode.INVALID_NAME
        if name_key(name) in self.users:  # 지금 내 이름으로 바꾸려 해도 여기에 걸림
            return ErrorCode.NAME_TAKEN
        if not self.budget.take(time.monotonic()):
            return ErrorCode.RATE_LIMITED  # 이름 바꾸기도 모두에게 갑니다
        old, client.name = client.name, name
        self.users[name_key(name)] = self.users.pop(name_key(old))
        if old in self.announced:  # 알린 이름이 바뀌었을 뿐: 입장·퇴장이 아님
            self.announced = (self.announced - {old}) | {name}
        event: Event = {"type": ServerType.NICK, "old": old, "new": name}
        self.send(self.users.values(), event | {"ts": time.time()})
        log.info("이름 변경: %s → %s", old, name)
        return None

    def list_users(self, client: Client) -> ErrorCode | None:
        self.send([client], {"type": ServerType.USERS, "users": self.names()})
        return None

    def leave(self, client: Client, reason: str) -> None:
        """연결이 끝났거나 내보낼 때. 여러 번 불려도 한 번만 처리합니다."""
        self.clients.discard(client)
        was_joined = client.state is ClientState.JOINED
        client.state = ClientState.GONE
        if not was_joined:
            return
        del self.users[name_key(client.name)]
        self.presence_changed()
        log.info("퇴장: %s (%s, 접속 %d명)", client.name, reason, len(self.users))

    def presence_changed(self) -> None:
        """입장·퇴장이 생겼습니다. PRESENCE_DELAY 뒤에 모아서 한 번 알립니다."""
        if self.presence_timer is None and not self.closing:
            loop = asyncio.get_running_loop()
            self.presence_timer = loop.call_later(PRESENCE_DELAY, self.announce)

    def announce(self) -> None:
        """지난 알림 뒤로 바뀐 접속자를 presence 하나로 모두에게 알립니다."""
        self.presence_timer = None
        before, self.announced = self.announced, {c.name for c in self.users.values()}
        joined, left = sorted(self.announced - before), sorted(before - self.announced)
        if joined or left:
            event: Event = {"type": ServerType.PRESENCE, "joined": joined}
            self.send(self.users.values(), event | {"left": left, "ts": time.time()})

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        """기다리지 않을 작업을 태스크로 띄우고 끝날 때까지 참조를 쥡니다(01의 3절)."""
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def demo_05_chat_room() -> None:
    """5절: 기록의 상한, 입장 인사의 크기, 방 전체 예산과 제곱 팬아웃.

    예상 출력:
        메시지 250개를 올린 뒤: 기록 100개, 가장 오래된 id 151, 가장 새 id 250
        저장된 글: '메시지 250' (앞뒤 공백을 뺌)
        1,000자 글 100개의 기록: 입장 인사에는 최근 10개(30,710바이트, 한도 32 KiB)
        방 전체 예산 초당 40개: 한꺼번에 온 글 100개 중 40개 통과, 60개 rate_limited
        접속자 N명이 저마다 초당 4개를 보낼 때 서버가 전달할 양(초당):
          N =   10:      400건 → 예산으로 묶으면    400건
          N =  150:   90,000건 → 예산으로 묶으면  6,000건
          N = 1000: 4,000,000건 → 예산으로 묶으면 40,000건
    """
    room = ChatRoom(ServerConfig(room_rate=1000))  # 예산이 넉넉한 방
    for n in range(1, 251):
        room.post("민수", f"  메시지 {n}  ")  # 아직 아무도 없으니 보낼 곳은 없습니다
    (oldest, _), (newest, _) = room.history[0], room.history[-1]
    print(f"메시지 {room.last_id}개를 올린 뒤: 기록 {len(room.history)}개, ", end="")
    print(f"가장 오래된 id {oldest['id']}, 가장 새 id {newest['id']}")
    print(f"저장된 글: {newest['text']!r} (앞뒤 공백을 뺌)")
    for _ in range(MAX_HISTORY):
        room.post("민수", "가" * MAX_TEXT)
    picked = room.recent_history()
    size = sum(len(encode(event).encode()) for event in picked)
    print(f"1,000자 글 100개의 기록: 입장 인사에는 최근 {len(picked)}개", end="")
    print(f"({size:,}바이트, 한도 {WELCOME_HISTORY_BYTES // 1024} KiB)")
    strict = ChatRoom(ServerConfig())  # 기본 예산의 방
    passed = sum(strict.post("민수", "안녕") is None for _ in range(100))
    print(f"방 전체 예산 초당 {DEFAULT_ROOM_RATE:g}개: ", end="")
    print(f"한꺼번에 온 글 100개 중 {passed}개 통과, {100 - passed}개 rate_limited")
    print("접속자 N명이 저마다 초당 4개를 보낼 때 서버가 전달할 양(초당):")
    for users in (10, 150, 1000):
        wanted = 4 * users * users
        capped = min(4 * users, DEFAULT_ROOM_RATE) * users
        print(f"  N = {users:>4}: {wanted:>9,}건 → 예산으로 묶으면 {capped:>6,.0f}건")


# =============================================================================
# 6. 연결 하나 처리하기: handle_client와 match
# =============================================================================
# websockets는 연결마다 handle_client를 태스크 하나로 실행하고, 함수가 끝나면
# 연결을 닫습니다. 그래서 함수 안은 순서대로 읽힙니다:
#   프레임 받기 → 속도 제한(4절) → 이진 프레임 거절 → JSON 객체인지(3절) → type별
# type별 처리는 match 문의 매핑 패턴으로 나눕니다. case의 순서가 곧 프로토콜의
# 우선순위입니다(입장 전 검사가 모르는 type 검사보다 먼저 옵니다).
# 입장하지 않은 연결은 정원만 차지합니다. 연결하고 join_timeout(10초) 안에 입장하지
# 않으면 1008로 닫습니다(asyncio.timeout_at: 01 레슨 4절의 마감).
# 방 예산이나 입장 빈도에 걸린 rate_limited는 그 사람의 잘못이 아니므로 위반
# 예산을 쓰지 않고, 알림만 1초에 한 번 보냅니다.
# 연결이 어떻게 끝나든(어느 쪽이 닫음, 끊김, ping 시간 초과, 내보냄) finally에서
# 채팅방에서 빼므로 접속자 목록에 유령이 남지 않습니다.
# chat_server()는 이 레슨의 serve() 설정을 한곳에 모읍니다. 기본값이라도 고른 값은
# 적습니다. compression=None: permessage-deflate는 연결마다 수십 KiB의 압축 상태와
# CPU를 쓰는데 짧은 채팅 글에는 얻는 것이 적고, 비밀과 남이 고른 글을 함께
# 압축하면 길이로 비밀이 새는 공격(CRIME/BREACH 계열)의 여지도 생깁니다.


def dispatch(room: ChatRoom, client: Client, frame: str | bytes) -> ErrorCode | None:
    """프레임 하나를 처리합니다. 문제가 있으면 오류 코드를 돌려줍니다."""
    if isinstance(frame, bytes):
        return ErrorCode.BINARY_NOT_SUPPORTED
    data = parse_frame(frame)
    if data is None:
        return ErrorCode.INVALID_JSON
    joined = client.state is ClientState.JOINED
    match data:
        case {"type": ClientType.JOIN} if joined:
            return ErrorCode.ALREADY_JOINED
        case {"type": ClientType.JOIN}:
            return room.join(client, data.get("name"))
        case _ if not joined:
            return ErrorCode.NOT_JOINED
        case {"type": ClientType.MESSAGE}:
            return room.post(client.name, data.get("text"))
        case {"type": ClientType.WHISPER}:
            return room.whisper(client, data.get("to"), data.get("text"))
        case {"type": ClientType.NICK}:
            return room.rename(client, data.get("name"))
        case {"type": ClientType.USERS}:
            return room.list_users(client)
        case _:
            return ErrorCode.UNKNOWN_TYPE


def describe_close(exc: ConnectionClosed) -> str:
    """연결이 끝난 까닭을 로그에 남길 한국어로. 닫기 프레임을 먼저 보낸 쪽이 닫은 쪽.

    >>> from websockets.exceptions import ConnectionClosedOK
    >>> timeout = Close(1011, "keepalive ping timeout")
    >>> describe_close(ConnectionClosedError(None, timeout))
    '응답 없음(ping 시간 초과)'
    >>> describe_close(ConnectionClosedError(None, None))
    '연결 끊김(닫기 프레임 없음)'
    >>> bye = Close(1001, "서버 종료")  # 서버가 보내고(sent) 클라이언트가 되돌려 줌
    >>> describe_close(ConnectionClosedOK(rcvd=bye, sent=bye, rcvd_then_sent=False))
    '서버 종료로 1001'
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


async def handle_client(room: ChatRoom, websocket: ServerConnection) -> None:
    """연결 하나의 일생: 받고, 검사하고, 처리하고, 끝나면 반드시 정리합니다."""
    guard = RateGuard.create(room.config.rate, room.config.burst, time.monotonic())
    client = Client(websocket, guard, address=str(websocket.remote_address[0]))
    room.clients.add(client)
    join_by = asyncio.get_running_loop().time() + room.config.join_timeout
    reason = "처리 중 예외"  # 아래에서 까닭이 정해지지 않고 끝났다면
    try:
        while True:  # async for는 1000, 1001 종료를 조용히 끝내 누가 닫았는지 숨깁니다
            waiting = client.state is ClientState.CONNECTED
            async with asyncio.timeout_at(join_by if waiting else None):
                frame = await websocket.recv()
            if client.state is ClientState.GONE:
                continue  # 내보낸 연결(7절): 닫히는 동안 온 프레임은 버립니다
            now = time.monotonic()
            verdict = guard.check(now)
            code = ErrorCode.RATE_LIMITED if verdict is Verdict.NOTIFY else None
            if verdict is Verdict.ALLOW:
                code = dispatch(room, client, frame)
                if code is ErrorCode.RATE_LIMITED:  # 방 예산, 입장 빈도: 위반이 아님
                    code = code if guard.should_notify(now) else None
                elif code is not None and not guard.strikes.take(now):  # 오류의 벌점
                    verdict = Verdict.DISCONNECT
            if code is not None:
                room.send([client], error_event(code))
                if code is not ErrorCode.RATE_LIMITED:
                    log.info("오류 %s: %s", code, client.label)
            if verdict is Verdict.DISCONNECT:
                reason = "규칙 위반 반복(1008)"
                room.leave(client, reason)  # 판정한 순간 퇴장을 알립니다
                await close_or_abort(
                    websocket, CloseCode.POLICY_VIOLATION, "규칙 위반 반복"
                )
                break
    except TimeoutError:  # join_by까지 입장하지 않았습니다
        reason = "입장 시간 초과(1008)"
        log.info("입장하지 않은 연결을 닫습니다: %s", client.address)
        await close_or_abort(websocket, CloseCode.POLICY_VIOLATION, "입장 시간 초과")
    except ConnectionClosed as exc:  # 어떤 종료든 연결의 평범한 끝입니다
        reason = describe_close(exc)
    finally:
        room.leave(client, reason)


# Any: serve()의 키워드 인자(process_request, origins ...)를 그대로 넘깁니다.
def chat_server(room: ChatRoom, **options: Any) -> Server:  # noqa: ANN401
    """이 레슨의 serve() 설정. 7절과 9절이 options로 연결 클래스와 HTTP 처리를 더함."""
    config = room.config
    return serve(
        functools.partial(handle_client, room),  # 인자 하나(websocket)짜리 핸들러
        config.host,
        config.port,
        compression=None,
        max_size=MAX_FRAME_BYTES,  # 이보다 큰 프레임은 읽지 않고 1009로 닫습니다
        max_queue=16,  # 연결마다 읽어 둔 뒤 처리를 기다리는 프레임 수의 상한
        write_limit=32 * 1024,  # 이만큼 쌓이면 await send()가 기다립니다
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
async def serving(room: ChatRoom, **options: Any) -> AsyncIterator[Server]:  # noqa: ANN401
    """데모용: 서버를 띄우고 room.url을 채운 뒤, 블록이 끝나면 닫습니다."""
    async with chat_server(room, **options) as server:
        room.url = ws_url(room.config.host, port_of(server))
        yield server


class DemoClient:
    """데모용 클라이언트: 주고받는 프레임을 >>> / <<< 로 보여 줍니다(ts는 생략)."""

    def __init__(self, name: str, websocket: ClientConnection) -> None:
        self.name = name
        self.websocket = websocket

    @classmethod
    async def join(cls, url: str, name: str, *, show: bool = True) -> DemoClient:
        client = cls(name, await connect(url, compression=None))
        await client.send({"type": ClientType.JOIN, "name": name}, show=show)
        await client.expect(ServerType.WELCOME, show=show)
        return client

    async def send(self, event: Event | str, *, show: bool = True) -> None:
        frame = event if isinstance(event, str) else encode(event)
        if show:
            print(f"[클라이언트 {self.name}] >>> {frame}")
        await self.websocket.send(frame)

    async def expect(self, kind: ServerType, *, show: bool = True) -> Event:
        """kind가 올 때까지 받습니다(5초 시간제한)."""
        async with asyncio.timeout(5):
            while True:
                event: Event = json.loads(await self.websocket.recv())
                if show:
                    shown = {key: value for key, value in event.items() if key != "ts"}
                    print(f"[클라이언트 {self.name}] <<< {encode(shown)}")
                if event["type"] == kind:
                    return event

    async def collect(self) -> list[Event]:
        """연결이 닫힐 때까지 모두 받아 돌려줍니다(백그라운드에서 읽기용)."""
        events: list[Event] = []
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.websocket:
                events.append(json.loads(frame))
        return events


async def leave_in_order(room: ChatRoom, clients: Iterable[DemoClient]) -> None:
    """데모의 클라이언트를 하나씩 닫고, 서버가 퇴장을 처리할 때까지 기다립니다."""
    for client in clients:
        await client.websocket.close()
        await wait_until(
            functools.partial(lambda name: name not in room.names(), client.name)
        )


async def walkthrough() -> None:
    """세 사람이 입장하고, 말하고, 귓속말하고, 실수합니다."""
    room = ChatRoom(ServerConfig(port=0))
    async with serving(room):
        print(f"[서버] {room.url} 에서 기다립니다(데모용 빈 포트)")
        minsu = await DemoClient.join(room.url, "민수")
        await minsu.expect(ServerType.PRESENCE)  # 0.25초 동안 모은 입장·퇴장
        jiyoung = await DemoClient.join(room.url, "지영")
        await minsu.expect(ServerType.PRESENCE)
        await jiyoung.expect(ServerType.PRESENCE)
        await minsu.send({"type": ClientType.MESSAGE, "text": "  안녕하세요!  "})
        await minsu.expect(ServerType.MESSAGE)
        await jiyoung.expect(ServerType.MESSAGE)
        cheolsu = await DemoClient.join(room.url, "철수", show=False)
        for client in (minsu, jiyoung, cheolsu):
            await client.expect(ServerType.PRESENCE, show=False)
        await jiyoung.send({"type": ClientType.WHISPER, "to": "민수", "text": "비밀"})
        await minsu.expect(ServerType.WHISPER)
        await jiyoung.expect(ServerType.WHISPER)
        await cheolsu.send({"type": ClientType.USERS}, show=False)
        first = await cheolsu.expect(ServerType.USERS, show=False)
        print(f"[클라이언트 철수] 귓속말 다음에 처음 받은 것: {first['type']}")
        for frame in ("안녕", '{"type": "dance"}', '{"type": "nick", "name": "지영"}'):
            await jiyoung.send(frame)
            await jiyoung.expect(ServerType.ERROR)
        text = "오류 뒤에도 연결은 그대로"
        await jiyoung.send({"type": ClientType.MESSAGE, "text": text}, show=False)
        event = await jiyoung.expect(ServerType.MESSAGE, show=False)
        print(f"[클라이언트 지영] 오류 3번 뒤에도 보낸 글이 id {event['id']}로 접수됨")
        await leave_in_order(room, (minsu, jiyoung, cheolsu))


def demo_06_walkthrough() -> None:
    """6절: 서버 하나와 클라이언트 셋을 한 프로세스에서 돌립니다.

    예상 출력(ts는 생략):
        [서버] ws://127.0.0.1:43210/ws 에서 기다립니다(데모용 빈 포트)
        [클라이언트 민수] >>> {"type":"join","name":"민수"}
        [서버] 입장: 민수 (접속 1명)
        [클라이언트 민수] <<< {"type":"welcome","name":"민수","users":["민수"],...}
        [클라이언트 민수] <<< {"type":"presence","joined":["민수"],"left":[]}
        [클라이언트 지영] >>> {"type":"join","name":"지영"}
        [서버] 입장: 지영 (접속 2명)
        [클라이언트 지영] <<< {"type":"welcome","name":"지영","users":["민수",...}
        [클라이언트 민수] <<< {"type":"presence","joined":["지영"],"left":[]}
        [클라이언트 지영] <<< {"type":"presence","joined":["지영"],"left":[]}
        [클라이언트 민수] >>> {"type":"message","text":"  안녕하세요!  "}
        [클라이언트 민수] <<< {"type":"message","id":1,"from":"민수",...}
        [클라이언트 지영] <<< {"type":"message","id":1,"from":"민수",...}
        [서버] 입장: 철수 (접속 3명)
        [클라이언트 지영] >>> {"type":"whisper","to":"민수","text":"비밀"}
        [클라이언트 민수] <<< {"type":"whisper","from":"지영","to":"민수",...}
        [클라이언트 지영] <<< {"type":"whisper","from":"지영","to":"민수",...}
        [클라이언트 철수] 귓속말 다음에 처음 받은 것: users
        [클라이언트 지영] >>> 안녕
        [서버] 오류 invalid_json: 지영
        [클라이언트 지영] <<< {"type":"error","code":"invalid_json",...}
        [클라이언트 지영] >>> {"type": "dance"}
        [서버] 오류 unknown_type: 지영
        [클라이언트 지영] <<< {"type":"error","code":"unknown_type",...}
        [클라이언트 지영] >>> {"type": "nick", "name": "지영"}
        [서버] 오류 name_taken: 지영
        [클라이언트 지영] <<< {"type":"error","code":"name_taken",...}
        [클라이언트 지영] 오류 3번 뒤에도 보낸 글이 id 2로 접수됨
        [서버] 퇴장: 민수 (클라이언트가 닫음 1000, 접속 2명)
        [서버] 퇴장: 지영 (클라이언트가 닫음 1000, 접속 1명)
        [서버] 퇴장: 철수 (클라이언트가 닫음 1000, 접속 0명)
    """
    asyncio.run(walkthrough())


# =============================================================================
# 7. 느린 클라이언트와 하트비트: 상한은 보내는 순간에
# =============================================================================
# 읽지 않는 클라이언트(멈춘 노트북, 잠든 탭, 일부러 그러는 공격자)에게도
# broadcast()는 계속 쌓습니다. 운영체제의 소켓 버퍼가 먼저 차고, 그다음 서버
# 프로세스의 쓰기 버퍼(transport.get_write_buffer_size())가 끝없이 자랍니다.
# 경고: 하트비트(ping)만으로는 이런 클라이언트를 내보내지 못합니다. ping도 그
# 버퍼 뒤에 줄을 서서 나가지 못하고, 버퍼는 계속 자랍니다.
# 0.5초마다 모든 연결을 둘러보는 감시 태스크는 상한이 되지 못합니다. 서버가 바쁠
# 때는 그 태스크의 차례가 늦게 오고(2초를 기다리기로 했는데 10초 넘게 밀린 것을
# 쟀습니다), 그동안에도 broadcast()는 버퍼를 키웁니다. 그래서 데이터를 버퍼에 넣는
# 바로 그 자리, 5절의 send()에서 받는 쪽마다 버퍼를 잽니다(GuardedRoom).
#   - 한도(256 KiB) 아래: 보냅니다.
#   - 한도를 넘은 지 유예(2초)가 안 됨: 보냅니다(잠깐 느린 사람은 살림). 단, 한도의
#     4배를 넘으면 바로 내보냅니다. 그래서 연결 하나의 버퍼는 1 MiB를 넘지 못합니다.
#   - 그 밖: 그 자리에서 방에서 빼고 퇴장을 알린 뒤, 1008로 닫아 보고 안 닫히면
#     transport.abort()로 끊습니다. 더 보낼 글이 없어도 유예가 끝나는 시각에 한 번
#     더 봅니다(loop.call_later).
# 서버가 보내는 것은 글만이 아닙니다. 클라이언트가 보낸 ping마다 라이브러리가 pong을
# 씁니다. 읽지 않으면서 ping만 쏟아붓는 연결도 같은 한도로 막으려고, 받은 데이터를
# 처리한 직후(data_received)에도 버퍼를 재는 연결 클래스를 serve()에 넘깁니다.
# 하트비트: 상대가 아예 사라지면(전원 꺼짐, 네트워크 끊김) TCP는 한참 동안 모릅니다.
# serve(ping_interval=20, ping_timeout=20)는 20초마다 ping을 보내고 20초 안에
# pong이 없으면 연결을 닫습니다. 그러면 handle_client의 finally가 퇴장을 알립니다.


class GuardedRoom(ChatRoom):
    """5절의 ChatRoom과 같되, 보내기 직전에 받는 쪽의 쓰기 버퍼를 잽니다."""

    def send(self, clients: Iterable[Client], event: Event) -> None:
        now = time.monotonic()
        keeping = [client for client in list(clients) if self.keeps_up(client, now)]
        super().send(keeping, event)

    def keeps_up(self, client: Client, now: float) -> bool:
        """이 연결에 더 넣어도 되는지. 한도를 오래, 또는 크게 넘었으면 내보냅니다."""
        transport = client.websocket.transport
        if client.state is ClientState.GONE or transport.is_closing():
            return False
        buffered = transport.get_write_buffer_size()
        limit, grace = SLOW_LIMIT, self.config.slow_grace
        if buffered <= limit:
            client.over_limit_since = None
            return True
        if client.over_limit_since is None:
            client.over_limit_since = now
            loop = asyncio.get_running_loop()
            loop.call_later(grace, self.keeps_up, client, now + grace)  # 다시 보기
        if buffered <= 4 * limit and now - client.over_limit_since < grace:
            return True
        log.warning(
            "느린 클라이언트를 내보냅니다: %s (버퍼 %d KiB, 한도 %d KiB, %.1f초째)",
            client.label,
            buffered // 1024,
            limit // 1024,
            now - client.over_limit_since,
        )
        self.leave(client, "느린 클라이언트(1008)")
        if self.closing:  # 종료 중이면 기다리지 않고 끊습니다
            transport.abort()
        else:
            code, reason = CloseCode.POLICY_VIOLATION, "느린 클라이언트"
            self.spawn(close_or_abort(client.websocket, code, reason))
        return False


class GuardedConnection(ServerConnection):
    """받은 데이터를 처리한 직후(pong을 쓴 직후)에도 쓰기 버퍼를 재는 연결."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # 여기서 라이브러리가 ping에 pong을 씁니다
        # GuardedRoom이 내보내는 선(4배)보다 높게: 내보내 닫히는 중인 연결은 두고,
        # 방 밖에서 쌓이는 것(ping마다 쓰는 pong)만 막습니다.
        if self.transport.get_write_buffer_size() > 8 * SLOW_LIMIT:
            who = ":".join(map(str, self.remote_address[:2]))
            log.warning("읽지 않으면서 보내기만 하는 연결을 끊습니다: %s", who)
            self.transport.abort()


async def open_stalled_client(url: str, port: int, name: str) -> ClientConnection:
    """먼 네트워크 너머의 느린 클라이언트 흉내: 입장한 뒤 읽기를 멈춥니다.

    루프백에서는 운영체제가 읽지 않는 소켓에도 몇 MiB를 받아 주므로, 실제 네트워크의
    클라이언트처럼 세그먼트를 1,460바이트로, 받기 버퍼를 8 KiB로 줄여서 연결합니다.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if hasattr(socket, "TCP_MAXSEG"):  # Windows에는 없습니다
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (DEFAULT_HOST, port))
    websocket = await connect(url, sock=sock, compression=None)
    await websocket.send(encode({"type": ClientType.JOIN, "name": name}))
    await websocket.recv()  # welcome
    websocket.transport.pause_reading()  # 이제부터 읽지 않습니다
    return websocket


async def read_until_closed(websocket: ClientConnection) -> int | None:
    """연결이 닫힐 때까지 읽고 버립니다. 받은 종료 코드(닫기 프레임이 없으면 None)."""
    try:
        while True:
            await websocket.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


async def stalled_reader_scenario() -> None:
    """민수가 쏟아붓고, 지영은 잘 읽고, 느림은 읽지 않습니다."""
    config = ServerConfig(port=0, rate=1000, burst=1000, room_rate=1000, slow_grace=1)
    room = GuardedRoom(config)
    async with serving(room, create_connection=GuardedConnection) as server:
        minsu = await DemoClient.join(room.url, "민수", show=False)
        jiyoung = await DemoClient.join(room.url, "지영", show=False)
        stalled = await open_stalled_client(room.url, port_of(server), "느림")
        readers = [asyncio.create_task(c.collect()) for c in (minsu, jiyoung)]
        text = "가" * MAX_TEXT  # 프레임 하나에 약 3 KiB
        start, sent = time.perf_counter(), 0
        while "느림" in room.names() and sent < 3000:  # 초당 약 100개
            await minsu.send({"type": ClientType.MESSAGE, "text": text}, show=False)
            sent += 1
            await asyncio.sleep(0.01)
        evicted_after = time.perf_counter() - start
        stalled.transport.resume_reading()  # 지금 읽으면 닫기 프레임까지 닿습니다
        code = await read_until_closed(stalled)
        await leave_in_order(room, (minsu, jiyoung))
        got = [sum(e["type"] == ServerType.MESSAGE for e in await r) for r in readers]
    print(f"'느림'을 내보내기까지 {seconds(evicted_after)}: ", end="")
    print(f"민수가 약 3 KiB짜리 메시지 {sent}개를 보냄")
    print(f"느림이 받은 종료 코드: {code}")
    print(f"민수가 받은 메시지 {got[0]}/{sent}개, 지영이 받은 메시지 {got[1]}/{sent}개")


async def dead_peer_scenario() -> None:
    """유령은 입장한 뒤 사라집니다(읽지도, pong하지도 않음). ping이 찾아냅니다."""
    config = ServerConfig(port=0, ping_interval=0.5, ping_timeout=0.5)
    room = GuardedRoom(config)
    async with serving(room):
        jiyoung = await DemoClient.join(room.url, "지영", show=False)
        await jiyoung.expect(ServerType.PRESENCE, show=False)
        ghost = await DemoClient.join(room.url, "유령", show=False)
        await jiyoung.expect(ServerType.PRESENCE, show=False)
        ghost.websocket.transport.pause_reading()  # 전원이 꺼진 것처럼
        start = time.perf_counter()
        await wait_until(lambda: "유령" not in room.names(), within=10)
        found_after = seconds(time.perf_counter() - start)
        await jiyoung.expect(ServerType.PRESENCE)
        ghost.websocket.transport.abort()
        await leave_in_order(room, [jiyoung])
    print("ping_interval 0.5초, ping_timeout 0.5초: 응답 없는 연결을 ", end="")
    print(f"{found_after} 만에 치웠습니다(닫기 기다림 {CLOSE_TIMEOUT:g}초 포함).")


def demo_07_slow_clients() -> None:
    """7절: 읽지 않는 클라이언트와 사라진 클라이언트를 치웁니다.

    예상 출력(숫자는 실행마다 다름):
        [서버] 입장: 민수 (접속 1명)
        [서버] 입장: 지영 (접속 2명)
        [서버] 입장: 느림 (접속 3명)
        [서버] 느린 클라이언트를 내보냅니다: 느림 (버퍼 536 KiB, 한도 256 KiB, 1.0초째)
        [서버] 퇴장: 느림 (느린 클라이언트(1008), 접속 2명)
        [서버] 퇴장: 민수 (클라이언트가 닫음 1000, 접속 1명)
        [서버] 퇴장: 지영 (클라이언트가 닫음 1000, 접속 0명)
        '느림'을 내보내기까지 2.47초: 민수가 약 3 KiB짜리 메시지 229개를 보냄
        느림이 받은 종료 코드: 1008
        민수가 받은 메시지 238/238개, 지영이 받은 메시지 238/238개
        [서버] 입장: 지영 (접속 1명)
        [서버] 입장: 유령 (접속 2명)
        [서버] 퇴장: 유령 (응답 없음(ping 시간 초과), 접속 1명)
        [클라이언트 지영] <<< {"type":"presence","joined":[],"left":["유령"]}
        [서버] 퇴장: 지영 (클라이언트가 닫음 1000, 접속 0명)
        ping_interval 0.5초, ping_timeout 0.5초: 응답 없는 연결을 3.00초 만에 ...
    """
    asyncio.run(stalled_reader_scenario())
    asyncio.run(dead_peer_scenario())


# =============================================================================
# 8. 브라우저 클라이언트: HTML 한 장, 글은 textContent로만
# =============================================================================
# GET /가 내주는 페이지 한 장에 CSS와 JavaScript를 모두 넣었습니다(CDN 없음:
# 인터넷이 없어도 동작합니다). 보안의 핵심 두 가지:
# - 남이 보낸 글과 이름은 언제나 textContent로 넣습니다. innerHTML에 넣으면
#   <img src=x onerror=...> 같은 글이 HTML이 되어 다른 사람의 브라우저에서
#   스크립트가 실행됩니다(저장형 XSS). textContent는 글자를 글자로만 보여 줍니다.
# - 응답 헤더 Content-Security-Policy(CSP)가 이 페이지의 인라인 스크립트와
#   스타일만(내용의 SHA-256 해시로) 허용하고, 다른 스크립트와 이미지, 외부 연결은
#   막습니다. 실수로 HTML을 끼워 넣는 날에도 한 번 더 막아 주는 그물입니다.
# 끊기면 다시 연결하되 터미널 클라이언트(12절)와 같은 규칙을 따릅니다: '다시
# 해 보라'는 종료(1001, 1006, 1011, 1012, 1013)에만 백오프하며 다시 연결하고,
# 정책 위반(1008) 같은 종료는 까닭을 보여 주고 멈춥니다.

PAGE_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em;
  background: #263238; color: #fff; }
h1 { font-size: 1.1em; margin: 0; }
#status { font-size: .85em; padding: .1em .7em; border-radius: 1em;
  background: #607d8b; }
#status.online { background: #2e7d32; }
#status.offline { background: #c62828; }
form { display: flex; gap: .5em; }
#join { flex-direction: column; max-width: 24em; margin: 3em auto; }
#room { display: flex; gap: 1em; padding: 1em; max-width: 60em; margin: auto; }
#chat { flex: 1; min-width: 0; }
#messages { list-style: none; margin: 0 0 .5em; padding: .5em; height: 60vh;
  overflow-y: auto; background: #fff; border: 1px solid #ccd; }
#messages li { white-space: pre-wrap; overflow-wrap: anywhere; }
#text { flex: 1; }
aside { width: 12em; }
#users { list-style: none; padding: 0; }
.history, .system { color: #666; }
.whisper { color: #6a1b9a; }
.error { color: #c62828; }
[hidden] { display: none !important; }
"""

PAGE_SCRIPT = """
"use strict";
const $ = (id) => document.getElementById(id);
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const url = scheme + location.host + "/ws";
const RETRY = [1001, 1006, 1011, 1012, 1013];  // 다시 해 보라는 종료 코드
let ws = null;
let me = "";
let users = [];
let joined = false;
let stopped = false;
let attempts = 0;
let retry = 0;  // 다시 연결 타이머

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = cls;
}

function clock(ts) {
  const options = {hour: "2-digit", minute: "2-digit", hour12: false};
  return new Date(ts * 1000).toLocaleTimeString("ko-KR", options);
}

// 사용자가 보낸 글은 언제나 textContent로 넣습니다(innerHTML 금지).
function addLine(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = cls;
  const box = $("messages");
  box.append(li);
  box.scrollTop = box.scrollHeight;
}

function showMessage(m, cls) {
  addLine(clock(m.ts) + " #" + m.id + " " + m.from + ": " + m.text, cls);
}

function setUsers(list) {
  users = [...new Set(list)].sort();
  $("users").replaceChildren(...users.map((name) => {
    const li = document.createElement("li");
    li.textContent = name === me ? name + " (나)" : name;
    return li;
  }));
  $("count").textContent = String(users.length);
  const to = $("to");
  const keep = to.value;
  const others = users.filter((n) => n !== me);
  to.replaceChildren(new Option("모두에게", ""),
    ...others.map((n) => new Option("귓속말: " + n, n)));
  to.value = others.includes(keep) ? keep : "";
}

function showJoinForm(text) {
  stopped = true;
  $("join-error").textContent = text;
  $("join").hidden = false;
  $("room").hidden = true;
}

function handle(ev) {
  switch (ev.type) {
    case "welcome":
      joined = true;
      attempts = 0;
      me = ev.name;
      $("join").hidden = true;
      $("room").hidden = false;
      $("messages").replaceChildren();
      ev.history.forEach((m) => showMessage(m, "history"));
      addLine(me + " 이름으로 입장했습니다.", "system");
      setUsers(ev.users);
      $("text").focus();
      break;
    case "message":
      showMessage(ev, "");
      break;
    case "whisper":
      addLine(clock(ev.ts) + " (귓속말) " + ev.from + " → " + ev.to +
        ": " + ev.text, "whisper");
      break;
    case "presence":
      ev.joined.filter((n) => n !== me).forEach(
        (n) => addLine(n + " 님이 들어왔습니다.", "system"));
      ev.left.forEach((n) => addLine(n + " 님이 나갔습니다.", "system"));
      setUsers(users.concat(ev.joined).filter((n) => !ev.left.includes(n)));
      break;
    case "nick":
      if (ev.old === me) me = ev.new;
      setUsers(users.map((n) => (n === ev.old ? ev.new : n)));
      addLine(ev.old + " 님이 이제 " + ev.new + " 입니다.", "system");
      break;
    case "users":
      setUsers(ev.users);
      break;
    case "system":
      addLine("[알림] " + ev.text, "system");
      break;
    case "error":
      if (joined) {
        addLine("오류(" + ev.code + "): " + ev.message, "error");
      } else {
        showJoinForm(ev.message);
        ws.close();
      }
      break;
  }
}

function connect() {
  setStatus("연결 중...", "");
  ws = new WebSocket(url);
  ws.onopen = () => {
    setStatus("연결됨", "online");
    ws.send(JSON.stringify({type: "join", name: me}));
  };
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onclose = (e) => {
    joined = false;
    if (!stopped && !RETRY.includes(e.code)) {
      showJoinForm("서버가 연결을 닫았습니다(" + e.code + " " + e.reason + ").");
    }
    if (stopped) {
      setStatus("연결 안 됨", "offline");
      return;
    }
    const delay = Math.min(8, 0.5 * 2 ** attempts) * (0.5 + Math.random() / 2);
    attempts += 1;
    setStatus("끊김(" + e.code + "), " + delay.toFixed(1) +
      "초 뒤 다시 연결", "offline");
    retry = setTimeout(connect, delay * 1000);
  };
}

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  // 두 번 눌러도 연결은 하나: 열려 있거나 닫히는 중이면 무시합니다.
  if (ws && ws.readyState !== WebSocket.CLOSED) return;
  clearTimeout(retry);  // 기다리던 다시 연결 대신 지금 연결합니다
  me = $("name").value.trim();
  $("join-error").textContent = "";
  stopped = false;
  attempts = 0;
  connect();
});

$("send").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value;
  if (!text.trim() || !joined) return;
  const to = $("to").value;
  const ev = to ? {type: "whisper", to: to, text: text}
    : {type: "message", text: text};
  ws.send(JSON.stringify(ev));
  $("text").value = "";
});
"""

PAGE_HTML = f"""<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>실시간 채팅</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
<header><h1>실시간 채팅</h1><span id="status">연결 전</span></header>
<form id="join">
  <label for="name">이름 (한글, 영문, 숫자, _, - 로 1~20자)</label>
  <input id="name" maxlength="20" autocomplete="off" required autofocus>
  <button>입장</button>
  <p id="join-error" class="error"></p>
</form>
<main id="room" hidden>
  <section id="chat">
    <ul id="messages"></ul>
    <form id="send">
      <select id="to" aria-label="받는 사람"></select>
      <input id="text" maxlength="1000" autocomplete="off"
        placeholder="메시지를 입력하세요">
      <button>보내기</button>
    </form>
  </section>
  <aside><h2>접속자 <span id="count">0</span>명</h2><ul id="users"></ul></aside>
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


def demo_08_browser_page() -> None:
    """8절: 페이지 한 장과 그 CSP.

    예상 출력:
        페이지: 6,874바이트(CSS와 JavaScript를 안에 담음, 외부 파일 0개)
        사용자 글을 넣는 곳: textContent 5곳, innerHTML 0곳
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
    external = len(re.findall(r"<(?:script|link)[^>]*(?:src|href)=", PAGE_HTML))
    print(f"페이지: {size:,}바이트(CSS와 JavaScript를 안에 담음, ", end="")
    print(f"외부 파일 {external}개)")
    text_content = PAGE_SCRIPT.count(".textContent =")
    inner = PAGE_SCRIPT.count(".innerHTML")
    print(f"사용자 글을 넣는 곳: textContent {text_content}곳, innerHTML {inner}곳")
    print("CSP 지시어:")
    for directive in PAGE_CSP.split("; "):
        print(f"  {directive}")


# =============================================================================
# 9. 같은 포트의 HTTP: 채팅 화면, /healthz, Origin, 정원
# =============================================================================
# WebSocket 연결은 HTTP 요청(핸드셰이크)으로 시작합니다. serve(process_request=...)
# 는 그 요청을 먼저 봅니다. 응답(Response)을 돌려주면 평범한 HTTP로 끝나고, None을
# 돌려주면 WebSocket 핸드셰이크가 이어집니다. 그래서 포트 하나로
#   GET /         → 브라우저 클라이언트(8절의 HTML 한 장)
#   GET /healthz  → 상태 확인(health check) JSON: 모니터링, 로드 밸런서용
#   GET /ws       → 정원이 찼으면 503, 아니면 WebSocket
# 을 모두 처리합니다.
# 정원은 TCP 연결부터 셉니다. 핸드셰이크를 끝낸 연결만 세면, 요청을 보내다 마는
# 연결 수천 개가 파일 디스크립터를 다 써 버립니다. serve(create_connection=...)에
# 넘긴 연결 클래스가 connection_made(연결이 들어온 순간)부터 세고, 정원에 여유
# (HANDSHAKE_SLACK)를 더한 수를 넘는 연결은 읽지도 않고 끊습니다. 정원과 여유
# 사이의 연결에는 503으로 답합니다. 요청을 보내다 마는 연결은 open_timeout이 끊습니다.
# 출처(Origin) 검사: 어느 사이트의 페이지든 브라우저 안에서 ws://127.0.0.1:8765/ws
# 로 연결을 열 수 있습니다. 방문자의 쿠키까지 실려 가므로 교차 사이트 WebSocket
# 탈취(CSWSH)라고 부릅니다. 브라우저가 붙이는 Origin 헤더를
# serve(origins=[...])로 검사해, 이 서버가 내준 페이지의 출처와
# --allow-origin만 받고 나머지는 403으로 거절합니다. 목록의 None은 "Origin 헤더가
# 없음"으로, 터미널 클라이언트처럼 브라우저가 아닌 프로그램입니다.


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
    room: ChatRoom, connection: ServerConnection, request: Request
) -> Response | None:
    """핸드셰이크 전에 HTTP 요청을 봅니다. None이면 WebSocket으로 진행합니다."""
    path = request.path.partition("?")[0]
    if path == WS_PATH and len(room.sockets) <= room.config.max_clients:
        return None  # 다음은 라이브러리의 Origin 검사(403)와 핸드셰이크
    if path == WS_PATH:
        log.warning("정원 초과로 거절(503): 연결 %d개", len(room.sockets))
        full = "서버 정원이 찼습니다. 잠시 뒤에 다시 접속해 주세요.\n"
        return respond(connection, HTTPStatus.SERVICE_UNAVAILABLE, full)
    if path == "/":
        return respond(connection, HTTPStatus.OK, PAGE_HTML, PAGE_HEADERS)
    if path == "/healthz":
        uptime = round(time.monotonic() - room.started, 1)
        health = {"status": "ok", "users": len(room.users)}
        health |= {"connections": len(room.clients), "uptime": uptime}
        json_type = {"Content-Type": "application/json"}
        return respond(connection, HTTPStatus.OK, json.dumps(health), json_type)
    routes = "/ (채팅 화면), /ws (WebSocket), /healthz (상태)"
    return respond(connection, HTTPStatus.NOT_FOUND, f"없는 주소입니다. {routes}\n")


def counted_connection(room: ChatRoom) -> type[ServerConnection]:
    """TCP 연결이 들어온 순간부터 room.sockets에 세는 연결 클래스(7절의 검사 포함)."""

    class CountedConnection(GuardedConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            room.sockets.add(self)
            if len(room.sockets) > room.config.max_clients + HANDSHAKE_SLACK:
                log.warning("정원과 여유를 넘은 연결을 받자마자 끊습니다")
                self.transport.abort()  # 요청을 읽지도 않습니다: 파일 디스크립터 보호

        def connection_lost(self, exc: Exception | None) -> None:
            room.sockets.discard(self)
            super().connection_lost(exc)

    return CountedConnection


async def http_get(port: int, path: str) -> tuple[str, dict[str, str], bytes]:
    """아주 작은 HTTP 클라이언트(데모용): (상태 줄, 헤더, 본문)."""
    reader, writer = await asyncio.open_connection(DEFAULT_HOST, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {DEFAULT_HOST}:{port}\r\n\r\n".encode())
    raw = await reader.read()  # 서버가 응답 뒤에 연결을 닫습니다
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body


def free_port(host: str = DEFAULT_HOST) -> int:
    """운영체제에게 빈 포트를 받아 번호만 돌려줍니다(Origin 목록에 포트가 들어가서)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_options(room: ChatRoom) -> dict[str, object]:
    """serve()에 더할 이 절의 설정: HTTP 처리, Origin 허용 목록, 연결 세기."""
    return {
        "process_request": functools.partial(process_request, room),
        "origins": allowed_origins(room.config),
        "create_connection": counted_connection(room),
    }


async def http_tour() -> None:
    """HTTP 경로들, 낯선 Origin, 정원 초과를 차례로 시험합니다."""
    room = GuardedRoom(ServerConfig(port=free_port(), max_clients=2))
    port = room.config.port
    async with serving(room, **http_options(room)):
        for path in ("/healthz", "/", "/nope"):
            status, headers, body = await http_get(port, path)
            kind = headers.get("Content-Type", "")
            shown = body.decode() if path == "/healthz" else f"{len(body):,}바이트"
            print(f"GET {pad(path, 9)}→ {status} ({kind}) {shown.strip()}")
        for origin in (f"http://127.0.0.1:{port}", "http://evil.example"):
            try:
                async with connect(room.url, origin=Origin(origin)):
                    print(f"Origin {pad(origin, 26)}→ 101 WebSocket 연결됨")
            except InvalidStatus as exc:
                print(f"Origin {pad(origin, 26)}→ {exc.response.status_code} 거절")
        await wait_until(lambda: not room.sockets)
        async with connect(room.url), connect(room.url):
            try:
                await connect(room.url)
            except InvalidStatus as exc:
                reply = exc.response.body.decode().strip()
                print(f"정원 {room.config.max_clients}명일 때 세 번째 연결 → ", end="")
                print(f"{exc.response.status_code} {reply}")


def demo_09_http() -> None:
    """9절: 같은 포트의 HTTP, Origin 검사, 정원.

    예상 출력(포트는 실행마다 다름):
        GET /healthz → HTTP/1.1 200 OK (application/json) {"status": "ok", ...}
        GET /        → HTTP/1.1 200 OK (text/html; charset=utf-8) 6,874바이트
        GET /nope    → HTTP/1.1 404 Not Found (text/plain; charset=utf-8) 78바이트
        Origin http://127.0.0.1:54321    → 101 WebSocket 연결됨
        Origin http://evil.example       → 403 거절
        [서버] 정원 초과로 거절(503): 연결 3개
        정원 2명일 때 세 번째 연결 → 503 서버 정원이 찼습니다. 잠시 뒤에 ...
    """
    asyncio.run(http_tour())


# =============================================================================
# 10. 서버 실행과 우아한 종료
# =============================================================================
# 지금까지의 조각을 모읍니다: 7절의 GuardedRoom, 6절의 chat_server(), 9절의 HTTP
# 처리와 연결 세기. 이것이 server 모드가 실행하는 서버입니다.
# 종료 순서: 신호 → 새 연결 받지 않기 → 모두에게 system 알림 → 1001(떠남)로 닫기
# → SHUTDOWN_GRACE(3초) 안에 안 닫히는 연결(읽지 않는 클라이언트, 핸드셰이크를
# 하다 만 연결)은 끊기 → 종료 코드 0. 라이브러리의 server.close()와 wait_closed()는
# 닫기 핸드셰이크와 open_timeout을 끝까지 기다리므로, 시간제한은 직접 겁니다.
# 신호는 loop.add_signal_handler로 받습니다. Windows에는 이 기능이 없어서
# (NotImplementedError) Ctrl+C가 KeyboardInterrupt로 오고, asyncio.run이 실행 중인
# 태스크를 취소하면서 같은 finally(shutdown)를 거칩니다.
# 연결 하나는 파일 디스크립터 하나입니다. 리눅스의 기본 한도(흔히 1,024개)로는
# 정원 1,000명을 받을 수 없으므로 server 모드는 시작할 때 한도를 올리고, 올릴 수
# 없으면 정원을 한도에 맞게 줄인 뒤 그렇게 했다고 알립니다. 그래도 한꺼번에 몰린
# 연결로 accept()가 EMFILE(파일이 너무 많음)을 만나면, 이벤트 루프의 오류 처리기가
# 트레이스백 수천 개 대신 한국어 한 줄을 남깁니다.
# 성능은 레슨 밖에서 잽니다. bench/03_chat_load.py가 이 파일을 server 모드로 띄우고,
# 검사 없이 broadcast()만 하는 맨 릴레이와 번갈아 같은 부하를 걸어 비율로
# 비교합니다(README의 "성능 측정").

FD_RESERVE = 64  # 정원 밖에 남겨 두는 파일 디스크립터(표준 입출력, 듣는 소켓 ...)
ACCEPT_BURST = 64  # 이벤트 루프가 한 번에 accept()하는 연결 수(serve의 backlog)


@contextlib.asynccontextmanager
async def running_server(config: ServerConfig) -> AsyncIterator[ChatRoom]:
    """서버를 띄우고 채팅방을 넘겨줍니다. 블록을 나가면 우아하게 종료합니다."""
    room = GuardedRoom(config)
    asyncio.get_running_loop().set_exception_handler(report_loop_error)
    server = await chat_server(room, backlog=ACCEPT_BURST, **http_options(room))
    room.url = ws_url(config.host, port_of(server))
    try:
        yield room
    finally:
        await shutdown(room, server)


async def shutdown(room: ChatRoom, server: Server) -> None:
    """알리고, 1001로 닫고, SHUTDOWN_GRACE초 안에 안 닫히는 연결은 끊습니다."""
    room.closing = True
    if room.presence_timer is not None:
        room.presence_timer.cancel()
    started = time.monotonic()
    text = "서버를 종료합니다. 잠시 뒤 다시 접속해 주세요."
    notice: Event = {"type": ServerType.SYSTEM, "text": text, "ts": time.time()}
    room.send(room.users.values(), notice)
    log.info(
        "종료합니다: %d명에게 알리고 연결 %d개를 1001로 닫습니다",
        len(room.users),
        len(room.sockets),
    )
    server.close(close_connections=True, code=CloseCode.GOING_AWAY, reason="서버 종료")
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await server.wait_closed()
    except TimeoutError:
        stuck = list(room.sockets)
        log.warning(
            "%g초 안에 닫히지 않은 연결 %d개를 끊습니다", SHUTDOWN_GRACE, len(stuck)
        )
        for connection in stuck:
            connection.transport.abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await server.wait_closed()
    for task in room.tasks:
        task.cancel()  # 내보낸 연결을 닫는 태스크 등
    await asyncio.gather(*room.tasks, return_exceptions=True)
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


def client_options(host: str, port: int) -> str:
    """같은 서버에 붙는 client 명령의 옵션(기본값과 같으면 생략).

    >>> client_options("127.0.0.1", 8765), client_options("0.0.0.0", 9000)
    ('', ' --port 9000')
    >>> client_options("192.168.0.10", 8765)
    ' --host 192.168.0.10'
    """
    wildcard = host in ("0.0.0.0", "::", DEFAULT_HOST)  # noqa: S104  모든 주소 = 이 컴퓨터
    options = "" if wildcard else f" --host {host}"
    return options + ("" if port == DEFAULT_PORT else f" --port {port}")


async def serve_until_stopped(config: ServerConfig) -> None:
    """server 모드: 신호가 올 때까지 서버를 돌립니다."""
    stop = stop_signal()
    notice = fit_open_files(config)
    if notice:
        print(notice)
    async with running_server(config) as room:
        page = room.url.replace("ws://", "http://").removesuffix(WS_PATH)
        deliveries = config.room_rate * config.max_clients
        print(f"[서버] 채팅 서버를 시작했습니다: {room.url}")
        print(f"[서버] 브라우저: {page}/   상태: {page}/healthz")
        capacity = f"정원 {config.max_clients:,}명, 방 전체 초당 {config.room_rate:g}개"
        print(f"[서버] {capacity}: 가득 차면 ", end="")
        print(f"초당 최대 {deliveries:,.0f}건을 전달합니다.")
        hint = f"{PROG} client --name 민수{client_options(config.host, config.port)}"
        print(f"[서버] 다른 터미널에서: {hint}")
        print("[서버] 끝내려면 Ctrl+C를 누르세요.")
        await stop.wait()
        print("[서버] 종료 신호를 받았습니다. 접속자에게 알리고 연결을 닫습니다...")
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


async def shutdown_tour() -> None:
    """두 사람이 접속한 채로 서버를 끕니다."""
    async with running_server(ServerConfig(port=0)) as room:
        minsu = await DemoClient.join(room.url, "민수", show=False)
        jiyoung = await DemoClient.join(room.url, "지영", show=False)
        for client in (minsu, jiyoung):
            await client.expect(ServerType.PRESENCE, show=False)
    for client in (minsu, jiyoung):
        notice = await client.expect(ServerType.SYSTEM)
        code = await read_until_closed(client.websocket)
        print(f"[클라이언트 {client.name}] 종료 코드 {code}: {notice['text']}")


def demo_10_shutdown() -> None:
    """10절: 우아한 종료.

    예상 출력(시간은 실행마다 다름):
        [서버] 입장: 민수 (접속 1명)
        [서버] 입장: 지영 (접속 2명)
        [서버] 종료합니다: 2명에게 알리고 연결 2개를 1001로 닫습니다
        ...      ← 퇴장 두 줄(민수, 지영: 서버 종료로 1001). 순서는 실행마다 다름
        [서버] 모든 연결을 닫았습니다 (1.2ms)
        [클라이언트 민수] <<< {"type":"system","text":"서버를 종료합니다. ..."}
        [클라이언트 민수] 종료 코드 1001: 서버를 종료합니다. 잠시 뒤 다시 접속해 주세요.
        [클라이언트 지영] <<< {"type":"system","text":"서버를 종료합니다. ..."}
        [클라이언트 지영] 종료 코드 1001: 서버를 종료합니다. 잠시 뒤 다시 접속해 주세요.
    """
    asyncio.run(shutdown_tour())


# =============================================================================
# 11. 터미널 클라이언트(1): 막지 않는 키보드, 명령, 화면
# =============================================================================
# input()은 블로킹 호출이라 코루틴 안에서 부르면 메시지 받기까지 멈춥니다. 키보드는
# 데몬 스레드 하나가 읽어 call_soon_threadsafe로 asyncio.Queue에 넣습니다.
# (asyncio.to_thread(input)도 되지만, 끝낼 때 입력을 기다리는 그 스레드가 끝나기를
# 기다리느라 엔터를 한 번 더 눌러야 합니다. 데몬 스레드는 프로그램과 함께 끝납니다.)
# 스레드는 /quit이나 입력 끝(EOF)을 넘기면 스스로 끝납니다. 그래서 메뉴에서 켠
# 클라이언트가 끝난 뒤 메뉴의 입력을 가로채지 않습니다.
# 키보드 한 줄을 보낼 이벤트로, 받은 이벤트를 화면의 줄로 바꾸는 일은 순수 함수로
# 나눠 두었습니다(네트워크 없이 doctest로 확인됩니다).

KEYBOARD_THREAD = "keyboard"  # 키보드 스레드의 이름(메뉴가 이 이름으로 찾습니다)
HELP = """명령:
  글만 입력         모두에게 보내기
  /w 이름 내용      귓속말
  /users            접속자 목록
  /nick 새이름      이름 바꾸기
  /quit             나가기 (Ctrl+D, Ctrl+C도 됩니다)
  /help             이 도움말"""


def start_keyboard() -> asyncio.Queue[str | None]:
    """키보드 줄을 넣어 주는 큐. 입력이 끝나면(EOF) None이 들어옵니다."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read_lines() -> None:  # 별도 스레드: 여기서는 블로킹 호출이 괜찮습니다
        with contextlib.suppress(RuntimeError):  # 이벤트 루프가 먼저 끝났으면 그만
            for raw in sys.stdin:
                line = raw.rstrip("\r\n")
                loop.call_soon_threadsafe(lines.put_nowait, line)
                if line.strip() == "/quit":
                    return  # 다음 줄은 메뉴의 몫입니다
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read_lines, name=KEYBOARD_THREAD, daemon=True).start()
    return lines


def parse_command(line: str) -> Event | str | None:
    """키보드 한 줄을 보낼 이벤트로. str은 화면에만 보일 안내, None은 나가기.

    >>> encode(parse_command("/w 지영 저녁 먹었어?"))
    '{"type":"whisper","to":"지영","text":"저녁 먹었어?"}'
    >>> encode(parse_command("안녕하세요"))
    '{"type":"message","text":"안녕하세요"}'
    >>> parse_command("/quit") is None, parse_command("/w 지영")
    (True, '사용법: /w 이름 내용')
    """
    command, _, rest = line.partition(" ")
    rest = rest.strip()
    match command:
        case "/w":
            target, _, text = rest.partition(" ")
            if not text.strip():
                return "사용법: /w 이름 내용"
            return {"type": ClientType.WHISPER, "to": target, "text": text}
        case "/users":
            return {"type": ClientType.USERS}
        case "/nick" if rest:
            return {"type": ClientType.NICK, "name": rest}
        case "/nick":
            return "사용법: /nick 새이름"
        case "/quit":
            return None
        case "/help":
            return HELP
        case _ if command.startswith("/"):
            return f"모르는 명령입니다: {command} (/help로 목록을 보세요)"
        case _:
            return {"type": ClientType.MESSAGE, "text": line}


def clock(ts: object) -> str:
    """유닉스 시간 → 'HH:MM'(이 컴퓨터의 시간대)."""
    return time.strftime("%H:%M", time.localtime(float(str(ts))))


def describe(event: object, me: str = "") -> str:
    """서버 이벤트 하나를 화면의 줄로(me는 presence에서 나를 뺄 때).

    >>> describe({"type": "presence", "joined": ["철수", "나"], "left": ["영희"]}, "나")
    '<<< * 철수 님이 들어왔습니다\\n<<< * 영희 님이 나갔습니다'
    >>> describe(error_event(ErrorCode.NO_SUCH_USER))
    '<<< 오류(no_such_user): 그 이름의 접속자가 없습니다.'
    """
    indent = "\n    "  # 여러 줄 글은 둘째 줄부터 들여 써서 다음 글과 구분합니다
    match event:
        case {"type": ServerType.MESSAGE, "id": n, "from": who, "text": msg, "ts": ts}:
            return f"<<< {clock(ts)} #{n} {who}: {msg}".replace("\n", indent)
        case {"type": ServerType.WHISPER, "from": who, "to": to, "text": msg, "ts": ts}:
            return f"<<< {clock(ts)} (귓속말) {who} → {to}: {msg}".replace("\n", indent)
        case {"type": ServerType.PRESENCE, "joined": [*joined], "left": [*left]}:
            lines = [f"<<< * {name} 님이 들어왔습니다" for name in joined if name != me]
            lines += [f"<<< * {name} 님이 나갔습니다" for name in left]
            return "\n".join(lines)
        case {"type": ServerType.NICK, "old": old, "new": new}:
            return f"<<< * {old} 님이 이제 {new} 입니다"
        case {"type": ServerType.USERS, "users": [*names]}:
            return f"<<< 접속자 {len(names)}명: {', '.join(map(str, names))}"
        case {"type": ServerType.SYSTEM, "text": text}:
            return f"<<< [알림] {text}"
        case {"type": ServerType.ERROR, "code": code, "message": message}:
            return f"<<< 오류({code}): {message}"
        case _:
            return f"<<< (모르는 메시지) {event!r}"


def should_retry(exc: ConnectionClosed) -> bool:
    """다시 연결할 종료인가: 닫기 프레임 없이 끊김(1006)이나 RETRY_CODES.

    >>> should_retry(ConnectionClosedError(Close(1008, "규칙 위반 반복"), None))
    False
    >>> should_retry(ConnectionClosedError(None, None))
    True
    """
    return exc.rcvd is None or exc.rcvd.code in RETRY_CODES


def explain_close(exc: ConnectionClosed) -> str:
    """연결이 끊긴 까닭을 사용자에게."""
    rcvd = exc.rcvd
    if rcvd is None:
        return "연결이 끊겼습니다."
    meaning = {
        1001: "서버가 종료되었습니다",
        1008: "서버가 규칙 위반으로 연결을 닫았습니다",
        1009: "보낸 메시지가 너무 커서 서버가 닫았습니다",
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
        return f"서버가 거절했습니다(HTTP {status}). 채팅 서버가 맞는지 확인하세요."
    if isinstance(exc, InvalidURI):
        return f"주소 형식이 잘못되었습니다: {uri} (--host를 확인하세요)"
    if isinstance(exc, TimeoutError):
        return f"{uri}가 제시간에 응답하지 않습니다."
    if isinstance(exc, OSError):
        return f"{uri}에 연결할 수 없습니다. 서버가 켜져 있는지, 주소를 확인하세요."
    return f"WebSocket 연결에 실패했습니다({exc})."


def demo_11_terminal_screen() -> None:
    """11절: 키보드 줄 → 보낼 이벤트, 받은 이벤트 → 화면.

    예상 출력(시각은 이 컴퓨터의 시간대):
        키보드 '안녕하세요'            → >>> {"type":"message","text":"안녕하세요"}
        키보드 '/w 지영 저녁 먹었어?'  → >>> {"type":"whisper","to":"지영",...}
        키보드 '/nick 철수'            → >>> {"type":"nick","name":"철수"}
        키보드 '/w 지영'               → 화면에만: 사용법: /w 이름 내용
        키보드 '/dance'                → 화면에만: 모르는 명령입니다: /dance (...)
        키보드 '/quit'                 → 나가기
        <<< 09:00 #7 지영: 안녕!
            두 번째 줄
        <<< * 철수 님이 들어왔습니다
        <<< * 영희 님이 나갔습니다
        <<< 오류(rate_limited): 너무 빨리 보내고 있습니다. 잠시 뒤에 보내 주세요.
        닫기 1001 → 서버가 종료되었습니다(1001 서버 종료). 다시 연결: True
        닫기 1008 → 서버가 규칙 위반으로 ...(1008 규칙 위반 반복). 다시 연결: False
        닫기 1009 → 보낸 메시지가 너무 커서 서버가 닫았습니다(1009). 다시 연결: False
        닫기 없음 → 연결이 끊겼습니다. 다시 연결: True
    """
    lines = ["안녕하세요", "/w 지영 저녁 먹었어?", "/nick 철수", "/w 지영"]
    for line in [*lines, "/dance", "/quit"]:
        command = parse_command(line)
        if command is None:
            shown = "나가기"
        elif isinstance(command, str):
            shown = f"화면에만: {command}"
        else:
            shown = f">>> {encode(command)}"
        print(f"키보드 {pad(repr(line), 24)}→ {shown}")
    ts = time.mktime((2026, 1, 1, 9, 0, 0, 0, 0, -1))
    message: Event = {"type": "message", "id": 7, "from": "지영", "ts": ts}
    print(describe(message | {"text": "안녕!\n두 번째 줄"}))
    presence: Event = {"type": "presence", "joined": ["민수", "철수"], "left": ["영희"]}
    print(describe(presence, me="민수"))
    print(describe(error_event(ErrorCode.RATE_LIMITED)))
    for code, reason in ((1001, "서버 종료"), (1008, "규칙 위반 반복"), (1009, "")):
        closed = ConnectionClosedError(Close(code, reason), None)
        print(f"닫기 {code} → {explain_close(closed)}", end="")
        print(f" 다시 연결: {should_retry(closed)}")
    dropped = ConnectionClosedError(None, None)
    print(f"닫기 없음 → {explain_close(dropped)} 다시 연결: {should_retry(dropped)}")


# =============================================================================
# 12. 터미널 클라이언트(2): 입장, 받기와 보내기, 다시 연결
# =============================================================================
# 태스크 두 개가 프로그램이 끝날 때까지 함께 돕니다(02의 client와 같은 생각).
# - stay_connected: 연결하고, 입장하고, 받은 것을 씁니다. `async for websocket in
#   connect(...)`은 연결 시도가 실패하면 백오프하며 다시 시도합니다(01 레슨 11절의
#   지수 백오프와 지터). 연결된 뒤에 끊기면 종료 코드를 봅니다. '다시 해 보라'는
#   종료(1001 서버 종료, 1011, 1012, 1013, 닫기 프레임 없는 끊김)면 다시 연결해 지금
#   이름으로 다시 입장하고, 정책 위반(1008)이나 너무 큰 메시지(1009)처럼 다시 해도
#   같은 결과일 종료는 까닭을 보여 주고 끝냅니다.
# - send_commands: 키보드 줄을 보냅니다. 연결과 따로 돌아서 다시 연결을 기다리는
#   동안에도 /quit과 입력 끝(Ctrl+D)이 곧바로 프로그램을 끝냅니다.
# 어느 쪽이든 먼저 끝나면 연결을 닫고 끝냅니다: /quit은 1000(정상), Ctrl+C는 1001(떠남).
# 다시 입장할 때의 name_taken은 대개 내 옛 연결 때문입니다. 네트워크가 잠깐 끊기면
# 서버는 그 연결이 죽은 줄 모르고 ping 시간제한(7절)까지 이름을 쥐고 있습니다.
# 그래서 다시 입장할 때는 같은 백오프로 기다렸다 다시 하고, 첫 입장만 바로 끝냅니다.


@dataclass
class Me:
    """두 태스크가 함께 보는 내 상태."""

    name: str  # /nick으로 바뀌고, 다시 연결할 때 이 이름으로 입장
    websocket: ClientConnection | None = None  # 지금 연결(끊겨 있으면 None)
    joined: bool = False  # 한 번이라도 입장했나(그 뒤의 입장은 '다시 입장')
    leaving: bool = False  # 끝내는 중: 연결이 닫혀도 다시 연결하지 않음


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


async def join_room(websocket: ClientConnection, me: Me) -> Event | None:
    """join을 보내고 welcome을 받습니다. 거절되면 까닭을 보여 주고 None."""
    await websocket.send(encode({"type": ClientType.JOIN, "name": me.name}))
    event: Event = json.loads(await websocket.recv())
    if event["type"] == ServerType.WELCOME:
        return event
    if me.joined:  # 이름은 이미 검사를 통과했으니 거절은 대개 name_taken입니다
        print(f"[클라이언트 {me.name}] 끊긴 옛 연결을 서버가 ", end="")
        print(f"아직 정리하는 중입니다({event.get('code')}). 잠시 뒤 다시 입장합니다.")
        return None
    print(f"[클라이언트 {me.name}] 입장하지 못했습니다. {describe(event)[4:]}")
    if event.get("code") in (ErrorCode.NAME_TAKEN, ErrorCode.INVALID_NAME):
        print("  --name으로 다른 이름을 골라 다시 실행하세요.")
    return None


async def print_events(websocket: ClientConnection, me: Me) -> None:
    """받은 이벤트를 화면에 씁니다. 연결이 닫히면 ConnectionClosed가 납니다."""
    while True:
        event: Event = json.loads(await websocket.recv())
        if event["type"] == ServerType.NICK and event["old"] == me.name:
            me.name = str(event["new"])  # 다시 연결할 때 새 이름으로 입장
        if shown := describe(event, me.name):
            print(shown, flush=True)


async def stay_connected(uri: str, me: Me) -> bool:
    """연결하고, 입장하고, 받아서 씁니다. 끊기면 다시. 돌아오면 끝난 것입니다.

    돌려주는 값: 끝낼 뜻이 없었는데 끝났는가(입장 거절, 정책 위반, 거절된 연결).
    """

    def retry_or_stop(exc: Exception) -> Exception | None:
        """연결 시도가 실패할 때마다 불립니다. None이면 백오프한 뒤 다시 시도."""
        decision = process_exception(exc)  # 라이브러리의 판단: 네트워크 오류, 5xx
        again = " 잠시 뒤 다시 시도합니다(/quit으로 그만)." if decision is None else ""
        print(f"[클라이언트 {me.name}] {explain_connect_error(exc, uri)}{again}")
        return decision

    rejoin_delays = reconnect_delays()  # 다시 입장이 거절될 때도 같은 백오프
    try:
        async for websocket in connect(
            uri,
            compression=None,
            process_exception=retry_or_stop,
            reconnect_delays=reconnect_delays,
            close_timeout=CLOSE_TIMEOUT,
        ):
            me.websocket = websocket
            try:
                match await join_room(websocket, me):
                    case {"users": [*users], "history": [*history]}:
                        again = "다시 " if me.joined else ""
                        print(f"[클라이언트 {me.name}] {again}입장했습니다. ", end="")
                        print(f"접속자 {len(users)}명, 지난 메시지 {len(history)}개")
                        for past in history:
                            print(describe(past))
                        me.joined, rejoin_delays = True, reconnect_delays()
                        await print_events(websocket, me)
                    case _:  # 입장 거절: 첫 입장이면 포기, 다시 입장이면 백오프
                        me.websocket = None
                        await websocket.close()
                        if not me.joined:
                            return True
                        await asyncio.sleep(next(rejoin_delays))
            except ConnectionClosed as exc:
                me.websocket = None
                if me.leaving:
                    return False
                if not should_retry(exc):
                    print(f"[클라이언트 {me.name}] {explain_close(exc)} 끝냅니다.")
                    return True
                print(f"[클라이언트 {me.name}] {explain_close(exc)} 다시 연결합니다.")
    except (InvalidHandshake, InvalidURI) as exc:  # 다시 시도해도 소용없는 오류
        if isinstance(exc, InvalidURI):
            print(f"[클라이언트 {me.name}] {explain_connect_error(exc, uri)}")
    return True


async def send_commands(me: Me, keyboard: asyncio.Queue[str | None]) -> None:
    """키보드 줄을 명령으로 바꿔 보냅니다. /quit이나 입력 끝이면 돌아옵니다."""
    while (line := await keyboard.get()) is not None:
        if not line.strip():
            continue
        command = parse_command(line.strip())
        if command is None:
            return
        if isinstance(command, str):
            print(command)
        elif me.websocket is None:
            print(f"[클라이언트 {me.name}] 연결되어 있지 않아 보내지 못했습니다.")
        else:
            with contextlib.suppress(ConnectionClosed):  # 끊김은 stay_connected가 알림
                await me.websocket.send(encode(command))
    print(f"[클라이언트 {me.name}] 입력이 끝나 나갑니다.")


async def run_client(uri: str, name: str) -> int:
    """client 모드: 연결을 지키는 태스크와 키보드 태스크를 함께 돌립니다."""
    me = Me(name)
    print(f"[클라이언트 {name}] {uri}에 연결합니다. 명령은 /help, 나가려면 /quit")
    connection = asyncio.create_task(stay_connected(uri, me))
    typing = asyncio.create_task(send_commands(me, start_keyboard()))
    closing = CloseCode.GOING_AWAY  # wait()가 취소되면(Ctrl+C) 1001: 떠남
    try:
        await asyncio.wait({connection, typing}, return_when=asyncio.FIRST_COMPLETED)
        closing = CloseCode.NORMAL_CLOSURE  # /quit, 입력 끝
    finally:
        me.leaving = True
        if me.websocket is not None:
            await me.websocket.close(closing)
        for task in (connection, typing):
            task.cancel()
        await asyncio.gather(connection, typing, return_exceptions=True)
    gave_up = connection.done() and not connection.cancelled() and connection.result()
    print(f"[클라이언트 {me.name}] 채팅을 마쳤습니다.")
    return 1 if gave_up else 0


async def send_once(uri: str, name: str, text: str) -> int:
    """client --send: 입장해서 글 하나를 보내고, 되돌아온 것을 확인하고 끝냅니다."""
    me = Me(name)
    try:
        async with asyncio.timeout(10), connect(uri, compression=None) as websocket:
            if await join_room(websocket, me) is None:
                return 1
            print(f"[클라이언트 {name}] >>> {text}")
            await websocket.send(encode({"type": ClientType.MESSAGE, "text": text}))
            while True:
                event: Event = json.loads(await websocket.recv())
                if event["type"] == ServerType.ERROR or event.get("from") == name:
                    print(f"[클라이언트 {name}] {describe(event)}")
                    return 0 if event["type"] == ServerType.MESSAGE else 1
    except (OSError, InvalidHandshake, InvalidURI) as exc:  # TimeoutError도 OSError
        print(f"[클라이언트 {name}] {explain_connect_error(exc, uri)}", file=sys.stderr)
    except ConnectionClosed as exc:
        print(f"[클라이언트 {name}] {explain_close(exc)}", file=sys.stderr)
    return 1


async def reconnect_tour() -> None:
    """민수가 접속한 채로 서버가 꺼졌다가 같은 포트로 다시 켜집니다."""
    config = ServerConfig(port=free_port())
    me = Me("민수")
    async with running_server(config) as room:
        client = asyncio.create_task(stay_connected(room.url, me))
        await wait_until(lambda: me.joined)
    print("[서버] 0.5초 뒤 같은 포트로 다시 켭니다")
    await asyncio.sleep(0.5)
    async with running_server(config) as room:
        await wait_until(lambda: "민수" in room.names(), within=15)
        me.leaving = True
        if me.websocket is not None:
            await me.websocket.close()
        await client
        await wait_until(lambda: not room.users)


def demo_12_reconnect() -> None:
    """12절: 서버가 1001로 닫으면 백오프하며 다시 연결하고 다시 입장합니다.

    예상 출력(포트와 다시 시도하는 횟수는 실행마다 다름):
        [서버] 입장: 민수 (접속 1명)
        [클라이언트 민수] 입장했습니다. 접속자 1명, 지난 메시지 0개
        [서버] 종료합니다: 1명에게 알리고 연결 1개를 1001로 닫습니다
        ...      ← 알림, 퇴장 기록, "다시 연결합니다"(순서는 실행마다 다름)
        [서버] 0.5초 뒤 같은 포트로 다시 켭니다
        ...      ← "연결할 수 없습니다 ... 잠시 뒤 다시 시도합니다"가 몇 번
        [서버] 입장: 민수 (접속 1명)
        [클라이언트 민수] 다시 입장했습니다. 접속자 1명, 지난 메시지 0개
        [서버] 퇴장: 민수 (클라이언트가 닫음 1000, 접속 0명)
        [서버] 종료합니다: 0명에게 알리고 연결 0개를 1001로 닫습니다
        [서버] 모든 연결을 닫았습니다 (0.3ms)
    """
    asyncio.run(reconnect_tour())


# =============================================================================
# 실행 모드: demo
# =============================================================================

SECTIONS: dict[int, tuple[str, Callable[[], None]]] = {
    1: ("가장 작은 채팅 서버", demo_01_tiny_chat),
    2: ("프로토콜: 메시지 종류와 오류 코드", demo_02_protocol),
    3: ("입력 검증: 허용 목록, 보이지 않는 글자", demo_03_validation),
    4: ("속도 제한: 토큰 버킷", demo_04_rate_limit),
    5: ("채팅방 상태: 기록, 방 전체 예산", demo_05_chat_room),
    6: ("연결 처리: 입장, 대화, 귓속말, 오류", demo_06_walkthrough),
    7: ("느린 클라이언트와 하트비트", demo_07_slow_clients),
    8: ("브라우저 클라이언트와 CSP", demo_08_browser_page),
    9: ("같은 포트의 HTTP, Origin, 정원", demo_09_http),
    10: ("우아한 종료", demo_10_shutdown),
    11: ("터미널 클라이언트: 명령과 화면", demo_11_terminal_screen),
    12: ("터미널 클라이언트: 다시 연결", demo_12_reconnect),
}


def heading(number: int, title: str) -> None:
    """절 제목을 출력합니다."""
    print(f"\n── {number}. {title} " + "─" * max(4, 50 - display_width(title)))


def configure_logging(level: str, *, demo: bool = False) -> None:
    """서버 로그: 입장, 퇴장, 오류마다 한 줄. 데모에서는 출력 사이에 보여 줍니다."""
    layout = "[서버] %(message)s" if demo else "%(asctime)s [서버] %(message)s"
    stream = sys.stdout if demo else sys.stderr
    logging.basicConfig(
        stream=stream, format=layout, datefmt="%H:%M:%S", level=level, force=True
    )
    # 라이브러리의 영어 INFO 로그("connection open" 등)는 끕니다.
    logging.getLogger("websockets").setLevel(logging.WARNING)


def run_demo(section: str) -> int:
    """demo 모드: 한 절 또는 전체(all)를 실행합니다."""
    configure_logging("INFO", demo=True)
    numbers = list(SECTIONS) if section == "all" else [int(section)]
    start = time.perf_counter()
    for number in numbers:
        title, demo = SECTIONS[number]
        heading(number, title)
        demo()
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
    """demo의 절 번호를 검사합니다(허용 목록: 1~12, all)."""
    value = value.strip().lower()
    if value == "all" or (value.isdecimal() and int(value) in SECTIONS):
        return value
    raise argparse.ArgumentTypeError(
        f"'{value}'은(는) 없는 절입니다. 1~{len(SECTIONS)} 또는 all"
    )


def name_choice(value: str) -> str:
    """--name: 서버와 같은 허용 목록으로 미리 검사합니다."""
    if valid_name(value) is None:
        message = ERROR_MESSAGES[ErrorCode.INVALID_NAME]
        raise argparse.ArgumentTypeError(f"'{value}': {message}")
    return value


def origin_choice(value: str) -> str:
    """--allow-origin: 'http(s)://호스트[:포트]' 모양만(경로, 끝의 / 없이)."""
    if not re.fullmatch(r"https?://[^/\s]+", value):
        example = "예: http://192.168.0.10:8765 (경로와 끝의 / 없이)"
        raise argparse.ArgumentTypeError(f"'{value}'은(는) 출처가 아닙니다. {example}")
    return value


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """0보다 큰 유한한 수만 받는 argparse 타입(kind는 int 또는 float).

    >>> positive(float)("0.5"), positive(int)("3")
    (0.5, 3)
    """

    def check(value: str) -> float:
        with contextlib.suppress(ValueError):
            number = kind(value)
            if 0 < number < math.inf:  # nan은 어떤 비교도 참이 아니라 여기서 걸립니다
                return number
        what = "정수" if kind is int else "유한한 수"
        raise argparse.ArgumentTypeError(f"'{value}'은(는) 0보다 큰 {what}가 아닙니다")

    return check


def port_choice(value: str) -> int:
    """--port: 1~65535."""
    if not value.isdecimal() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(
            f"'{value}'은(는) 포트 번호(1~65535)가 아닙니다"
        )
    return int(value)


SERVER_OPTIONS: tuple[tuple[str, Callable[[str], float], float, str], ...] = (
    ("--rate-limit", positive(float), DEFAULT_RATE, "연결마다 초당 프레임 수"),
    ("--burst", positive(int), DEFAULT_BURST, "연결마다 한꺼번에 허용하는 프레임 수"),
    ("--room-rate", positive(float), DEFAULT_ROOM_RATE, "방 전체의 초당 메시지 수"),
    ("--max-clients", positive(int), DEFAULT_MAX_CLIENTS, "동시 연결 상한, 넘으면 503"),
    ("--join-rate", positive(float), DEFAULT_JOIN_RATE, "주소(IP)마다 초당 입장 시도"),
    ("--join-timeout", positive(float), JOIN_TIMEOUT, "입장 전 연결을 닫는 시간(초)"),
    ("--ping-interval", positive(float), PING_INTERVAL, "ping을 보내는 간격(초)"),
    ("--ping-timeout", positive(float), PING_TIMEOUT, "pong을 기다리는 시간(초)"),
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
            "03. 실시간 채팅: 서버와 터미널·브라우저 클라이언트.\n"
            "인자 없이 실행하면 메뉴가 나옵니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                         # 메뉴\n"
            f"  {PROG} server                  # 터미널 1: 서버\n"
            f"  {PROG} client --name 민수      # 터미널 2: 클라이언트\n"
            f"  {PROG} demo 7                  # 7절만 실행\n"
            f"  {PROG} demo all                # 1~12절 전부\n"
        ),
    )
    modes = parser.add_subparsers(
        dest="mode", metavar="모드", help="실행할 모드 (아래 중 하나)"
    )
    server = modes.add_parser(
        "server",
        help="채팅 서버를 실행합니다",
        description="채팅 서버. 브라우저로 http://HOST:PORT/ 를 열 수 있습니다.",
        epilog=(
            "예시:\n"
            f"  {PROG} server\n"
            f"  {PROG} server --port 9000 --max-clients 50\n"
            f"  {PROG} server --host 0.0.0.0 --allow-origin http://192.168.0.10:8765"
        ),
    )
    add_address_options(server, "들을 주소, 모두에게 열려면 0.0.0.0")
    for flag, kind, default, text in SERVER_OPTIONS:
        server.add_argument(
            flag,
            type=kind,
            default=default,
            metavar="N",
            help=f"{text} (기본: {default:g})",
        )
    server.add_argument(
        "--allow-origin",
        type=origin_choice,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="더 허용할 브라우저 출처 (여러 번 쓸 수 있음)",
    )
    server.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING"],
        default="INFO",
        help="로그 수준 (기본: INFO)",
    )
    client = modes.add_parser(
        "client",
        help="터미널 클라이언트로 채팅합니다",
        description=f"터미널 클라이언트. 입장한 뒤 글을 입력하세요.\n\n{HELP}",
        epilog=(
            "예시:\n"
            f"  {PROG} client --name 민수\n"
            f"  {PROG} client --name 지영 --host 192.168.0.10 --port 9000\n"
            f'  {PROG} client --name 봇 --send "배포 끝"   # 하나 보내고 끝'
        ),
    )
    client.add_argument("--name", type=name_choice, required=True, help="채팅 이름")
    add_address_options(client, "서버 주소")
    client.add_argument("--send", metavar="TEXT", help="TEXT 하나를 보내고 끝냅니다")
    demo = modes.add_parser(
        "demo",
        help="절을 골라 예제를 실행합니다 (1~12 또는 all)",
        description="절 번호를 주면 그 절만, all이면 전부 실행합니다.\n\n"
        + "\n".join(f"  {n:>2}. {title}" for n, (title, _) in SECTIONS.items()),
        epilog=f"예시:\n  {PROG} demo all\n  {PROG} demo 7",
    )
    demo.add_argument(
        "section",
        nargs="?",
        default="all",
        type=section_choice,
        help="절 번호 1~12 또는 all (기본: all)",
    )
    return parser


def server_config(args: argparse.Namespace) -> ServerConfig:
    """명령줄 인자 → ServerConfig."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        rate=args.rate_limit,
        burst=args.burst,
        room_rate=args.room_rate,
        join_rate=args.join_rate,
        join_timeout=args.join_timeout,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        max_clients=args.max_clients,
        allow_origins=tuple(args.allow_origin),
    )


def run_mode(args: argparse.Namespace) -> int:
    """하위 명령을 실행합니다."""
    if args.mode == "server":
        configure_logging(args.log_level)
        return run_server(server_config(args))
    if args.mode == "client":
        uri = ws_url(args.host, args.port)
        if args.send is not None:
            return asyncio.run(send_once(uri, args.name, args.send))
        return asyncio.run(run_client(uri, args.name))
    if args.mode == "demo":
        return run_demo(args.section)
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


def ask_name() -> str | None:
    """메뉴의 client 항목: 이름을 물어봅니다. 잘못되면 None."""
    try:
        name = ask("채팅에서 쓸 이름 (한글, 영문, 숫자, _, - 1~20자) > ").strip()
    except EOFError:
        return None
    if valid_name(name) is None:
        print(
            f"'{name}'은(는) 쓸 수 없습니다. {ERROR_MESSAGES[ErrorCode.INVALID_NAME]}"
        )
        return None
    return name


def wait_for_keyboard() -> None:
    """클라이언트가 끝났는데 키보드 스레드가 아직 한 줄을 기다리면 그 줄을 받게 합니다.

    그러지 않으면 메뉴에서 처음 입력한 줄을 그 스레드가 가져가 버립니다.
    """
    for thread in threading.enumerate():
        if thread.name == KEYBOARD_THREAD:
            thread.join(timeout=0.2)  # /quit이나 입력 끝이면 스스로 끝났습니다
            if thread.is_alive():
                print("Enter를 누르면 메뉴로 돌아갑니다.", flush=True)
                thread.join()


def run_menu(parser: KoreanArgumentParser) -> int:
    """인자 없이 실행했을 때의 번호 메뉴. 각 항목은 하위 명령 하나와 같습니다."""
    entries = {str(n): (title, ["demo", str(n)]) for n, (title, _) in SECTIONS.items()}
    entries["a"] = ("전체 실행 (1~12절)", ["demo", "all"])
    entries["s"] = ("채팅 서버 (터미널 1, Ctrl+C로 메뉴로)", ["server"])
    entries["c"] = ("클라이언트 (터미널 2, /quit로 메뉴로)", ["client"])
    while True:
        print("\n03. 실시간 채팅 ─ 메뉴")
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
            print(f"'{choice}'은(는) 메뉴에 없습니다. ", end="")
            print(f"1~{len(SECTIONS)}, a, s, c, q 중에서 골라 주세요.")
            continue
        argv = entries[choice][1]
        if argv == ["client"]:
            name = ask_name()
            if name is None:
                continue
            argv = ["client", "--name", name]
        run_mode(parser.parse_args(argv))
        wait_for_keyboard()


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
