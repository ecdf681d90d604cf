"""`spectfsl prnet train | offset | locate | reconstruct | evaluate`: self-supervised anatomical localisation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import (
    ChannelsLast,
    CheckpointEvery,
    Compile,
    Device,
    DocumentFormat,
    OutFile,
    Overwrite,
    Precision,
    Quiet,
    Resume,
    RowFormat,
    Seed,
    SkipBad,
    checkpointer,
    one_length,
    positive,
    write_rows,
)

prnet_app = typer.Typer(
    help="Self-supervised anatomical localisation (PRNet): learn from unlabelled slices, "
    "find landmarks from one example.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        metavar="MODEL|builtin",
        help="Model file from `prnet train`, or builtin: the model shipped with spectfsl for the inputs' "
        "dimensionality (2D slices or 3D volumes; see `spectfsl models list`).",
        show_default=False,
    ),
]
LocaliserOption = Annotated[
    str,
    typer.Option(
        "--model",
        metavar="MODEL|builtin",
        help="Model file from `prnet train` or an anatomy-embedding model; builtin: the built-in PRNet for the "
        "inputs' dimensionality (2D slices or 3D volumes); builtin:NAME: a built-in model by name, e.g. "
        "builtin:anatomy-3d (see `spectfsl models list`).",
        show_default=False,
    ),
]
Refine = Annotated[
    list[Path] | None,
    typer.Option(
        "--refine",
        metavar="MODEL",
        help="Fine model (trained with --max-offset-mm) that refines the --model result; repeat for a cascade.",
        show_default=False,
    ),
]
#: The defaults are LOCAL_MATCH_MM's (written out, not imported: `--help` stays free of torch).
MatchRadius = Annotated[
    float | None,
    typer.Option(
        metavar="MM",
        min=0.0,
        help=(
            "Refine the network's answer by the reference patch within this many mm (PRNet: the best "
            "template match; anatomy embedding: the best sum of match and embedding similarity; 0: the "
            "network alone) [default: 25 for a 2D model, 40 for a 3D model; chosen by measurement, docs: "
            "Accuracy]."
        ),
        show_default=False,
    ),
]
Image2D = Annotated[
    str,
    typer.Argument(
        metavar="IMAGE", help="A 2D image (PATH@N: frame N of a volume); a volume for a 3D model.", show_default=False
    ),
]


def _cascade(model: str, refine: list[Path] | None, device: str, image: str | None = None):
    """The coarse model and its refining models, loaded on the chosen device; `builtin` is the built-in
    model of `image`'s dimensionality (a volume: 3D; a 2D image or PATH@N: 2D)."""
    from spectfsl.core.device import setup_device
    from spectfsl.core.prnet.model_file import load_cascade

    dims = _dims_of(image) if image is not None and "builtin" in [model, *map(str, refine or [])] else 2
    return load_cascade([model, *(refine or [])], setup_device(device), dims)


def _localiser(model: str, refine: list[Path] | None, device: str, image: str):
    """The localiser of `model` (a PRNet with its refining models, or an anatomy embedding), on the
    chosen device; `builtin` is the built-in localiser of `image`'s dimensionality."""
    from spectfsl.core.device import setup_device
    from spectfsl.core.prnet.localisers import open_localiser

    dims = _dims_of(image) if "builtin" in [model, *map(str, refine or [])] else 2
    return open_localiser(model, [str(path) for path in refine or []], setup_device(device), dims)


def _dims_of(image: str) -> int:
    """3 for a volume, 2 for a 2D image or one frame of a volume (PATH@N)."""
    from spectfsl.core.files.loader import load_image

    return 3 if load_image(image).is_volume else 2


