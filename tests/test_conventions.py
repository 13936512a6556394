"""모든 레슨 파일(`[0-9][0-9]_*.py`)이 지켜야 하는 약속을 검사합니다.

새 레슨 파일이 저장소에 들어오는 순간 이 검사들이 자동으로 그 파일에도 적용됩니다.
약속의 설명은 README.md의 "레슨 파일의 약속"과 CLAUDE.md에 있습니다.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.metadata
import math
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (
    LESSON_FILES,
    ROOT,
    LessonProcess,
    assert_no_traceback,
    get_free_port,
    lesson_env,
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


def spelled(word: str, text: str) -> bool:
    """text에 word가 있는지. 영문 약자(KB, MB)는 단어로만 찾습니다(base64 속은 아님)."""
    if word.isascii():
        pattern = rf"(?<![A-Za-z+/]){re.escape(word)}(?![A-Za-z0-9+/=])"
        return re.search(pattern, text) is not None
    return word in text


def test_ascii_spellings_match_whole_words_only() -> None:
    assert spelled("MB", "2 MB")
    assert spelled("KB", "350KB 이상")
    assert not spelled("MB", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    assert not spelled("KB", "KiB")
    assert spelled("쓰레드", "쓰레드 풀")
    assert not spelled("쓰레드", "스레드")


@pytest.mark.parametrize("path", lesson_text_files(), ids=lambda p: p.name)
def test_no_banned_spelling(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [word for word in banned_spellings() if spelled(word, text)]
    assert not found, f"{path.name}: 용어집이 금지한 표기 {found} (docs/glossary.md)"


# ---------------------------------------------------------------------------
# 읽는 순서: 번호 붙은 절은 앞에서 정의한 것만 씁니다
# ---------------------------------------------------------------------------
# 절은 이런 세 줄로 시작합니다(STYLE.md의 틀):
#     # ==========...
#     # 3. 태스크: 동시에 실행하고 결과와 오류를 모으기
#     # ==========...
# 첫 번호 절 앞은 머리말(0절: docstring, import, 상수, 작은 도우미), 번호 없는 제목
# ("실행 모드", "명령줄(CLI)과 메뉴")부터 끝까지는 꼬리입니다. 꼬리는 무엇이든 씁니다.

BANNER_RULE = re.compile(r"^# =+$")
NUMBERED_TITLE = re.compile(r"^# (\d+)\. \S")
TAIL = math.inf  # 꼬리의 절 번호


@dataclass(frozen=True)
class Banner:
    """절 제목 한 줄: 줄 번호(1부터), 절 번호(번호 없는 제목은 None), 제목."""

    line: int
    number: int | None
    title: str


def banners(source: str) -> list[Banner]:
    """'# ====' 두 줄 사이에 낀 제목들을 위에서부터."""
    lines = source.splitlines()
    found = []
    for i in range(1, len(lines) - 1):
        if not (BANNER_RULE.match(lines[i - 1]) and BANNER_RULE.match(lines[i + 1])):
            continue
        title = lines[i].removeprefix("# ")
        numbered = NUMBERED_TITLE.match(lines[i])
        found.append(Banner(i + 1, int(numbered[1]) if numbered else None, title))
    return found


def section_at(line: int, marks: list[Banner]) -> float:
    """line이 속한 절: 0은 머리말, N은 N절, TAIL은 꼬리."""
    current: float = 0
    for mark in marks:
        if mark.line > line:
            break
        current = TAIL if mark.number is None else mark.number
    return current


def first_line(stmt: ast.stmt) -> int:
    """데코레이터가 있으면 그 줄부터."""
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(int(d.lineno) for d in decorators)])


def module_definitions(tree: ast.Module) -> dict[str, int]:
    """모듈 최상위에서 정의한 이름 → 처음 정의한 줄(최상위 if/try 안의 import 포함)."""
    defs: dict[str, int] = {}
    for stmt in tree.body:
        inner = ast.walk(stmt) if isinstance(stmt, (ast.If, ast.Try)) else [stmt]
        for node in inner:
            names: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                names = [
                    n.id
                    for t in targets
                    for n in ast.walk(t)
                    if isinstance(n, ast.Name)
                ]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [(a.asname or a.name).split(".")[0] for a in node.names]
            for name in names:
                defs.setdefault(name, first_line(stmt))
    return defs


def local_names(stmt: ast.stmt) -> set[str]:
    """함수나 클래스 안에서 묶인 이름(인자, 지역 변수, 안쪽 함수 ...)."""
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return set()
    names: set[str] = set()
    declared_global: set[str] = set()
    for node in ast.walk(stmt):
        if node is stmt:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler):
            names.add(node.name or "")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.Global):
            declared_global |= set(node.names)
    return names - declared_global


def reading_order_problems(source: str) -> list[str]:
    """번호 절이 뒤의 절이나 꼬리에서 정의한 모듈 이름을 쓰는 곳들."""
    tree = ast.parse(source)
    marks = banners(source)
    defined_in = {
        name: section_at(line, marks) for name, line in module_definitions(tree).items()
    }
    problems: dict[tuple[int, str], str] = {}
    for stmt in tree.body:
        here = section_at(first_line(stmt), marks)
        if here == TAIL:
            continue
        local = local_names(stmt)
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
                continue
            later = defined_in.get(node.id, 0)
            if node.id in local or later <= here:
                continue
            where = "꼬리(모드·CLI)" if later == TAIL else f"{later:.0f}절"
            problems[(node.lineno, node.id)] = (
                f"{node.lineno}행({here:.0f}절)이 {where}의 {node.id}을(를) 씁니다"
            )
    return [problems[key] for key in sorted(problems)]


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_sections_are_numbered_in_order_with_one_demo_each(filename: str) -> None:
    """1, 2, 3 ... 차례로, 번호 없는 제목은 모두 꼬리에, 절마다 demo_NN_ 하나."""
    source = (ROOT / filename).read_text(encoding="utf-8")
    marks = banners(source)
    numbers = [m.number for m in marks if m.number is not None]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    last_numbered = max(m.line for m in marks if m.number is not None)
    stray = [m.title for m in marks if m.number is None and m.line < last_numbered]
    assert not stray, f"{filename}: 번호 절 사이의 번호 없는 제목 {stray}"
    demos: dict[float, list[str]] = {}
    for stmt in ast.parse(source).body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found = re.fullmatch(r"demo_(\d\d)_\w+", stmt.name)
            if found:
                section = section_at(first_line(stmt), marks)
                assert int(found[1]) == section, f"{stmt.name}이(가) {section}절에 있음"
                demos.setdefault(section, []).append(stmt.name)
    for number in numbers:
        assert len(demos.get(number, [])) == 1, (
            f"{number}절의 데모: {demos.get(number)}"
        )


@pytest.mark.parametrize("filename", LESSON_FILES)
def test_each_section_uses_only_what_came_before(filename: str) -> None:
    """위에서 아래로 읽힙니다: N절의 코드는 머리말과 N절까지에서 정의한 것만 씁니다."""
    problems = reading_order_problems((ROOT / filename).read_text(encoding="utf-8"))
    assert not problems, f"{filename}:\n" + "\n".join(problems)


def test_reading_order_check_catches_a_forward_use() -> None:
    """검사 자체가 앞질러 쓴 이름을 찾아내는지(지역 이름과 꼬리는 괜찮음)."""
    rule = "# " + "=" * 20
    source = "\n".join(
        [
            "LIMIT = 3",
            rule,
            "# 1. 첫 절",
            rule,
            "def first(helper=None):",
            "    helper = helper or LIMIT",  # 지역 이름 helper는 2절의 helper가 아님
            "    return helper + later()",  # later는 2절: 앞질러 씀
            rule,
            "# 2. 둘째 절",
            rule,
            "def later(): return first()",
            "def helper(): return run()",  # run은 꼬리: 앞질러 씀
            rule,
            "# 실행 모드",
            rule,
            "def run(): return later()",
        ]
    )
    assert reading_order_problems(source) == [
        "7행(1절)이 2절의 later을(를) 씁니다",
        "12행(2절)이 꼬리(모드·CLI)의 run을(를) 씁니다",
    ]


# ---------------------------------------------------------------------------
# 예상 출력: 데모 docstring의 예상 출력이 실제 출력과 한 줄씩 맞습니다
# ---------------------------------------------------------------------------
# 비교 규칙(CLAUDE.md에도 적었습니다):
# - 잰 숫자는 가립니다: 숫자(1,024, 3.5 ...)와 뒤에 붙은 시간 단위(ms, μs, 초)는 #.
# - 줄 전체가 `...`이면 출력 몇 줄(0줄 이상)을 건너뜁니다. 줄 안의 `...`는 그 자리의
#   글자 몇 개(0개 이상)를 건너뜁니다.
# - `←` 뒤는 그 줄에 붙인 설명이지 출력이 아닙니다.
# - 빈 줄과 공백의 개수는 따지지 않습니다(표의 칸 맞춤은 숫자 길이에 따라 바뀝니다).
# 터미널에서 보이는 그대로 비교하려고 표준 오류도 표준 출력에 합쳐서 봅니다.

MEASURED = re.compile(r"\d+(?:[.,]\d+)*(?:ms|μs|초)?")
SKIP_LINES = "..."
SECTION_HEADING = re.compile(r"^── (\d+)\. ")
SUMMARY = re.compile(r"^\d+개 절을 .+에 마쳤습니다\.$")


def masked(line: str) -> str:
    """비교용: 잰 숫자를 #으로 가리고 공백을 하나로.

    >>> masked("순서대로 601.2ms, 동시에   300.8ms → 2.0배")
    '순서대로 #, 동시에 # → #배'
    """
    return " ".join(MEASURED.sub("#", line).split())


def expected_output(docstring: str) -> list[str]:
    """docstring의 '예상 출력' 줄 다음부터 끝까지(← 설명과 빈 줄은 뺌)."""
    lines = docstring.splitlines()
    start = next(i for i, line in enumerate(lines) if "예상 출력" in line)
    block = textwrap.dedent("\n".join(lines[start + 1 :])).splitlines()
    return [line.split("←", 1)[0].rstrip() for line in block if line.strip()]


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """예상 출력의 줄 패턴이 실제 출력 줄들과 처음부터 끝까지 맞는지."""
    patterns: list[re.Pattern[str] | None] = []  # None: 여러 줄 건너뛰기
    for line in expected:
        text = masked(line)
        if text == SKIP_LINES:
            patterns.append(None)
        else:
            parts = (re.escape(part.strip()) for part in text.split(SKIP_LINES))
            patterns.append(re.compile(r"\s*.*?\s*".join(parts)))
    lines = [masked(line) for line in actual if line.strip()]

    @functools.cache
    def fits(i: int, j: int) -> bool:
        if i == len(patterns):
            return j == len(lines)
        pattern = patterns[i]
        if pattern is None:
            return fits(i + 1, j) or (j < len(lines) and fits(i, j + 1))
        return (
            j < len(lines) and bool(pattern.fullmatch(lines[j])) and fits(i + 1, j + 1)
        )

    return fits(0, 0)


def test_expected_output_rules() -> None:
    """비교 규칙 자체: 숫자 가림, ... 건너뛰기, ← 설명, 틀리면 실패."""
    doc = """설명.

    예상 출력(시간은 실행마다 다름):
        순서대로 601.2ms → 2.0배 빠름
        ...
        끝: 3개 ... 성공      ← 줄 안의 ...는 몇 글자든
    """
    expected = expected_output(doc)
    assert expected == ["순서대로 601.2ms → 2.0배 빠름", "...", "끝: 3개 ... 성공"]
    good = ["순서대로 1.02초 → 3.1배 빠름", "", "중간 줄", "끝: 12개 모두 성공"]
    assert output_matches(expected, good)
    assert output_matches(expected, ["순서대로 5ms → 1배 빠름", "끝: 3개 성공"])
    assert not output_matches(expected, ["순서대로 5ms → 1배 느림", "끝: 3개 성공"])
    assert not output_matches(expected, ["순서대로 5ms → 1배 빠름", "끝: 실패"])
    assert not output_matches(expected, [*good, "덧붙은 줄"])


@functools.cache
def demo_all_output(filename: str) -> str:
    """`demo all`을 학습자처럼 실행한 터미널 화면(표준 출력 + 표준 오류)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / filename), "demo", "all"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        encoding="cp949",
        env=lesson_env(),
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    return result.stdout


