"""The recipe of the built-in segmentation model: which data it learns from and how it trains.

Training data: phantom patients drawn with varied voxel size (3-8 mm) and field of view (from cut
close around the heart to the whole chest), labelled with their true LV wall and LV cavity, and the
PhysioNet myocardial-perfusion volumes with their expert LV-wall masks (CC BY 4.0), whose cavity is
derived from the wall (`masks.derive_from_wall`). Crops are rotated in any direction, zoomed and
stretched, so that the model holds for transaxial and reoriented short-axis volumes and for scans
whose voxel size is unknown or a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from spectfsl.core.data.phantom import make_patient
from spectfsl.core.data.shared import packaged_physionet
from spectfsl.core.files.catalogue import PHYSIONET_CITATION
from spectfsl.core.files.loader import load_image
from spectfsl.core.image import SpectImage
from spectfsl.core.processing.masks import derive_from_wall
from spectfsl.core.segment import baselines
from spectfsl.core.segment.model_file import Segmenter, SegmentInfo
from spectfsl.core.segment.support import SegmentClasses, support_scan
from spectfsl.core.segment.training import SegmentSettings, SupportScan, fit_network
from spectfsl.core.segment.workflows import scan_fingerprint
from spectfsl.errors import SpectfslError

#: The built-in segmentation model's classes (the SPEC's: 1 = LV myocardium, 2 = LV cavity).
BUILTIN_CLASSES = SegmentClasses((0, 1, 2), ("background", "myocardium", "cavity"))
#: Image and wall-mask pairs in a PhysioNet NIfTI folder (nnU-Net naming).
IMAGE_SUFFIX = "_0000.nii.gz"


@dataclass(frozen=True)
class SegmentRecipe:
    """What the built-in segmentation model is trained on and how.

    `phantoms` simulated patients (voxel size drawn in `voxel_mm`, field of view in `fov_mm`, at most
    `max_matrix` voxels a side); the real volumes make up `real_share` of the training crops; with the
    crops' zoom this covers scans of `made_for_mm` voxels (others are labelled with a warning).
    """

    seed: int = 0
    phantoms: int = 24
    voxel_mm: tuple[float, float] = (3.0, 8.0)
    fov_mm: tuple[float, float] = (150.0, 450.0)
    max_matrix: int = 80
    real_share: float = 0.5
    made_for_mm: tuple[float, float] = (2.0, 8.0)
    training: SegmentSettings = SegmentSettings(
        steps=3000,
        crop=32,
        batch_size=4,
        rotation_deg=180.0,
        zoom_min=0.5,
        zoom_max=1.6,
        stretch=0.3,
        gain=0.5,
    )

    @property
    def total_steps(self) -> int:
        return self.training.steps

    def with_seed(self, seed: int) -> SegmentRecipe:
        return replace(self, seed=seed, training=replace(self.training, seed=seed))


def phantom_scans(recipe: SegmentRecipe) -> list[SupportScan]:
    """The recipe's phantom patients as training scans (class indices 1 wall, 2 LV cavity)."""
    rng = np.random.default_rng([recipe.seed, 2027])
    scans = []
    for index in range(recipe.phantoms):
        voxel_mm = float(rng.uniform(*recipe.voxel_mm))
        matrix = int(np.clip(round(rng.uniform(*recipe.fov_mm) / voxel_mm), recipe.training.crop, recipe.max_matrix))
        case = make_patient(index, seed=1000 + recipe.seed, matrix=matrix, voxel_mm=voxel_mm)
        indices = np.zeros(case.labels.shape, dtype=np.uint8)
        indices[case.labels == 1] = 1
        indices[case.lv_cavity] = 2
        image = SpectImage(case.counts.astype(np.float32), (voxel_mm, voxel_mm), voxel_mm, case.patient, case.patient)
        scans.append(support_scan(image, indices))
    return scans


