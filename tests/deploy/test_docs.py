"""Every `hub` and `airflow` command docs/operations.md tells an operator to type parses with the
real command lines: the subcommand exists, its options exist, required arguments are there.

Commands are parsed, never run: hub's through its click command tree (``make_context``), Airflow's
through its own argparse parser.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"


def documented_commands(text: str) -> list[list[str]]:
    """`hub ...`/`airflow ...` lines of code blocks and inline code, comments dropped.

    Placeholders (``...``, ``<...>``) mark a command that is not meant to be typed as written.
    """
    candidates = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        candidates += [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines()]
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    candidates += re.findall(r"`((?:hub|airflow) [^`]+)`", prose)
    return [
        shlex.split(line)
        for line in candidates
        if re.match(r"(hub|airflow) ", line) and "..." not in line and "<" not in line
    ]


def parse_hub(argv: list[str]) -> None:
    from hub.cli.main import app

    command = typer.main.get_command(app)
    context = command.make_context("hub", [], resilient_parsing=True)
    path = ["hub"]
    while hasattr(command, "get_command") and argv and not argv[0].startswith("-"):
        sub = command.get_command(context, argv[0])
        assert sub is not None, f"no command `{' '.join([*path, argv[0]])}`"
        path.append(argv.pop(0))
        command = sub
        context = command.make_context(path[-1], [], parent=context, resilient_parsing=True)
    assert not hasattr(command, "get_command"), f"`{' '.join(path)}` needs a subcommand"
    try:
        command.make_context(path[-1], argv, parent=context.parent)  # raises on a bad option or argument
    except Exception as exc:
        # The example's files (payload.json, evidence.zip) are the reader's, not in this checkout.
        if not (type(exc).__name__ == "BadParameter" and "does not exist" in str(exc)):
            raise


def parse_airflow(argv: list[str]) -> None:
    from airflow.cli.cli_parser import get_parser

    try:
        get_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of refusing a command line
        pytest.fail(f"`airflow {shlex.join(argv)}` does not parse (exit {exc.code})")


COMMANDS = documented_commands(OPERATIONS.read_text(encoding="utf-8"))


def test_the_guide_documents_the_operators_commands() -> None:
    first_words = {" ".join(argv[:2]) for argv in COMMANDS}
    for expected in ("hub quarantine", "hub pki", "hub evidence", "airflow backfill", "airflow pools"):
        assert expected in first_words, expected


@pytest.mark.parametrize("argv", COMMANDS, ids=[shlex.join(argv) for argv in COMMANDS])
def test_documented_command_parses(argv: list[str]) -> None:
    program, *rest = argv
    if program == "hub":
        parse_hub(rest)
    else:
        parse_airflow(rest)


def test_a_wrong_command_is_caught() -> None:
    """The checks above can fail: an unknown option or subcommand is refused."""
    with pytest.raises(Exception, match=r"(?i)no such option"):
        parse_hub(["quarantine", "list", "--rules", "x"])
    with pytest.raises(AssertionError, match="no command"):
        parse_hub(["quarantine", "resend"])
    with pytest.raises(pytest.fail.Exception):
        parse_airflow(["backfill", "create", "--dag-id", "x", "--start-date", "2026-11-01"])
