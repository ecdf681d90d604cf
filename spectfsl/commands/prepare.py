"""`spectfsl prepare`: turn scans (and their labels or masks) into 2D datasets for the models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import Overwrite, Quiet, positive
from spectfsl.core.data.patients import DEFAULT_PATIENT_FROM


def prepare(
    images: Annotated[
        list[str],
        typer.Argument(metavar="IMAGE", help="Scans: DICOM, NIfTI, .npy, .png, folders, PATH@N.", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Dataset folder to create.", show_default=False)],
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            "--labels",
            metavar="LABELMAP",
            help="Label map for each IMAGE, in the same order (repeat the option).",
            show_default=False,
        ),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(
            metavar="ID=NAME,...",
            help="Label ids to class names for --labels [default: every id found, 1=myocardium, 2=ventricles, "
            "3=liver, others class<ID>]; ids found but not named are background, with a warning.",
            show_default=False,
        ),
    ] = None,
    mask: Annotated[
        list[str] | None,
        typer.Option(
            "--mask",
            metavar="NAME=PATH",
            help="Binary mask of class NAME; the k-th --mask of a NAME belongs to the k-th IMAGE.",
            show_default=False,
        ),
    ] = None,
    derive_from: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Wall class whose mask also yields 'ventricles' (hull minus wall) and 'extracardiac' (10-30 mm ring).",
            show_default=False,
        ),
    ] = None,
    size: Annotated[int, typer.Option(metavar="PX", min=8, help="Side of each written tissue crop, in pixels.")] = 64,
    pixel_mm: Annotated[
        float,
        typer.Option(metavar="MM", callback=positive, help="Common pixel size in mm that every image is resampled to."),
    ] = 2.0,
    min_pixels: Annotated[
        int, typer.Option(metavar="N", min=1, help="Least pixels of a class in a slice for a crop (source pixels).")
    ] = 20,
    style: Annotated[
        str,
        typer.Option(metavar="masked|patch", help="masked: keep only the tissue's pixels; patch: the whole window."),
    ] = "masked",
    crop: Annotated[
        str,
        typer.Option(
            metavar="none|auto", help="Unlabelled slices: none (whole slices) or auto (a box around the heart)."
        ),
    ] = "none",
    crop_mm: Annotated[
        float, typer.Option(metavar="MM", callback=positive, help="Side of the --crop auto box in mm.")
    ] = 128.0,
    slices: Annotated[
        bool, typer.Option("--slices/--no-slices", help="Also write unlabelled 2D slices to OUT/slices.")
    ] = True,
    patient_from: Annotated[
        str,
        typer.Option(
            metavar="REGEX",
            help="For files without a DICOM patient (NIfTI, .npy, .png): searched in the path without its "
            "extension, the patient is the group named 'patient' (else the first group, else the match). "
            "The default takes the file name before _rest, _stress or _0000; "
            "'([^/]+)/[^/]+$' takes the parent folder.",
        ),
    ] = DEFAULT_PATIENT_FROM,
    patient_map: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also write pseudonym,patient_id for every DICOM patient (outputs name patients only by pseudonym).",
            show_default=False,
        ),
    ] = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Write labelled tissue crops, unlabelled slices and manifest.csv.

    Crops: OUT/<class>/<id>.npy, one per class per slice with at least --min-pixels pixels of the
    class, a fixed window of --size x --pixel-mm mm (128 mm by default) centred on the tissue.
    Slices: OUT/slices/<id>.npy. Intensities are normalised per scan (99.5th percentile of non-zero
    voxels -> 1, clipped to [0, 2]). Every image has a sidecar JSON with its pixel size in mm.
    manifest.csv gives each image's patient (a DICOM patient's pseudonym, or what --patient-from
    read from the path) and, in its patient_from column, which of the two.
    """
    from spectfsl.core.data.datasets import PrepareSettings
    from spectfsl.core.data.prepare import parse_mask_options
    from spectfsl.core.data.prepare import prepare as prepare_scans
    from spectfsl.core.files.atomic import atomic_directory, check_new_output
    from spectfsl.ui import info, make_progress

    check_new_output(patient_map, overwrite)
    settings = PrepareSettings(size, pixel_mm, min_pixels, style, crop, crop_mm, slices, patient_from)
    masks = parse_mask_options(mask or [])
    with atomic_directory(out, overwrite=overwrite) as staging, make_progress() as progress:
        task = progress.add_task("preparing scans", total=None, status="")
        scans = 0

        def report(done: int, total: int) -> None:
            nonlocal scans
            scans = done
            progress.update(task, completed=done, total=total)

        rows = prepare_scans(
            images,
            staging,
            labels or [],
            classes,
            masks,
            derive_from,
            settings,
            on_scan=report,
            patient_map=patient_map,
        )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.class_name or "slices"] = counts.get(row.class_name or "slices", 0) + 1
    summary = ", ".join(f"{name}: {n}" for name, n in counts.items()) or "nothing"
    info(f"wrote {len(rows)} images from {scans} scans to {out} ({summary})")


def register(app: typer.Typer) -> None:
    app.command()(prepare)
