"""테스트 공용 도구.

레슨 불러오기, 빈 포트, 서브프로세스 실행, 서버 대기, 선택 구성 요소를 모았습니다.

레슨 파일은 서로 코드를 나누지 않지만, 테스트는 여기 있는 도구를 함께 씁니다.
테스트 파일에서는 ``from tests.conftest import ...``로 가져옵니다(tests는 패키지).

- ``load_lesson("01_asyncio_basics.py")``: 숫자로 시작하는 파일을 모듈로 불러옵니다.
- ``free_port()`` / ``free_port`` 픽스처: 지금 비어 있는 TCP 포트 번호.
- ``run_lesson(FILE, *args, input=..., env=...)``: 학습자처럼 서브프로세스로 실행.
  출력은 cp949로 인코딩하게 하고 cp949로 읽습니다: 모든 실행이 곧 cp949 검사입니다.
- ``LessonProcess`` / ``start_lesson(...)``: 서버처럼 오래 도는 모드를 띄우고,
  출력을 모으고, 시그널을 보내고, 반드시 정리합니다.
- ``wait_for_port(port, process=...)``: 서버가 포트를 열 때까지 기다립니다.
- ``require_component("node")``: 브라우저, PostgreSQL, Redis, Node 같은 진짜 구성 요소.
  로컬에 없으면 이유와 함께 건너뛰고, 환경 변수 ``CI``가 있으면 실패로 처리합니다.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
LESSON_FILES = sorted(p.name for p in ROOT.glob("[0-9][0-9]_*.py"))
CONSOLE_ENCODING = "cp949"  # 한국어 Windows 콘솔의 인코딩
DEFAULT_TIMEOUT = 60.0


# ---------------------------------------------------------------------------
# 레슨 불러오기
# ---------------------------------------------------------------------------


def load_lesson(filename: str) -> ModuleType:
    """숫자로 시작하는 레슨 파일을 importlib로 불러옵니다(한 번만)."""
    path = ROOT / filename
    name = "lesson_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"레슨을 불러올 수 없습니다: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclass 등이 sys.modules에서 모듈을 찾습니다
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# 포트
# ---------------------------------------------------------------------------


def get_free_port(host: str = "127.0.0.1") -> int:
    """운영체제에게 빈 포트를 받아 번호만 돌려줍니다(고정 포트는 충돌합니다)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> int:
    """테스트마다 새 빈 포트."""
    return get_free_port()


