"""01. asyncio 기초: 코루틴부터 동시 다운로더까지

학습 목표
    1. 코루틴(coroutine)을 await로 실행하고, await를 빠뜨리면 생기는 일을 압니다.
    2. 이벤트 루프(event loop)가 스레드 하나로 일을 번갈아 처리함을 재고,
       await가 언제 차례를 넘기는지(그리고 언제 넘기지 않는지) 압니다.
    3. 태스크(Task)를 동시에 돌리고 gather, TaskGroup, except*로 결과를 모읍니다.
    4. asyncio.timeout, timeout_at, wait_for로 시간제한을 걸고 무엇이 취소되는지 압니다.
    5. 취소(cancel)를 받아 finally에서 정리하고 다시 던지며, shield로 작업을 지킵니다.
    6. 경쟁 상태(race condition)를 Lock으로 막고, Event로 여러 태스크에 신호를 줍니다.
    7. Semaphore로 동시 실행 수를 제한하고, Queue로 백프레셔를 걸고 깔끔하게 끝냅니다.
    8. 코루틴 안의 블로킹 호출이 모든 작업을 멈추는 것을 재고 to_thread로 고칩니다.
    9. as_completed와 wait로 먼저 끝난 것부터 처리하고 경주(race)를 합니다.
    10. 디버그 모드, 느린 콜백 경고, 태스크 이름, all_tasks()로 문제를 찾습니다.
    11. 재시도, 지수 백오프와 지터, 시간제한, 전체 마감이 있는 동시 다운로더를 만듭니다.

핵심 개념
    - 코루틴 함수를 호출하면 본문이 실행되지 않고 코루틴 객체만 생깁니다.
      await(또는 asyncio.run)해야 실행됩니다.
    - 이벤트 루프는 실행 중인 코루틴이 멈출 때에만 다른 일로 넘어갑니다. 멈추는 곳은
      await의 사슬 끝에서 아직 끝나지 않은 것(대기 중인 퓨처나 태스크, 타이머, 소켓
      I/O)을 만난 곳입니다. 안에서 아무것도 기다리지 않는 코루틴을 await하면 보통
      함수 호출처럼 멈추지 않고 이어서 실행됩니다(2절에서 봅니다). 멈추지 않는
      코드(블로킹 호출, 긴 계산)는 그동안 모든 작업을 멈춥니다.
    - 동시성(concurrency)은 기다림을 겹치는 것이고, 병렬성(parallelism)은 CPU 여러 개로
      동시에 계산하는 것입니다. asyncio는 스레드 하나로 동시성을 얻습니다.
    - 취소는 CancelledError 예외로 전달됩니다. 정리는 finally에서 하고, 예외는
      삼키지 않고 다시 던집니다. 시간제한과 TaskGroup이 이 약속에 기댑니다.

실행 방법
    python 01_asyncio_basics.py                  # 메뉴
    python 01_asyncio_basics.py demo 3           # 3절만 실행
    python 01_asyncio_basics.py demo all         # 1~11절 전부(2코어 기계에서 약 6초)
    python 01_asyncio_basics.py demo 11 --seed 7 # 다른 시드로 종합 실습
    python 01_asyncio_basics.py --help

필요 패키지
    표준 라이브러리만 씁니다. Python 3.11 이상이 필요합니다.
    TaskGroup, asyncio.timeout, ExceptionGroup과 except*가 3.11에 생겼습니다.
    (3.10 이하에서는 except* 줄에서 SyntaxError가 납니다. 3.10은 2026년 10월에
    지원이 끝났습니다.) Queue.shutdown은 3.13부터이며, 7절은 3.11~3.12에서
    쓰는 방법도 함께 보여 줍니다.

참고
    https://docs.python.org/ko/3/library/asyncio.html
    https://docs.python.org/3/library/asyncio-dev.html  (asyncio로 개발하기: 디버깅)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import random
import re
import sys
import threading
import time
import unicodedata
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

PROG = "python 01_asyncio_basics.py"  # 도움말과 안내문에 보이는 실행 명령
DEFAULT_SEED = 9  # 11절 난수 시드: 성공, 503 재시도, 응답 없음, 포기, 404가 모두 보임


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
    print(f"\n── {number}. {title} " + "─" * max(4, 64 - display_width(title)))


# =============================================================================
# 1. 코루틴과 await
# =============================================================================
# async def로 정의한 함수는 "코루틴 함수"입니다. 호출하면 본문이 실행되는 대신
# 코루틴 객체가 만들어질 뿐이고, await하거나 asyncio.run()에 넘겨야 실행됩니다.
# await를 빠뜨려도 오류는 나지 않습니다. 결과 대신 코루틴 객체가 돌아오고, 그 객체가
# 버려질 때 "coroutine ... was never awaited" 경고가 표준 오류에 찍힙니다.
# 가장 흔한 실수입니다.


async def brew_coffee(menu: str, delay: float, log: list[str] | None = None) -> str:
    """커피를 내리는 척하는 코루틴. 본문이 실제로 시작되면 log에 기록합니다."""
    if log is not None:
        log.append(f"{menu} 시작")
    await asyncio.sleep(delay)  # 기다리는 동안 이벤트 루프는 다른 일을 합니다
    return f"{menu} 완성"


async def order_without_await() -> object:
    """나쁜 예: await를 빠뜨렸습니다. str 대신 코루틴 객체가 돌아갑니다."""
    return brew_coffee("라테", 0.05)  # 실수! await brew_coffee(...)라야 합니다


def demo_01_coroutines() -> None:
    """1절: 코루틴 객체와 그 결과는 다릅니다.

    경고 세 줄은 파이썬이 표준 오류에 찍는 그대로입니다: 파일과 줄 번호, 그 줄의
    코드, 그리고 tracemalloc을 켜면 코루틴이 만들어진 곳도 보인다는 안내입니다.

    예상 출력(시간은 컴퓨터마다 조금씩 다릅니다):
        brew_coffee(...) 호출 직후: coroutine 객체, 본문 실행 기록 0개
        asyncio.run(...) 결과: '아메리카노 완성' (본문 실행 기록 1개, 100.2ms)
        await를 빠뜨린 결과: coroutine (str이 아님)
        ...py:...: RuntimeWarning: coroutine 'brew_coffee' was never awaited
          del forgotten  # 아무도 쓰지 않는 코루틴이 사라지는 순간 경고가 납니다
        RuntimeWarning: Enable tracemalloc to get the object allocation traceback
        팁: 10절의 디버그 모드는 이 코루틴이 만들어진 줄까지 알려 줍니다.
    """
    heading(1, "코루틴과 await")
    log: list[str] = []
    coro = brew_coffee("아메리카노", 0.1, log)  # 아직 아무것도 실행되지 않았습니다
    print(f"brew_coffee(...) 호출 직후: {type(coro).__name__} 객체, ", end="")
    print(f"본문 실행 기록 {len(log)}개")

    start = time.perf_counter()
    result = asyncio.run(coro)  # 이벤트 루프를 만들고 코루틴을 끝까지 실행합니다
    elapsed = time.perf_counter() - start
    print(f"asyncio.run(...) 결과: {result!r} ", end="")
    print(f"(본문 실행 기록 {len(log)}개, {seconds(elapsed)})")

    # 경고를 오류로 바꾸는 설정(PYTHONWARNINGS=error)에서도 파이썬 기본대로 보여 줍니다.
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        forgotten = asyncio.run(order_without_await())
        print(f"await를 빠뜨린 결과: {type(forgotten).__name__} (str이 아님)")
        del forgotten  # 아무도 쓰지 않는 코루틴이 사라지는 순간 경고가 납니다
    print("팁: 10절의 디버그 모드는 이 코루틴이 만들어진 줄까지 알려 줍니다.")


# =============================================================================
# 2. 이벤트 루프: 스레드 하나가 차례로 돌린다
# =============================================================================
# 이벤트 루프는 "준비된 일"을 하나씩 실행하는 반복문입니다. 코루틴이 await에서
# 기다리면 루프는 다른 코루틴을 이어서 실행합니다. 그래서 기다림(네트워크, 타이머)이
# 많은 일은 스레드 하나로도 겹쳐서 처리할 수 있습니다. 같은 일을 순서대로 하면
# 시간의 합이, 동시에 하면 가장 긴 것 하나만큼이 걸립니다.
# 정확히는, await를 만날 때마다 차례가 넘어가는 것이 아닙니다. await한 코루틴은
# 보통 함수 호출처럼 그 자리에서 실행되고, 사슬의 끝에서 아직 끝나지 않은 것
# (대기 중인 퓨처나 태스크, asyncio.sleep의 타이머, 소켓 I/O)을 만났을 때에만
# 멈추고 루프로 돌아갑니다. 안에서 아무것도 기다리지 않는 코루틴을 await하면
# 다른 코루틴은 그 사이에 한 번도 실행되지 않습니다. asyncio.sleep(0)은 기다릴 것
# 없이 차례를 한 번 넘기도록 만든 특별한 경우입니다.
# 참고: 리눅스·macOS의 기본 루프는 셀렉터 기반이고 Windows는 ProactorEventLoop입니다.
#       uvicorn[standard]가 설치하는 uvloop(`uvloop.run(main())`)은 더 빠른
#       대체 루프입니다. 어느 쪽이든 이 파일의 코드는 그대로 동작합니다.

PAGES = (("메인", 0.3), ("뉴스", 0.2), ("날씨", 0.1))  # (페이지, 응답 지연 초)
Delays = Sequence[tuple[str, float]]  # PAGES처럼 (이름, 지연 초)의 목록


async def fetch_page(name: str, delay: float, log: list[str]) -> str:
    """페이지를 받아오는 척합니다. 어느 스레드에서 실행되는지 기록합니다."""
    log.append(f"{name} 요청 ({threading.current_thread().name})")
    await asyncio.sleep(delay)
    log.append(f"{name} 응답")
    return name


async def fetch_sequentially(pages: Delays, log: list[str]) -> float:
    """하나씩 차례로 기다립니다. 걸린 시간(초)을 돌려줍니다."""
    start = time.perf_counter()
    for name, delay in pages:
        await fetch_page(name, delay, log)
    return time.perf_counter() - start


async def fetch_concurrently(pages: Delays, log: list[str]) -> float:
    """한꺼번에 시작해 기다림을 겹칩니다. 걸린 시간(초)을 돌려줍니다."""
    start = time.perf_counter()
    await asyncio.gather(*(fetch_page(name, delay, log) for name, delay in pages))
    return time.perf_counter() - start


async def add_tax(price: int) -> int:
    """await할 것이 없는 코루틴: 호출한 쪽을 멈추지 않고 바로 끝납니다."""
    return price * 11 // 10


async def who_runs_between(pause: Callable[[], Awaitable[object]]) -> list[str]:
    """A가 pause()를 await하는 사이에 B가 실행되는지 순서를 기록합니다."""
    log: list[str] = []

    async def a() -> None:
        log.append("A 시작")
        await pause()
        log.append("A 끝")

    async def b() -> None:
        log.append("B")

    await asyncio.gather(a(), b())  # 둘을 태스크로 감싸 함께 돌립니다(3절). A가 먼저
    return log


def demo_02_event_loop() -> None:
    """2절: 같은 일을 순서대로 vs 동시에, 그리고 await가 차례를 넘기는 때.

    예상 출력:
        이벤트 루프: _UnixSelectorEventLoop    ← Windows에서는 ProactorEventLoop
        순서대로: 메인 요청 (MainThread) → 메인 응답 → 뉴스 요청 (MainThread) → ...
        동시에  : 메인 요청 (MainThread) → 뉴스 요청 (MainThread) → 날씨 요청 ...
        순서대로 601.2ms, 동시에 300.8ms → 2.0배 빠름, 사용한 스레드: MainThread 1개
        A가 await add_tax(1000)   : A 시작 → A 끝 → B      ← 차례가 넘어가지 않음
        A가 await asyncio.sleep(0): A 시작 → B → A 끝      ← 루프로 돌아가 B가 실행됨
    """
    heading(2, "이벤트 루프: 스레드 하나가 차례로 돌린다")
    seq_log: list[str] = []
    con_log: list[str] = []
    with asyncio.Runner() as runner:  # asyncio.run()과 같되, 루프 하나로 여러 번 실행
        loop_name = type(runner.get_loop()).__name__
        sequential = runner.run(fetch_sequentially(PAGES, seq_log))
        concurrent = runner.run(fetch_concurrently(PAGES, con_log))
    threads = {entry.split("(")[1][:-1] for entry in seq_log + con_log if "(" in entry}
    print(f"이벤트 루프: {loop_name}")
    print("순서대로:", " → ".join(seq_log))
    print("동시에  :", " → ".join(con_log))
    print(
        f"순서대로 {seconds(sequential)}, 동시에 {seconds(concurrent)} "
        f"→ {sequential / concurrent:.1f}배 빠름, "
        f"사용한 스레드: {', '.join(sorted(threads))} {len(threads)}개"
    )
    for label, pause in (
        ("add_tax(1000)   ", lambda: add_tax(1000)),
        ("asyncio.sleep(0)", lambda: asyncio.sleep(0)),
    ):
        order = asyncio.run(who_runs_between(pause))
        print(f"A가 await {label}: {' → '.join(order)}")


# =============================================================================
# 3. 태스크: 동시에 실행하고 결과와 오류를 모으기
# =============================================================================
# asyncio.create_task()는 코루틴을 태스크로 감싸 "곧 실행"하도록 예약합니다.
# 태스크는 만든 쪽이 실제로 멈출 때(2절: 아직 끝나지 않은 것을 await할 때) 시작합니다.
# - gather(return_exceptions=True): 실패도 결과 목록에 예외 객체로 담습니다.
# - TaskGroup(3.11+): 하나가 실패하면 나머지를 취소하고, 오류를 ExceptionGroup으로
#   모아 던집니다. except*는 그 그룹을 예외 종류별로 나눠 잡습니다.
# - 이벤트 루프는 태스크를 약한 참조(weak reference)로만 기억합니다. 결과를
#   기다리지 않는 "발사 후 망각(fire-and-forget)" 태스크는 직접 참조를 쥐고
#   있어야 사라지지 않습니다. 참조 없이 기다리던 태스크가 치워지면 asyncio가
#   "Task was destroyed but it is pending!"을 로그로 남깁니다.


async def flaky_job(name: str, delay: float, fail: bool) -> str:
    """delay초 뒤 성공하거나 ValueError로 실패합니다."""
    await asyncio.sleep(delay)
    if fail:
        raise ValueError(f"{name} 실패")
    return f"{name} 성공"


async def run_task_group(
    slow_delay: float = 1.0,
) -> tuple[list[str], list[str], list[str], float]:
    """두 작업이 곧바로 실패하면 TaskGroup은 느린 작업을 취소하고 오류를 모읍니다.

    돌려주는 값: (잡은 ValueError들, 잡은 KeyError들, 취소된 작업들, 걸린 초)
    """
    value_errors: list[str] = []
    key_errors: list[str] = []
    cancelled: list[str] = []

    async def job(name: str, delay: float, error: Exception | None) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise  # 취소는 삼키지 않고 다시 던집니다(5절)
        if error is not None:
            raise error

    start = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(job("입력 검증", 0, ValueError("나이는 음수일 수 없음")))
            tg.create_task(job("회원 조회", 0, KeyError("user-7")))
            tg.create_task(job("느린 보고서", slow_delay, None))
    except* ValueError as group:  # 그룹 안의 ValueError만 여기로
        value_errors = [str(exc) for exc in group.exceptions]
    except* KeyError as group:  # 같은 그룹의 KeyError는 여기로(둘 다 실행됨)
        key_errors = [str(exc) for exc in group.exceptions]
    return value_errors, key_errors, cancelled, time.perf_counter() - start


background_tasks: set[asyncio.Task[None]] = set()  # 발사 후 망각 태스크의 참조 보관소


def fire_and_forget(coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
    """태스크를 시작하고 끝날 때까지 참조를 쥐고 있습니다(공식 문서의 권장 방식)."""
    task = asyncio.create_task(coro)
    background_tasks.add(task)  # 강한 참조: 가비지 컬렉터가 치우지 못합니다
    task.add_done_callback(background_tasks.discard)  # 끝나면 스스로 빠집니다
    return task


async def lost_and_kept_tasks() -> tuple[bool, bool]:
    """(참조 없는 태스크가 gc 뒤에도 있는지, fire_and_forget 태스크가 끝났는지)."""

    async def wait_for_signal(event: asyncio.Event) -> None:
        await event.wait()  # Event는 6절에서: set()될 때까지 기다립니다

    # 나쁜 예: 태스크를 만들고 참조를 버립니다. weakref는 사라지는지 지켜보기만 합니다.
    lost = weakref.ref(asyncio.create_task(wait_for_signal(asyncio.Event())))
    kept_event = asyncio.Event()
    kept = fire_and_forget(wait_for_signal(kept_event))
    await asyncio.sleep(0)  # 두 태스크가 event.wait()에서 기다리게 합니다
    gc.collect()  # 참조 순환만 남은 객체를 지금 치웁니다(실제로는 언제든 일어남)
    kept_event.set()
    await kept
    return lost() is not None, kept.done() and not background_tasks


def demo_03_tasks() -> None:
    """3절: create_task, gather, TaskGroup과 except*, 태스크 참조 지키기.

    예상 출력:
        순서: create_task 직후 → 카푸치노 시작 → 첫 await 뒤
        gather(return_exceptions=True): ['A 성공', ValueError('B 실패'), 'C 성공']
        except* ValueError: ['나이는 음수일 수 없음'] / except* KeyError: ["'user-7'"]
        취소된 작업: ['느린 보고서'], 걸린 시간 0.3ms (1초짜리를 기다리지 않음)
        참조 없는 태스크와 fire_and_forget 태스크를 만들고 gc.collect():
        Task was destroyed but it is pending!         ← asyncio의 기본 예외 처리기
        task: <Task pending name='Task-...' coro=<...wait_for_signal() ...>...>
        참조 없는 태스크: 사라짐 / fire_and_forget 태스크: 끝까지 실행됨, 남은 참조 0개
    """
    heading(3, "태스크: 동시에 실행하고 결과와 오류를 모으기")

    async def start_order() -> list[str]:
        log: list[str] = []
        task = asyncio.create_task(brew_coffee("카푸치노", 0.01, log))
        log.append("create_task 직후")  # 태스크는 아직 시작 전입니다
        await asyncio.sleep(0)  # 차례를 넘기면 그제야 태스크가 시작합니다
        log.append("첫 await 뒤")
        await task
        return log

    print("순서:", " → ".join(asyncio.run(start_order())))

    async def gather_all() -> tuple[str | BaseException, ...]:
        return await asyncio.gather(
            flaky_job("A", 0.03, fail=False),
            flaky_job("B", 0.01, fail=True),
            flaky_job("C", 0.02, fail=False),
            return_exceptions=True,  # 실패해도 나머지 결과를 받습니다
        )

    print("gather(return_exceptions=True):", asyncio.run(gather_all()))

    value_errors, key_errors, cancelled, elapsed = asyncio.run(run_task_group())
    print(f"except* ValueError: {value_errors} / except* KeyError: {key_errors}")
    print(f"취소된 작업: {cancelled}, 걸린 시간 {seconds(elapsed)} ", end="")
    print("(1초짜리를 기다리지 않음)")

    print("참조 없는 태스크와 fire_and_forget 태스크를 만들고 gc.collect():")
    lost_alive, kept_ok = asyncio.run(lost_and_kept_tasks())  # 로그는 표준 오류로
    lost = "살아남음" if lost_alive else "사라짐"
    kept = "끝까지 실행됨" if kept_ok else "사라짐"
    print(f"참조 없는 태스크: {lost} / fire_and_forget 태스크: {kept}, ", end="")
    print(f"남은 참조 {len(background_tasks)}개")


# =============================================================================
# 4. 시간제한: timeout, timeout_at, wait_for
# =============================================================================
# 네트워크는 언제든 멈출 수 있으므로 모든 기다림에는 시간제한이 필요합니다.
# - async with asyncio.timeout(초): 블록 안의 await를 시간이 지나면 취소하고
#   TimeoutError를 던집니다(3.11+). 취소된 코루틴의 finally는 실행됩니다.
# - asyncio.timeout_at(루프 시각): 여러 단계가 "하나의 마감"을 나눠 쓸 때.
# - asyncio.wait_for(어웨이터블, 초): 한 번의 await에 시간제한(예전부터 있던 방식).
# 취소되지 않는 것도 있습니다: to_thread로 보낸 스레드는 멈출 수 없어서,
# 시간제한이 지나도 끝까지 실행됩니다.


async def slow_operation(delay: float, cleanup_log: list[str]) -> str:
    """delay초 걸리는 작업. 취소되어도 finally의 정리는 실행됩니다."""
    try:
        await asyncio.sleep(delay)
        return "완료"
    finally:
        cleanup_log.append("정리 완료")


async def run_with_timeout(
    limit: float, work: float, *, use_wait_for: bool = False
) -> tuple[bool, float, bool]:
    """work초짜리 작업에 limit초 제한을 겁니다(asyncio.timeout 또는 wait_for).

    돌려주는 값: (TimeoutError가 났는지, 걸린 초, finally의 정리가 실행됐는지)
    """
    cleanup: list[str] = []
    start = time.perf_counter()
    try:
        if use_wait_for:
            await asyncio.wait_for(slow_operation(work, cleanup), limit)
        else:
            async with asyncio.timeout(limit):
                await slow_operation(work, cleanup)
        timed_out = False
    except TimeoutError:
        timed_out = True
    return timed_out, time.perf_counter() - start, bool(cleanup)


async def steps_before_deadline(step: float, budget: float, max_steps: int = 20) -> int:
    """여러 단계가 하나의 마감(timeout_at)을 나눠 씁니다. 끝낸 단계 수를 돌려줍니다."""
    loop = asyncio.get_running_loop()
    done = 0
    with contextlib.suppress(TimeoutError):  # 마감은 예상한 일
        async with asyncio.timeout_at(loop.time() + budget):
            for _ in range(max_steps):
                await asyncio.sleep(step)  # 단계마다 제한을 새로 주지 않습니다
                done += 1
    return done


async def thread_outlives_timeout(limit: float, work: float) -> tuple[float, float]:
    """to_thread 작업에 시간제한을 겁니다. (제한이 걸린 시각, 스레드가 끝난 시각)."""
    finished = threading.Event()

    def blocking_job() -> None:
        time.sleep(work)  # 스레드 안이므로 괜찮습니다
        finished.set()

    start = time.perf_counter()
    with contextlib.suppress(TimeoutError):  # 시간제한은 예상한 일
        await asyncio.wait_for(asyncio.to_thread(blocking_job), limit)
    timed_out_at = time.perf_counter() - start
    await asyncio.to_thread(finished.wait, work + 5)  # 스레드는 아직 실행 중입니다
    return timed_out_at, time.perf_counter() - start


def demo_04_timeouts() -> None:
    """4절: 시간제한 세 가지와 취소되지 않는 스레드.

    예상 출력:
        asyncio.timeout(0.2) / 1초 작업: TimeoutError, 200.9ms, finally 정리 실행됨
        asyncio.wait_for(.., 0.2) / 1초 작업: TimeoutError, 201.1ms, finally 정리 실행됨
        timeout_at(0.35초 마감) / 0.1초 단계: 3단계 끝낸 뒤 마감
        to_thread(0.3초) + 제한 0.1초: 제한은 100.8ms에, 스레드는 301.2ms에 끝남 ...
    """
    heading(4, "시간제한: timeout, timeout_at, wait_for")
    for label, use_wait_for in (
        ("asyncio.timeout(0.2)", False),
        ("asyncio.wait_for(.., 0.2)", True),
    ):
        timed_out, elapsed, cleaned = asyncio.run(
            run_with_timeout(0.2, 1.0, use_wait_for=use_wait_for)
        )
        outcome = "TimeoutError" if timed_out else "제한 안에 완료"
        cleanup = "finally 정리 실행됨" if cleaned else "정리 안 됨"
        print(f"{label} / 1초 작업: {outcome}, {seconds(elapsed)}, {cleanup}")
    steps = asyncio.run(steps_before_deadline(0.1, 0.35))
    print(f"timeout_at(0.35초 마감) / 0.1초 단계: {steps}단계 끝낸 뒤 마감")
    timed_out_at, thread_done_at = asyncio.run(thread_outlives_timeout(0.1, 0.3))
    print(f"to_thread(0.3초) + 제한 0.1초: 제한은 {seconds(timed_out_at)}에, ", end="")
    print(f"스레드는 {seconds(thread_done_at)}에 끝남 (스레드는 취소되지 않음)")


# =============================================================================
# 5. 취소: cancel, finally, 다시 던지기, shield
# =============================================================================
# task.cancel()은 태스크가 기다리는 await 지점에 CancelledError를 던집니다.
# - 정리(파일 닫기, 연결 반납)는 finally에 둡니다.
# - CancelledError를 잡았다면 반드시 다시 던집니다(raise). 삼키면 호출한 쪽은
#   취소가 되었는지 모르고, asyncio.timeout과 TaskGroup도 제대로 동작하지 않습니다.
# - 취소한 태스크가 정말 끝날 때까지 기다려야 정리가 끝난 것입니다. 흔한 실수인
#   `with suppress(CancelledError): await task`는 "나 자신"이 취소된 것까지 삼킵니다.
#   gather(..., return_exceptions=True)는 자식의 취소만 결과로 받고 나의 취소는
#   그대로 전파합니다. (직접 구분하려면 current_task().cancelling()을 봅니다.)
# - asyncio.shield(태스크): 바깥의 취소가 안쪽 작업까지 퍼지지 않게 막습니다.


async def careful_worker(log: list[str]) -> None:
    """좋은 예: 취소를 받으면 기록하고, 정리하고, 다시 던집니다."""
    log.append("작업 시작")
    try:
        while True:
            await asyncio.sleep(0.05)
            log.append("한 단계")
    except asyncio.CancelledError:
        log.append("취소 요청 받음")
        raise  # 꼭 다시 던집니다
    finally:
        log.append("finally에서 정리")


async def swallowing_worker() -> str:
    """나쁜 예: CancelledError를 삼키고 정상 종료한 척합니다."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return "취소를 삼켰음"  # 이렇게 하면 안 됩니다
    return "완료"


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> list[str]:
    """태스크들을 취소하고 정말 끝날 때까지 기다립니다. 취소된 이름을 돌려줍니다."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)  # 나의 취소는 전파됨
    return sorted(task.get_name() for task in pending if task.cancelled())


async def cancel_demo() -> tuple[list[str], bool, bool, bool]:
    """좋은 작업과 나쁜 작업을 취소해 봅니다.

    돌려주는 값: (좋은 작업의 기록, 좋은 작업 cancelled(), 나쁜 작업 cancelled(),
    나쁜 작업을 감싼 asyncio.timeout이 TimeoutError를 냈는지)
    """
    log: list[str] = []
    good = asyncio.create_task(careful_worker(log))
    await asyncio.sleep(0.12)  # 두 단계쯤 일하게 둡니다
    await cancel_and_wait([good])

    bad = asyncio.create_task(swallowing_worker())
    await asyncio.sleep(0)
    await cancel_and_wait([bad])

    timeout_fired = False
    try:
        async with asyncio.timeout(0.05):
            await swallowing_worker()  # 시간이 지나도 TimeoutError가 나지 않습니다
    except TimeoutError:
        timeout_fired = True
    return log, good.cancelled(), bad.cancelled(), timeout_fired


async def save_under_timeout(
    limit: float, save_time: float, *, shielded: bool
) -> tuple[bool, bool]:
    """저장 작업에 시간제한을 겁니다. (제한 초과 여부, 저장이 결국 끝났는지)."""
    saved: list[str] = []

    async def save() -> None:
        await asyncio.sleep(save_time)
        saved.append("저장됨")

    task = asyncio.create_task(save())
    awaitable = asyncio.shield(task) if shielded else task
    try:
        await asyncio.wait_for(awaitable, limit)
        timed_out = False
    except TimeoutError:
        timed_out = True
    if not task.done():
        await task  # 방패 안의 저장은 계속 진행 중: 끝까지 기다립니다
    return timed_out, bool(saved)


def demo_05_cancellation() -> None:
    """5절: 취소를 올바르게 처리하기.

    예상 출력:
        좋은 작업: 작업 시작 → 한 단계 → 한 단계 → 취소 요청 받음 → finally에서 정리
        좋은 작업 task.cancelled() = True / 취소를 삼킨 작업 task.cancelled() = False
        취소를 삼킨 작업을 asyncio.timeout(0.05) 안에서: TimeoutError 발생 = False
          → 시간이 지났는데도 호출한 쪽은 알 수 없습니다. 그래서 다시 던져야 합니다.
        shield 없이 제한 0.1초, 저장 0.2초: 제한 초과 = True, 저장됨 = False
        shield 사용 제한 0.1초, 저장 0.2초: 제한 초과 = True, 저장됨 = True
    """
    heading(5, "취소: cancel, finally, 다시 던지기, shield")
    log, good_cancelled, bad_cancelled, timeout_fired = asyncio.run(cancel_demo())
    print("좋은 작업:", " → ".join(log))
    print(f"좋은 작업 task.cancelled() = {good_cancelled} / ", end="")
    print(f"취소를 삼킨 작업 task.cancelled() = {bad_cancelled}")
    print("취소를 삼킨 작업을 asyncio.timeout(0.05) 안에서: ", end="")
    print(f"TimeoutError 발생 = {timeout_fired}")
    print(
        "  → 시간이 지났는데도 호출한 쪽은 알 수 없습니다. 그래서 다시 던져야 합니다."
    )
    for label, shielded in (("shield 없이", False), ("shield 사용", True)):
        timed_out, saved = asyncio.run(save_under_timeout(0.1, 0.2, shielded=shielded))
        print(f"{label} 제한 0.1초, 저장 0.2초: ", end="")
        print(f"제한 초과 = {timed_out}, 저장됨 = {saved}")


# =============================================================================
# 6. 경쟁 상태와 Lock, Event
# =============================================================================
# 스레드가 하나여도 경쟁 상태(race condition)는 생깁니다. "읽기 → await → 쓰기" 사이에
# 다른 태스크가 끼어들면(2절: 차례가 넘어가는 곳) 갱신이 사라집니다. 읽기와 쓰기
# 사이에 차례가 넘어가지 않으면 끼어들 틈이 없지만, 그 사이에 await가 끼는 임계
# 구역(critical section)은 Lock으로 감싸 한 번에 한 태스크만 들어가게 합니다.
# Event는 반대 방향의 도구입니다: 신호 하나를 여러 태스크가 함께 기다리다가
# set() 한 번에 모두 깨어납니다(출발 신호, "준비 끝" 알림).


class BankAccount:
    """잔액을 읽고, 잠깐 기다렸다가(예: DB 왕복), 씁니다."""

    def __init__(self) -> None:
        self.balance = 0
        self._lock = asyncio.Lock()

    async def deposit_unsafe(self, amount: int) -> None:
        current = self.balance
        await asyncio.sleep(0)  # 여기서 다른 태스크가 끼어듭니다
        self.balance = current + amount

    async def deposit_safe(self, amount: int) -> None:
        async with self._lock:  # 읽기-쓰기를 한 덩어리로
            current = self.balance
            await asyncio.sleep(0)
            self.balance = current + amount


async def run_deposits(count: int, *, safe: bool) -> int:
    """count개의 태스크가 1원씩 동시에 입금합니다. 최종 잔액을 돌려줍니다."""
    account = BankAccount()
    deposit = account.deposit_safe if safe else account.deposit_unsafe
    await asyncio.gather(*(deposit(1) for _ in range(count)))
    return account.balance


async def start_signal(runners: int) -> tuple[int, int, float]:
    """(신호 전에 출발한 수, 신호 뒤 출발한 수, 신호에서 마지막 출발까지 걸린 초)."""
    event = asyncio.Event()
    started_at: list[float] = []

    async def runner() -> None:
        await event.wait()
        started_at.append(time.perf_counter())

    tasks = [asyncio.create_task(runner()) for _ in range(runners)]
    await asyncio.sleep(0.05)  # 모두 기다리는 중
    before = len(started_at)
    fired_at = time.perf_counter()
    event.set()
    await asyncio.gather(*tasks)
    return before, len(started_at), max(started_at) - fired_at


def demo_06_lock_and_event() -> None:
    """6절: 경쟁 상태와 Lock, 여러 태스크를 한꺼번에 깨우는 Event.

    예상 출력:
        Lock 없이 100번 입금: 잔액 1원 (사라진 갱신 99번)
        Lock으로 100번 입금: 잔액 100원 (사라진 갱신 0번)
        Event: 신호 전 출발 0명, 신호 후 5명 출발 (마지막 출발까지 0.1ms)
    """
    heading(6, "경쟁 상태와 Lock, Event")
    count = 100
    for label, safe in (("Lock 없이", False), ("Lock으로", True)):
        balance = asyncio.run(run_deposits(count, safe=safe))
        print(f"{label} {count}번 입금: 잔액 {balance}원 ", end="")
        print(f"(사라진 갱신 {count - balance}번)")
    before, after, spread = asyncio.run(start_signal(5))
    print(f"Event: 신호 전 출발 {before}명, 신호 후 {after}명 출발 ", end="")
    print(f"(마지막 출발까지 {seconds(spread)})")


# =============================================================================
# 7. Semaphore와 Queue: 동시 실행 제한과 백프레셔
# =============================================================================
# 동시에 실행하는 수에도 한도가 필요합니다. 외부 API는 동시 요청 수를 제한하고,
# 받는 쪽이 느린데 보내는 쪽이 계속 쌓으면 메모리가 끝없이 늘어납니다.
# - Semaphore(n): 동시에 n개까지만 들어갑니다(외부 API 동시 요청 제한 같은 곳).
#   아래에서는 실제로 몇 개가 동시에 실행됐는지 재서 확인합니다.
# - Queue(maxsize): 생산자/소비자. 큐가 차면 생산자가 put()에서 기다립니다: 이것이
#   백프레셔(backpressure), 곧 받는 쪽의 속도에 보내는 쪽을 맞추는 흐름 제어입니다.
#   끝낼 때는 3.13+의 queue.shutdown()을 쓰고, 3.11~3.12에서는 소비자마다
#   종료 표시(None)를 하나씩 넣습니다.


class ConcurrencyMeter:
    """지금 동시에 실행 중인 수와 그 최댓값을 잽니다(with 블록 하나 = 실행 하나)."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0

    def __enter__(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)

    def __exit__(self, *exc_info: object) -> None:
        self.active -= 1