@prnet_app.command("train")
def train(
    images: Annotated[
        list[str],
        typer.Argument(
            metavar="IMAGE",
            help="Unlabelled images: every slice of a volume is used (2D), or each volume (--dims 3).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="MODEL", help="Model file to write (.safetensors).", show_default=False)
    ],
    dims: Annotated[
        int,
        typer.Option(
            metavar="2|3", help="2: learn from slices (the study); 3: from volumes, cubic patches, x,y,z points."
        ),
    ] = 2,
    patch: Annotated[
        int | None,
        typer.Option(
            metavar="PX",
            min=16,
            help="Patch side in model pixels (a multiple of 16). Default: 32 (2D), 16 (3D).",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            metavar="N",
            min=1,
            help="Training steps (iterations of --batch-size point pairs), counted in epochs of --iters "
            "(rounded up). Default: 1500 (2D), 600 (3D).",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help="Instead of --steps: epochs of --iters steps (the study: 50 x 10). Default: 150 (2D), 60 (3D).",
            show_default=False,
        ),
    ] = None,
    iters: Annotated[int, typer.Option(metavar="N", min=1, help="Steps per epoch (between progress reports).")] = 10,
    batch_size: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=1, help="Point pairs per iteration. Default: 16 (2D), 32 (3D).", show_default=False
        ),
    ] = None,
    lr: Annotated[float, typer.Option(metavar="RATE", callback=positive, help="Adam learning rate.")] = 1e-3,
    lr_schedule: Annotated[
        str | None,
        typer.Option(
            metavar="constant|cosine",
            help="Learning rate over the run: constant, or cosine decay to 0. Default: cosine (the study: constant).",
            show_default=False,
        ),
    ] = None,
    pixel_mm: Annotated[
        float | None,
        typer.Option(
            metavar="MM",
            callback=positive,
            help="Model pixel size in mm (images are resampled to it). Default: 4 (2D), 8 (3D).",
            show_default=False,
        ),
    ] = None,
    offset_scale_mm: Annotated[
        float | None,
        typer.Option(
            metavar="MM",
            callback=positive,
            help="Offsets are divided by this (mm) to a unitless range [default: 100, or a starting model's].",
            show_default=False,
        ),
    ] = None,
    reconstruction_weight: Annotated[
        float,
        typer.Option(
            metavar="LAMBDA",
            min=0.0,
            help="lambda in L = L_dis + lambda * L_rec; 0 skips the decoder, >0 is needed for `reconstruct`.",
        ),
    ] = 0.0,
    max_offset_mm: Annotated[
        float | None,
        typer.Option(
            metavar="MM",
            callback=positive,
            help="Draw pairs at most this far apart (mm, per axis): a fine model for --refine.",
            show_default=False,
        ),
    ] = None,
    head_activation: Annotated[
        str | None,
        typer.Option(
            metavar="relu|leaky_relu",
            help="The position head's activation. Default: relu (2D, the study's), leaky_relu (3D: with relu "
            "a run can lose a whole axis).",
            show_default=False,
        ),
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(
            metavar="builtin|random|MODEL",
            help="Where training starts: the built-in model of --dims (the default where one ships: "
            "`spectfsl models list`), random weights (the default otherwise), or a model file from `prnet "
            "train`; a model fixes the patch, pixel size, channels and head (the new file records it).",
            show_default=False,
        ),
    ] = None,
    seed: Seed = 0,
    device: Device = "auto",
    checkpoint_every: CheckpointEvery = 60.0,
    resume: Resume = False,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Train PRNet without labels: patches around pairs of points learn their relative positions.

    Ctrl-C (or SIGTERM) saves a checkpoint beside --out and exits 130; the same command with
    --resume continues and ends with the weights an uninterrupted run would have.
    """
    from spectfsl.core import distributed
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.loader import iter_images
    from spectfsl.core.prnet.grid import grid_images, grid_volumes
    from spectfsl.core.prnet.model_file import save_prnet, starting_model
    from spectfsl.core.prnet.training import PRNetSettings, default_settings, train_model
    from spectfsl.ui import info, make_progress

    check_new_output(out, overwrite)
    target = setup_device(device)
    initial, parent = starting_model(init, dims, target)
    defaults = default_settings(dims, None if initial is None else initial[1])
    pixel_mm = pixel_mm or defaults.pixel_mm
    one_length(steps, epochs, "--epochs")
    epochs = -(-steps // iters) if steps is not None else epochs or defaults.epochs
    settings = PRNetSettings(
        patch or defaults.patch,
        pixel_mm,
        offset_scale_mm or defaults.offset_scale_mm,
        epochs,
        iters,
        batch_size or defaults.batch_size,
        lr,
        reconstruction_weight,
        channels=defaults.channels,
        seed=seed,
        max_offset_mm=max_offset_mm,
        dims=dims,
        lr_schedule=lr_schedule or defaults.lr_schedule,
        head_activation=head_activation or defaults.head_activation,
    )
    grids = (grid_volumes if dims == 3 else grid_images)(iter_images(images), pixel_mm)
    saver = checkpointer(out, checkpoint_every, resume, overwrite)
    with make_progress() as progress:
        task = progress.add_task("training PRNet", total=epochs * iters, status="")

        def report(epoch: int, iteration: int, loss: float) -> None:
            done = epoch * iters + iteration + 1
            progress.update(task, completed=done, status=f"epoch {epoch + 1}/{epochs} loss {loss:.4f}")

        model, model_info = train_model(grids, settings, target, report, saver, initial, parent)
    if distributed.current().is_main:  # under torchrun: one writer
        save_prnet(out, model, model_info)
    saver.finish()
    what = "volumes" if dims == 3 else "slices"
    info(f"wrote {out}: trained on {len(grids)} {what}, final epoch loss {model_info.training['final_loss']:.4f}")


@prnet_app.command("offset")
def offset(
    image: Image2D,
    model: ModelOption,
    p1: Annotated[
        str,
        typer.Option("--p1", metavar="X,Y[,Z]", help="First point, IMAGE's voxel indices.", show_default=False),
    ],
    p2: Annotated[
        str, typer.Option("--p2", metavar="X,Y[,Z]", help="Second point (in IMAGE2 if given).", show_default=False)
    ],
    image2: Annotated[
        str | None,
        typer.Option(
            "--image2",
            metavar="IMAGE2",
            help="p2 lies in this image: an anatomical offset between scans.",
            show_default=False,
        ),
    ] = None,
    fmt: RowFormat = "table",
    out: OutFile = None,
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Predicted vector p2 - p1 (voxels and mm along IMAGE's file axes); with --image2, where p2's
    anatomy lies relative to p1. A 3D model takes volumes and x,y,z points (and adds dz columns)."""
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.points import parse_point
    from spectfsl.core.prnet.grid import load_grid, load_grid_volume
    from spectfsl.core.prnet.locate import predicted_offset
    from spectfsl.render import check_format, row_output

    check_format(fmt)
    check_new_output(out, overwrite)
    [(network, info)] = _cascade(model, None, device, image)
    first_point, second_point = parse_point(p1, "p1", info.dims), parse_point(p2, "p2", info.dims)
    load = load_grid_volume if info.dims == 3 else load_grid
    first = load(image, info.pixel_mm)
    second = load(image2, info.pixel_mm) if image2 else first
    row = predicted_offset(network, info, first, first_point, second, second_point).as_row()
    with row_output(out, fmt, list(row), title="offset p2 - p1") as writer:
        writer.write(row)


