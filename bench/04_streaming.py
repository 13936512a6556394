"""04 스트리밍 서버 측정: 멈춘 구독자가 있을 때와 없을 때, 그리고 메시지 형식

무엇을 재는가
    04_advanced_websocket.py의 server 모드를 그대로 띄우고, 구독자 N명(--clients)이
    토픽 T개(--topics)를 모두 구독해 토픽마다 초당 R틱(--rate)을 받습니다. 그중
    K명(--slow)은 멈춘 구독자입니다: 구독한 뒤 읽기를 멈춥니다. 기본값은 issue 9의
    조건 그대로 200명(그중 10%인 20명이 멈춤), 토픽 10개 × 초당 10틱입니다.
    멈춘 구독자가 있는 토막과 없는 토막을 번갈아 재어, 빠른 구독자가 느린 구독자에게
    묶이지 않는지 봅니다.
    - 전달(틱/초)과 지연 시간 p50/p99: 빠른 구독자(N - K명)가 받은 틱. 지연 시간은
      틱을 받은 순간의 time.time()에서 틱의 ts(서버가 그 틱을 만든 순간의
      time.time())를 뺀 값입니다. 서버와 부하 발생기가 같은 컴퓨터라 같은 시계를
      읽습니다(다른 컴퓨터끼리는 시계가 어긋나 이렇게 잴 수 없습니다).
    - 잃은 틱: 빠른 구독자가 본 seq 빈틈의 합. 서버는 버린 틱에도 seq를 매기므로
      빈틈이 곧 버려진 틱 수입니다.
    - 닫히기까지: 멈춘 구독자가 읽기를 멈춘 때부터 서버가 그 구독자를 내보낼 때까지.
      서버의 GET /healthz가 알려 주는 연결 수(clients)를 0.1초마다 보고 줄어든 때를
      씁니다. 모두 내보내지면 읽기를 다시 시작해 닫기 프레임의 종료 코드(1008이어야
      합니다)와 이유를 셉니다.
    - 서버 CPU(한 코어의 비율, 리눅스 /proc), 서버 RSS와 이벤트 루프 지연(서버의
      GET /metrics를 0.5초마다 읽은 process_resident_memory_bytes와
      stream_event_loop_lag_seconds의 최댓값), 서버가 버린 메시지
      (stream_messages_dropped_total의 증가분).
    - 이상 탐지기의 정밀도와 재현율: 서버가 심은 정답과 맞춰 본 값을 마지막에
      /healthz에서 읽습니다(서버가 켜진 뒤 누적). 심은 이상과 anomaly 이벤트의 수는
      /metrics의 토픽별 카운터를 더한 값입니다. 레슨의 기본값(토픽마다 1분에 이상
      2개)으로는 1분 안쪽의 측정에 몇 개뿐이라 --anomaly-rate(기본 10)로 늘립니다.
    - 메시지 형식: 받은 틱 프레임을 표본으로 JSON 텍스트(레슨의 형식), 이진 struct,
      JSON + permessage-deflate(압축)를 비교합니다. 틱당 바이트, 구독자 한 명에게 보낼
      프레임을 만드는 CPU, 받은 틱을 읽는 CPU, 연결마다 드는 압축 상태의 메모리를
      이 스크립트 안에서 잽니다(레슨 서버는 JSON, 압축 끔만 씁니다).

측정 방법
    - 서버는 레슨 파일을 그대로 `python 04_advanced_websocket.py server ...`로
      띄웁니다. 주는 옵션은 --topics, --rate, --anomaly-rate와 정원(--max-clients
      N+10), 기록 수준(WARNING)뿐이고 큐 길이, 포화 한도 같은 나머지는 기본값입니다.
    - 비교 기준은 같은 서버에 멈춘 구독자가 없는 상태입니다. 빠른 구독자 N - K명은
      처음부터 끝까지 붙어 있고, "멈춤" 토막에서만 멈춘 구독자 K명이 더 붙습니다.
      토막은 --duration초(기본 7초: 멈춘 구독자가 내보내지기까지와 비슷하게)이고,
      "멈춤" 토막은 멈춘 구독자가 모두 닫힐 때까지가 더 길면 그때까지(길어도 30초)
      입니다. 두 구성을 ABBA 순서로 번갈아 재고, 재기 전에 멈춘 구독자 없이
      예열합니다.
    - 빠른 구독자는 부하 발생기(load generator) 프로세스 여러 개(--processes)에,
      멈춘 구독자는 따로 프로세스 하나에 맡깁니다. 멈춘 구독자의 소켓은 먼 네트워크의
      클라이언트처럼 줄여 둡니다(TCP_MAXSEG 1,460바이트, SO_RCVBUF 8 KiB). 루프백에서는
      그러지 않으면 커널이 몇 MiB를 받아 주어 서버가 한참 동안 알아채지 못합니다.
    - 토막마다 각 부하 발생기 프로세스의 CPU를 재고, 어느 하나라도 한 코어의 80%를
      넘으면 그 실행을 무효로 표시합니다(종료 코드 3). 부하 발생기가 느려지면 그
      시간이 지연 시간에 섞이기 때문입니다. 부하 발생기는 순환 참조 수집기를 끄고
      재지 않는 틈(토막이 끝난 뒤)에만 돌립니다.
    - "다른 CPU"는 그 토막에 이 측정과 상관없는 프로그램이 쓴 CPU입니다(리눅스
      /proc/stat의 전체 사용량에서 서버, 부하 발생기, 이 스크립트를 뺀 값). 한 코어의
      25%를 넘은 토막은 끝에 "주의"로 알립니다.

숫자 읽는 법
    요약 표의 "비율"은 멈춤 K명 ÷ 멈춤 없음을 토막마다 낸 값의 중앙값이고, "범위"는 그
    최솟값~최댓값입니다. 범위가 1을 넘나들면 그 차이는 측정의 흔들림 안에 있습니다.
    짧은 실행 한 번으로 합격·불합격을 판정하지 않습니다(issue 9의 목표는 옆에 적어
    둡니다). 지연 시간의 대부분은 서버가 틱 한 묶음(토픽 T개)을 빠른 구독자 모두에게
    나눠 쓰는 시간이고, 1초마다 집계(aggregate)와 metrics가 더해지는 묶음이 p99와
    루프 지연을 만듭니다. 마지막 줄이 "무효"면 숫자는 서버가 아니라 부하 발생기를
    잰 것입니다.

실행 방법
    python bench/04_streaming.py                   # 기본: 200명, 20명 멈춤(1분 안쪽)
    python bench/04_streaming.py --clients 60 --slow 6 --duration 3
    python bench/04_streaming.py --processes 4     # 부하 발생기가 포화되면
    python bench/04_streaming.py --help

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
import http.client
import json
import locale
import math
import multiprocessing
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import unicodedata
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

if sys.platform != "win32":
    import resource  # 유닉스 전용: 파일 디스크립터 한도

ROOT = Path(__file__).resolve().parents[1]  # 저장소 루트(레슨 파일이 있는 곳)
LESSON = ROOT / "04_advanced_websocket.py"  # 잴 스트리밍 서버(server 모드로 띄움)
PROG = "python bench/04_streaming.py"  # 도움말에 보이는 실행 명령
HOST = "127.0.0.1"  # 루프백: 서버와 부하 발생기가 같은 컴퓨터
WS_PATH = "/ws"  # 서버의 WebSocket 경로
SERVER_ARGS = ["--log-level", "WARNING"]  # 서버에 늘 주는 옵션(연결마다의 기록은 끔)
MAX_TOPICS = 50  # 레슨의 --topics 상한
MAX_RATE = 200.0  # 레슨의 --rate 상한(토픽마다 초당 틱)
CONNECT_CONCURRENCY = 100  # 모든 부하 발생기를 합쳐 동시에 진행하는 연결 수
SATURATED = 0.80  # 부하 발생기 프로세스 하나가 이만큼(코어 비율) 넘게 쓰면 무효
BUSY = 0.25  # 다른 프로그램이 토막 동안 한 코어의 이만큼 넘게 쓰면 '바쁜 컴퓨터'로 알림
WARMUP_SECONDS = 2.0  # 재기 전에 멈춘 구독자 없이 예열하는 시간(초)
SCRAPE_INTERVAL = 0.5  # 토막 동안 서버의 /metrics를 읽는 간격(초)
LAG_WINDOW = 1.0  # 서버가 이벤트 루프 지연의 최댓값을 내는 창(초, 레슨의 값)
HEALTH_POLL = 0.1  # 멈춘 구독자가 내보내졌는지 /healthz로 확인하는 간격(초)
STALL_DEADLINE = 30.0  # 멈춘 구독자가 이만큼(초) 지나도 안 닫히면 기다리지 않음
CLOSE_WAIT = 10.0  # 읽기를 다시 시작한 뒤 닫기 프레임을 기다리는 시간(초)
SLICE_MARGIN = 60.0  # 부하 발생기의 답을 기다리는 여유(초)
SERVER_START_TIMEOUT = 30.0  # 서버가 포트를 열기까지 기다리는 시간(초)
STALLED_MAXSEG = 1460  # 멈춘 구독자 소켓의 TCP 세그먼트 크기(이더넷 MTU에 맞춤)
STALLED_RCVBUF = 8192  # 멈춘 구독자 소켓의 받기 버퍼(바이트)
SAMPLE_TICKS = 2000  # 메시지 형식 비교에 쓰는 틱 프레임 표본의 크기
BINARY_TICK = struct.Struct("<HIdd")  # 이진 틱: 토픽 번호, seq, 값, ts(22바이트)
DEFLATE_WINDOW_BITS = 12  # websockets의 permessage-deflate 기본값(서버 쪽)
DEFLATE_MEM_LEVEL = 5  # websockets의 permessage-deflate 기본값(compress_settings)
SYNC_TAIL = b"\x00\x00\xff\xff"  # permessage-deflate가 메시지 끝에서 떼는 4바이트
P99_TARGET = 2.0  # issue 9: 멈춘 구독자가 있을 때 p99가 없을 때의 이 배수 이내
CLOSE_TARGET = 15.0  # issue 9: 멈춘 구독자는 이 시간(초) 안에 닫힘
RSS_TARGET = 150_000_000  # issue 9: 서버 RSS가 이만큼(150 MB) 미만
EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_INTERRUPTED = 1, 2, 3, 130  # 종료 코드


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

    >>> display_width("멈춤 없음"), display_width("p99")
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
    """표의 한 줄. 폭이 정해지지 않은 뒤쪽 칸은 그대로 이어 붙입니다.

    >>> table_row(["가", "b", "끝"], [4, 3])
    '가  b  끝'
    """
    texts, sizes = list(cells), list(widths)
    sizes += [0] * (len(texts) - len(sizes))
    return "".join(pad(c, w) for c, w in zip(texts, sizes, strict=False)).rstrip()


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


def mebibytes(value: float) -> str:
    """바이트를 MiB로. 모르면(nan) "-".

    >>> mebibytes(47_400_000), mebibytes(math.nan)
    ('45.2 MiB', '-')
    """
    return "-" if math.isnan(value) else f"{value / 2**20:.1f} MiB"


class BenchError(Exception):
    """측정을 이어 갈 수 없는 문제. 메시지는 사람에게 보여 줄 한국어 한 문장."""


class Interrupted(BaseException):
    """SIGTERM을 받았습니다(Ctrl+C의 KeyboardInterrupt처럼 정리를 거쳐 끝냄)."""


# =============================================================================
# 서버 프로세스: 띄우기, 자원 재기, /metrics 읽기, 반드시 멈추기
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
    """한 시점의 CPU 누적값: 컴퓨터 전체, 이 프로세스, 서버와 부하 발생기들(초)."""

    at: float
    machine: float | None
    parent: float
    processes: list[float | None]

    @classmethod
    def now(cls, pids: list[int]) -> CpuSample:
        processes = [process_cpu(pid) for pid in pids]
        return cls(time.perf_counter(), machine_cpu(), time.process_time(), processes)


def cpu_shares(before: CpuSample, after: CpuSample) -> tuple[float, float]:
    """(첫 프로세스(서버)의 CPU, 다른 프로그램의 CPU). 한 코어의 비율, 모르면 nan.

    다른 프로그램 = 컴퓨터 전체 - 이 프로세스 - 서버 - 부하 발생기들.
    """
    window = after.at - before.at
    spent = [
        a - b if a is not None and b is not None else None
        for a, b in zip(after.processes, before.processes, strict=True)
    ]
    server = math.nan if spent[0] is None else spent[0] / window
    if after.machine is None or before.machine is None or None in spent:
        return server, math.nan
    ours = after.parent - before.parent + sum(x or 0.0 for x in spent)
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


def printable(text: str) -> str:
    """이 터미널의 인코딩(예: cp949)으로 못 쓰는 글자는 ?로 바꿉니다."""
    encoding = sys.stdout.encoding or "utf-8"
    return text.encode(encoding, errors="replace").decode(encoding)


class ServerProcess:
    """서버를 자식 프로세스로 띄웁니다. 표준 오류는 임시 파일에 모읍니다."""

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
                stdout=subprocess.DEVNULL,  # 시작 안내는 버립니다
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
            self.popen.terminate()  # SIGTERM: 서버는 1001로 닫고 우아하게 끝납니다

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

    def get(self, path: str) -> str:
        """GET path의 본문. 서버가 답하지 않거나 200이 아니면 BenchError."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(
                f"{self.label}의 {path}가 답하지 않았습니다({exc})."
            ) from None
        finally:
            connection.close()
        if response.status != 200:
            raise BenchError(
                f"{self.label}의 {path}가 HTTP {response.status}로 답했습니다."
            )
        return body

    def metrics(self) -> dict[str, float]:
        return parse_metrics(self.get("/metrics"))

    def health(self) -> dict[str, object]:
        try:
            found = json.loads(self.get("/healthz"))
        except ValueError:
            raise BenchError(f"{self.label}의 /healthz가 JSON이 아닙니다.") from None
        return found if isinstance(found, dict) else {}


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus 텍스트 형식의 표본을 이름마다 더합니다(라벨만 다른 표본은 합계).

    >>> parse_metrics('# TYPE a gauge\\na 1\\nb{topic="x"} 2\\nb{topic="y"} 3.5\\n')
    {'a': 1.0, 'b': 5.5}
    """
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        name = sample.split("{", 1)[0]
        with contextlib.suppress(ValueError):  # 형식이 틀린 줄은 건너뜁니다
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def server_command(port: int, args: argparse.Namespace) -> list[str]:
    """스트리밍 서버: 레슨 파일의 server 모드. 서버 옵션은 모두 여기서 정합니다.

    - --topics, --rate: 이 측정의 부하
    - --anomaly-rate: 심는 이상의 수. 레슨의 기본값(토픽마다 1분에 2개)으로는 1분
      안쪽의 측정에서 몇 개뿐이라 정밀도와 재현율을 말할 수 없어서 늘립니다.
    - --max-clients: 구독자 N명과 /metrics, /healthz 요청이 다 들어가게
    - 큐 길이(--queue-size), 포화 한도(--saturation-limit), 구독 마감, 하트비트는
      기본값 그대로입니다(기본값이 이 부하를 받아야 합니다). 03의 --join-rate 같은
      주소마다의 제한은 04 서버에 없습니다. 연결마다의 속도 제한에는 구독 요청
      하나만 보내므로 걸리지 않습니다.
    """
    load = ["--topics", str(args.topics), "--rate", f"{args.rate:g}"]
    load += ["--anomaly-rate", f"{args.anomaly_rate:g}"]
    per_run = ["--port", str(port), *load, "--max-clients", str(args.clients + 10)]
    return [sys.executable, str(LESSON), "server", *per_run, *SERVER_ARGS]


# =============================================================================
# 부하 발생기 프로세스: 빠른 구독자와 멈춘 구독자
# =============================================================================
# 부모(이 스크립트)와 부하 발생기는 multiprocessing 파이프로 아래 명령과 보고를
# 주고받습니다. 빠른 구독자 i번은 i % P번 프로세스가 맡고(P = --processes), 멈춘
# 구독자는 P번(마지막) 프로세스가 모두 맡습니다. 빠른 구독자는 연결한 뒤로 쉬지 않고
# 읽습니다. StartCommand와 StopCommand 사이에 받은 틱만 그 토막의 값으로 셉니다.


@dataclass
class ConnectCommand:
    uri: str
    clients: int  # 모든 프로세스를 합친 빠른 구독자 수
    concurrency: int  # 이 프로세스가 동시에 진행하는 연결 수
    sample: int  # 0번 프로세스의 첫 연결이 모아 둘 틱 프레임 수(형식 비교)


@dataclass
class StartCommand:
    """지금부터 받는 틱을 새 토막으로 세라."""


@dataclass
class StopCommand:
    """토막을 끝내고 센 것을 보고하라."""


@dataclass
class SampleCommand:
    """모아 둔 틱 프레임을 보내라."""


@dataclass
class StallCommand:
    uri: str
    port: int
    count: int  # 멈춘 구독자 수


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
    def elapsed(self) -> float:
        return self.end - self.start

    @property
    def cpu_share(self) -> float:
        """한 코어의 몇 배를 썼는가(0~1)."""
        return self.cpu / max(self.elapsed, 1e-9)


@dataclass
class ConnectReport:
    opened: int
    span: Span


@dataclass
class Ack:
    """명령을 받았습니다."""


@dataclass
class SliceReport:
    ticks: int
    latencies: bytes  # array("d"), 초
    gaps: int  # seq 빈틈의 합(못 받은 틱)
    dropped: int  # dropped 알림이 말한 버린 메시지 수
    span: Span
    closed: int  # 지금까지 닫힌 빠른 구독자 연결 수


@dataclass
class SampleReport:
    frames: list[str]


@dataclass
class StallReport:
    opened: int
    evicted_after: list[float]  # 읽기를 멈춘 때부터 서버가 내보내기까지(초)
    closes: dict[str, int]  # "종료 코드 이유" → 수
    span: Span


@dataclass
class Failure:
    text: str  # 한국어 한 문장


@dataclass
class Bucket:
    """한 토막에 빠른 구독자들이 받은 것."""

    ticks: int = 0
    gaps: int = 0
    dropped: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))


@dataclass
class Stream:
    """이 프로세스의 빠른 구독자들이 받은 것."""

    bucket: Bucket | None = None  # 재는 중인 토막(None이면 세지 않음)
    closed: int = 0  # 닫힌 연결 수
    sample: list[str] = field(default_factory=list)  # 형식 비교용 틱 프레임


class SubscribeRefused(Exception):
    """서버가 welcome이나 subscribed 대신 다른 것을 보냈습니다."""


async def subscribe_all(websocket: ClientConnection) -> None:
    """welcome을 받고 그 토픽을 모두 구독합니다. subscribed가 올 때까지 기다립니다."""
    welcome = json.loads(await websocket.recv())
    if welcome.get("type") != "welcome":
        raise SubscribeRefused(f"첫 메시지가 welcome이 아니라 {welcome.get('type')}")
    request = {"type": "subscribe", "topics": welcome["topics"]}
    await websocket.send(json.dumps(request, separators=(",", ":")))
    while (event := json.loads(await websocket.recv())).get("type") != "subscribed":
        if event.get("type") == "error":  # metrics 같은 다른 메시지는 넘깁니다
            raise SubscribeRefused(str(event.get("code")))


async def read_stream(websocket: ClientConnection, stream: Stream, sample: int) -> None:
    """빠른 구독자 하나: 닫힐 때까지 읽으며 틱의 지연 시간과 seq 빈틈을 셉니다."""
    last: dict[str, int] = {}  # 토픽 → 마지막으로 받은 seq
    try:
        async for frame in websocket:
            now = time.time()  # 틱의 ts와 같은 시계
            event = json.loads(frame)
            bucket = stream.bucket
            if event["type"] != "tick":
                if event["type"] == "dropped" and bucket is not None:
                    bucket.dropped += int(event["count"])
                continue
            topic, seq = event["topic"], int(event["seq"])
            gap = seq - last.get(topic, 0) - 1  # seq는 1부터, 버린 틱도 셈
            last[topic] = seq
            if bucket is not None:
                bucket.ticks += 1
                bucket.gaps += gap
                bucket.latencies.append(now - float(event["ts"]))
            if len(stream.sample) < sample:
                stream.sample.append(str(frame))
    except ConnectionClosed:
        pass
    finally:
        stream.closed += 1


def describe_failure(exc: BaseException) -> str:
    """연결과 구독이 실패한 까닭을 한국어 한 문장으로."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        full = " (정원 초과: --clients를 줄이세요)" if status == 503 else ""
        return f"서버가 핸드셰이크를 HTTP {status}로 거절했습니다{full}"
    if isinstance(exc, InvalidHandshake):
        return f"핸드셰이크가 실패했습니다({exc})"
    if isinstance(exc, TimeoutError):
        return "시간 안에 연결(또는 구독)하지 못했습니다: 컴퓨터가 너무 바쁩니다"
    if isinstance(exc, ConnectionClosed):
        return (
            f"서버가 연결을 닫았습니다(종료 코드 {exc.rcvd.code if exc.rcvd else 1006})"
        )
    if isinstance(exc, OSError) and exc.errno == getattr(os, "EMFILE", 24):
        return "열 수 있는 파일(소켓) 수의 한도에 걸렸습니다: ulimit -n을 올리세요"
    if isinstance(exc, SubscribeRefused):
        return f"서버가 구독을 받지 않았습니다({exc})"
    if isinstance(exc, (ValueError, KeyError)):
        return f"서버의 답을 읽지 못했습니다({exc!r})"
    return f"연결하지 못했습니다({exc})"


