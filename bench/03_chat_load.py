"""03 채팅 서버 부하 측정: 채팅 서버와 맨 broadcast() 릴레이를 같은 부하로 비교합니다

무엇을 재는가
    03_realtime_chat.py의 server 모드(검증, 속도 제한, JSON, 기록, 감시를 모두 하는
    채팅 서버)와, 받은 프레임을 검사 없이 broadcast()로 되돌리기만 하는 맨
    릴레이(bare relay)에 똑같은 부하를 겁니다. 기본 부하는 서버마다 클라이언트
    1,000명, 그중 보내는 사람 20명, 모두 합쳐 초당 20개, 100바이트 안팎의 메시지,
    압축 끔입니다. 메시지 하나는 1,000명 모두에게 가므로 초당 약 20,000건을 전달합니다.
    - 전달(건/초): 측정 메시지를 받은 건수 ÷ 토막 시간
    - 종단 간 지연 시간 p50/p95/p99: 보낸 시각(메시지 안에 적음)부터 받는 프로그램이
      읽은 시각까지. 보내는 프로세스와 받는 프로세스가 다르므로 프로세스끼리 비교할
      수 있는 시계 time.perf_counter()를 씁니다(리눅스에서는 시스템 전체의
      CLOCK_MONOTONIC입니다. 시작할 때 정말 그런지 확인합니다).
    - 잃어버린 메시지: 보낸 수 × 클라이언트 수 - 받은 수
    - 서버 CPU(한 코어의 비율)와 연결당 RSS: 리눅스 /proc/PID/task/*/schedstat
      (없으면 /proc/PID/stat)과 /proc/PID/status에서 읽습니다. 다른 운영체제에서는
      "-"로 보입니다. 연결당 RSS = (측정이 끝났을 때 RSS - 연결 전 RSS) ÷ N
    - 연결 시간: N명이 한꺼번에(동시에 100개씩) 붙는 데 걸린 시간. 릴레이는 연결을
      여는 데까지, 채팅 서버는 연결, 입장(join), 환영 메시지(welcome)까지입니다.
      서버를 다시 시작하면 모두가 한꺼번에 다시 들어오므로 중요한 숫자입니다.
      서버마다 3번 번갈아 잽니다(사이에 모두 닫고 서버가 치우기를 기다림).

측정 방법
    - 두 서버 모두 별도 프로세스입니다. 채팅 서버는 레슨 파일을 그대로
      `python 03_realtime_chat.py server ...`로 띄우고, 맨 릴레이는 이 스크립트가
      숨은 옵션 --baseline-server로 자신을 다시 실행해 띄웁니다(압축, max_size,
      ping 설정은 채팅 서버와 같게).
    - 부하 발생기(load generator)는 클라이언트를 여러 프로세스(--processes)에 나눠
      맡깁니다. 부하 발생기 자신이 느려지면 그 시간이 지연 시간에 섞이기 때문입니다.
      토막마다 각 부하 발생기 프로세스의 CPU를 재고, 어느 하나라도 한 코어의 80%를
      넘으면 그 실행을 무효로 표시합니다(종료 코드 3). 부하 발생기는 연결을 연 뒤
      gc.freeze()와 gc.disable()로 순환 참조 수집기의 멈춤도 없앱니다.
    - 측정 시간을 토막(--slices)으로 나눠 두 서버를 번갈아 잽니다(ABBA 순서). 같은
      컴퓨터의 다른 프로그램이 잠깐 CPU를 쓰더라도 한쪽만 손해 보지 않게 하려는
      것입니다. 재기 전에 서버마다 같은 부하로 예열합니다.
    - "다른 CPU"는 그 토막에 이 측정과 상관없는 프로그램이 쓴 CPU입니다(리눅스
      /proc/stat의 전체 사용량에서 서버, 부하 발생기, 이 스크립트를 뺀 값). 한 코어의
      25%를 넘은 토막은 끝에 "주의"로 알립니다.

숫자 읽는 법
    표의 "비율"은 채팅 서버 ÷ 맨 릴레이를 토막마다 낸 값의 중앙값이고, "범위"는 그
    최솟값~최댓값입니다. 범위가 넓으면 그 차이는 측정의 흔들림 안에 있다는 뜻입니다.
    짧은 실행 한 번으로 합격·불합격을 판정하지 않습니다. 지연 시간 비율이 1보다
    크면 그만큼이 채팅 서버가 더한 일(검증, JSON, 기록)의 몫입니다. 지연 시간의
    대부분은 메시지 하나를 1,000명에게 나눠 쓰고 읽는 시간입니다(1,000번째로 받는
    사람은 앞의 999건을 기다립니다). 연결 시간의 비율과 범위는 3번 잰 값에서
    냅니다(issue 8의 목표는 맨 릴레이의 2배 이내). 연결당 RSS는 한 번만 재므로
    범위가 없습니다. 마지막 줄이 "무효"면 숫자는 서버가 아니라 부하 발생기를 잰
    것입니다.

실행 방법
    python bench/03_chat_load.py                   # 기본: 1,000명, 초당 20개(1분 안쪽)
    python bench/03_chat_load.py --clients 200 --duration 1 --slices 6
    python bench/03_chat_load.py --processes 6     # 부하 발생기가 포화되면
    python bench/03_chat_load.py --help

종료 코드
    0 측정을 마침, 1 측정하지 못함(서버가 뜨지 않음, 연결 실패, 파일 한도),
    2 잘못된 옵션, 3 측정은 마쳤지만 무효(부하 발생기 포화), 130 Ctrl+C(SIGTERM은 143).

필요 패키지
    websockets>=17.1 (requirements.txt). 레슨 파일을 불러오지 않습니다.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import locale
import math
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

if sys.platform != "win32":
    import resource  # 유닉스 전용: 파일 디스크립터 한도

ROOT = Path(__file__).resolve().parents[1]  # 저장소 루트(레슨 파일이 있는 곳)
LESSON = ROOT / "03_realtime_chat.py"  # 잴 채팅 서버(server 모드로 띄움)
PROG = "python bench/03_chat_load.py"  # 도움말에 보이는 실행 명령
HOST = "127.0.0.1"  # 루프백: 서버와 부하 발생기가 같은 컴퓨터
WS_PATH = "/ws"  # 채팅 서버의 WebSocket 경로(릴레이는 경로를 보지 않음)
CHAT_SERVER_ARGS = ["--log-level", "WARNING"]  # 채팅 서버에 늘 주는 옵션
CHAT_RATE_FLOOR = 5.0  # 03의 기본 --rate-limit(초당 프레임): 이보다 낮추지 않음
RELAY_MAX_SIZE = 16 * 1024  # 아래 다섯 값은 03의 serve() 설정과 같게 맞춥니다
RELAY_OPEN_TIMEOUT = 10.0  # 핸드셰이크 시간제한(초)
RELAY_PING_INTERVAL = 20.0  # 하트비트 ping 간격(초)
RELAY_PING_TIMEOUT = 20.0  # pong 시간제한(초)
RELAY_CLOSE_TIMEOUT = 2.0  # 닫기 핸드셰이크 시간제한(초)
MESSAGE_BYTES = 100  # 클라이언트가 보내는 프레임의 크기(바이트, 안팎)
CONNECT_CONCURRENCY = 100  # 모든 부하 발생기를 합쳐 동시에 진행하는 연결 수
CONNECT_ROUNDS = 3  # 연결 시간을 서버마다 이만큼 잽니다(번갈아, 마지막 연결은 남김)
SATURATED = 0.80  # 부하 발생기 프로세스 하나가 이만큼(코어 비율) 넘게 쓰면 무효
BUSY = 0.25  # 다른 프로그램이 토막 동안 한 코어의 이만큼 넘게 쓰면 '바쁜 컴퓨터'로 알림
START_DELAY = 0.3  # 명령을 보낸 뒤 모두 함께 시작하기까지(초)
DRAIN_SECONDS = 10.0  # 보내기를 마친 뒤 늦은 메시지를 기다리는 시간(초)
WARMUP_SECONDS = 4.0  # 재기 전에 서버마다 같은 부하로 예열하는 시간(초)
WARMUP_DRAIN = 120.0  # 예열: 입장 알림이 모두 도착할 때까지 기다리는 시간(초)
POLL = 0.005  # 부하 발생기가 토막의 끝을 확인하는 간격(초)
SERVER_START_TIMEOUT = 30.0  # 서버가 포트를 열기까지 기다리는 시간(초)
EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_INTERRUPTED = 1, 2, 3, 130  # 종료 코드

STAMP = re.compile(r'"text": ?"m(\d+)\.\d+ (\d+\.\d+) ')  # 측정 메시지: 토막, 보낸 시각
WELCOME = re.compile(r'"type": ?"welcome"')
ERROR = re.compile(r'"type": ?"error"')


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

    >>> display_width("채팅 서버"), display_width("p99")
    (9, 3)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """전각 문자를 고려해 왼쪽 정렬합니다. 뒤에는 적어도 두 칸을 띄웁니다.

    >>> pad("서버", 6) + "|", pad("1,234,567", 6) + "|"
    ('서버  |', '1,234,567  |')
    """
    return text + " " * max(2, width - display_width(text))


def say(text: str = "") -> None:
    """한 줄을 바로 내보냅니다(| tee로 받아도 진행이 보이게)."""
    print(text, flush=True)


def percentile(ordered: list[float], p: float) -> float:
    """정렬된 값에서 p% 자리의 값(선형 보간). 값이 없으면 nan.

    >>> percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50), percentile([1.0, 2.0], 99)
    (3.0, 1.99)
    """
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_cells(ratios: list[float]) -> tuple[str, str]:
    """토막마다의 비율 → (중앙값 칸, 최솟값~최댓값 칸). nan이 섞이면 "-".

    >>> ratio_cells([1.5, 1.0, 2.0])
    ('1.50배', '1.00~2.00배')
    """
    if not ratios or any(math.isnan(r) for r in ratios):
        return "-", "-"
    ordered = sorted(ratios)
    middle = percentile(ordered, 50)
    return f"{middle:.2f}배", f"{ordered[0]:.2f}~{ordered[-1]:.2f}배"


class BenchError(Exception):
    """측정을 이어 갈 수 없는 문제. 메시지는 사람에게 보여 줄 한국어 한 문장."""


class Interrupted(BaseException):
    """SIGTERM을 받았습니다(Ctrl+C의 KeyboardInterrupt처럼 정리를 거쳐 끝냄)."""


# =============================================================================
# 서버 프로세스: 띄우기, 자원 재기, 반드시 멈추기
# =============================================================================


def free_port() -> int:
    """운영체제에게 빈 포트를 받아 번호만 돌려줍니다."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def process_cpu(pid: int) -> float | None:
    """리눅스에서 프로세스가 지금까지 쓴 CPU(초). 읽을 수 없으면 None.

    /proc/PID/task/*/schedstat의 첫 값(스레드마다 CPU에서 실행한 나노초)을
    더합니다. /proc/PID/stat의 utime + stime은 10ms 단위라 짧은 토막에는 거칩니다.
    """
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return coarse_process_cpu(pid)
    return total / 1e9


