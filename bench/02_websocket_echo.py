"""02 WebSocket 서버 측정: 에코 왕복과 팬아웃(broadcast() 대 gather(send))

무엇을 재는가
    1) 에코 왕복: 02_websocket_basics.py의 server 모드(등록부, 경로, 검사, 기록을
       하는 레슨 서버)와, 가장 단순한 에코 핸들러
           async for message in websocket: await websocket.send(message)
       만 가진 맨 에코 서버를 비교합니다. 클라이언트 N개가 100바이트 메시지를
       보내고 답을 받기를 쉬지 않고 되풀이합니다(닫힌 고리). 잰 값은 초당 왕복 수와
       왕복 시간의 p50/p95/p99, 서버 CPU입니다. 두 서버 모두 압축(permessage-deflate),
       max_size, ping 설정이 같습니다.
    2) 팬아웃: 02의 4절이 말하는 "broadcast()는 gather(send)보다 전달 한 건이 싸다"를
       잽니다. 방(연결 N개)에 메시지를 일정한 빠르기(--rate)로 보내며, 보내는 코드
       (broadcast() 한 번, 또는 await gather(send ...) 한 번)에 쓴 시간을 전달 수로
       나눕니다. 보내는 코드는 일부러 이 스크립트 프로세스 안에서 재고(그것이 재려는
       대상), 받는 클라이언트는 다른 프로세스에 둡니다. 02의 /broadcast처럼 압축
       (deflate)을 켜므로, 전달 한 건의 비용에는 연결마다 하는 압축도 들어 있습니다.
       전달 지연은 보낸 시각(메시지 안에 적음)부터 클라이언트가 읽을 때까지입니다.

측정 방법
    - 레슨 서버는 레슨 파일을 그대로 `python 02_websocket_basics.py server`로,
      맨 에코 서버는 이 스크립트가 숨은 옵션 --baseline-server로 자신을 다시 실행해
      띄웁니다. 둘 다 별도 프로세스이고, 서버 CPU(한 코어의 비율)는 리눅스
      /proc/PID/task/*/schedstat(없으면 /proc/PID/stat)에서 읽습니다. 다른
      운영체제에서는 "-"로 보입니다.
    - 클라이언트는 부하 발생기(load generator) 프로세스 여러 개(--processes)에 나눠
      맡깁니다. 토막마다 각 부하 발생기 프로세스의 CPU를 재고, 어느 하나라도 한
      코어의 80%를 넘으면 그 실행을 무효로 표시합니다(종료 코드 3). 부하 발생기는
      gc.freeze()와 gc.disable()로 순환 참조 수집기의 멈춤을 없앱니다.
    - 측정 시간을 토막(--slices)으로 나눠 두 서버(팬아웃은 두 방식)를 ABBA 순서로
      번갈아 잽니다. 다른 프로그램이 잠깐 CPU를 써도 한쪽만 손해 보지 않게 하려는
      것입니다. 재기 전에 같은 부하로 예열합니다.
    - "다른 CPU"는 그 토막에 이 측정과 상관없는 프로그램이 쓴 CPU입니다(리눅스
      /proc/stat의 전체 사용량에서 서버, 부하 발생기, 이 스크립트를 뺀 값). 한 코어의
      25%를 넘은 토막은 끝에 "주의"로 알립니다.

숫자 읽는 법
    "비율"은 레슨 서버 ÷ 맨 에코 서버(팬아웃은 broadcast() ÷ gather(send))를 토막마다
    낸 값의 중앙값이고, "범위"는 그 최솟값~최댓값입니다. 범위가 1을 넘나들면 그
    차이는 측정의 흔들림 안에 있습니다. 짧은 실행 한 번으로 합격·불합격을 판정하지
    않습니다. 에코는 닫힌 고리라 서버와 부하 발생기가 CPU를 나눠 씁니다: 2코어
    컴퓨터에서는 왕복/초가 컴퓨터 전체의 한계이고, 비율이 서버 코드의 차이입니다.

실행 방법
    python bench/02_websocket_echo.py                  # 기본값(약 30초)
    python bench/02_websocket_echo.py --clients 100 --duration 3
    python bench/02_websocket_echo.py --processes 6    # 부하 발생기가 포화되면
    python bench/02_websocket_echo.py --help

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
LESSON = ROOT / "02_websocket_basics.py"  # 잴 레슨 서버(server 모드로 띄움)
PROG = "python bench/02_websocket_echo.py"  # 도움말에 보이는 실행 명령
HOST = "127.0.0.1"  # 루프백: 서버와 부하 발생기가 같은 컴퓨터
ECHO_PATH = "/echo"  # 레슨 서버의 에코 경로(맨 에코 서버는 경로를 보지 않음)
COMPRESSION = "deflate"  # 아래 다섯 값은 02의 serve() 설정과 같게 맞춥니다
MAX_SIZE = 64 * 1024  # 받는 메시지 하나의 상한(바이트)
OPEN_TIMEOUT = 10.0  # 핸드셰이크 시간제한(초)
PING_INTERVAL = 20.0  # 하트비트 ping 간격(초)
PING_TIMEOUT = 20.0  # pong 시간제한(초)
CLOSE_TIMEOUT = 3.0  # 닫기 핸드셰이크 시간제한(초)
MESSAGE = "x" * 100  # 에코 메시지(100바이트)
FANOUT_BYTES = 100  # 팬아웃 메시지의 크기(바이트, 안팎)
CONNECT_CONCURRENCY = 100  # 모든 부하 발생기를 합쳐 동시에 진행하는 연결 수
SATURATED = 0.80  # 부하 발생기 프로세스 하나가 이만큼(코어 비율) 넘게 쓰면 무효
BUSY = 0.25  # 다른 프로그램이 토막 동안 한 코어의 이만큼 넘게 쓰면 '바쁜 컴퓨터'로 알림
START_DELAY = 0.3  # 명령을 보낸 뒤 모두 함께 시작하기까지(초)
DRAIN_SECONDS = 10.0  # 팬아웃: 보내기를 마친 뒤 늦은 메시지를 기다리는 시간(초)
WARMUP_SECONDS = 0.5  # 재기 전에 서버마다 같은 부하로 예열하는 시간(초)
POLL = 0.005  # 토막의 끝을 확인하는 간격(초)
SERVER_START_TIMEOUT = 30.0  # 서버가 포트를 열기까지 기다리는 시간(초)
EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_INTERRUPTED = 1, 2, 3, 130  # 종료 코드

STAMP = re.compile(r"f(\d+)\.\d+ (\d+\.\d+) ")  # 팬아웃 메시지: 토막, 보낸 시각
STRATEGIES = {"broadcast": "broadcast()", "gather": "gather(send)"}  # 팬아웃 방식


def seconds(value: float) -> str:
    """걸린 시간을 사람이 읽기 좋게: 1ms 미만은 μs, 1초 미만은 ms, 그 이상은 초.

    >>> seconds(0.000042), seconds(0.0123), seconds(1.5)
    ('42μs', '12.3ms', '1.50초')
    """
    if value < 0.001:
        return f"{value * 1_000_000:.0f}μs"
    return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}초"


def microseconds(value: float) -> str:
    """전달 한 건의 비용처럼 작은 시간: μs, 소수 한 자리.

    >>> microseconds(0.0000051)
    '5.1μs'
    """
    return f"{value * 1_000_000:.1f}μs"


def display_width(text: str) -> int:
    """터미널에서 차지하는 칸 수(한글 등 전각 문자는 2칸).

    >>> display_width("레슨 서버"), display_width("p99")
    (9, 3)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """전각 문자를 고려해 왼쪽 정렬합니다. 뒤에는 적어도 두 칸을 띄웁니다.

    >>> pad("서버", 6) + "|", pad("1,234,567", 6) + "|"
    ('서버  |', '1,234,567  |')
    """
    return text + " " * max(2, width - display_width(text))