@prnet_app.command("locate")
def locate(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET",
            help="Target 2D images (files, folders, PATH@N); volumes for a 3D model.",
            show_default=False,
        ),
    ],
    model: LocaliserOption,
    ref: Annotated[
        str,
        typer.Option(
            "--ref",
            metavar="IMAGE",
            help="Reference image (2D; a volume for a 3D model) with the annotated point(s).",
            show_default=False,
        ),
    ],
    point: Annotated[
        list[str],
        typer.Option(
            "--point",
            metavar="[NAME=]X,Y[,Z]",
            help="A point in the reference, in its file's voxel indices (repeatable).",
            show_default=False,
        ),
    ],
    refine: Refine = None,
    skip_bad: SkipBad = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help="Targets located together, read and moved as one batch [default: 64]; lower it to save memory.",
            show_default=False,
        ),
    ] = None,
    match_radius_mm: MatchRadius = None,
    qc: Annotated[
        Path | None,
        typer.Option(
            "--qc",
            metavar="DIR",
            help="Also write <stem>_qc.png per target: the reference's cuts through each point beside the "
            "target's through the located point, the matched patch boxed, titled with the pseudonym.",
            show_default=False,
        ),
    ] = None,
    fmt: RowFormat = "table",
    out: OutFile = None,
    device: Device = "auto",
    precision: Precision = "fp32",
    compile: Compile = False,
    channels_last: ChannelsLast = False,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Find the reference's annotated points in each target (one-shot, no labels needed for training).

    Output columns: path (the target), name, x, y[, z] (the target file's voxel indices), x_mm,
    y_mm[, z_mm] (mm from its first voxel's centre), steps, converged (most starts stopped moving
    before the step limit; for an anatomy embedding, its coarse and fine embeddings agree on the
    place), score (normalised cross-correlation of the reference's patch and the target's at the
    located point, -1 to 1: below 0.5 a warning asks to check the point), method (prnet or
    anatomy: which localiser the model is), and where
    the file's geometry is known space (LPS for DICOM, RAS for NIfTI) and patient_x, patient_y,
    patient_z (mm). A 3D model (`prnet train --dims 3`) takes volumes and x,y,z points.
    """
    from spectfsl.core.acceleration import Acceleration
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.points import parse_named_point
    from spectfsl.core.prnet.grid import load_grid, load_grid_volume
    from spectfsl.core.prnet.locate import LOCAL_MATCH_MM, TARGETS_PER_BATCH, locate_columns
    from spectfsl.core.prnet.workflow import locate_files, qc_paths, warn_background_points
    from spectfsl.render import check_format

    check_format(fmt)
    batch_size = batch_size or TARGETS_PER_BATCH
    check_new_output(out, overwrite)
    acceleration = Acceleration(precision, compile, channels_last)
    localiser = _localiser(model, refine, device, ref)
    for network, method in localiser.networks():
        acceleration.prepare(network, method)
    dims = localiser.dims
    match_radius_mm = LOCAL_MATCH_MM[dims] if match_radius_mm is None else match_radius_mm
    points = [parse_named_point(text, f"point{i + 1}", dims) for i, text in enumerate(point)]
    reference = (load_grid_volume if dims == 3 else load_grid)(ref, localiser.pixel_mm)
    warn_background_points(reference, points)
    columns = list(locate_columns(dims)) + (["qc"] if qc else []) + (["error"] if skip_bad else [])
    draw = None
    if qc is not None:
        from spectfsl.figures import point_qc

        figure_for = qc_paths(targets, qc, overwrite, skip_bad)

        def draw(target, answers) -> str:
            return point_qc(figure_for(target), reference, target, answers, localiser.patch)

    def rows_for(specs: list[str]):
        return locate_files(localiser, reference, points, specs, match_radius_mm, batch_size, skip_bad, draw)

    write_rows(targets, rows_for, out, fmt, columns, f"located from {ref}", skip_bad, group=batch_size)


@prnet_app.command("reconstruct")
def reconstruct(
    image: Image2D,
    model: ModelOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FIG.png", help="PNG figure: real and reconstructed side by side.", show_default=False
        ),
    ],
    point: Annotated[
        str | None,
        typer.Option(
            "--point",
            metavar="X,Y[,Z]",
            help="Centre of the patch (default: the whole image, tiled; a 3D model needs it).",
            show_default=False,
        ),
    ] = None,
    fmt: RowFormat = "table",
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """The study's Figure 1: a real patch (or the whole image) next to its reconstruction, with MSE and PSNR."""
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.points import parse_point
    from spectfsl.core.prnet.grid import load_grid, load_grid_volume
    from spectfsl.core.prnet.locate import mse_psnr
    from spectfsl.core.prnet.locate import reconstruct as reconstruct_grid
    from spectfsl.core.prnet.model_file import require_decoder
    from spectfsl.errors import SpectfslError
    from spectfsl.figures import side_by_side
    from spectfsl.render import check_format, row_output

    check_format(fmt)
    check_new_output(out, overwrite)
    [(network, info)] = _cascade(model, None, device, image)
    require_decoder(info, model)
    if info.dims == 3 and point is None:
        raise SpectfslError(f"{model}: a 3D model reconstructs the cube around a point: give --point x,y,z")
    grid = (load_grid_volume if info.dims == 3 else load_grid)(image, info.pixel_mm)
    centre = parse_point(point, "point", info.dims) if point is not None else None
    real, decoded = reconstruct_grid(network, info, grid, centre)
    mse, psnr = mse_psnr(real, decoded)
    if info.dims == 3:  # the figure shows the cube's middle slice; MSE and PSNR are over the whole cube
        real, decoded = real[len(real) // 2], decoded[len(decoded) // 2]
    side_by_side(out, [("real", real), ("reconstructed", decoded)], title=f"MSE {mse:.4g}, PSNR {psnr:.1f} dB")
    row = {"path": grid.source.label, "point": point or "whole image", "mse": mse, "psnr_db": psnr, "figure": str(out)}
    with row_output(None, fmt, list(row), title="reconstruction") as writer:
        writer.write(row)


@prnet_app.command("evaluate")
def evaluate(
    model: LocaliserOption,
    points: Annotated[
        Path,
        typer.Option(
            "--points",
            metavar="POINTS.csv",
            help="CSV with columns image,name,x,y[,z] (image may be PATH@N; relative to the CSV's folder).",
            show_default=False,
        ),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Read the CSV's image paths relative to DIR instead (they must stay inside it).",
            show_default=False,
        ),
    ] = None,
    refine: Refine = None,
    template_size: Annotated[
        int | None,
        typer.Option(
            metavar="PX",
            min=3,
            help="Template side (model pixels) for the template-matching baseline (default: the patch).",
            show_default=False,
        ),
    ] = None,
    match_radius_mm: MatchRadius = None,
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines",
            help="Also register the images (rigid, affine, then a B-spline, and then demons instead: two "
            "baselines, as neither wins everywhere) to carry the point: the classical answer (SimpleITK; a "
            "few seconds per pair of volumes, one registration serving both orders).",
        ),
    ] = False,
    fmt: DocumentFormat = "table",
    out: OutFile = None,
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Leave-one-out one-shot localisation: MRE, median, success within 5 and 10 mm, next to naive and
    template matching (and, with --baselines, registration). A 3D model takes points in volumes (a z
    column) and compares with 3D baselines."""
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.points import read_points
    from spectfsl.core.prnet.evaluate import evaluate_localisation, load_landmarks
    from spectfsl.core.prnet.localisers import open_localiser
    from spectfsl.core.processing import registration
    from spectfsl.render import DOCUMENT_FORMATS, check_format, write_document
    from spectfsl.ui import info

    check_format(fmt, DOCUMENT_FORMATS)
    registration_settings = None
    if baselines and not registration.available():
        info(registration.MISSING)
    elif baselines:
        registration_settings = registration.BASELINES
    check_new_output(out, overwrite)
    rows = read_points(points, data_dir)
    dims = 3 if rows and len(rows[0]) == 5 else 2  # a z column: points in volumes
    localiser = open_localiser(model, [str(path) for path in refine or []], setup_device(device), dims)
    landmarks = load_landmarks(rows, localiser.pixel_mm, localiser.dims)
    result = evaluate_localisation(localiser, landmarks, template_size, match_radius_mm, registration_settings)
    document = {
        "model": str(model),
        "method": localiser.method,
        "refine": [str(p) for p in refine or []],
        "points": str(points),
        "template_px": result.template_px,
        "match_radius_mm": result.match_radius_mm,
        "landmarks": result.as_dict(),
    }
    write_document(out, fmt, document, result.tables())


def register(app: typer.Typer) -> None:
    app.add_typer(prnet_app, name="prnet")
