"""02_websocket_basics.py: 서버와 클라이언트를 학습자처럼 실행해 동작을 확인합니다.

- 1절의 바이트(sans-I/O), 두 터미널(server + client), 대화형 클라이언트, 재연결 규칙
- 브로드캐스트는 방의 모두(보낸 사람 포함)에게 정확히 한 번, 읽지 않는 클라이언트는 끊김
- /healthz 200, 1009, 403, 404, 1003, 1007, 1002, 인사 없는 끊김, open_timeout
- 남용에 버팀(8번 이슈): ping 홍수의 메모리, 정원 503, 부하 속 SIGTERM,
  겹친 헤더 400, 기록 속 제어 문자
- SIGINT/SIGTERM: 클라이언트는 1001을 받고 서버는 0으로 곧 끝남
- 남이 만든 클라이언트(Node 내장 WebSocket), demo 종료 코드, 메뉴
"""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import re
import signal
import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidStatus,
)
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.conftest import (
    LessonProcess,
    assert_no_traceback,
    get_free_port,
    load_lesson,
    rss_bytes,
    run_lesson,
    run_node,
    wait_for_port,
)

FILE = "02_websocket_basics.py"
lesson = load_lesson(FILE)
MIB = 1024 * 1024
UPGRADE_HEADERS = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
PING = b"\x89\xfd\x00\x00\x00\x00" + b"x" * 125  # 마스킹 키 0인 ping, 내용 125바이트


