"""The verdict every grader returns: passed, a score, feedback and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """What a check concluded, in words a learner can act on.

    ``feedback`` says what was expected, what happened and a hint; ``evidence``
    holds the raw material (doveconf's messages, log lines, transcript lines) the
    feedback rests on; ``see`` points at the notebook section that teaches the task.
    """

    task: str
    passed: bool
    score: float
    feedback: str
    evidence: tuple[str, ...] = field(default_factory=tuple)
    see: str = ""

    @property
    def message(self) -> str:
        """The feedback with the pointer to the notebook section, if any."""
        return f"{self.feedback}\nSee: {self.see}" if self.see and not self.passed else (
            self.feedback)

    def assert_passed(self) -> None:
        """Raise AssertionError with the feedback unless the check passed (for nbgrader)."""
        if not self.passed:
            raise AssertionError(str(self))

    def __str__(self) -> str:
        head = "PASSED" if self.passed else "NOT YET"
        lines = [f"{head} [{self.task}] score {self.score:.2f}", self.message]
        lines.extend(f"  | {line}" for line in self.evidence)
        return "\n".join(lines)