async def run_bounded(jobs: int, limit: int, delay: float) -> tuple[int, float]:
    """Semaphore(limit)로 jobs개를 실행합니다. (측정한 최대 동시 실행 수, 걸린 초)."""
    semaphore = asyncio.Semaphore(limit)
    meter = ConcurrencyMeter()

    async def job() -> None:
        async with semaphore:
            with meter:
                await asyncio.sleep(delay)

    start = time.perf_counter()
    await asyncio.gather(*(job() for _ in range(jobs)))
    return meter.peak, time.perf_counter() - start


async def run_pipeline(
    items: int, consumers: int, *, maxsize: int = 5, use_shutdown: bool | None = None
) -> tuple[str, dict[str, int], int]:
    """생산자 하나, 소비자 여럿. 큐가 비고 생산이 끝나면 모두 깔끔하게 끝납니다.

    돌려주는 값: (종료 방식, 소비자별 처리 수, 측정한 큐 최대 길이)
    """
    if use_shutdown is None:
        use_shutdown = sys.version_info >= (3, 13)
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=maxsize)
    counts = {f"소비자{n}": 0 for n in range(1, consumers + 1)}
    peak = 0

    async def produce() -> None:
        nonlocal peak
        for item in range(items):
            await queue.put(item)  # 큐가 가득 차면 여기서 기다립니다(백프레셔)
            peak = max(peak, queue.qsize())
        if use_shutdown and sys.version_info >= (3, 13):
            queue.shutdown()  # 남은 항목은 마저 꺼내 가고, 그다음 get()이 예외를 냅니다
        else:
            for _ in range(consumers):
                await queue.put(None)  # 3.11~3.12: 소비자마다 종료 표시 하나씩

    async def consume(name: str) -> None:
        while True:
            if sys.version_info >= (3, 13):
                try:
                    item = await queue.get()
                except asyncio.QueueShutDown:
                    return
            else:
                item = await queue.get()
            if item is None:
                return
            await asyncio.sleep(0.002)  # 처리하는 척
            counts[name] += 1

    async with asyncio.TaskGroup() as tg:
        tg.create_task(produce())
        for name in counts:
            tg.create_task(consume(name))
    method = "queue.shutdown() (3.13+)" if use_shutdown else "종료 표시 None (3.11+)"
    return method, counts, peak


