"""`spectfsl models list | show | make`: the models shipped inside the package and their recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectfsl.commands.options import Device, DocumentFormat, Overwrite, Quiet, RowFormat, Seed

models_app = typer.Typer(
    help="Built-in models: shipped inside the package (no download), each with a model card; "
    "`--model builtin` and `--init builtin` use them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="A built-in model's name (see `spectfsl models list`).")]


@models_app.command("list")
def list_models(fmt: RowFormat = "table") -> None:
    """One row per built-in model: name, kind, dimensionality, size, SHA-256 and licence (`models show
    NAME` prints its whole card)."""
    from spectfsl.core.files.catalogue import catalogue_rows
    from spectfsl.render import row_output

    rows = catalogue_rows()
    with row_output(None, fmt, list(rows[0]), title="built-in models") as writer:
        for row in rows:
            writer.write(row)


@models_app.command("show")
def show(name: Name, fmt: DocumentFormat = "table") -> None:
    """A built-in model's card: data and licence, recipe command, seed, commit, SHA-256, scores; and
    whether the installed file matches it."""
    from spectfsl.core.files.catalogue import card, named, verified_path
    from spectfsl.core.tables import Table
    from spectfsl.render import write_document

    model = named(name)
    document = card(model)
    verified_path(model)
    document = {**document, "file_matches_card": True}
    rows = tuple((key, value if isinstance(value, str) else _compact(value)) for key, value in document.items())
    write_document(None, fmt, document, [Table(f"built-in model {name}", ("field", "value"), rows)])


def _compact(value) -> str:
    import json

    return json.dumps(value)


@models_app.command("make")
def make(
    name: Name,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="MODEL",
            help="Model file to write (.safetensors); its card is written beside it (.card.json).",
            show_default=False,
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="The PhysioNet myocardial-perfusion folder (mps-physionet: dicom/mps-N.dcm volumes, "
            "nifti/patient00N_0000.nii.gz images with patient00N.nii.gz LV-wall masks) [default: "
            "$SPECTFSL_DATA/mps-physionet when it exists, else the copy shipped inside the package].",
            show_default=False,
        ),
    ] = None,
    seed: Seed = 0,
    steps: Annotated[
        int | None, typer.Option(metavar="N", min=1, help="Training steps [default: the recipe's].", show_default=False)
    ] = None,
    device: Device = "cpu",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Remake a built-in model by its recipe (what made the shipped file: see its card's `recipe`).

    The same seed, data, machine and thread count give the same file (SHA-256); copy it and its card
    into spectfsl/weights/ to ship it. Measure it with benchmarks/builtin_segment.py or
    benchmarks/builtin_prnet.py, then benchmarks/card_scores.py.
    """
    import shlex

    from spectfsl.core.data.shared import find_data, physionet_folder
    from spectfsl.core.device import setup_device
    from spectfsl.core.files.atomic import check_new_output
    from spectfsl.core.files.catalogue import card_path_for, named
    from spectfsl.core.models.make import make_builtin, recipe_for
    from spectfsl.ui import info, make_progress

    model = named(name)
    data = data if data is not None else physionet_folder(find_data())
    check_new_output(out, overwrite)
    check_new_output(card_path_for(out), overwrite)
    target = setup_device(device)
    # the card names the recipe, not this machine's folders (the output path is a placeholder)
    words = ["spectfsl", "models", "make", name, "--out", "OUT.safetensors"]
    words += ["--seed", str(seed)]
    command = shlex.join(words + (["--steps", str(steps)] if steps is not None else []))
    with make_progress() as progress:
        task = progress.add_task("training", total=recipe_for(model, 0, steps).total_steps, status="")

        def report(done: int, loss: float) -> None:
            progress.update(task, completed=done, status=f"loss {loss:.4f}")

        make_builtin(model, data, out, seed, steps, target, report, command)
    info(f"wrote {out} and {card_path_for(out)}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
