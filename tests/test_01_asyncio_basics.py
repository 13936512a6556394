"""01_asyncio_basics.py: 각 절이 주장하는 것을 모듈의 함수로 직접 확인합니다.

시간은 절대값(ms)이 아니라 비율과 넉넉한 여유로 비교합니다(공유된 2코어 기계).
레슨은 경고와 asyncio 로그를 파이썬이 찍는 그대로 보여 주므로, 테스트가 직접
잡아서(pytest.warns, recwarn, caplog) 확인합니다.
"""

from __future__ import annotations

import asyncio
import doctest
import logging
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import (
    LessonProcess,
    assert_no_traceback,
    find_python,
    load_lesson,
    run_lesson,
)

FILE = "01_asyncio_basics.py"
lesson = load_lesson(FILE)


def test_doctests_of_pure_helpers() -> None:
    result = doctest.testmod(lesson, verbose=False)
    assert result.attempted >= 5
    assert result.failed == 0


# 1. 코루틴 ---------------------------------------------------------------


def test_calling_a_coroutine_function_runs_nothing_until_awaited() -> None:
    log: list[str] = []
    coro = lesson.brew_coffee("아메리카노", 0.01, log)
    assert log == []
    assert asyncio.run(coro) == "아메리카노 완성"
    assert log == ["아메리카노 시작"]


def test_forgotten_await_returns_a_coroutine_and_warns() -> None:
    with pytest.warns(RuntimeWarning, match="'brew_coffee' was never awaited"):
        kind = type(asyncio.run(lesson.order_without_await())).__name__
    assert kind == "coroutine"


# 2. 이벤트 루프 -----------------------------------------------------------


def test_concurrent_time_is_a_fraction_of_sequential_on_one_thread() -> None:
    async def both() -> tuple[float, float, list[str], list[str]]:
        seq_log: list[str] = []
        con_log: list[str] = []
        seq = await lesson.fetch_sequentially(lesson.PAGES, seq_log)
        con = await lesson.fetch_concurrently(lesson.PAGES, con_log)
        return seq, con, seq_log, con_log

    seq, con, seq_log, con_log = asyncio.run(both())
    assert con < seq * 0.75  # 이론값은 0.3/0.6 = 0.5
    # 동시 실행에서는 세 요청이 응답보다 먼저 모두 나갑니다: 번갈아 실행된다는 증거
    assert [e.split()[1] for e in con_log[:3]] == ["요청"] * 3
    assert all("MainThread" in e for e in seq_log + con_log if "요청" in e)


def test_await_yields_to_the_loop_only_where_something_is_not_done_yet() -> None:
    async def no_suspend() -> None:  # 멈추지 않는 코루틴을 await하는 코루틴
        await lesson.add_tax(1000)

    assert asyncio.run(lesson.add_tax(1000)) == 1100
    for pause in (lambda: lesson.add_tax(1000), no_suspend):  # 사슬이 길어도 같음
        order = asyncio.run(lesson.who_runs_between(pause))
        assert order == ["A 시작", "A 끝", "B"]
    order = asyncio.run(lesson.who_runs_between(lambda: asyncio.sleep(0)))
    assert order == ["A 시작", "B", "A 끝"]
    order = asyncio.run(lesson.who_runs_between(lambda: asyncio.sleep(0.01)))
    assert order == ["A 시작", "B", "A 끝"]


# 3. 태스크 ---------------------------------------------------------------


def test_task_group_splits_errors_by_type_and_cancels_the_slow_sibling() -> None:
    value_errors, key_errors, cancelled, elapsed = asyncio.run(
        lesson.run_task_group(slow_delay=2.0)
    )
    assert value_errors == ["나이는 음수일 수 없음"]
    assert key_errors == ["'user-7'"]
    assert cancelled == ["느린 보고서"]
    assert elapsed < 1.0  # 2초짜리 작업을 기다리지 않았습니다


def test_unreferenced_task_is_destroyed_and_kept_task_finishes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    lost_alive, kept_ok = asyncio.run(lesson.lost_and_kept_tasks())
    assert not lost_alive
    assert kept_ok
    assert not lesson.background_tasks
    destroyed = [
        r.getMessage() for r in caplog.records if r.name == "asyncio"
    ]  # asyncio의 기본 예외 처리기가 남긴 로그
    assert len(destroyed) == 1, destroyed
    assert destroyed[0].startswith("Task was destroyed but it is pending!")
    assert "wait_for_signal()" in destroyed[0]


# 4. 시간제한 -------------------------------------------------------------


@pytest.mark.parametrize("use_wait_for", [False, True])
def test_timeout_raises_and_cleanup_runs(use_wait_for: bool) -> None:
    timed_out, elapsed, cleanup_ran = asyncio.run(
        lesson.run_with_timeout(0.1, 2.0, use_wait_for=use_wait_for)
    )
    assert timed_out
    assert cleanup_ran
    assert elapsed < 1.0


