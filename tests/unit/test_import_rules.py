"""The dependency rules of the code location, checked on the import graph (every import statement, parsed).

- Resources know no domain: nothing under ``resources/`` imports ``ops_assets``.
- Domains meet through asset keys: a domain package (``ops_assets/<domain>/``) imports no other domain's modules;
  what they share lives in top-level modules of ``ops_assets`` (partitions, freshness, scheduling, ...).
- Samples are a development fixture: ``resources.sample_sources`` is imported only by ``ops_assets/environments.py``
  (local only), by the samples themselves, and by tests and benchmarks.
- Maths and parsing stay plain: in a domain, only the modules with a Dagster role import ``dagster``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAINS = sorted(p.name for p in (REPO / "ops_assets").iterdir() if (p / "__init__.py").exists())
DAGSTER_ROLES = {"assets", "checks", "jobs", "schedules", "sensors", "definitions", "settings", "partitions"}
SAMPLES = "resources.sample_sources"
SAMPLE_IMPORTERS = {"ops_assets/environments.py"}


def modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (REPO / folder).rglob("*.py") if ".venv" not in path.parts)


def imports(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_the_rules_see_every_domain_and_real_imports() -> None:
    # Guards against a rule that passes because it looks at nothing.
    assert {"fundamentals", "news", "markets", "signals", "monitoring"} <= set(DOMAINS)
    assert "resources.central_schema" in imports(REPO / "ops_assets/news/ingest.py")
    assert "resources.sample_sources.resources.SampleRssFetcher" in imports(REPO / "ops_assets/environments.py")


def test_resources_import_no_domain() -> None:
    offenders = {
        rel(path): sorted(m for m in imports(path) if m.split(".")[0] == "ops_assets") for path in modules("resources")
    }
    assert {path: found for path, found in offenders.items() if found} == {}


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_imports_no_other_domain(domain: str) -> None:
    others = {f"ops_assets.{d}" for d in DOMAINS if d != domain}
    offenders = {
        rel(path): sorted(m for m in imports(path) if ".".join(m.split(".")[:2]) in others)
        for path in modules(f"ops_assets/{domain}")
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_samples_are_chosen_in_environments_only() -> None:
    offenders = [
        rel(path)
        for path in modules("ops_assets", "resources", "scripts")
        if any(m == SAMPLES or m.startswith(f"{SAMPLES}.") for m in imports(path))
        and rel(path) not in SAMPLE_IMPORTERS
        and not rel(path).startswith("resources/sample_sources/")
    ]
    assert offenders == []


def test_plain_domain_modules_import_no_dagster() -> None:
    offenders = [
        rel(path)
        for domain in DOMAINS
        for path in modules(f"ops_assets/{domain}")
        if path.stem not in DAGSTER_ROLES and any(m.split(".")[0] == "dagster" for m in imports(path))
    ]
    assert offenders == []
