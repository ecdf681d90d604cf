"""`spectfsl proto fit | predict | evaluate`: few-shot tissue classification with prototypical networks."""

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

proto_app = typer.Typer(
    help="Few-shot tissue classification: prototypes from a few labelled crops per class.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Weights = Annotated[
    str,
    typer.Option(
        metavar="auto|imagenet|random|FILE",
        help="auto (ImageNet if cached, else random), imagenet, random, or a .safetensors/.pth file.",
    ),
]
Backbone = Annotated[
    str,
    typer.Option(
        metavar="resnet18|prnet",
        help="Embedding network: resnet18, or prnet (with --weights MODEL.safetensors from `prnet train`).",
    ),
]
Way = Annotated[
    int | None,
    typer.Option(
        metavar="N", min=2, help="Classes per episode [default: 3, or all classes when fewer].", show_default=False
    ),
]
Shot = Annotated[int, typer.Option(metavar="N", min=1, help="Support images per class per episode.")]
QueryCount = Annotated[
    int | None,
    typer.Option(
        "--query",
        metavar="N",
        min=1,
        help="Query images per class per episode [default: 6, fewer when the smallest class has fewer "
        "than --shot + 6 images; said on stderr].",
        show_default=False,
    ),
]
Dataset = Annotated[
    Path,
    typer.Argument(
        metavar="DATASET", help="Folder with one subfolder per class (as `prepare` writes).", show_default=False
    ),
]


