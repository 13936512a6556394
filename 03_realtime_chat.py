"""03. 실시간 채팅: 믿고 쓸 수 있는 서버와 터미널·브라우저 클라이언트

학습 목표
    1. 메시지 종류를 Enum으로 정하고, 바뀌지 않는 오류 코드로 답합니다.
    2. 허용 목록(allowlist)과 fullmatch로 이름과 글을 검증합니다.
    3. 토큰 버킷(token bucket)으로 연결마다 속도 제한을 겁니다.
    4. 접속자 목록과 길이가 정해진 기록(deque)을 두고 broadcast()로 보냅니다.
    5. 연결 하나의 일생을 handle_client로 쓰고 match 문으로 나눕니다.
    6. 읽지 않는 클라이언트를 쓰기 버퍼로 찾아 내보내고 죽은 연결을 치웁니다.
    7. 같은 포트에서 HTTP(화면, /healthz)를 내주고 Origin과 정원을 봅니다.
    8. Ctrl+C와 SIGTERM에 알림을 보내고 1001로 닫는 우아한 종료를 합니다.
    9. 키보드를 막지 않고 읽는 터미널 클라이언트: 명령과 화면.
    10. 끊기면 백오프로 다시 연결하고 다시 입장하는 터미널 클라이언트.
    11. 사용자 글을 textContent로만 그리는 브라우저 클라이언트.
    12. 1,000명 부하를 만드는 부하 발생기와 종단 간 지연 시간.
    13. 서버를 자식 프로세스로 띄우고 CPU와 메모리를 /proc에서 잽니다.
    14. 맨 broadcast() 릴레이와 번갈아 재어 비율로 비교합니다.

핵심 개념
    - 서버는 클라이언트를 믿지 않습니다. 모든 프레임은 크기(max_size), 빈도
      (토큰 버킷), 모양(JSON 객체), 내용(허용 목록)을 차례로 통과해야 합니다.
      잘못된 입력에는 오류 코드로 답하고 연결은 그대로 둡니다. 계속 어기면 닫습니다.
    - 메모리는 늘 상한이 있습니다: 기록은 deque(maxlen=100), 연결 수는
      --max-clients, 연결마다 쓰기 버퍼는 느린 클라이언트 감시로 막습니다.
    - broadcast()는 기다리지 않고 각 연결의 버퍼에 넣기만 합니다. 그래서 빠르고,
      느린 한 명이 나머지를 늦추지 않지만, 흐름 제어가 없으니 직접 감시해야 합니다.
    - 종료도 기능입니다. 신호를 받으면 알리고, 1001로 닫고, 몇 초 안에 끝냅니다.

프로토콜 (주소 ws://HOST:PORT/ws, JSON 텍스트 프레임)
    클라이언트 → 서버
      {"type": "join", "name": 이름}     가장 먼저 보냅니다. 이름은 1~20자의
                                          한글 음절, 영문, 숫자, _, - (접속자 중 유일)
      {"type": "message", "text": 글}    앞뒤 공백을 뺀 1~1,000자
      {"type": "whisper", "to": 이름, "text": 글}   한 사람에게만
      {"type": "nick", "name": 새 이름}  지금 이름과 같으면 name_taken
      {"type": "users"}                  접속자 목록 요청
    서버 → 클라이언트 (ts는 유닉스 시간, 초 단위 실수)
      welcome {name, users, history}     입장한 본인에게. history는 최근 채팅
                                          메시지(최대 100개, 입장·퇴장·귓속말 제외)
      message {id, from, text, ts}       보낸 사람을 포함한 모두에게. id는 1씩 증가
      whisper {from, to, text, ts}       받는 사람과 보낸 사람에게
      join {name, ts} / leave {name, ts}  다른 사람들에게
      nick {old, new, ts} / users {users}
      system {text, ts}                  서버 종료 같은 알림
      error {code, message}              연결은 그대로 둡니다
    오류 코드: invalid_json, unknown_type, not_joined, already_joined,
      invalid_name, name_taken, invalid_text, no_such_user, rate_limited,
      binary_not_supported
    우선순위: JSON 객체가 아니면 invalid_json → 입장 전에는 join 말고 모두
      not_joined → 입장 뒤 모르는 type은 unknown_type. 속도 제한은 모든 프레임을
      세고, rate_limited는 1초에 한 번까지만 보냅니다.
    연결을 닫는 경우: 프레임이 16 KiB를 넘으면 1009. 규칙 위반을 멈추지 않거나
      읽지 않아서 쓰기 버퍼가 쌓이면 1008. 서버 종료는 system 알림 뒤 1001.
      핸드셰이크에서는 정원 초과면 HTTP 503, 허용하지 않은 출처(Origin)면 403.

실행 방법
    python 03_realtime_chat.py                       # 메뉴
    python 03_realtime_chat.py server                # 터미널 1: 서버
    python 03_realtime_chat.py client --name 민수    # 터미널 2
    python 03_realtime_chat.py client --name 지영    # 터미널 3
    (브라우저로 http://127.0.0.1:8765/ 를 열어도 됩니다)
    python 03_realtime_chat.py demo                  # 한 프로세스 안에서 1~8절
    python 03_realtime_chat.py bench                 # 1,000명 성능 측정(1분 이내)
    python 03_realtime_chat.py --help

필요 패키지
    websockets>=17.1 (Python 3.11 이상). 성능 측정의 RSS와 CPU는 리눅스의
    /proc에서 읽습니다(다른 운영체제에서는 그 줄만 빠집니다).

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
import gc
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
import threading
import time
import unicodedata
import warnings
from collections import Counter, deque
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterable,
)
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Any, NoReturn

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.client import process_exception
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Origin

if sys.platform != "win32":
    import resource  # 유닉스 전용: 파일 디스크립터 한도(13절)

PROG = "python 03_realtime_chat.py"  # 도움말과 안내문에 보이는 실행 명령
DEFAULT_HOST = "127.0.0.1"  # 루프백: 이 컴퓨터에서만 접속 가능
DEFAULT_PORT = 8765  # 환경 변수 PORT가 있으면 그 값
WS_PATH = "/ws"  # WebSocket 주소의 경로
MAX_HISTORY = 100  # 기록에 남기는 채팅 메시지 수
MAX_NAME = 20  # 이름 최대 글자 수
MAX_TEXT = 1000  # 글 최대 글자 수(앞뒤 공백을 뺀 뒤)
MAX_FRAME_BYTES = 16 * 1024  # 받는 프레임의 최대 크기: 넘으면 1009로 닫힘
DEFAULT_RATE = 5.0  # 속도 제한: 초당 프레임(지속)
DEFAULT_BURST = 10  # 속도 제한: 한꺼번에 허용하는 프레임
STRIKE_RATE = 5.0  # 규칙 위반 예산이 초당 채워지는 양
STRIKE_BURST = 50  # 규칙 위반 예산: 바닥나면 1008로 닫음
DEFAULT_MAX_CLIENTS = 1000  # 동시 연결 상한: 넘으면 핸드셰이크에서 503
PING_INTERVAL = 20.0  # 하트비트: ping을 보내는 간격(초)
PING_TIMEOUT = 20.0  # 하트비트: pong을 기다리는 시간제한(초)
CLOSE_TIMEOUT = 2.0  # 닫기 핸드셰이크를 기다리는 시간제한(초)
SLOW_LIMIT = 256 * 1024  # 연결 하나의 쓰기 버퍼 한도(바이트)
SLOW_GRACE = 2.0  # 한도를 이만큼(초) 계속 넘으면 내보냄
SLOW_CHECK_INTERVAL = 0.5  # 느린 클라이언트 감시 주기(초)
SHUTDOWN_GRACE = 3.0  # 종료할 때 닫기 핸드셰이크를 기다리는 최대 시간(초)
WARMUP_SECONDS = 2.0  # bench: 재기 전에 같은 부하로 예열하는 시간(초)

log = logging.getLogger("chat")


def seconds(value: float) -> str:
    """걸린 시간을 사람이 읽기 좋게: 1초 미만은 ms, 그 이상은 초.

    >>> seconds(0.0123)
    '12.3ms'
    >>> seconds(1.5)
    '1.50초'
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


def heading(number: int, title: str) -> None:
    """절 제목을 출력합니다."""
    print(f"\n── {number}. {title} " + "─" * max(4, 50 - display_width(title)))


# =============================================================================
# 1. 프로토콜: 메시지 종류와 오류 코드
# =============================================================================
# 프로토콜은 서버와 모든 클라이언트(터미널, 브라우저, 다른 언어)가 함께 지키는
# 약속입니다. 문자열을 코드 곳곳에 흩어 두면 오타 하나가 조용한 버그가 되므로
# type과 오류 코드를 StrEnum으로 한곳에 모읍니다. StrEnum은 str이기도 해서
# json.dumps가 그대로 "join" 같은 문자열로 씁니다.
# 오류 코드는 프로그램이 읽는 값이라 바꾸지 않고(안정된 코드), 사람이 읽는
# 설명(message)은 한국어로 따로 둡니다. 클라이언트는 code로 판단합니다.


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
    JOIN = "join"
    LEAVE = "leave"
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
    ErrorCode.NAME_TAKEN: "이미 쓰이는 이름입니다.",
    ErrorCode.INVALID_TEXT: "글은 앞뒤 공백을 빼고 1~1,000자입니다(제어 문자 제외).",
    ErrorCode.NO_SUCH_USER: "그 이름의 접속자가 없습니다.",
    ErrorCode.RATE_LIMITED: "너무 빨리 보내고 있습니다. 잠시 뒤에 보내 주세요.",
    ErrorCode.BINARY_NOT_SUPPORTED: "이진 프레임은 받지 않습니다(JSON 텍스트만).",
}

Event = dict[str, object]  # JSON 객체 하나(메시지 한 개)


def encode(event: Event) -> str:
    """이벤트를 JSON 텍스트 프레임으로: 한글은 그대로, 공백 없이(바이트 절약).

    >>> encode({"type": ServerType.JOIN, "name": "민수"})
    '{"type":"join","name":"민수"}'
    """
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def error_event(code: ErrorCode) -> Event:
    """오류 응답. 연결은 닫지 않습니다.

    >>> encode(error_event(ErrorCode.NOT_JOINED))
    '{"type":"error","code":"not_joined","message":"먼저 join으로 입장해 주세요."}'
    """
    return {"type": ServerType.ERROR, "code": code, "message": ERROR_MESSAGES[code]}


def demo_01_protocol() -> None:
    """1절: 메시지 종류와 오류 코드.

    예상 출력:
        클라이언트 → 서버: join, message, whisper, nick, users
        서버 → 클라이언트: welcome, message, whisper, join, leave, nick, users, ...
        오류 코드 10개:
          invalid_json          JSON 객체({"type": ...})가 아닙니다.
          ...
        보낼 프레임 예: {"type":"message","id":1,"from":"민수","text":"안녕"...}
    """
    print("클라이언트 → 서버:", ", ".join(ClientType))
    print("서버 → 클라이언트:", ", ".join(ServerType))
    print(f"오류 코드 {len(ErrorCode)}개:")
    for code in ErrorCode:
        print(f"  {code:<22}{ERROR_MESSAGES[code]}")
    sample: Event = {"type": ServerType.MESSAGE, "id": 1, "from": "민수"}
    sample |= {"text": "안녕", "ts": round(time.time(), 3)}
    frame = encode(sample)
    size = len(frame.encode())
    print(f"보낼 프레임 예: {frame} ({size}바이트, 한글은 글자당 3바이트)")


