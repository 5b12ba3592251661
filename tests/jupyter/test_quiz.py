"""Review quizzes: loading, drawing and grading are pure; the widget only wraps them."""

from __future__ import annotations

import pytest

from labserver.jupyter import quiz
from labserver.jupyter.quiz import (
    CSS,
    TOPICS,
    Pointer,
    Question,
    Quiz,
    by_topic,
    draw,
    grade,
    is_correct,
    load_bank,
    normalise,
    review_quiz,
)

BANK = load_bank()


def _q(style: str, answer: object, choices: tuple[str, ...] = (), case_sensitive: bool = False
       ) -> Question:
    return Question(id="t", topic="00-start-here", style=style, question="Which one?",
                    answer=answer, explanation="Because the lab says so.",
                    see=Pointer("05-ssl-mkcert", "ssl = required"), objective="official",
                    choices=choices, case_sensitive=case_sensitive)


SINGLE = _q("single", 1, ("no", "yes", "required"))
MULTIPLE = _q("multiple", (0, 2), ("PLAIN", "CRAM-MD5", "LOGIN"))
FILL = _q("fill", ("doveconf -n",), case_sensitive=True)
FILL_ANY_CASE = _q("fill", ("ssl = required",))


def test_the_bank_loads_every_topic() -> None:
    assert {q.topic for q in BANK} == set(TOPICS)
    assert all(by_topic(BANK, t) for t in TOPICS)
    assert all(q.topic == "06-cipher-hardening" for q in by_topic(BANK, "06-cipher-hardening"))


def test_an_unknown_topic_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown topic"):
        by_topic(BANK, "10-sieve")


def test_draw_is_seedable_and_never_repeats() -> None:
    pool = by_topic(BANK, "04-mail-location")
    first = draw(pool, 5, seed=7)
    assert first == draw(pool, 5, seed=7)
    assert len({q.id for q in first}) == 5
    assert {q.id for q in draw(pool, 500, seed=1)} == {q.id for q in pool}
    with pytest.raises(ValueError):
        draw(pool, 0)


def test_draws_differ_between_seeds() -> None:
    pool = by_topic(BANK, "06-cipher-hardening")
    assert len({tuple(q.id for q in draw(pool, 5, seed=s)) for s in range(10)}) > 1


@pytest.mark.parametrize(("text", "case_sensitive", "expected"), [
    ("  doveconf   -n ", True, "doveconf -n"),
    ("ssl=required", False, "ssl = required"),
    ("SSL =  Required", False, "ssl = required"),
    ("Maildir", True, "Maildir"),
])
def test_normalise(text: str, case_sensitive: bool, expected: str) -> None:
    assert normalise(text, case_sensitive) == expected


def test_single() -> None:
    assert grade(SINGLE, 1)[0] is True
    correct, feedback = grade(SINGLE, 2)
    assert correct is False
    assert feedback.splitlines() == [
        "Not quite. The answer is: yes", "Because the lab says so.",
        "See notebook 05-ssl-mkcert, section \u201cssl = required\u201d."]
    assert grade(SINGLE, None) == (False, grade(SINGLE, None)[1])
    assert grade(SINGLE, None)[1].startswith("No answer given.")
    assert not is_correct(SINGLE, "1")


def test_multiple_needs_exactly_the_right_set() -> None:
    assert is_correct(MULTIPLE, {0, 2})
    assert is_correct(MULTIPLE, [2, 0])
    assert not is_correct(MULTIPLE, {0})
    assert not is_correct(MULTIPLE, {0, 1, 2})
    assert not is_correct(MULTIPLE, "02")
    assert not is_correct(MULTIPLE, 0)
    assert "PLAIN; LOGIN" in grade(MULTIPLE, {1})[1]
    assert grade(MULTIPLE, set())[1].startswith("No answer given.")
    assert grade(FILL, "   ")[1].startswith("No answer given.")


def test_fill_compares_normalised_text() -> None:
    assert is_correct(FILL, "doveconf   -n")
    assert not is_correct(FILL, "DOVECONF -N")
    assert not is_correct(FILL, "")
    assert not is_correct(FILL, None)
    assert is_correct(FILL_ANY_CASE, "SSL=Required")
    assert FILL.instruction() == "Type your answer."
    assert "Case does not matter" in FILL_ANY_CASE.instruction()


@pytest.mark.parametrize("q", BANK, ids=[q.id for q in BANK])
def test_every_bank_answer_grades_right_and_a_wrong_one_wrong(q: Question) -> None:
    if q.style == "single":
        right, wrong = q.answer, (q.answer + 1) % len(q.choices)
    elif q.style == "multiple":
        right, wrong = set(q.answer), set(q.answer[1:])
    else:
        right, wrong = q.answer[-1], q.answer[0] + " extra"
    assert grade(q, right)[0] is True
    assert grade(q, wrong)[0] is False
    assert q.explanation in grade(q, wrong)[1]


def test_a_quiz_widget_checks_an_answer() -> None:
    widget = Quiz([SINGLE, MULTIPLE, FILL])
    assert CSS["quiz"] in widget._dom_classes
    card = widget.cards[0]
    assert CSS["check"] in card.button._dom_classes
    assert CSS["feedback"] in card.feedback._dom_classes
    assert widget.score() == (0, 0)
    card.set_response(1)
    card.button.click()
    assert "Correct." in card.feedback.value
    widget.cards[1].set_response({0})
    widget.cards[1].button.click()
    assert "Not quite" in widget.cards[1].feedback.value
    assert widget.score() == (1, 2)
    assert "1 of 2 checked" in widget.score_label.value
    widget.cards[2].set_response("doveconf -n")
    assert widget.cards[2].check()[0] is True


def test_feedback_is_escaped() -> None:
    q = _q("fill", ("<b>",))
    card = Quiz([q]).cards[0]
    card.set_response("x")
    card.check()
    assert "&lt;b&gt;" in card.feedback.value


def test_review_quiz_draws_from_one_topic() -> None:
    widget = review_quiz("07-listeners", count=4, seed=2)
    assert len(widget.cards) == 4
    assert all(c.question.topic == "07-listeners" for c in widget.cards)
    assert [c.question.id for c in widget.cards] == \
        [c.question.id for c in review_quiz("07-listeners", count=4, seed=2).cards]
    with pytest.raises(ValueError):
        review_quiz("nowhere")


def test_an_empty_quiz_is_refused() -> None:
    with pytest.raises(ValueError):
        Quiz([])


def test_the_bank_file_sits_beside_the_module() -> None:
    assert quiz.BANK_FILE.name == "questions.json" and quiz.BANK_FILE.exists()
