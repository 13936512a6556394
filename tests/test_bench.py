"""bench/ 스크립트의 테스트: 작은 설정으로 실제로 재고, 표에서 잰 값을 읽어 확인합니다.

- 02_websocket_echo.py: 에코 왕복(레슨 서버와 맨 에코 서버)과 팬아웃 비용
- 03_chat_load.py: 채팅 서버와 맨 릴레이의 전달, 지연 시간, 연결 시간
- 04_streaming.py: 멈춘 구독자가 있는 토막과 없는 토막(빠른 구독자의 전달, 지연 시간,
  잃은 틱, 멈춘 구독자가 1008로 닫히기까지), 이상 탐지 성적, 메시지 형식 비교
- 잘못된 옵션은 한국어 오류와 종료 코드 2, Ctrl+C는 한국어 한 줄과 종료 코드 130이며
  자식 프로세스(서버, 부하 발생기)를 하나도 남기지 않습니다.

숫자 자체(빠르다, 느리다)는 확인하지 않습니다. 공유된 2코어 컴퓨터에서는 흔들리기
때문입니다. 대신 보낸 수, 잃어버린 수, 비율과 그 범위가 표에 있고 말이 되는지 봅니다.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import (
    CONSOLE_ENCODING,
    ROOT,
    LessonProcess,
    assert_no_traceback,
    lesson_env,
)

ECHO = "bench/02_websocket_echo.py"
CHAT = "bench/03_chat_load.py"
RATIO = r"([\d.]+)배\s+([\d.]+)~([\d.]+)배"  # 비율 칸과 범위 칸


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """학습자처럼 `python bench/...py ARGS`를 실행합니다(cp949 출력, 경고는 오류)."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True,
        text=True,
        encoding=CONSOLE_ENCODING,
        env=lesson_env(),
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def duration(text: str) -> float:
    """'42μs', '12.3ms', '1.50초'를 초로."""
    found = re.fullmatch(r"([\d.,]+)(μs|ms|초)", text)
    assert found, text
    scale = {"μs": 1e-6, "ms": 1e-3, "초": 1.0}[found[2]]
    return float(found[1].replace(",", "")) * scale


def cells(out: str, title: str) -> list[str]:
    """요약 표에서 title 줄의 칸들(칸 사이는 공백 두 칸 이상)."""
    for line in out.splitlines():
        if line.startswith(title):
            return re.split(r"\s{2,}", line.removeprefix(title).strip())
    pytest.fail(f"{title!r} 줄이 없습니다.\n{out}")


def assert_ratio_row(out: str, title: str) -> tuple[str, str]:
    """비교한 항목의 줄: 두 값, 비율의 중앙값, 범위(최소 <= 중앙값 <= 최대)."""
    row = cells(out, title)
    assert len(row) == 4, (title, row)
    found = re.fullmatch(RATIO, f"{row[2]}  {row[3]}")
    assert found, (title, row)
    low, middle, high = float(found[2]), float(found[1]), float(found[3])
    assert 0 < low <= middle <= high, (title, row)
    return row[0], row[1]


def assert_valid_run(result: subprocess.CompletedProcess[str]) -> str:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert_no_traceback(out + result.stderr)
    assert "무효:" not in out
    assert re.search(r"^유효: .+최대 \d+%", out, re.M), out
    return out


@pytest.mark.slow
def test_websocket_echo_small_run_compares_both_servers_and_fanout() -> None:
    result = run_bench(
        ECHO,
        *("--clients", "6", "--processes", "2", "--duration", "0.3"),
        *("--slices", "2", "--messages", "20", "--rate", "200"),
    )
    out = assert_valid_run(result)
    # 에코: 토막 2개 × 서버 2개가 표에 있고, 왕복/초는 잰 값입니다.
    rows = re.findall(r"^([12])\s+(맨 에코 서버|레슨 서버)\s+([\d,]+)\s", out, re.M)
    assert sorted((n, who) for n, who, _ in rows) == [
        ("1", "레슨 서버"),
        ("1", "맨 에코 서버"),
        ("2", "레슨 서버"),
        ("2", "맨 에코 서버"),
    ], out
    assert all(int(count.replace(",", "")) > 0 for _, _, count in rows)
    bare, lesson = assert_ratio_row(out, "왕복/초")
    assert int(bare.replace(",", "")) > 0
    assert int(lesson.replace(",", "")) > 0
    for server in (0, 1):
        p50, p95, p99 = (
            duration(assert_ratio_row(out, f"왕복 시간 {p}")[server])
            for p in ("p50", "p95", "p99")
        )
        assert 0 < p50 <= p95 <= p99
    assert_ratio_row(out, "서버 CPU")
    # 팬아웃: 방식마다 메시지 20개 × 토막 2개, 잃어버린 전달 없음.
    gather, fast = assert_ratio_row(out, "전달당 송신 비용")
    assert duration(gather) > 0
    assert duration(fast) > 0
    assert_ratio_row(out, "전달 지연 p50")
    assert_ratio_row(out, "전달 지연 p99")
    assert cells(out, "보낸 메시지(개)") == ["40", "40"]
    assert cells(out, "잃어버린 전달(건)") == ["0", "0"]