def coarse_process_cpu(pid: int) -> float | None:
    """/proc/PID/stat의 utime + stime(초). schedstat이 없는 커널에서 씁니다."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # 괄호 안의 프로그램 이름은 건너뜀
    if len(fields) < 13:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss(pid: int) -> int | None:
    """리눅스 /proc/PID/status의 VmRSS(바이트). 읽을 수 없으면 None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    return None if rss is None else int(rss[1]) * 1024


def machine_cpu() -> float | None:
    """리눅스 /proc/stat: 이 컴퓨터의 모든 CPU가 프로그램을 실행한 시간의 합(초).

    첫 줄 'cpu user nice system idle ...'의 user + nice + system입니다.
    """
    try:
        first = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0]
    except OSError:
        return None
    fields = first.split()
    if len(fields) < 4 or fields[0] != "cpu":
        return None
    return sum(int(x) for x in fields[1:4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSample:
    """한 시점의 CPU 누적값: 컴퓨터 전체, 이 프로세스, 서버 프로세스들(초)."""

    at: float
    machine: float | None
    parent: float
    servers: list[float | None]

    @classmethod
    def now(cls, pids: list[int]) -> CpuSample:
        servers = [process_cpu(pid) for pid in pids]
        return cls(time.perf_counter(), machine_cpu(), time.process_time(), servers)


def cpu_shares(
    before: CpuSample, after: CpuSample, generators: float
) -> tuple[float, float]:
    """(첫 서버의 CPU, 다른 프로그램의 CPU). 둘 다 한 코어의 비율, 모르면 nan.

    다른 프로그램 = 컴퓨터 전체 - 이 프로세스 - 서버들 - 부하 발생기(generators초).
    """
    window = after.at - before.at
    spent = [
        a - b if a is not None and b is not None else None
        for a, b in zip(after.servers, before.servers, strict=True)
    ]
    server = math.nan if spent[0] is None else spent[0] / window
    if after.machine is None or before.machine is None or None in spent:
        return server, math.nan
    ours = after.parent - before.parent + sum(x or 0.0 for x in spent) + generators
    return server, max(0.0, after.machine - before.machine - ours) / window


def raise_open_file_limit(needed: int) -> tuple[bool, int, int]:
    """파일(소켓) 수 한도를 needed 이상으로 올립니다. (성공, 지금 한도, 하드 한도)"""
    if sys.platform == "win32":
        return True, needed, needed
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return True, soft, hard
    try:  # 하드 한도보다 크면 ValueError, macOS는 OPEN_MAX를 넘으면 OSError
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    except (ValueError, OSError):
        return False, soft, hard
    return True, needed, hard


@contextlib.contextmanager
def signals_ignored(*signals: signal.Signals) -> Iterator[None]:
    """블록 안에서는 주어진 신호를 무시합니다.

    - 정리하는 동안: Ctrl+C를 한 번 더 눌러도 정리(서버 멈추기)를 끊지 않게
    - 자식 프로세스를 띄우는 순간: 무시 설정은 자식에게 물려주므로, 자식이 아직
      시작하는 중에 Ctrl+C가 와도 트레이스백을 내지 않습니다(정리는 부모가 함)
    """
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ServerProcess:
    """서버 하나를 자식 프로세스로 띄웁니다. 표준 오류는 임시 파일에 모읍니다."""

    def __init__(self, label: str, command: list[str], port: int) -> None:
        self.label = label
        self.port = port
        # 서버의 경고와 오류는 모았다가 끝에 요약합니다(wait_or_kill에서 닫음)
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.lines: list[str] = []  # 멈춘 뒤에 읽어 둔 표준 오류
        with signals_ignored(signal.SIGINT):
            self.popen = subprocess.Popen(  # noqa: S603  우리 인터프리터, 고정된 인자
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # 입장·퇴장 안내는 버립니다
                stderr=self.stderr,
                cwd=ROOT,
            )

    @property
    def uri(self) -> str:
        return f"ws://{HOST}:{self.port}{WS_PATH}"

    def wait_ready(self) -> None:
        """포트가 연결을 받을 때까지 기다립니다. 먼저 끝나면 BenchError."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise BenchError(
            f"{self.label}가 {SERVER_START_TIMEOUT:.0f}초 안에 포트 {self.port}를 "
            f"열지 않았습니다.{self.stderr_tail()}"
        )

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise BenchError(
                f"{self.label} 프로세스가 먼저 끝났습니다(종료 코드 {code})."
                + self.stderr_tail()
            )

    def rss(self) -> int | None:
        return process_rss(self.popen.pid)

    def stderr_lines(self) -> list[str]:
        """서버가 표준 오류에 남긴 줄들(멈춘 뒤에는 닫기 전에 읽어 둔 것)."""
        if self.stderr.closed:
            return self.lines
        self.stderr.seek(0)
        encoding = os.environ.get("PYTHONIOENCODING") or locale.getpreferredencoding()
        text = self.stderr.read().decode(encoding.split(":")[0], errors="replace")
        self.stderr.seek(0, os.SEEK_END)
        return [line for line in text.splitlines() if line.strip()]

    def stderr_tail(self, count: int = 8) -> str:
        lines = self.stderr_lines()[-count:]
        return "".join(f"\n  | {printable(line)}" for line in lines)

    def terminate(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()  # SIGTERM: 서버는 우아하게 종료합니다

    def wait_or_kill(self, timeout: float = 15.0) -> None:
        """끝나기를 기다리고(안 끝나면 kill), 표준 오류를 읽어 둔 뒤 파일을 닫습니다."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        if not self.stderr.closed:
            self.lines = self.stderr_lines()
            self.stderr.close()


def printable(text: str) -> str:
    """이 터미널의 인코딩(예: cp949)으로 못 쓰는 글자는 ?로 바꿉니다."""
    encoding = sys.stdout.encoding or "utf-8"
    return text.encode(encoding, errors="replace").decode(encoding)


def relay_command(port: int) -> list[str]:
    """맨 릴레이: 이 스크립트를 --baseline-server로 다시 실행합니다."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--baseline-server",
        str(port),
    ]


def chat_command(port: int, clients: int, rate_limit: float) -> list[str]:
    """채팅 서버: 레슨 파일의 server 모드. 서버 옵션은 모두 여기서 정합니다.

    - --max-clients: 부하의 N명이 다 들어가게(기본 정원보다 많이 재는 경우)
    - --rate-limit: 보내는 사람 한 명의 몫(--rate ÷ --senders)의 두 배 이상
    - --join-rate: 실제로는 N명이 각자 다른 주소에서 오지만, 여기서는 모두
      127.0.0.1에서 옵니다. 주소마다의 입장 제한이 측정을 막지 않게, 연결 시간을
      재는 횟수만큼의 입장(N × CONNECT_ROUNDS)을 한꺼번에 허용합니다.
    - 그 밖의 옵션은 기본값 그대로입니다(기본값이 이 부하를 받아야 합니다).
    """
    per_run = ["--port", str(port), "--max-clients", str(clients + 10)]
    joins = str(clients * CONNECT_ROUNDS)
    per_run += ["--rate-limit", f"{rate_limit:g}", "--join-rate", joins]
    return [sys.executable, str(LESSON), "server", *per_run, *CHAT_SERVER_ARGS]


# =============================================================================
# 맨 릴레이(비교 기준): 받은 프레임을 검사 없이 모두에게 broadcast()
# =============================================================================


async def relay_until_stopped(port: int) -> None:
    """--baseline-server: SIGTERM이나 Ctrl+C가 올 때까지 릴레이를 돌립니다."""
    connections: set[ServerConnection] = set()

    async def relay(websocket: ServerConnection) -> None:
        connections.add(websocket)
        try:
            async for frame in websocket:
                broadcast(connections, frame)
        except ConnectionClosed:  # 인사 없이 끊긴 연결: 기록할 것 없음
            pass
        finally:
            connections.discard(websocket)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt로
            loop.add_signal_handler(sig, stop.set)
    async with serve(
        relay,
        HOST,
        port,
        compression=None,
        max_size=RELAY_MAX_SIZE,
        max_queue=16,
        write_limit=32 * 1024,
        open_timeout=RELAY_OPEN_TIMEOUT,
        ping_interval=RELAY_PING_INTERVAL,
        ping_timeout=RELAY_PING_TIMEOUT,
        close_timeout=RELAY_CLOSE_TIMEOUT,
    ):
        await stop.wait()


def run_baseline_server(port: int) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(relay_until_stopped(port))
    return 0


# =============================================================================
# 부하 발생기 프로세스: 명령을 받아 연결하고, 보내고, 받은 것을 셉니다
# =============================================================================
# 부모(이 스크립트)와 부하 발생기는 multiprocessing 파이프로 아래 명령과 보고를
# 주고받습니다. 클라이언트 i번은 i % P번 프로세스가 맡습니다(P = --processes).


@dataclass
class ClockCommand:
    """시계 확인: 지금의 perf_counter()를 돌려 달라."""


@dataclass
class ConnectCommand:
    key: str  # 서버 이름(relay, chat)
    uri: str
    chat: bool  # True면 입장(join)하고 환영 메시지까지 받음
    clients: int  # 모든 프로세스를 합친 수
    concurrency: int  # 이 프로세스가 동시에 진행하는 연결 수
    start_at: float  # perf_counter() 시각


@dataclass
class LoadCommand:
    key: str
    slice_id: int
    start_at: float
    rate: float  # 모두 합친 초당 메시지
    total: int  # 이 토막에서 모두 합쳐 보낼 메시지 수
    senders: int  # 보내는 사람 수(클라이언트 0..senders-1)
    deadline: float  # 이 시각까지 안 온 메시지는 잃어버린 것


@dataclass
class DisconnectCommand:
    """이 서버와의 연결을 모두 닫아라(1000, 정상 종료)."""

    key: str


@dataclass
class QuitCommand:
    """연결을 모두 끊고 끝내라."""


@dataclass
class ClockReport:
    now: float


@dataclass
class Span:
    """부하 발생기 프로세스 하나가 잰 구간. begin()은 지금 값, finish()는 차이입니다."""

    start: float  # perf_counter() 시각
    cpu: float  # 이 프로세스가 쓴 CPU(초)
    end: float = math.nan

    @classmethod
    def begin(cls) -> Span:
        return cls(time.perf_counter(), time.process_time())

    def finish(self) -> Span:
        cpu = time.process_time() - self.cpu
        return Span(self.start, cpu, time.perf_counter())

    @property
    def cpu_share(self) -> float:
        """한 코어의 몇 배를 썼는가(0~1)."""
        return self.cpu / max(self.end - self.start, 1e-9)


@dataclass
class ConnectReport:
    opened: int
    span: Span


@dataclass
class SliceReport:
    sent: int
    received: int
    latencies: bytes  # array("d")
    span: Span
    errors: dict[str, int]  # 서버가 보낸 error 이벤트의 code별 수
    closed: int  # 지금까지 닫힌 연결 수


@dataclass
class Failure:
    text: str  # 한국어 한 문장


@dataclass
class Bucket:
    """한 토막에서 받은 측정 메시지."""

    received: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))


@dataclass
class Group:
    """서버 하나에 붙인 이 프로세스의 연결들."""

    connections: list[ClientConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    buckets: dict[int, Bucket] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    closed: int = 0

    def bucket(self, slice_id: int) -> Bucket:
        found = self.buckets.get(slice_id)
        if found is None:
            found = self.buckets[slice_id] = Bucket()
        return found


def message_frame(text: str) -> str:
    """클라이언트가 보내는 프레임. 두 서버에 똑같은 JSON을 보냅니다.

    >>> len(message_frame("m1.0 1234.567890 "))
    100
    """
    head = json.dumps({"type": "message", "text": text}, separators=(",", ":"))
    filler = "x" * max(0, MESSAGE_BYTES - len(head))
    return head[:-2] + filler + head[-2:]  # 글 끝('"}' 앞)에 채움 글자를 넣음


async def sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def read_frames(websocket: ClientConnection, group: Group) -> None:
    """받은 측정 메시지마다 지연 시간을 적습니다. 다른 이벤트는 앞부분만 보고 넘김."""
    try:
        async for frame in websocket:
            now = time.perf_counter()
            if not isinstance(frame, str):
                continue
            stamp = STAMP.search(frame)
            if stamp is not None:
                bucket = group.bucket(int(stamp[1]))
                bucket.received += 1
                bucket.latencies.append(now - float(stamp[2]))
            elif ERROR.search(frame):
                group.errors[str(json.loads(frame).get("code"))] += 1
    except ConnectionClosed:
        pass
    finally:
        group.closed += 1


def describe_failure(exc: BaseException) -> str:
    """연결과 입장이 실패한 까닭을 한국어 한 문장으로."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        full = " (정원 초과: --clients를 줄이세요)" if status == 503 else ""
        return f"서버가 핸드셰이크를 HTTP {status}로 거절했습니다{full}"
    if isinstance(exc, InvalidHandshake):
        return f"핸드셰이크가 실패했습니다({exc})"
    if isinstance(exc, TimeoutError):
        return "시간 안에 연결(또는 입장)하지 못했습니다: 컴퓨터가 너무 바쁩니다"
    if isinstance(exc, ConnectionClosed):
        return (
            f"서버가 연결을 닫았습니다(종료 코드 {exc.rcvd.code if exc.rcvd else 1006})"
        )
    if isinstance(exc, OSError) and exc.errno == getattr(os, "EMFILE", 24):
        return "열 수 있는 파일(소켓) 수의 한도에 걸렸습니다: ulimit -n을 올리세요"
    return f"연결하지 못했습니다({exc})"


class JoinRefused(Exception):
    """채팅 서버가 입장 대신 error를 보냈습니다."""


class Generator:
    """부하 발생기 프로세스 하나의 상태: 서버마다 연결 묶음(Group)."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index  # 이 프로세스의 번호(0부터)
        self.count = count  # 부하 발생기 프로세스 수
        self.groups: dict[str, Group] = {}

    async def handle(self, command: object) -> object:
        try:
            match command:
                case ClockCommand():
                    return ClockReport(time.perf_counter())
                case ConnectCommand():
                    return await self.connect(command)
                case LoadCommand():
                    return await self.load(command)
                case DisconnectCommand():
                    return await self.disconnect(command)
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            return Failure(describe_failure(exc))
        except JoinRefused as exc:
            return Failure(f"채팅 서버가 입장을 거절했습니다({exc})")
        raise AssertionError(f"모르는 명령: {command!r}")

    async def connect(self, command: ConnectCommand) -> ConnectReport:
        group = self.groups[command.key] = Group()
        indexes = range(self.index, command.clients, self.count)
        slots: list[ClientConnection | None] = [None] * len(indexes)
        gate = asyncio.Semaphore(command.concurrency)

        async def open_one(position: int, index: int) -> None:
            async with gate:
                websocket = await connect(
                    command.uri, compression=None, ping_interval=None, open_timeout=60
                )
                slots[position] = websocket
                if command.chat:
                    join = {"type": "join", "name": f"b{index:05d}"}
                    await websocket.send(json.dumps(join, separators=(",", ":")))
                    async with asyncio.timeout(60):
                        while not WELCOME.search(frame := str(await websocket.recv())):
                            if ERROR.search(frame):
                                raise JoinRefused(json.loads(frame).get("code"))
            group.readers.append(asyncio.create_task(read_frames(websocket, group)))

        await sleep_until(command.start_at)
        span = Span.begin()
        opening = [
            asyncio.create_task(open_one(position, index))
            for position, index in enumerate(indexes)
        ]
        try:
            await asyncio.gather(*opening)
        finally:  # 하나가 실패하면 나머지 연결 시도도 멈춥니다
            for task in opening:
                task.cancel()
            await asyncio.gather(*opening, return_exceptions=True)
            group.connections = [ws for ws in slots if ws is not None]
        return ConnectReport(len(group.connections), span.finish())

    async def load(self, command: LoadCommand) -> SliceReport:
        group = self.groups[command.key]
        await sleep_until(command.start_at)
        span = Span.begin()
        sent = 0
        for n in range(command.total):  # n번째 메시지는 n / rate초에, 돌아가며
            sender = n % command.senders
            if sender % self.count != self.index:
                continue  # 다른 프로세스가 맡은 보내는 사람
            await sleep_until(command.start_at + n / command.rate)
            text = f"m{command.slice_id}.{n} {time.perf_counter():.6f} "
            with contextlib.suppress(ConnectionClosed):  # 잃어버린 메시지로 셉니다
                await group.connections[sender // self.count].send(message_frame(text))
                sent += 1
        bucket = group.bucket(command.slice_id)
        expected = command.total * len(group.connections)
        # 읽기 태스크 수백 개가 바꾸는 값이라 Event로 깨우기보다 가끔 보는 편이 쌉니다.
        # 닫힌 연결이 있으면 나머지는 더 오지 않으므로 기다리지 않습니다.
        while bucket.received < expected and not group.closed:
            if time.perf_counter() > command.deadline:
                break
            await asyncio.sleep(POLL)
        report = SliceReport(
            sent,
            bucket.received,
            bucket.latencies.tobytes(),
            span.finish(),
            dict(group.errors),
            group.closed,
        )
        for old in [key for key in group.buckets if key <= command.slice_id]:
            del group.buckets[old]  # 늦게 온 지난 토막의 메시지도 버림
        group.errors.clear()
        return report

    async def disconnect(self, command: DisconnectCommand) -> ClockReport:
        """연결 시간을 다시 재려고 모두 닫습니다. 닫은 시각을 돌려줍니다."""
        group = self.groups.pop(command.key)
        await asyncio.gather(*(ws.close() for ws in group.connections))
        await asyncio.gather(*group.readers, return_exceptions=True)
        return ClockReport(time.perf_counter())

    async def close(self) -> None:
        for group in self.groups.values():
            for websocket in group.connections:
                websocket.transport.abort()  # 서버는 이미 멈췄거나 곧 멈춥니다
            for task in group.readers:
                task.cancel()
            await asyncio.gather(*group.readers, return_exceptions=True)


async def generator_loop(pipe: Connection, index: int, count: int) -> None:
    generator = Generator(index, count)
    try:
        while True:
            # 파이프는 이벤트 루프가 기다릴 수 없어(Windows) 가끔 들여다봅니다.
            # 그동안에도 이벤트 루프는 돌며 연결들을 계속 읽습니다.
            while not pipe.poll():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            command = pipe.recv()
            if isinstance(command, QuitCommand):
                return
            gc.disable()  # 재는 동안 순환 참조 수집기가 멈추지 않게
            reply = await generator.handle(command)
            gc.collect()  # 재지 않는 틈에 모아 두고, 남은 객체는 얼립니다
            gc.freeze()
            pipe.send(reply)
    finally:
        await generator.close()


def generator_main(pipe: Connection, index: int, count: int) -> None:
    """부하 발생기 프로세스의 진입점(spawn). Ctrl+C는 부모가 받아 정리합니다."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        asyncio.run(generator_loop(pipe, index, count))  # 부모가 사라지면 EOFError


class GeneratorPool:
    """부모 쪽에서 본 부하 발생기 프로세스들."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # 세 운영체제에서 같은 방식
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=generator_main, args=(theirs, index, count), daemon=True
            )
            with signals_ignored(signal.SIGINT):
                process.start()
            theirs.close()
            self.pipes.append(mine)
            self.processes.append(process)
        self.watched: list[ServerProcess] = []  # 기다리는 동안 살아 있는지 볼 서버

    def __len__(self) -> int:
        return len(self.pipes)

    def send(self, commands: Iterable[object]) -> None:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)

    def send_all(self, command: object) -> None:
        self.send([command] * len(self.pipes))

    def collect(self, timeout: float) -> list[object]:
        """프로세스마다 답 하나. 실패 보고, 시간 초과, 죽은 프로세스는 BenchError."""
        deadline = time.monotonic() + timeout
        replies: list[object] = []
        for number, pipe in enumerate(self.pipes, 1):
            while not pipe.poll(0.1):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"부하 발생기 {number}번이 {timeout:.0f}초 안에 답하지 "
                        "않았습니다. 컴퓨터가 너무 바쁩니다."
                    )
            reply = pipe.recv()
            if isinstance(reply, Failure):
                raise BenchError(f"부하 발생기 {number}번: {reply.text}.")
            replies.append(reply)
        return replies

    def check_alive(self) -> None:
        """서버나 부하 발생기가 먼저 끝났으면 BenchError."""
        for server in self.watched:
            server.check_alive()
        for number, process in enumerate(self.processes, 1):
            if not process.is_alive():
                raise BenchError(
                    f"부하 발생기 {number}번이 끝났습니다(종료 코드 "
                    f"{process.exitcode}). 위의 오류를 보세요."
                )

    def clocks_agree(self) -> bool:
        """부하 발생기의 perf_counter()가 부모의 것과 같은 시계인지 확인합니다."""
        for pipe in self.pipes:
            before = time.perf_counter()
            pipe.send(ClockCommand())
            while not pipe.poll(0.1):
                self.check_alive()
                if time.perf_counter() - before > 30:
                    raise BenchError("부하 발생기가 30초 안에 시작하지 않았습니다.")
            reply = pipe.recv()
            after = time.perf_counter()
            if not isinstance(reply, ClockReport) or not before <= reply.now <= after:
                return False
        return True

    def stop(self) -> None:
        """끝내라고 알리고, 끝나지 않으면 terminate, 그래도 안 되면 kill."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(QuitCommand())
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2)
            if process.is_alive():
                process.kill()
                process.join(timeout=2)
        for pipe in self.pipes:
            pipe.close()


# =============================================================================
# 측정: 연결, 예열, 토막
# =============================================================================


def worst(values: Iterable[float]) -> float:
    """nan(모름)을 뺀 최댓값. 모두 모르면 nan.

    >>> worst([0.1, math.nan, 0.3]), worst([math.nan])
    (0.3, nan)
    """
    known = [v for v in values if not math.isnan(v)]
    return max(known) if known else math.nan


@dataclass
class SliceResult:
    """서버 하나, 토막 하나의 결과."""

    slice_id: int
    sent: int
    expected: int  # 보낸 수 × 클라이언트 수
    received: int
    latencies: list[float]  # 정렬됨(초)
    elapsed: float  # 적어도 duration, 늦은 메시지가 있으면 그것이 도착할 때까지(초)
    server_cpu: float  # 서버가 쓴 CPU(한 코어의 비율, 모르면 nan)
    others: float  # 다른 프로그램이 쓴 CPU(한 코어의 비율, 모르면 nan)
    generator_cpu: list[float]  # 부하 발생기 프로세스마다 CPU(한 코어의 비율)
    errors: Counter[str]
    closed: int

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)

    @property
    def deliveries(self) -> float:
        return self.received / self.elapsed

    def p(self, rank: float) -> float:
        return percentile(self.latencies, rank)


