"""MkDocs hooks: pages that cannot drift from the code.

- `<!-- cli-reference -->`: every command's `--help`, produced by the Typer app itself.
- `<!-- results: NAME -->`: the table of `benchmarks/results/NAME.jsonl` (`benchmarks/render_results.py`).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _render_results():
    spec = importlib.util.spec_from_file_location("render_results", REPO / "benchmarks" / "render_results.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_results"] = module
    spec.loader.exec_module(module)
    return module.render


def cli_reference() -> str:
    """Each command's help text, as `spectfsl COMMAND --help` prints it, under a heading per command."""
    import typer

    from spectfsl.cli import build_app

    root = typer.main.get_command(build_app())
    sections = []

    def visit(command, path: list[str], parent) -> None:
        context = command.context_class(
            command, info_name=" ".join(path), parent=None, terminal_width=100, max_content_width=100
        )
        if path != ["spectfsl"]:
            level = "#" * min(len(path), 4)
            sections.append(f"{level} `{' '.join(path)}`\n\n```text\n{command.get_help(context).rstrip()}\n```\n")
        if hasattr(command, "list_commands"):  # a group (Typer's own click classes: no isinstance)
            for name in sorted(command.list_commands(context)):
                visit(command.get_command(context, name), [*path, name], context)

    visit(root, ["spectfsl"], None)
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if "<!-- cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- cli-reference -->", cli_reference())
    if "<!-- results:" in markdown:
        render = _render_results()
        markdown = re.sub(r"<!-- results: ([\w-]+) -->", lambda m: render(m.group(1)), markdown)
    return markdown