def start_server(port: int, *options: str) -> LessonProcess:
    """server 모드를 띄우고 포트가 열릴 때까지 기다립니다(with로 정리합니다)."""
    server = LessonProcess(FILE, "server", "--port", str(port), *options)
    try:
        wait_for_port(port, process=server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_for_count(process: LessonProcess, text: str, count: int) -> None:
    """출력에 text가 count번 나올 때까지 기다립니다."""
    deadline = time.monotonic() + 30
    while process.stdout.count(text) < count:
        if time.monotonic() > deadline:
            pytest.fail(
                f"{text!r}가 {count}번 나오지 않았습니다.\n{process.describe()}"
            )
        time.sleep(0.05)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[tuple[LessonProcess, int]]:
    """서버를 죽이지 않는 검사들이 함께 쓰는 서버 하나."""
    port = get_free_port()
    server = start_server(port)
    try:
        yield server, port
    finally:
        server.stop()


def raw_upgrade(
    port: int, path: str = "/echo", rcvbuf: int | None = None
) -> socket.socket:
    """라이브러리 없이 핸드셰이크만 손으로 합니다(망가진 프레임, RST, 홍수 실험용)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:  # 먼 곳의 클라이언트처럼 작은 받기 버퍼(TESTING.md)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{UPGRADE_HEADERS}\r\n"
    sock.sendall(request.encode())
    response = b""
    while b"\r\n\r\n" not in response:  # 한 바이트씩: 응답 뒤의 프레임을 먹지 않게
        chunk = sock.recv(1)
        assert chunk, response
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in response  # RFC 6455의 예와 같은 값
    sock.settimeout(None)
    return sock


def http_exchange(port: int, request: bytes) -> tuple[int, str]:
    """날 HTTP 요청을 보내고 (상태 코드, 본문)을 돌려줍니다(서버가 닫을 때까지 읽음)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace")


def closed_with(websocket: ClientConnection) -> int | None:
    """다음 recv()가 연결 종료로 끝날 때 받은 종료 코드."""
    with pytest.raises((ConnectionClosedOK, ConnectionClosedError)) as caught:
        websocket.recv(timeout=10)
    return caught.value.rcvd.code if caught.value.rcvd else None


def text_frame(text: str) -> bytes:
    """마스킹 키 0으로 마스킹한(내용은 그대로인) 텍스트 프레임(64 KiB 미만)."""
    payload = text.encode()
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    else:  # 126: 길이는 뒤따르는 2바이트
        length = bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return b"\x81" + length + b"\0\0\0\0" + payload


class Flooder:
    """프레임을 쉬지 않고 보내는 날 소켓 클라이언트(스레드). 닫기 프레임에 답하지 않음.

    read=False면 아무것도 읽지 않고(서버의 답이 쌓임), True면 받은 것을 버립니다.
    """

    def __init__(
        self, port: int, path: str, frame: bytes, *, read: bool, rcvbuf: int | None
    ) -> None:
        self.sock = raw_upgrade(port, path, rcvbuf)
        self.batch, self.sent = frame * 200, 0
        self.cut, self.stopping = threading.Event(), False
        self.threads = [threading.Thread(target=self._send, daemon=True)]
        if read:
            self.threads.append(threading.Thread(target=self._read, daemon=True))

    def start(self) -> Flooder:
        for thread in self.threads:
            thread.start()
        return self

    def _send(self) -> None:
        while not self.stopping:
            try:
                self.sock.sendall(self.batch)
            except OSError:  # 서버가 끊음(RST)
                if not self.stopping:
                    self.cut.set()
                return
            self.sent += 200

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while not self.stopping and self.sock.recv(1 << 20):
                pass

    def stop(self) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # 막혀 있는 sendall/recv를 깨움
        for thread in self.threads:
            thread.join(timeout=5)
        self.sock.close()


# ---------------------------------------------------------------------------
# 순수 함수, doctest, 1절(네트워크 없음)
# ---------------------------------------------------------------------------


def test_doctests_pass() -> None:
    result = doctest.testmod(lesson)
    assert result.attempted >= 10
    assert result.failed == 0


def test_accept_key_matches_the_rfc_example() -> None:
    # RFC 6455 1.3절의 예(레슨의 doctest는 다른 키를 씁니다)
    assert (
        lesson.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    )


def test_section_one_shows_real_handshake_and_frame_bytes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lesson.demo_01_what_is_websocket()
    out = capsys.readouterr().out
    assert "HTTP/1.1 101 Switching Protocols" in out
    assert "일치: True" in out
    assert "81 06 ec 95 88 eb 85 95" in out  # 서버가 보낸 '안녕'(마스킹 없음)
    assert re.search(
        r"클라이언트 → 서버, 텍스트 '안녕'\s+81 86( [0-9a-f]{2}){10}$", out, re.M
    )
    assert "88 0b 03 e8" in out  # 1000을 담은 닫기 프레임의 답
    assert "클라이언트가 본 종료: 1000 정상 종료, 이유 '안녕히'" in out


def test_log_lines_escape_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lesson.server_log("GET /nope\x1b[2J\x07 (Origin: http://e\x9bvil)")
    out = capsys.readouterr().out
    assert not {"\x1b", "\x9b", "\x07"} & set(out)
    assert r"/nope\x1b[2J\x07" in out
    assert r"e\x9bvil" in out


# ---------------------------------------------------------------------------
# 두 터미널: server + client, 재연결 규칙
# ---------------------------------------------------------------------------


def test_server_and_client_message_round_trip(free_port: int) -> None:
    with start_server(free_port) as server:
        result = run_lesson(
            FILE, "client", "--port", str(free_port), "--message", "안녕 서버"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "<<< 안녕 서버" in result.stdout
        assert_no_traceback(result.stderr)
        server.wait_for_output("1000 정상 종료")  # 클라이언트가 인사하고 닫음


def test_client_started_first_gets_a_hint_and_retries(free_port: int) -> None:
    port = str(free_port)
    with LessonProcess(
        FILE, "client", "--port", port, "--message", "먼저 왔어요"
    ) as client:
        hint = client.wait_for_output("다시 연결합니다")
        assert f"server --port {port}" in hint  # 서버를 켜는 명령을 알려 줌
        with start_server(free_port):
            assert client.wait(timeout=30) == 0, client.describe()
        assert "<<< 먼저 왔어요" in client.stdout
        assert_no_traceback(client.stderr)


def test_interactive_client_sends_pings_and_quits(free_port: int) -> None:
    with (
        start_server(free_port) as server,
        LessonProcess(FILE, "client", "--port", str(free_port), stdin=True) as client,
    ):
        client.wait_for_output("연결했습니다")
        client.send_line("한 줄씩 보냅니다")
        client.wait_for_output("<<< 한 줄씩 보냅니다")
        client.send_line("/ping")
        client.wait_for_output("왕복 시간")
        client.send_line("/quit")
        assert client.wait(timeout=15) == 0, client.describe()
        assert_no_traceback(client.stderr)
        server.wait_for_output("1000 정상 종료")


@pytest.mark.slow  # 서버를 다시 켜는 시나리오(CLAUDE.md)
def test_client_reconnects_when_the_server_restarts(free_port: int) -> None:
    port = str(free_port)
    with LessonProcess(FILE, "client", "--port", port, stdin=True) as client:
        with start_server(free_port) as first:
            client.wait_for_output("연결했습니다")
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=10) == 0, first.describe()
        # 1001(떠남)은 다시 해 볼 종료: 기다릴 시간을 알리고 다시 연결합니다
        client.wait_for_output("1001 떠남")
        client.wait_for_output("초 뒤 다시 연결합니다")
        with start_server(free_port):
            wait_for_count(client, "연결했습니다", 2)
            client.send_line("돌아왔어요")
            client.wait_for_output("<<< 돌아왔어요", timeout=30)
            client.close_stdin()  # 입력 끝: 클라이언트가 스스로 끝냄
            assert client.wait(timeout=15) == 0, client.describe()
        assert_no_traceback(client.stderr)


def test_interactive_client_quits_while_the_server_is_down(free_port: int) -> None:
    """재연결을 기다리는 동안에도 /quit이 들어야 합니다(메뉴로 돌아가는 길)."""
    port = str(free_port)
    with LessonProcess(FILE, "client", "--port", port, stdin=True) as client:
        client.wait_for_output("다시 연결합니다")
        client.send_line("/quit")
        assert client.wait(timeout=10) == 0, client.describe()
        assert "연결하지 못한 채 끝냅니다" in client.stdout
        assert_no_traceback(client.stderr)


def test_message_the_server_refuses_is_not_resent(
    shared_server: tuple[LessonProcess, int],
) -> None:
    """1009(정책 위반)로 거절된 메시지는 다시 보내지 않고 이유를 알리고 1로 끝납니다."""
    server, port = shared_server
    before = server.stdout.count("입장 ")
    too_big = "x" * (lesson.MAX_SIZE + 1)
    started = time.monotonic()
    result = run_lesson(FILE, "client", "--port", str(port), "--message", too_big)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 15  # 30초 시간제한까지 되풀이하지 않음
    assert "1009 메시지가 너무 큼" in result.stderr
    assert "KiB 이하로 줄여" in result.stderr  # 무엇을 하면 되는지
    assert "다시 연결합니다" not in result.stdout
    assert_no_traceback(result.stdout + result.stderr)
    server.wait_for_output("서버가 보낸 1009")
    assert server.stdout.count("입장 ") - before == 1  # 연결은 한 번뿐


def test_interactive_client_ends_on_a_policy_close(
    shared_server: tuple[LessonProcess, int],
) -> None:
    """대화형 클라이언트도 1009 뒤에는 다시 연결하지 않고 한국어로 알리고 끝냅니다."""
    _, port = shared_server
    with LessonProcess(FILE, "client", "--port", str(port), stdin=True) as client:
        client.wait_for_output("연결했습니다")
        client.send_line("x" * (lesson.MAX_SIZE + 1))
        assert client.wait(timeout=15) == 1, client.describe()
        assert "1009 메시지가 너무 큼" in client.stderr
        assert "다시 연결합니다" not in client.stdout
        assert_no_traceback(client.stderr)


def test_menu_returns_after_a_client_that_ended_on_its_own(free_port: int) -> None:
    with (
        start_server(free_port),
        LessonProcess(FILE, env={"PORT": str(free_port)}, stdin=True) as menu,
    ):
        menu.wait_for_output("> ")
        menu.send_line("c")
        menu.wait_for_output("연결했습니다")
        menu.send_line("x" * (lesson.MAX_SIZE + 1))  # 서버가 1009로 닫음
        menu.wait_for_output("Enter를 누르면 메뉴로 돌아갑니다.")
        assert "1009" in menu.stderr
        menu.send_line("")
        wait_for_count(menu, "번호를 고르세요 > ", 2)  # 메뉴가 다시 나옴
        menu.send_line("q")  # 이 줄을 입력 스레드가 가로채지 않음
        assert menu.wait(timeout=15) == 0, menu.describe()
        assert menu.stdout.rstrip().endswith("종료합니다.")
        assert_no_traceback(menu.stderr)


def test_client_reports_an_unknown_path_in_korean(
    shared_server: tuple[LessonProcess, int],
) -> None:
    _, port = shared_server
    result = run_lesson(
        FILE, "client", "--port", str(port), "--path", "nope", "--message", "x"
    )
    assert result.returncode == 1
    assert_no_traceback(result.stdout + result.stderr)
    assert "HTTP 404" in result.stderr
    assert "/echo" in result.stderr  # 있는 경로를 알려 줌


# ---------------------------------------------------------------------------
# 브로드캐스트와 쓰기 버퍼 한도
# ---------------------------------------------------------------------------


def test_broadcast_reaches_every_client_exactly_once(free_port: int) -> None:
    with start_server(free_port) as server:
        uri = f"ws://127.0.0.1:{free_port}/broadcast"
        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(connect(uri)) for _ in range(3)]
            server.wait_for_output("지금 연결 3개")  # 셋 다 방에 들어감
            sent = [f"{n}번 클라이언트의 메시지" for n in range(3)]
            for websocket, text in zip(clients, sent, strict=True):
                websocket.send(text)
            for websocket in clients:  # 보낸 사람을 포함해 모두가 세 개씩
                got = [websocket.recv(timeout=5) for _ in sent]
                assert sorted(got) == sorted(sent)
                with pytest.raises(TimeoutError):  # 더 오는 것(중복)은 없음
                    websocket.recv(timeout=0.3)