WORKER_ERRORS = (
    OSError,  # TimeoutError도 OSError
    InvalidHandshake,
    ConnectionClosed,
    SubscribeRefused,
    ValueError,  # JSON이 아닌 답
    KeyError,  # 약속한 필드가 없는 답
)


class Generator:
    """빠른 구독자를 맡은 부하 발생기 프로세스 하나의 상태."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index  # 이 프로세스의 번호(0부터)
        self.count = count  # 빠른 구독자를 맡은 프로세스 수
        self.connections: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.stream = Stream()
        self.span = Span.begin()

    async def handle(self, command: object) -> object:
        try:
            match command:
                case ConnectCommand():
                    return await self.connect(command)
                case StartCommand():
                    self.stream.bucket, self.span = Bucket(), Span.begin()
                    return Ack()
                case StopCommand():
                    return self.stop()
                case SampleCommand():
                    return SampleReport(self.stream.sample)
        except WORKER_ERRORS as exc:
            return Failure(describe_failure(exc))
        raise AssertionError(f"모르는 명령: {command!r}")

    async def connect(self, command: ConnectCommand) -> ConnectReport:
        gate = asyncio.Semaphore(command.concurrency)

        async def open_one(position: int) -> None:
            async with gate:
                websocket = await connect(
                    command.uri, compression=None, ping_interval=None, open_timeout=60
                )
                self.connections.append(websocket)  # 실패해도 close()가 닫습니다
                async with asyncio.timeout(60):
                    await subscribe_all(websocket)
            sample = command.sample if self.index == 0 and position == 0 else 0
            reader = read_stream(websocket, self.stream, sample)
            self.readers.append(asyncio.create_task(reader))

        mine = len(range(self.index, command.clients, self.count))
        span = Span.begin()
        opening = [asyncio.create_task(open_one(n)) for n in range(mine)]
        try:
            await asyncio.gather(*opening)
        finally:  # 하나가 실패하면 나머지 연결 시도도 멈춥니다
            for task in opening:
                task.cancel()
            await asyncio.gather(*opening, return_exceptions=True)
        return ConnectReport(len(self.readers), span.finish())

    def stop(self) -> SliceReport:
        bucket, self.stream.bucket = self.stream.bucket or Bucket(), None
        return SliceReport(
            bucket.ticks,
            bucket.latencies.tobytes(),
            bucket.gaps,
            bucket.dropped,
            self.span.finish(),
            self.stream.closed,
        )

    async def close(self) -> None:
        for websocket in self.connections:
            websocket.transport.abort()  # 서버는 이미 멈췄거나 곧 멈춥니다
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def healthz_clients(port: int) -> int:
    """서버의 GET /healthz가 알려 주는 연결 수(clients)."""
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            request = f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            writer.write(f"{request}Connection: close\r\n\r\n".encode("ascii"))
            raw = await reader.read()  # 서버가 답한 뒤 연결을 닫습니다
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ValueError(head.split(b"\r\n", 1)[0].decode("latin-1"))
    return int(json.loads(body)["clients"])


async def open_stalled(uri: str, port: int) -> ClientConnection:
    """먼 네트워크 너머의 클라이언트처럼 줄인 소켓으로 연결합니다(아직 읽는 중)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "TCP_MAXSEG"):  # Windows에는 없습니다
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, STALLED_MAXSEG)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
        return await connect(
            uri, sock=sock, compression=None, ping_interval=None, open_timeout=60
        )
    except BaseException:
        sock.close()
        raise