def table_row(cells: Iterable[str], widths: Iterable[int]) -> str:
    """표의 한 줄. 마지막 칸은 폭 없이 그대로 붙입니다."""
    return "".join(pad(c, w) for c, w in zip(cells, widths, strict=False)).rstrip()


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


def percent(value: float, digits: int = 0) -> str:
    """비율(0~1)을 백분율로. 모르면(nan) "-".

    >>> percent(0.256), percent(0.256, 1), percent(math.nan)
    ('26%', '25.6%', '-')
    """
    return "-" if math.isnan(value) else f"{value:.{digits}%}"


def worst(values: Iterable[float]) -> float:
    """nan(모름)을 뺀 최댓값. 모두 모르면 nan.

    >>> worst([0.1, math.nan, 0.3]), worst([math.nan])
    (0.3, nan)
    """
    known = [v for v in values if not math.isnan(v)]
    return max(known) if known else math.nan


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


def printable(text: str) -> str:
    """이 터미널의 인코딩(예: cp949)으로 못 쓰는 글자는 ?로 바꿉니다."""
    encoding = sys.stdout.encoding or "utf-8"
    return text.encode(encoding, errors="replace").decode(encoding)


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
        return f"ws://{HOST}:{self.port}{ECHO_PATH}"

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


def lesson_command(port: int, clients: int) -> list[str]:
    """레슨 서버: 레슨 파일의 server 모드. 정원만 클라이언트 수에 맞춰 넓힙니다."""
    capacity = ["--max-clients", str(clients + 10)]
    return [sys.executable, str(LESSON), "server", "--port", str(port), *capacity]


