"""Review quizzes drawn from the course's question bank, with feedback.

The bank is data: ``questions.json`` beside this module, one entry per question in the
exam's three styles ("single": one answer; "multiple": choose all that apply; "fill": type
a command, setting, path or value). ``BANK_SCHEMA`` describes an entry; the tests validate
the whole bank against it and check every claim an answer makes against the lab.

Everything that decides something is a plain function and needs no browser:
``load_bank()`` reads the bank, ``draw()`` picks questions, ``grade()`` judges a response
and writes the feedback. ``Quiz`` only wraps them in ipywidgets; its buttons and feedback
carry stable CSS classes (``mal-quiz-check``, ``mal-quiz-feedback`` ...) so that a browser
test can press a button and read what came back.
"""

from __future__ import annotations

import functools
import html
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

BANK_FILE = Path(__file__).with_name("questions.json")

TOPICS = (
    "00-start-here", "01-courier", "02-pam-auth", "03-mechanisms", "04-mail-location",
    "05-ssl-mkcert", "06-cipher-hardening", "07-listeners", "08-pop3-sizing",
    "09-exam-practice",
)
STYLES = ("single", "multiple", "fill")
OBJECTIVES = ("official", "depth")
CHECK_KINDS = ("setting", "obsolete", "command", "path", "value", "debian-package")

_CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"enum": list(CHECK_KINDS)},
        # setting: the name exists in the registry (in ``section``'s struct when given,
        # else globally); ``default`` is what doveconf prints for an empty config.
        "name": {"type": "string", "minLength": 1},
        "section": {"type": "string"},
        "default": {"type": "string"},
        # obsolete: ``config`` (the old line or block) draws an "Obsolete setting" warning
        # that names ``name`` and, when given, ``replacement``.
        "config": {"type": "string"},
        "replacement": {"type": "string"},
        # command: ``argv`` runs in a lab root with exit code 0 (labserver's doveconf,
        # doveadm and mkcert).
        "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        # path: shipped by Debian's Dovecot packages (``source`` "dpkg", the default), by a
        # Debian package named in ``package``, or made by the lab's mkcert (``source``
        # "mkcert" / "snakeoil").
        "path": {"type": "string", "pattern": "^/"},
        "source": {"enum": ["dpkg", "mkcert", "snakeoil"]},
        "package": {"type": "string"},
        # value: a computation through the lab (``expr``) whose result is ``equals``.
        "expr": {"type": "object", "required": ["fn"], "properties": {"fn": {"type": "string"}}},
        "equals": {},
        # debian-package: the package exists, with this one-line ``summary``.
        "summary": {"type": "string"},
    },
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"kind": {"const": "setting"}}},
         "then": {"required": ["name"]}},
        {"if": {"properties": {"kind": {"const": "obsolete"}}},
         "then": {"required": ["name", "config"]}},
        {"if": {"properties": {"kind": {"const": "command"}}}, "then": {"required": ["argv"]}},
        {"if": {"properties": {"kind": {"const": "path"}}}, "then": {"required": ["path"]}},
        {"if": {"properties": {"kind": {"const": "value"}}},
         "then": {"required": ["expr", "equals"]}},
        {"if": {"properties": {"kind": {"const": "debian-package"}}},
         "then": {"required": ["name"]}},
    ],
}

QUESTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "topic", "style", "question", "answer", "explanation", "see",
                 "objective", "checks"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
        "topic": {"enum": list(TOPICS)},
        "style": {"enum": list(STYLES)},
        "question": {"type": "string", "minLength": 10},
        "choices": {"type": "array", "items": {"type": "string", "minLength": 1},
                    "minItems": 2, "uniqueItems": True},
        "answer": {},
        "case_sensitive": {"type": "boolean"},
        "explanation": {"type": "string", "minLength": 20},
        "see": {
            "type": "object",
            "required": ["notebook", "section"],
            "properties": {"notebook": {"enum": list(TOPICS)},
                           "section": {"type": "string", "minLength": 3}},
            "additionalProperties": False,
        },
        "objective": {"enum": list(OBJECTIVES)},
        "checks": {"type": "array", "items": _CHECK_SCHEMA},
    },
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"style": {"const": "single"}}},
         "then": {"required": ["choices"],
                  "properties": {"answer": {"type": "integer", "minimum": 0}}}},
        {"if": {"properties": {"style": {"const": "multiple"}}},
         "then": {"required": ["choices"],
                  "properties": {"choices": {"minItems": 3},
                                 "answer": {"type": "array", "minItems": 2, "uniqueItems": True,
                                            "items": {"type": "integer", "minimum": 0}}}}},
        {"if": {"properties": {"style": {"const": "fill"}}},
         "then": {"required": ["case_sensitive"],
                  "not": {"required": ["choices"]},
                  "properties": {"answer": {"type": "array", "minItems": 1,
                                            "items": {"type": "string", "minLength": 1}}}}},
    ],
}