@pytest.mark.slow
def test_chat_load_small_run_delivers_everything_to_both_servers() -> None:
    rate, seconds, slices, clients = 20, 0.5, 2, 30
    result = run_bench(
        CHAT,
        *("--clients", str(clients), "--senders", "4", "--rate", str(rate)),
        *("--duration", str(seconds), "--slices", str(slices), "--processes", "3"),
    )
    out = assert_valid_run(result)
    sent = int(rate * seconds * slices)  # 합계 초당 20개 × 0.5초 × 토막 2개
    assert cells(out, "보낸 메시지(개)") == [str(sent), str(sent)]
    assert cells(out, "잃어버린 메시지(개)") == ["0", "0"]
    assert cells(out, "error 응답(개)") == ["0", "0"]  # rate_limited가 없어야 합니다
    # 토막 표: 토막마다 두 서버 모두, 잃은 것 없이(칸: 토막, 서버, 전달/초, p50,
    # p95, p99, 잃음 ...)
    rows = [
        re.split(r"\s{2,}", line)
        for line in out.splitlines()
        if re.match(r"[12]\s+(맨 릴레이|채팅 서버)\s", line)
    ]
    assert sorted((row[0], row[1]) for row in rows) == [
        ("1", "맨 릴레이"),
        ("1", "채팅 서버"),
        ("2", "맨 릴레이"),
        ("2", "채팅 서버"),
    ], out
    assert all(row[6] == "0" for row in rows), rows
    # 전달(건/초): 잃은 것이 없으면 초당 20개 × 30명에 가깝고 넘지는 않습니다.
    for value in assert_ratio_row(out, "전달(건/초)"):
        assert 0.5 * rate * clients < int(value.replace(",", "")) <= rate * clients
    for server in (0, 1):
        p50, p95, p99 = (
            duration(assert_ratio_row(out, f"종단 간 지연 {p}")[server])
            for p in ("p50", "p95", "p99")
        )
        assert 0 < p50 <= p95 <= p99
    assert_ratio_row(out, "서버 CPU")
    assert_ratio_row(out, f"연결 시간({clients}명)")  # 서버마다 3번 잰 값의 비율
    connect = re.search(
        r"^연결 시간 비율\(채팅 서버 ÷ 맨 릴레이\): ([\d.]+)배 "
        r"\(범위 ([\d.]+)~([\d.]+)배, 서버마다 3번 잼",
        out,
        re.M,
    )
    assert connect, out
    assert 0 < float(connect[2]) <= float(connect[1]) <= float(connect[3])
    joined = re.findall(
        rf"^연결 \d: 채팅 서버\s+{clients}명 \S+ \(연결, 입장", out, re.M
    )
    assert len(joined) == 3, out


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        (ECHO, ["--clients", "0"], "--clients: '0': 0보다 큰 수여야 합니다"),
        (ECHO, ["--duration", "abc"], "--duration: 'abc'은(는) 수가 아닙니다"),
        (CHAT, ["--rate", "-5"], "--rate: '-5': 0보다 큰 수여야 합니다"),
        (CHAT, ["--slices", "1.5"], "--slices: '1.5'은(는) 정수가 아닙니다"),
        (CHAT, ["--bogus"], "알 수 없는 인자: --bogus"),
    ],
)
def test_bad_option_is_explained_in_korean(
    script: str, args: list[str], expected: str
) -> None:
    result = run_bench(script, *args)
    assert result.returncode == 2
    assert f"오류: {expected}" in result.stderr
    assert result.stderr.startswith("사용법:")
    assert f"도움말: python {script} --help" in result.stderr
    assert_no_traceback(result.stderr)