def baseline_command(port: int, clients: int) -> list[str]:
    """맨 에코 서버: 이 스크립트를 --baseline-server로 다시 실행합니다(정원 없음)."""
    del clients  # lesson_command와 모양을 맞춘 인자: 맨 서버는 연결 수를 세지 않습니다
    script = str(Path(__file__).resolve())
    return [sys.executable, script, "--baseline-server", str(port)]


# =============================================================================
# 맨 에코 서버(비교 기준)와 팬아웃 방식
# =============================================================================


async def bare_echo(websocket: ServerConnection) -> None:
    """비교 기준: 가장 단순한 에코 핸들러(검사도, 기록도, 등록부도 없음)."""
    with contextlib.suppress(ConnectionClosed):  # 트레이스백 기록만 막습니다
        async for message in websocket:
            await websocket.send(message)


async def echo_until_stopped(port: int) -> None:
    """--baseline-server: SIGTERM이나 Ctrl+C가 올 때까지 맨 에코 서버를 돌립니다."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt로
            loop.add_signal_handler(sig, stop.set)
    async with serve(
        bare_echo,
        HOST,
        port,
        compression=COMPRESSION,
        max_size=MAX_SIZE,
        open_timeout=OPEN_TIMEOUT,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
    ):
        await stop.wait()


def run_baseline_server(port: int) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(echo_until_stopped(port))
    return 0


async def fan_out(strategy: str, room: Iterable[ServerConnection], text: str) -> None:
    """02의 4절과 같은 두 방식: broadcast()는 기다리지 않고, gather는 모두 기다림."""
    if strategy == "broadcast":
        broadcast(room, text)
    else:
        sends = (websocket.send(text) for websocket in room)
        await asyncio.gather(*sends, return_exceptions=True)


def fanout_text(slice_id: int, n: int) -> str:
    """팬아웃 메시지: 토막 번호, 순번, 보낸 시각, 채움 글자.

    >>> len(fanout_text(3, 7))
    100
    """
    head = f"f{slice_id}.{n} {time.perf_counter():.6f} "
    return head + "x" * max(0, FANOUT_BYTES - len(head))


# =============================================================================
# 부하 발생기 프로세스: 명령을 받아 연결하고, 주고받고, 받은 것을 셉니다
# =============================================================================
# 부모(이 스크립트)와 부하 발생기는 multiprocessing 파이프로 아래 명령과 보고를
# 주고받습니다. 클라이언트 i번은 i % P번 프로세스가 맡습니다(P = --processes).


@dataclass
class ClockCommand:
    """시계 확인: 지금의 perf_counter()를 돌려 달라."""


@dataclass
class ConnectCommand:
    key: str  # 연결 묶음의 이름(lesson, bare, fanout)
    uri: str
    clients: int  # 모든 프로세스를 합친 수
    concurrency: int  # 이 프로세스가 동시에 진행하는 연결 수
    read: bool = False  # True면 읽기 태스크를 붙임(팬아웃). 에코는 직접 받습니다


@dataclass
class EchoCommand:
    key: str
    start_at: float  # perf_counter() 시각
    duration: float


@dataclass
class FanoutCommand:
    slice_id: int
    messages: int  # 부모가 방에 보낼 메시지 수
    deadline: float  # 이 시각까지 안 온 메시지는 잃어버린 것


@dataclass
class QuitCommand:
    """연결을 모두 끊고 끝내라."""


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
class ClockReport:
    now: float


@dataclass
class ConnectReport:
    opened: int


@dataclass
class Report:
    """토막 하나의 보고: 에코면 왕복 수와 왕복 시간, 팬아웃이면 받은 수와 지연."""

    count: int
    latencies: bytes  # array("d"), 초
    span: Span


@dataclass
class Failure:
    text: str  # 한국어 한 문장


@dataclass
class Group:
    """서버 하나에 붙인 이 프로세스의 연결들과, 팬아웃이면 토막마다 받은 것."""

    connections: list[ClientConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    received: dict[int, int] = field(default_factory=dict)  # 토막 → 받은 수
    closed: int = 0  # 닫힌 연결 수
    latencies: dict[int, array[float]] = field(default_factory=dict)


async def sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def read_fanout(websocket: ClientConnection, group: Group) -> None:
    """팬아웃 메시지마다 지연 시간(보낸 시각부터)을 토막별로 적습니다."""
    try:
        async for frame in websocket:
            now = time.perf_counter()
            stamp = STAMP.match(frame) if isinstance(frame, str) else None
            if stamp is not None:
                slice_id = int(stamp[1])
                group.received[slice_id] = group.received.get(slice_id, 0) + 1
                latencies = group.latencies.setdefault(slice_id, array("d"))
                latencies.append(now - float(stamp[2]))
    except ConnectionClosed:
        pass
    finally:
        group.closed += 1


def describe_failure(exc: BaseException) -> str:
    """연결이 실패한 까닭을 한국어 한 문장으로."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        full = " (정원 초과: --clients를 줄이세요)" if status == 503 else ""
        return f"서버가 핸드셰이크를 HTTP {status}로 거절했습니다{full}"
    if isinstance(exc, InvalidHandshake):
        return f"핸드셰이크가 실패했습니다({exc})"
    if isinstance(exc, TimeoutError):
        return "시간 안에 연결하지 못했습니다: 컴퓨터가 너무 바쁩니다"
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd else 1006
        return f"서버가 연결을 닫았습니다(종료 코드 {code})"
    if isinstance(exc, OSError) and exc.errno == getattr(os, "EMFILE", 24):
        return "열 수 있는 파일(소켓) 수의 한도에 걸렸습니다: ulimit -n을 올리세요"
    return f"연결하지 못했습니다({exc})"


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
                case EchoCommand():
                    return await self.echo(command)
                case FanoutCommand():
                    return await self.fanout(command)
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            return Failure(describe_failure(exc))
        raise AssertionError(f"모르는 명령: {command!r}")

    async def connect(self, command: ConnectCommand) -> ConnectReport:
        group = self.groups[command.key] = Group()
        gate = asyncio.Semaphore(command.concurrency)

        async def open_one() -> None:
            async with gate:
                websocket = await connect(
                    command.uri, compression=COMPRESSION, ping_interval=None
                )
            group.connections.append(websocket)  # 실패해도 close()가 닫습니다
            if command.read:
                group.readers.append(asyncio.create_task(read_fanout(websocket, group)))

        mine = len(range(self.index, command.clients, self.count))
        opening = [asyncio.create_task(open_one()) for _ in range(mine)]
        try:
            await asyncio.gather(*opening)
        finally:  # 하나가 실패하면 나머지 연결 시도도 멈춥니다
            for task in opening:
                task.cancel()
            await asyncio.gather(*opening, return_exceptions=True)
        return ConnectReport(len(group.connections))

    async def echo(self, command: EchoCommand) -> Report:
        """닫힌 고리: 연결마다 보내고 답을 받기를 마감까지 되풀이합니다."""
        group = self.groups[command.key]
        latencies: array[float] = array("d")
        deadline = command.start_at + command.duration

        async def ping_pong(websocket: ClientConnection) -> None:
            while (sent := time.perf_counter()) < deadline:
                await websocket.send(MESSAGE)
                await websocket.recv()
                latencies.append(time.perf_counter() - sent)

        await sleep_until(command.start_at)
        span = Span.begin()
        await asyncio.gather(*(ping_pong(ws) for ws in group.connections))
        return Report(len(latencies), latencies.tobytes(), span.finish())

    async def fanout(self, command: FanoutCommand) -> Report:
        """부모가 방에 보내는 메시지가 모든 연결에 닿을 때까지(또는 마감까지)."""
        group = self.groups["fanout"]
        span = Span.begin()
        expected = command.messages * len(group.connections)
        # 읽기 태스크 수십 개가 바꾸는 값이라 Event로 깨우기보다 가끔 보는 편이 쌉니다.
        # 닫힌 연결이 있으면 나머지는 더 오지 않으므로 기다리지 않습니다.
        while group.received.get(command.slice_id, 0) < expected and not group.closed:
            if time.perf_counter() > command.deadline:
                break
            await asyncio.sleep(POLL)
        latencies = group.latencies.pop(command.slice_id, array("d"))
        count = group.received.pop(command.slice_id, 0)
        for old in [key for key in group.received if key < command.slice_id]:
            del group.received[old]  # 늦게 온 지난 토막의 메시지는 버립니다
            group.latencies.pop(old, None)
        return Report(count, latencies.tobytes(), span.finish())

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

    def send_all(self, command: object) -> None:
        for pipe in self.pipes:
            pipe.send(command)

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

    def ready(self) -> bool:
        """모든 프로세스의 답이 도착했는가(기다리지 않고 봄)."""
        self.check_alive()
        return all(pipe.poll() for pipe in self.pipes)

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

    async def collect_async(self, limit: float) -> list[object]:
        """collect()와 같되, 기다리는 동안 이 프로세스의 이벤트 루프를 막지 않습니다.

        파이프는 await할 수 없어서 가끔 들여다봅니다.
        """
        deadline = time.monotonic() + limit
        while not self.ready():
            if time.monotonic() > deadline:
                raise BenchError(f"부하 발생기가 {limit:.0f}초 안에 답하지 않았습니다.")
            await asyncio.sleep(0.01)
        return self.collect(timeout=1)

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
# 측정 1: 에코 왕복
# =============================================================================