def test_broadcast_drops_a_client_that_stopped_reading(free_port: int) -> None:
    """읽지 않는 클라이언트는 버퍼 한도에서 끊기고, 나머지는 모두 받습니다."""
    count, size = 40, 50_000  # 2MB: 한도(1 MiB)와 커널 버퍼를 넘김

    async def scenario(server: LessonProcess) -> int:
        uri = f"ws://127.0.0.1:{free_port}/broadcast"
        sock = await lesson.stalled_socket("127.0.0.1", free_port)
        async with (
            async_connect(uri, sock=sock, compression=None) as slow,
            async_connect(uri, compression=None) as fast,
        ):
            slow.transport.pause_reading()
            await asyncio.to_thread(server.wait_for_output, "지금 연결 2개")
            received = 0

            async def read_all() -> None:
                nonlocal received
                while received < count:
                    await fast.recv()
                    received += 1

            reader = asyncio.create_task(read_all())
            for n in range(count):
                await fast.send(f"{n:05d}" + "가" * (size // 3))
            await asyncio.wait_for(reader, 30)
            slow.transport.abort()
            return received

    with start_server(free_port) as server:
        assert asyncio.run(scenario(server)) == count
        server.wait_for_output("읽지 않는 클라이언트")


def test_ping_flood_that_never_reads_is_cut_off_with_bounded_memory(
    free_port: int,
) -> None:
    """8번 이슈의 8: pong을 읽지 않고 ping만 퍼부으면, 예전에는 RSS가 끝없이
    늘었습니다(6초에 100 MiB 넘게). 이제 쓰기 버퍼 한도에서 곧 끊깁니다."""
    with start_server(free_port) as server:
        pid = server.popen.pid
        before = peak = rss_bytes(pid)
        flooder = Flooder(free_port, "/echo", PING, read=False, rcvbuf=8192).start()
        try:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and not flooder.cut.is_set():
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.05)
        finally:
            flooder.stop()
        grown = (peak - before) / MIB
        assert flooder.cut.is_set(), f"ping {flooder.sent:,}개, RSS +{grown:.0f} MiB"
        assert grown < 16, f"RSS가 {grown:.1f} MiB 늘었습니다"
        server.wait_for_output("읽지 않는 클라이언트")
        assert "쓰기 버퍼" in server.stdout
        with urllib.request.urlopen(  # 서버는 멀쩡함
            f"http://127.0.0.1:{free_port}/healthz", timeout=5
        ) as response:
            assert response.status == 200


def test_connection_cap_answers_503_and_counts_handshakes_in_progress(
    free_port: int,
) -> None:
    uri = f"ws://127.0.0.1:{free_port}/echo"

    def refused() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as caught, connect(uri, open_timeout=10):
            pass
        return caught.value

    def connect_when_freed() -> ClientConnection:
        deadline = time.monotonic() + 10
        while True:  # 서버가 끊긴 연결을 알아채는 데 잠깐 걸립니다
            try:
                return connect(uri, open_timeout=10)
            except InvalidStatus:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    with start_server(free_port, "--max-clients", "2") as server:
        server.wait_for_output("정원 2명")
        # 핸드셰이크를 보내지 않고 TCP만 연 연결도 정원을 차지합니다
        idle = [socket.create_connection(("127.0.0.1", free_port)) for _ in range(2)]
        try:
            rejection = refused()
        finally:
            for sock in idle:
                sock.close()
        assert rejection.response.status_code == 503
        assert "정원" in rejection.response.body.decode()
        # 열린 WebSocket 연결 둘: 셋째는 503, 하나가 나가면 다시 들어옴
        with connect_when_freed() as first, connect_when_freed():
            assert refused().response.status_code == 503
            first.close()
            with connect_when_freed() as third:
                third.send("정원 안")
                assert third.recv(timeout=5) == "정원 안"
        assert_no_traceback(server.stdout + server.stderr)


LOADS = {  # 부하 이름 → (경로, 쉬지 않고 보낼 프레임, 클라이언트 수, 읽는지)
    "ping-flood-not-reading": ("/echo", PING, 1, False),
    "ping-flood-reading": ("/echo", PING, 2, True),
    "broadcast-flood-30": ("/broadcast", text_frame("x" * 100), 30, True),
    # 읽지 않는 에코 클라이언트: 서버의 쓰기 버퍼가 상한(32 KiB)을 넘어 멈춘 채라
    # 1001 닫기 프레임도 버퍼 뒤에서 기다립니다(라이브러리의 close_timeout 밖)
    "echo-reader-stalled": ("/echo", text_frame("x" * 16_000), 1, False),
    "half-sent-handshakes": ("/echo", b"", 3, False),  # open_timeout(10초)까지 붙잡음
}


@pytest.mark.parametrize("load", list(LOADS))
def test_sigterm_under_load_exits_within_the_grace(free_port: int, load: str) -> None:
    """8번 이슈의 9: 닫기 프레임에 답하지 않는 연결이 있어도 SIGTERM은
    SHUTDOWN_GRACE + 2초 안에 0으로 끝납니다(예전: 20초, 60초 넘게)."""
    path, frame, count, read = LOADS[load]
    with start_server(free_port) as server, contextlib.ExitStack() as stack:
        if not frame:  # 요청 줄과 헤더 하나만 보내고 빈 줄 없이 멈춘 핸드셰이크
            for _ in range(count):
                sock = stack.enter_context(
                    socket.create_connection(("127.0.0.1", free_port))
                )
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        else:  # 먼저 모두 연결하고(부하가 핸드셰이크를 막지 않게) 그다음 퍼붓기
            rcvbuf = None if read else 8192
            flooders = [
                Flooder(free_port, path, frame, read=read, rcvbuf=rcvbuf)
                for _ in range(count)
            ]
            for flooder in flooders:
                stack.callback(flooder.stop)
            server.wait_for_output(f"지금 연결 {count}개")
            for flooder in flooders:
                flooder.start()
        time.sleep(0.3 if load == "ping-flood-not-reading" else 1.0)  # 부하가 걸린 뒤
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        elapsed = time.monotonic() - started
    assert code == 0, server.describe()
    assert elapsed < lesson.SHUTDOWN_GRACE + 2, f"{elapsed:.1f}초 걸렸습니다"
    assert "1001을 보내고 닫았습니다" in server.stdout
    assert_no_traceback(server.stderr)


# ---------------------------------------------------------------------------
# 한계와 보안
# ---------------------------------------------------------------------------


def test_healthz_answers_plain_http(shared_server: tuple[LessonProcess, int]) -> None:
    _, port = shared_server
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/healthz", timeout=5
    ) as response:
        assert response.status == 200
        assert response.read() == b"ok\n"