async def read_to_close(websocket: ClientConnection) -> str:
    """남은 프레임을 읽고 버리며 닫힐 때까지: "종료 코드 이유"(닫기 프레임이 없으면
    "닫기 프레임 없음"). CLOSE_WAIT 안에 안 닫히면 끊고 "닫히지 않음"."""
    try:
        async with asyncio.timeout(CLOSE_WAIT):
            while True:
                await websocket.recv()
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            return "닫기 프레임 없음"
        return f"{exc.rcvd.code} {exc.rcvd.reason}".strip()
    except TimeoutError:
        websocket.transport.abort()
        return "닫히지 않음"


class Staller:
    """멈춘 구독자를 맡은 프로세스의 상태."""

    def __init__(self) -> None:
        self.connections: list[ClientConnection] = []

    async def handle(self, command: object) -> object:
        try:
            match command:
                case StallCommand():
                    return await self.stall(command)
        except WORKER_ERRORS as exc:
            return Failure(describe_failure(exc))
        raise AssertionError(f"모르는 명령: {command!r}")

    async def stall(self, command: StallCommand) -> StallReport:
        """멈춘 구독자 count명: 붙고, 구독하고, 읽기를 멈추고, 내보내지기를 기다림."""
        span = Span.begin()
        before = await healthz_clients(command.port)  # 빠른 구독자들
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        paused: list[float] = []

        async def open_one() -> None:
            async with gate:
                websocket = await open_stalled(command.uri, command.port)
                self.connections.append(websocket)
                async with asyncio.timeout(60):
                    await subscribe_all(websocket)
            websocket.transport.pause_reading()  # 이제부터 읽지 않습니다
            paused.append(time.perf_counter())

        await asyncio.gather(*(open_one() for _ in range(command.count)))
        started = min(paused)
        evicted: list[float] = []
        while len(evicted) < command.count:
            if time.perf_counter() - started > STALL_DEADLINE:
                break
            await asyncio.sleep(HEALTH_POLL)
            remaining = await healthz_clients(command.port) - before
            now = time.perf_counter()
            while len(evicted) < command.count - max(0, remaining):
                evicted.append(now - started)
        for websocket in self.connections:
            websocket.transport.resume_reading()  # 이제 읽으면 닫기 프레임까지 닿음
        closes = await asyncio.gather(*map(read_to_close, self.connections))
        self.connections.clear()
        return StallReport(len(paused), evicted, dict(Counter(closes)), span.finish())

    async def close(self) -> None:
        for websocket in self.connections:
            websocket.transport.abort()