def test_no_timeout_when_work_is_fast() -> None:
    timed_out, _elapsed, cleanup_ran = asyncio.run(lesson.run_with_timeout(1.0, 0.01))
    assert not timed_out
    assert cleanup_ran


def test_timeout_at_is_one_deadline_for_all_steps() -> None:
    steps = asyncio.run(lesson.steps_before_deadline(0.1, 0.35, max_steps=20))
    assert 1 <= steps <= 3  # 단계마다 제한을 새로 줬다면 20단계를 모두 끝냈을 것


def test_a_thread_keeps_running_after_its_timeout() -> None:
    timed_out_at, thread_done_at = asyncio.run(lesson.thread_outlives_timeout(0.1, 0.5))
    assert timed_out_at < 0.5 * 0.8
    assert thread_done_at >= 0.5 * 0.95


# 5. 취소 ---------------------------------------------------------------


def test_cancelled_task_runs_finally_and_swallowing_breaks_timeout() -> None:
    log, good_cancelled, bad_cancelled, timeout_fired = asyncio.run(
        lesson.cancel_demo()
    )
    assert log[0] == "작업 시작"
    assert log[-2:] == ["취소 요청 받음", "finally에서 정리"]
    assert good_cancelled
    assert not bad_cancelled  # 취소를 삼키면 호출한 쪽은 알 수 없습니다
    assert not timeout_fired  # 그리고 asyncio.timeout도 TimeoutError를 내지 못합니다


def test_cancel_and_wait_propagates_our_own_cancellation() -> None:
    async def scenario() -> bool:
        child = asyncio.create_task(asyncio.sleep(10))
        helper = asyncio.create_task(lesson.cancel_and_wait([child]))
        await asyncio.sleep(0)
        helper.cancel()  # 기다리는 쪽 자신이 취소되면
        try:
            await helper
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(scenario())


@pytest.mark.parametrize(("shielded", "saved"), [(False, False), (True, True)])
def test_shield_lets_the_save_finish(shielded: bool, saved: bool) -> None:
    timed_out, did_save = asyncio.run(
        lesson.save_under_timeout(0.05, 0.2, shielded=shielded)
    )
    assert timed_out
    assert did_save is saved


# 6. 경쟁 상태와 Lock, Event ---------------------------------------------


def test_race_loses_updates_without_the_lock_and_none_with_it() -> None:
    assert asyncio.run(lesson.run_deposits(100, safe=False)) < 100
    assert asyncio.run(lesson.run_deposits(100, safe=True)) == 100


def test_event_releases_every_waiter_only_after_set() -> None:
    before, after, _spread = asyncio.run(lesson.start_signal(5))
    assert (before, after) == (0, 5)


# 7. Semaphore와 Queue ---------------------------------------------------