def test_oversize_message_closes_with_1009(
    shared_server: tuple[LessonProcess, int],
) -> None:
    _, port = shared_server
    with connect(f"ws://127.0.0.1:{port}/echo") as websocket:
        websocket.send("x" * lesson.MAX_SIZE)  # 한도까지는 괜찮음
        assert len(websocket.recv(timeout=5)) == lesson.MAX_SIZE
        websocket.send("x" * (lesson.MAX_SIZE + 1))
        assert closed_with(websocket) == 1009


def test_foreign_origin_is_refused_with_403(
    shared_server: tuple[LessonProcess, int],
) -> None:
    server, port = shared_server
    uri = f"ws://127.0.0.1:{port}/echo"
    with (
        pytest.raises(InvalidStatus) as caught,
        connect(uri, origin=Origin("https://evil.example")),
    ):
        pass
    assert caught.value.response.status_code == 403
    assert "허용하지 않는 출처" in caught.value.response.body.decode()  # 한국어 본문
    server.wait_for_output("(Origin: https://evil.example) → 403")
    with connect(uri, origin=Origin(f"http://localhost:{port}")) as websocket:  # 허용
        websocket.send("같은 컴퓨터의 페이지")
        assert websocket.recv(timeout=5) == "같은 컴퓨터의 페이지"


