"""`spectfsl quantify`: the LV read-out of a myocardial-perfusion scan (polar map, 17 AHA segments,
walls, defect extent, LV volumes), from label maps or a segmentation model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import Device, Overwrite, Quiet, RowFormat, ScanPixelMm, positive


def quantify(
    scans: Annotated[
        list[str],
        typer.Argument(metavar="SCAN", help="Perfusion volumes (stress, or any single state).", show_default=False),
    ],
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            "--labels",
            metavar="LABELMAP",
            help="Label map of each SCAN, in order (repeat); else the scans are segmented with --model.",
            show_default=False,
        ),
    ] = None,
    classes: Annotated[
        str,
        typer.Option(
            metavar="ID=NAME,...",
            help="The label maps' ids: myocardium and cavity are needed, rv (optional) places the septum; ids "
            "not named are background.",
        ),
    ] = "1=myocardium,2=cavity",
    model: Annotated[
        str,
        typer.Option(
            "--model",
            metavar="MODEL|builtin",
            help="Segmentation model for scans without --labels (`segment fit`, or the built-in one).",
        ),
    ] = "builtin",
    rest: Annotated[
        list[str] | None,
        typer.Option(
            "--rest",
            metavar="SCAN",
            help="The rest scan of each SCAN (stress), in order (repeat): adds rest values and stress - rest. "
            "auto: the file named like each scan with 'stress' replaced by 'rest' (its label map likewise).",
            show_default=False,
        ),
    ] = None,
    rest_labels: Annotated[
        list[Path] | None,
        typer.Option("--rest-labels", metavar="LABELMAP", help="Label map of each --rest scan.", show_default=False),
    ] = None,
    sampling: Annotated[
        str, typer.Option(metavar="max|mean", help="Each ray's value: the maximum or the mean count in the wall.")
    ] = "max",
    defect_threshold: Annotated[
        float,
        typer.Option(
            metavar="PCT",
            callback=positive,
            help="defect_extent_pct is the share of the polar map below this % of its maximum.",
        ),
    ] = 60.0,
    normal_limits: Annotated[
        Path | None,
        typer.Option(
            metavar="CSV",
            help="Per-segment normal limits (segment,mean,sd; your lab's, in this tool's % units): adds z-scores. "
            "None is shipped.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Also write <stem>_polar.png (bullseye), <stem>_polar.npy (the map) and "
            "<stem>_short_axis.nii.gz per scan, and <stem>_volume_curve.png per gated study.",
            show_default=False,
        ),
    ] = None,
    pixel_mm: ScanPixelMm = None,
    fmt: RowFormat = "table",
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """The LV read-out of each scan: long axis (apex, base), polar map of myocardial uptake, the 17 AHA
    segments in % of the maximum, wall means (anterior, septal, inferior, lateral), the share of the
    map below --defect-threshold, and LV cavity and myocardial volumes (ml). A gated study (NM RECON
    GATED TOMO, 4D NIfTI) adds its LV function: every gate is labelled, perfusion is read from the
    summed gates, and EDV, ESV, SV, LVEF from the largest and smallest cavity of the gates.

    The table (the default) is for a terminal: a line per scan (volumes, LVEF of gated studies, walls,
    extent, bullseye) and the 17 segments ring by ring as on a bullseye; CSV and JSON carry every column.

    Columns: path, lv_cavity_ml, myocardium_ml, apex_x..z and base_x..z (the file's voxel indices),
    septum (rv or patient right: what placed the septum), seg1..seg17, anterior, septal, inferior,
    lateral, defect_extent_pct (of the cells where the wall was found), polar_filled_pct (the share
    of the map filled in by a max-count search where no wall was found), polar (the PNG), then with
    --rest: rest_path, rest_seg1..17, diff_seg1..17 (stress - rest), rest_defect_extent_pct; with
    --normal-limits: z_seg1..17; and the apex and base in LPS mm. Gated studies add gates, edv_ml,
    esv_ml, sv_ml, lvef_pct, lvef_fit_pct (from a smooth curve through the gates), ed_gate, es_gate
    (1-based), volume_curve (the PNG) and the cavity volume of each gate (cavity_ml_g1... in CSV; a
    list, cavity_ml_per_gate, in JSON). No normal database is shipped, so no summed scores (SSS, SDS).
    """
    from spectfsl.core.data.datasets import parse_classes
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.paths import output_stems
    from spectfsl.core.quantify.tables import readout_tables
    from spectfsl.core.quantify.workflow import (
        ScanReader,
        add_rest,
        add_z_scores,
        columns,
        read_normal_limits,
        rest_scan_of,
        stem_outputs,
    )
    from spectfsl.errors import SpectfslError
    from spectfsl.render import check_format, print_tables, row_output

    check_format(fmt)
    if rest == ["auto"]:
        rest = [str(rest_scan_of(scan)) for scan in scans]
        if labels and not rest_labels:
            rest_labels = [rest_scan_of(label) for label in labels]
    if labels and len(labels) != len(scans):
        raise SpectfslError(f"--labels: {len(labels)} label maps for {len(scans)} scans; give one per scan, in order")
    if rest and len(rest) != len(scans):
        raise SpectfslError(f"--rest: {len(rest)} rest scans for {len(scans)} stress scans; give one per scan")
    if rest_labels and (not rest or len(rest_labels) != len(rest)):
        raise SpectfslError("--rest-labels: give one per --rest scan, in order")
    if bool(labels) != bool(rest_labels) and rest:
        raise SpectfslError("give label maps for both states (--labels and --rest-labels), or for neither")
    limits = read_normal_limits(normal_limits) if normal_limits else None
    stems = output_stems(scans)
    if out is not None:
        for stem in stems.values():
            for path in stem_outputs(out, stem, gated=True).values():
                check_new_output(path, overwrite)
        out.mkdir(parents=True, exist_ok=True)
    if not labels:  # the segmentation model reads the scans: the CLI sets the device up (threads)
        from spectfsl.core.device import setup_device

        device = setup_device(device)
    reader = ScanReader(parse_classes(classes), model, device, sampling, defect_threshold, pixel_mm)
    readouts = []
    for index, scan in enumerate(scans):
        image, readout = reader.read(scan, labels[index] if labels else None)
        rest_readout = None
        if rest:
            _, rest_readout = reader.read(rest[index], rest_labels[index] if rest_labels else None)
            add_rest(readout, rest_readout, defect_threshold)
        if limits is not None:
            add_z_scores(readout, limits)
        if out is not None:
            _write_outputs(out, stems[scan], image, readout, rest_readout)
        readouts.append(readout)
    if fmt == "table":  # for a person: what fits on a screen; CSV and JSON carry every column
        print_tables(readout_tables([readout.row for readout in readouts]))
        return
    gates = max((readout.function and len(readout.function.cavity_ml)) or 0 for readout in readouts)
    heading = columns(bool(rest), limits is not None, gates, per_gate_list=fmt == "json")
    with row_output(None, fmt, heading, title="LV quantification") as writer:
        for readout in readouts:
            writer.write({**readout.row, **readout.gate_cells()})


def _write_outputs(folder: Path, stem: str, image, readout, rest_readout) -> None:
    """The bullseye (three panels with a rest scan: stress, rest, stress - rest), the map and the
    short-axis volume."""
    from spectfsl.core.quantify.workflow import stem_outputs, write_readout_files
    from spectfsl.figures import readout_bullseye, volume_curve

    paths = stem_outputs(folder, stem, gated=readout.function is not None)
    title = f"patient {image.patient} - {stem}"  # the pseudonym, never the identity
    readout_bullseye(paths["polar_png"], readout, rest_readout, title)
    write_readout_files(paths, image, readout)
    readout.row["polar"] = str(paths["polar_png"])
    if readout.function is not None:
        volume_curve(paths["volume_curve"], readout.function, title)
        readout.row["volume_curve"] = str(paths["volume_curve"])


def register(app: typer.Typer) -> None:
    app.command()(quantify)
