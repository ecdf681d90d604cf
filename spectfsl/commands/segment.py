"""`spectfsl segment fit | predict | evaluate`: few-shot tissue maps of whole scans."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import (
    CheckpointEvery,
    Device,
    DocumentFormat,
    OutFile,
    Overwrite,
    Quiet,
    Resume,
    RowFormat,
    ScanPixelMm,
    Seed,
    SkipBad,
    checkpointer,
    positive,
    write_rows,
)
from spectfsl.core.segment.settings import FROM_MODEL, NEW_CLASSES_STEPS, SegmentSettings

segment_app = typer.Typer(
    help="Few-shot tissue maps: label every voxel of a scan (LV myocardium, cavity, liver, ...) from "
    "one to five labelled scans.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Scans = Annotated[
    list[str],
    typer.Argument(
        metavar="SCAN",
        help="Scans: volumes (DICOM, NIfTI, NPY) or 2D images; a folder stands for its files.",
        show_default=False,
    ),
]
Labels = Annotated[
    list[Path] | None,
    typer.Option(
        "--labels",
        metavar="LABELMAP",
        help="Label map of each scan, in order (repeat the option): integer class ids on the scan's grid, "
        "0 = background.",
        show_default=False,
    ),
]
Classes = Annotated[
    str | None,
    typer.Option(
        metavar="ID=NAME,...",
        help="Names of the label maps' class ids, e.g. 1=myocardium,2=cavity. Default: every id found, "
        "named 1=myocardium, 2=ventricles, 3=liver (others classN).",
        show_default=False,
    ),
]
Masks = Annotated[
    list[str] | None,
    typer.Option(
        "--mask",
        metavar="NAME=PATH",
        help="A binary mask of class NAME for each scan, in order (repeat per scan and class).",
        show_default=False,
    ),
]
DeriveFrom = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="Wall class (e.g. myocardium) whose mask also gives the cavity it encloses, as class "
        "'ventricles' (convex hull of the wall minus the wall, slice by slice).",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        metavar="MODEL|builtin",
        help="Model file from `segment fit`, or builtin: the model shipped with spectfsl (3D volumes; "
        "1 = LV myocardium, 2 = LV cavity; no labelled scan needed; see `spectfsl models show segment-3d`).",
        show_default=False,
    ),
]
DropStray = Annotated[
    bool,
    typer.Option(
        "--drop-stray",
        help="Keep at most as many connected pieces of each class as it has in a support scan, largest "
        "first, counting only pieces of at least a tenth of its largest (there and here); the voxels of "
        "other pieces become background. Removes far-off false voxels (lower HD95), but drops a real "
        "piece where a predicted wall breaks in two.",
    ),
]


def _labelled(scans: list[str], labels, classes, masks, derive_from, pixel_mm: float | None = None):
    """(classes, lazily loaded (image, class-index map) pairs) from the command's options; each scan
    with `--pixel-mm` voxels when given, else with a warning if its spacing looks like a placeholder."""
    from spectfsl.core.data.prepare import parse_mask_options
    from spectfsl.core.files.loader import expand_inputs
    from spectfsl.core.image import placeholder_note
    from spectfsl.core.segment.support import choose_classes, load_labelled
    from spectfsl.errors import SpectfslError
    from spectfsl.ui import warn

    inputs = expand_inputs(scans)
    if any(frame is not None for _, frame in inputs):
        raise SpectfslError("segment takes whole scans: give the file, not PATH@N")
    paths = [Path(str(item)) for item, _ in inputs]
    mask_paths = parse_mask_options(masks or [])
    if not labels and not mask_paths:
        raise SpectfslError("give the scans' labels: --labels LABELMAP... or --mask NAME=PATH...")
    chosen = choose_classes(classes, labels or [], list(mask_paths), derive_from)

    def pairs():
        for image, indices in load_labelled(paths, labels or [], chosen, mask_paths, derive_from):
            note = placeholder_note(image) if pixel_mm is None else None
            if note:
                warn(note)
            yield image.with_voxel_mm(pixel_mm), indices

    return chosen, pairs()


@segment_app.command("fit")
def fit(
    scans: Scans,
    out: Annotated[
        Path, typer.Option("--out", metavar="MODEL", help="Model file to write (.safetensors).", show_default=False)
    ],
    labels: Labels = None,
    classes: Classes = None,
    mask: Masks = None,
    derive_from: DeriveFrom = None,
    method: Annotated[
        str,
        typer.Option(
            metavar="finetune|prototype",
            help="finetune: a small U-Net trained on the support scans; prototype: voxels take the class of "
            "the nearest class prototype (masked average pooling of the network's embeddings).",
        ),
    ] = "finetune",
    init: Annotated[
        str | None,
        typer.Option(
            metavar="builtin|random|MODEL",
            help="Where training starts: the built-in model (the default for volumes; 2D scans start from "
            "random weights), random weights, or a model file from `segment fit`.",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help=f"Training steps [default: {FROM_MODEL['steps']} from a model of the same classes, "
            f"{NEW_CLASSES_STEPS} from a model of other classes, {SegmentSettings.steps} from random weights].",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help="Augmented crops per step [default: 4, fewer of crops larger than 32 voxels per side, "
            "to hold about as many voxels: 2 of 40^3].",
            show_default=False,
        ),
    ] = None,
    crop: Annotated[
        int | None,
        typer.Option(
            metavar="VOXELS",
            min=8,
            help="Side of the training crops and of the windows labelled at prediction (the whole scan if "
            f"smaller) [default: {FROM_MODEL['crop']} from a model, {SegmentSettings.crop} from random weights].",
            show_default=False,
        ),
    ] = None,
    channels: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help=f"Channels of the network's first block, from random weights [default: {SegmentSettings.channels}; "
            "a starting model's own].",
            show_default=False,
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            metavar="RATE",
            callback=positive,
            help=f"Adam learning rate [default: {FROM_MODEL['lr']:g}].",
            show_default=False,
        ),
    ] = None,
    seed: Seed = 0,
    pixel_mm: ScanPixelMm = None,
    device: Device = "auto",
    checkpoint_every: CheckpointEvery = 60.0,
    resume: Resume = False,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Learn a tissue map from 1-5 labelled scans (2D or 3D); background is class 0.

    Labels come as label maps (--labels, ids named by --classes), masks (--mask NAME=PATH), or a
    wall mask whose cavity is derived (--derive-from). Volumes start from the built-in model by
    default (a short fine-tuning; the model file records its parent and SHA-256). Training crops are
    blurred or sharpened, rotated, scaled, and varied in gain and noise. Ctrl-C saves a checkpoint
    beside --out; --resume continues it.
    """
    from spectfsl.core import distributed
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.segment.model_file import save_segmenter
    from spectfsl.core.segment.workflows import fit_segmenter, starting_point
    from spectfsl.ui import info, make_progress

    check_new_output(out, overwrite)
    target = setup_device(device)
    chosen, labelled = _labelled(scans, labels, classes, mask, derive_from, pixel_mm)
    pairs = list(labelled)
    dims = pairs[0][0].pixels.ndim if pairs else 3
    start = starting_point(init, dims, target)
    given = {"method": method, "steps": steps, "batch_size": batch_size, "crop": crop, "channels": channels}
    given |= {"lr": lr, "seed": seed}
    settings = start.settings(chosen, **{key: value for key, value in given.items() if value is not None})
    saver = checkpointer(out, checkpoint_every, resume, overwrite)
    with make_progress() as progress:
        task = progress.add_task("training", total=settings.steps, status="")

        def report(step: int, loss: float) -> None:
            progress.update(task, completed=step, status=f"loss {loss:.4f}")

        segmenter = fit_segmenter(pairs, chosen, settings, target, report, saver, start.model, start.parent)
    if distributed.current().is_main:  # under torchrun: one writer
        save_segmenter(out, segmenter)
    saver.finish()
    names = ", ".join(f"{i}={name}" for i, name in chosen.foreground)
    scans = len({image.source for image, _ in pairs})
    support = f"{scans} support scan(s)" + (f" ({len(pairs)} gates)" if len(pairs) > scans else "")
    origin = start.parent["name"] if start.parent else "random weights"
    info(f"wrote {out}: {settings.method} from {origin}, {support}, classes {names}")