@dataclass
class ServerRun:
    """서버 하나에 건 부하의 모든 결과."""

    key: str
    label: str
    server: ServerProcess
    rss_idle: int | None = None
    rss_loaded: int | None = None
    connect_times: list[float] = field(default_factory=list)  # 잰 차례대로(초)
    connect_cpu: float = 0.0  # 연결하는 동안 부하 발생기 프로세스의 최대 코어 비율
    sockets_idle: int | None = None  # 연결 전 서버의 열린 소켓 수
    slices: list[SliceResult] = field(default_factory=list)


def open_sockets(pid: int) -> int | None:
    """리눅스 /proc/PID/fd에서 프로세스가 열어 둔 소켓 수. 모르면 None."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    count = 0
    for fd in fds:
        with contextlib.suppress(OSError):  # 읽는 사이에 닫힌 것
            count += os.readlink(fd).startswith("socket:")
    return count


def connect_all(pool: GeneratorPool, run: ServerRun, clients: int, number: int) -> None:
    """N명을 한꺼번에 붙이고(채팅이면 입장까지) 걸린 시간을 잽니다."""
    start_at = time.perf_counter() + START_DELAY
    per_process = max(1, CONNECT_CONCURRENCY // len(pool))
    chat = run.key == "chat"
    pool.send_all(
        ConnectCommand(run.key, run.server.uri, chat, clients, per_process, start_at)
    )
    reports = [r for r in pool.collect(timeout=600) if isinstance(r, ConnectReport)]
    elapsed = max(r.span.end for r in reports) - start_at
    run.connect_times.append(elapsed)
    cpu = max(r.span.cpu_share for r in reports)
    if elapsed >= 1.0:  # 아주 짧은 구간의 CPU 비율은 흔들려서 보지 않습니다
        run.connect_cpu = max(run.connect_cpu, cpu)
    opened = sum(r.opened for r in reports)
    what = "연결, 입장, 환영 메시지까지" if chat else "연결을 여는 데까지"
    say(
        f"연결 {number}: {pad(run.label, 10)} {opened:,}명 {seconds(elapsed)} "
        f"({what}, 부하 발생기 CPU 최대 {cpu:.0%})"
    )


def disconnect_all(pool: GeneratorPool, run: ServerRun) -> None:
    """모두 닫고, 서버가 그 소켓을 다 치울 때까지 기다립니다(다음 연결이 정원에
    걸리거나 치우는 일과 겹치지 않게). /proc가 없으면 2초 기다립니다."""
    pool.send_all(DisconnectCommand(run.key))
    pool.collect(timeout=120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = open_sockets(run.server.popen.pid)
        if now is None or run.sockets_idle is None:
            time.sleep(2)
            return
        if now <= run.sockets_idle:
            return
        time.sleep(0.1)
    raise BenchError(f"{run.label}가 60초 안에 닫힌 연결을 치우지 않았습니다.")


def connect_rounds(pool: GeneratorPool, runs: list[ServerRun], clients: int) -> None:
    """연결 시간을 서버마다 CONNECT_ROUNDS번, 번갈아(ABBA) 잽니다.

    마지막에 연결한 것은 닫지 않고 부하 측정에 씁니다.
    """
    plan = [
        (number, run)
        for number in range(1, CONNECT_ROUNDS + 1)
        for run in (runs if number % 4 in (1, 0) else runs[::-1])
    ]
    for number, run in plan:
        connect_all(pool, run, clients, number)
        if number < CONNECT_ROUNDS:
            disconnect_all(pool, run)


def measure_slice(
    pool: GeneratorPool,
    runs: list[ServerRun],
    run: ServerRun,
    args: argparse.Namespace,
    slice_id: int,
    duration: float,
    drain: float,
) -> SliceResult:
    """토막 하나: 모두 함께 보내기 시작하고, 다 받거나 시간이 다 될 때까지."""
    run.server.check_alive()
    total = math.ceil(round(args.rate * duration, 6))  # 0.1 × 20 같은 값의 오차를 버림
    start_at = time.perf_counter() + START_DELAY
    deadline = start_at + duration + drain
    command = LoadCommand(
        run.key, slice_id, start_at, args.rate, total, args.senders, deadline
    )
    pool.send_all(command)
    pids = [r.server.popen.pid for r in sorted(runs, key=lambda r: r is not run)]
    time.sleep(max(0.0, start_at - time.perf_counter()))
    before = CpuSample.now(pids)
    replies = pool.collect(timeout=duration + drain + 60)
    after = CpuSample.now(pids)
    reports = [r for r in replies if isinstance(r, SliceReport)]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    for report in reports:
        latencies.extend(array("d", report.latencies))
        errors.update(report.errors)
    sent = sum(r.sent for r in reports)
    server_cpu, others = cpu_shares(before, after, sum(r.span.cpu for r in reports))
    return SliceResult(
        slice_id,
        sent,
        sent * args.clients,
        sum(r.received for r in reports),
        sorted(latencies),
        max(duration, max(r.span.end for r in reports) - start_at),
        server_cpu,
        others,
        [r.span.cpu_share for r in reports],
        errors,
        sum(r.closed for r in reports),
    )


def percent(value: float, digits: int = 0) -> str:
    """비율(0~1)을 백분율로. 모르면(nan) "-".

    >>> percent(0.256), percent(0.256, 1), percent(math.nan)
    ('26%', '25.6%', '-')
    """
    return "-" if math.isnan(value) else f"{value:.{digits}%}"


SLICE_COLUMNS = (6, 11, 9, 9, 9, 9, 6, 10, 10)


def slice_header() -> str:
    titles = [
        "토막",
        "서버",
        "전달/초",
        "p50",
        "p95",
        "p99",
        "잃음",
        "서버 CPU",
        "다른 CPU",
    ]
    cells = (pad(t, w) for t, w in zip(titles, SLICE_COLUMNS, strict=True))
    return "".join(cells) + "부하 발생기 CPU 최대(합계)"


def slice_row(number: str, label: str, result: SliceResult) -> str:
    cells = (
        number,
        label,
        f"{result.deliveries:,.0f}",
        seconds(result.p(50)) if result.latencies else "-",
        seconds(result.p(95)) if result.latencies else "-",
        seconds(result.p(99)) if result.latencies else "-",
        f"{result.lost:,}",
        percent(result.server_cpu, 1),
        percent(result.others),
    )
    cpu = result.generator_cpu
    line = "".join(pad(c, w) for c, w in zip(cells, SLICE_COLUMNS, strict=True))
    return line + f"{max(cpu):.0%}({sum(cpu):.0%})"


def run_measurements(
    pool: GeneratorPool, runs: list[ServerRun], args: argparse.Namespace
) -> None:
    for run in runs:
        run.server.wait_ready()
        run.rss_idle = run.server.rss()
        run.sockets_idle = open_sockets(run.server.popen.pid)
    if not pool.clocks_agree():
        raise BenchError(
            "이 운영체제에서는 time.perf_counter()를 프로세스끼리 비교할 수 없어 "
            "종단 간 지연 시간을 잴 수 없습니다."
        )
    connect_rounds(pool, runs, args.clients)
    warmup = min(WARMUP_SECONDS, 2 * args.duration)  # 짧은 시험 실행은 짧게
    say(f"예열: 서버마다 {seconds(warmup)} (입장 알림이 모두 도착할 때까지 기다림)")
    for run in runs:
        measure_slice(pool, runs, run, args, 0, warmup, WARMUP_DRAIN)
    say()
    say(slice_header())
    for number in range(1, args.slices + 1):
        order = runs if number % 4 in (1, 0) else runs[::-1]  # ABBA: 순서 효과 상쇄
        for run in order:
            result = measure_slice(
                pool, runs, run, args, number, args.duration, DRAIN_SECONDS
            )
            run.slices.append(result)
            say(slice_row(f"{number}", run.label, result))
    for run in runs:
        run.rss_loaded = run.server.rss()


# =============================================================================
# 결과 표
# =============================================================================


def pooled(run: ServerRun) -> SliceResult:
    """모든 토막을 합친 결과. 비율 값은 토막 시간으로 가중 평균합니다."""
    slices = run.slices
    elapsed = sum(s.elapsed for s in slices)

    def weighted(values: Iterable[float]) -> float:
        return sum(v * s.elapsed for v, s in zip(values, slices, strict=True)) / elapsed

    errors: Counter[str] = Counter()
    for s in slices:
        errors.update(s.errors)
    return SliceResult(
        0,
        sum(s.sent for s in slices),
        sum(s.expected for s in slices),
        sum(s.received for s in slices),
        sorted(x for s in slices for x in s.latencies),
        elapsed,
        weighted(s.server_cpu for s in slices),
        worst(s.others for s in slices),
        [worst(max(s.generator_cpu) for s in slices)],
        errors,
        max(s.closed for s in slices),
    )


def per_connection(run: ServerRun, clients: int) -> float:
    if run.rss_idle is None or run.rss_loaded is None:
        return math.nan
    return (run.rss_loaded - run.rss_idle) / clients


Metric = Callable[[SliceResult], float]
COMPARED: tuple[tuple[str, Metric, Callable[[float], str]], ...] = (
    ("전달(건/초)", lambda s: s.deliveries, lambda v: f"{v:,.0f}"),
    ("종단 간 지연 p50", lambda s: s.p(50), seconds),
    ("종단 간 지연 p95", lambda s: s.p(95), seconds),
    ("종단 간 지연 p99", lambda s: s.p(99), seconds),
    ("서버 CPU", lambda s: s.server_cpu, lambda v: percent(v, 1)),
)
SUMMARY_COLUMNS = (24, 14, 14, 10)


def summary_row(*cells: str) -> str:
    """요약 표의 한 줄: 항목, 맨 릴레이, 채팅 서버, 비율, 범위."""
    widths = (*SUMMARY_COLUMNS, 0)
    return "".join(pad(c, w) for c, w in zip(cells, widths, strict=False)).rstrip()


def shown(value: float, fmt: Callable[[float], str]) -> str:
    return "-" if math.isnan(value) else fmt(value)


def print_report(runs: list[ServerRun], args: argparse.Namespace) -> None:
    base, chat = runs
    whole = {run.key: pooled(run) for run in runs}
    say()
    say(f"결과: 토막 {args.slices}개를 합친 값입니다. 비율은 채팅 서버 ÷ 맨 릴레이를")
    say("토막마다 낸 값의 중앙값이고, 범위는 그 최솟값~최댓값입니다.")
    header = summary_row("항목", base.label, chat.label, "비율", "범위")
    say(header)
    say("─" * (display_width(header) + 8))
    say(summary_row("보낸 메시지(개)", *(f"{whole[r.key].sent:,}" for r in runs)))
    for title, metric, fmt in COMPARED:
        ratios = [
            metric(c) / metric(b) if metric(b) else math.nan
            for b, c in zip(base.slices, chat.slices, strict=True)
        ]
        values = (shown(metric(whole[r.key]), fmt) for r in runs)
        say(summary_row(title, *values, *ratio_cells(ratios)))
    say(summary_row("잃어버린 메시지(개)", *(f"{whole[r.key].lost:,}" for r in runs)))
    errors = (f"{sum(whole[r.key].errors.values()):,}" for r in runs)
    say(summary_row("error 응답(개)", *errors))
    mib = "{:.1f} MiB".format
    loaded = (shown((r.rss_loaded or math.nan) / 2**20, mib) for r in runs)
    say(summary_row("서버 RSS(측정 끝)", *loaded))
    rss = [per_connection(r, args.clients) for r in runs]
    rss_ratio = rss[1] / rss[0] if rss[0] > 0 else math.nan
    say(
        summary_row(
            "연결당 RSS",
            *(shown(v / 1024, "{:.1f} KiB".format) for v in rss),
            shown(rss_ratio, "{:.2f}배".format),
            "(1회 측정)",
        )
    )
    connect_ratios = [
        c / b for b, c in zip(base.connect_times, chat.connect_times, strict=True)
    ]
    connect_cells = ratio_cells(connect_ratios)
    say(
        summary_row(
            f"연결 시간({args.clients:,}명)",
            *(seconds(percentile(sorted(r.connect_times), 50)) for r in runs),
            *connect_cells,
        )
    )
    others = (percent(whole[r.key].others) for r in runs)
    say(summary_row("다른 프로그램 CPU 최대", *others))
    cpu = (percent(whole[r.key].generator_cpu[0]) for r in runs)
    say(summary_row("부하 발생기 CPU 최대", *cpu))
    say()
    say(
        f"연결 시간 비율(채팅 서버 ÷ 맨 릴레이): {connect_cells[0]} "
        f"(범위 {connect_cells[1]}, 서버마다 {CONNECT_ROUNDS}번 잼; 목표는 2배 이내)"
    )
    for run in runs:
        print_notes(run, whole[run.key])


def print_notes(run: ServerRun, whole: SliceResult) -> None:
    """표 아래의 참고 줄: error 응답, 잃어버린 메시지, 닫힌 연결, 서버의 표준 오류."""
    if whole.errors:
        listed = ", ".join(
            f"{code} {count:,}개" for code, count in whole.errors.items()
        )
        say(
            f"참고: {run.label}가 error로 답했습니다({listed}). 속도 제한이면 "
            "--rate를 낮추거나 이 스크립트의 CHAT_SERVER_ARGS에 서버 옵션을 더하세요."
        )
    if whole.lost:
        say(
            f"참고: {run.label}에서 메시지 {whole.lost:,}건이 보낸 뒤 "
            f"{seconds(DRAIN_SECONDS)} 안에 도착하지 않았습니다."
        )
    if whole.closed:
        say(f"참고: {run.label}와의 연결 {whole.closed:,}개가 측정 중에 닫혔습니다.")
    lines = run.server.stderr_lines()
    if lines:
        say(
            f"참고: {run.label}가 표준 오류에 {len(lines):,}줄을 남겼습니다. "
            f"첫 줄: {printable(lines[0])}"
        )


def saturated_slices(runs: list[ServerRun]) -> list[str]:
    """부하 발생기 프로세스가 포화된 토막(과 1초 넘게 걸린 연결 구간)."""
    found = []
    for run in runs:
        if run.connect_cpu > SATURATED:
            found.append(f"{run.label} 연결 {run.connect_cpu:.0%}")
        for s in run.slices:
            if max(s.generator_cpu) > SATURATED:
                found.append(
                    f"{run.label} 토막 {s.slice_id} {max(s.generator_cpu):.0%}"
                )
    return found


def busy_slices(runs: list[ServerRun]) -> list[str]:
    """다른 프로그램이 CPU를 많이 쓴 토막."""
    return [
        f"{run.label} 토막 {s.slice_id} {s.others:.0%}"
        for run in runs
        for s in run.slices
        if s.others > BUSY
    ]


# =============================================================================
# 실행: 옵션, 정리, 종료 코드
# =============================================================================


def run_bench(args: argparse.Namespace) -> int:
    args.senders = min(args.senders, args.clients)
    args.processes = min(args.processes, args.clients)
    per_process = math.ceil(2 * args.clients / args.processes)  # 서버 두 개에 붙임
    needed = max(args.clients, per_process) + 256
    ok, soft, hard = raise_open_file_limit(needed)
    if not ok:
        print(
            f"열 수 있는 파일(소켓) 수의 한도(지금 {soft:,}개, 하드 한도 {hard:,}개)를 "
            f"{needed:,}개로 올리지 못했습니다. 셸에서 `ulimit -n {needed}`로 올린 뒤 "
            "다시 실행하거나(하드 한도를 넘으면 관리자 권한이 필요합니다) "
            "--clients를 줄이세요.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    rate_limit = max(CHAT_RATE_FLOOR, 2 * args.rate / args.senders)
    started = time.perf_counter()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    say("03 채팅 서버 부하 측정: 채팅 서버와 맨 broadcast() 릴레이")
    say(
        f"  클라이언트 {args.clients:,}명(서버마다), 보내는 사람 {args.senders}명, "
        f"합계 초당 {args.rate:g}개, 메시지 약 {MESSAGE_BYTES}바이트, 압축 끔"
    )
    say(
        f"  토막 {args.slices}개 × 서버마다 {seconds(args.duration)}, 부하 발생기 "
        f"프로세스 {args.processes}개, CPU {os.cpu_count()}개, 부하 평균 "
        + (" / ".join(f"{x:.2f}" for x in load) if load else "-")
    )
    chat_port, relay_port = free_port(), free_port()
    chat_line = chat_command(chat_port, args.clients, rate_limit)
    say(f"  채팅 서버: python {' '.join([LESSON.name, *chat_line[2:]])}")
    say()
    pool: GeneratorPool | None = None
    runs: list[ServerRun] = []
    try:
        pool = GeneratorPool(args.processes)
        relay = ServerProcess("맨 릴레이", relay_command(relay_port), relay_port)
        runs.append(ServerRun("relay", relay.label, relay))
        chat = ServerProcess("채팅 서버", chat_line, chat_port)
        runs.append(ServerRun("chat", chat.label, chat))
        pool.watched = [relay, chat]
        run_measurements(pool, runs, args)
    except (BenchError, OSError) as exc:
        print(f"\n측정하지 못했습니다. {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        stop_everything(runs, pool)
    print_report(runs, args)
    return conclude(runs, time.perf_counter() - started)


def conclude(runs: list[ServerRun], elapsed: float) -> int:
    """측정이 유효한지 한 줄로 말하고 종료 코드를 돌려줍니다."""
    busy = busy_slices(runs)
    if busy:
        say(
            f"주의: 다른 프로그램이 한 코어의 {BUSY:.0%}를 넘게 썼습니다"
            f"({', '.join(busy)}). 그 토막의 숫자에는 CPU를 나눠 쓴 영향이 섞여 "
            "있습니다. 컴퓨터가 한가할 때 다시 재 보세요."
        )
    saturated = saturated_slices(runs)
    if saturated:
        say(
            f"무효: 부하 발생기 프로세스가 한 코어의 {SATURATED:.0%}를 넘게 썼습니다"
            f"({', '.join(saturated)}). 이 숫자는 서버가 아니라 부하 발생기를 잰 "
            "것입니다. --processes를 늘리거나, --clients나 --rate를 줄이거나, "
            "컴퓨터가 한가할 때 다시 실행하세요."
        )
        return EXIT_INVALID
    highest = max(max(s.generator_cpu) for run in runs for s in run.slices)
    say(
        f"유효: 모든 토막에서 부하 발생기 프로세스가 한 코어의 {SATURATED:.0%} "
        f"아래였습니다(최대 {highest:.0%}). 측정에 {seconds(elapsed)} 걸렸습니다."
    )
    return 0


def stop_everything(runs: list[ServerRun], pool: GeneratorPool | None) -> None:
    """서버를 먼저(1001로 닫게) 멈추고, 그다음 부하 발생기를 끝냅니다."""
    with signals_ignored(signal.SIGINT, signal.SIGTERM):
        for run in runs:
            run.server.terminate()
        for run in runs:
            run.server.wait_or_kill()
        if pool is not None:
            pool.stop()


ARGPARSE_KOREAN = (  # argparse의 영어 오류 문구 → 한국어
    (r"unrecognized arguments: (.+)", r"알 수 없는 인자: \1"),
    (r"expected one argument", "값이 하나 필요합니다"),
    (r"^argument (\S+): ", r"\1: "),
)


class KoreanArgumentParser(argparse.ArgumentParser):
    """도움말과 오류를 한국어로 보여 주는 ArgumentParser."""

    def __init__(self, prog: str, description: str, epilog: str) -> None:
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog,
            add_help=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
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
        self.exit(EXIT_USAGE, f"오류: {message}\n도움말: {self.prog} --help\n")


def positive(
    kind: Callable[[str], float], most: float = math.inf
) -> Callable[[str], float]:
    """0보다 크고 most 이하인 유한한 수만 받는 argparse 타입(kind는 int 또는 float).

    >>> positive(int)("3"), positive(float)("0.5")
    (3, 0.5)
    >>> positive(int)("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '0': 0보다 큰 수여야 합니다
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
            raise argparse.ArgumentTypeError(f"'{value}': 0보다 큰 수여야 합니다")
        if number > most:
            raise argparse.ArgumentTypeError(f"'{value}': {most:g} 이하여야 합니다")
        return number

    return check


def build_parser() -> KoreanArgumentParser:
    parser = KoreanArgumentParser(
        prog=PROG,
        description=(
            "03 채팅 서버와 맨 broadcast() 릴레이에 같은 부하를 걸어 번갈아 재고,\n"
            "채팅 서버 ÷ 릴레이 비율을 토막 사이의 범위와 함께 보여 줍니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                               # 1,000명, 초당 20개\n"
            f"  {PROG} --clients 200 --duration 1    # 짧게\n"
            f"  {PROG} --processes 6                 # 부하 발생기를 더 나눔\n\n"
            "종료 코드: 0 마침, 1 측정하지 못함, 2 잘못된 옵션,\n"
            "           3 무효(부하 발생기 포화), 130 Ctrl+C, 143 SIGTERM"
        ),
    )
    options: tuple[tuple[str, Callable[[str], float], float, str], ...] = (
        ("--clients", positive(int, 20000), 1000, "서버마다 붙일 클라이언트 수"),
        ("--senders", positive(int), 20, "그중 보내는 사람 수"),
        ("--rate", positive(float, 10000), 20, "모두 합친 초당 메시지 수"),
        ("--duration", positive(float, 600), 2, "토막 하나에서 서버마다 재는 시간(초)"),
        ("--slices", positive(int, 100), 6, "두 서버를 번갈아 재는 토막 수"),
        ("--processes", positive(int, 64), 4, "부하 발생기 프로세스 수"),
    )
    for flag, kind, default, text in options:
        parser.add_argument(
            flag, type=kind, default=default, help=f"{text} (기본: {default:g})"
        )
    parser.add_argument(  # 이 스크립트가 맨 릴레이를 띄울 때만 씁니다
        "--baseline-server", type=int, metavar="PORT", help=argparse.SUPPRESS
    )
    return parser


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.baseline_server is not None:
        return run_baseline_server(args.baseline_server)
    signal.signal(signal.SIGTERM, raise_interrupted)  # 정리(finally)를 거쳐 끝나게
    try:
        return run_bench(args)
    except (KeyboardInterrupt, Interrupted) as exc:
        print("\n중단했습니다. 서버와 부하 발생기를 모두 멈췄습니다.", file=sys.stderr)
        return 128 + exc.args[0] if isinstance(exc, Interrupted) else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