def demo_outputs(output: str) -> dict[int, list[str]]:
    """`demo all`의 출력을 절 제목('── N. ')으로 나눕니다(마지막 요약 줄은 뺌)."""
    sections: dict[int, list[str]] = {}
    current: list[str] = []
    for line in output.splitlines():
        heading = SECTION_HEADING.match(line)
        if heading:
            current = sections.setdefault(int(heading[1]), [])
        elif not SUMMARY.match(line):
            current.append(line)
    return sections


def demo_docstrings(filename: str) -> dict[int, str]:
    """demo_NN_*()의 docstring을 절 번호로."""
    tree = ast.parse((ROOT / filename).read_text(encoding="utf-8"))
    docs = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found = re.fullmatch(r"demo_(\d\d)_\w+", stmt.name)
            if found:
                docs[int(found[1])] = ast.get_docstring(stmt) or ""
    return docs


DEMO_CASES = [
    (filename, number)
    for filename in LESSON_FILES
    for number in demo_docstrings(filename)
]


@pytest.mark.parametrize(("filename", "number"), DEMO_CASES)
def test_demo_prints_its_expected_output(filename: str, number: int) -> None:
    """데모의 예상 출력은 `demo all`에서 그 절이 실제로 출력한 것과 같습니다."""
    doc = demo_docstrings(filename)[number]
    assert "예상 출력" in doc, f"{filename} {number}절 데모에 예상 출력이 없습니다"
    expected = expected_output(doc)
    assert expected, f"{filename} {number}절: 예상 출력이 비어 있습니다"
    actual = demo_outputs(demo_all_output(filename)).get(number)
    assert actual is not None, f"demo all의 출력에 '── {number}. ' 제목이 없습니다"
    shown = "\n".join(line for line in actual if line.strip())
    assert output_matches(expected, actual), (
        f"{filename} {number}절의 예상 출력이 실제 출력과 다릅니다.\n"
        f"[예상 출력]\n" + "\n".join(expected) + f"\n[실제 출력]\n{shown}"
    )


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
@pytest.mark.parametrize("argv", [["no-such-mode"], ["demo", "²"]])  # ²는 isdigit()
def test_wrong_arguments_get_a_korean_error(filename: str, argv: list[str]) -> None:
    result = run_lesson(filename, *argv)
    assert result.returncode == 2
    assert_no_traceback(result.stderr)
    assert "오류:" in result.stderr, result.stderr
    assert "--help" in result.stderr, result.stderr
    assert "invalid" not in result.stderr, result.stderr


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