@pytest.mark.parametrize("limit", [2, 3, 5])
def test_semaphore_bounds_measured_concurrency(limit: int) -> None:
    peak, elapsed = asyncio.run(lesson.run_bounded(10, limit, 0.05))
    assert peak == limit
    rounds = -(-10 // limit)
    assert elapsed >= rounds * 0.05 * 0.9  # 제한 때문에 여러 번에 나눠 실행됨


def test_pipeline_with_sentinels_consumes_everything_and_stops() -> None:
    method, counts, longest = asyncio.run(
        lesson.run_pipeline(30, 3, maxsize=4, use_shutdown=False)
    )
    assert sum(counts.values()) == 30
    assert longest <= 4  # 백프레셔: 큐가 maxsize를 넘지 않음
    assert "None" in method


@pytest.mark.skipif(sys.version_info < (3, 13), reason="Queue.shutdown은 3.13부터")
def test_pipeline_with_queue_shutdown() -> None:  # pragma: no cover  3.13+에서만
    method, counts, _longest = asyncio.run(
        lesson.run_pipeline(30, 3, use_shutdown=True)
    )
    assert sum(counts.values()) == 30
    assert "shutdown" in method


# 8. 블로킹 코드 ----------------------------------------------------------


def test_blocking_call_freezes_the_loop_and_to_thread_does_not() -> None:
    delay = 0.3
    bad_lag, bad_ticks, _ = asyncio.run(
        lesson.measure_loop_lag(lesson.blocking_handler(delay))
    )
    good_lag, good_ticks, _ = asyncio.run(
        lesson.measure_loop_lag(lesson.threaded_handler(delay))
    )
    assert bad_lag > delay * 0.8  # 루프가 작업 시간만큼 멈춤
    assert good_lag < bad_lag / 5
    assert good_ticks > bad_ticks * 3


# 9. 완료 순서 -----------------------------------------------------------


def test_as_completed_yields_in_finishing_order() -> None:
    arrivals = asyncio.run(lesson.in_completion_order(lesson.MIRRORS))
    by_delay = [name for name, _ in sorted(lesson.MIRRORS, key=lambda m: m[1])]
    assert [name for name, _ in arrivals] == by_delay


def test_first_completed_wins_and_the_rest_are_cancelled() -> None:
    winner, cancelled, elapsed = asyncio.run(lesson.first_response(lesson.MIRRORS))
    assert winner == "도쿄"
    assert cancelled == ["서울", "프랑크푸르트"]
    assert elapsed < 0.25  # 가장 느린 미러(0.25초)를 기다리지 않음


def test_wait_with_timeout_keeps_only_the_finished() -> None:
    finished, unfinished = asyncio.run(lesson.within_time(lesson.MIRRORS, 0.2))
    assert finished == ["도쿄", "프랑크푸르트"]
    assert unfinished == ["서울"]


# 10. 디버깅 --------------------------------------------------------------

SLOW_STEP = re.compile(r"^Executing <Task .*name='느린-단계'.*> took ([\d.]+) seconds$")


def slow_step_reports(caplog: pytest.LogCaptureFixture) -> list[float]:
    """asyncio 로거가 남긴 느린 단계 경고에서 잰 시간(초)을 꺼냅니다."""
    found = (SLOW_STEP.match(r.getMessage()) for r in caplog.records)
    return [float(match[1]) for match in found if match]


def test_debug_mode_reports_slow_step_and_where_a_coroutine_was_created(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    with pytest.warns(RuntimeWarning, match="never awaited") as caught:
        names = asyncio.run(lesson.debug_session(block=0.12), debug=True)
    assert names == ["main", "다운로드-1", "다운로드-2"]
    (took,) = slow_step_reports(caplog)
    assert took >= 0.12 * 0.9
    message = str(caught[0].message)
    assert "Coroutine created at" in message
    assert "in debug_session" in message  # 만들어진 함수까지 알려 줍니다


def test_without_debug_mode_the_slow_step_goes_unreported(
    caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    asyncio.run(lesson.debug_session(block=0.12))
    assert slow_step_reports(caplog) == []
    unawaited = [str(w.message) for w in recwarn if "never awaited" in str(w.message)]
    assert len(unawaited) == 1
    assert "Coroutine created at" not in unawaited[0]


# 11. 종합 실습 -----------------------------------------------------------


def outcome(summary: object) -> list[tuple[str, str, int, int]]:
    return [(r.url, r.status, r.attempts, r.size) for r in summary.results]  # type: ignore[attr-defined]


def test_downloader_retries_transient_errors_and_not_permanent_ones() -> None:
    summary = asyncio.run(lesson.download_all(lesson.URLS, seed=lesson.DEFAULT_SEED))
    results = {r.url.rsplit("/", 1)[-1]: r for r in summary.results}
    missing = results.pop("missing.pdf")
    assert (missing.status, missing.attempts, missing.errors) == ("실패", 1, ["404"])
    retried = [r for r in results.values() if r.status == "성공" and r.attempts > 1]
    assert retried, "일시적 오류 뒤 재시도해서 성공한 파일이 있어야 합니다"
    assert any("응답 없음" in r.errors for r in results.values())
    for r in results.values():
        assert r.attempts <= 4
        assert len(r.errors) == r.attempts - (r.status == "성공")
    assert not summary.deadline_hit
    assert 1 <= summary.peak_concurrency <= summary.concurrency


def test_downloader_is_reproducible_with_a_seed() -> None:
    first = asyncio.run(lesson.download_all(lesson.URLS, seed=7))
    second = asyncio.run(lesson.download_all(lesson.URLS, seed=7))
    other = asyncio.run(lesson.download_all(lesson.URLS, seed=8))
    assert outcome(first) == outcome(second)
    assert outcome(first) != outcome(other)


def test_downloader_respects_the_global_deadline() -> None:
    summary = asyncio.run(
        lesson.download_all(lesson.URLS, seed=lesson.DEFAULT_SEED, deadline=0.3)
    )
    statuses = [r.status for r in summary.results]
    assert summary.deadline_hit
    assert "마감 초과" in statuses
    assert "대기" not in statuses  # 모든 파일이 결과를 남깁니다
    assert summary.elapsed < 0.3 + 0.5


def test_summary_prints_sizes_in_kib(capsys: pytest.CaptureFixture[str]) -> None:
    result = lesson.DownloadResult("https://x/a.pdf", "성공", 1, 2048, 0.1, 0.1)
    lesson.print_summary(lesson.DownloadSummary([result], 0.1, False, 1, 4))
    out = capsys.readouterr().out
    assert "2KiB" in out
    assert "KB" not in out.replace("KiB", "")


def test_backoff_grows_then_caps() -> None:
    policy = lesson.RetryPolicy(base_delay=0.1, max_delay=0.5)
    caps = [lesson.backoff_cap(n, policy) for n in range(1, 7)]
    assert caps == sorted(caps)
    assert caps[-1] == 0.5


# 학습자처럼 실행하기 ------------------------------------------------------

# demo all이 표준 오류에 찍는 것: 데모가 일부러 보여 주는 경고와 asyncio 로그뿐입니다.
EXPECTED_STDERR = re.compile(
    r"^(.*: RuntimeWarning: coroutine 'brew_coffee' was never awaited"
    r"|RuntimeWarning: Enable tracemalloc to get the object allocation traceback"
    r"|Task was destroyed but it is pending!"
    r"|task: <Task pending name=.*wait_for_signal\(\).*"
    r"|Executing <Task .*name='느린-단계'.* took [\d.]+ seconds"
    r"|Coroutine created at \(most recent call last\)"
    r"|  .*)$"  # 경고가 가리키는 코드 줄과 호출 경로(들여쓴 줄)
)


def check_demo_all(result: subprocess.CompletedProcess[str]) -> None:
    """모든 절이 실행되고, 표준 오류에는 1, 3, 10절이 보여 주는 것만 있습니다."""
    assert result.returncode == 0, result.stderr
    for number in range(1, len(lesson.SECTIONS) + 1):
        assert f"── {number}. " in result.stdout
    assert f"{len(lesson.SECTIONS)}개 절을" in result.stdout
    # PYTHONWARNINGS=error 아래에서도 경고가 예외로 바뀌어 새지 않습니다.
    assert_no_traceback(result.stdout + result.stderr)
    assert "Exception ignored" not in result.stderr
    stray = [
        line for line in result.stderr.splitlines() if not EXPECTED_STDERR.match(line)
    ]
    assert not stray, result.stderr
    assert result.stderr.count("'brew_coffee' was never awaited") == 2  # 1절, 10절
    assert result.stderr.count("Task was destroyed but it is pending!") == 1  # 3절
    assert result.stderr.count("Coroutine created at") == 1  # 10절(디버그 모드)
    assert "name='느린-단계'" in result.stderr  # 10절(디버그 모드)


def test_demo_all_runs_every_section() -> None:
    check_demo_all(run_lesson(FILE, "demo", "all", timeout=90))


def test_one_running_time_for_demo_all_everywhere() -> None:
    assert lesson.DEMO_ALL_TIME in (lesson.__doc__ or "")
    help_text = run_lesson(FILE, "--help").stdout
    assert lesson.DEMO_ALL_TIME in help_text
    assert "모드:" not in help_text  # 제목 '모드'는 없고, 모드는 '위치 인자' 아래 한 번
    assert "위치 인자:" in help_text
    menu = run_lesson(FILE, input="q\n").stdout
    assert lesson.DEMO_ALL_TIME in menu
    for number in lesson.SECTIONS:
        assert f"(demo {number})" in menu


def test_menu_runs_a_section_then_quits() -> None:
    result = run_lesson(FILE, input="2\nq\n")
    assert result.returncode == 0, result.stderr
    assert "── 2. 이벤트 루프" in result.stdout
    assert "배 빠름" in result.stdout
    assert result.stdout.rstrip().endswith("종료합니다.")


@pytest.mark.parametrize("bad", ["12", "0", "abc"])
def test_unknown_section_is_a_korean_error(bad: str) -> None:
    result = run_lesson(FILE, "demo", bad)
    assert result.returncode == 2
    assert_no_traceback(result.stderr)
    assert f"'{bad}'은(는) 없는 절입니다" in result.stderr


def test_ctrl_c_in_the_middle_of_a_section() -> None:
    with LessonProcess(FILE, "demo", "4") as proc:
        proc.wait_for_output("asyncio.timeout(0.2)")
        time.sleep(0.1)  # 다음 줄의 0.2초 기다림 도중(이벤트 루프를 만드는 순간이 아님)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        assert proc.stderr.strip() == "Ctrl+C로 중단했습니다."


@pytest.mark.parametrize("minor", [12, 13])
def test_demo_all_on_other_python_versions(minor: int) -> None:
    """3.12와 3.13에서도 전부 실행되고, 7절은 버전에 맞는 종료 방식을 고릅니다."""
    python = find_python(minor)
    if python is None:
        pytest.skip(f"Python 3.{minor} 인터프리터가 이 기계에 없습니다")
    result = run_lesson(FILE, "demo", "all", python=python, timeout=90)
    check_demo_all(result)
    method = "queue.shutdown() (3.13+)" if minor >= 13 else "종료 표시 None (3.11+)"
    assert f"종료 방식: {method}" in result.stdout