async def worker_loop(pipe: Connection, worker: Generator | Staller) -> None:
    gc.disable()  # 재는 동안 순환 참조 수집기가 멈추지 않게(토막이 끝나면 모음)
    try:
        while True:
            # 파이프는 이벤트 루프가 기다릴 수 없어(Windows) 가끔 들여다봅니다.
            # 그동안에도 이벤트 루프는 돌며 연결들을 계속 읽습니다.
            while not pipe.poll():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            command = pipe.recv()
            if isinstance(command, QuitCommand):
                return
            reply = await worker.handle(command)
            if not isinstance(command, StartCommand):
                gc.collect()  # 재지 않는 틈에 모아 두고, 남은 객체는 얼립니다
                gc.freeze()
            pipe.send(reply)
    finally:
        await worker.close()


def worker_main(pipe: Connection, index: int, count: int) -> None:
    """부하 발생기 프로세스의 진입점(spawn). Ctrl+C는 부모가 받아 정리합니다."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = Staller() if index == count else Generator(index, count)
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        asyncio.run(worker_loop(pipe, worker))  # 부모가 사라지면 EOFError


class Workers:
    """부모 쪽에서 본 부하 발생기 프로세스들: 빠른 구독자 count개 + 멈춘 구독자 1개."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # 세 운영체제에서 같은 방식
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(count + 1):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=worker_main, args=(theirs, index, count), daemon=True
            )
            with signals_ignored(signal.SIGINT):
                process.start()
            theirs.close()
            self.pipes.append(mine)
            self.processes.append(process)
        self.watched: list[ServerProcess] = []  # 기다리는 동안 살아 있는지 볼 서버

    @property
    def fast(self) -> list[Connection]:
        return self.pipes[:-1]

    @property
    def staller(self) -> Connection:
        return self.pipes[-1]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def send_fast(self, command: object) -> None:
        for pipe in self.fast:
            pipe.send(command)

    def collect(self, pipes: list[Connection], timeout: float) -> list[object]:
        """파이프마다 답 하나. 실패 보고, 시간 초과, 죽은 프로세스는 BenchError."""
        deadline = time.monotonic() + timeout
        replies: list[object] = []
        for pipe in pipes:
            while (reply := self.reply(pipe)) is None:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"부하 발생기가 {timeout:.0f}초 안에 답하지 않았습니다. "
                        "컴퓨터가 너무 바쁩니다."
                    )
            replies.append(reply)
        return replies

    def reply(self, pipe: Connection, wait: float = 0.1) -> object | None:
        """답이 있으면 그 답, wait초 안에 없으면 None. 실패 보고는 BenchError."""
        if not pipe.poll(wait):
            self.check_alive()
            return None
        reply: object = pipe.recv()
        if isinstance(reply, Failure):
            number = self.pipes.index(pipe) + 1
            raise BenchError(f"부하 발생기 {number}번: {reply.text}.")
        return reply

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


@dataclass
class SliceResult:
    """구성 하나, 토막 하나의 결과."""

    slice_id: int
    ticks: int  # 빠른 구독자가 받은 틱
    latencies: list[float]  # 정렬됨(초)
    elapsed: float  # 토막의 길이(초)
    gaps: int  # 빠른 구독자가 본 seq 빈틈의 합
    dropped: int  # 빠른 구독자가 받은 dropped 알림의 수의 합
    server_dropped: float  # 서버가 버린 메시지(/metrics의 증가분, 모르면 nan)
    lag: float  # 서버의 이벤트 루프 지연, 이 토막의 최댓값(초, 모르면 nan)
    rss: float  # 서버 RSS, 이 토막의 최댓값(바이트, 모르면 nan)
    server_cpu: float  # 서버가 쓴 CPU(한 코어의 비율, 모르면 nan)
    others: float  # 다른 프로그램이 쓴 CPU(한 코어의 비율, 모르면 nan)
    generator_cpu: list[float]  # 부하 발생기 프로세스마다 CPU(한 코어의 비율)
    closed: int  # 지금까지 닫힌 빠른 구독자 연결 수
    stall: StallReport | None = None  # 멈춘 구독자(이 토막에 있었으면)

    @property
    def deliveries(self) -> float:
        return self.ticks / self.elapsed

    def p(self, rank: float) -> float:
        return percentile(self.latencies, rank)


@dataclass
class ConfigRun:
    """구성 하나(멈춘 구독자 slow명)의 모든 토막."""

    key: str
    label: str
    slow: int
    slices: list[SliceResult] = field(default_factory=list)


