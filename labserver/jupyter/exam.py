"""A practice exam: a random draw across topics, an optional countdown, a score by topic.

``draw_exam()`` and ``ExamSession`` hold all the logic and need no browser: the session
takes a clock (a function returning seconds), so a test can move time forward by hand.
``PracticeExam`` shows a session as ipywidgets. Its countdown is driven by an ipywidgets
``Play`` widget, which ticks in the browser and tells the kernel: no thread runs in the
kernel, so nothing can keep a kernel (or an autograde run) waiting. Every tick, and every
answer, asks the session whether time is up; once it is, answers lock and the exam scores.
"""

from __future__ import annotations

import html
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets

from .quiz import OBJECTIVES, TOPICS, Question, QuestionCard, grade, html_text, load_bank

EXAM_CSS = {
    "exam": "mal-exam",
    "timer": "mal-exam-timer",
    "finish": "mal-exam-finish",
    "result": "mal-exam-result",
}


class ExamOver(Exception):
    """An answer came after the exam was finished or its time ran out."""


def draw_exam(bank: Sequence[Question], count: int = 20, seed: int | None = None,
              topics: Sequence[str] | None = None, objective: str | None = None
              ) -> list[Question]:
    """``count`` different questions spread evenly across ``topics`` (all by default).

    Topics take turns, in a shuffled order, so no topic gets two questions more than
    another while it still has questions left; the result is shuffled. Seedable.
    ``objective`` ("official" or "depth") keeps only questions of that kind.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    wanted = list(topics) if topics is not None else list(TOPICS)
    unknown = [t for t in wanted if t not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topics: {', '.join(unknown)}")
    if objective not in (None, *OBJECTIVES):
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
    rng = random.Random(seed)
    pools = {t: [q for q in bank if q.topic == t and objective in (None, q.objective)]
             for t in wanted}
    for pool in pools.values():
        rng.shuffle(pool)
    order = [t for t in wanted if pools[t]]
    rng.shuffle(order)
    picked: list[Question] = []
    while len(picked) < count and order:
        for topic in list(order):
            if len(picked) == count:
                break
            picked.append(pools[topic].pop())
            if not pools[topic]:
                order.remove(topic)
    rng.shuffle(picked)
    return picked


@dataclass(frozen=True, slots=True)
class Review:
    """A question answered wrongly (or not at all), with its feedback."""

    question: Question
    response: Any
    feedback: str


@dataclass(frozen=True, slots=True)
class ExamResult:
    """The score overall and per topic, and the wrong answers to review."""

    correct: int
    total: int
    by_topic: dict[str, tuple[int, int]]
    wrong: list[Review]
    timed_out: bool

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.total if self.total else 0.0

    def summary(self) -> str:
        """The score as text: overall, then one line per topic."""
        lines = [f"Score: {self.correct} of {self.total} ({self.percent:.0f}%)"
                 + (" (time ran out)" if self.timed_out else "")]
        for topic, (right, asked) in sorted(self.by_topic.items()):
            lines.append(f"  {topic}: {right} of {asked}")
        return "\n".join(lines)


@dataclass
class ExamSession:
    """One sitting: questions, answers so far, and the clock."""

    questions: list[Question]
    time_limit: float | None = None  # seconds; None means untimed
    clock: Callable[[], float] = time.monotonic
    answers: dict[str, Any] = field(default_factory=dict)
    started: float = field(init=False)
    result: ExamResult | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.questions:
            raise ValueError("an exam needs at least one question")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError("time_limit must be positive (or None for no limit)")
        self.started = self.clock()
        self._ids = {q.id for q in self.questions}

    def remaining(self) -> float | None:
        """Seconds left (never below 0), or None for an untimed exam."""
        if self.time_limit is None:
            return None
        return max(0.0, self.time_limit - (self.clock() - self.started))

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    @property
    def finished(self) -> bool:
        return self.result is not None

    def answer(self, question_id: str, response: Any) -> None:
        """Record (or change) an answer; after the end it is refused and the exam scores."""
        if question_id not in self._ids:
            raise KeyError(f"no question {question_id!r} in this exam")
        if self.expired():
            self.finish()
        if self.finished:
            raise ExamOver("the exam is over: answers are locked")
        self.answers[question_id] = response

    def poll(self) -> bool:
        """Finish the exam if its time is up; True when it is over."""
        if not self.finished and self.expired():
            self.finish()
        return self.finished

    def finish(self) -> ExamResult:
        """Score the answers given so far (unanswered questions count as wrong). Idempotent."""
        if self.result is not None:
            return self.result
        by_topic: dict[str, tuple[int, int]] = {}
        wrong: list[Review] = []
        correct = 0
        for q in self.questions:
            response = self.answers.get(q.id)
            ok, feedback = grade(q, response)
            right, asked = by_topic.get(q.topic, (0, 0))
            by_topic[q.topic] = (right + ok, asked + 1)
            correct += ok
            if not ok:
                wrong.append(Review(q, response, feedback))
        self.result = ExamResult(correct, len(self.questions), by_topic, wrong,
                                 timed_out=self.expired())
        return self.result


def format_clock(seconds: float) -> str:
    """``mm:ss``, rounded up so that 0:00 shows only when time is really up."""
    whole = int(-(-seconds // 1))
    return f"{whole // 60:d}:{whole % 60:02d}"


class PracticeExam(widgets.VBox):
    """A session as widgets: question cards without their own Check buttons, a countdown,
    a Finish button, then the score by topic and the review of wrong answers."""

    def __init__(self, session: ExamSession, title: str = "Practice exam") -> None:
        self.session = session
        self.cards = [QuestionCard(q, n, check_button=False)
                      for n, q in enumerate(session.questions, start=1)]
        for card in self.cards:
            self._watch(card)
        self.timer = widgets.HTML(self._timer_text())
        self.timer.add_class(EXAM_CSS["timer"])
        self.finish_button = widgets.Button(description="Finish and score",
                                            button_style="primary")
        self.finish_button.add_class(EXAM_CSS["finish"])
        self.finish_button.on_click(lambda _: self.finish())
        self.result_box = widgets.HTML("")
        self.result_box.add_class(EXAM_CSS["result"])
        header: list[widgets.Widget] = [widgets.HTML(f"<h3>{html.escape(title)}</h3>"),
                                        self.timer]
        self.ticker: widgets.Play | None = None
        if session.time_limit is not None:
            # Ticks come from the browser, once a second, from the moment it shows the
            # widget; with no browser (a headless run), none come and nothing waits.
            self.ticker = widgets.Play(value=0, min=0, max=int(session.time_limit) + 1,
                                       interval=1000, show_repeat=False, playing=True)
            self.ticker.observe(lambda _: self.tick(), names="value")
            header.append(self.ticker)
        super().__init__([*header, *self.cards, self.finish_button, self.result_box])
        self.add_class(EXAM_CSS["exam"])

    def _watch(self, card: QuestionCard) -> None:
        def changed(_: object) -> None:
            if self.session.finished:
                return
            try:
                self.session.answer(card.question.id, card.response())
            except ExamOver:
                self.finish()

        targets = card.boxes if card.question.style == "multiple" else [card.input]
        for widget in targets:
            widget.observe(changed, names="value")

    def _timer_text(self) -> str:
        remaining = self.session.remaining()
        if remaining is None:
            return "Untimed: take as long as you like."
        return f"Time left: {format_clock(remaining)}"

    def tick(self) -> None:
        """Refresh the countdown; when time is up, lock and score."""
        self.timer.value = self._timer_text()
        if self.session.poll():
            self.finish()

    def finish(self) -> ExamResult:
        """Lock every answer, score, and show the score, each card's verdict and the review.

        A card shows the answer the session recorded: a change made after time ran out
        is put back, since it was never counted.
        """
        result = self.session.finish()
        for card in self.cards:
            recorded = self.session.answers.get(card.question.id)
            if card.response() != recorded:
                card.set_response(_blank(card.question) if recorded is None else recorded)
            card.lock()
            card.show(*grade(card.question, recorded))
        if self.ticker is not None:
            self.ticker.playing = False
        self.finish_button.disabled = True
        self.timer.value = self._timer_text() if not result.timed_out else "Time is up."
        self.result_box.value = render_result(result)
        return result


def _blank(question: Question) -> Any:
    """What an untouched card holds, by style."""
    return {"single": None, "multiple": set(), "fill": ""}[question.style]


def render_result(result: ExamResult) -> str:
    """The score and the review of wrong answers as HTML."""
    parts = [f"<pre>{html.escape(result.summary())}</pre>"]
    if result.wrong:
        parts.append("<h4>Review</h4><ol>")
        for review in result.wrong:
            q = review.question
            parts.append(f"<li><b>{html_text(q.question)}</b><br>"
                         f"{html_text(review.feedback)}</li>")
        parts.append("</ol>")
    else:
        parts.append("<p>Every answer was right.</p>")
    return "".join(parts)


def practice_exam(count: int = 20, minutes: float | None = None, seed: int | None = None,
                  topics: Sequence[str] | None = None, objective: str | None = None
                  ) -> PracticeExam:
    """A practice exam of ``count`` questions across topics, timed when ``minutes`` is given
    (``objective="official"``: only questions on LPI's own objective text)."""
    questions = draw_exam(load_bank(), count, seed=seed, topics=topics, objective=objective)
    limit = None if minutes is None else minutes * 60.0
    return PracticeExam(ExamSession(questions, time_limit=limit))


__all__ = ["EXAM_CSS", "ExamOver", "ExamResult", "ExamSession", "PracticeExam", "Review",
           "draw_exam", "format_clock", "practice_exam", "render_result"]