BANK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "questions"],
    "properties": {
        "version": {"const": 1},
        "questions": {"type": "array", "items": QUESTION_SCHEMA, "minItems": 1},
    },
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Pointer:
    """Where the course teaches a question's point: a notebook folder and a section."""

    notebook: str
    section: str

    def __str__(self) -> str:
        return f"notebook {self.notebook}, section \u201c{self.section}\u201d"


@dataclass(frozen=True, slots=True)
class Question:
    """One question of the bank. ``answer`` is a choice index ("single"), a tuple of
    indexes ("multiple") or a tuple of accepted spellings ("fill")."""

    id: str
    topic: str
    style: str
    question: str
    answer: int | tuple[int, ...] | tuple[str, ...]
    explanation: str
    see: Pointer
    objective: str
    choices: tuple[str, ...] = ()
    case_sensitive: bool = False
    checks: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Question:
        """Build a question from one bank entry (already schema-valid)."""
        answer = raw["answer"]
        if raw["style"] != "single":
            answer = tuple(answer)
        return cls(id=raw["id"], topic=raw["topic"], style=raw["style"],
                   question=raw["question"], answer=answer, explanation=raw["explanation"],
                   see=Pointer(**raw["see"]), objective=raw["objective"],
                   choices=tuple(raw.get("choices", ())),
                   case_sensitive=bool(raw.get("case_sensitive", False)),
                   checks=tuple(raw.get("checks", ())))

    def answer_text(self) -> str:
        """The right answer in words, as the feedback shows it."""
        if self.style == "single":
            return self.choices[self.answer]
        if self.style == "multiple":
            return "; ".join(self.choices[i] for i in self.answer)
        return self.answer[0]

    def instruction(self) -> str:
        """How to answer, as the widget says it under the question."""
        if self.style == "single":
            return "Choose one answer."
        if self.style == "multiple":
            return "Choose all that apply."
        return "Type your answer." + ("" if self.case_sensitive else " Case does not matter.")


def read_bank(path: Path = BANK_FILE) -> dict[str, Any]:
    """The bank file as parsed JSON (what the schema describes)."""
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def load_bank(path: Path = BANK_FILE) -> tuple[Question, ...]:
    """Every question of the bank, in file order (read once per path)."""
    return tuple(Question.from_dict(raw) for raw in read_bank(path)["questions"])


def by_topic(bank: Iterable[Question], topic: str) -> list[Question]:
    """The questions of one topic, in bank order; an unknown topic is an error."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}; the topics are the notebook folders: "
                         + ", ".join(TOPICS))
    return [q for q in bank if q.topic == topic]


def draw(questions: Sequence[Question], count: int, seed: int | None = None
         ) -> list[Question]:
    """``count`` different questions picked at random (all of them when there are fewer).

    The same seed gives the same questions in the same order.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    rng = random.Random(seed)
    return rng.sample(list(questions), min(count, len(questions)))


_SPACES = re.compile(r"\s+")
_AROUND_EQUALS = re.compile(r"\s*=\s*")


def normalise(text: str, case_sensitive: bool = False) -> str:
    """A typed answer as it is compared: outer spaces gone, inner runs of white space as
    one space, ``a=b`` the same as ``a = b``; lower case unless case matters."""
    text = _AROUND_EQUALS.sub(" = ", _SPACES.sub(" ", text.strip()))
    return text if case_sensitive else text.casefold()


def is_correct(question: Question, response: Any) -> bool:
    """Whether a response answers the question: a choice index, a collection of
    indexes, or typed text, by style. A missing or malformed response is wrong."""
    if question.style == "single":
        return isinstance(response, int) and response == question.answer
    if question.style == "multiple":
        if isinstance(response, (str, bytes)) or not isinstance(response, Iterable):
            return False
        return set(response) == set(question.answer)
    if not isinstance(response, str):
        return False
    typed = normalise(response, question.case_sensitive)
    return typed != "" and any(typed == normalise(a, question.case_sensitive)
                               for a in question.answer)


def _unanswered(response: Any) -> bool:
    if isinstance(response, str):
        return response.strip() == ""
    if isinstance(response, (set, frozenset, list, tuple)):
        return len(response) == 0
    return response is None


def grade(question: Question, response: Any) -> tuple[bool, str]:
    """Judge a response; the feedback gives the answer, the reason and where to read."""
    correct = is_correct(question, response)
    if correct:
        head = "Correct."
    elif _unanswered(response):
        head = f"No answer given. The answer is: {question.answer_text()}"
    else:
        head = f"Not quite. The answer is: {question.answer_text()}"
    return correct, f"{head}\n{question.explanation}\nSee {question.see}."


# -- widgets -----------------------------------------------------------------------------

