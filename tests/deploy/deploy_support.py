"""What the deployment tests share: the repository's paths, the real settings, the CLI's commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from deploy.cli import build_parser
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = "ghcr.io/o2c/o2c"
"""The image name every manifest refers to (overlays and compose set its tag)."""


def setting_names() -> set[str]:
    """Every O2C_* variable Settings reads."""
    return {f"O2C_{name.upper()}" for name in Settings.model_fields}


def unknown_o2c_variables(names: Iterable[str]) -> list[str]:
    """The O2C_* names among `names` that are no setting (a typo there is silently ignored at run time)."""
    known = setting_names()
    return sorted(name for name in names if name.startswith("O2C_") and name not in known)


def cli_commands() -> set[tuple[str, ...]]:
    """Every command path of `o2c`: ("api",), ("db", "upgrade"), ..."""
    found: set[tuple[str, ...]] = set()

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.add((*prefix, name))
                    walk(sub, (*prefix, name))

    walk(build_parser(), ())
    return found


def runs_an_o2c_command(argv: list[str]) -> bool:
    """Whether `o2c <argv>` (options aside) names a real command."""
    return tuple(word for word in argv if not word.startswith("-")) in cli_commands()