def demo_07_semaphore_and_queue() -> None:
    """7절: Semaphore로 동시 실행 수 제한, maxsize 큐의 백프레셔와 종료.

    예상 출력:
        Semaphore(3), 작업 10개 × 0.1초: 측정한 최대 동시 실행 3개, 401.5ms
        큐(maxsize=5) 30개, 소비자 3명: 처리 30개 {'소비자1': 10, ...}, 큐 최대 길이 5
          종료 방식: ...   ← 3.11~3.12: 종료 표시 None (3.11+), 3.13+: queue.shutdown()
    """
    heading(7, "Semaphore와 Queue: 동시 실행 제한과 백프레셔")
    peak, elapsed = asyncio.run(run_bounded(10, 3, 0.1))
    print("Semaphore(3), 작업 10개 × 0.1초: ", end="")
    print(f"측정한 최대 동시 실행 {peak}개, {seconds(elapsed)}")
    method, counts, longest = asyncio.run(run_pipeline(30, 3))
    print(f"큐(maxsize=5) 30개, 소비자 3명: 처리 {sum(counts.values())}개 ", end="")
    print(f"{counts}, 큐 최대 길이 {longest}")
    print(f"  종료 방식: {method}")


# =============================================================================
# 8. 블로킹 코드: 코루틴 안의 동기 호출은 모두를 멈춘다
# =============================================================================
# 이벤트 루프는 스레드 하나입니다. 코루틴 안에서 time.sleep(), requests.get(),
# 큰 파일 읽기 같은 동기(블로킹) 호출을 하면 그동안 다른 모든 태스크가 멈춥니다.
# 10ms마다 깨어나는 "티커"를 함께 돌려 루프가 얼마나 늦었는지(지연, lag) 재 봅니다.
# 고치는 법: asyncio.to_thread(함수, 인자...)로 스레드 풀에 보냅니다.
# 참고: ruff의 ASYNC 규칙은 async def 안의 time.sleep은 잡지만, 아래처럼 동기 함수
#       안에 숨은 블로킹은 잡지 못합니다. 라이브러리 호출이 동기인지 늘 확인하세요.
#       CPU를 오래 쓰는 계산은 GIL 때문에 스레드로는 빨라지지 않으니
#       loop.run_in_executor(ProcessPoolExecutor(), ...)를 씁니다.


