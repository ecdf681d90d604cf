"""A synthetic myocardial-perfusion SPECT phantom with tissue labels and landmarks.

Geometry is defined in mm in patient coordinates (x to the patient's left, y posterior, z superior,
origin at the centre of the field of view) and sampled on a (slice, row, col) = (z, y, x) grid:
- torso: an elliptical cylinder of low uptake, with two lungs of lower uptake;
- left ventricle: a thick ellipsoidal shell, open at the base, whose long axis points from base to
  apex towards the patient's anterior-left-inferior like a real heart; its cavity is blood pool;
- right ventricle: a thin-walled crescent of low uptake beside the septum, with its own cavity;
- liver: a large ellipsoid below and to the right of the heart, with variable uptake;
- optional perfusion defects: a sector of the LV wall with reduced uptake, at random in about 30% of
  patients, or a named wall (`DEFECT_WALLS`) in every patient, the truth written to landmarks.json;
- optionally an ECG-gated study (`gates`): the LV beats through the gates (`beating_lv`), its
  ejection fraction drawn per patient, the counts of the study shared among the gates.
Activity is blurred to a 10-15 mm FWHM resolution and Poisson counting noise is drawn.
Labels come from the unblurred geometry: 1 LV myocardium, 2 ventricles (LV and RV cavities), 3 liver
(`labels.npy`); and for quantification 1 LV myocardium, 2 LV cavity, 4 RV wall and cavity
(`lv_labels.npy`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from spectfsl.core.files.atomic import write_text_atomic
from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.formats import save_npy
from spectfsl.core.files.points import write_points
from spectfsl.core.image import MAX_GATES, MIN_GATES, SpectImage
from spectfsl.errors import SpectfslError

MYOCARDIUM, VENTRICLES, LIVER = 1, 2, 3
CLASS_NAMES = {MYOCARDIUM: "myocardium", VENTRICLES: "ventricles", LIVER: "liver"}
#: `lv_labels.npy`'s classes: the LV apart from the RV, for `spectfsl quantify`.
LV_CLASS_NAMES = {1: "myocardium", 2: "cavity", 4: "rv"}
#: Walls a named defect can take (`phantom --defect`), 90 degrees of the LV wall each, from the base to
#: short of the apex cap; `random` picks one per patient.
DEFECT_WALLS = ("anterior", "septal", "inferior", "lateral")
DEFECT_UPTAKE = 0.5


@dataclass(frozen=True)
class PhantomCase:
    """One simulated patient: counts and labels as (slice, row, col); landmarks in voxel (x, y, z);
    `lv_cavity`: the left ventricle's cavity alone (`labels`' ventricles hold the RV's too)."""

    patient: str
    counts: np.ndarray
    labels: np.ndarray
    landmarks: dict[str, tuple[float, float, float]]
    voxel_mm: float
    fwhm_mm: float
    has_defect: bool
    lv_cavity: np.ndarray
    #: the named defect's truth ({"wall", "uptake"}), None without one
    defect: dict | None = None
    #: 1 LV myocardium, 2 LV cavity, 4 RV (wall and cavity)
    lv_labels: np.ndarray | None = None
    #: a gated study's gates: counts (gates, slices, rows, cols), LV labels per gate (1 myocardium,
    #: 2 cavity, 4 RV) and the truth (`gated_truth`); None for a static study
    gated_counts: np.ndarray | None = None
    gated_lv_labels: np.ndarray | None = None


#: Ejection fractions a gated phantom patient is drawn from (%), and the share of the cycle in systole.
LVEF_RANGE = (20.0, 75.0)
SYSTOLE_SHARE = 0.4