def children_of(pid: int) -> list[int]:
    """리눅스 /proc에서 부모가 pid인 프로세스들."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except (OSError, UnicodeDecodeError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """아직 실행 중인가(끝났지만 거둬지지 않은 좀비는 실행 중이 아님)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="리눅스 /proc 필요")
def test_ctrl_c_stops_servers_and_generators() -> None:
    args = ("--clients", "40", "--duration", "1", "--slices", "20", "--processes", "2")
    with LessonProcess(CHAT, *args) as bench:
        bench.wait_for_output("예열", timeout=60)
        children = children_of(bench.popen.pid)
        assert len(children) >= 4, children  # 부하 발생기 2개, 서버 2개
        time.sleep(0.5)
        bench.send_signal(signal.SIGINT)
        assert bench.wait(timeout=60) == 130
        assert (
            bench.stderr.strip()
            == "중단했습니다. 서버와 부하 발생기를 모두 멈췄습니다."
        )
        deadline = time.monotonic() + 10  # 부모가 끝난 뒤에 끝나는 자식도 기다립니다
        while any(map(running, children)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if running(pid)], bench.describe()


@pytest.mark.parametrize("script", [ECHO, CHAT])
def test_doctests_pass(script: str) -> None:
    path = ROOT / script
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass가 sys.modules에서 모듈을 찾습니다
    spec.loader.exec_module(module)
    failed, attempted = doctest.testmod(module, verbose=False)
    assert attempted >= 8
    assert failed == 0


# ---------------------------------------------------------------------------
# bench/04_streaming.py: 멈춘 구독자가 있는 토막과 없는 토막, 메시지 형식
# ---------------------------------------------------------------------------

STREAM = "bench/04_streaming.py"
# 작은 설정: 빠른 구독자 6명 + 멈춘 구독자 2명, 구독자마다 초당 500틱. 초당 틱이
# 많아야 멈춘 구독자의 버퍼가 빨리 차서 몇 초 안에 내보내집니다.
STREAM_ARGS = (
    *("--clients", "8", "--slow", "2", "--topics", "10", "--rate", "50"),
    *("--duration", "0.5", "--processes", "2", "--anomaly-rate", "120"),
)


def stream_rows(out: str, label: str) -> list[list[str]]:
    """토막 표의 줄들(칸: 토막, 구성, 전달/초, p50, p99, 잃음, 루프 지연, 서버 CPU,
    다른 CPU, 닫히기까지, 부하 발생기 CPU)."""
    return [
        re.split(r"\s{2,}", line)
        for line in out.splitlines()
        if re.match(rf"\d+\s+{label}\s", line)
    ]