def physionet_pairs(folder: str | Path | None = None) -> list[tuple[SpectImage, np.ndarray]]:
    """(image, class indices) of every `*_0000.nii.gz` with its wall mask in `folder` (or in its
    `nifti/` subfolder, as in the PhysioNet download; None: the copy shipped inside the package): 1
    wall, 2 the cavity derived from it."""
    folder = Path(folder) if folder is not None else packaged_physionet()
    if (folder / "nifti").is_dir():
        folder = folder / "nifti"
    images = sorted(folder.glob(f"*{IMAGE_SUFFIX}"))
    if not images:
        raise SpectfslError(f"{folder}: no *{IMAGE_SUFFIX} volume (the PhysioNet NIfTI folder is expected)")
    pairs = []
    for path in images:
        image = load_image(path)
        wall = load_image(path.with_name(path.name.replace(IMAGE_SUFFIX, ".nii.gz"))).pixels > 0
        cavity = derive_from_wall(wall, image.pixels > 0, image.pixel_spacing_mm)["ventricles"]
        indices = np.zeros(wall.shape, dtype=np.uint8)
        indices[cavity] = 2
        indices[wall] = 1
        pairs.append((image, indices))
    return pairs


def make_segmenter(
    physionet: str | Path | None,
    recipe: SegmentRecipe = SegmentRecipe(),
    device: torch.device | str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
) -> Segmenter:
    """Train the built-in segmentation model from the recipe; the same seed, data, machine and
    thread count give the same weights."""
    real = physionet_pairs(physionet)
    synthetic = phantom_scans(recipe)
    real_scans = [support_scan(image, indices) for image, indices in real]
    # the scan list is drawn from uniformly: repeat the real scans to give them their share
    repeats = max(1, round(recipe.real_share * len(synthetic) / ((1 - recipe.real_share) * len(real_scans))))
    scans = synthetic + real_scans * repeats
    settings = recipe.training
    network, _, losses = fit_network(scans, len(BUILTIN_CLASSES.ids), settings, device, on_step)
    info = SegmentInfo(
        method=settings.method,
        dims=3,
        channels=settings.channels,
        embedding=settings.embedding,
        class_ids=list(BUILTIN_CLASSES.ids),
        class_names=list(BUILTIN_CLASSES.names),
        support_sha256=[scan_fingerprint(image) for image, _ in real],
        support_spacing_mm=None,
        threshold_fraction=baselines.tune_fraction([(scan.pixels, scan.labels == 1) for scan in real_scans]),
        class_pieces=None,
        voxel_range_mm=list(recipe.made_for_mm),
        training={
            **asdict(settings),
            "recipe": {key: value for key, value in asdict(recipe).items() if key != "training"},
            "support": [Path(image.source).name for image, _ in real] + [f"phantom x{recipe.phantoms}"],
            "world_size": 1,
            "final_loss": losses[-1],
        },
    )
    return Segmenter(network.cpu(), None, info)


def segment_card(recipe: SegmentRecipe) -> dict:
    """What the built-in segmentation model's card says beyond the common fields (`catalogue.model_card`)."""
    return {
        "purpose": "LV myocardium (1) and LV cavity (2) in 3D myocardial-perfusion SPECT volumes, with no "
        "labelled scan (`segment predict`'s built-in model), and the starting point of `segment fit`.",
        "classes": {str(i): n for i, n in BUILTIN_CLASSES.foreground},
        "made_for": "3D volumes in any orientation (transaxial or reoriented short-axis), voxels of about "
        f"{recipe.made_for_mm[0]:g}-{recipe.made_for_mm[1]:g} mm, fields of view from a crop around the LV to "
        "the whole chest; Tc-99m or Tl-201 perfusion.",
        "data": [
            {
                "name": "PhysioNet myocardial perfusion scintigraphy image database v1.0.0, the three NIfTI "
                "patients with expert LV-wall masks (cavity derived from the wall)",
                "licence": "CC BY 4.0",
                "citation": PHYSIONET_CITATION,
            },
            {
                "name": f"{recipe.phantoms} spectfsl phantom patients (voxel {recipe.voxel_mm[0]:g}-"
                f"{recipe.voxel_mm[1]:g} mm, field of view {recipe.fov_mm[0]:g}-{recipe.fov_mm[1]:g} mm)",
                "licence": "generated by spectfsl (MIT)",
            },
        ],
        "settings": {key: value for key, value in asdict(recipe).items() if key != "training"}
        | {"training": asdict(recipe.training)},
    }