def contraction(gates: int, start: float = 0.0) -> np.ndarray:
    """How far each gate is into contraction (0 end-diastole, 1 end-systole): a cycle that contracts
    over `SYSTOLE_SHARE` of the R-R interval and relaxes over the rest, sampled at the gates' centres;
    `start` shifts the cycle (a share of it), as gating that is not aligned to the R wave does."""
    phase = ((np.arange(gates) + 0.5) / gates - start) % 1.0
    systole = np.sin(np.pi / 2 * phase / SYSTOLE_SHARE)
    diastole = 0.5 * (1 + np.cos(np.pi * (phase - SYSTOLE_SHARE) / (1 - SYSTOLE_SHARE)))
    return np.where(phase <= SYSTOLE_SHARE, systole, diastole)


def beating_lv(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: np.ndarray, long_axis: np.ndarray,
    outer_long: float, outer_short: float, wall: float, squeeze: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(wall, cavity) masks of the LV with its cavity's axes scaled by `squeeze` (1 at end-diastole)
    about the apex, which stays put while the base descends; the wall thickens so that the myocardium
    keeps its volume (`_thickness`)."""
    inner_long, inner_short = (outer_long - wall) * squeeze, (outer_short - wall) * squeeze
    thickness = _thickness(outer_long - wall, outer_short - wall, wall, squeeze)
    new_outer_long, new_outer_short = inner_long + thickness, inner_short + thickness
    moved = centre + long_axis * (outer_long - new_outer_long)
    along, radial, _ = _axial_coordinates(x, y, z, moved, long_axis)
    above_base = along >= -0.35 * new_outer_long
    outer = (along / new_outer_long) ** 2 + (radial / new_outer_short) ** 2 <= 1.0
    inner = (along / inner_long) ** 2 + (radial / inner_short) ** 2 <= 1.0
    return outer & ~inner & above_base, inner & above_base


def _thickness(inner_long: float, inner_short: float, wall: float, squeeze: float) -> float:
    """The wall thickness (mm) that keeps the myocardium's volume when the cavity's end-diastolic axes
    (mm) are scaled by `squeeze`: the volume between two truncated ellipsoids grows as
    (a + t)(b + t)^2 - a b^2 (the same truncation for both), solved for t by bisection."""

    def shell(a: float, b: float, t: float) -> float:
        return (a + t) * (b + t) ** 2 - a * b**2

    target = shell(inner_long, inner_short, wall)
    a, b = inner_long * squeeze, inner_short * squeeze
    low, high = 0.0, 4.0 * wall
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if shell(a, b, middle) < target else (low, middle)
    return (low + high) / 2


def patient_id(index: int) -> str:
    """The phantom's name for patient `index` (0-based): P001, P002, ..."""
    return f"P{index + 1:03d}"


def make_patient(
    index: int,
    seed: int = 0,
    matrix: int = 64,
    voxel_mm: float = 6.4,
    defect: str | None = None,
    defect_uptake: float = DEFECT_UPTAKE,
    gates: int | None = None,
) -> PhantomCase:
    """Simulate patient `index`; the same (index, seed, matrix, voxel_mm) gives the same case. `defect`
    (a wall of DEFECT_WALLS, or `random`) replaces the random defect with one in that wall at
    `defect_uptake` of normal uptake; the rest of the patient is the same as without it. `gates`
    (4-32) adds an ECG-gated study whose LV beats (`beating_lv`) with an ejection fraction drawn from
    `LVEF_RANGE`; the static study (end-diastole's anatomy) is the same as without it."""
    if defect is not None and defect not in (*DEFECT_WALLS, "random"):
        raise SpectfslError(
            f"{{defect}} must be one of {', '.join(DEFECT_WALLS)} or random, got '{defect}'", settings="defect"
        )
    if gates is not None and not MIN_GATES <= gates <= MAX_GATES:
        raise SpectfslError(f"gates must be {MIN_GATES}-{MAX_GATES} (scanners gate 8 or 16), got {gates}")
    if not 0 <= defect_uptake < 1:
        raise SpectfslError(
            f"{{defect_uptake}} must be from 0 to below 1 (a share of normal uptake), got {defect_uptake}",
            settings="defect_uptake",
        )
    rng = np.random.default_rng([seed, index])
    z, y, x = _grid_mm(matrix, voxel_mm)

    body_a, body_b = rng.uniform(140, 170), rng.uniform(95, 120)
    body = (x / body_a) ** 2 + ((y - 10) / body_b) ** 2 <= 1.0
    lungs = np.zeros_like(body)
    for side in (-1, 1):
        centre = (side * rng.uniform(70, 85), rng.uniform(0, 15), rng.uniform(30, 50))
        lungs |= _inside_ellipsoid(x, y, z, centre, (rng.uniform(45, 55), rng.uniform(55, 70), rng.uniform(90, 110)))
    lungs &= body

    lv_centre = np.array([rng.uniform(25, 45), rng.uniform(-35, -15), rng.uniform(5, 30)])
    azimuth = np.radians(rng.uniform(35, 60))  # from anterior towards the patient's left
    elevation = np.radians(rng.uniform(-35, -15))  # towards inferior
    long_axis = np.array([np.cos(elevation) * np.sin(azimuth), -np.cos(elevation) * np.cos(azimuth), np.sin(elevation)])
    outer_long, outer_short = rng.uniform(50, 62), rng.uniform(30, 37)
    wall = rng.uniform(10, 14)
    base_cut = -0.35 * outer_long
    along, radial, angle = _axial_coordinates(x, y, z, lv_centre, long_axis)
    outer = (along / outer_long) ** 2 + (radial / outer_short) ** 2 <= 1.0
    inner = (along / (outer_long - wall)) ** 2 + (radial / (outer_short - wall)) ** 2 <= 1.0
    above_base = along >= base_cut
    lv_wall = outer & ~inner & above_base
    lv_cavity = inner & above_base

    septum = np.cross(long_axis, [0.0, 0.0, 1.0])
    septum /= np.linalg.norm(septum)
    if septum[0] > 0:  # the right ventricle lies on the patient's right (-x) of the LV
        septum = -septum
    rv_centre = lv_centre + septum * (outer_short + rng.uniform(2, 8)) - long_axis * rng.uniform(5, 12)
    rv_along, rv_radial, _ = _axial_coordinates(x, y, z, rv_centre, long_axis)
    rv_long, rv_short = outer_long * rng.uniform(0.8, 0.95), outer_short * rng.uniform(0.9, 1.1)
    rv_outer = ((rv_along / rv_long) ** 2 + (rv_radial / rv_short) ** 2 <= 1.0) & (rv_along >= base_cut) & ~outer
    rv_inner = (rv_along / (rv_long - 4)) ** 2 + (rv_radial / (rv_short - 4)) ** 2 <= 1.0
    rv_cavity = rv_outer & rv_inner
    rv_wall = rv_outer & ~rv_inner

    liver_centre = lv_centre + np.array([rng.uniform(-110, -85), rng.uniform(15, 35), rng.uniform(-85, -65)])
    liver_axes = (rng.uniform(80, 100), rng.uniform(60, 75), rng.uniform(50, 65))
    liver = _inside_ellipsoid(x, y, z, liver_centre, liver_axes) & body & ~outer & ~rv_outer

    myocardium_uptake = np.ones_like(x)
    has_defect = bool(rng.random() < 0.3)
    if has_defect:
        centre_angle, width = rng.uniform(-np.pi, np.pi), np.radians(rng.uniform(50, 100))
        in_sector = np.abs(np.angle(np.exp(1j * (angle - centre_angle)))) <= width / 2
        towards_apex = along >= rng.uniform(base_cut, 0.3 * outer_long)
        myocardium_uptake[in_sector & towards_apex] = 1.0 - rng.uniform(0.4, 0.7)
    named = None
    if defect is not None:  # drawn after every random number above, so the rest of the patient is unchanged
        wall_name = defect if defect != "random" else DEFECT_WALLS[np.random.default_rng([seed, index, 1]).integers(4)]
        myocardium_uptake = np.ones_like(x)
        directions = _wall_directions(long_axis, septum)
        offset = np.stack([x - lv_centre[0], y - lv_centre[1], z - lv_centre[2]], axis=-1)
        across = offset - (offset @ long_axis)[..., None] * long_axis
        cosine = (across @ directions[wall_name]) / np.maximum(np.linalg.norm(across, axis=-1), 1e-9)
        sector = (cosine >= np.cos(np.radians(45))) & (along <= 0.55 * outer_long)
        myocardium_uptake[sector] = defect_uptake
        named = {"wall": wall_name, "uptake": defect_uptake}

    activity = np.zeros_like(x)
    tissue = rng.uniform(0.08, 0.14)
    activity[body] = tissue
    activity[lungs] = rng.uniform(0.03, 0.05)
    activity[liver] = rng.uniform(0.3, 0.9)
    blood = rng.uniform(0.1, 0.16)
    activity[lv_cavity | rv_cavity] = blood
    activity[rv_wall] = rng.uniform(0.3, 0.45)
    activity[lv_wall] = myocardium_uptake[lv_wall]

    fwhm_mm = rng.uniform(10, 15)
    blurred = ndimage.gaussian_filter(activity, sigma=fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / voxel_mm)
    peak_counts = rng.uniform(150, 400)
    counts = rng.poisson(np.clip(blurred, 0, None) * peak_counts).astype(np.uint16)

    labels = np.zeros(x.shape, dtype=np.uint8)
    labels[liver] = LIVER
    labels[lv_cavity | rv_cavity] = VENTRICLES
    labels[lv_wall] = MYOCARDIUM

    landmarks = {
        "lv_centre": _to_voxel(lv_centre, matrix, voxel_mm),
        "lv_apex": _to_voxel(lv_centre + long_axis * outer_long, matrix, voxel_mm),
        "rv_centre": _to_voxel(rv_centre, matrix, voxel_mm),
        "liver_centre": _to_voxel(liver_centre, matrix, voxel_mm),
    }
    lv_labels = np.zeros(x.shape, dtype=np.uint8)
    lv_labels[rv_outer] = 4
    lv_labels[lv_cavity & ~lv_wall] = 2
    lv_labels[lv_wall] = 1
    gated_counts = gated_lv_labels = None
    if gates is not None:  # its own random numbers, so the static study is unchanged
        gated_rng = np.random.default_rng([seed, index, 2])
        lvef = gated_rng.uniform(*LVEF_RANGE) / 100.0
        squeezes = (1.0 - lvef * contraction(gates, gated_rng.uniform(0.0, 0.25))) ** (1 / 3)
        sigma = fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / voxel_mm
        gated_counts = np.zeros((gates, *x.shape), dtype=np.uint16)
        gated_lv_labels = np.zeros((gates, *x.shape), dtype=np.uint8)
        shape = (lv_centre, long_axis, outer_long, outer_short, wall)
        for gate, squeeze in enumerate(squeezes):
            gate_wall, gate_cavity = beating_lv(x, y, z, *shape, squeeze)
            gate_activity = activity.copy()
            gate_activity[lv_wall | lv_cavity] = tissue  # where the contracted LV no longer reaches
            gate_activity[gate_cavity] = blood
            gate_activity[gate_wall] = myocardium_uptake[gate_wall]
            blurred_gate = ndimage.gaussian_filter(gate_activity, sigma=sigma)
            gated_counts[gate] = gated_rng.poisson(np.clip(blurred_gate, 0, None) * peak_counts / gates)
            gated_lv_labels[gate][rv_outer & ~gate_wall] = 4
            gated_lv_labels[gate][gate_cavity & ~gate_wall] = 2
            gated_lv_labels[gate][gate_wall] = 1
    return PhantomCase(
        patient_id(index),
        counts,
        labels,
        landmarks,
        voxel_mm,
        float(fwhm_mm),
        has_defect if named is None else True,
        lv_cavity & ~lv_wall,
        named,
        lv_labels,
        gated_counts,
        gated_lv_labels,
    )


def _wall_directions(long_axis: np.ndarray, septum: np.ndarray) -> dict[str, np.ndarray]:
    """Unit directions of the LV's walls, perpendicular to its long axis: septal towards the RV (the
    patient's right), anterior towards the patient's anterior (-y), and their opposites."""
    anterior = np.array([0.0, -1.0, 0.0])
    anterior = anterior - (anterior @ long_axis) * long_axis - (anterior @ septum) * septum
    anterior /= np.linalg.norm(anterior)
    return {"septal": septum, "lateral": -septum, "anterior": anterior, "inferior": -anterior}


def _grid_mm(matrix: int, voxel_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = (np.arange(matrix) - (matrix - 1) / 2) * voxel_mm
    return np.meshgrid(axis, axis, axis, indexing="ij")


def _to_voxel(point_mm: np.ndarray, matrix: int, voxel_mm: float) -> tuple[float, float, float]:
    """Patient mm (x, y, z) -> voxel index (x=col, y=row, z=slice)."""
    voxel = point_mm / voxel_mm + (matrix - 1) / 2
    return (round(float(voxel[0]), 3), round(float(voxel[1]), 3), round(float(voxel[2]), 3))


def _inside_ellipsoid(x, y, z, centre, axes) -> np.ndarray:
    return ((x - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2 + ((z - centre[2]) / axes[2]) ** 2 <= 1.0


def _axial_coordinates(x, y, z, centre, axis):
    """Distance along `axis`, distance from it, and angle around it, for every voxel (mm, radians)."""
    offset = np.stack([x - centre[0], y - centre[1], z - centre[2]], axis=-1)
    along = offset @ axis
    perpendicular = offset - along[..., None] * axis
    first = np.cross(axis, [0.0, 0.0, 1.0])
    first /= np.linalg.norm(first)
    second = np.cross(axis, first)
    angle = np.arctan2(perpendicular @ second, perpendicular @ first)
    return along, np.linalg.norm(perpendicular, axis=-1), angle


def write_case(case: PhantomCase, folder: str | os.PathLike) -> None:
    """Write `spect.dcm`, `labels.npy` (+ sidecar) and `landmarks.json` for one case into `folder`; a
    gated case's `spect.dcm` is its gated study (RECON GATED TOMO), with `lv_labels.nii.gz` (the LV
    labels of every gate, 4D) and its truth (`gated_truth`) in landmarks.json; `labels.npy` and
    `lv_labels.npy` then describe end-diastole."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gated = case.gated_counts is not None
    write_nm_volume(folder / "spect.dcm", case.gated_counts if gated else case.counts, case.voxel_mm, case.patient)
    spacing = (case.voxel_mm, case.voxel_mm)
    labels = SpectImage(case.labels, spacing, case.voxel_mm, "spect.dcm", case.patient)
    save_npy(folder / "labels.npy", labels, {"classes": {str(k): v for k, v in CLASS_NAMES.items()}})
    if case.lv_labels is not None:
        lv_labels = SpectImage(case.lv_labels, spacing, case.voxel_mm, "spect.dcm", case.patient)
        save_npy(folder / "lv_labels.npy", lv_labels, {"classes": {str(k): v for k, v in LV_CLASS_NAMES.items()}})
    voxel_ml = case.voxel_mm**3 / 1000.0
    landmarks = {
        "patient": case.patient,
        "units": "voxel index (x = column, y = row, z = slice), 0-based",
        "voxel_mm": case.voxel_mm,
        "fwhm_mm": round(case.fwhm_mm, 2),
        "perfusion_defect": case.has_defect,
        "defect": case.defect,
        "lv_cavity_ml": round(float(case.lv_cavity.sum()) * voxel_ml, 2),
        "myocardium_ml": round(float((case.labels == MYOCARDIUM).sum()) * voxel_ml, 2),
        "landmarks": {name: list(point) for name, point in case.landmarks.items()},
    }
    if gated:
        from spectfsl.core.files.loader import load_study
        from spectfsl.core.files.nifti_writer import write_label_nifti

        write_label_nifti(folder / "lv_labels.nii.gz", load_study(folder / "spect.dcm"), case.gated_lv_labels)
        landmarks["gated"] = gated_truth(case)
    write_text_atomic(folder / "landmarks.json", json.dumps(landmarks, indent=1) + "\n")


def gated_truth(case: PhantomCase) -> dict:
    """A gated case's truth, as the expert volumes of real gated studies give it: per gate the LV
    cavity and myocardium (ml, from its labels), end-diastole and end-systole (1-based gates of the
    largest and smallest cavity), EDV, ESV, stroke volume (ml) and LVEF (%)."""
    voxel_ml = case.voxel_mm**3 / 1000.0
    cavity = (case.gated_lv_labels == 2).sum(axis=(1, 2, 3)) * voxel_ml
    myocardium = (case.gated_lv_labels == 1).sum(axis=(1, 2, 3)) * voxel_ml
    edv, esv = float(cavity.max()), float(cavity.min())
    return {
        "gates": len(cavity),
        "cavity_ml": [round(float(v), 2) for v in cavity],
        "myocardium_ml": [round(float(v), 2) for v in myocardium],
        "ed_gate": int(cavity.argmax()) + 1,
        "es_gate": int(cavity.argmin()) + 1,
        "edv_ml": round(edv, 2),
        "esv_ml": round(esv, 2),
        "sv_ml": round(edv - esv, 2),
        "lvef_pct": round(100.0 * (edv - esv) / edv, 1),
    }


def landmark_rows(case: PhantomCase, folder_name: str) -> list[tuple[str, str, float, float]]:
    """(image, name, x, y) rows for POINTS.csv: each landmark on the slice through it (`spect.dcm@z`)."""
    rows = []
    for name, (x, y, z) in case.landmarks.items():
        rows.append((f"{folder_name}/spect.dcm@{int(round(z))}", name, x, y))
    return rows


def landmark_rows_3d(case: PhantomCase, folder_name: str) -> list[tuple[str, str, float, float, float]]:
    """(image, name, x, y, z) rows for a 3D POINTS.csv: each landmark in the volume (3D models)."""
    return [(f"{folder_name}/spect.dcm", name, x, y, z) for name, (x, y, z) in case.landmarks.items()]


def write_phantom(
    folder: str | os.PathLike,
    patients: int = 12,
    seed: int = 0,
    matrix: int = 64,
    voxel_mm: float = 6.4,
    on_patient: Callable[[int], None] | None = None,
    defect: str | None = None,
    defect_uptake: float = DEFECT_UPTAKE,
    gates: int | None = None,
) -> None:
    """`spectfsl phantom`: `patients` cases under `folder/<patient>/`, every landmark in
    `folder/points.csv` (on the slice through it) and in `folder/points3d.csv` (in the volume);
    `matrix` voxels per axis of `voxel_mm` mm; `defect`, `defect_uptake` and `gates` as in
    `make_patient`. `on_patient(index)` reports progress."""
    folder = Path(folder)
    rows, rows_3d = [], []
    for index in range(patients):
        case = make_patient(index, seed, matrix, voxel_mm, defect, defect_uptake, gates)
        write_case(case, folder / case.patient)
        rows += landmark_rows(case, case.patient)
        rows_3d += landmark_rows_3d(case, case.patient)
        if on_patient is not None:
            on_patient(index)
    write_points(folder / "points.csv", rows)
    write_points(folder / "points3d.csv", rows_3d)
