"""`spectfsl bench`: throughput of each workload next to the raw backbone forward pass."""

from __future__ import annotations

from typing import Annotated

import typer

from spectfsl.commands.options import (
    ChannelsLast,
    Compile,
    Device,
    DocumentFormat,
    OutFile,
    Overwrite,
    Precision,
    Quiet,
    positive,
)


def bench(
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(metavar="N", min=1, help="Images per batch.")] = 256,
    size: Annotated[int, typer.Option(metavar="PX", min=16, help="Image side in pixels.")] = 64,
    precision: Precision = "fp32",
    compile: Compile = False,
    channels_last: ChannelsLast = False,
    seconds: Annotated[
        float, typer.Option(metavar="S", callback=positive, help="Seconds of timed calls per workload.")
    ] = 10.0,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="ID",
            help="Measure only this workload (repeatable; ids as listed above).",
            show_default=False,
        ),
    ] = None,
    fmt: DocumentFormat = "table",
    out: OutFile = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Throughput of each workload (stable ids: proto_predict, prnet_offset, prnet_locate, prnet_train,
    prnet3d_locate, prnet3d_train, segment_predict, quantify) next to its own network's bare pass in the same run
    and settings, their ratio and peak memory."""
    from spectfsl.bench.harness import BenchSettings, bench_report
    from spectfsl.bench.workloads import run_benchmarks
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.render import write_document
    from spectfsl.ui import info

    settings = BenchSettings(batch_size, size, precision, compile, seconds, channels_last)
    check_new_output(out, overwrite)
    target = setup_device(device)
    results = run_benchmarks(settings, target, lambda name: info(f"measuring {name} ..."), only)
    document, tables = bench_report(settings, target, results)
    write_document(out, fmt, document, tables)


def register(app: typer.Typer) -> None:
    app.command()(bench)