@proto_app.command("fit")
def fit(
    dataset: Dataset,
    out: Annotated[
        Path, typer.Option("--out", metavar="BANK", help="Bank file to write (.safetensors).", show_default=False)
    ],
    support: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=1, help="Support images per class for the prototypes (default: all).", show_default=False
        ),
    ] = None,
    weights: Weights = "auto",
    backbone: Backbone = "resnet18",
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            metavar="N",
            min=0,
            help="Fine-tuning steps, one episode each (0: none; the study used 10) [default: 100].",
            show_default=False,
        ),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(metavar="N", min=0, help="The same as --steps: one step is one episode.", show_default=False),
    ] = None,
    way: Way = None,
    shot: Shot = 3,
    query: QueryCount = None,
    lr: Annotated[
        float, typer.Option(metavar="RATE", callback=positive, help="Adam learning rate for fine-tuning.")
    ] = 1e-3,
    transform: Annotated[
        str,
        typer.Option(
            metavar="auto|none|l2|cl2n",
            help="Feature transform before distances: auto is cl2n when fine-tuned, else l2.",
        ),
    ] = "auto",
    input_size: Annotated[
        int | None,
        typer.Option(
            metavar="PX", min=8, help="Network input size in pixels (default: the crops' size).", show_default=False
        ),
    ] = None,
    seed: Seed = 0,
    device: Device = "auto",
    checkpoint_every: CheckpointEvery = 60.0,
    resume: Resume = False,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Fit a prototype bank from DATASET, optionally fine-tuning the backbone on episodes first.

    Ctrl-C (or SIGTERM) during fine-tuning saves a checkpoint beside --out and exits 130; the same
    command with --resume continues and ends with the bank an uninterrupted run would have.
    """
    from spectfsl.core import distributed
    from spectfsl.core.data.datasets import read_dataset
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.proto.bank import save_bank
    from spectfsl.core.proto.episodes import EpisodeShape, FineTuneSettings
    from spectfsl.core.proto.workflows import DEFAULT_EPISODES, FitSettings, fit_bank
    from spectfsl.ui import info, make_progress, warn

    one_length(steps, episodes, "--episodes")
    episodes = next((n for n in (steps, episodes) if n is not None), DEFAULT_EPISODES)
    check_new_output(out, overwrite)
    target = setup_device(device)
    data = read_dataset(dataset)
    settings = FitSettings(
        backbone=backbone,
        weights=weights,
        shots=support,
        fine_tune=FineTuneSettings(episodes, EpisodeShape(way, shot, query), lr, seed),
        transform=transform,
        input_size=input_size,
        seed=seed,
    )
    with make_progress() as progress:
        task = progress.add_task("fine-tuning episodes", total=episodes, status="")

        def report(index: int, loss: float, accuracy: float) -> None:
            progress.update(task, completed=index + 1, status=f"loss {loss:.3f} acc {accuracy:.2f}")

        saver = checkpointer(out, checkpoint_every, resume, overwrite)
        classifier, bank_info, weights_choice = fit_bank(data, settings, target, report, saver)
    if weights_choice.warning:
        warn(weights_choice.warning)
    if distributed.current().is_main:  # under torchrun: one writer
        save_bank(out, classifier, bank_info, weights_choice)
    saver.finish()
    counts = ", ".join(f"{name} {int(n)}" for name, n in zip(bank_info.classes, classifier.counts))
    final = bank_info.training["final_loss"]
    loss_text = f", final episode loss {final:.4f}" if final is not None else ""
    info(
        f"wrote {out}: {len(bank_info.classes)} classes ({counts} support images), "
        f"weights {bank_info.weights}{loss_text}"
    )


@proto_app.command("predict")
def predict(
    images: Annotated[
        list[str],
        typer.Argument(
            metavar="IMAGE",
            help="Crops like the bank's: files, folders, PATH@N; every frame of a volume is one image.",
            show_default=False,
        ),
    ],
    bank: Annotated[
        Path, typer.Option("--bank", metavar="BANK", help="Bank file from `proto fit`.", show_default=False)
    ],
    fmt: RowFormat = "table",
    out: OutFile = None,
    batch_size: Annotated[int, typer.Option(metavar="N", min=1, help="Images per forward pass.")] = 256,
    skip_bad: SkipBad = False,
    device: Device = "auto",
    precision: Precision = "fp32",
    compile: Compile = False,
    channels_last: ChannelsLast = False,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Classify crops: one row per 2D image with class probabilities, distance and an OOD flag.

    The bank classifies crops of the kind it was fitted on (as `spectfsl prepare` cuts them: a
    fixed window around one tissue, masked by default). Any other image, a whole slice of a scan
    included, is classified as a whole from its central window; it says nothing about which pixels
    are which tissue, and is flagged ood when it does not look like the bank's crops (tissue and
    background fractions, intensity, roughness) or lies far from every prototype. A volume is
    classified slice by slice, each slice as a whole. To label the voxels of a scan (which are
    myocardium, cavity, liver), use `spectfsl segment`.
    """
    from spectfsl.core.acceleration import Acceleration
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.proto.bank import load_bank
    from spectfsl.core.proto.workflows import predict_images, prediction_columns
    from spectfsl.render import check_format
    from spectfsl.ui import make_progress

    check_format(fmt)
    check_new_output(out, overwrite)
    acceleration = Acceleration(precision, compile, channels_last)
    target = setup_device(device)
    classifier, info = load_bank(bank, target)
    classifier.accelerate(acceleration)
    columns = prediction_columns(info.classes, skip_bad)
    with make_progress() as progress:
        task = progress.add_task("classifying", total=None, status="")
        write_rows(
            images,
            lambda specs: predict_images(classifier, info, specs, batch_size, skip_bad),
            out,
            fmt,
            columns,
            f"predictions ({bank.name})",
            skip_bad,
            on_row=lambda: progress.advance(task),
            group=batch_size,
        )


