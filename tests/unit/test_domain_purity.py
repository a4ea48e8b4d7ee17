"""domain/ stays pure: no I/O, no network, no reading the clock (ARCHITECTURE rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "mailflow" / "domain"
FORBIDDEN_MODULES = {
    "asyncio", "socket", "ssl", "os", "pathlib", "time", "subprocess", "shutil", "tempfile",
    "threading", "aiosmtplib", "aioimaplib", "tinydb", "smtplib", "imaplib", "random",
    "mailflow.adapters", "mailflow.services", "mailflow.app", "mailflow.cli",
}
FORBIDDEN_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"),
                   ("datetime", "today"), ("time", "time")}


def _modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_the_domain_package_has_modules() -> None:
    assert len(_modules()) >= 10


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(DOMAIN)))
def test_a_domain_module_imports_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            bad = {m for m in FORBIDDEN_MODULES if name == m or name.startswith(m + ".")}
            assert not bad, f"{path.name}:{node.lineno} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            owner = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            assert (owner, node.func.attr) not in FORBIDDEN_CALLS, (
                f"{path.name}:{node.lineno} reads the clock ({owner}.{node.func.attr}); "
                "pass `now` in instead")