def wait_for_port(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 20.0,
    process: LessonProcess | None = None,
) -> None:
    """포트가 연결을 받을 때까지 기다립니다.

    프로세스가 먼저 끝나면 그 출력과 함께 실패합니다.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(
                f"서버가 포트 {port}를 열기 전에 끝났습니다 "
                f"(종료 코드 {process.returncode}).\n{process.describe()}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    detail = process.describe() if process is not None else ""
    pytest.fail(f"{timeout:.0f}초 안에 {host}:{port}가 열리지 않았습니다.\n{detail}")


# ---------------------------------------------------------------------------
# 서브프로세스로 실행하기
# ---------------------------------------------------------------------------


def lesson_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """레슨 서브프로세스의 환경: cp949 출력, 버퍼 없음, 경고는 오류로."""
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = CONSOLE_ENCODING
    env["PYTHONUNBUFFERED"] = "1"
    # 테스트 설정(filterwarnings = error)과 같은 기준을 서브프로세스에도 적용합니다.
    env["PYTHONWARNINGS"] = "error"
    for key in ("HOST", "PORT"):  # 바깥 환경이 레슨 기본값을 바꾸지 않게
        env.pop(key, None)
    if extra:
        env.update(extra)
    return env


def run_lesson(
    filename: str,
    *args: str,
    input: str | None = None,  # noqa: A002  subprocess.run과 같은 이름
    env: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    python: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """학습자처럼 ``python FILE ARGS``를 실행하고 끝날 때까지 기다립니다.

    ``input``이 None이면 표준 입력은 바로 닫힌 상태(EOF)입니다.
    """
    return subprocess.run(
        [python or sys.executable, str(ROOT / filename), *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        encoding=CONSOLE_ENCODING,
        env=lesson_env(env),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def assert_no_traceback(text: str) -> None:
    """예상된 실패는 한국어 한 문장으로 끝나야 하며 트레이스백을 보이면 안 됩니다."""
    assert "Traceback" not in text, text


class LessonProcess:
    """오래 도는 레슨 프로세스(서버, 클라이언트, 메뉴, 긴 데모).

    표준 출력과 표준 오류를 스레드가 조각(chunk) 단위로 읽어 모읍니다. 줄바꿈 없는
    프롬프트("번호를 고르세요 > ")도 바로 보입니다. ``with`` 블록을 나가면
    SIGTERM → 기다림 → SIGKILL 순서로 반드시 정리합니다(테스트가 실패해도).
    """

    def __init__(
        self,
        filename: str,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: bool = False,
        python: str | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        # prefix: 앞에 붙일 명령(예: ["prlimit", "--nofile=1024:1024"])
        self.args = [*prefix, python or sys.executable, str(ROOT / filename), *args]
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=lesson_env(env),
            cwd=ROOT,
        )
        self._chunks: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(stream, name), daemon=True)
            for stream, name in (
                (self.popen.stdout, "stdout"),
                (self.popen.stderr, "stderr"),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: IO[bytes] | None, name: str) -> None:
        assert stream is not None
        decoder = codecs.getincrementaldecoder(CONSOLE_ENCODING)(errors="strict")
        fd = stream.fileno()
        while chunk := os.read(fd, 65536):
            text = decoder.decode(chunk)
            with self._changed:
                self._chunks[name].append(text)
                self._changed.notify_all()
        tail = decoder.decode(b"", final=True)
        with self._changed:
            self._chunks[name].append(tail)
            self._changed.notify_all()

    # 상태와 출력 -----------------------------------------------------------
    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self._chunks["stdout"])

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self._chunks["stderr"])

    def describe(self) -> str:
        command = " ".join(self.args)
        return f"$ {command}\n[stdout]\n{self.stdout}\n[stderr]\n{self.stderr}"

    def wait_for_output(
        self, text: str, timeout: float = 20.0, *, stream: str = "stdout"
    ) -> str:
        """출력에 ``text``가 나타날 때까지 기다립니다(그때까지의 출력 반환)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                joined = "".join(self._chunks[stream])
                if text in joined:
                    return joined
                remaining = deadline - time.monotonic()
                finished = not any(r.is_alive() for r in self._readers)
                if remaining <= 0 or finished:
                    break
                self._changed.wait(min(remaining, 0.1))
        pytest.fail(f"출력에 {text!r}가 나타나지 않았습니다.\n{self.describe()}")

    # 입력과 시그널 ---------------------------------------------------------
    def send_line(self, line: str) -> None:
        assert self.popen.stdin is not None, "stdin=True로 시작해야 합니다"
        self.popen.stdin.write((line + "\n").encode(CONSOLE_ENCODING))
        self.popen.stdin.flush()

    def close_stdin(self) -> None:
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            self.popen.stdin.close()

    def send_signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        """끝나기를 기다리고 종료 코드를 돌려줍니다. 시간 안에 안 끝나면 실패."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{timeout:.0f}초 안에 끝나지 않았습니다.\n{self.describe()}")
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        """정리: 아직 돌고 있으면 SIGTERM, 5초 뒤에도 돌면 SIGKILL."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        for reader in self._readers:
            reader.join(timeout=5)
        self.close_stdin()
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> LessonProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def start_lesson() -> Iterator[Callable[..., LessonProcess]]:
    """``start_lesson(FILE, *args, env=..., stdin=...)``: 테스트 끝에 모두 정리."""
    started: list[LessonProcess] = []

    def start(filename: str, *args: str, **kwargs: object) -> LessonProcess:
        env = kwargs.pop("env", None)
        stdin = bool(kwargs.pop("stdin", False))
        prefix = kwargs.pop("prefix", ())
        assert not kwargs, f"모르는 인자: {kwargs}"
        assert env is None or isinstance(env, dict)
        assert isinstance(prefix, (list, tuple))
        process = LessonProcess(filename, *args, env=env, stdin=stdin, prefix=prefix)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


class RssWatch:
    """서버 프로세스의 RSS를 0.1초마다 재어 최댓값을 기록합니다(백그라운드 스레드)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = rss_bytes(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(OSError, ValueError, StopIteration):
                status = Path(f"/proc/{self.pid}/status").read_text()
                kib = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
                self.peak = max(self.peak, int(kib.split()[1]) * 1024)

    def stop(self) -> int:
        """측정을 멈추고 늘어난 최댓값(바이트)을 돌려줍니다."""
        self._stop.set()
        self._thread.join()
        return self.peak - self.start


async def far_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """먼 네트워크 너머의 클라이언트처럼 연결한 소켓(TESTING.md, 읽지 않는 클라이언트).

    루프백에서는 커널이 읽지 않는 소켓에도 몇 MiB를 받아 주므로 세그먼트를 1,460바이트,
    받기 버퍼를 8 KiB로 줄입니다. ``connect(uri, sock=...)``에 넘겨 씁니다.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return sock