def legacy_download(delay: float) -> str:
    """동기 라이브러리 흉내: 응답이 올 때까지 스레드를 붙잡습니다."""
    time.sleep(delay)
    return "데이터"


async def blocking_handler(delay: float) -> str:
    """나쁜 예: 코루틴 안에서 블로킹 함수를 그냥 부릅니다."""
    return legacy_download(delay)  # 경고: 이 동안 이벤트 루프 전체가 멈춤


async def threaded_handler(delay: float) -> str:
    """좋은 예: 블로킹 함수를 스레드로 보내고 결과를 await합니다."""
    return await asyncio.to_thread(legacy_download, delay)


async def measure_loop_lag(
    work: Awaitable[object], interval: float = 0.01
) -> tuple[float, int, float]:
    """work를 await하는 동안 interval마다 깨어나는 티커가 얼마나 늦었는지 잽니다.

    돌려주는 값: (루프의 최대 지연, 티커가 깨어난 횟수, work에 걸린 초)
    """
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            expected = loop.time() + interval
            await asyncio.sleep(interval)
            lags.append(loop.time() - expected)

    tick_task = asyncio.create_task(ticker())
    await asyncio.sleep(interval * 2)  # 티커가 돌기 시작하게
    start = time.perf_counter()
    await work
    elapsed = time.perf_counter() - start
    running = False
    await tick_task
    return max(lags, default=0.0), len(lags), elapsed