def test_unknown_path_is_refused_with_404(
    shared_server: tuple[LessonProcess, int],
) -> None:
    _, port = shared_server
    with pytest.raises(InvalidStatus) as caught, connect(f"ws://127.0.0.1:{port}/nope"):
        pass
    assert caught.value.response.status_code == 404


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("Origin: http://localhost\r\nOrigin: https://evil.example\r\n", "Origin 헤더"),
        ("Host: other.example\r\n", "Host 헤더"),
        ("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version 헤더"),
        ("BROKEN-KEY", "핸드셰이크 요청이 잘못"),
    ],
    ids=["two-origins", "two-hosts", "two-versions", "malformed-key"],
)
def test_duplicate_or_malformed_headers_get_a_korean_400(
    shared_server: tuple[LessonProcess, int], extra: str, expected: str
) -> None:
    """8번 이슈의 10: Origin 두 개는 예전에 500과 트레이스백이었습니다."""
    server, port = shared_server
    headers = f"Host: 127.0.0.1:{port}\r\n{UPGRADE_HEADERS}"
    if extra == "BROKEN-KEY":  # 라이브러리가 찾아내는 잘못: 16바이트가 아닌 키
        headers = headers.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")
    else:
        headers += extra
    status, body = http_exchange(port, f"GET /echo HTTP/1.1\r\n{headers}\r\n".encode())
    assert status == 400, body
    assert expected in body
    server.wait_for_output("→ 400 Bad Request")
    assert_no_traceback(server.stdout + server.stderr)
    assert "process_request failed" not in server.stderr
    assert "process_response failed" not in server.stderr


