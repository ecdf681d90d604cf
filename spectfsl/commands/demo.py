"""`spectfsl demo`: the whole pipeline on the built-in phantom (and real data when found), with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import Device, Quiet


def _find_real_data(given: Path | None) -> Path | None:
    from spectfsl.errors import SpectfslError

    if given is not None:
        if not given.is_dir():
            raise SpectfslError(f"--real-data {given}: no such folder")
        return given
    from spectfsl.core.data.shared import find_data

    return find_data(Path(__file__).resolve().parents[2])


def demo(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for the data, models, figures and report.")
    ] = Path("spectfsl-demo"),
    device: Device = "auto",
    full: Annotated[
        bool,
        typer.Option("--full", help="The study's settings (10 fine-tuning episodes, PRNet 50 x 10, 600 episodes)."),
    ] = False,
    real_data: Annotated[
        Path | None,
        typer.Option(
            "--real-data",
            metavar="DIR",
            help="Folder with mps-physionet/, lvseg-mtu/, seed-slice/ (default: $SPECTFSL_DATA or "
            "../shared/data; without one, the PhysioNet volumes shipped in the package).",
            show_default=False,
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace OUT even if it is not an earlier demo's output.")
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Run phantom -> prepare -> proto fit/evaluate/predict -> prnet train/evaluate/reconstruct
    (and the real data it finds), and write a report."""
    import time

    from rich.console import Console

    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import atomic_directory
    from spectfsl.demo.pipeline import Demo, DemoSettings, run, stages
    from spectfsl.demo.report import summary_table, write_report
    from spectfsl.render import draw_tables
    from spectfsl.ui import info, make_progress

    target = setup_device(device)
    found = _find_real_data(real_data)
    info(f"real data: {found}" if found else "real data: the PhysioNet volumes shipped in the package (no other found)")
    start = time.perf_counter()
    replace = overwrite or (out / "report.md").is_file()
    with atomic_directory(out, overwrite=replace) as staging:
        run_demo = Demo(staging, DemoSettings.full() if full else DemoSettings(), target, found)
        with make_progress() as progress:
            task = progress.add_task("demo", total=len(stages(run_demo)), status="")
            run(run_demo, lambda index, name: progress.update(task, completed=index, status=name))
            progress.update(task, completed=len(stages(run_demo)), status="done")
        write_report(run_demo, time.perf_counter() - start)
    draw_tables(Console(), [summary_table(run_demo)])
    print(f"report: {out / 'report.html'} (and report.md), {time.perf_counter() - start:.0f} s")


def register(app: typer.Typer) -> None:
    app.command()(demo)