def demo_08_blocking() -> None:
    """8절: 블로킹 호출이 만드는 지연을 재고 to_thread로 없앱니다.

    예상 출력:
        블로킹 호출(0.3초): 루프 최대 지연 300.4ms, 작업 300.2ms 동안 티커 2번
        to_thread(0.3초)  : 루프 최대 지연 1.2ms, 작업 301.0ms 동안 티커 30번
        → to_thread로 루프 지연이 250배 줄었습니다
    """
    heading(8, "블로킹 코드: 코루틴 안의 동기 호출은 모두를 멈춘다")
    lags: list[float] = []
    for label, handler in (
        ("블로킹 호출(0.3초)", blocking_handler),
        ("to_thread(0.3초)  ", threaded_handler),
    ):
        lag, ticks, elapsed = asyncio.run(measure_loop_lag(handler(0.3)))
        print(f"{label}: 루프 최대 지연 {seconds(lag)}, ", end="")
        print(f"작업 {seconds(elapsed)} 동안 티커 {ticks}번")
        lags.append(lag)
    print(f"→ to_thread로 루프 지연이 {lags[0] / max(lags[1], 1e-6):.0f}배 줄었습니다")


# =============================================================================
# 9. 완료 순서대로: as_completed, wait, 경주
# =============================================================================
# gather는 모든 결과를 "시작한 순서대로" 한 번에 돌려줍니다. 먼저 끝난 것부터
# 처리하고 싶으면 as_completed, 가장 빠른 하나만 필요하면 wait(FIRST_COMPLETED)를
# 쓰고 나머지는 취소합니다. wait(timeout=...)은 제한 시간 안에 끝난 것만 가져옵니다.
# 어느 쪽이든, 끝나지 않은 태스크는 직접 취소하고 기다려서 정리해야 합니다.