# =============================================================================
# 2. 입력 검증: 허용 목록, fullmatch, 길이
# =============================================================================
# 무엇을 막을지(차단 목록)가 아니라 무엇을 허용할지(허용 목록)를 적습니다.
# 이름은 한글 음절(가~힣), 영문, 숫자, _, - 만 1~20자입니다. 그러면 <script>도,
# 보이지 않는 문자도, 남의 이름과 헷갈리는 공백도 애초에 들어올 수 없습니다.
# - re.match(r"^...$")는 끝의 줄바꿈 하나를 통과시킵니다($는 마지막 \n 앞에서도
#   맞습니다). 검증에는 fullmatch를 씁니다.
# - \d는 아라비아 숫자 말고도 온갖 유니코드 숫자에 맞으므로 [0-9]라고 씁니다.
# 글은 앞뒤 공백을 빼고(저장과 전송 모두 뺀 글) 길이를 봅니다. 그리고 두 가지를
# 거절합니다.
# - 줄바꿈과 탭이 아닌 제어 문자: 터미널 화면을 지우는 ESC 같은 글자가 남의
#   화면에 그대로 찍히지 않게 합니다.
# - 짝 없는 서로게이트(JSON의 "\ud800"): 파이썬 str에는 들어가지만 UTF-8로
#   바꿀 수 없어서, 받아 두면 그 글을 보내는 순간(기록을 담은 welcome까지) 서버가
#   예외를 냅니다. 한 번 들어온 글이 뒤에 오는 모든 입장을 막는 셈입니다.

NAME_PATTERN = re.compile(rf"[가-힣A-Za-z0-9_-]{{1,{MAX_NAME}}}")
BAD_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # \t, \n은 허용


def valid_name(value: object) -> str | None:
    """허용 목록에 '전부' 맞는 이름이면 그대로, 아니면 None.

    >>> valid_name("민수"), valid_name("dev_kim-2")
    ('민수', 'dev_kim-2')
    >>> valid_name("민수\\n"), valid_name("a b"), valid_name("x" * 21), valid_name(7)
    (None, None, None, None)
    >>> bool(re.match(r"^[가-힣]{1,20}$", "민수\\n"))  # $는 끝 줄바꿈 앞에서도 맞음
    True
    """
    if isinstance(value, str) and NAME_PATTERN.fullmatch(value):
        return value
    return None


def clean_text(value: object) -> str | None:
    """앞뒤 공백을 뺀 1~1,000자 글이면 그 글, 아니면 None.

    >>> clean_text("  안녕하세요 \\n")
    '안녕하세요'
    >>> clean_text("   "), clean_text("가" * 1001), clean_text(["글"])
    (None, None, None)
    >>> clean_text("\\x1b[2J화면 지우기"), clean_text("\\ud800")  # ESC, 서로게이트
    (None, None)
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not 1 <= len(text) <= MAX_TEXT or BAD_TEXT.search(text):
        return None
    return text


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


def demo_02_validation() -> None:
    """2절: 이름과 글 검증.

    예상 출력:
        이름 '민수'                    → 통과
        이름 '민수\\n'                  → 거절 (re.match(^...$)였다면 통과)
        이름 '<b>관리자</b>'           → 거절
        ...
        글 '  안녕하세요  '            → '안녕하세요'
        글 '\\x1b[2J화면 지우기'        → 거절
        프레임 '[1, 2]'                → JSON 객체가 아님(invalid_json)
    """
    loose = re.compile(rf"^{NAME_PATTERN.pattern}$")  # 나쁜 예: match와 $
    for name in ["민수", "민수\n", "<b>관리자</b>", "관 리 자", "a" * 21, "１２３"]:
        if valid_name(name):
            verdict = "통과"
        elif loose.match(name):
            verdict = "거절 (re.match(^...$)였다면 통과)"
        else:
            verdict = "거절"
        print(f"이름 {pad(repr(name), 26)}→ {verdict}")
    for text in ["  안녕하세요  ", "   ", "\x1b[2J화면 지우기", "가" * 1001]:
        shown = repr(text) if len(text) < 30 else f"'가' × {len(text)}"
        cleaned = clean_text(text)
        print(f"글 {pad(shown, 28)}→ {'거절' if cleaned is None else repr(cleaned)}")
    for frame in ['{"type": "users"}', "[1, 2]", "안녕"]:
        ok = parse_frame(frame) is not None
        result = "JSON 객체" if ok else "JSON 객체가 아님(invalid_json)"
        print(f"프레임 {pad(repr(frame), 24)}→ {result}")


# =============================================================================
# 3. 속도 제한: 토큰 버킷
# =============================================================================
# 버킷에 토큰이 최대 burst개 들어 있고 초당 rate개씩 다시 찹니다. 프레임 하나가
# 토큰 하나를 씁니다. "평소엔 초당 5개, 잠깐 몰아서는 10개까지"를 숫자 두 개로
# 나타냅니다. 현재 시각을 인자로 받게 만들면 시계 없이도 검사할 수 있습니다.
# - 속도 제한은 JSON을 읽기 전에, 잘못된 것까지 모든 프레임에 적용합니다.
# - 버릴 때마다 답하면 그 답이 또 부하가 되므로 rate_limited는 1초에 한 번만.
# - 버린 프레임과 오류로 답한 프레임은 '위반 예산'(또 하나의 토큰 버킷)을 씁니다.
#   예산이 바닥나면(계속 어기면) 1008(정책 위반)로 닫습니다. 잠깐 몰아서 보낸
#   사람은 살아남고, 멈추지 않고 쏟아붓는 프로그램만 끊깁니다.


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

    def check(self, now: float) -> Verdict:
        """프레임이 들어올 때마다(JSON을 읽기 전에) 부릅니다."""
        if self.limiter.take(now):
            return Verdict.ALLOW
        if not self.strikes.take(now):
            return Verdict.DISCONNECT
        if now - self.notified_at < 1.0:
            return Verdict.DROP  # 이번 1초 안에 이미 알렸습니다
        self.notified_at = now
        return Verdict.NOTIFY


def simulate_flood(
    per_second: float, duration: float
) -> tuple[Counter[Verdict], float]:
    """기본 설정의 RateGuard에 per_second 속도로 duration초 동안 보낸다고 칩니다.

    가짜 시계를 쓰므로 실제로 기다리지 않습니다. (판정별 개수, 끊긴 시각)을 돌려줍니다.

    >>> counts, _ = simulate_flood(20, 3.0)  # 초당 20개를 3초: 끈질기지만 끊기진 않음
    >>> counts[Verdict.ALLOW], counts[Verdict.NOTIFY], counts[Verdict.DISCONNECT]
    (24, 3, 0)
    """
    guard = RateGuard.create(DEFAULT_RATE, DEFAULT_BURST, now=0.0)
    counts: Counter[Verdict] = Counter()
    for n in range(round(per_second * duration)):
        now = n / per_second
        verdict = guard.check(now)
        counts[verdict] += 1
        if verdict is Verdict.DISCONNECT:
            return counts, now
    return counts, math.inf


def demo_03_rate_limit() -> None:
    """3절: 토큰 버킷과 위반 예산을 가짜 시계로 돌려 봅니다.

    예상 출력:
        초당 20개로 3초(60개): 통과 24, 버림 33, rate_limited 알림 3, 연결 유지
        초당 100개로 3초(300개): 통과 13, 버림 51, rate_limited 알림 1,
          0.65초(66번째 프레임)에 위반 예산이 바닥나 닫음
    """
    print(f"설정: 초당 {DEFAULT_RATE:g}개, 한꺼번에 {DEFAULT_BURST}개, ", end="")
    print(f"위반 예산 {STRIKE_BURST}개(초당 {STRIKE_RATE:g}개씩 회복)")
    for per_second in (20, 100):
        counts, cut_at = simulate_flood(per_second, 3.0)
        total = round(per_second * 3)
        print(
            f"초당 {per_second}개로 3초({total}개): 통과 {counts[Verdict.ALLOW]}, "
            f"버림 {counts[Verdict.DROP]}, "
            f"rate_limited 알림 {counts[Verdict.NOTIFY]}",
            end="",
        )
        if math.isinf(cut_at):
            print(", 연결 유지")
        else:
            frames = counts.total()
            print(f",\n  {cut_at:.2f}초({frames}번째 프레임)에 위반 예산이 바닥나 닫음")


# =============================================================================
# 4. 채팅방 상태: 접속자, 기록, 브로드캐스트
# =============================================================================
# 상태는 메모리에만 둡니다(서버를 끄면 사라짐). 대신 모든 자료 구조에 상한이 있습니다.
# - users: 이름 → 클라이언트. 이름이 곧 키라서 중복 검사가 dict 조회 한 번입니다.
# - history: deque(maxlen=100). 101번째를 넣으면 가장 오래된 것이 저절로 빠집니다.
# - 보내기는 한 명에게 보낼 때도 broadcast()로 합니다. await ws.send()는 상대가
#   느리면 보내는 태스크가 그 자리에서 기다립니다: 귓속말 받는 사람이 멈춰 있으면
#   보낸 사람의 연결까지 멈춥니다. broadcast()는 각 연결의 버퍼에 넣고 바로 돌아오며
#   gather(*(ws.send(m) ...))보다 전달 한 건당 비용이 훨씬 작습니다(2코어에서 잰
#   값: 약 5us 대 15us). 흐름 제어가 없다는 대가는 6절의 감시로 치릅니다.
# - 로그는 입장, 퇴장, 오류마다 한 줄입니다. 메시지마다 INFO 로그를 남기지 않습니다:
#   logging 핸들러는 이벤트 루프 스레드에서 동기식으로 써서(블로킹 호출) 처리량을
#   깎고, 대화 내용을 로그에 남기는 것은 개인정보 문제이기도 합니다.


@dataclass
class ServerConfig:
    """서버 설정. 명령줄 옵션(server --help)과 같은 뜻입니다."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    max_clients: int = DEFAULT_MAX_CLIENTS
    allow_origins: tuple[str, ...] = ()
    ping_interval: float = PING_INTERVAL
    ping_timeout: float = PING_TIMEOUT
    slow_limit: int = SLOW_LIMIT
    slow_grace: float = SLOW_GRACE


class ClientState(Enum):
    """연결 하나의 상태."""

    CONNECTED = "입장 전"
    JOINED = "입장함"
    GONE = "나감"


@dataclass(eq=False)  # eq=False: 객체마다 따로 보고 set에 넣을 수 있게(해시 유지)
class Client:
    """연결 하나: WebSocket, 속도 제한, 이름, 상태."""

    websocket: ServerConnection
    guard: RateGuard
    name: str = ""
    state: ClientState = ClientState.CONNECTED
    over_limit_since: float | None = None  # 쓰기 버퍼가 한도를 넘기 시작한 시각(6절)

    @property
    def label(self) -> str:
        return self.name or "(입장 전)"