@dataclass
class Study:
    """측정 전체의 결과."""

    runs: list[ConfigRun]
    fast: int  # 빠른 구독자 수
    connect_time: float = math.nan  # 빠른 구독자가 모두 구독하기까지(초)
    connect_cpu: float = 0.0  # 그동안 부하 발생기 프로세스의 최대 코어 비율
    rss_idle: float = math.nan  # 구독자가 붙기 전 서버 RSS(바이트)
    health: dict[str, object] = field(default_factory=dict)  # 마지막 /healthz
    metrics: dict[str, float] = field(default_factory=dict)  # 마지막 /metrics
    sample: list[str] = field(default_factory=list)  # 형식 비교용 틱 프레임


@dataclass
class Scrape:
    """/metrics 한 번: 읽은 시각과 세 값(없는 값은 nan)."""

    at: float  # perf_counter() 시각
    lag: float  # stream_event_loop_lag_seconds: 서버가 잰 최근 1초의 최댓값(초)
    rss: float  # process_resident_memory_bytes(바이트)
    dropped: float  # stream_messages_dropped_total(누적)

    @classmethod
    def now(cls, server: ServerProcess) -> Scrape:
        found = server.metrics()
        return cls(
            time.perf_counter(),
            found.get("stream_event_loop_lag_seconds", math.nan),
            found.get("process_resident_memory_bytes", math.nan),
            found.get("stream_messages_dropped_total", math.nan),
        )


def slice_lag(scrapes: list[Scrape], started: float) -> float:
    """토막의 루프 지연: 토막이 시작하고 LAG_WINDOW가 지난 뒤에 읽은 값의 최댓값.

    서버의 값은 최근 1초의 최댓값이라, 그 전에 읽은 값에는 앞 토막이 섞입니다.
    토막이 그보다 짧으면 마지막 값을 씁니다.
    """
    inside = [s.lag for s in scrapes if s.at - started >= LAG_WINDOW]
    return worst(inside) if inside else scrapes[-1].lag