MIRRORS = (("서울", 0.25), ("도쿄", 0.08), ("프랑크푸르트", 0.15))  # (미러, 지연 초)


async def query_mirror(name: str, delay: float) -> str:
    """미러 서버에 묻는 척합니다."""
    await asyncio.sleep(delay)
    return name


async def in_completion_order(mirrors: Delays) -> list[tuple[str, float]]:
    """먼저 끝난 것부터 (이름, 도착 시각)을 모읍니다."""
    start = time.perf_counter()
    arrivals: list[tuple[str, float]] = []
    for next_done in asyncio.as_completed([query_mirror(n, d) for n, d in mirrors]):
        name = await next_done
        arrivals.append((name, time.perf_counter() - start))
    return arrivals


async def first_response(mirrors: Delays) -> tuple[str, list[str], float]:
    """가장 빠른 미러 하나만 씁니다. (승자, 취소된 미러들, 걸린 초)."""
    start = time.perf_counter()
    tasks = {asyncio.create_task(query_mirror(n, d), name=n) for n, d in mirrors}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    cancelled = await cancel_and_wait(pending)  # 5절의 도우미
    return done.pop().result(), cancelled, time.perf_counter() - start


async def within_time(mirrors: Delays, limit: float) -> tuple[list[str], list[str]]:
    """limit초 안에 끝난 것만 씁니다. (끝난 미러들, 시간 안에 못 끝나 취소된 미러들)."""
    tasks = {asyncio.create_task(query_mirror(n, d), name=n) for n, d in mirrors}
    done, pending = await asyncio.wait(tasks, timeout=limit)  # 예외를 던지지 않습니다
    return sorted(task.result() for task in done), await cancel_and_wait(pending)


def demo_09_completion_order() -> None:
    """9절: 먼저 끝난 것부터, 가장 빠른 하나, 시간 안에 끝난 것만.

    예상 출력:
        as_completed: 도쿄(80.5ms) → 프랑크푸르트(150.9ms) → 서울(250.8ms)
        wait(FIRST_COMPLETED): 승자 도쿄, 취소 ['서울', '프랑크푸르트'], 81.0ms
        wait(timeout=0.2): 끝남 ['도쿄', '프랑크푸르트'], 취소 ['서울']
    """
    heading(9, "완료 순서대로: as_completed, wait, 경주")
    arrivals = asyncio.run(in_completion_order(MIRRORS))
    print("as_completed:", " → ".join(f"{n}({seconds(t)})" for n, t in arrivals))
    winner, cancelled, elapsed = asyncio.run(first_response(MIRRORS))
    print(f"wait(FIRST_COMPLETED): 승자 {winner}, 취소 {cancelled}, {seconds(elapsed)}")
    finished, unfinished = asyncio.run(within_time(MIRRORS, 0.2))
    print(f"wait(timeout=0.2): 끝남 {finished}, 취소 {unfinished}")


# =============================================================================
# 10. 디버깅: 디버그 모드, 느린 콜백, 태스크 이름, all_tasks()
# =============================================================================
# asyncio.run(main(), debug=True) (또는 환경 변수 PYTHONASYNCIODEBUG=1, python -X dev)로
# 디버그 모드를 켜면:
# - loop.slow_callback_duration(기본 0.1초)보다 오래 걸린 한 단계를 "asyncio" 로거가
#   경고합니다. 8절 같은 블로킹 호출을 찾는 가장 빠른 방법입니다.
# - await 안 된 코루틴 경고에 "만들어진 곳"(Coroutine created at)의 호출 경로가
#   붙습니다. 1절의 경고는 코루틴이 버려진 곳만 알려 줍니다.
# 로깅을 설정하지 않은 프로그램에서 asyncio 로거의 경고는 표준 오류에 그대로
# 찍힙니다. 서비스에서는 logging.basicConfig(...)나 로그 수집기로 보냅니다.
# 태스크에 이름을 붙이면(create_task(..., name=...)) all_tasks()와 로그에서
# 알아보기 쉽습니다.


async def debug_session(block: float = 0.15) -> list[str]:
    """느린 단계와 await 안 된 코루틴을 일부러 만들고 태스크 이름들을 돌려줍니다."""
    current = asyncio.current_task()
    if current is not None:
        current.set_name("main")  # 이름 없는 태스크는 'Task-번호'로 보입니다
    workers = [
        asyncio.create_task(query_mirror(f"미러-{n}", 0.05), name=f"다운로드-{n}")
        for n in (1, 2)
    ]
    names = sorted(task.get_name() for task in asyncio.all_tasks())
    print(f"all_tasks(): {names}")

    async def slow_step() -> None:
        legacy_download(block)  # 일부러 블로킹: 디버그 모드가 잡아내는지 봅니다

    print(f"'느린-단계' 태스크가 {block}초 동안 블로킹합니다:")
    await asyncio.create_task(slow_step(), name="느린-단계")
    await asyncio.gather(*workers)

    print("await를 빠뜨린 코루틴을 버립니다:")
    with warnings.catch_warnings():  # 1절처럼: 경고를 파이썬 기본대로 보여 줍니다
        warnings.simplefilter("default")
        coro = brew_coffee("디버그", 0)  # 나쁜 예: await가 없습니다
        del coro
    return names


def demo_10_debugging() -> None:
    """10절: 디버그 모드가 알려 주는 것들.

    예상 출력(경고는 표준 오류에 찍힙니다. 경로와 번호는 환경마다 다름):
        all_tasks(): ['main', '다운로드-1', '다운로드-2']
        '느린-단계' 태스크가 0.15초 동안 블로킹합니다:
        Executing <Task finished name='느린-단계' coro=<...> took 0.151 seconds
        await를 빠뜨린 코루틴을 버립니다:
        ...py:...: RuntimeWarning: coroutine 'brew_coffee' was never awaited
        Coroutine created at (most recent call last)
        ...
          File "...01_asyncio_basics.py", line ..., in debug_session
            coro = brew_coffee("디버그", 0)  # 나쁜 예: await가 없습니다
          del coro
        RuntimeWarning: Enable tracemalloc to get the object allocation traceback
    """
    heading(10, "디버깅: 디버그 모드, 느린 콜백, 태스크 이름, all_tasks()")
    asyncio.run(debug_session(), debug=True)


# =============================================================================
# 11. 종합 실습: 재시도와 마감이 있는 동시 다운로더
# =============================================================================
# 실제 서비스의 다운로드는 느리거나, 잠깐 실패하거나(503), 아예 응답이 없거나,
# 영영 실패합니다(404). 지금까지 배운 것을 모두 모읍니다.
# - Semaphore로 동시 요청 수 제한, 시도마다 asyncio.timeout
# - 일시적 오류는 지수 백오프(exponential backoff)와 지터(jitter)로 다시 시도:
#   모두가 같은 간격으로 재시도하면 서버에 또 한꺼번에 몰리므로 간격을 흩뜨립니다.
#   (풀 지터: 0 ~ min(최대, 기본 × 2^(시도-1)) 사이의 무작위 대기)
# - 영구 오류는 재시도하지 않습니다. 백오프 대기는 세마포어 밖에서 합니다.
# - 전체 마감(asyncio.timeout) 안에서 TaskGroup으로 모두 실행하고, 마감이 되면
#   남은 작업은 취소되며 각자 상태를 "마감 초과"로 남깁니다.
# 네트워크 없이 가짜 지연으로 흉내 내며, URL마다 시드를 둔 난수로 결과가 재현됩니다.