class ChatRoom:
    """채팅방 하나의 모든 상태. 메서드는 모두 동기 함수입니다(중간에 await 없음).

    await가 없으니 메서드 하나가 도는 동안 다른 태스크가 끼어들 수 없습니다.
    "이름 검사 → 등록"이 한 덩어리로 실행되어 Lock이 필요 없습니다.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.clients: set[Client] = set()  # 모든 연결(입장 전 포함): 정원과 감시 대상
        self.users: dict[str, Client] = {}  # 입장한 사람: 이름 → 클라이언트
        self.history: deque[Event] = deque(maxlen=MAX_HISTORY)
        self.last_id = 0
        self.started = time.monotonic()
        self.closing = False  # 종료 중에는 퇴장을 하나하나 알리지 않습니다
        self.url = ""  # 서버가 뜬 뒤의 ws://호스트:포트/ws
        self.tasks: set[asyncio.Task[None]] = set()  # 백그라운드 태스크의 참조 보관소

    def send(self, clients: Iterable[Client], event: Event) -> None:
        """기다리지 않고 보냅니다: 각 연결의 쓰기 버퍼에 넣고 바로 돌아옵니다."""
        broadcast((client.websocket for client in clients), encode(event))

    def names(self) -> list[str]:
        return sorted(self.users)

    def join(self, client: Client, raw_name: object) -> ErrorCode | None:
        name = valid_name(raw_name)
        if name is None:
            return ErrorCode.INVALID_NAME
        if name in self.users:
            return ErrorCode.NAME_TAKEN
        joined: Event = {"type": ServerType.JOIN, "name": name, "ts": time.time()}
        self.send(self.users.values(), joined)  # 먼저 있던 사람들에게
        client.name, client.state = name, ClientState.JOINED
        self.users[name] = client
        welcome: Event = {"type": ServerType.WELCOME, "name": name}
        welcome |= {"users": self.names(), "history": list(self.history)}
        self.send([client], welcome)
        log.info("입장: %s (접속 %d명)", name, len(self.users))
        return None

    def post(self, sender: str, raw_text: object) -> ErrorCode | None:
        text = clean_text(raw_text)
        if text is None:
            return ErrorCode.INVALID_TEXT
        self.last_id += 1
        event: Event = {"type": ServerType.MESSAGE, "id": self.last_id, "from": sender}
        event |= {"text": text, "ts": time.time()}
        self.history.append(event)  # maxlen을 넘으면 가장 오래된 것이 빠집니다
        self.send(self.users.values(), event)  # 보낸 사람 포함: 받은 id가 접수 확인
        return None

    def whisper(
        self, client: Client, raw_to: object, raw_text: object
    ) -> ErrorCode | None:
        target = self.users.get(valid_name(raw_to) or "")
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
        if name in self.users:  # 지금 내 이름으로 바꾸려 해도 여기에 걸립니다
            return ErrorCode.NAME_TAKEN
        old, client.name = client.name, name
        self.users[name] = self.users.pop(old)
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
        del self.users[client.name]
        if not self.closing:
            left: Event = {"type": ServerType.LEAVE, "name": client.name}
            self.send(self.users.values(), left | {"ts": time.time()})
        log.info("퇴장: %s (%s, 접속 %d명)", client.name, reason, len(self.users))

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        """기다리지 않을 작업을 태스크로 띄우고 끝날 때까지 참조를 쥡니다(01의 3절)."""
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def demo_04_chat_room() -> None:
    """4절: 기록은 deque(maxlen=100)라서 아무리 많이 보내도 100개만 남습니다.

    예상 출력:
        메시지 250개를 올린 뒤: 기록 100개, 가장 오래된 id 151, 가장 새 id 250
        저장된 글: '메시지 250' (앞뒤 공백을 뺌)
        공백뿐인 글을 올리면: invalid_text (기록은 그대로)
    """
    room = ChatRoom(ServerConfig())
    for n in range(1, 251):
        room.post("민수", f"  메시지 {n}  ")  # 아직 아무도 없으니 보낼 곳은 없습니다
    oldest, newest = room.history[0], room.history[-1]
    print(f"메시지 {room.last_id}개를 올린 뒤: 기록 {len(room.history)}개, ", end="")
    print(f"가장 오래된 id {oldest['id']}, 가장 새 id {newest['id']}")
    print(f"저장된 글: {newest['text']!r} (앞뒤 공백을 뺌)")
    print(f"공백뿐인 글을 올리면: {room.post('민수', '   ')} (기록은 그대로)")


# =============================================================================
# 데모 도우미: 5~8절의 데모가 서버에 붙을 때 씁니다
# =============================================================================


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

    async def receive(self, *, show: bool = True) -> Event:
        async with asyncio.timeout(5):
            event: Event = json.loads(await self.websocket.recv())
        if show:
            shown = {key: value for key, value in event.items() if key != "ts"}
            print(f"[클라이언트 {self.name}] <<< {encode(shown)}")
        return event

    async def expect(self, kind: ServerType, *, show: bool = True) -> Event:
        """kind가 올 때까지 받습니다."""
        while (event := await self.receive(show=show))["type"] != kind:
            pass
        return event

    async def collect(self) -> list[Event]:
        """연결이 닫힐 때까지 모두 받아 돌려줍니다(백그라운드에서 읽기용)."""
        events: list[Event] = []
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.websocket:
                events.append(json.loads(frame))
        return events


async def read_until_closed(websocket: ClientConnection) -> int | None:
    """연결이 닫힐 때까지 읽고 버립니다. 받은 종료 코드(닫기 프레임이 없으면 None)."""
    try:
        while True:
            await websocket.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


def free_port(host: str = DEFAULT_HOST) -> int:
    """운영체제에게 빈 포트를 받아 번호만 돌려줍니다(데모와 bench용)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# =============================================================================
# 5. 연결 하나 처리하기: handle_client와 match
# =============================================================================
# websockets는 연결마다 handle_client를 태스크 하나로 실행하고, 함수가 끝나면
# 연결을 닫습니다. 그래서 함수 안은 순서대로 읽힙니다:
#   프레임 받기 → 속도 제한(3절) → 이진 프레임 거절 → JSON 객체인지(2절) → type별
# type별 처리는 match 문의 매핑 패턴으로 나눕니다. case의 순서가 곧 프로토콜의
# 우선순위입니다(입장 전 검사가 모르는 type 검사보다 먼저 옵니다).
# 연결이 어떻게 끝나든(어느 쪽이 닫음, 끊김, ping 시간 초과, 내보냄) finally에서
# 채팅방에서 빼므로 접속자 목록에 유령이 남지 않습니다.


def dispatch(room: ChatRoom, client: Client, frame: str | bytes) -> ErrorCode | None:
    """프레임 하나를 처리합니다. 문제가 있으면 오류 코드를 돌려줍니다."""
    if isinstance(frame, bytes):
        return ErrorCode.BINARY_NOT_SUPPORTED
    data = parse_frame(frame)
    if data is None:
        return ErrorCode.INVALID_JSON
    joined = client.state is ClientState.JOINED
    match data:
        case {"type": ClientType.JOIN}:
            return (
                ErrorCode.ALREADY_JOINED
                if joined
                else room.join(client, data.get("name"))
            )
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

    >>> from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
    >>> from websockets.frames import Close
    >>> timeout = Close(1011, "keepalive ping timeout")
    >>> describe_close(ConnectionClosedError(None, timeout))
    '응답 없음(ping 시간 초과)'
    >>> describe_close(ConnectionClosedError(None, None))
    '연결 끊김(닫기 프레임 없음)'
    >>> bye = Close(1001, "shutdown")  # 서버가 보내고(sent) 클라이언트가 되돌려 줌
    >>> describe_close(ConnectionClosedOK(rcvd=bye, sent=bye, rcvd_then_sent=False))
    '서버 종료로 1001'
    """
    if exc.rcvd is not None and (exc.sent is None or exc.rcvd_then_sent):
        return f"클라이언트가 닫음 {exc.rcvd.code}"
    if exc.sent is None:
        return "연결 끊김(닫기 프레임 없음)"
    if exc.sent.reason == "keepalive ping timeout":
        return "응답 없음(ping 시간 초과)"
    if exc.sent.code == CloseCode.GOING_AWAY:
        return "서버 종료로 1001"
    return f"서버가 닫음 {exc.sent.code} {exc.sent.reason}".strip()


async def close_or_abort(websocket: ServerConnection, code: int, reason: str) -> None:
    """닫기 프레임을 보내 보고, CLOSE_TIMEOUT 안에 안 닫히면 TCP 연결을 끊습니다.

    읽지 않는 상대에게는 닫기 프레임도 버퍼 뒤에 줄을 서서 닿지 않습니다.
    websocket.close()는 그 버퍼가 빠지기를 한없이 기다리므로 시간제한이 꼭 필요합니다.
    """
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await websocket.close(code, reason)
    except TimeoutError:
        websocket.transport.abort()  # 버퍼를 버리고 즉시 끊습니다


async def handle_client(room: ChatRoom, websocket: ServerConnection) -> None:
    """연결 하나의 일생: 받고, 검사하고, 처리하고, 끝나면 반드시 정리합니다."""
    guard = RateGuard.create(room.config.rate, room.config.burst, time.monotonic())
    client = Client(websocket, guard)
    room.clients.add(client)
    reason = "처리 중 예외"  # 아래에서 까닭이 정해지지 않고 끝났다면
    try:
        while True:  # async for는 1000, 1001 종료를 조용히 끝내 누가 닫았는지 숨깁니다
            frame = await websocket.recv()
            if client.state is ClientState.GONE:
                continue  # 내보낸 연결(6절): 닫히는 동안 온 프레임은 버립니다
            now = time.monotonic()
            verdict = guard.check(now)
            code = ErrorCode.RATE_LIMITED if verdict is Verdict.NOTIFY else None
            if verdict is Verdict.ALLOW:
                code = dispatch(room, client, frame)
                if code is not None and not guard.strikes.take(now):  # 오류의 벌점
                    verdict = Verdict.DISCONNECT
            if code is not None:
                room.send([client], error_event(code))
                log.info("오류 %s: %s", code, client.label)
            if verdict is Verdict.DISCONNECT:
                reason = "규칙 위반 반복(1008)"
                room.leave(client, reason)  # 판정한 순간 퇴장을 알립니다
                await close_or_abort(websocket, CloseCode.POLICY_VIOLATION, "abuse")
                break
    except ConnectionClosed as exc:  # 어떤 종료든 연결의 평범한 끝입니다
        reason = describe_close(exc)
    finally:
        room.leave(client, reason)


async def walkthrough() -> None:
    """세 사람이 입장하고, 말하고, 귓속말하고, 실수합니다."""
    async with running_server(ServerConfig(port=free_port())) as room:
        print(f"[서버] {room.url} 에서 기다립니다(데모용 빈 포트)")
        minsu = await DemoClient.join(room.url, "민수")
        jiyoung = await DemoClient.join(room.url, "지영")
        await minsu.expect(ServerType.JOIN)
        await minsu.send({"type": ClientType.MESSAGE, "text": "  안녕하세요!  "})
        await minsu.expect(ServerType.MESSAGE)
        await jiyoung.expect(ServerType.MESSAGE)
        cheolsu = await DemoClient.join(room.url, "철수")
        await jiyoung.send({"type": ClientType.WHISPER, "to": "민수", "text": "비밀"})
        await minsu.expect(ServerType.WHISPER)
        await jiyoung.expect(ServerType.WHISPER)
        await cheolsu.send({"type": ClientType.USERS})
        first = await cheolsu.receive()  # 귓속말이 왔다면 이것이 whisper였을 것
        print(f"[클라이언트 철수] 귓속말 다음에 처음 받은 것: {first['type']}")
        for frame in ("안녕", '{"type": "dance"}', '{"type": "nick", "name": "지영"}'):
            await jiyoung.send(frame)
            await jiyoung.expect(ServerType.ERROR)
        await jiyoung.send(
            {"type": ClientType.MESSAGE, "text": "오류 뒤에도 연결은 그대로"}
        )
        event = await jiyoung.expect(ServerType.MESSAGE)
        print(f"[클라이언트 지영] 오류 3번 뒤에도 보낸 글이 id {event['id']}로 접수됨")
        for client in (minsu, jiyoung, cheolsu):
            await client.websocket.close()


def demo_05_walkthrough() -> None:
    """5절: 서버 하나와 클라이언트 셋을 한 프로세스에서 돌립니다.

    예상 출력(ts는 생략):
        [클라이언트 민수] >>> {"type":"join","name":"민수"}
        [서버] 입장: 민수 (접속 1명)
        [클라이언트 민수] <<< {"type":"welcome","name":"민수","users":["민수"],...}
        ...
        [클라이언트 민수] <<< {"type":"message","id":1,"from":"민수",...}
        [클라이언트 지영] >>> {"type":"whisper","to":"민수","text":"비밀"}
        [클라이언트 철수] 귓속말 다음에 처음 받은 것: users
        [클라이언트 지영] >>> 안녕
        [클라이언트 지영] <<< {"type":"error","code":"invalid_json",...}
        [클라이언트 지영] 오류 3번 뒤에도 보낸 글이 id 2로 접수됨
    """
    asyncio.run(walkthrough())


# =============================================================================
# 6. 느린 클라이언트와 하트비트
# =============================================================================
# 읽지 않는 클라이언트(멈춘 노트북, 잠든 탭, 일부러 그러는 공격자)에게도
# broadcast()는 계속 쌓습니다. 운영체제의 소켓 버퍼가 먼저 차고, 그다음 서버
# 프로세스의 쓰기 버퍼(transport.get_write_buffer_size())가 끝없이 자랍니다.
# 경고: keepalive(ping)만으로는 이런 클라이언트를 내보내지 못합니다. ping도 그
# 버퍼 뒤에 줄을 서서 나가지 못하고, 버퍼는 계속 자랍니다(측정: 2 MB를 넘김).
# 그래서 애플리케이션이 직접 감시합니다. 0.5초마다 모든 연결의 쓰기 버퍼를 보고
# 한도(256 KiB)를 2초 넘게 계속 넘은 연결은
#   1) 그 자리에서 채팅방에서 빼고 퇴장을 알린 뒤(판정한 순간),
#   2) 1008(정책 위반)로 닫아 보고, 안 닫히면 transport.abort()로 끊습니다.
# 닫히는 동안(최대 2초) 그 연결이 보낸 프레임은 handle_client가 버립니다. 처리하면
# 그 사이의 join 한 번으로 감시와 정원 밖에서 다시 입장할 수 있기 때문입니다.
# 그러면 연결 하나의 쓰기 버퍼는 "한도 + (유예 시간 + 감시 주기) 동안 들어온 양"을
# 넘지 못합니다. 들어오는 양은 다시 속도 제한(3절)과 정원이 묶어 둡니다.
# 하트비트: 상대가 아예 사라지면(전원 꺼짐, 네트워크 끊김) TCP는 한참 동안 모릅니다.
# serve(ping_interval=20, ping_timeout=20)는 20초마다 ping을 보내고 20초 안에
# pong이 없으면 연결을 닫습니다. 그러면 handle_client의 finally가 퇴장을 알립니다.


async def watch_slow_clients(room: ChatRoom) -> None:
    """SLOW_CHECK_INTERVAL마다 모든 연결의 쓰기 버퍼를 봅니다(서버가 도는 동안 계속)."""
    limit, grace = room.config.slow_limit, room.config.slow_grace
    while True:
        await asyncio.sleep(SLOW_CHECK_INTERVAL)
        now = time.monotonic()
        for client in list(room.clients):
            buffered = client.websocket.transport.get_write_buffer_size()
            if buffered <= limit:
                client.over_limit_since = None
            elif client.over_limit_since is None:
                client.over_limit_since = now
            elif now - client.over_limit_since >= grace:
                log.warning(
                    "느린 클라이언트를 내보냅니다: %s (쓰기 버퍼 %d KiB, 한도 %d KiB를 "
                    "%.1f초 넘게 넘음)",
                    client.label,
                    buffered // 1024,
                    limit // 1024,
                    now - client.over_limit_since,
                )
                room.leave(client, "느린 클라이언트(1008)")
                room.spawn(
                    close_or_abort(client.websocket, CloseCode.POLICY_VIOLATION, "slow")
                )


async def open_stalled_client(room: ChatRoom, name: str) -> ClientConnection:
    """먼 네트워크 너머의 느린 클라이언트 흉내: 입장한 뒤 읽기를 멈춥니다.

    루프백에서는 운영체제가 읽지 않는 소켓에도 몇 MB를 받아 주므로, 실제 네트워크의
    클라이언트처럼 세그먼트를 1,460바이트로, 받기 버퍼를 8 KiB로 줄여서 연결합니다.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if hasattr(socket, "TCP_MAXSEG"):  # Windows에는 없습니다
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(
        sock, (room.config.host, room.config.port)
    )
    websocket = await connect(room.url, sock=sock, compression=None)
    await websocket.send(encode({"type": ClientType.JOIN, "name": name}))
    await websocket.recv()  # welcome
    websocket.transport.pause_reading()  # 이제부터 읽지 않습니다
    return websocket


