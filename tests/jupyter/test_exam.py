"""The practice exam: the draw, the clock and the score are pure and tested with a fake clock."""

from __future__ import annotations

from collections import Counter

import pytest

from labserver.jupyter.exam import (
    EXAM_CSS,
    ExamOver,
    ExamSession,
    PracticeExam,
    draw_exam,
    format_clock,
    practice_exam,
    render_result,
)
from labserver.jupyter.quiz import TOPICS, grade, load_bank

BANK = load_bank()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _right(q):  # the response a learner who knows the answer gives
    return set(q.answer) if q.style == "multiple" else (
        q.answer if q.style == "single" else q.answer[0])


def test_draw_spreads_questions_across_topics() -> None:
    picked = draw_exam(BANK, 20, seed=4)
    assert len(picked) == 20 and len({q.id for q in picked}) == 20
    counts = Counter(q.topic for q in picked)
    assert set(counts) == set(TOPICS)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_draw_is_seedable() -> None:
    assert draw_exam(BANK, 15, seed=9) == draw_exam(BANK, 15, seed=9)
    assert draw_exam(BANK, 15, seed=9) != draw_exam(BANK, 15, seed=10)


def test_draw_of_chosen_topics_and_more_than_there_are() -> None:
    picked = draw_exam(BANK, 1000, seed=1, topics=["01-courier", "07-listeners"])
    expected = [q for q in BANK if q.topic in ("01-courier", "07-listeners")]
    assert sorted(q.id for q in picked) == sorted(q.id for q in expected)
    with pytest.raises(ValueError, match="unknown topics"):
        draw_exam(BANK, 5, topics=["99-nothing"])
    with pytest.raises(ValueError):
        draw_exam(BANK, 0)


def test_draw_by_objective() -> None:
    official = draw_exam(BANK, 1000, seed=1, objective="official")
    assert official and all(q.objective == "official" for q in official)
    assert len(official) == sum(q.objective == "official" for q in BANK)
    with pytest.raises(ValueError, match="objective"):
        draw_exam(BANK, 5, objective="bonus")


def test_a_small_topic_runs_out_and_the_others_fill_in() -> None:
    small = [q for q in BANK if q.topic == "09-exam-practice"]
    picked = draw_exam(BANK, 3 * len(small), seed=3, topics=["09-exam-practice", "02-pam-auth"])
    counts = Counter(q.topic for q in picked)
    assert counts == {"09-exam-practice": len(small), "02-pam-auth": 2 * len(small)}


def test_score_by_topic_and_review_of_wrong_answers() -> None:
    questions = draw_exam(BANK, 6, seed=2)
    session = ExamSession(questions)
    for q in questions[:4]:
        session.answer(q.id, _right(q))
    wrong = questions[4]
    if wrong.style == "single":
        session.answer(wrong.id, (wrong.answer + 1) % len(wrong.choices))
    else:
        session.answer(wrong.id, set() if wrong.style == "multiple" else "")
    result = session.finish()
    assert (result.correct, result.total) == (4, 6)
    assert [r.question for r in result.wrong] == questions[4:]
    assert result.wrong[1].response is None
    assert sum(asked for _, asked in result.by_topic.values()) == 6
    assert sum(right for right, _ in result.by_topic.values()) == 4
    assert result.summary().startswith("Score: 4 of 6 (67%)")
    assert result.timed_out is False
    assert session.finish() is result


def test_untimed_sessions_never_expire() -> None:
    clock = Clock()
    session = ExamSession(draw_exam(BANK, 2, seed=1), clock=clock)
    clock.now += 10**6
    assert session.remaining() is None and not session.poll()


def test_the_timer_locks_and_scores_when_time_is_up() -> None:
    clock = Clock()
    questions = draw_exam(BANK, 3, seed=5)
    session = ExamSession(questions, time_limit=60, clock=clock)
    assert session.remaining() == 60
    clock.now += 59.5
    session.answer(questions[0].id, _right(questions[0]))
    assert session.remaining() == pytest.approx(0.5)
    assert not session.poll()
    clock.now += 1
    assert session.remaining() == 0
    with pytest.raises(ExamOver):
        session.answer(questions[1].id, _right(questions[1]))
    assert session.finished and session.result is not None
    assert session.result.timed_out is True
    assert session.result.correct == 1


def test_answers_to_other_questions_are_refused() -> None:
    session = ExamSession(draw_exam(BANK, 2, seed=1))
    with pytest.raises(KeyError):
        session.answer("not-in-this-exam", 0)


def test_bad_sessions_are_refused() -> None:
    with pytest.raises(ValueError):
        ExamSession([])
    with pytest.raises(ValueError):
        ExamSession(draw_exam(BANK, 1, seed=1), time_limit=0)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (0.2, "0:01"), (59.0, "0:59"),
                                               (60, "1:00"), (1799.5, "30:00")])
def test_format_clock(seconds: float, text: str) -> None:
    assert format_clock(seconds) == text


def test_the_widget_records_answers_and_scores_on_finish() -> None:
    questions = draw_exam(BANK, 4, seed=8)
    exam = PracticeExam(ExamSession(questions))
    assert EXAM_CSS["exam"] in exam._dom_classes
    assert EXAM_CSS["finish"] in exam.finish_button._dom_classes
    assert all(card.button not in card.children for card in exam.cards)
    for card in exam.cards[:3]:
        card.set_response(_right(card.question))
    assert set(exam.session.answers) == {q.id for q in questions[:3]}
    exam.finish_button.click()
    assert "Score: 3 of 4" in exam.result_box.value
    assert "Review" in exam.result_box.value
    assert all(card.button.disabled for card in exam.cards)
    assert exam.cards[3].input.disabled or exam.cards[3].question.style == "multiple"


def test_the_widget_countdown_expires_on_a_tick() -> None:
    clock = Clock()
    questions = draw_exam(BANK, 3, seed=6)
    exam = PracticeExam(ExamSession(questions, time_limit=120, clock=clock))
    assert "Time left: 2:00" in exam.timer.value
    clock.now += 61
    exam.ticker.value = 1
    assert "Time left: 0:59" in exam.timer.value
    clock.now += 60
    exam.ticker.value = 2
    assert exam.session.finished and exam.timer.value == "Time is up."
    assert "(time ran out)" in exam.result_box.value
    before = dict(exam.session.answers)
    late = exam.cards[0]
    late.set_response(_right(late.question))
    assert exam.session.answers == before
    assert exam.ticker.playing is False
    assert all(card.feedback.value for card in exam.cards)


def test_an_answer_after_expiry_without_a_tick_still_locks() -> None:
    clock = Clock()
    questions = draw_exam(BANK, 2, seed=6)
    exam = PracticeExam(ExamSession(questions, time_limit=10, clock=clock))
    clock.now += 11
    card = exam.cards[0]
    card.set_response(_right(card.question))
    assert exam.session.finished and exam.session.answers == {}
    assert not grade(card.question, card.response())[0], "the late answer is not shown"
    assert "No answer given." in card.feedback.value


def test_practice_exam_builds_a_timed_exam() -> None:
    exam = practice_exam(count=5, minutes=1, seed=3)
    assert len(exam.cards) == 5 and exam.ticker.max == 61
    assert practice_exam(count=3, seed=3).session.time_limit is None
    assert all(c.question.objective == "depth"
               for c in practice_exam(count=6, seed=1, objective="depth").cards)


def test_rendered_result_escapes_and_praises() -> None:
    session = ExamSession(draw_exam(BANK, 1, seed=1))
    q = session.questions[0]
    session.answer(q.id, _right(q))
    assert "Every answer was right." in render_result(session.finish())
