"""The README's Python examples run as written and print what their comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples() -> None:
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    block = python_blocks()[index]
    exec(compile(block, f"README.md python block {index}", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    if "resume_plan" in block:
        assert "datetime.date(2024, 1, 13), datetime.date(2024, 1, 13)" in printed
        assert printed.splitlines()[-1] == "5"


def test_ci_runs_the_quick_start_test_command_verbatim() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    quick_start = [b.strip() for b in blocks[:2]]
    assert "backfill-monitor demo" in quick_start[0]
    assert "python -m pytest" in quick_start[1]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start[1] in ci


def test_every_code_fence_is_a_line_of_its_own() -> None:
    """A fence followed by prose on its line leaves the block open to the end."""
    fences = [line for line in README.read_text(encoding="utf-8").splitlines() if "```" in line]
    assert fences and len(fences) % 2 == 0
    for opening, closing in zip(fences[::2], fences[1::2], strict=True):
        assert re.fullmatch(r"```[a-z]*", opening), opening
        assert closing == "```", closing