def connect_fast(workers: Workers, server: ServerProcess, study: Study) -> None:
    """빠른 구독자를 모두 붙이고 구독시킵니다."""
    per_process = max(1, CONNECT_CONCURRENCY // len(workers.fast))
    command = ConnectCommand(server.uri, study.fast, per_process, SAMPLE_TICKS)
    started = time.perf_counter()
    workers.send_fast(command)
    replies = workers.collect(workers.fast, timeout=600)
    reports = [r for r in replies if isinstance(r, ConnectReport)]
    study.connect_time = time.perf_counter() - started
    cpu = max(r.span.cpu_share for r in reports)
    if study.connect_time >= 1.0:  # 아주 짧은 구간의 CPU 비율은 흔들려서 보지 않음
        study.connect_cpu = cpu
    opened = sum(r.opened for r in reports)
    say(
        f"연결: 빠른 구독자 {opened:,}명 {seconds(study.connect_time)} "
        f"(연결, welcome, 구독 확인까지, 부하 발생기 CPU 최대 {cpu:.0%})"
    )


def measure_slice(
    workers: Workers,
    server: ServerProcess,
    run: ConfigRun,
    slice_id: int,
    duration: float,
) -> SliceResult:
    """토막 하나: 빠른 구독자가 세기 시작하고, 멈춘 구독자가 있으면 그들이 모두
    닫힐 때까지(적어도 duration초), 그동안 /metrics를 SCRAPE_INTERVAL마다 읽습니다."""
    server.check_alive()
    pids = [server.popen.pid, *workers.pids]
    before = CpuSample.now(pids)
    workers.send_fast(StartCommand())
    workers.collect(workers.fast, timeout=SLICE_MARGIN)
    started = time.perf_counter()
    if run.slow:
        workers.staller.send(StallCommand(server.uri, server.port, run.slow))
    scrapes = [Scrape.now(server)]
    next_scrape = started + SCRAPE_INTERVAL
    stall: StallReport | None = None
    limit = duration + STALL_DEADLINE + CLOSE_WAIT + SLICE_MARGIN
    while True:
        now = time.perf_counter()
        if now >= next_scrape:
            scrapes.append(Scrape.now(server))
            next_scrape += SCRAPE_INTERVAL
        stalled_done = not run.slow or stall is not None
        if now - started >= duration and stalled_done:
            break
        if now - started > limit:
            raise BenchError(
                f"멈춘 구독자 프로세스가 {limit:.0f}초 안에 답하지 않았습니다."
            )
        if run.slow and stall is None:
            found = workers.reply(workers.staller, wait=0.05)
            stall = found if isinstance(found, StallReport) else None
        else:
            workers.check_alive()
            time.sleep(0.05)
    scrapes.append(Scrape.now(server))
    workers.send_fast(StopCommand())
    replies = workers.collect(workers.fast, timeout=SLICE_MARGIN)
    after = CpuSample.now(pids)
    reports = [r for r in replies if isinstance(r, SliceReport)]
    latencies: list[float] = []
    for report in reports:
        latencies.extend(array("d", report.latencies))
    server_cpu, others = cpu_shares(before, after)
    generator_cpu = [r.span.cpu_share for r in reports]
    if stall is not None:
        generator_cpu.append(stall.span.cpu_share)
    return SliceResult(
        slice_id,
        sum(r.ticks for r in reports),
        sorted(latencies),
        effective_length(reports),
        sum(r.gaps for r in reports),
        sum(r.dropped for r in reports),
        scrapes[-1].dropped - scrapes[0].dropped,
        slice_lag(scrapes, started),
        worst(s.rss for s in scrapes),
        server_cpu,
        others,
        generator_cpu,
        sum(r.closed for r in reports),
        stall,
    )


def effective_length(reports: list[SliceReport]) -> float:
    """토막의 길이: 전달/초가 프로세스마다 잰 전달/초의 합이 되게 하는 길이(초).

    프로세스마다 명령을 받은 때가 조금씩 달라 센 구간의 길이도 다릅니다.
    """
    rate = sum(r.ticks / r.span.elapsed for r in reports)
    ticks = sum(r.ticks for r in reports)
    return ticks / rate if ticks else max(r.span.elapsed for r in reports)


SLICE_COLUMNS = (6, 12, 9, 9, 9, 6, 10, 10, 10, 12)


def slice_header() -> str:
    titles = [
        "토막",
        "구성",
        "전달/초",
        "p50",
        "p99",
        "잃음",
        "루프 지연",
        "서버 CPU",
        "다른 CPU",
        "닫히기까지",
    ]
    return table_row([*titles, "부하 발생기 CPU 최대(합계)"], SLICE_COLUMNS)


def closing_cell(stall: StallReport | None) -> str:
    """토막 표의 "닫히기까지": 멈춘 구독자 가운데 가장 늦게 내보내진 때."""
    if stall is None:
        return "-"
    if len(stall.evicted_after) < stall.opened:
        return "안 닫힘"
    return seconds(max(stall.evicted_after))


def slice_row(number: str, label: str, result: SliceResult) -> str:
    cpu = result.generator_cpu
    cells = (
        number,
        label,
        f"{result.deliveries:,.0f}",
        seconds(result.p(50)) if result.latencies else "-",
        seconds(result.p(99)) if result.latencies else "-",
        f"{result.gaps:,}",
        "-" if math.isnan(result.lag) else seconds(result.lag),
        percent(result.server_cpu, 1),
        percent(result.others),
        closing_cell(result.stall),
        f"{max(cpu):.0%}({sum(cpu):.0%})",
    )
    return table_row(cells, SLICE_COLUMNS)


def run_measurements(
    workers: Workers, server: ServerProcess, study: Study, args: argparse.Namespace
) -> None:
    server.wait_ready()
    study.rss_idle = Scrape.now(server).rss
    connect_fast(workers, server, study)
    warmup = min(WARMUP_SECONDS, 2 * args.duration)  # 짧은 시험 실행은 짧게
    say(f"예열: {seconds(warmup)} (멈춘 구독자 없이)")
    measure_slice(workers, server, study.runs[0], 0, warmup)
    say()
    say(slice_header())
    for number in range(1, args.slices + 1):
        order = study.runs if number % 4 in (1, 0) else study.runs[::-1]  # ABBA
        for run in order:
            result = measure_slice(workers, server, run, number, args.duration)
            run.slices.append(result)
            say(slice_row(f"{number}", run.label, result))
    study.health = server.health()
    study.metrics = server.metrics()
    workers.send_fast(SampleCommand())
    for reply in workers.collect(workers.fast, timeout=SLICE_MARGIN):
        if isinstance(reply, SampleReport):
            study.sample.extend(reply.frames)


# =============================================================================
# 메시지 형식: JSON 텍스트, 이진 struct, JSON + permessage-deflate
# =============================================================================
# 레슨 서버에는 형식이나 압축을 바꾸는 옵션이 없으므로, 받은 틱 프레임으로 세 형식이
# 전달 하나마다 하는 일을 이 스크립트 안에서 똑같이 해 보고 잽니다. 서버가 구독자
# 한 명에게 보낼 프레임을 만드는 일(만들기)과 구독자가 받은 프레임을 읽는 일(읽기).
#   - JSON 텍스트: 틱마다 한 번 만든 앞뒤 조각에 구독자의 seq만 잇습니다(레슨 4절).
#   - 이진: struct로 토픽 번호, seq, 값, ts를 22바이트에 담습니다(토픽 이름은
#     welcome에서 한 번). 받는 쪽은 형식을 따로 알아야 합니다.
#   - JSON + permessage-deflate: 연결마다 압축기가 앞서 보낸 내용을 기억하고(context
#     takeover) 메시지마다 압축합니다. 같은 프레임이라도 연결마다 따로 압축하므로
#     전달 하나마다 압축 비용이 듭니다. 설정은 websockets의 서버 기본값입니다.


@dataclass
class FormatResult:
    label: str
    wire: float  # 틱당 바이트(WebSocket 프레임 머리 포함)
    build: float  # 전달 하나를 만드는 시간(초)
    read: float  # 틱 하나를 읽는 시간(초)
    state: float  # 보내는 쪽이 연결마다 들고 있는 상태(바이트)


def frame_header(payload: int) -> int:
    """서버가 보내는(마스크 없는) WebSocket 프레임의 머리 크기(바이트).

    >>> frame_header(100), frame_header(126), frame_header(70000)
    (2, 4, 10)
    """
    return 2 if payload < 126 else 4 if payload < 65536 else 10


def cost_per_item(work: Callable[[], int], repeats: int = 5) -> float:
    """work()는 항목 n개를 처리하고 n을 돌려줍니다. 항목 하나의 시간(초)의 최솟값."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        count = work()
        best = min(best, (time.perf_counter() - started) / max(count, 1))
    return best


def compressor() -> zlib._Compress:
    return zlib.compressobj(wbits=-DEFLATE_WINDOW_BITS, memLevel=DEFLATE_MEM_LEVEL)


def compressor_bytes(count: int = 20) -> float:
    """압축기 하나가 잡는 메모리(바이트): count개를 만들어 한 번씩 쓴 뒤의 평균."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [compressor() for _ in range(count)]
        for each in kept:
            each.compress(b'{"type":"tick"}')
            each.flush(zlib.Z_SYNC_FLUSH)
        return (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()


def compare_formats(frames: list[str]) -> list[FormatResult]:
    """틱 프레임 표본으로 세 형식을 잽니다."""
    events = [json.loads(frame) for frame in frames]
    topics = {
        name: n for n, name in enumerate(dict.fromkeys(e["topic"] for e in events))
    }
    parts = [  # (앞 조각, seq, 뒤 조각): 레슨이 틱마다 한 번 만드는 것
        (
            f'{{"type":"tick","topic":"{e["topic"]}","seq":'.encode(),
            e["seq"],
            f',"value":{json.dumps(e["value"])},"ts":{json.dumps(e["ts"])}}}'.encode(),
        )
        for e in events
    ]
    texts = [head + str(seq).encode() + tail for head, seq, tail in parts]
    fields = [(topics[e["topic"]], e["seq"], e["value"], e["ts"]) for e in events]
    packed = [BINARY_TICK.pack(*f) for f in fields]
    squeezer = compressor()
    squeezed = [
        (squeezer.compress(text) + squeezer.flush(zlib.Z_SYNC_FLUSH))[:-4]
        for text in texts
    ]

    def build_json() -> int:
        for head, seq, tail in parts:
            _ = head + str(seq).encode() + tail  # 재는 대상이 이 식입니다
        return len(parts)

    def build_binary() -> int:
        for topic, seq, value, ts in fields:
            BINARY_TICK.pack(topic, seq, value, ts)
        return len(fields)

    def build_deflate() -> int:
        each = compressor()  # 연결 하나의 압축기
        for head, seq, tail in parts:
            each.compress(head + str(seq).encode() + tail)
            each.flush(zlib.Z_SYNC_FLUSH)
        return len(parts)

    def read_json() -> int:
        for text in texts:
            json.loads(text)
        return len(texts)

    def read_binary() -> int:
        for data in packed:
            BINARY_TICK.unpack(data)
        return len(packed)

    def read_deflate() -> int:
        each = zlib.decompressobj(wbits=-DEFLATE_WINDOW_BITS)
        for data in squeezed:
            json.loads(each.decompress(data + SYNC_TAIL))
        return len(squeezed)

    def wire(payloads: list[bytes]) -> float:
        return sum(len(p) + frame_header(len(p)) for p in payloads) / len(payloads)

    return [
        FormatResult(
            "JSON 텍스트(지금)",
            wire(texts),
            cost_per_item(build_json),
            cost_per_item(read_json),
            0.0,
        ),
        FormatResult(
            f"이진 struct({BINARY_TICK.size}바이트)",
            wire(packed),
            cost_per_item(build_binary),
            cost_per_item(read_binary),
            0.0,
        ),
        FormatResult(
            "JSON + deflate 압축",
            wire(squeezed),
            cost_per_item(build_deflate),
            cost_per_item(read_deflate),
            compressor_bytes(),
        ),
    ]


# =============================================================================
# 결과 표
# =============================================================================


def pooled(run: ConfigRun) -> SliceResult:
    """모든 토막을 합친 결과. 비율 값은 토막 시간으로 가중 평균합니다."""
    slices = run.slices
    elapsed = sum(s.elapsed for s in slices)

    def weighted(values: Iterable[float]) -> float:
        return sum(v * s.elapsed for v, s in zip(values, slices, strict=True)) / elapsed

    return SliceResult(
        0,
        sum(s.ticks for s in slices),
        sorted(x for s in slices for x in s.latencies),
        elapsed,
        sum(s.gaps for s in slices),
        sum(s.dropped for s in slices),
        sum(s.server_dropped for s in slices),
        worst(s.lag for s in slices),
        worst(s.rss for s in slices),
        weighted(s.server_cpu for s in slices),
        worst(s.others for s in slices),
        [worst(max(s.generator_cpu) for s in slices)],
        max(s.closed for s in slices),
    )


Metric = Callable[[SliceResult], float]
COMPARED: tuple[tuple[str, Metric, Callable[[float], str]], ...] = (
    ("전달(틱/초)", lambda s: s.deliveries, lambda v: f"{v:,.0f}"),
    ("지연 p50", lambda s: s.p(50), seconds),
    ("지연 p99", lambda s: s.p(99), seconds),
    ("서버 CPU", lambda s: s.server_cpu, lambda v: percent(v, 1)),
    ("이벤트 루프 지연(최대)", lambda s: s.lag, seconds),
)
SUMMARY_COLUMNS = (28, 14, 14, 10)


def summary_row(*cells: str) -> str:
    """요약 표의 한 줄: 항목, 멈춤 없음, 멈춤 K명, 비율, 범위."""
    return table_row(cells, SUMMARY_COLUMNS)


def shown(value: float, fmt: Callable[[float], str]) -> str:
    return "-" if math.isnan(value) else fmt(value)


def slice_ratios(study: Study, metric: Metric) -> list[float]:
    """토막마다 멈춤 K명 ÷ 멈춤 없음. 기준이 0이거나 모르면 nan."""
    calm, stalled = study.runs
    return [
        metric(s) / metric(c) if metric(c) else math.nan
        for c, s in zip(calm.slices, stalled.slices, strict=True)
    ]


def print_report(
    study: Study, formats: list[FormatResult], args: argparse.Namespace
) -> None:
    calm, stalled = study.runs
    whole = {run.key: pooled(run) for run in study.runs}
    say()
    say(f"결과: 토막 {args.slices}쌍을 합친 값입니다. 비율은 토막마다 낸")
    say(f"{stalled.label} ÷ {calm.label}의 중앙값이고, 범위는 그 최솟값~최댓값입니다.")
    header = summary_row("항목", calm.label, stalled.label, "비율", "범위")
    say(header)
    say("─" * (display_width(header) + 8))
    for title, metric, fmt in COMPARED:
        values = (shown(metric(whole[r.key]), fmt) for r in study.runs)
        say(summary_row(title, *values, *ratio_cells(slice_ratios(study, metric))))
    rows: tuple[tuple[str, Callable[[SliceResult], str]], ...] = (
        ("잃은 틱(seq 빈틈)", lambda s: f"{s.gaps:,}"),
        ("dropped 알림(빠른 구독자)", lambda s: f"{s.dropped:,}"),
        ("서버가 버린 메시지", lambda s: shown(s.server_dropped, "{:,.0f}".format)),
        ("서버 RSS(최대)", lambda s: mebibytes(s.rss)),
        ("다른 프로그램 CPU 최대", lambda s: percent(s.others)),
        ("부하 발생기 CPU 최대", lambda s: percent(s.generator_cpu[0])),
    )
    for title, cell in rows:
        say(summary_row(title, *(cell(whole[r.key]) for r in study.runs)))
    say()
    print_stalled(study)
    p99 = ratio_cells(slice_ratios(study, lambda s: s.p(99)))
    say(
        f"지연 p99 비율({stalled.label} ÷ {calm.label}): {p99[0]} (범위 {p99[1]}, "
        f"토막 {args.slices}쌍; 목표는 {P99_TARGET:g}배 이내)"
    )
    peak = worst(whole[r.key].rss for r in study.runs)
    say(
        f"서버 RSS: 구독자가 붙기 전 {mebibytes(study.rss_idle)}, 측정 중 최대 "
        f"{mebibytes(peak)} (목표는 {RSS_TARGET:,}바이트 = "
        f"{mebibytes(RSS_TARGET)} 미만)"
    )
    print_detection(study)
    print_formats(formats, whole[calm.key].deliveries)
    print_notes(study, whole)


def print_stalled(study: Study) -> None:
    """멈춘 구독자: 닫히기까지 걸린 시간과 받은 닫기 프레임."""
    stalled = study.runs[1]
    reports = [s.stall for s in stalled.slices if s.stall is not None]
    if not reports:
        say("멈춘 구독자가 없어(--slow 0) 닫히기까지의 시간은 재지 않았습니다.")
        return
    times = sorted(t for r in reports for t in r.evicted_after)
    opened = sum(r.opened for r in reports)
    closes: Counter[str] = Counter()
    for report in reports:
        closes.update(report.closes)
    spread = (
        f"중앙값 {seconds(percentile(times, 50))}, 범위 "
        f"{seconds(times[0])}~{seconds(times[-1])}"
        if times
        else "아무도 내보내지지 않음"
    )
    say(
        f"멈춘 구독자 {stalled.slow}명 × 토막 {len(reports)}개 = {opened}명: 읽기를 "
        f"멈춘 뒤 서버가 내보내기까지 {spread} (목표는 {CLOSE_TARGET:g}초 이내)"
    )
    if len(times) < opened:
        say(
            f"  {opened - len(times)}명은 {STALL_DEADLINE:g}초 안에 내보내지지 "
            "않았습니다."
        )
    listed = ", ".join(f"{what} {count}개" for what, count in closes.most_common())
    say(f"  받은 닫기 프레임(종료 코드 이유): {listed}")
    counted = study.metrics.get("stream_slow_subscribers_closed_total")
    if counted is not None:  # 레슨이 따로 세는 값: 위의 수와 맞는지 봅니다
        say(f"  서버의 stream_slow_subscribers_closed_total: {counted:,.0f}")


def detection_value(value: object) -> str:
    """/healthz의 precision, recall 값을 소수 둘째 자리로. 없으면 "-".

    >>> detection_value(0.9523), detection_value(None), detection_value(1)
    ('0.95', '-', '1.00')
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2f}"
    return "-"


def print_detection(study: Study) -> None:
    """이상 탐지기의 정밀도와 재현율(서버가 심은 정답과 맞춰 본 값)."""
    health, metrics = study.health, study.metrics
    uptime = health.get("uptime")
    since = f"{uptime:g}초" if isinstance(uptime, (int, float)) else "시작한 뒤"
    injected = metrics.get("stream_anomalies_injected_total", math.nan)
    events = metrics.get("stream_anomalies_total", math.nan)
    say(
        f"이상 탐지(서버가 켜진 뒤 {since} 동안, 서버가 심은 정답과 맞춰 본 값): "
        f"심은 이상 {shown(injected, '{:,.0f}개'.format)}, anomaly 이벤트 "
        f"{shown(events, '{:,.0f}개'.format)}, 정밀도 "
        f"{detection_value(health.get('precision'))}, 재현율 "
        f"{detection_value(health.get('recall'))}"
    )


FORMAT_COLUMNS = (24, 14, 14, 12, 14)


def print_formats(formats: list[FormatResult], deliveries: float) -> None:
    say()
    if not formats:
        say("메시지 형식: 틱 표본이 없어 비교하지 않았습니다.")
        return
    say(
        f"메시지 형식: 받은 틱 {SAMPLE_TICKS:,}개 이하의 표본으로 이 스크립트 안에서 "
        "잰 값입니다(레슨 서버는 JSON 텍스트, 압축 끔)."
    )
    titles = ("형식", "틱당 바이트", "만들기/전달", "읽기/틱", "연결당 상태")
    header = table_row([*titles, f"{deliveries:,.0f}건/초면"], FORMAT_COLUMNS)
    say(header)
    say("─" * (display_width(header) + 4))
    for result in formats:
        state = f"{result.state / 1024:.1f} KiB" if result.state else "없음"
        cells = (
            result.label,
            f"{result.wire:.1f}바이트",
            f"{result.build * 1e6:.2f}μs",
            f"{result.read * 1e6:.2f}μs",
            state,
            f"한 코어의 {percent(result.build * deliveries, 1)}",
        )
        say(table_row(cells, FORMAT_COLUMNS))
    say(
        "틱당 바이트는 WebSocket 프레임 머리를 넣고 TCP/IP 머리는 뺀 값, 마지막 칸은 "
        "만들기 비용에 이 실행의 전달(건/초)을 곱한 값입니다."
    )


def print_notes(study: Study, whole: dict[str, SliceResult]) -> None:
    """표 아래의 참고 줄: 잃은 틱, 닫힌 빠른 구독자, 서버의 표준 오류."""
    for run in study.runs:
        result = whole[run.key]
        if result.gaps or result.dropped:
            say(
                f"참고: {run.label} 토막에서 빠른 구독자가 틱 {result.gaps:,}개를 "
                f"잃었습니다(dropped 알림 {result.dropped:,}개). 서버가 따라가지 "
                "못했거나 부하 발생기가 늦게 읽었습니다."
            )
    closed = max(whole[r.key].closed for r in study.runs)
    if closed:
        say(f"참고: 빠른 구독자 연결 {closed:,}개가 측정 중에 닫혔습니다.")


def print_server_log(lines: list[str]) -> None:
    if lines:
        say(
            f"참고: 서버가 표준 오류에 {len(lines):,}줄을 남겼습니다. "
            f"첫 줄: {printable(lines[0])}"
        )


def saturated_slices(study: Study) -> list[str]:
    """부하 발생기 프로세스가 포화된 토막(과 1초 넘게 걸린 연결 구간)."""
    found = []
    if study.connect_cpu > SATURATED:
        found.append(f"연결 {study.connect_cpu:.0%}")
    for run in study.runs:
        for s in run.slices:
            if max(s.generator_cpu) > SATURATED:
                found.append(
                    f"{run.label} 토막 {s.slice_id} {max(s.generator_cpu):.0%}"
                )
    return found


def busy_slices(study: Study) -> list[str]:
    """다른 프로그램이 CPU를 많이 쓴 토막."""
    return [
        f"{run.label} 토막 {s.slice_id} {s.others:.0%}"
        for run in study.runs
        for s in run.slices
        if s.others > BUSY
    ]


# =============================================================================
# 실행: 옵션, 정리, 종료 코드
# =============================================================================


def run_bench(args: argparse.Namespace) -> int:
    fast = args.clients - args.slow
    args.processes = min(args.processes, fast)
    needed = max(math.ceil(fast / args.processes), args.slow) + 256
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
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    per_client = args.topics * args.rate
    say("04 스트리밍 서버 측정: 멈춘 구독자가 있을 때와 없을 때")
    say(
        f"  구독자 {args.clients:,}명(그중 멈춘 구독자 {args.slow}명), 토픽 "
        f"{args.topics}개 × 초당 {args.rate:g}틱 = 구독자마다 초당 {per_client:g}틱"
    )
    say(
        f"  토막 {args.slices}쌍: 토막마다 {seconds(args.duration)}, 멈춤 토막은 멈춘 "
        f"구독자가 모두 닫힐 때까지가 더 길면 그때까지(길어도 {STALL_DEADLINE:g}초)"
    )
    say(
        f"  부하 발생기 프로세스 {args.processes}개 + 멈춘 구독자 프로세스 1개, "
        f"CPU {os.cpu_count()}개, 부하 평균 "
        + (" / ".join(f"{x:.2f}" for x in load) if load else "-")
    )
    port = free_port()
    command = server_command(port, args)
    say(f"  서버: python {' '.join([LESSON.name, *command[2:]])}")
    say("  지연 시간 = 받은 때의 time.time() - 틱의 ts(서버가 틱을 만든 때의 값)")
    say()
    study = Study(
        [
            ConfigRun("calm", "멈춤 없음", 0),
            ConfigRun("stalled", f"멈춤 {args.slow}명", args.slow),
        ],
        fast,
    )
    workers: Workers | None = None
    server: ServerProcess | None = None
    try:
        workers = Workers(args.processes)
        server = ServerProcess("스트리밍 서버", command, port)
        workers.watched = [server]
        run_measurements(workers, server, study, args)
    except (BenchError, OSError) as exc:
        print(f"\n측정하지 못했습니다. {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        stop_everything(server, workers)
    formats = compare_formats(study.sample) if study.sample else []
    print_report(study, formats, args)
    print_server_log(server.stderr_lines())
    return conclude(study, time.perf_counter() - started)


def conclude(study: Study, elapsed: float) -> int:
    """측정이 유효한지 한 줄로 말하고 종료 코드를 돌려줍니다."""
    busy = busy_slices(study)
    if busy:
        say(
            f"주의: 다른 프로그램이 한 코어의 {BUSY:.0%}를 넘게 썼습니다"
            f"({', '.join(busy)}). 그 토막의 숫자에는 CPU를 나눠 쓴 영향이 섞여 "
            "있습니다. 컴퓨터가 한가할 때 다시 재 보세요."
        )
    saturated = saturated_slices(study)
    if saturated:
        say(
            f"무효: 부하 발생기 프로세스가 한 코어의 {SATURATED:.0%}를 넘게 썼습니다"
            f"({', '.join(saturated)}). 이 숫자는 서버가 아니라 부하 발생기를 잰 "
            "것입니다. --processes를 늘리거나, --clients, --topics, --rate를 줄이거나, "
            "컴퓨터가 한가할 때 다시 실행하세요."
        )
        return EXIT_INVALID
    highest = max(max(s.generator_cpu) for run in study.runs for s in run.slices)
    say(
        f"유효: 모든 토막에서 부하 발생기 프로세스가 한 코어의 {SATURATED:.0%} "
        f"아래였습니다(최대 {highest:.0%}). 측정에 {seconds(elapsed)} 걸렸습니다."
    )
    return 0


def stop_everything(server: ServerProcess | None, workers: Workers | None) -> None:
    """서버를 먼저(1001로 닫게) 멈추고, 그다음 부하 발생기를 끝냅니다."""
    with signals_ignored(signal.SIGINT, signal.SIGTERM):
        if server is not None:
            server.terminate()
            server.wait_or_kill()
        if workers is not None:
            workers.stop()


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
    kind: Callable[[str], float], most: float = math.inf, *, zero: bool = False
) -> Callable[[str], float]:
    """0보다 크고(zero면 0 이상) most 이하인 유한한 수만 받는 argparse 타입.

    >>> positive(int)("3"), positive(float)("0.5"), positive(int, zero=True)("0")
    (3, 0.5, 0)
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
        if zero and number == 0:
            return number
        if not 0 < number < math.inf:  # nan은 어떤 비교도 참이 아니라 여기서 걸립니다
            bound = "0 이상의" if zero else "0보다 큰"
            raise argparse.ArgumentTypeError(f"'{value}': {bound} 수여야 합니다")
        if number > most:
            raise argparse.ArgumentTypeError(f"'{value}': {most:g} 이하여야 합니다")
        return number

    return check


def build_parser() -> KoreanArgumentParser:
    parser = KoreanArgumentParser(
        prog=PROG,
        description=(
            "04 스트리밍 서버에 빠른 구독자와 멈춘 구독자를 붙여, 멈춘 구독자가 있는\n"
            "토막과 없는 토막을 번갈아 재고 비율을 토막 사이의 범위와 함께 보여 줍니다."
        ),
        epilog=(
            "예시:\n"
            f"  {PROG}                                  # 200명, 20명 멈춤\n"
            f"  {PROG} --clients 60 --slow 6 --duration 3  # 작게\n"
            f"  {PROG} --processes 4                    # 부하 발생기를 나눔\n\n"
            "종료 코드: 0 마침, 1 측정하지 못함, 2 잘못된 옵션,\n"
            "           3 무효(부하 발생기 포화), 130 Ctrl+C, 143 SIGTERM"
        ),
    )
    options: tuple[tuple[str, Callable[[str], float], float, str], ...] = (
        ("--clients", positive(int, 5000), 200, "구독자 수(멈춘 구독자 포함)"),
        ("--slow", positive(int, 5000, zero=True), 20, "그중 멈춘 구독자 수"),
        ("--topics", positive(int, MAX_TOPICS), 10, "토픽 수(구독자는 모두 구독)"),
        ("--rate", positive(float, MAX_RATE), 10, "토픽마다 초당 틱 수"),
        (
            "--duration",
            positive(float, 600),
            7,
            "토막의 길이(초, 멈춤은 더 길 수 있음)",
        ),
        ("--slices", positive(int, 100), 3, "두 구성을 번갈아 재는 토막 쌍의 수"),
        ("--processes", positive(int, 64), 2, "빠른 구독자의 부하 발생기 프로세스 수"),
        (
            "--anomaly-rate",
            positive(float, 600, zero=True),
            10,
            "토픽마다 1분에 심는 이상",
        ),
    )
    for flag, kind, default, text in options:
        parser.add_argument(
            flag, type=kind, default=default, help=f"{text} (기본: {default:g})"
        )
    return parser


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.slow >= args.clients:
        parser.error(
            f"--slow: 멈춘 구독자 수({args.slow})는 --clients({args.clients})보다 "
            "작아야 합니다(빠른 구독자가 적어도 한 명)"
        )
    signal.signal(signal.SIGTERM, raise_interrupted)  # 정리(finally)를 거쳐 끝나게
    try:
        return run_bench(args)
    except (KeyboardInterrupt, Interrupted) as exc:
        print("\n중단했습니다. 서버와 부하 발생기를 모두 멈췄습니다.", file=sys.stderr)
        return 128 + exc.args[0] if isinstance(exc, Interrupted) else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