@dataclass
class Measured:
    """토막 하나의 결과(에코: 서버 하나, 팬아웃: 방식 하나)."""

    slice_id: int
    count: int  # 에코: 왕복 수, 팬아웃: 받은 전달 수
    latencies: list[float]  # 정렬됨(초). 에코: 왕복 시간, 팬아웃: 전달 지연
    elapsed: float  # 토막의 길이(초)
    server_cpu: float  # 잰 서버의 CPU(한 코어의 비율, 모르면 nan)
    others: float  # 다른 프로그램의 CPU(한 코어의 비율, 모르면 nan)
    generator_cpu: list[float]  # 부하 발생기 프로세스마다(한 코어의 비율)
    sent: int = 0  # 팬아웃: 방에 보낸 메시지 수
    expected: int = 0  # 팬아웃: 보낸 수 × 방의 연결 수
    cost: float = 0.0  # 팬아웃: 보내는 코드에 쓴 시간의 합(초)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.count)

    @property
    def cost_per_delivery(self) -> float:
        return self.cost / self.expected if self.expected else math.nan

    def p(self, rank: float) -> float:
        return percentile(self.latencies, rank)


def measured(
    slice_id: int,
    replies: list[object],
    elapsed: float,
    cpu: tuple[CpuSample, CpuSample],
) -> Measured:
    """부하 발생기들의 보고와 CPU 표본 두 개로 토막 하나의 결과를 만듭니다."""
    reports = [r for r in replies if isinstance(r, Report)]
    latencies: list[float] = []
    for report in reports:
        latencies.extend(array("d", report.latencies))
    server_cpu, others = cpu_shares(*cpu, sum(r.span.cpu for r in reports))
    return Measured(
        slice_id,
        sum(r.count for r in reports),
        sorted(latencies),
        elapsed,
        server_cpu,
        others,
        [r.span.cpu_share for r in reports],
    )