def test_control_characters_in_path_and_origin_are_escaped_in_the_log(
    shared_server: tuple[LessonProcess, int],
) -> None:
    """8번 이슈의 11: ESC(경로)와 C1 바이트(Origin)가 기록에 날것으로 남지 않습니다."""
    server, port = shared_server
    status, _ = http_exchange(
        port,
        f"GET /nope\x1b[2J\x07 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(),
    )
    assert status == 404
    request = f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{UPGRADE_HEADERS}"
    status, _ = http_exchange(
        port, request.encode() + b"Origin: http://e\x9bvil\r\n\r\n"
    )
    assert status == 403
    server.wait_for_output(r"GET /nope\x1b[2J\x07 (Origin: 없음) → 404")
    server.wait_for_output(r"(Origin: http://e\x9bvil) → 403")
    output = server.stdout + server.stderr
    assert not {"\x1b", "\x07", "\x9b"} & set(output)
    assert_no_traceback(output)


@pytest.mark.parametrize(
    ("payload", "text", "code"),
    [(b"\x00\xff", None, 1003), (b"\xff\xfe", True, 1007)],
    ids=["binary-1003", "bad-utf8-1007"],
)
def test_bad_frames_close_the_connection_not_the_server(
    shared_server: tuple[LessonProcess, int],
    payload: bytes,
    text: bool | None,
    code: int,
) -> None:
    _, port = shared_server
    with connect(f"ws://127.0.0.1:{port}/echo") as websocket:
        websocket.send(payload, text=text)
        assert closed_with(websocket) == code
    with connect(f"ws://127.0.0.1:{port}/echo") as websocket:  # 서버는 멀쩡함
        websocket.send("괜찮아요?")
        assert websocket.recv(timeout=5) == "괜찮아요?"