@segment_app.command("predict")
def predict(
    scans: Scans,
    model: ModelOption,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for the label maps (<stem>_labels.nii.gz; created if needed).",
            show_default=False,
        ),
    ],
    dicom_seg: Annotated[
        bool,
        typer.Option(
            "--dicom-seg",
            help="Also write <stem>_seg.dcm, a DICOM Segmentation referencing each DICOM input. DICOM requires "
            "it to carry the source's patient module: it names the patient as the source does.",
        ),
    ] = False,
    dicom_seg_anonymous: Annotated[
        bool,
        typer.Option(
            "--dicom-seg-anonymous",
            help="--dicom-seg for files that leave the hospital: the pseudonym as PatientID and PatientName, "
            "no birth date or other patient ids.",
        ),
    ] = False,
    drop_stray: DropStray = False,
    qc: Annotated[
        Path | None,
        typer.Option(
            "--qc",
            metavar="DIR",
            help="Also write <stem>_qc.png per scan: three orthogonal slices through the map, its contours "
            "over the scan, titled with the patient's pseudonym and any plausibility flag.",
            show_default=False,
        ),
    ] = None,
    fmt: RowFormat = "table",
    skip_bad: SkipBad = False,
    pixel_mm: ScanPixelMm = None,
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Label every voxel of each scan: a uint8 label map on the scan's own voxel grid (class ids as
    at fit time, 0 = background), as NIfTI with the scan's geometry so that it overlays the scan in
    any viewer. Prints one row per scan: path, output, voxels and ml per class, and `ood`: true when
    the scan or its map is unlike the model's support scans (field of view, intensity profile, class
    volumes and pieces), outside the voxel sizes the model was made for, or an LV class has a volume
    no heart has; a warning line says what differs."""
    from spectfsl import __version__
    from spectfsl.core.device import setup_device
    from spectfsl.core.segment.model_file import open_segmenter
    from spectfsl.core.segment.predict import (
        PredictOutputs,
        any_gated,
        output_names,
        predict_scans,
        prediction_columns,
        prepare_outputs,
    )
    from spectfsl.figures import tissue_map_qc
    from spectfsl.render import check_format
    from spectfsl.ui import make_progress

    check_format(fmt)
    seg_identity = "pseudonym" if dicom_seg_anonymous else "source" if dicom_seg else None
    outputs = PredictOutputs(out_dir, seg_identity, qc, drop_stray, pixel_mm)
    segmenter = open_segmenter(model, setup_device(device))
    _check_drop_stray(drop_stray, segmenter, model)
    names = output_names(scans, skip_bad)
    prepare_outputs(outputs, names, overwrite)
    foreground = segmenter.info.classes.foreground

    def draw_qc(path: Path, image, label_ids, reasons: list[str]) -> None:
        title = f"patient {image.patient} - {path.name.removesuffix('_qc.png')}"  # the pseudonym, never identity
        tissue_map_qc(path, image.pixels, label_ids, foreground, title, reasons)

    def rows_for(specs: list[str]):
        return predict_scans(segmenter, specs, names, outputs, __version__, skip_bad, draw_qc)

    columns = prediction_columns(segmenter, outputs, skip_bad, gated=any_gated(scans))
    with make_progress() as progress:
        task = progress.add_task("segmenting", total=len(names), status="")
        title = f"tissue maps ({Path(model).name})"
        write_rows(scans, rows_for, None, fmt, columns, title, skip_bad, on_row=lambda: progress.advance(task))


@segment_app.command("evaluate")
def evaluate(
    scans: Scans,
    model: ModelOption,
    labels: Labels = None,
    classes: Classes = None,
    mask: Masks = None,
    derive_from: DeriveFrom = None,
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines",
            help="Also score the intensity threshold (tuned on the support scans) with a convex-hull cavity, "
            "and, with --atlas, single-atlas registration (SimpleITK: rigid, affine, then demons).",
        ),
    ] = False,
    atlas: Annotated[
        str | None,
        typer.Option(
            metavar="SCAN",
            help="A labelled scan (not one evaluated) registered onto each scan to carry its labels: rigid, "
            "affine, then B-spline. Give the model's support scan for a like-for-like comparison.",
            show_default=False,
        ),
    ] = None,
    atlas_labels: Annotated[
        str | None,
        typer.Option(metavar="LABELMAP", help="The --atlas scan's label map (the same --classes).", show_default=False),
    ] = None,
    other: Annotated[
        list[Path] | None,
        typer.Option(
            "--compare",
            metavar="MODEL",
            help="Also score this model (e.g. the other method) on the same scans.",
            show_default=False,
        ),
    ] = None,
    drop_stray: DropStray = False,
    fmt: DocumentFormat = "table",
    out: OutFile = None,
    pixel_mm: ScanPixelMm = None,
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Dice and HD95 (mm) per class per scan against expert labels, and their mean with a 95%
    confidence interval (Student's t over scans). A support scan of the model is refused."""
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.processing import registration
    from spectfsl.core.segment.model_file import load_segmenter, open_segmenter
    from spectfsl.core.segment.support import load_labelled
    from spectfsl.core.segment.workflows import evaluate_scans
    from spectfsl.errors import SpectfslError
    from spectfsl.render import DOCUMENT_FORMATS, check_format
    from spectfsl.ui import info

    check_format(fmt, DOCUMENT_FORMATS)
    check_new_output(out, overwrite)
    target = setup_device(device)
    segmenter = open_segmenter(model, target)
    _check_drop_stray(drop_stray, segmenter, model)
    if classes is None and labels and not mask and not derive_from:  # the model's classes, not the maps' ids
        classes = ",".join(f"{i}={name}" for i, name in segmenter.info.classes.foreground)
    chosen, labelled = _labelled(scans, labels, classes, mask, derive_from, pixel_mm)
    _check_same_classes(chosen, segmenter.info.classes)
    others = []
    for path in other or []:
        compared = load_segmenter(path, target)
        _check_same_classes(chosen, compared.info.classes)
        others.append((f"{compared.info.method} ({path.name})", compared))
    reference_atlas = None
    if (atlas is None) != (atlas_labels is None):
        raise SpectfslError("give --atlas SCAN and --atlas-labels LABELMAP together")
    if atlas is not None and mask:
        raise SpectfslError("--atlas takes a label map: evaluate with --labels (and --derive-from), not --mask")
    if atlas is not None and not registration.available():
        info(registration.MISSING)
    elif atlas is not None:
        atlas_scan, atlas_indices = next(load_labelled([Path(atlas)], [Path(atlas_labels)], chosen, {}, derive_from))
        reference_atlas = (atlas_scan.with_voxel_mm(pixel_mm), atlas_indices)
    elif baselines:
        info("registration baseline: give --atlas SCAN --atlas-labels LABELMAP (one labelled scan)")
    scores = list(evaluate_scans(segmenter, labelled, baselines, others, drop_stray, reference_atlas))
    _print_evaluation(scores, fmt, out)


def _check_drop_stray(drop_stray: bool, segmenter, path: str) -> None:
    from spectfsl.ui import warn

    if drop_stray and segmenter.info.class_pieces is None:
        warn(f"{path}: written before the support's pieces were recorded: --drop-stray does nothing (refit)")


def _check_same_classes(given, model) -> None:
    from spectfsl.errors import SpectfslError

    if dict(given.foreground) != dict(model.foreground):
        shown = ", ".join(f"{i}={n}" for i, n in model.foreground)
        found = ", ".join(f"{i}={n}" for i, n in given.foreground)
        raise SpectfslError(f"the labels give classes {found}; the model labels {shown} (use --classes to match)")


def _print_evaluation(scores, fmt: str, out: Path | None) -> None:
    from spectfsl.core.segment.workflows import evaluation_document, evaluation_tables
    from spectfsl.render import write_document

    write_document(out, fmt, evaluation_document(scores), evaluation_tables(scores))


def register(app: typer.Typer) -> None:
    app.add_typer(segment_app, name="segment")
