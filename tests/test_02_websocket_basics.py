"""02_websocket_basics.py: 서버와 클라이언트를 학습자처럼 실행해 동작을 확인합니다.

- 두 터미널 흐름(server + client --message), 대화형 클라이언트, 재연결
- 브로드캐스트는 방의 모두(보낸 사람 포함)에게 정확히 한 번
- /healthz 200, 1009, 403, 404, 1003, 1007, 1002, 인사 없는 끊김, open_timeout
- SIGINT/SIGTERM: 클라이언트는 1001을 받고 서버는 0으로 곧 끝남
- 남이 만든 클라이언트(Node 내장 WebSocket), bench 표, demo 종료 코드
"""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import re
import signal
import socket
import struct
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
    run_lesson,
    run_node,
    wait_for_port,
)

FILE = "02_websocket_basics.py"
lesson = load_lesson(FILE)


def start_server(port: int) -> LessonProcess:
    """server 모드를 띄우고 포트가 열릴 때까지 기다립니다(with로 정리합니다)."""
    server = LessonProcess(FILE, "server", "--port", str(port))
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


def raw_upgrade(port: int, path: str = "/echo") -> socket.socket:
    """라이브러리 없이 핸드셰이크만 손으로 합니다(망가진 프레임, RST 실험용)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, response
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in response  # RFC 6455의 예와 같은 값
    return sock


def duration(text: str) -> float:
    """레슨의 seconds()가 출력한 값을 초로 되돌립니다('42μs', '1.2ms', '1.50초')."""
    for unit, scale in (("μs", 1e-6), ("ms", 1e-3), ("초", 1.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * scale
    raise AssertionError(f"시간이 아닙니다: {text!r}")


def closed_with(websocket: ClientConnection) -> int | None:
    """다음 recv()가 연결 종료로 끝날 때 받은 종료 코드."""
    with pytest.raises((ConnectionClosedOK, ConnectionClosedError)) as caught:
        websocket.recv(timeout=10)
    return caught.value.rcvd.code if caught.value.rcvd else None


# ---------------------------------------------------------------------------
# 순수 함수와 doctest
# ---------------------------------------------------------------------------


def test_doctests_pass() -> None:
    result = doctest.testmod(lesson)
    assert result.attempted >= 8
    assert result.failed == 0


# ---------------------------------------------------------------------------
# 두 터미널: server + client
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


def test_client_reconnects_when_the_server_restarts(free_port: int) -> None:
    port = str(free_port)
    with LessonProcess(FILE, "client", "--port", port, stdin=True) as client:
        with start_server(free_port) as first:
            client.wait_for_output("연결했습니다")
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=10) == 0, first.describe()
        client.wait_for_output("1001")  # 서버가 떠난다고 알림
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
    """1009로 거절된 메시지를 다시 연결해 되풀이해 보내지 않고 1로 끝납니다."""
    server, port = shared_server
    before = server.stdout.count("입장 ")
    too_big = "x" * (lesson.MAX_SIZE + 1)
    started = time.monotonic()
    result = run_lesson(FILE, "client", "--port", str(port), "--message", too_big)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 15  # 30초 시간제한까지 되풀이하지 않음
    assert "1009 메시지가 너무 큼" in result.stdout
    assert "답을 받지 못하고 끝냅니다" in result.stderr
    assert_no_traceback(result.stdout + result.stderr)
    server.wait_for_output("서버가 보낸 1009")
    assert server.stdout.count("입장 ") - before == 1  # 연결은 한 번뿐


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
# 브로드캐스트
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
    count, size = 40, 50_000  # 2MB: 한도(1MiB)와 커널 버퍼를 넘김

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
        server.wait_for_output("느린 클라이언트")


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
    assert frame[0] == 0x88  # FIN + close
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
            assert closed_with(websocket) == 1001  # 받아 둔 close 프레임
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
# demo, bench, 메뉴
# ---------------------------------------------------------------------------


def test_demo_all_shows_every_outcome() -> None:
    result = run_lesson(FILE, "demo", "all", timeout=90)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stdout + result.stderr)
    out = result.stdout
    assert "101 Switching Protocols" in out
    assert "일치: True" in out
    # 1절이 종료 코드 표를 출력하므로 번호만 찾으면 늘 통과합니다: 결과 줄을 찾습니다.
    for pattern in (
        r"퇴장 \S+ ← /echo: 1000 정상 종료, 이유 '안녕히 계세요' \(ConnectionClosedOK",
        r"퇴장 \S+ ← /echo: 1006 [^\n]*\(ConnectionClosedError",
        r"\[서버\] 퇴장 [^\n]*서버가 보낸 1011 [^\n]*keepalive ping timeout",
        r"\[클라이언트 B\] 루프가 풀린 뒤[^\n]*: 1011 ",
        r"GET /healthz \(HTTP\) → HTTP/1.1 200 OK",
        r"없는 경로 /nope → 거절: HTTP 404",
        r"Origin: https://evil.example → 거절: HTTP 403",
        r"65,537바이트 텍스트 → 닫힘 1009 ",
        r"이진 프레임 00 ff → 닫힘 1003 ",
        r"UTF-8이 아닌 텍스트 프레임 ff fe → 닫힘 1007 ",
        r"그 뒤에도 서버는 정상: 답 '안녕'",
        r"\[클라이언트\] 연결이 끊겼습니다: 1001 ",
        r"\[클라이언트\] <<< 메시지 4",
        r"7개 절을 ",
    ):
        assert re.search(pattern, out), pattern
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


def test_bench_prints_both_tables() -> None:
    args = ("--clients", "3", "--messages", "20", "--duration", "0.3")
    result = run_lesson(FILE, "bench", *args, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stdout + result.stderr)
    out = result.stdout
    # 표의 칸이 글자가 아니라 잰 값인지 봅니다: 처리량 > 0, p50 <= p95 <= p99.
    for label in ("최소 에코 핸들러", "이 레슨의 서버"):
        found = re.search(rf"^{label}\s+([\d,]+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
        assert found, (label, out)
        assert int(found[1].replace(",", "")) > 0
        p50, p95, p99 = (duration(found[n]) for n in (2, 3, 4))
        assert 0 < p50 <= p95 <= p99
    ratio = re.search(
        r"최소 핸들러의 ([\d.]+)%입니다 \(목표 85% 이상: (달성|미달)\)", out
    )
    assert ratio, out
    assert float(ratio[1]) > 0
    for label in (r"broadcast\(\)", r"gather\(send\)"):
        found = re.search(rf"^{label}\s+([\d.]+)μs\s+(\S+)\s+([\d,]+)$", out, re.M)
        assert found, (label, out)
        assert float(found[1]) > 0
        assert duration(found[2]) > 0
        assert int(found[3].replace(",", "")) > 0
    share = re.search(r"broadcast\(\)는 gather\(send\)의 (\d+)%입니다", out)
    assert share, out
    assert int(share[1]) > 0
    assert re.search(r"벤치마크를 \S+에 마쳤습니다", out)


@pytest.mark.parametrize("option", ["--clients", "--messages"])
def test_bench_counts_must_be_whole_numbers(option: str) -> None:
    result = run_lesson(FILE, "bench", option, "0.5")
    assert result.returncode == 2
    assert "1 이상의 정수가 아닙니다" in result.stderr
    assert_no_traceback(result.stderr)


def test_menu_runs_a_demo_then_quits() -> None:
    result = run_lesson(FILE, input="2\nq\n", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<<< 안녕하세요" in result.stdout
    assert result.stdout.rstrip().endswith("종료합니다.")