def test_garbage_frame_gets_1002(shared_server: tuple[LessonProcess, int]) -> None:
    _, port = shared_server
    with raw_upgrade(port) as sock:
        sock.sendall(b"\xff\xff\xff\xff")  # 예약된 opcode와 RSV 비트: 프레임이 아님
        frame = sock.recv(4096)
    assert frame[0] == 0x88  # FIN + 닫기
    assert struct.unpack("!H", frame[2:4])[0] == 1002


def test_tcp_reset_is_logged_and_survived(
    shared_server: tuple[LessonProcess, int],
) -> None:
    server, port = shared_server
    sock = raw_upgrade(port)
    local_port = sock.getsockname()[1]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # SO_LINGER 0: FIN 대신 RST로 끊음
    leave = server.wait_for_output(f"퇴장 127.0.0.1:{local_port}")
    line = leave.split(f"퇴장 127.0.0.1:{local_port}", 1)[1].splitlines()[0]
    assert "1006" in line
    assert "ConnectionClosedError" in line
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/healthz", timeout=5
    ) as response:
        assert response.status == 200


def test_open_timeout_drops_a_silent_connection() -> None:
    async def scenario() -> float:
        server = lesson.lesson_server(lesson.Registry(), open_timeout=0.3)
        async with server:
            port = server.sockets[0].getsockname()[1]
            waited: float = await asyncio.wait_for(
                lesson.silent_connection("127.0.0.1", port), 10
            )
            return waited

    assert 0.2 < asyncio.run(scenario()) < 5  # 시간제한 전에 끊지 않고, 곧 끊음


def test_max_clients_must_be_a_positive_number() -> None:
    result = run_lesson(FILE, "server", "--max-clients", "0")
    assert result.returncode == 2
    assert "1 이상의 정수가 아닙니다" in result.stderr
    assert_no_traceback(result.stderr)


# ---------------------------------------------------------------------------
# 종료: SIGINT와 SIGTERM
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_signal_closes_clients_with_1001(free_port: int, sig: signal.Signals) -> None:
    with start_server(free_port) as server:
        uri = f"ws://127.0.0.1:{free_port}/echo"
        with connect(uri) as websocket:
            server.wait_for_output("지금 연결 1개")
            started = time.monotonic()
            server.send_signal(sig)
            assert server.wait(timeout=10) == 0, server.describe()
            assert time.monotonic() - started < 5  # 곧바로: 연결이 열려 있어도
            assert closed_with(websocket) == 1001  # 받아 둔 닫기 프레임
        assert "1001을 보내고 닫았습니다" in server.stdout
        assert_no_traceback(server.stderr)


# ---------------------------------------------------------------------------
# 남이 만든 클라이언트: Node의 내장 WebSocket
# ---------------------------------------------------------------------------


