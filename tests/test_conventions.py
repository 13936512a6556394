"""모든 레슨 파일(`[0-9][0-9]_*.py`)이 지켜야 하는 약속을 검사합니다.

새 레슨 파일이 저장소에 들어오는 순간 이 검사들이 자동으로 그 파일에도 적용됩니다.
약속의 설명은 README.md의 "레슨 파일의 약속"과 CLAUDE.md에 있습니다.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import (
    LESSON_FILES,
    ROOT,
    LessonProcess,
    assert_no_traceback,
    get_free_port,
    load_lesson,
    run_lesson,
    wait_for_port,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
DOCSTRING_PARTS = ("학습 목표", "핵심 개념", "실행 방법", "필요 패키지")
MENU_ENTRY = re.compile(r"^\s*(\w+)\.\s.*\(([^()]+)\)\s*$")  # "  3. 제목 (demo 3)"


def subcommands(filename: str) -> dict[str, argparse.ArgumentParser]:
    """레슨의 build_parser()에서 하위 명령 이름과 그 파서를 꺼냅니다."""
    parser = load_lesson(filename).build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def server_modes() -> list[tuple[str, str]]:
    """(레슨, 모드) 중 서버 모드: 이름이 serve로 시작하고 --port가 있는 것."""
    pairs = []
    for filename in LESSON_FILES:
        for mode, sub in subcommands(filename).items():
            options = {opt for action in sub._actions for opt in action.option_strings}
            if mode.startswith("serve") and "--port" in options:
                pairs.append((filename, mode))
    return pairs


def lesson_text_files() -> list[Path]:
    """용어 검사 대상: 레슨 파일과 문서(용어집 자체는 제외)."""
    docs = [
        ROOT / "README.md",
        ROOT / "CLAUDE.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    files = [ROOT / name for name in LESSON_FILES] + docs
    return [p for p in files if p.exists() and p.name != "glossary.md"]


def banned_spellings() -> list[str]:
    """docs/glossary.md 표의 마지막 열('쓰지 않는 표기')에서 금지 표기를 읽습니다."""
    banned: list[str] = []
    for line in (
        (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines()
    ):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("한국어", "---"):
            banned += [word.strip() for word in cells[3].split(",") if word.strip()]
    return banned


def allowed_imports() -> set[str]:
    """requirements.txt에 적힌 패키지가 제공하는 최상위 모듈 이름들."""
    wanted = set()
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0]
            wanted.add(name.lower().replace("_", "-"))
    modules = set()
    for module, dists in importlib.metadata.packages_distributions().items():
        if any(d.lower().replace("_", "-") in wanted for d in dists):
            modules.add(module)
    return modules


# ---------------------------------------------------------------------------
# 파일 내용 검사 (실행하지 않고 읽기만)
# ---------------------------------------------------------------------------


def test_lessons_exist() -> None:
    assert "01_asyncio_basics.py" in LESSON_FILES


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_module_docstring_has_every_part(filename: str) -> None:
    tree = ast.parse((ROOT / filename).read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    missing = [part for part in DOCSTRING_PARTS if part not in doc]
    assert not missing, f"{filename} 모듈 docstring에 없는 부분: {missing}"


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_lesson_stands_alone(filename: str) -> None:
    """표준 라이브러리와 requirements.txt의 패키지만 import합니다."""
    tree = ast.parse((ROOT / filename).read_text(encoding="utf-8"))
    local = {p.stem for p in ROOT.glob("*.py")} | {
        p.name for p in ROOT.iterdir() if p.is_dir()
    }
    allowed = allowed_imports() | set(sys.stdlib_module_names) | {"__future__"}
    problems = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"{node.lineno}행: 상대 import")
            elif node.module:
                names = [node.module.split(".")[0]]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("spec_from_file_location", "import_module")
        ):
            problems.append(f"{node.lineno}행: 다른 모듈을 경로로 불러옴")
        for name in names:
            line = getattr(node, "lineno", "?")
            if name in local:
                problems.append(f"{line}행: 로컬 모듈 {name!r}")
            elif name not in allowed:
                problems.append(f"{line}행: requirements.txt에 없는 {name!r}")
    assert not problems, f"{filename}: " + "; ".join(problems)


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_strings_fit_cp949(filename: str) -> None:
    """출력될 수 있는 문자열은 모두 한국어 Windows 콘솔(cp949)에서 인코딩됩니다."""
    tree = ast.parse((ROOT / filename).read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node.value.encode("cp949")
            except UnicodeEncodeError as exc:
                bad.append(f"{node.lineno}행: {node.value[exc.start : exc.end]!r}")
    assert not bad, f"{filename}: cp949로 출력할 수 없는 글자: {bad}"


def test_glossary_lists_banned_spellings() -> None:
    banned = banned_spellings()
    for word in ("쓰레드", "테스크", "메소드"):
        assert word in banned


@pytest.mark.parametrize("path", lesson_text_files(), ids=lambda p: p.name)
def test_no_banned_spelling(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [word for word in banned_spellings() if word in text]
    assert not found, f"{path.name}: 용어집이 금지한 표기 {found} (docs/glossary.md)"


# ---------------------------------------------------------------------------
# 명령줄: --help, 하위 명령, 잘못된 인자
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_help_is_korean_with_an_example_per_mode(filename: str) -> None:
    result = run_lesson(filename, "--help")
    assert result.returncode == 0, result.stderr
    assert "사용법:" in result.stdout, result.stdout
    assert "예시:" in result.stdout, result.stdout
    modes = subcommands(filename)
    assert modes, f"{filename}: 하위 명령이 없습니다"
    for mode in modes:
        assert re.search(rf"\b{mode}\b", result.stdout), f"--help에 {mode} 예시 없음"
        sub = run_lesson(filename, mode, "--help")
        assert sub.returncode == 0, sub.stderr
        assert HANGUL.search(sub.stdout), sub.stdout
        examples = sub.stdout.split("예시:", 1)
        assert len(examples) == 2, f"{filename} {mode} --help에 예시가 없습니다"
        assert f" {mode}" in examples[1], sub.stdout
        assert "show this help" not in sub.stdout
        assert "usage:" not in sub.stdout


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_wrong_arguments_get_a_korean_error(filename: str) -> None:
    result = run_lesson(filename, "no-such-mode")
    assert result.returncode == 2
    assert_no_traceback(result.stderr)
    assert "오류:" in result.stderr, result.stderr
    assert "--help" in result.stderr, result.stderr
    assert "invalid choice" not in result.stderr, result.stderr


# ---------------------------------------------------------------------------
# 메뉴: 인자 없이 실행
# ---------------------------------------------------------------------------


def menu_entries(output: str) -> dict[str, str]:
    """메뉴 화면에서 '번호 → 같은 하위 명령' 목록을 읽습니다."""
    entries = {}
    for line in output.splitlines():
        match = MENU_ENTRY.match(line)
        if match and match[1] not in ("q", "0"):  # 종료 항목은 하위 명령이 아님
            entries[match[1]] = match[2]
    return entries


@pytest.mark.parametrize("filename", LESSON_FILES)
@pytest.mark.parametrize("answer", ["q", "0", ""])
def test_menu_quits(filename: str, answer: str) -> None:
    result = run_lesson(filename, input=answer + "\n")
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stderr)
    entries = menu_entries(result.stdout)
    assert len(entries) >= 2, f"번호 메뉴가 보이지 않습니다:\n{result.stdout}"
    modes = subcommands(filename)
    for key, argv in entries.items():
        mode = argv.split()[0]
        assert mode in modes, f"메뉴 {key}번의 ({argv})가 하위 명령이 아닙니다"


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_menu_explains_a_wrong_choice_and_asks_again(filename: str) -> None:
    result = run_lesson(filename, input="zz9\nq\n")
    assert result.returncode == 0, result.stderr
    after = result.stdout.split("'zz9'", 1)
    assert len(after) == 2, f"잘못된 입력을 되짚어 알려 주지 않습니다:\n{result.stdout}"
    assert HANGUL.search(after[1].splitlines()[0])
    assert menu_entries(after[1]), "잘못된 입력 뒤에 메뉴를 다시 보여 주지 않습니다"


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_menu_ends_cleanly_when_stdin_closes(filename: str) -> None:
    result = run_lesson(filename)  # 표준 입력이 바로 EOF
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stdout + result.stderr)


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_ctrl_c_at_the_menu(filename: str) -> None:
    with LessonProcess(filename, stdin=True) as proc:
        proc.wait_for_output("> ")
        # 사람처럼 잠시 뒤에 누릅니다. 프롬프트를 쓴 직후, input()이 read()에 들어가기
        # 전에 온 SIGINT는 CPython이 다음 입력이 올 때까지 처리하지 못합니다.
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
        assert code != 0 or "종료" in proc.stdout
        assert_no_traceback(proc.stderr)
        last_lines = (proc.stdout + proc.stderr).strip().splitlines()
        assert HANGUL.search(last_lines[-1]), last_lines[-1]


@pytest.mark.parametrize(
    "filename", [f for f in LESSON_FILES if "demo" in subcommands(f)]
)
def test_ctrl_c_during_a_demo(filename: str) -> None:
    with LessonProcess(filename, "demo") as proc:
        proc.wait_for_output("\n")  # 데모가 무언가 출력하기 시작하고
        # 사람처럼 조금 뒤에 누릅니다. 출력 직후는 대개 asyncio.run()이 이벤트 루프를
        # 만드는 순간인데, 그 수 마이크로초 안의 SIGINT는 CPython이 만들다 만 루프의
        # 정리 메시지를 남깁니다(사람이 맞히기는 어려운 틈).
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        assert_no_traceback(proc.stderr)
        if code != 0:  # 이미 끝났다면 0, 중단했다면 한국어 한 줄과 130
            assert code == 130, proc.describe()
            assert HANGUL.search(proc.stderr.strip().splitlines()[-1]), proc.describe()


# ---------------------------------------------------------------------------
# 서버 모드: --host/--port, HOST/PORT, 사용 중인 포트, Ctrl+C
# ---------------------------------------------------------------------------

SERVER_MODES = server_modes()


@pytest.mark.parametrize(("filename", "mode"), SERVER_MODES)
def test_server_defaults_to_loopback_and_reads_env(
    filename: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    parser = load_lesson(filename).build_parser()
    assert parser.parse_args([mode]).host == "127.0.0.1"
    monkeypatch.setenv("HOST", "0.0.0.0")  # noqa: S104  환경 변수가 기본값을 바꾸는지만 확인
    monkeypatch.setenv("PORT", "12345")
    args = load_lesson(filename).build_parser().parse_args([mode])
    assert (args.host, args.port) == ("0.0.0.0", 12345)  # noqa: S104


@pytest.mark.parametrize(("filename", "mode"), SERVER_MODES)
@pytest.mark.parametrize("via", ["--port", "PORT"])
def test_busy_port_is_a_korean_sentence(filename: str, mode: str, via: str) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        if via == "--port":
            result = run_lesson(filename, mode, "--port", str(port), timeout=30)
        else:
            result = run_lesson(filename, mode, env={"PORT": str(port)}, timeout=30)
    assert result.returncode not in (0, None)
    output = result.stdout + result.stderr
    assert_no_traceback(output)
    assert str(port) in output, output
    assert HANGUL.search(output), output


@pytest.mark.parametrize(("filename", "mode"), SERVER_MODES)
def test_ctrl_c_stops_a_server_cleanly(filename: str, mode: str) -> None:
    port = get_free_port()
    with LessonProcess(filename, mode, "--port", str(port)) as proc:
        wait_for_port(port, process=proc)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        assert code == 0, proc.describe()
        assert time.monotonic() - started < 10
        assert_no_traceback(proc.stderr)