async def stalled_reader_scenario() -> None:
    """민수가 쏟아붓고, 지영은 잘 읽고, 느림은 읽지 않습니다."""
    config = ServerConfig(port=free_port(), rate=1000, burst=1000, slow_grace=1.0)
    async with running_server(config) as room:
        minsu = await DemoClient.join(room.url, "민수", show=False)
        jiyoung = await DemoClient.join(room.url, "지영", show=False)
        stalled = await open_stalled_client(room, "느림")
        readers = [asyncio.create_task(c.collect()) for c in (minsu, jiyoung)]
        text = "가" * MAX_TEXT  # 프레임 하나에 약 3 KB
        start, sent = time.perf_counter(), 0
        while "느림" in room.users and sent < 3000:  # 초당 약 100개
            await minsu.send({"type": ClientType.MESSAGE, "text": text}, show=False)
            sent += 1
            await asyncio.sleep(0.01)
        evicted_after = time.perf_counter() - start
        stalled.transport.resume_reading()  # 지금 읽으면 닫기 프레임까지 닿습니다
        code = await read_until_closed(stalled)
        for client in (minsu, jiyoung):
            await client.websocket.close()
        got = [sum(e["type"] == ServerType.MESSAGE for e in await r) for r in readers]
    print(
        f"민수가 약 3 KB짜리 메시지 {sent}개를 보내는 동안 "
        f"{seconds(evicted_after)} 만에"
    )
    print(f"'느림'을 내보냈습니다. 느림이 받은 종료 코드: {code}")
    print(f"민수가 받은 메시지 {got[0]}/{sent}개, 지영이 받은 메시지 {got[1]}/{sent}개")


async def dead_peer_scenario() -> None:
    """유령은 입장한 뒤 사라집니다(읽지도, pong하지도 않음). ping이 찾아냅니다."""
    config = ServerConfig(port=free_port(), ping_interval=0.5, ping_timeout=0.5)
    async with running_server(config) as room:
        jiyoung = await DemoClient.join(room.url, "지영", show=False)
        ghost = await DemoClient.join(room.url, "유령", show=False)
        await jiyoung.expect(ServerType.JOIN, show=False)
        ghost.websocket.transport.pause_reading()  # 전원이 꺼진 것처럼
        start = time.perf_counter()
        await jiyoung.expect(ServerType.LEAVE)
        found_after = time.perf_counter() - start
        ghost.websocket.transport.abort()
        await jiyoung.websocket.close()
    print(
        f"ping_interval 0.5초, ping_timeout 0.5초: 응답 없는 연결을 "
        f"{seconds(found_after)} 만에 치웠습니다(닫기 기다림 {CLOSE_TIMEOUT:g}초 포함)"
    )


def demo_06_slow_clients() -> None:
    """6절: 읽지 않는 클라이언트와 사라진 클라이언트를 치웁니다.

    예상 출력(숫자는 실행마다 다름):
        [서버] 느린 클라이언트를 내보냅니다: 느림 (쓰기 버퍼 563 KiB, 한도 ...)
        [서버] 퇴장: 느림 (느린 클라이언트(1008), 접속 2명)
        민수가 약 3 KB짜리 메시지 238개를 보내는 동안 2.50초 만에
        '느림'을 내보냈습니다. 느림이 받은 종료 코드: 1008
        민수가 받은 메시지 238/238개, 지영이 받은 메시지 238/238개
        [서버] 퇴장: 유령 (응답 없음(ping 시간 초과), 접속 1명)
        [클라이언트 지영] <<< {"type":"leave","name":"유령"}
        ping_interval 0.5초, ping_timeout 0.5초: 응답 없는 연결을 3.00초 만에
        치웠습니다(닫기 기다림 2초 포함)
    """
    asyncio.run(stalled_reader_scenario())
    asyncio.run(dead_peer_scenario())


# =============================================================================
# 7. 같은 포트의 HTTP: 채팅 화면, /healthz, Origin, 정원
# =============================================================================
# WebSocket 연결은 HTTP 요청(핸드셰이크)으로 시작합니다. serve(process_request=...)
# 는 그 요청을 먼저 봅니다. 응답(Response)을 돌려주면 평범한 HTTP로 끝나고, None을
# 돌려주면 WebSocket 핸드셰이크가 이어집니다. 그래서 포트 하나로
#   GET /         → 브라우저 클라이언트(11절의 HTML 한 장)
#   GET /healthz  → 상태 확인(health check) JSON: 모니터링, 로드 밸런서용
#   GET /ws       → 정원이 찼으면 503, 아니면 WebSocket
# 을 모두 처리합니다.
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
    hosts = dict.fromkeys(
        ["127.0.0.1", "localhost", config.host]
    )  # 순서 유지, 중복 제거
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
    if path == WS_PATH and len(room.clients) < room.config.max_clients:
        return None  # 다음은 라이브러리의 Origin 검사(403)와 핸드셰이크
    if path == WS_PATH:
        log.warning("정원 초과로 거절(503): 연결 %d개", len(room.clients))
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


async def http_tour() -> None:
    """HTTP 경로들, 낯선 Origin, 정원 초과를 차례로 시험합니다."""
    config = ServerConfig(port=free_port(), max_clients=2)
    async with running_server(config) as room:
        for path in ("/healthz", "/", "/nope"):
            status, headers, body = await http_get(config.port, path)
            kind = headers.get("Content-Type", "")
            shown = body.decode() if path == "/healthz" else f"{len(body):,}바이트"
            print(f"GET {pad(path, 9)}→ {status} ({kind}) {shown.strip()}")
        for origin in (f"http://127.0.0.1:{config.port}", "http://evil.example"):
            try:
                async with connect(room.url, origin=Origin(origin)):
                    print(f"Origin {pad(origin, 26)}→ 101 WebSocket 연결됨")
            except InvalidStatus as exc:
                print(f"Origin {pad(origin, 26)}→ {exc.response.status_code} 거절")
        first = await connect(room.url)
        second = await connect(room.url)
        try:
            await connect(room.url)
        except InvalidStatus as exc:
            print(f"정원 {config.max_clients}명일 때 세 번째 연결 → ", end="")
            print(f"{exc.response.status_code} {exc.response.body.decode().strip()}")
        await first.close()
        await second.close()


def demo_07_http() -> None:
    """7절: 같은 포트의 HTTP, Origin 검사, 정원.

    예상 출력(포트와 시간은 실행마다 다름):
        GET /healthz → HTTP/1.1 200 OK (application/json) {"status": "ok", ...}
        GET /        → HTTP/1.1 200 OK (text/html; charset=utf-8) 6,593바이트
        GET /nope    → HTTP/1.1 404 Not Found (text/plain; charset=utf-8) 78바이트
        Origin http://127.0.0.1:54321    → 101 WebSocket 연결됨
        Origin http://evil.example       → 403 거절
        [서버] 정원 초과로 거절(503): 연결 2개
        정원 2명일 때 세 번째 연결 → 503 서버 정원이 찼습니다. 잠시 뒤에 ...
        [서버] 종료합니다: 0명에게 알리고 연결 1개를 1001로 닫습니다
        [서버] 모든 연결을 닫았습니다 (0.2ms)
    """
    asyncio.run(http_tour())