def test_node_websocket_round_trips_through_echo(
    shared_server: tuple[LessonProcess, int],
) -> None:
    server, port = shared_server
    script = (
        "const w = new WebSocket(process.argv[1]);"
        "w.onopen = () => w.send(process.argv[2]);"
        "w.onmessage = (e) => { console.log(e.data); w.close(); };"
        "w.onerror = () => process.exit(1);"
    )
    result = run_node(script, f"ws://127.0.0.1:{port}/echo", "노드에서 안녕")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "노드에서 안녕"
    # 브라우저와 Node의 close()는 코드 없이 닫습니다(1005): 라이브러리는 이것도 OK
    leave = server.wait_for_output("1005 ")
    line = leave.split("1005 ", 1)[1].splitlines()[0]
    assert "ConnectionClosedOK" in line


# ---------------------------------------------------------------------------
# demo와 메뉴
# ---------------------------------------------------------------------------


def test_demo_all_shows_every_outcome() -> None:
    result = run_lesson(FILE, "demo", "all", timeout=90)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stdout + result.stderr)
    out = result.stdout
    # 1절이 종료 코드 표를 출력하므로 번호만 찾으면 늘 통과합니다: 결과 줄을 찾습니다.
    for pattern in (
        r"퇴장 \S+ \(/echo\): 1000 정상 종료, 이유 '안녕히 계세요' "
        r"\(ConnectionClosedOK",
        r"퇴장 \S+ \(/echo\): 1006 [^\n]*\(ConnectionClosedError",
        r"쓰기 버퍼 [\d,]+바이트 > 한도 1,048,576바이트",
        r"\[클라이언트 C\] ping [\d,]+개를 보낸 뒤 서버가 끊었습니다",
        r"\[서버\] 퇴장 [^\n]*서버가 보낸 1011 [^\n]*keepalive ping timeout",
        r"\[클라이언트 B\] 루프가 풀린 뒤[^\n]*: 1011 ",
        r"65,537바이트 텍스트 → 닫힘 1009 ",
        r"이진 프레임 00 ff → 닫힘 1003 ",
        r"UTF-8이 아닌 텍스트 프레임 ff fe → 닫힘 1007 ",
        r"정원이 찬 뒤 접속 → HTTP 503 '정원",
        r"그 뒤에도 서버는 정상: '안녕' → 답 '안녕'",
        r"GET /healthz → HTTP/1.1 200 OK",
        r"없는 경로 /nope → HTTP/1.1 404 Not Found",
        r"낯선 Origin → HTTP/1.1 403 Forbidden, 본문 '허용하지 않는",
        r"Origin 두 개 → HTTP/1.1 400 Bad Request",
        r"GET /nope\\x1b\[2J \(Origin: 없음\) → 404",
        r"닫히지 않은 연결 1개를 끊었습니다",
        r"\[클라이언트\] 연결이 끊김: 1001 ",
        r"\[클라이언트\] <<< 메시지 4",
        r"8개 절을 ",
    ):
        assert re.search(pattern, out), pattern
    assert "\x1b" not in out  # 7절의 ESC도 글자로만 찍힘
    # 4절: gather는 읽지 않는 클라이언트에 막히고, broadcast는 그 버퍼를 키웁니다.
    gather = re.search(r"gather\(send\): (\d+)번째 메시지에서 멈춤", out)
    assert gather, out
    assert int(gather[1]) < lesson.FANOUT_MESSAGES
    every = ", ".join([str(lesson.FANOUT_MESSAGES)] * 3)
    assert (
        f"{lesson.FANOUT_MESSAGES}개 모두 보냄, 빠른 클라이언트가 받은 수 [{every}]"
        in out
    )
    gather_buffer, broadcast_buffer = (
        int(n.replace(",", ""))
        for n in re.findall(r"느린 연결의 버퍼 ([\d,]+)바이트", out)
    )
    assert broadcast_buffer > gather_buffer > 0


def test_menu_runs_a_demo_then_quits() -> None:
    result = run_lesson(FILE, input="2\nq\n", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<<< 안녕하세요" in result.stdout
    assert result.stdout.rstrip().endswith("종료합니다.")
