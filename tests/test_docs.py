"""The documentation cannot drift from the code.

* Every hook in ``crmcore/hookspecs.py`` has a section in ``docs/plugin_hooks.md`` whose
  heading is its exact signature (``## contact_saved(contact, created, changes, actor)``),
  saying when it is called and what it returns, with an example; every such section names
  a hook that exists.
* Every hook has a test of its own. Concretely: some test file under ``tests/`` or
  ``plugins/*/tests/`` (this file aside) either *implements* the hook (a function of that
  name decorated with ``@hookimpl``) or *calls* it through a plugin manager
  (``pm.hook.<name>(``, or ``acall`` / ``acall_flat`` / ``call_in_order`` / ``fire`` with
  the hook's name).
* The code of the plugin guide is the code of ``examples/crm-birthdays`` (which CI installs
  and tests): each block there that starts with ``# <path>`` appears verbatim in that file.
* The MkDocs site builds with ``--strict`` and lists every page.
* The README's quickstart is two command lines: one starts the CRM with demo data, one runs
  the test suite; the ``crm init`` options it uses exist.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crmcore import hookspecs

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HOOK_DOCS = ROOT / "docs" / "plugin_hooks.md"
GUIDE = ROOT / "docs" / "writing_plugins.md"
EXAMPLE = ROOT / "examples" / "crm-birthdays"


def hook_signatures() -> dict[str, str]:
    """``{name: "name(arg, …)"}`` for every hook spec of the core."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {
        name: f"{name}({', '.join(inspect.signature(function).parameters)})"
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    }


def documented_sections() -> dict[str, str]:
    """``{heading: body}`` for the level-2 sections of the hook reference."""
    text = HOOK_DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def candidate_test_files() -> list[Path]:
    files = list((ROOT / "tests").rglob("*.py"))
    for plugin_tests in (ROOT / "plugins").glob("*/tests"):
        files.extend(plugin_tests.rglob("*.py"))
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def uses_of(hook: str, files: list[Path]) -> list[Path]:
    """The test files that implement or call ``hook``."""
    implements = re.compile(
        rf"@hookimpl\b[^\n]*\n(?:[ \t]*@[^\n]*\n)*[ \t]*(?:async[ \t]+)?def[ \t]+{hook}[ \t]*\("
    )
    calls = re.compile(
        rf"\.hook\.{hook}\s*\(|\b(?:acall|acall_flat|call_in_order|fire)\(\s*[\"']{hook}[\"']"
    )
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if implements.search(text) or calls.search(text):
            found.append(path)
    return found


SIGNATURES = hook_signatures()


def test_the_core_declares_hooks():
    assert {"contact_saved", "register_routes", "erase_contact_data"} <= set(SIGNATURES)


@pytest.mark.parametrize("hook", sorted(SIGNATURES))
def test_hook_has_a_section_headed_by_its_signature(hook):
    sections = documented_sections()
    signature = SIGNATURES[hook]
    assert signature in sections, (
        f"docs/plugin_hooks.md needs a section '## {signature}' for the hook {hook!r}"
    )
    body = sections[signature]
    for part in ("**For:**", "**When:**", "**Returns:**", "```python"):
        assert part in body, f"the section of {hook!r} should have {part}"
    assert "@hookimpl" in body, f"the example of {hook!r} should implement the hook"


def test_every_section_documents_an_existing_hook():
    documented = set(documented_sections())
    unknown = documented - set(SIGNATURES.values())
    assert not unknown, (
        f"docs/plugin_hooks.md has sections for no hook (renamed? arguments changed?): {unknown}"
    )


@pytest.mark.parametrize("hook", sorted(SIGNATURES))
def test_hook_has_a_test_of_its_own(hook):
    assert uses_of(hook, candidate_test_files()), (
        f"no test implements or calls the hook {hook!r}: add one (tests/test_hooks.py "
        "registers test plugins for hooks that have no other test)"
    )


def test_the_checker_tells_implementations_and_calls_from_mentions(tmp_path):
    implemented = tmp_path / "test_a.py"
    implemented.write_text("@hookimpl(trylast=True)\nasync def contact_saved(contact):\n    pass\n")
    called = tmp_path / "test_b.py"
    called.write_text('await pm.acall_flat("dashboard_cards", request=request)\n')
    mentioned = tmp_path / "test_c.py"
    mentioned.write_text('def contact_saved():\n    """contact_saved"""\n')
    files = [implemented, called, mentioned]
    assert uses_of("contact_saved", files) == [implemented]
    assert uses_of("dashboard_cards", files) == [called]
    assert uses_of("menu_links", files) == []


def guide_excerpts() -> list[tuple[str, str]]:
    """``(path, code)`` for every Python block of the guide that names its file."""
    text = GUIDE.read_text(encoding="utf-8")
    excerpts = []
    for block in re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        first, _, code = block.partition("\n")
        if first.startswith("# ") and first.endswith(".py"):
            excerpts.append((first[2:].strip(), code))
    return excerpts


def test_the_guide_shows_code_of_the_example_plugin():
    excerpts = guide_excerpts()
    assert len(excerpts) >= 10
    for path, code in excerpts:
        source = (EXAMPLE / path).read_text(encoding="utf-8")
        assert code.strip("\n") in source, (
            f"docs/writing_plugins.md: this is not in {path}:\n{code}"
        )


def test_every_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        assert page.name in config, f"mkdocs.yml nav should list {page.name}"


def test_mkdocs_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "plugin_hooks" / "index.html").exists()


def test_readme_quickstart_is_two_command_lines():
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(lines) == 2, f"the quickstart should be two command lines, not {lines}"
    start, test = lines
    for part in ("pip install -r requirements.txt", "crm init", "--demo", "crm serve"):
        assert part in start, f"the first quickstart line should run {part!r}"
    for part in ("pip install -r requirements-dev.txt", "-m pytest"):
        assert part in test, f"the second quickstart line should run {part!r}"

    from crmcore.cli.instance import init

    known = {option for param in init.params for option in param.opts}
    used = re.findall(r"(--[a-z-]+)", start.split("crm init", 1)[1].split("&&", 1)[0])
    assert used and set(used) <= known, f"crm init has no option {set(used) - known}"