URLS = (
    *(f"https://files.example.com/report-{n:02d}.pdf" for n in range(1, 12)),
    "https://files.example.com/missing.pdf",  # 404: 재시도하지 않아야 합니다
)


class TransientError(Exception):
    """잠시 뒤 다시 시도하면 성공할 수 있는 오류(예: 503, 연결 끊김)."""


class PermanentError(Exception):
    """다시 시도해도 소용없는 오류(예: 404)."""


@dataclass(frozen=True)
class RetryPolicy:
    """재시도 정책."""

    max_attempts: int = 4  # 첫 시도 포함
    per_try_timeout: float = 0.3  # 시도 한 번의 시간제한(초)
    base_delay: float = 0.05  # 첫 재시도 대기의 상한(초)
    max_delay: float = 0.4  # 대기 상한의 상한(초)


def backoff_cap(attempt: int, policy: RetryPolicy) -> float:
    """attempt번째 실패 뒤 대기 시간의 상한: 지수적으로 늘다가 max_delay에서 멈춥니다.

    >>> policy = RetryPolicy(base_delay=0.1, max_delay=0.5)
    >>> [backoff_cap(n, policy) for n in range(1, 6)]
    [0.1, 0.2, 0.4, 0.5, 0.5]
    """
    cap: float = policy.base_delay * 2 ** (attempt - 1)
    return min(policy.max_delay, cap)


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """풀 지터: 0 ~ 상한 사이에서 고르게 뽑습니다.

    >>> policy = RetryPolicy(base_delay=0.1, max_delay=0.5)
    >>> rng = random.Random(1)
    >>> all(0 <= backoff_delay(3, policy, rng) <= 0.4 for _ in range(1000))
    True
    """
    return rng.uniform(0, backoff_cap(attempt, policy))


async def simulated_fetch(url: str, rng: random.Random) -> int:
    """가짜 다운로드: 받은 바이트 수를 돌려주거나 오류를 냅니다."""
    if url.endswith("missing.pdf"):
        await asyncio.sleep(0.02)
        raise PermanentError("404")
    roll = rng.random()
    latency = rng.uniform(0.03, 0.15)
    if roll < 0.25:
        await asyncio.sleep(latency / 2)
        raise TransientError("503")
    if roll < 0.35:
        await asyncio.sleep(60)  # 응답 없음: 시도별 시간제한이 끊어 줘야 합니다
    await asyncio.sleep(latency)
    return rng.randint(50_000, 900_000)


@dataclass
class DownloadResult:
    """URL 하나의 결과."""

    url: str
    status: str = "대기"  # 성공 / 실패 / 마감 초과
    attempts: int = 0
    size: int = 0
    elapsed: float = 0.0  # 대기(세마포어, 백오프)를 포함한 전체 시간
    busy: float = 0.0  # 실제로 요청을 보내고 기다린 시간의 합
    errors: list[str] = field(default_factory=list)


async def download_one(
    result: DownloadResult,
    rng: random.Random,
    semaphore: asyncio.Semaphore,
    meter: ConcurrencyMeter,
    policy: RetryPolicy,
) -> None:
    """URL 하나를 재시도하며 받습니다. 결과는 result에 기록합니다."""
    start = time.perf_counter()
    try:
        for attempt in range(1, policy.max_attempts + 1):
            result.attempts = attempt
            try:
                async with semaphore:
                    sent = time.perf_counter()
                    try:
                        with meter:
                            async with asyncio.timeout(policy.per_try_timeout):
                                result.size = await simulated_fetch(result.url, rng)
                    finally:
                        result.busy += time.perf_counter() - sent
                result.status = "성공"
                return
            except PermanentError as exc:
                result.errors.append(str(exc))
                result.status = "실패"
                return  # 재시도해도 소용없습니다
            except TransientError as exc:
                result.errors.append(str(exc))
            except TimeoutError:
                result.errors.append("응답 없음")  # 시도별 시간제한에 걸림
            if attempt < policy.max_attempts:
                await asyncio.sleep(backoff_delay(attempt, policy, rng))  # 세마포어 밖
        result.status = "실패"
    except asyncio.CancelledError:
        result.status = "마감 초과"
        raise
    finally:
        result.elapsed = time.perf_counter() - start


@dataclass
class DownloadSummary:
    """전체 실행 결과."""

    results: list[DownloadResult]
    elapsed: float
    deadline_hit: bool
    peak_concurrency: int
    concurrency: int


async def download_all(
    urls: Sequence[str],
    *,
    concurrency: int = 4,
    deadline: float = 10.0,
    seed: int = DEFAULT_SEED,
    policy: RetryPolicy | None = None,
) -> DownloadSummary:
    """모든 URL을 동시에(최대 concurrency개) 받되, 전체 마감을 지킵니다."""
    policy = policy or RetryPolicy()
    results = [DownloadResult(url) for url in urls]
    semaphore = asyncio.Semaphore(concurrency)
    meter = ConcurrencyMeter()
    start = time.perf_counter()
    deadline_hit = False
    try:
        async with asyncio.timeout(deadline), asyncio.TaskGroup() as tg:
            for result in results:
                rng = random.Random(f"{seed}:{result.url}")  # URL마다 재현 가능한 난수
                job = download_one(result, rng, semaphore, meter, policy)
                tg.create_task(job, name=result.url.rsplit("/", 1)[-1])
    except TimeoutError:
        deadline_hit = True
    elapsed = time.perf_counter() - start
    return DownloadSummary(results, elapsed, deadline_hit, meter.peak, concurrency)


def tally(results: Sequence[DownloadResult]) -> str:
    """결과별 개수: '성공 10 / 실패 2 / 마감 초과 0'."""
    statuses = [r.status for r in results]
    return " / ".join(f"{k} {statuses.count(k)}" for k in ("성공", "실패", "마감 초과"))


def print_summary(summary: DownloadSummary) -> None:
    """결과 표와 요약을 출력합니다."""
    header = pad("파일", 16) + pad("결과", 10) + pad("시도", 6) + pad("시간", 10)
    print(header + pad("크기", 9) + "시도 기록")
    print("─" * 76)
    for r in summary.results:
        name = r.url.rsplit("/", 1)[-1]
        size = f"{r.size / 1024:.0f}KiB" if r.status == "성공" else "-"
        history = " → ".join(r.errors + (["성공"] if r.status == "성공" else []))
        print(
            f"{pad(name, 16)}{pad(r.status, 10)}{pad(str(r.attempts), 6)}"
            f"{pad(seconds(r.elapsed), 10)}{pad(size, 9)}{history}"
        )
    busy = sum(r.busy for r in summary.results)  # 하나씩 했다면 최소한 이만큼 걸립니다
    retries = sum(max(0, r.attempts - 1) for r in summary.results)
    print("─" * 76)
    print(f"{tally(summary.results)}, 재시도 {retries}번")
    print(
        f"전체 {seconds(summary.elapsed)}, 요청 시간의 합 {seconds(busy)} "
        f"→ 동시 실행으로 {busy / summary.elapsed:.1f}배"
    )
    print(f"측정한 최대 동시 요청 {summary.peak_concurrency}개 ", end="")
    print(f"(제한 {summary.concurrency}개)")