CSS = {
    "quiz": "mal-quiz",
    "card": "mal-quiz-question",
    "input": "mal-quiz-input",
    "check": "mal-quiz-check",
    "feedback": "mal-quiz-feedback",
    "score": "mal-quiz-score",
}


def html_text(text: str) -> str:
    """Plain text as HTML: escaped, one line per line."""
    return "<br>".join(html.escape(line) for line in text.splitlines())


class QuestionCard(widgets.VBox):
    """One question: its text, an input fitting its style, a Check button, feedback."""

    def __init__(self, question: Question, number: int, *, check_button: bool = True,
                 on_check: Callable[[], None] | None = None) -> None:
        self.question = question
        self.result: bool | None = None
        self._on_check = on_check
        label = widgets.HTML(f"<b>{number}.</b> {html_text(question.question)}"
                             f"<br><i>{question.instruction()}</i>")
        if question.style == "single":
            self.input: widgets.Widget = widgets.RadioButtons(
                options=[(text, i) for i, text in enumerate(question.choices)], value=None,
                layout=widgets.Layout(width="auto"))
        elif question.style == "multiple":
            self.boxes = [widgets.Checkbox(value=False, description=text, indent=False,
                                           layout=widgets.Layout(width="auto"))
                          for text in question.choices]
            self.input = widgets.VBox(self.boxes)
        else:
            self.input = widgets.Text(placeholder="your answer",
                                      layout=widgets.Layout(width="60%"))
        self.input.add_class(CSS["input"])
        self.button = widgets.Button(description="Check", button_style="primary")
        self.button.add_class(CSS["check"])
        self.button.on_click(lambda _: self.check())
        self.feedback = widgets.HTML("")
        self.feedback.add_class(CSS["feedback"])
        children = [label, self.input] + ([self.button] if check_button else [])
        super().__init__(children + [self.feedback])
        self.add_class(CSS["card"])

    def response(self) -> Any:
        """What the learner has entered so far, in the form ``grade`` takes."""
        if self.question.style == "single":
            return self.input.value
        if self.question.style == "multiple":
            return {i for i, box in enumerate(self.boxes) if box.value}
        return self.input.value

    def set_response(self, value: Any) -> None:
        """Enter a response as a learner would (an index, indexes, or text)."""
        if self.question.style == "multiple":
            for i, box in enumerate(self.boxes):
                box.value = i in set(value)
        else:
            self.input.value = value

    def lock(self) -> None:
        """No more changes (the exam is over)."""
        self.button.disabled = True
        if self.question.style == "multiple":
            for box in self.boxes:
                box.disabled = True
        else:
            self.input.disabled = True

    def show(self, correct: bool, text: str) -> None:
        """Show a verdict and its feedback under the question."""
        self.result = correct
        colour = "#1b7f3b" if correct else "#b3261e"
        self.feedback.value = f'<div style="color:{colour}">{html_text(text)}</div>'

    def check(self) -> tuple[bool, str]:
        """Grade the current response and show the feedback."""
        correct, text = grade(self.question, self.response())
        self.show(correct, text)
        if self._on_check is not None:
            self._on_check()
        return correct, text


class Quiz(widgets.VBox):
    """A short quiz: one card per question and a running score."""

    def __init__(self, questions: Sequence[Question], title: str = "Review quiz") -> None:
        if not questions:
            raise ValueError("a quiz needs at least one question")
        self.questions = list(questions)
        self.score_label = widgets.HTML("")
        self.score_label.add_class(CSS["score"])
        self.cards = [QuestionCard(q, n, on_check=self._update_score)
                      for n, q in enumerate(self.questions, start=1)]
        super().__init__([widgets.HTML(f"<h3>{html_text(title)}</h3>"), *self.cards,
                          self.score_label])
        self.add_class(CSS["quiz"])
        self._update_score()

    def score(self) -> tuple[int, int]:
        """(correct, checked so far)."""
        checked = [c.result for c in self.cards if c.result is not None]
        return sum(checked), len(checked)

    def _update_score(self) -> None:
        right, checked = self.score()
        self.score_label.value = (f"Score: {right} of {checked} checked "
                                  f"({len(self.cards)} questions)")


def review_quiz(topic: str, count: int = 5, seed: int | None = None) -> Quiz:
    """A quiz of ``count`` questions of one topic (a notebook folder), for its last cell."""
    questions = draw(by_topic(load_bank(), topic), count, seed=seed)
    if not questions:
        raise ValueError(f"the bank has no questions for {topic}")
    return Quiz(questions, title=f"Review quiz: {topic}")


__all__ = ["BANK_FILE", "BANK_SCHEMA", "CSS", "OBJECTIVES", "QUESTION_SCHEMA", "STYLES",
           "TOPICS", "Pointer", "Question", "QuestionCard", "Quiz", "by_topic", "draw", "grade",
           "html_text", "is_correct", "load_bank", "normalise", "read_bank", "review_quiz"]