def half_open_sockets(port: int, count: int) -> list[socket.socket]:
    """TCP 연결만 열고 아무것도 보내지 않는 소켓 count개(닫는 것은 부른 쪽의 몫)."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


def open_files(pid: int) -> int:
    """프로세스가 지금 연 파일 디스크립터 수(리눅스 /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def http_get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    """평범한 HTTP GET: (상태 코드, 헤더, 본문). 4xx, 5xx도 예외 없이 돌려줍니다."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def rss_bytes(pid: int) -> int:
    """리눅스 /proc에서 읽은 프로세스의 RSS(바이트). 읽을 수 없으면 건너뜁니다."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        pytest.skip("/proc/PID/status를 읽을 수 없습니다(리눅스 전용 측정)")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    pytest.skip("VmRSS 줄이 없습니다")


# ---------------------------------------------------------------------------
# 선택 구성 요소: 로컬에서는 건너뛰고, CI에서는 반드시 있어야 합니다
# ---------------------------------------------------------------------------


def in_ci() -> bool:
    """CI 환경인가? (.ci/run이 CI=1을 설정합니다)"""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(component: str, reason: str) -> NoReturn:
    """구성 요소가 없을 때: 로컬은 건너뜀, CI는 실패. (반환하지 않습니다)"""
    message = f"{component} 없음: {reason}"
    if in_ci():
        pytest.fail(f"CI에서는 {message} (.ci/run이 설치해야 합니다)")
    pytest.skip(message)


def _find_node() -> str | None:
    return shutil.which("node")


def _find_chromium() -> str | None:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists() or importlib.util.find_spec("playwright") is None:
        return None
    return path


def _find_postgres() -> str | None:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return str(bins[-1].parent) if bins else None


def _find_redis() -> str | None:
    return shutil.which("redis-server")


COMPONENTS: dict[str, tuple[Callable[[], str | None], str]] = {
    "node": (_find_node, "node가 PATH에 없습니다 (apt-get install nodejs)"),
    "chromium": (
        _find_chromium,
        "/usr/bin/chromium 또는 playwright가 없습니다 "
        "(apt-get install chromium; pip install playwright)",
    ),
    "postgresql": (
        _find_postgres,
        "/usr/lib/postgresql/*/bin이 없습니다 (apt-get install postgresql)",
    ),
    "redis": (_find_redis, "redis-server가 없습니다 (apt-get install redis-server)"),
}


def require_component(name: str) -> str:
    """진짜 구성 요소의 경로를 돌려줍니다. 없으면 건너뛰거나(로컬) 실패(CI)."""
    finder, hint = COMPONENTS[name]
    found = finder()
    if found is None:
        missing(name, hint)
    return found


# ---------------------------------------------------------------------------
# 남이 만든 클라이언트: Node의 내장 WebSocket, Chromium(Playwright)
# ---------------------------------------------------------------------------


def run_node(
    script: str, *args: str, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Node로 스크립트를 실행합니다(process.argv[1:]이 args). 내장 WebSocket을 켭니다.

    Node 22 이상은 WebSocket이 기본이고, Node 20은 --experimental-websocket이 필요.
    """
    node = require_component("node")
    probe = "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
    built_in = subprocess.run([node, "-e", probe], timeout=timeout, check=False)
    flags = [] if built_in.returncode == 0 else ["--experimental-websocket"]
    return subprocess.run(
        [node, *flags, "-e", script, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


# Debian chromium을 루트로, 인터넷 없이 띄우는 인자(TESTING.md). 백그라운드 네트워킹을
# 끄지 않으면 막힌 네트워크로 연결을 계속 시도합니다.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def chromium_page() -> Iterator[Page]:
    """Debian chromium을 Playwright로 띄운 새 페이지(없으면 건너뜀, CI에서는 실패)."""
    executable = require_component("chromium")
    from playwright.sync_api import sync_playwright  # 브라우저 테스트에서만 필요

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def find_python(minor: int) -> str | None:
    """실제로 실행되는 다른 CPython 3.N 인터프리터(버전별 분기 검사용). 없으면 None."""
    candidates: Sequence[str | None] = (
        *sorted(
            str(p)
            for p in Path.home().glob(f".pyenv/versions/3.{minor}*/bin/python3.{minor}")
        ),
        shutil.which(f"python3.{minor}"),  # pyenv shim은 설정에 따라 실패합니다
    )
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(minor):
            return candidate
    return None