def demo_11_downloader(seed: int = DEFAULT_SEED) -> None:
    """11절: 동시 다운로더 종합 실습.

    report-03은 네 번 모두 실패해 포기했고, missing.pdf(404)는 재시도하지 않았습니다.
    전체 마감을 0.3초로 줄이면 끝나지 못한 다운로드가 취소되어 "마감 초과"로 남습니다.

    예상 출력(시드 9: 같은 시드면 결과와 시도 기록이 같고, 시간만 다릅니다):
        시드 9, 동시 요청 최대 4개, 시도별 제한 0.3초, 최대 4번 시도, 전체 마감 10초
        파일            결과      시도  시간      크기     시도 기록
        ────────────────────────────────────────────────────────────────────────────
        report-01.pdf   성공      2     421.6ms   67KiB    503 → 성공
        report-02.pdf   성공      1     147.3ms   220KiB   성공
        report-03.pdf   실패      4     802.3ms   -        응답 없음 → 503 → ...
        report-04.pdf   성공      3     448.9ms   95KiB    503 → 503 → 성공
        report-05.pdf   성공      1     152.7ms   626KiB   성공
        report-06.pdf   성공      2     368.6ms   546KiB   503 → 성공
        report-07.pdf   성공      1     219.8ms   492KiB   성공
        report-08.pdf   성공      3     772.9ms   191KiB   503 → 응답 없음 → 성공
        report-09.pdf   성공      1     300.5ms   647KiB   성공
        report-10.pdf   성공      1     308.0ms   828KiB   성공
        report-11.pdf   성공      1     290.2ms   428KiB   성공
        missing.pdf     실패      1     311.3ms   -        404
        ────────────────────────────────────────────────────────────────────────────
        성공 10 / 실패 2 / 마감 초과 0, 재시도 9번
        전체 802.5ms, 요청 시간의 합 2.31초 → 동시 실행으로 2.9배
        측정한 최대 동시 요청 4개 (제한 4개)
        [전체 마감 0.3초로 다시] 성공 5 / 실패 0 / 마감 초과 7, 전체 300.7ms
    """
    heading(11, "종합 실습: 재시도와 마감이 있는 동시 다운로더")
    print(f"시드 {seed}, 동시 요청 최대 4개, 시도별 제한 0.3초, ", end="")
    print("최대 4번 시도, 전체 마감 10초")
    summary = asyncio.run(download_all(URLS, seed=seed))
    print_summary(summary)

    short = asyncio.run(download_all(URLS, seed=seed, deadline=0.3))
    print(f"[전체 마감 0.3초로 다시] {tally(short.results)}, ", end="")
    print(f"전체 {seconds(short.elapsed)}")


# =============================================================================
# 실행 모드: demo
# =============================================================================

SECTIONS: dict[int, tuple[str, Callable[[], None]]] = {
    1: ("코루틴과 await", demo_01_coroutines),
    2: ("이벤트 루프: 스레드 하나가 차례로", demo_02_event_loop),
    3: ("태스크: gather, TaskGroup, except*", demo_03_tasks),
    4: ("시간제한: timeout, timeout_at, wait_for", demo_04_timeouts),
    5: ("취소: cancel, finally, shield", demo_05_cancellation),
    6: ("경쟁 상태와 Lock, Event", demo_06_lock_and_event),
    7: ("Semaphore와 Queue: 동시 실행 제한, 백프레셔", demo_07_semaphore_and_queue),
    8: ("블로킹 코드와 to_thread", demo_08_blocking),
    9: ("완료 순서대로: as_completed, wait", demo_09_completion_order),
    10: ("디버깅: 디버그 모드와 태스크 이름", demo_10_debugging),
    11: ("종합 실습: 동시 다운로더", demo_11_downloader),
}
DEMO_ALL_TIME = "2코어 기계에서 약 6초"  # demo all을 잰 시간(모듈 docstring과 같게)


def run_demo(section: str, seed: int = DEFAULT_SEED) -> int:
    """demo 모드: 한 절 또는 전체(all)를 실행합니다."""
    numbers = list(SECTIONS) if section == "all" else [int(section)]
    start = time.perf_counter()
    for number in numbers:
        if number == 11:
            demo_11_downloader(seed)
        else:
            SECTIONS[number][1]()
    if len(numbers) > 1:
        elapsed = seconds(time.perf_counter() - start)
        print(f"\n{len(numbers)}개 절을 {elapsed}에 마쳤습니다.")
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
    (r"expected one argument", "값이 하나 필요합니다"),
    (r"invalid int value: (.+)", r"\1은(는) 정수가 아닙니다"),
    (r"^argument (\S+): ", r"\1: "),
)


class KoreanArgumentParser(argparse.ArgumentParser):
    """도움말과 오류를 한국어로 보여 주는 ArgumentParser."""

    # Any: add_parser()가 넘기는 argparse 인자를 그대로 전달합니다.
    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(add_help=False, **kwargs)
        self._positionals.title, self._optionals.title = "위치 인자", "옵션"
        self.add_argument("-h", "--help", action="help", help="이 도움말을 보여 줍니다")

    def format_usage(self) -> str:
        return super().format_usage().replace("usage:", "사용법:", 1)

    def format_help(self) -> str:
        return super().format_help().replace("usage:", "사용법:", 1)

    def error(self, message: str) -> NoReturn:
        for pattern, korean in ARGPARSE_KOREAN:
            message = re.sub(pattern, korean, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"오류: {message}\n도움말: {self.prog} --help\n")


def section_choice(value: str) -> str:
    """demo의 절 번호를 검사합니다(허용 목록: SECTIONS의 번호, all)."""
    value = value.strip().lower()
    if value == "all" or (value.isdecimal() and int(value) in SECTIONS):
        return value
    raise argparse.ArgumentTypeError(
        f"'{value}'은(는) 없는 절입니다. 1~{len(SECTIONS)} 또는 all 중에서 고르세요"
    )


def build_parser() -> KoreanArgumentParser:
    """모드마다 하위 명령(subcommand)을 둔 파서를 만듭니다."""
    parser = KoreanArgumentParser(
        prog=PROG,
        description="01. asyncio 기초. 인자 없이 실행하면 메뉴가 나옵니다.",
        epilog=(
            "예시:\n"
            f"  {PROG}                 # 메뉴\n"
            f"  {PROG} demo 3          # 3절(태스크)만 실행\n"
            f"  {PROG} demo all        # 1~{len(SECTIONS)}절 전부({DEMO_ALL_TIME})\n"
        ),
    )
    modes = parser.add_subparsers(
        dest="mode", metavar="모드", help="실행할 모드 (아래 중 하나)"
    )
    sections = "\n".join(f"  {n:>2}. {title}" for n, (title, _) in SECTIONS.items())
    demo = modes.add_parser(
        "demo",
        help=f"절을 골라 예제를 실행합니다 (1~{len(SECTIONS)} 또는 all)",
        description=f"절 번호를 주면 그 절만, all이면 전부 실행합니다.\n\n{sections}",
        epilog=(
            f"예시:\n  {PROG} demo 8\n  {PROG} demo all\n"
            f"  {PROG} demo 11 --seed 7  # 다른 시드로 종합 실습"
        ),
    )
    demo.add_argument(
        "section",
        nargs="?",
        default="all",
        type=section_choice,
        help=f"절 번호 1~{len(SECTIONS)} 또는 all (기본: all)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"11절 난수 시드 (기본: {DEFAULT_SEED})",
    )
    return parser


def run_mode(args: argparse.Namespace) -> int:
    """하위 명령을 실행합니다(01에는 demo 하나뿐입니다)."""
    return run_demo(args.section, args.seed)


def ask(prompt: str) -> str:
    """input()과 같되, 프롬프트를 쓴 직후에 온 Ctrl+C도 놓치지 않습니다.

    input()은 프롬프트를 쓰고 읽기 시작하기 전까지 C 코드 안에 머물러, 그 틈의
    SIGINT는 다음 입력까지 처리되지 않습니다. print() 뒤에는 파이썬이 신호를 봅니다.
    """
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError  # 입력이 닫힘(파이프가 끝남, Ctrl+D)
    return line.rstrip("\n")


def run_menu(parser: KoreanArgumentParser) -> int:
    """인자 없이 실행했을 때의 번호 메뉴. 각 항목은 하위 명령 하나와 같습니다."""
    entries = {str(n): (title, ["demo", str(n)]) for n, (title, _) in SECTIONS.items()}
    entries["a"] = (f"전체 실행 ({DEMO_ALL_TIME})", ["demo", "all"])
    while True:
        print("\n01. asyncio 기초 ─ 메뉴")
        for key, (title, argv) in entries.items():
            print(f"  {key:>2}. {pad(title, 48)}({' '.join(argv)})")
        print("   q. 종료 (0 또는 빈 줄도 종료)")
        try:
            choice = ask("번호를 고르세요 > ").strip().lower()
        except EOFError:
            print("\n입력이 끝나 종료합니다.")
            return 0
        if choice in ("", "0", "q"):
            print("종료합니다.")
            return 0
        if choice not in entries:
            keys = f"1~{len(SECTIONS)}, a, q"
            print(f"'{choice}'은(는) 메뉴에 없습니다. {keys} 중에서 골라 주세요.")
            continue
        run_mode(parser.parse_args(entries[choice][1]))


def main(argv: list[str] | None = None) -> int:
    """진입점: 인자가 없으면 메뉴, 있으면 그 모드를 실행합니다."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run_menu(parser) if args.mode is None else run_mode(args)
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