@proto_app.command("evaluate")
def evaluate(
    dataset: Dataset,
    bank: Annotated[
        Path | None,
        typer.Option(
            "--bank",
            metavar="BANK",
            help="Evaluate this bank's backbone (else --weights, not fine-tuned).",
            show_default=False,
        ),
    ] = None,
    weights: Weights = "auto",
    backbone: Backbone = "resnet18",
    transform: Annotated[
        str | None,
        typer.Option(
            metavar="none|l2|cl2n",
            help="Feature transform (default: the bank's, else l2).",
            show_default=False,
        ),
    ] = None,
    way: Way = None,
    shot: Shot = 3,
    query: QueryCount = None,
    episodes: Annotated[int, typer.Option(metavar="N", min=1, help="Episodes to average over.")] = 600,
    split_by: Annotated[
        str | None,
        typer.Option(
            "--split-by",
            metavar="patient",
            help="patient: support and query never share a patient.",
            show_default=False,
        ),
    ] = None,
    baselines: Annotated[
        bool, typer.Option("--baselines", help="Also nearest-centroid on raw pixels and on hand features.")
    ] = False,
    cross_validate: Annotated[
        str | None,
        typer.Option(
            "--cross-validate",
            metavar="patient",
            help="patient: for each patient in turn, fit a bank (as `proto fit`, with --steps, --support, --weights) "
            "on the other patients' crops and classify the held-out patient's: an honest figure from one folder.",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="With --cross-validate: fine-tuning episodes per fold [default: as `proto fit`, 100].",
            show_default=False,
        ),
    ] = None,
    support: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help="With --cross-validate: support images per class (default: all).",
            show_default=False,
        ),
    ] = None,
    fmt: DocumentFormat = "table",
    out: OutFile = None,
    seed: Seed = 0,
    device: Device = "auto",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Episodic accuracy with 95% CI, per-class recall and confusion matrix; or, with --cross-validate
    patient, leave-one-patient-out accuracy of banks fitted on the other patients.

    A bank's own fitting images are refused (evaluating on them measures the fit): evaluate it on
    other patients' crops, or cross-validate. Patients are the crops' DICOM patient (pseudonym), or
    what `prepare --patient-from` read from the file names.
    """
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.proto.episodes import EpisodeShape
    from spectfsl.core.proto.evaluation import EvaluateSettings, bank_embedding, evaluate_folder, weights_embedding
    from spectfsl.errors import SpectfslError
    from spectfsl.render import DOCUMENT_FORMATS, check_format, write_document
    from spectfsl.ui import make_progress, warn

    if split_by not in (None, "patient"):
        raise SpectfslError(f"--split-by must be 'patient', got '{split_by}'")
    check_format(fmt, DOCUMENT_FORMATS)
    check_new_output(out, overwrite)
    target = setup_device(device)
    if cross_validate is not None:
        fold = {"weights": weights, "backbone": backbone, "transform": transform, "seed": seed}
        result = _cross_validated(dataset, cross_validate, bank, steps, support, fold, target)
        write_document(out, fmt, result.as_dict(), result.tables())
        return
    if steps is not None or support is not None:
        raise SpectfslError("--steps and --support set how each fold is fitted: they go with --cross-validate patient")
    if bank is not None:
        embedding = bank_embedding(bank, target, transform)
    else:
        embedding = weights_embedding(weights, backbone, transform, seed)
    if embedding.warning:
        warn(embedding.warning)
    settings = EvaluateSettings(EpisodeShape(way, shot, query), episodes, split_by == "patient", baselines, seed)
    with make_progress() as progress:
        task = progress.add_task("evaluating episodes", total=episodes, status="")
        result = evaluate_folder(dataset, embedding, settings, target, lambda i: progress.advance(task))
    write_document(out, fmt, result.as_dict(), result.tables())


def _cross_validated(dataset, by, bank, steps, support, fold: dict, target):
    """`proto evaluate --cross-validate patient`: the folds fitted as `proto fit` would (`fold`: its
    weights, backbone, transform and seed)."""
    from spectfsl.core.data.datasets import read_dataset
    from spectfsl.core.proto.crossval import cross_validate
    from spectfsl.core.proto.episodes import FineTuneSettings
    from spectfsl.core.proto.workflows import DEFAULT_EPISODES, FitSettings
    from spectfsl.errors import SpectfslError
    from spectfsl.ui import make_progress

    if by != "patient":
        raise SpectfslError(f"--cross-validate must be 'patient', got '{by}'")
    if bank is not None:
        raise SpectfslError("--cross-validate fits its own bank per fold: leave out --bank")
    data = read_dataset(dataset)
    settings = FitSettings(
        backbone=fold["backbone"],
        weights=fold["weights"],
        shots=support,
        fine_tune=FineTuneSettings(episodes=DEFAULT_EPISODES if steps is None else steps, seed=fold["seed"]),
        transform=fold["transform"] or "auto",
        seed=fold["seed"],
    )
    with make_progress() as progress:
        task = progress.add_task("cross-validating (a bank per patient)", total=len(set(data.patients)), status="")
        return cross_validate(data, settings, target, lambda _: progress.advance(task))


def register(app: typer.Typer) -> None:
    app.add_typer(proto_app, name="proto")