def pooled(slices: list[Measured]) -> Measured:
    """모든 토막을 합친 결과. CPU는 토막 시간으로 가중 평균합니다."""
    elapsed = sum(s.elapsed for s in slices)
    server_cpu = sum(s.server_cpu * s.elapsed for s in slices) / elapsed
    return Measured(
        0,
        sum(s.count for s in slices),
        sorted(x for s in slices for x in s.latencies),
        elapsed,
        server_cpu,
        worst(s.others for s in slices),
        [worst(max(s.generator_cpu) for s in slices)],
        sum(s.sent for s in slices),
        sum(s.expected for s in slices),
        sum(s.cost for s in slices),
    )


@dataclass
class EchoRun:
    key: str
    label: str
    server: ServerProcess
    slices: list[Measured] = field(default_factory=list)


def echo_slice(
    pool: GeneratorPool, runs: list[EchoRun], run: EchoRun, number: int, duration: float
) -> Measured:
    """토막 하나: 모든 부하 발생기가 같은 시각에 시작해 duration초 동안 주고받습니다."""
    run.server.check_alive()
    start_at = time.perf_counter() + START_DELAY
    pool.send_all(EchoCommand(run.key, start_at, duration))
    pids = [r.server.popen.pid for r in sorted(runs, key=lambda r: r is not run)]
    time.sleep(max(0.0, start_at - time.perf_counter()))
    before = CpuSample.now(pids)
    replies = pool.collect(timeout=duration + 60)
    after = CpuSample.now(pids)
    ends = [r.span.end for r in replies if isinstance(r, Report)]
    return measured(number, replies, max(ends) - start_at, (before, after))


SLICE_COLUMNS = (6, 14, 11, 9, 9, 9, 10, 10)
LAST_COLUMN = "부하 발생기 CPU 최대(합계)"


def slice_row(cells: Iterable[str]) -> str:
    return table_row(cells, (*SLICE_COLUMNS, 0))


def generator_cell(result: Measured) -> str:
    cpu = result.generator_cpu
    return f"{max(cpu):.0%}({sum(cpu):.0%})"


def echo_slice_row(label: str, result: Measured) -> str:
    return slice_row(
        (
            str(result.slice_id),
            label,
            f"{result.per_second:,.0f}",
            seconds(result.p(50)),
            seconds(result.p(95)),
            seconds(result.p(99)),
            percent(result.server_cpu, 1),
            percent(result.others),
            generator_cell(result),
        )
    )