# =============================================================================
# 8. 서버 실행과 우아한 종료
# =============================================================================
# serve()에 넘기는 값은 기본값이라도 모두 적습니다(무엇을 골랐는지 보이게).
# - compression=None: permessage-deflate는 연결마다 수십 KiB의 압축 상태를 두고
#   CPU를 씁니다. 짧은 채팅 메시지에서는 얻는 것이 적고, 비밀과 공격자가 고른 글을
#   함께 압축하면 압축된 길이로 비밀이 새는 공격(CRIME/BREACH 계열)의 여지도 생깁니다.
# - max_size: 이보다 큰 프레임은 읽지 않고 1009로 닫습니다(메모리 보호).
# 종료 순서: 신호 → 새 연결 받지 않기 → 모두에게 system 알림 → 1001(떠남)로 닫기
# → 정해진 시간 안에 안 닫히는 연결은 끊기 → 종료 코드 0.
# 신호는 loop.add_signal_handler로 받습니다. Windows에는 이 기능이 없어서
# (NotImplementedError) Ctrl+C가 KeyboardInterrupt로 오고, asyncio.run이 실행 중인
# 태스크를 취소하면서 같은 finally(shutdown)를 거칩니다.


@contextlib.asynccontextmanager
async def running_server(config: ServerConfig) -> AsyncIterator[ChatRoom]:
    """서버를 띄우고 채팅방을 넘겨줍니다. 블록을 나가면 우아하게 종료합니다."""
    room = ChatRoom(config)
    async with serve(
        functools.partial(handle_client, room),  # 인자 하나(websocket)짜리 핸들러
        config.host,
        config.port,
        process_request=functools.partial(process_request, room),
        origins=allowed_origins(config),
        compression=None,
        max_size=MAX_FRAME_BYTES,
        max_queue=16,  # 연결마다 읽어 둔 뒤 처리를 기다리는 프레임 수의 상한
        write_limit=32 * 1024,  # 이만큼 쌓이면 await send()가 기다립니다
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        close_timeout=CLOSE_TIMEOUT,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        host = f"[{config.host}]" if ":" in config.host else config.host  # IPv6
        room.url = f"ws://{host}:{port}{WS_PATH}"
        room.spawn(watch_slow_clients(room))
        try:
            yield room
        finally:
            await shutdown(room, server)


async def shutdown(room: ChatRoom, server: Server) -> None:
    """알리고, 1001로 닫고, SHUTDOWN_GRACE초 안에 안 닫히는 연결은 끊습니다."""
    room.closing = True
    started = time.monotonic()
    notice: Event = {
        "type": ServerType.SYSTEM,
        "text": "서버를 종료합니다. 잠시 뒤 다시 접속해 주세요.",
    }
    room.send(room.users.values(), notice | {"ts": time.time()})
    log.info(
        "종료합니다: %d명에게 알리고 연결 %d개를 1001로 닫습니다",
        len(room.users),
        len(room.clients),
    )
    server.close(close_connections=True, code=CloseCode.GOING_AWAY, reason="shutdown")
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await server.wait_closed()
    except TimeoutError:
        for client in list(room.clients):
            client.websocket.transport.abort()  # 닫기 프레임을 받지 못하는 연결
        await server.wait_closed()
    for task in room.tasks:
        task.cancel()  # 느린 클라이언트 감시 등
    await asyncio.gather(*room.tasks, return_exceptions=True)
    log.info("모든 연결을 닫았습니다 (%s)", seconds(time.monotonic() - started))


def stop_signal() -> asyncio.Event:
    """Ctrl+C(SIGINT)나 SIGTERM이 오면 set되는 이벤트."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt로
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_until_stopped(config: ServerConfig) -> None:
    """server 모드: 신호가 올 때까지 서버를 돌립니다."""
    stop = stop_signal()
    async with running_server(config) as room:
        page = room.url.replace("ws://", "http://").removesuffix(WS_PATH)
        print(f"[서버] 채팅 서버를 시작했습니다: {room.url}")
        print(f"[서버] 브라우저: {page}/   상태: {page}/healthz")
        print(f"[서버] 다른 터미널에서: {PROG} client --name 민수")
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


def run_server(main: Coroutine[object, object, None], host: str, port: int) -> int:
    """서버 코루틴을 실행합니다. 포트 문제는 한국어 한 문장과 종료 코드 1로."""
    try:
        asyncio.run(main)
    except OSError as exc:
        print(port_problem(exc, host, port), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Windows: 신호 처리기 대신 여기로 옵니다
        print("[서버] Ctrl+C: 종료했습니다.")
    return 0


async def shutdown_tour() -> None:
    """두 사람이 접속한 채로 서버를 끕니다."""
    async with running_server(ServerConfig(port=free_port())) as room:
        clients = [
            await DemoClient.join(room.url, name, show=False)
            for name in ("민수", "지영")
        ]
        endings = [asyncio.create_task(c.expect(ServerType.SYSTEM)) for c in clients]
        await asyncio.sleep(0.05)
    for client, ending in zip(clients, endings, strict=True):
        notice = await ending
        code = await read_until_closed(client.websocket)
        print(f"[클라이언트 {client.name}] 알림 '{notice['text']}', 종료 코드 {code}")


def demo_08_shutdown() -> None:
    """8절: 우아한 종료.

    예상 출력(퇴장 두 줄의 순서와 시간은 실행마다 다름):
        [서버] 입장: 민수 (접속 1명)
        [서버] 입장: 지영 (접속 2명)
        [클라이언트 민수] <<< {"type":"join","name":"지영"}
        [서버] 종료합니다: 2명에게 알리고 연결 2개를 1001로 닫습니다
        [클라이언트 민수] <<< {"type":"system","text":"서버를 종료합니다. ..."}
        [클라이언트 지영] <<< {"type":"system","text":"서버를 종료합니다. ..."}
        [서버] 퇴장: 민수 (서버 종료로 1001, 접속 1명)
        [서버] 퇴장: 지영 (서버 종료로 1001, 접속 0명)
        [서버] 모든 연결을 닫았습니다 (1.2ms)
        [클라이언트 민수] 알림 '서버를 종료합니다. ...', 종료 코드 1001
        [클라이언트 지영] 알림 '서버를 종료합니다. ...', 종료 코드 1001
    """
    asyncio.run(shutdown_tour())


# =============================================================================
# 9. 터미널 클라이언트(1): 막지 않는 키보드, 명령, 화면
# =============================================================================
# input()은 블로킹 호출이라 코루틴 안에서 부르면 메시지 받기까지 멈춥니다. 키보드는
# 데몬 스레드 하나가 읽어 call_soon_threadsafe로 asyncio.Queue에 넣습니다.
# (asyncio.to_thread(input)도 되지만, 끝낼 때 입력을 기다리는 그 스레드가 끝나기를
# 기다리느라 엔터를 한 번 더 눌러야 합니다. 데몬 스레드는 프로그램과 함께 끝납니다.)
# 키보드 한 줄을 보낼 이벤트로, 받은 이벤트를 화면의 한 줄로 바꾸는 일은 순수
# 함수로 나눠 두었습니다(네트워크 없이 doctest로 확인됩니다).

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
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\r\n"))
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read_lines, name="keyboard", daemon=True).start()
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
        case "/nick":
            return (
                {"type": ClientType.NICK, "name": rest}
                if rest
                else "사용법: /nick 새이름"
            )
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


def describe(event: object) -> str:
    """서버 이벤트 하나를 화면의 한 줄로.

    >>> describe({"type": "join", "name": "철수", "ts": 0})
    '<<< * 철수 님이 들어왔습니다'
    >>> describe(error_event(ErrorCode.NAME_TAKEN))
    '<<< 오류(name_taken): 이미 쓰이는 이름입니다.'
    """
    indent = "\n    "  # 여러 줄 글은 둘째 줄부터 들여 써서 다음 글과 구분합니다
    match event:
        case {"type": ServerType.MESSAGE, "id": n, "from": who, "text": msg, "ts": ts}:
            return f"<<< {clock(ts)} #{n} {who}: {msg}".replace("\n", indent)
        case {"type": ServerType.WHISPER, "from": who, "to": to, "text": msg, "ts": ts}:
            return f"<<< {clock(ts)} (귓속말) {who} → {to}: {msg}".replace("\n", indent)
        case {"type": ServerType.JOIN, "name": name}:
            return f"<<< * {name} 님이 들어왔습니다"
        case {"type": ServerType.LEAVE, "name": name}:
            return f"<<< * {name} 님이 나갔습니다"
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


def explain_close(exc: BaseException) -> str:
    """연결이 끊긴 까닭을 사용자에게."""
    rcvd = exc.rcvd if isinstance(exc, ConnectionClosed) else None
    if rcvd is None:
        return "연결이 끊겼습니다."
    if rcvd.code == CloseCode.GOING_AWAY:
        return "서버가 종료되었습니다(1001)."
    return f"서버가 연결을 닫았습니다({rcvd.code} {rcvd.reason})."


def explain_connect_error(exc: BaseException, uri: str) -> str:
    """연결 시도가 실패한 까닭을 한국어 한 문장으로."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            return "서버 정원이 찼거나 종료 중입니다(503)."
        if status == HTTPStatus.FORBIDDEN:
            return "서버가 이 출처(Origin)를 거절했습니다(403)."
        return f"서버가 거절했습니다(HTTP {status}). 주소 끝의 {WS_PATH}를 확인하세요."
    if isinstance(exc, InvalidURI):
        return f"주소 형식이 잘못되었습니다: {uri} (예: ws://127.0.0.1:8765/ws)"
    if isinstance(exc, TimeoutError):
        return f"{uri}가 제시간에 응답하지 않습니다."
    if isinstance(exc, OSError):
        return f"{uri}에 연결할 수 없습니다. 서버가 켜져 있는지, 주소를 확인하세요."
    return f"WebSocket 연결에 실패했습니다({exc})."


# =============================================================================
# 10. 터미널 클라이언트(2): 입장, 받기와 보내기, 다시 연결
# =============================================================================
# 태스크 두 개가 프로그램이 끝날 때까지 함께 돕니다(02의 chat과 같은 생각).
# - stay_connected: 연결하고, 입장하고, 받은 것을 씁니다. 끊기면 다시 연결해 지금
#   이름으로 다시 입장합니다. `async for websocket in connect(...)`은 연결 시도가
#   실패하면 백오프하며 다시 시도합니다(01의 10절과 같은 지수 백오프와 지터).
# - send_commands: 키보드 줄을 보냅니다. 연결과 따로 돌아서 다시 연결을 기다리는
#   동안에도 /quit과 입력 끝(Ctrl+D)이 곧바로 프로그램을 끝냅니다.
# 어느 쪽이든 먼저 끝나면 연결을 닫고 끝냅니다: /quit은 1000(정상), Ctrl+C는 1001(떠남).
# 다시 입장할 때의 name_taken은 대개 내 옛 연결 때문입니다. 네트워크가 잠깐 끊기면
# 서버는 그 연결이 죽은 줄 모르고 ping 시간제한(6절)까지 이름을 쥐고 있습니다.
# 그래서 다시 입장할 때는 같은 백오프로 기다렸다 다시 하고, 첫 입장만 바로 끝냅니다.


@dataclass
class Me:
    """두 태스크가 함께 보는 내 상태."""

    name: str  # /nick으로 바뀌고, 다시 연결할 때 이 이름으로 입장
    websocket: ClientConnection | None = None  # 지금 연결(끊겨 있으면 None)
    joined: bool = False  # 한 번이라도 입장했나(그 뒤의 입장은 '다시 입장')
    leaving: bool = False  # 끝내는 중: 연결이 닫혀도 다시 연결하지 않음


async def join_room(websocket: ClientConnection, me: Me) -> Event | None:
    """join을 보내고 welcome을 받습니다. 거절되면 까닭을 보여 주고 None."""
    await websocket.send(encode({"type": ClientType.JOIN, "name": me.name}))
    event: Event = json.loads(await websocket.recv())
    if event["type"] == ServerType.WELCOME:
        return event
    if me.joined:  # 이름은 이미 검사를 통과했으니 거절은 name_taken뿐입니다
        print(
            f"[클라이언트 {me.name}] 끊긴 옛 연결을 서버가 아직 정리하는 중이라 "
            "이름이 쓰이고 있습니다. 잠시 뒤 다시 입장합니다."
        )
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
        print(describe(event), flush=True)


async def stay_connected(uri: str, me: Me) -> None:
    """연결하고, 입장하고, 받아서 씁니다. 끊기면 다시. 돌아오면 포기한 것입니다."""

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
                            return
                        await asyncio.sleep(next(rejoin_delays))
            except ConnectionClosed as exc:
                if me.leaving:
                    return
                me.websocket = None
                reason = explain_close(exc)
                print(f"[클라이언트 {me.name}] {reason} 다시 연결합니다.", flush=True)
    except (InvalidHandshake, InvalidURI) as exc:  # 다시 시도해도 소용없는 오류
        if isinstance(exc, InvalidURI):
            print(f"[클라이언트 {me.name}] {explain_connect_error(exc, uri)}")


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


async def run_client(uri: str, name: str) -> int:
    """client 모드: 연결을 지키는 태스크와 키보드 태스크를 함께 돌립니다."""
    me = Me(name)
    print(f"[클라이언트 {name}] {uri}에 연결합니다. 명령은 /help, 나가려면 /quit")
    connection = asyncio.create_task(stay_connected(uri, me))
    typing = asyncio.create_task(send_commands(me, start_keyboard()))
    closing = CloseCode.GOING_AWAY  # wait()가 취소되면(Ctrl+C) 1001: 떠남
    try:
        await asyncio.wait({connection, typing}, return_when=asyncio.FIRST_COMPLETED)
        gave_up = connection.done()  # 연결 쪽이 먼저 끝남: 첫 입장 거절 등으로 포기
        closing = CloseCode.NORMAL_CLOSURE  # /quit, 입력 끝
    finally:
        me.leaving = True
        if me.websocket is not None:
            await me.websocket.close(closing)
        for task in (connection, typing):
            task.cancel()
        await asyncio.gather(connection, typing, return_exceptions=True)
    if gave_up:
        connection.result()  # 뜻밖의 예외였다면 숨기지 않습니다
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


# =============================================================================
# 11. 브라우저 클라이언트: HTML 한 장, 글은 textContent로만
# =============================================================================
# GET /가 내주는 페이지 한 장에 CSS와 JavaScript를 모두 넣었습니다(CDN 없음:
# 인터넷이 없어도 동작합니다). 보안의 핵심 두 가지:
# - 남이 보낸 글과 이름은 언제나 textContent로 넣습니다. innerHTML에 넣으면
#   <img src=x onerror=...> 같은 글이 HTML이 되어 다른 사람의 브라우저에서
#   스크립트가 실행됩니다(저장형 XSS). textContent는 글자를 글자로만 보여 줍니다.
# - 응답 헤더 Content-Security-Policy(CSP)가 이 페이지의 인라인 스크립트와
#   스타일만(내용의 SHA-256 해시로) 허용하고, 다른 스크립트와 이미지, 외부 연결은
#   막습니다. 실수로 HTML을 끼워 넣는 날에도 한 번 더 막아 주는 그물입니다.
# 끊기면 지수 백오프와 지터로 다시 연결하고 같은 이름으로 다시 입장합니다.

PAGE_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em;
  background: #263238; color: #fff; }
h1 { font-size: 1.1em; margin: 0; }
h2 { font-size: 1em; }
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
input, select, button { font: inherit; padding: .3em .5em; }
aside { width: 12em; }
#users { list-style: none; padding: 0; }
.history { color: #555; }
.system { color: #666; font-style: italic; }
.whisper { color: #6a1b9a; }
.error { color: #c62828; }
[hidden] { display: none !important; }
"""

PAGE_SCRIPT = """
"use strict";
const $ = (id) => document.getElementById(id);
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const url = scheme + location.host + "/ws";
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
  users = list.slice().sort();
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
    case "join":
      setUsers(users.concat([ev.name]));
      addLine(ev.name + " 님이 들어왔습니다.", "system");
      break;
    case "leave":
      setUsers(users.filter((n) => n !== ev.name));
      addLine(ev.name + " 님이 나갔습니다.", "system");
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
        $("join-error").textContent = ev.message;
        stopped = true;
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
    if (stopped) {
      setStatus("연결 안 됨", "offline");
      $("join").hidden = false;
      $("room").hidden = true;
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

PAGE_TEMPLATE = """<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>실시간 채팅</title>
<style>@STYLE@</style>
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
<script>@SCRIPT@</script>
</body>
</html>
"""


def csp_hash(source: str) -> str:
    """CSP에 적는 인라인 코드의 해시: 'sha256-<base64>'."""
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


PAGE_HTML = PAGE_TEMPLATE.replace("@STYLE@", PAGE_STYLE).replace(
    "@SCRIPT@", PAGE_SCRIPT
)
PAGE_CSP = (  # 'self'는 같은 호스트와 포트의 ws://도 허용합니다(CSP 3)
    f"default-src 'none'; script-src {csp_hash(PAGE_SCRIPT)}; "
    f"style-src {csp_hash(PAGE_STYLE)}; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": PAGE_CSP,
}


# =============================================================================
# 12. 성능 측정(1): 부하 발생기
# =============================================================================
# "빠르다"는 말 대신 잽니다. 부하를 만드는 클라이언트 N개는 이 프로세스 하나의
# 이벤트 루프에서 돌고, 서버는 별도 프로세스입니다(13절). 그래야 서버의 CPU와
# 메모리를 부하 발생기와 따로 잴 수 있습니다.
# - 메시지 글 안에 보낸 시각(perf_counter)을 넣고 받은 쪽에서 빼서 종단 간 지연
#   시간을 잽니다. 보내는 쪽과 받는 쪽이 같은 프로세스라 시계가 같습니다.
# - 글의 첫 글자가 종류입니다: w(예열, 세지 않음), r(준비 신호), m(측정).
# - 압축은 양쪽 모두 끕니다(8절). 1,000개 연결의 압축 상태가 메모리를 차지하고,
#   100바이트짜리 메시지에는 압축할 것이 거의 없습니다.
# - 채팅 서버의 다른 이벤트(입장 알림 등)는 JSON을 읽지 않고 앞부분만 보고 건너뜁니다.

BENCH_PAD = "x" * 72  # 메시지 글을 100바이트 안팎으로 맞추는 채움 글자
CHAT_MESSAGE_PREFIX = encode({"type": ServerType.MESSAGE})[:-1]  # '{"type":"message"'


@dataclass
class LoadResult:
    """서버 하나에 건 부하와 그 결과."""

    label: str
    chat: bool  # True: 채팅 서버(JSON, join), False: 맨 릴레이(글 그대로)
    received: list[int]  # 클라이언트마다 받은 측정 메시지 수
    pid: int | None = None  # 서버 프로세스(None: --uri로 준 남의 서버)
    clients: list[ClientConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # 전달 한 건마다(초)
    ready: int = 0  # 준비 신호를 받은 클라이언트 수
    sent: int = 0
    elapsed: float = 0.0  # 측정 구간을 모두 더한 시간(초)
    server_cpu: float | None = 0.0  # 측정 구간에 서버가 쓴 CPU(초)
    client_cpu: float = 0.0  # 측정 구간에 부하 발생기가 쓴 CPU(초)
    rss_idle: int | None = None  # 클라이언트가 붙기 전 서버 RSS(바이트)
    rss_loaded: int | None = None  # 측정이 끝났을 때 서버 RSS

    @property
    def lost(self) -> int:
        return sum(max(0, self.sent - got) for got in self.received)

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return math.nan
        return statistics.quantiles(self.latencies, n=100)[p - 1]

    def frame(self, text: str) -> str:
        """채팅 서버에는 message 이벤트로, 맨 릴레이에는 글 그대로."""
        return encode({"type": ClientType.MESSAGE, "text": text}) if self.chat else text


async def read_load(websocket: ClientConnection, index: int, run: LoadResult) -> None:
    """받은 측정 메시지마다 지연 시간을 기록합니다."""
    with contextlib.suppress(ConnectionClosed):
        async for frame in websocket:
            now = time.perf_counter()
            text = frame if isinstance(frame, str) else frame.decode()
            if run.chat:
                if not text.startswith(CHAT_MESSAGE_PREFIX):
                    continue  # join, welcome, system
                text = str(json.loads(text)["text"])
            tag, stamp, _ = (text + "  ").split(" ", 2)
            if tag.startswith("m") and stamp.replace(".", "").isdigit():
                run.received[index] += 1
                run.latencies.append(now - float(stamp))
            elif tag == "r":
                run.ready += 1


async def open_load_clients(uri: str, run: LoadResult) -> None:
    """클라이언트 N개를 100개씩 동시에 연결하고(채팅이면 입장까지) 읽기를 시작합니다."""
    count = len(run.received)
    gate = asyncio.Semaphore(100)  # 한꺼번에 진행하는 핸드셰이크 수

    async def open_one(index: int) -> None:
        async with gate:
            websocket = await connect(
                uri, compression=None, ping_interval=None, open_timeout=60
            )
            run.clients.append(websocket)  # 실패해도 finish_load가 닫습니다
            if run.chat:
                join: Event = {"type": ClientType.JOIN, "name": f"b{index:04d}"}
                await websocket.send(encode(join))
                await websocket.recv()  # welcome
            run.readers.append(asyncio.create_task(read_load(websocket, index, run)))
            if len(run.readers) % 100 == 0:
                print(f"\r[bench] {run.label}: 연결 {len(run.readers)}/{count}", end="")

    started = time.perf_counter()
    opening = [asyncio.create_task(open_one(index)) for index in range(count)]
    try:
        await asyncio.gather(*opening)
    finally:  # 하나가 실패하면 나머지 연결 시도도 멈춥니다
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
    elapsed = seconds(time.perf_counter() - started)
    print(f"\r[bench] {run.label}: 연결 {len(run.readers)}/{count} ({elapsed})")


async def send_load(
    run: LoadResult, args: argparse.Namespace, tag: str, duration: float
) -> int:
    """합계 초당 args.rate개를 duration초 동안: n번째 메시지는 n / rate초에 보냅니다.

    보내는 사람 args.senders명이 차례로 돌아가며 하나씩 보내므로, 토막이 짧아도
    보내는 양은 rate × duration개 그대로이고 토막도 duration초 안에 끝납니다.
    """
    loop, rate = asyncio.get_running_loop(), float(args.rate)
    senders = run.clients[: args.senders]
    count = math.ceil(round(rate * duration, 6))  # 0.1 × 20 같은 값의 오차를 버림
    start = loop.time()
    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        index = n % len(senders)
        text = f"{tag}{index}.{n} {time.perf_counter():.6f} {BENCH_PAD}"
        await senders[index].send(run.frame(text))
    return count


async def wait_until(condition: Callable[[], bool], within: float) -> bool:
    """condition()이 참이 될 때까지 기다립니다(시간제한이 지나면 False)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            # 조건은 읽기 태스크 1,000개가 바꿉니다. 바뀔 때마다 깨우는 Event보다
            # 가끔 들여다보는 편이 훨씬 쌉니다.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return True
    return False


async def warm_up(run: LoadResult, args: argparse.Namespace) -> None:
    """같은 부하로 잠깐 예열하고, 준비 신호가 모두에게 닿을 때까지 기다립니다.

    준비 신호를 모두 받았다면 그 앞의 입장 알림과 예열 메시지도 모두 받은
    것입니다(연결 하나 안에서는 보낸 순서대로 도착합니다).
    """
    await send_load(run, args, "w", WARMUP_SECONDS)
    await run.clients[0].send(run.frame("r 0 ready"))
    await wait_until(lambda: run.ready == len(run.clients), within=120)


async def measure_round(
    run: LoadResult, args: argparse.Namespace, duration: float
) -> None:
    """측정 한 토막: 보내고, 모두 받을 때까지 기다리며 시간과 CPU를 더합니다."""
    before = await asyncio.to_thread(process_usage, run.pid) if run.pid else None
    own = sum(os.times()[:2])  # 이 프로세스의 사용자 + 시스템 CPU 초
    started = time.perf_counter()
    run.sent += await send_load(run, args, "m", duration)
    await wait_until(lambda: min(run.received) >= run.sent, within=15)
    run.elapsed += time.perf_counter() - started
    run.client_cpu += sum(os.times()[:2]) - own
    after = await asyncio.to_thread(process_usage, run.pid) if run.pid else None
    if before and after and run.server_cpu is not None:
        run.server_cpu += after[0] - before[0]
    else:
        run.server_cpu = None  # /proc가 없는 운영체제나 남의 서버


# =============================================================================
# 13. 성능 측정(2): 서버 프로세스, 맨 릴레이, 자원 재기
# =============================================================================
# 비교 기준: 받은 것을 검사 없이 broadcast()로 되돌리는 '맨 릴레이'(relay 모드)에
# 똑같은 부하를 겁니다. 채팅 서버의 검증, 속도 제한, JSON, 기록, 감시가 지연
# 시간과 CPU를 얼마나 더하는지 비율로 봅니다(14절).
# - 두 서버 모두 이 파일을 하위 명령(relay, server)으로 다시 실행한 자식 프로세스.
#   설정(압축 끔, max_size, ping)은 같게 맞춥니다.
# - 연결 2N개는 파일 디스크립터 2N개입니다. 기본 한도(흔히 1024)에 걸리지 않게
#   resource 모듈로 올립니다(유닉스). 자식 프로세스는 올린 한도를 물려받습니다.
# - RSS와 CPU는 리눅스 /proc/PID에서 읽습니다(psutil 없이). 연결당 RSS는
#   (측정 끝 RSS - 연결 전 RSS) / N입니다.


def raise_open_file_limit(needed: int) -> bool:
    """열 수 있는 파일(소켓) 수의 한도를 needed 이상으로 올립니다. 못 올리면 False."""
    if sys.platform == "win32":
        return True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return True
    try:  # 하드 한도보다 크면 ValueError, macOS는 하드 한도가 무한이어도 OPEN_MAX까지만
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    except (ValueError, OSError):
        return False
    return True


def process_usage(pid: int) -> tuple[float, int] | None:
    """리눅스 /proc에서 (누적 CPU 초, RSS 바이트). 읽을 수 없으면 None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    utime, stime = stat.rsplit(")", 1)[1].split()[11:13]  # 14, 15번째 필드
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    cpu = (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
    return cpu, int(rss[1]) * 1024 if rss else 0


async def rss_of(pid: int | None) -> int | None:
    """서버 프로세스의 지금 RSS(바이트). 알 수 없으면 None."""
    usage = await asyncio.to_thread(process_usage, pid) if pid else None
    return usage[1] if usage else None


@contextlib.asynccontextmanager
async def bench_server(mode: str, *extra: str) -> AsyncIterator[tuple[str, int]]:
    """이 파일을 mode로 띄웁니다(별도 프로세스). (WebSocket 주소, PID)를 넘겨줍니다."""
    port = free_port()
    command = [sys.executable, __file__, mode, "--port", str(port), *extra]
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL
    )  # 서버의 경고와 오류(stderr)는 이 터미널에 그대로 보입니다
    try:
        async with asyncio.timeout(20):
            while True:  # 포트가 열릴 때까지
                if process.returncode is not None:
                    raise RuntimeError(f"{mode} 프로세스가 끝났습니다(위의 오류 참고)")
                try:
                    _, writer = await asyncio.open_connection(DEFAULT_HOST, port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        yield f"ws://{DEFAULT_HOST}:{port}{WS_PATH}", process.pid
    finally:
        if process.returncode is None:
            process.terminate()  # SIGTERM: 서버는 우아하게 종료합니다(1001)
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def relay_until_stopped(config: ServerConfig) -> None:
    """relay 모드(비교 기준): 받은 프레임을 검사 없이 모두에게 되돌립니다."""
    connections: set[ServerConnection] = set()

    async def relay(websocket: ServerConnection) -> None:
        connections.add(websocket)
        try:
            async for frame in websocket:
                broadcast(connections, frame)
        except ConnectionClosed:
            pass
        finally:
            connections.discard(websocket)

    stop = stop_signal()
    async with serve(
        relay,
        config.host,
        config.port,
        compression=None,  # 아래 값은 채팅 서버(8절)와 같게 맞춥니다
        max_size=MAX_FRAME_BYTES,
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        close_timeout=CLOSE_TIMEOUT,
    ):
        print(f"[릴레이] ws://{config.host}:{config.port}{WS_PATH} (Ctrl+C로 종료)")
        await stop.wait()


# =============================================================================
# 14. 성능 측정(3): 번갈아 재고 비율로 보고하기
# =============================================================================
# - 두 서버를 함께 띄우고 각각 N명을 붙인 뒤, 측정 시간을 열 토막으로 나눠
#   릴레이 → 채팅 → 릴레이 → 채팅 ... 순서로 번갈아 잽니다. 같은 컴퓨터의 다른
#   프로그램이 잠깐 CPU를 쓰더라도 한쪽만 손해 보지 않게 하려는 것입니다.
# - 부하 발생기 자신이 멈추면 그 시간이 지연 시간에 섞입니다. 연결 2,000개를 가진
#   프로세스에서 순환 참조 수집기(gc)가 모든 객체를 훑는 세대 2 수집은 한 번에
#   0.1초를 넘기도 합니다(2코어 기계에서 잰 최댓값 약 0.2초). 그래서 측정하는
#   동안만 gc.freeze()로 이미 있는 객체를 수집 대상에서 뺍니다. 서버 프로세스는
#   건드리지 않습니다.
# 2코어 기계에서 기본값으로 잰 결과와 그 읽는 법은 README의 "성능 측정: bench"에
# 있습니다. 지연 시간의 대부분은 부하 발생기 쪽이고, 채팅 서버가 더하는 일은 작습니다.

BENCH_ROUNDS = 10  # 측정 시간을 이만큼 나눠 두 서버를 번갈아 잽니다


async def finish_load(run: LoadResult, *, close: bool) -> None:
    """연결을 정리합니다. close=False면 서버가 닫아 주기를(1001) 기다립니다."""
    if close:
        await asyncio.gather(*(websocket.close() for websocket in run.clients))
    if run.readers:
        _, pending = await asyncio.wait(run.readers, timeout=15)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for websocket in run.clients:
        websocket.transport.abort()  # 이미 닫혔으면 아무 일도 하지 않습니다


async def run_bench(args: argparse.Namespace) -> int:
    """bench 모드: 맨 릴레이와 채팅 서버에 같은 부하를 번갈아 걸어 비교합니다."""
    args.senders = min(args.senders, args.clients)  # 보내는 사람도 클라이언트 중에서
    needed = 4 * args.clients + 256  # 부하 발생기에 2N개, 서버마다 N개, 여유분
    if not raise_open_file_limit(needed):
        print(
            f"[bench] 열 수 있는 파일(소켓) 수의 한도를 {needed}개로 올리지 "
            f"못했습니다. `ulimit -n {needed}` 명령으로 올린 뒤 다시 실행하거나 "
            "--clients를 줄이세요.",
            file=sys.stderr,
        )
        return 1
    print(
        f"[bench] 클라이언트 {args.clients:,}명, 보내는 사람 {args.senders}명, "
        f"합계 초당 {args.rate:g}개, 서버마다 {args.duration:g}초, 압축 끔"
    )
    rate_limit = max(DEFAULT_RATE, 2 * args.rate / args.senders)  # 보내는 사람 보호
    chat = ["--max-clients", str(args.clients + 10), "--rate-limit", str(rate_limit)]
    chat += ["--log-level", "WARNING"]  # 입장 1,000줄은 찍지 않습니다
    plan = [("맨 릴레이", "relay", []), ("채팅 서버", "server", chat)]
    runs: list[LoadResult] = []
    try:
        async with contextlib.AsyncExitStack() as servers:
            if args.uri:  # 떠 있는 남의 서버: 비교 없이 그 서버만 잽니다
                runs.append(LoadResult("채팅 서버", True, [0] * args.clients))
                await open_load_clients(args.uri, runs[-1])
            else:
                for label, mode, extra in plan:
                    started = bench_server(mode, *extra)
                    uri, pid = await servers.enter_async_context(started)
                    run = LoadResult(label, mode == "server", [0] * args.clients, pid)
                    runs.append(run)
                    run.rss_idle = await rss_of(pid)
                    await open_load_clients(uri, run)
            print("[bench] 예열...", end="", flush=True)
            for run in runs:
                await warm_up(run, args)
            gc.collect()
            gc.freeze()  # 지금 있는 객체(연결 2N개)는 측정하는 동안 gc가 훑지 않음
            for number in range(1, BENCH_ROUNDS + 1):
                print(f"\r[bench] 측정 {number}/{BENCH_ROUNDS}...", end="", flush=True)
                for run in runs:
                    await measure_round(run, args, args.duration / BENCH_ROUNDS)
            for run in runs:
                run.rss_loaded = await rss_of(run.pid)
        print(" 끝")  # 여기까지 오면 서버들이 종료하며 연결을 닫았습니다
    except ConnectionClosed as exc:  # 예: --uri로 잰 서버가 속도 제한으로 닫음(1008)
        reason = explain_close(exc)
        if exc.rcvd is not None and exc.rcvd.code == CloseCode.POLICY_VIOLATION:
            reason += (
                " 한 사람의 속도(--rate ÷ --senders)를 "
                "서버의 --rate-limit 아래로 낮추세요."
            )
        print(f"\n[bench] 측정하지 못했습니다. {reason}", file=sys.stderr)
        return 1
    except (OSError, InvalidHandshake, RuntimeError) as exc:
        reason = str(exc) if isinstance(exc, RuntimeError) else ""
        reason = reason or explain_connect_error(exc, args.uri or "bench 서버")
        print(f"\n[bench] 측정하지 못했습니다. {reason}", file=sys.stderr)
        return 1
    finally:  # 성공했든 실패했든: gc.freeze()를 되돌리고 부하 연결을 정리합니다
        gc.unfreeze()
        for run in runs:
            await finish_load(run, close=run.pid is None)
    print_bench_report(runs)
    return 0


def print_bench_report(runs: list[LoadResult]) -> None:
    """결과 표. 맨 릴레이가 있으면 채팅 ÷ 릴레이 비율을 함께 보여 줍니다."""
    chat, base = runs[-1], runs[0] if len(runs) == 2 else None

    def per_connection(r: LoadResult) -> float | None:
        if r.rss_idle is None or r.rss_loaded is None:
            return None
        return (r.rss_loaded - r.rss_idle) / len(r.received) / 1024

    def server_cpu(r: LoadResult) -> float | None:
        return None if r.server_cpu is None else r.server_cpu / r.elapsed * 100

    rows: list[tuple[str, Callable[[LoadResult], float | None], str, bool]] = [
        ("보낸 메시지(개)", lambda r: r.sent, "{:,.0f}", False),
        ("전달(건/초)", lambda r: sum(r.received) / r.elapsed, "{:,.0f}", False),
        ("지연 시간 p50", lambda r: r.percentile(50) * 1000, "{:.1f}ms", True),
        ("지연 시간 p95", lambda r: r.percentile(95) * 1000, "{:.1f}ms", True),
        ("지연 시간 p99", lambda r: r.percentile(99) * 1000, "{:.1f}ms", True),
        ("잃어버린 메시지(개)", lambda r: r.lost, "{:,.0f}", False),
        ("서버 CPU", server_cpu, "{:.1f}%", True),
        (
            "서버 RSS(측정 끝)",
            lambda r: r.rss_loaded and r.rss_loaded / 2**20,
            "{:.1f} MiB",
            False,
        ),
        ("연결당 RSS", per_connection, "{:.1f} KiB", False),
        ("부하 발생기 CPU", lambda r: r.client_cpu / r.elapsed * 100, "{:.0f}%", False),
    ]
    header = pad("항목", 22) + "".join(pad(r.label, 16) for r in runs)
    print(f"\n{header}{'채팅 ÷ 릴레이' if base else ''}")
    print("─" * (display_width(header) + (14 if base else 0)))
    for title, value_of, fmt, compare in rows:
        values = [value_of(r) for r in runs]
        cells = "".join(pad("-" if v is None else fmt.format(v), 16) for v in values)
        ratio = ""
        if compare and base and values[0] and values[1] is not None:
            ratio = f"{values[1] / values[0]:.2f}배"
        print(pad(title, 22) + cells + ratio)
    verdict = f"\n판정: 채팅 서버의 잃어버린 메시지 {chat.lost}개(목표 0개)"
    if base is not None:
        p99_ratio = chat.percentile(99) / base.percentile(99)
        ok = chat.lost == 0 and p99_ratio <= 1.5
        verdict += f", p99 지연 시간은 맨 릴레이의 {p99_ratio:.2f}배(목표 1.5배 이내)"
        verdict += f" → {'달성' if ok else '미달'}"
    print(verdict)


# =============================================================================
# 실행 모드: demo
# =============================================================================

SECTIONS: dict[int, tuple[str, Callable[[], None]]] = {
    1: ("프로토콜: 메시지 종류와 오류 코드", demo_01_protocol),
    2: ("입력 검증: 허용 목록, fullmatch", demo_02_validation),
    3: ("속도 제한: 토큰 버킷", demo_03_rate_limit),
    4: ("채팅방 상태와 기록", demo_04_chat_room),
    5: ("연결 처리: 입장, 대화, 귓속말, 오류", demo_05_walkthrough),
    6: ("느린 클라이언트와 하트비트", demo_06_slow_clients),
    7: ("같은 포트의 HTTP, Origin, 정원", demo_07_http),
    8: ("우아한 종료", demo_08_shutdown),
}


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
        print(
            f"\n{len(numbers)}개 절을 "
            f"{seconds(time.perf_counter() - start)}에 마쳤습니다."
        )
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
    """demo의 절 번호를 검사합니다(허용 목록: 1~8, all)."""
    value = value.strip().lower()
    if value == "all" or (value.isdigit() and int(value) in SECTIONS):
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
    >>> positive(int)("1.5")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '1.5'은(는) 정수가 아닙니다
    >>> positive(float)("nan")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'nan': 0보다 큰 유한한 수여야 합니다
    """
    what = "정수" if kind is int else "수"

    def check(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{value}'은(는) {what}가 아닙니다"
            ) from None
        if not 0 < number < math.inf:  # nan은 어떤 비교도 참이 아니라 여기서 걸립니다
            raise argparse.ArgumentTypeError(
                f"'{value}': 0보다 큰 유한한 수여야 합니다"
            )
        return number

    return check


NumberOption = tuple[
    str, Callable[[str], float], float, str
]  # 옵션, 타입, 기본값, 설명
SERVER_OPTIONS: tuple[NumberOption, ...] = (
    ("--rate-limit", positive(float), DEFAULT_RATE, "연결마다 초당 프레임 수"),
    ("--burst", positive(int), DEFAULT_BURST, "한꺼번에 허용하는 프레임 수"),
    ("--max-clients", positive(int), DEFAULT_MAX_CLIENTS, "동시 연결 상한, 넘으면 503"),
    ("--ping-interval", positive(float), PING_INTERVAL, "ping을 보내는 간격(초)"),
    ("--ping-timeout", positive(float), PING_TIMEOUT, "pong을 기다리는 시간(초)"),
)
BENCH_OPTIONS: tuple[NumberOption, ...] = (
    ("--clients", positive(int), 1000, "서버마다 붙일 클라이언트 수"),
    ("--senders", positive(int), 20, "그중 보내는 사람 수"),
    ("--rate", positive(float), 20, "모두 합친 초당 메시지 수"),
    ("--duration", positive(float), 10, "서버마다 재는 시간(초)"),
)


def add_options(
    parser: argparse.ArgumentParser, options: Iterable[NumberOption]
) -> None:
    for flag, kind, default, text in options:
        parser.add_argument(
            flag, type=kind, default=default, help=f"{text} (기본: {default:g})"
        )


def port_choice(value: str) -> int:
    """--port: 1~65535."""
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(
            f"'{value}'은(는) 포트 번호(1~65535)가 아닙니다"
        )
    return int(value)


def add_address_options(parser: argparse.ArgumentParser) -> None:
    """--host/--port: 기본값은 환경 변수 HOST/PORT가 있으면 그 값."""
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", DEFAULT_HOST),
        help=f"들을 주소 (기본: {DEFAULT_HOST}, 모두에게 열려면 0.0.0.0)",
    )
    parser.add_argument(
        "--port",
        type=port_choice,
        default=os.environ.get("PORT", str(DEFAULT_PORT)),
        help=f"포트 (기본: {DEFAULT_PORT})",
    )


def build_parser() -> KoreanArgumentParser:
    """모드마다 하위 명령(subcommand)을 둔 파서를 만듭니다."""
    uri = f"ws://{DEFAULT_HOST}:{os.environ.get('PORT', DEFAULT_PORT)}{WS_PATH}"
    parser = KoreanArgumentParser(
        prog=PROG,
        description=(
            "03. 실시간 채팅: 서버, 터미널·브라우저 클라이언트, 성능 측정.\n"
            "인자 없이 실행하면 메뉴가 나옵니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                         # 메뉴\n"
            f"  {PROG} server                  # 터미널 1: 서버\n"
            f"  {PROG} client --name 민수      # 터미널 2: 클라이언트\n"
            f"  {PROG} demo                    # 1~8절을 한 프로세스에서\n"
            f"  {PROG} bench                   # 1,000명 성능 측정\n"
            f"  {PROG} relay --port 9000       # bench의 비교 기준 서버\n"
        ),
    )
    modes = parser.add_subparsers(dest="mode", title="모드", metavar="모드")
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
    add_address_options(server)
    add_options(server, SERVER_OPTIONS)
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
            f"  {PROG} client --name 지영 --uri ws://192.168.0.10:8765/ws\n"
            f'  {PROG} client --name 봇 --send "배포 끝"   # 하나 보내고 끝'
        ),
    )
    client.add_argument("--name", type=name_choice, required=True, help="채팅 이름")
    client.add_argument("--uri", default=uri, help=f"서버 주소 (기본: {uri})")
    client.add_argument("--send", metavar="TEXT", help="TEXT 하나를 보내고 끝냅니다")
    demo = modes.add_parser(
        "demo",
        help="서버와 클라이언트를 한 프로세스에서 돌려 봅니다 (1~8 또는 all)",
        description="절 번호를 주면 그 절만, all이면 전부 실행합니다.\n\n"
        + "\n".join(f"  {n}. {title}" for n, (title, _) in SECTIONS.items()),
        epilog=f"예시:\n  {PROG} demo       # 전부\n  {PROG} demo 6     # 6절만",
    )
    demo.add_argument(
        "section",
        nargs="?",
        default="all",
        type=section_choice,
        help="절 번호 1~8 또는 all (기본: all)",
    )
    bench = modes.add_parser(
        "bench",
        help="맨 broadcast() 릴레이와 채팅 서버에 같은 부하를 걸어 비교합니다",
        description="두 서버를 별도 프로세스로 띄우고 클라이언트를 붙여 번갈아 잽니다.",
        epilog=(
            "예시:\n"
            f"  {PROG} bench                               # 1,000명, 초당 20개\n"
            f"  {PROG} bench --clients 100 --duration 2    # 짧게\n"
            f"  {PROG} bench --uri ws://127.0.0.1:8765/ws  # 떠 있는 서버만"
        ),
    )
    add_options(bench, BENCH_OPTIONS)
    bench.add_argument("--uri", help="떠 있는 채팅 서버를 잽니다(비교는 건너뜀)")
    relay = modes.add_parser(
        "relay",
        help="bench의 비교 기준: 받은 것을 그대로 모두에게 보내는 서버",
        description="검사 없이 broadcast()만 하는 서버입니다. bench가 띄웁니다.",
        epilog=f"예시:\n  {PROG} relay --port 9000",
    )
    add_address_options(relay)
    return parser


def server_config(args: argparse.Namespace) -> ServerConfig:
    """명령줄 인자 → ServerConfig."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        rate=args.rate_limit,
        burst=args.burst,
        max_clients=args.max_clients,
        allow_origins=tuple(args.allow_origin),
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
    )


def run_mode(args: argparse.Namespace) -> int:
    """하위 명령을 실행합니다."""
    if args.mode == "server":
        configure_logging(args.log_level)
        return run_server(
            serve_until_stopped(server_config(args)), args.host, args.port
        )
    if args.mode == "relay":
        config = ServerConfig(host=args.host, port=args.port)
        return run_server(relay_until_stopped(config), args.host, args.port)
    if args.mode == "client":
        if args.send is not None:
            return asyncio.run(send_once(args.uri, args.name, args.send))
        return asyncio.run(run_client(args.uri, args.name))
    if args.mode == "demo":
        return run_demo(args.section)
    if args.mode == "bench":
        return asyncio.run(run_bench(args))
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


def run_menu(parser: KoreanArgumentParser) -> int:
    """인자 없이 실행했을 때의 번호 메뉴. 각 항목은 하위 명령 하나와 같습니다."""
    entries = {
        "1": ("채팅 서버 실행 (터미널 1)", ["server"]),
        "2": ("터미널 클라이언트 (터미널 2, 3 ...)", ["client"]),
        "3": ("데모: 1~8절을 한 프로세스에서", ["demo"]),
        "4": ("성능 측정: 1,000명, 초당 20개", ["bench"]),
    }
    while True:
        print("\n03. 실시간 채팅 ─ 메뉴")
        for key, (title, argv) in entries.items():
            print(f"  {key:>2}. {pad(title, 40)}({' '.join(argv)})")
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
                f"1~{len(entries)}, q 중에서 골라 주세요."
            )
            continue
        argv = entries[choice][1]
        if argv == ["client"]:
            name = ask_name()
            if name is None:
                continue
            # 채팅이 끝나도 키보드 스레드(9절)는 다음 줄을 기다리며 stdin을 붙잡고
            # 있어서, 메뉴로 돌아가면 메뉴의 입력을 가로챕니다. 그래서 여기서 끝냅니다.
            return run_mode(parser.parse_args(["client", "--name", name]))
        run_mode(parser.parse_args(argv))


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
