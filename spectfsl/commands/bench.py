"""`spectfsl bench`: throughput of each workload next to the raw backbone forward pass."""

from __future__ import annotations

from typing import Annotated

import typer

from spectfsl.commands.options import Device, Quiet


def bench(
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 256,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 64,
    precision: Annotated[str, typer.Option(help="fp32, bf16 or fp16 (autocast).")] = "fp32",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the backbone.")] = False,
    seconds: Annotated[float, typer.Option(help="Seconds of timed calls per workload.")] = 10.0,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    quiet: Quiet = False,
) -> None:
    """Measure images/s of each workload and its ratio to the backbone forward pass, with device and versions."""
    from spectfsl.bench.workloads import BenchSettings, device_name, library_versions, run_benchmarks
    from spectfsl.core.device import setup_device
    from spectfsl.render import write_document
    from spectfsl.ui import info

    settings = BenchSettings(batch_size, size, precision, compile, seconds)
    target = setup_device(device)
    results = run_benchmarks(settings, target, on_workload=lambda name: info(f"measuring {name} ..."))
    reference = results[0].rate
    document = {
        "device": device_name(target),
        "settings": {"batch_size": batch_size, "size": size, "precision": precision, "compile": compile, "seconds": seconds},
        "versions": library_versions(),
        "workloads": [
            {"name": r.workload, "unit": r.unit, "rate": r.rate, "ratio_to_backbone": r.rate / reference,
             "calls": r.calls, "median_call_s": r.median_call_s}
            for r in results
        ],
    }

    def render(console) -> None:
        from rich.table import Table

        table = Table(title=f"spectfsl bench on {document['device']}, batch {batch_size}, {size}x{size}, {precision}")
        for column in ("workload", "rate", "unit", "ratio to backbone", "calls", "median call (s)"):
            table.add_column(column)
        for w in document["workloads"]:
            table.add_row(w["name"], f"{w['rate']:.1f}", w["unit"], f"{w['ratio_to_backbone']:.2f}", str(w["calls"]), f"{w['median_call_s']:.4f}")
        console.print(table)
        console.print(", ".join(f"{k} {v}" for k, v in document["versions"].items()))

    write_document(None, fmt, document, render)


def register(app: typer.Typer) -> None:
    app.command()(bench)
