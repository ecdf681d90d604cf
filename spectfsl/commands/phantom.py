"""`spectfsl phantom`: write a synthetic myocardial-perfusion SPECT phantom."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import Overwrite, Quiet, Seed


def phantom(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder to create: DIR/<patient>/spect.dcm, labels.npy, landmarks.json; DIR/points.csv.",
            show_default=False,
        ),
    ],
    patients: Annotated[int, typer.Option(metavar="N", min=1, max=10000, help="Number of patients.")] = 12,
    seed: Seed = 0,
    matrix: Annotated[int, typer.Option(metavar="N", min=16, max=512, help="Voxels along each axis.")] = 64,
    pixel_mm: Annotated[
        float, typer.Option(metavar="MM", min=0.5, max=20.0, help="Voxel side in mm (isotropic voxels).")
    ] = 6.4,
    defect: Annotated[
        str | None,
        typer.Option(
            metavar="anterior|septal|inferior|lateral|random",
            help="A perfusion defect in this LV wall of every patient (random: a wall per patient, from --seed) "
            "instead of the random ones; the truth is in landmarks.json.",
            show_default=False,
        ),
    ] = None,
    defect_uptake: Annotated[
        float, typer.Option(metavar="F", min=0.0, max=0.99, help="The defect's uptake, a share of normal.")
    ] = 0.5,
    gates: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=4,
            max=32,
            help="Write ECG-gated studies of N gates (4-32; 8 is usual): spect.dcm is then RECON GATED TOMO, its LV "
            "beating with an ejection fraction of 20-75% drawn per patient; lv_labels.nii.gz labels every gate and "
            "landmarks.json holds the truth (EDV, ESV, LVEF, cavity volume per gate).",
            show_default=False,
        ),
    ] = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Simulate myocardial-perfusion SPECT patients with tissue labels and landmarks.

    Each patient gets an NM multi-frame RECON TOMO DICOM volume (spect.dcm), a label map
    (labels.npy: 1 myocardium, 2 ventricles, 3 liver; lv_labels.npy: 1 LV myocardium, 2 LV cavity,
    4 RV, for `spectfsl quantify`) and landmarks.json (lv_centre, lv_apex, rv_centre, liver_centre in
    voxel x, y, z; the LV volumes and any named defect). The anatomy is oriented as in a transaxial
    NM study: the LV axis points anterior-left-inferior, the RV on its right. DIR/points.csv lists every landmark on the
    slice through it (image,name,x,y) for `prnet evaluate`. The same --seed gives the same files.
    """
    from spectfsl.core.data.phantom import write_phantom
    from spectfsl.core.files.atomic import atomic_directory
    from spectfsl.ui import info, make_progress, warn

    out_dir, voxel_mm = out, pixel_mm

    field_of_view_mm = matrix * voxel_mm
    if field_of_view_mm < 340:
        warn(f"field of view {field_of_view_mm:.0f} mm is smaller than the 340 mm torso: organs will be cut off")
    with atomic_directory(out_dir, overwrite=overwrite) as staging, make_progress() as progress:
        task = progress.add_task("simulating patients", total=patients, status="")
        write_phantom(
            staging,
            patients,
            seed,
            matrix,
            voxel_mm,
            lambda index: progress.advance(task),
            defect,
            defect_uptake,
            gates=gates,
        )
    info(f"wrote {patients} phantom patients ({matrix}^3 voxels of {voxel_mm} mm) to {out_dir}")


def register(app: typer.Typer) -> None:
    app.command()(phantom)