@pytest.mark.slow
def test_04_streaming_small_run_measures_both_configurations() -> None:
    result = run_bench(STREAM, *STREAM_ARGS, "--slices", "2")
    out = assert_valid_run(result)
    assert re.search(r"^연결: 빠른 구독자 6명 ", out, re.M), out
    calm, stalled = stream_rows(out, "멈춤 없음"), stream_rows(out, "멈춤 2명")
    assert [row[0] for row in calm] == ["1", "2"], out
    assert [row[0] for row in stalled] == ["1", "2"], out
    expected = 6 * 10 * 50  # 빠른 구독자 6명 × 토픽 10개 × 초당 50틱
    for row in calm + stalled:
        assert 0.5 * expected < int(row[2].replace(",", "")) <= 1.1 * expected, row
        assert 0 < duration(row[3]) <= duration(row[4]), row  # p50 <= p99
        assert row[5] == "0", row  # 빠른 구독자는 틱을 하나도 잃지 않음
    assert all(row[9] == "-" for row in calm), calm
    assert all(0 < duration(row[9]) < 30 for row in stalled), stalled
    for title in ("전달(틱/초)", "지연 p50", "지연 p99", "서버 CPU"):
        assert_ratio_row(out, title)
    assert cells(out, "잃은 틱(seq 빈틈)") == ["0", "0"]
    calm_dropped, stalled_dropped = cells(out, "서버가 버린 메시지")
    assert calm_dropped == "0"
    assert int(stalled_dropped.replace(",", "")) > 0  # 멈춘 구독자의 큐에서 버림
    # 멈춘 구독자 2명 × 토막 2개가 모두 1008로 닫혔습니다.
    evicted = re.search(
        r"^멈춘 구독자 2명 × 토막 2개 = 4명: 읽기를 멈춘 뒤 서버가 내보내기까지 "
        r"중앙값 (\S+), 범위 (\S+)~(\S+) ",
        out,
        re.M,
    )
    assert evicted, out
    low, middle, high = (duration(evicted[n]) for n in (2, 1, 3))
    assert 0 < low <= middle <= high < 30
    closes = re.search(r"^  받은 닫기 프레임\(종료 코드 이유\): (.+)$", out, re.M)
    assert closes, out
    assert closes[1].startswith("1008 "), closes[1]
    assert closes[1].endswith(" 4개"), closes[1]  # 한 가지뿐: 모두 1008
    p99 = re.search(
        r"^지연 p99 비율\(멈춤 2명 ÷ 멈춤 없음\): ([\d.]+)배 "
        r"\(범위 ([\d.]+)~([\d.]+)배",
        out,
        re.M,
    )
    assert p99, out
    assert 0 < float(p99[2]) <= float(p99[1]) <= float(p99[3])
    rss = re.search(
        r"^서버 RSS: 구독자가 붙기 전 ([\d.]+) MiB, 측정 중 최대 ([\d.]+) MiB",
        out,
        re.M,
    )
    assert rss, out
    assert 0 < float(rss[1]) <= float(rss[2])
    # 이상 탐지: 서버의 /healthz와 /metrics에서 읽은 정밀도, 재현율, 심은 이상의 수
    found = re.search(
        r"^이상 탐지\(.+\): 심은 이상 ([\d,]+)개, anomaly 이벤트 \S+, "
        r"정밀도 ([\d.]+), 재현율 ([\d.]+)$",
        out,
        re.M,
    )
    assert found, out
    assert int(found[1].replace(",", "")) > 0
    assert 0 <= float(found[2]) <= 1
    assert 0 <= float(found[3]) <= 1
    # 메시지 형식: 이진(22바이트 + 머리 2바이트)과 압축은 JSON보다 작습니다.
    sizes = {
        label: float(cells(out, label)[0].removesuffix("바이트"))
        for label in (
            "JSON 텍스트(지금)",
            "이진 struct(22바이트)",
            "JSON + deflate 압축",
        )
    }
    assert sizes["이진 struct(22바이트)"] == 24.0
    assert sizes["JSON + deflate 압축"] < sizes["JSON 텍스트(지금)"]
    assert sizes["이진 struct(22바이트)"] < sizes["JSON 텍스트(지금)"]
    state = cells(out, "JSON + deflate 압축")[3]
    assert re.fullmatch(r"[\d.]+ KiB", state), state  # 연결마다의 압축 상태


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--slow", "-1"], "--slow: '-1': 0 이상의 수여야 합니다"),
        (["--topics", "51"], "--topics: '51': 50 이하여야 합니다"),
        (["--rate", "abc"], "--rate: 'abc'은(는) 수가 아닙니다"),
        (
            ["--clients", "10", "--slow", "10"],
            "--slow: 멈춘 구독자 수(10)는 --clients(10)보다 작아야 합니다",
        ),
    ],
)
def test_04_streaming_bad_option_is_explained_in_korean(
    args: list[str], expected: str
) -> None:
    test_bad_option_is_explained_in_korean(STREAM, args, expected)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="리눅스 /proc 필요")
def test_04_streaming_ctrl_c_while_subscribers_are_stalled_leaves_no_process() -> None:
    with LessonProcess(STREAM, *STREAM_ARGS, "--slices", "5") as bench:
        bench.wait_for_output("1     멈춤 없음", timeout=60)  # 다음은 멈춤 토막
        children = children_of(bench.popen.pid)
        assert len(children) >= 4, children  # 서버, 부하 발생기 2개, 멈춘 구독자 1개
        time.sleep(1.0)  # 멈춘 구독자가 붙어 읽기를 멈춘 동안
        bench.send_signal(signal.SIGINT)
        assert bench.wait(timeout=60) == 130
        assert (
            bench.stderr.strip()
            == "중단했습니다. 서버와 부하 발생기를 모두 멈췄습니다."
        )
        deadline = time.monotonic() + 10  # 부모가 끝난 뒤에 끝나는 자식도 기다립니다
        while any(map(running, children)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if running(pid)], bench.describe()


def test_04_streaming_doctests_pass() -> None:
    test_doctests_pass(STREAM)