def run_echo(
    pool: GeneratorPool, runs: list[EchoRun], args: argparse.Namespace
) -> None:
    """에코 왕복: 연결하고, 예열하고, 두 서버를 토막마다 번갈아 잽니다."""
    per_process = max(1, CONNECT_CONCURRENCY // len(pool))
    for run in runs:
        run.server.wait_ready()
        command = ConnectCommand(run.key, run.server.uri, args.clients, per_process)
        pool.send_all(command)
        pool.collect(timeout=120)
    for run in runs:  # 예열: 첫 토막만 불리하지 않게
        echo_slice(pool, runs, run, 0, min(WARMUP_SECONDS, args.duration))
    titles = ("토막", "서버", "왕복/초", "p50", "p95", "p99", "서버 CPU", "다른 CPU")
    say(slice_row((*titles, LAST_COLUMN)))
    for number in range(1, args.slices + 1):
        order = runs if number % 4 in (1, 0) else runs[::-1]  # ABBA: 순서 효과 상쇄
        for run in order:
            result = echo_slice(pool, runs, run, number, args.duration)
            run.slices.append(result)
            say(echo_slice_row(run.label, result))


SUMMARY_COLUMNS = (24, 16, 16, 10)
Metric = Callable[[Measured], float]
ECHO_COMPARED: tuple[tuple[str, Metric, Callable[[float], str]], ...] = (
    ("왕복/초", lambda s: s.per_second, lambda v: f"{v:,.0f}"),
    ("왕복 시간 p50", lambda s: s.p(50), seconds),
    ("왕복 시간 p95", lambda s: s.p(95), seconds),
    ("왕복 시간 p99", lambda s: s.p(99), seconds),
    ("서버 CPU", lambda s: s.server_cpu, lambda v: percent(v, 1)),
)
FANOUT_COMPARED: tuple[tuple[str, Metric, Callable[[float], str]], ...] = (
    ("전달당 송신 비용", lambda s: s.cost_per_delivery, microseconds),
    ("전달 지연 p50", lambda s: s.p(50), seconds),
    ("전달 지연 p99", lambda s: s.p(99), seconds),
)


def summary_row(*cells: str) -> str:
    return table_row(cells, (*SUMMARY_COLUMNS, 0))


def print_summary(
    title: str,
    labels: tuple[str, str],
    slices: tuple[list[Measured], list[Measured]],
    compared: Iterable[tuple[str, Metric, Callable[[float], str]]],
) -> None:
    """요약 표: 기준과 비교 대상의 합친 값, 토막마다 낸 비율(대상 ÷ 기준)."""
    base, subject = slices
    whole = [pooled(base), pooled(subject)]
    say()
    say(f"{title}: 모든 토막을 합친 값. 비율은 {labels[1]} ÷ {labels[0]}를")
    say("토막마다 낸 값의 중앙값이고, 범위는 그 최솟값~최댓값입니다.")
    header = summary_row("항목", *labels, "비율", "범위")
    say(header)
    say("─" * (display_width(header) + 8))
    for name, metric, fmt in compared:
        ratios = [
            metric(s) / metric(b) if metric(b) else math.nan
            for b, s in zip(base, subject, strict=True)
        ]
        values = ("-" if math.isnan(v) else fmt(v) for v in map(metric, whole))
        say(summary_row(name, *values, *ratio_cells(ratios)))
    if whole[0].sent:  # 팬아웃: 보낸 것과 잃어버린 것
        say(summary_row("보낸 메시지(개)", *(f"{w.sent:,}" for w in whole)))
        say(summary_row("잃어버린 전달(건)", *(f"{w.lost:,}" for w in whole)))
    say(summary_row("다른 프로그램 CPU 최대", *(percent(w.others) for w in whole)))
    cpu = (percent(w.generator_cpu[0]) for w in whole)
    say(summary_row("부하 발생기 CPU 최대", *cpu))


# =============================================================================
# 측정 2: 팬아웃 비용, broadcast() 대 gather(send)
# =============================================================================


async def send_paced(
    strategy: str, room: set[ServerConnection], slice_id: int, args: argparse.Namespace
) -> float:
    """초당 args.rate개로 방에 보냅니다. 보내는 코드에 쓴 시간만 더해 돌려줍니다."""
    cost = 0.0
    start = time.perf_counter()
    for n in range(args.messages):
        await sleep_until(start + n / args.rate)
        text = fanout_text(slice_id, n)
        before = time.perf_counter()
        await fan_out(strategy, room, text)
        cost += time.perf_counter() - before
    return cost


async def fanout_slice(
    pool: GeneratorPool,
    pids: list[int],
    room: set[ServerConnection],
    strategy: str,
    number: int,
    args: argparse.Namespace,
) -> Measured:
    """토막 하나: 방식 하나로 메시지를 보내고, 모두 받을 때까지 기다립니다."""
    slice_id = 2 * number + (strategy == "gather")  # 방식마다 다른 번호
    duration = args.messages / args.rate
    before = CpuSample.now(pids)
    pool.send_all(
        FanoutCommand(slice_id, args.messages, before.at + duration + DRAIN_SECONDS)
    )
    cost = await send_paced(strategy, room, slice_id, args)
    replies = await pool.collect_async(limit=duration + DRAIN_SECONDS + 60)
    after = CpuSample.now(pids)
    result = measured(number, replies, after.at - before.at, (before, after))
    result.sent, result.cost = args.messages, cost
    result.expected = args.messages * len(room)
    return result


FANOUT_COLUMNS = (6, 14, 11, 9, 9, 6, 10)


def fanout_row(cells: Iterable[str]) -> str:
    return table_row(cells, (*FANOUT_COLUMNS, 0))


def fanout_slice_row(label: str, result: Measured) -> str:
    return fanout_row(
        (
            str(result.slice_id),
            label,
            microseconds(result.cost_per_delivery),
            seconds(result.p(50)),
            seconds(result.p(99)),
            f"{result.lost:,}",
            percent(result.others),
            generator_cell(result),
        )
    )


async def run_fanout(
    pool: GeneratorPool, pids: list[int], args: argparse.Namespace
) -> dict[str, list[Measured]]:
    """이 프로세스에 방(서버)을 열고, 다른 프로세스의 클라이언트에게 보냅니다."""
    room: set[ServerConnection] = set()

    async def member(websocket: ServerConnection) -> None:
        room.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            room.discard(websocket)

    results: dict[str, list[Measured]] = {key: [] for key in STRATEGIES}
    async with serve(
        member,
        HOST,
        0,
        compression=COMPRESSION,
        max_size=MAX_SIZE,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
    ) as server:
        uri = f"ws://{HOST}:{server.sockets[0].getsockname()[1]}/"
        per_process = max(1, CONNECT_CONCURRENCY // len(pool))
        command = ConnectCommand("fanout", uri, args.clients, per_process, read=True)
        pool.send_all(command)
        await pool.collect_async(limit=120)
        async with asyncio.timeout(30):
            while len(room) < args.clients:  # noqa: ASYNC110  핸들러가 바꾸는 값
                await asyncio.sleep(0.01)
        titles = ("토막", "방식", "송신 비용", "p50", "p99", "잃음", "다른 CPU")
        say(fanout_row((*titles, LAST_COLUMN)))
        keys = list(STRATEGIES)
        for number in range(0, args.slices + 1):  # 0번은 예열(표에 넣지 않음)
            order = keys if number % 4 in (1, 0) else keys[::-1]  # ABBA
            for key in order:
                result = await fanout_slice(pool, pids, room, key, number, args)
                if number:
                    results[key].append(result)
                    say(fanout_slice_row(STRATEGIES[key], result))
        server.close()  # 1001로 닫으면 부하 발생기의 연결도 끝납니다
        await server.wait_closed()
    return results


# =============================================================================
# 실행: 옵션, 정리, 종료 코드
# =============================================================================


def check_generators(
    parts: Iterable[tuple[str, list[Measured]]],
) -> tuple[list[str], list[str], float]:
    """(부하 발생기가 포화된 토막, 다른 프로그램이 CPU를 많이 쓴 토막, 최대 CPU)."""
    saturated, busy, highest = [], [], 0.0
    for name, slices in parts:
        for s in slices:
            cpu = max(s.generator_cpu)
            highest = max(highest, cpu)
            if cpu > SATURATED:
                saturated.append(f"{name} 토막 {s.slice_id} {cpu:.0%}")
            if s.others > BUSY:
                busy.append(f"{name} 토막 {s.slice_id} {s.others:.0%}")
    return saturated, busy, highest


def conclude(
    echo: list[EchoRun], fanout: dict[str, list[Measured]], elapsed: float
) -> int:
    """측정이 유효한지 한 줄로 말하고 종료 코드를 돌려줍니다."""
    parts = [(f"에코 {run.label}", run.slices) for run in echo]
    parts += [(f"팬아웃 {STRATEGIES[key]}", fanout[key]) for key in STRATEGIES]
    saturated, busy, highest = check_generators(parts)
    for run in echo:
        lines = run.server.stderr_lines()
        if lines:
            say(
                f"참고: {run.label}가 표준 오류에 {len(lines):,}줄을 남겼습니다. "
                f"첫 줄: {printable(lines[0])}"
            )
    if busy:
        say(
            f"주의: 다른 프로그램이 한 코어의 {BUSY:.0%}를 넘게 썼습니다"
            f"({', '.join(busy)}). 그 토막의 숫자에는 CPU를 나눠 쓴 영향이 섞여 "
            "있습니다. 컴퓨터가 한가할 때 다시 재 보세요."
        )
    if saturated:
        say(
            f"무효: 부하 발생기 프로세스가 한 코어의 {SATURATED:.0%}를 넘게 썼습니다"
            f"({', '.join(saturated)}). 이 숫자는 서버가 아니라 부하 발생기를 잰 "
            "것입니다. --processes를 늘리거나 --clients를 줄이거나, 컴퓨터가 한가할 "
            "때 다시 실행하세요."
        )
        return EXIT_INVALID
    say(
        f"유효: 모든 토막에서 부하 발생기 프로세스가 한 코어의 {SATURATED:.0%} "
        f"아래였습니다(최대 {highest:.0%}). 측정에 {seconds(elapsed)} 걸렸습니다."
    )
    return 0


def print_header(args: argparse.Namespace) -> None:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    say("02 WebSocket 서버 측정: 에코 왕복과 팬아웃")
    say(
        f"  에코: 클라이언트 {args.clients:,}개, {len(MESSAGE)}바이트, 토막 "
        f"{args.slices}개 × 서버마다 {seconds(args.duration)}, 압축 {COMPRESSION}"
    )
    say(
        f"  팬아웃: 같은 {args.clients:,}개에게 메시지 {args.messages:,}개씩 "
        f"초당 {args.rate:g}개로, 토막 {args.slices}개 × 방식마다"
    )
    say(
        f"  부하 발생기 프로세스 {args.processes}개, CPU {os.cpu_count()}개, "
        "부하 평균 " + (" / ".join(f"{x:.2f}" for x in load) if load else "-")
    )
    say()


def run_bench(args: argparse.Namespace) -> int:
    args.processes = min(args.processes, args.clients)
    per_process = math.ceil(3 * args.clients / args.processes)  # 서버 셋에 붙임
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
    started = time.perf_counter()
    print_header(args)
    pool: GeneratorPool | None = None
    echo: list[EchoRun] = []
    try:
        pool = GeneratorPool(args.processes)
        for key, label, command in (
            ("bare", "맨 에코 서버", baseline_command),
            ("lesson", "레슨 서버", lesson_command),
        ):
            port = free_port()
            server = ServerProcess(label, command(port, args.clients), port)
            echo.append(EchoRun(key, label, server))
        pool.watched = [run.server for run in echo]
        if not pool.clocks_agree():
            raise BenchError(
                "이 운영체제에서는 time.perf_counter()를 프로세스끼리 비교할 수 없어 "
                "잴 수 없습니다."
            )
        run_echo(pool, echo, args)
        bare, lesson = echo
        labels = (bare.label, lesson.label)
        print_summary("에코 결과", labels, (bare.slices, lesson.slices), ECHO_COMPARED)
        say()
        pids = [run.server.popen.pid for run in echo]
        fanout = asyncio.run(run_fanout(pool, pids, args))
    except (BenchError, OSError) as exc:
        print(f"\n측정하지 못했습니다. {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        stop_everything([run.server for run in echo], pool)
    labels = (STRATEGIES["gather"], STRATEGIES["broadcast"])
    slices = (fanout["gather"], fanout["broadcast"])
    print_summary("팬아웃 결과", labels, slices, FANOUT_COMPARED)
    say()
    return conclude(echo, fanout, time.perf_counter() - started)


def stop_everything(servers: list[ServerProcess], pool: GeneratorPool | None) -> None:
    """서버를 먼저(1001로 닫게) 멈추고, 그다음 부하 발생기를 끝냅니다."""
    with signals_ignored(signal.SIGINT, signal.SIGTERM):
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait_or_kill()
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
            "02 레슨 서버와 맨 에코 서버의 왕복을 번갈아 재고, broadcast()와\n"
            "gather(send)의 전달당 송신 비용을 잽니다. 비율은 토막 사이의 범위와\n"
            "함께 보여 줍니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                              # 기본값\n"
            f"  {PROG} --clients 100 --duration 3   # 더 많이, 더 길게\n"
            f"  {PROG} --processes 6                # 부하 발생기를 더 나눔\n\n"
            "종료 코드: 0 마침, 1 측정하지 못함, 2 잘못된 옵션,\n"
            "           3 무효(부하 발생기 포화), 130 Ctrl+C, 143 SIGTERM"
        ),
    )
    options: tuple[tuple[str, Callable[[str], float], float, str], ...] = (
        ("--clients", positive(int, 5000), 50, "동시 클라이언트 수(에코와 팬아웃)"),
        (
            "--duration",
            positive(float, 600),
            1.5,
            "에코: 토막 하나에서 서버마다 잴 시간(초)",
        ),
        (
            "--messages",
            positive(int, 100000),
            100,
            "팬아웃: 토막마다 방식마다 보낼 메시지 수",
        ),
        ("--rate", positive(float, 100000), 200, "팬아웃: 초당 보낼 메시지 수"),
        ("--slices", positive(int, 100), 6, "번갈아 재는 토막 수"),
        ("--processes", positive(int, 64), 4, "부하 발생기 프로세스 수"),
    )
    for flag, kind, default, text in options:
        parser.add_argument(
            flag, type=kind, default=default, help=f"{text} (기본: {default:g})"
        )
    parser.add_argument(  # 이 스크립트가 맨 에코 서버를 띄울 때만 씁니다
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
