"""Classical intensity registration, the baseline a learned method must beat.

One image (`moving`) is registered onto another (`fixed`) in three stages: rigid (started from the
images' centres of mass) and affine, each on a coarse-to-fine pyramid with normalised
cross-correlation, then a deformation, a coarse B-spline or demons (`RegistrationSettings.deformation`;
`BASELINES` holds both, as neither measured better everywhere). The result maps a point of the fixed
image (mm) to the moving image, so it carries a reference point into a target
(`Registration.carry_point`, with the reference fixed; `carry_back` the other way) and an atlas label
map onto a scan (`warp_labels`, with the scan fixed).

SimpleITK does the work: a dependency of the package; `available()` says whether it imports (an
environment may lack it, where no wheel exists), and callers skip the baseline with `MISSING` otherwise.
Arrays are numpy order ([slice,] row, col) with spacing in the same order; points are (x, y[, z]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from spectfsl.errors import SpectfslError

#: The line a command prints when the baseline is asked for but SimpleITK is absent.
MISSING = "registration baseline skipped: SimpleITK is not installed (pip install SimpleITK)"

#: What each deformable model does after the rigid and affine stages, for the notes under result tables.
DESCRIPTIONS = {
    "bspline": "SimpleITK rigid + affine (correlation) + B-spline (control points every {mesh_mm:g} mm)",
    "demons": "SimpleITK rigid + affine (correlation) + symmetric-forces demons (field smoothed by "
    "{demons_sigma:g} voxels)",
}
#: The deformable models `RegistrationSettings.deformation` takes.
DEFORMATIONS = tuple(DESCRIPTIONS)


def available() -> bool:
    """Whether SimpleITK can be imported."""
    try:
        import SimpleITK  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class RegistrationSettings:
    """`deformable`: add a deformable stage after the affine one, `deformation` "bspline" (control
    points every `mesh_mm`) or "demons" (a dense field smoothed by a Gaussian of `demons_sigma`
    voxels); `iterations` per pyramid level (and of demons); `shrink`: the pyramid's downsampling
    factors; `sampling`: the share of voxels (drawn with `seed`, from 1: SimpleITK takes 0 for the wall
    clock) the metric reads. Neither deformable model wins everywhere (`benchmarks/registration_settings.py`):
    an evaluation runs both and names each (`name`)."""

    deformable: bool = True
    deformation: str = "bspline"
    mesh_mm: float = 80.0
    demons_sigma: float = 1.5
    iterations: int = 50
    shrink: tuple[int, ...] = (4, 2)
    sampling: float = 0.25
    seed: int = 1

    def __post_init__(self) -> None:
        if self.seed < 1:
            raise SpectfslError(f"registration seed {self.seed}: give 1 or more (SimpleITK reads 0 as the wall clock)")
        if self.deformation not in DEFORMATIONS:
            raise SpectfslError(f"deformation '{self.deformation}': give one of {', '.join(DEFORMATIONS)}")

    @property
    def name(self) -> str:
        """The method's name in result tables: "registration" with the B-spline (the first baseline
        reported, so older results keep their name), "registration (demons)", "registration (affine)"."""
        if not self.deformable:
            return "registration (affine)"
        return "registration" if self.deformation == "bspline" else f"registration ({self.deformation})"

    @property
    def description(self) -> str:
        """What it does, for the notes under result tables."""
        if not self.deformable:
            return "SimpleITK rigid + affine registration (correlation)"
        return DESCRIPTIONS[self.deformation].format(**asdict(self))


#: The registration baselines an evaluation runs: each deformable model, both from the same affine stages.
BASELINES = (RegistrationSettings(), RegistrationSettings(deformation="demons"))


@dataclass
class Registration:
    """The composed transform from fixed-image mm to moving-image mm."""

    transform: Any

    def carry_point(self, point_mm: Sequence[float]) -> np.ndarray:
        """A fixed-image point (x, y[, z] in mm) -> the corresponding moving-image point (mm)."""
        return np.array(self.transform.TransformPoint(tuple(float(v) for v in point_mm)))

    def carry_back(self, point_mm: Sequence[float]) -> np.ndarray | None:
        """A moving-image point (mm) -> the fixed-image point the transform carries onto it, so that one
        registration serves a pair of images both ways: Newton's method on the transform (its Jacobian
        by central differences), from the point itself. None where it does not converge to within
        0.01 mm (a folded deformation): register the other way round then."""
        goal = np.asarray(point_mm, dtype=np.float64)
        found = goal.copy()
        steps = np.eye(len(goal)) * INVERSE_STEP_MM
        for _ in range(INVERSE_ITERATIONS):
            residual = self.carry_point(found) - goal
            if np.linalg.norm(residual) < INVERSE_TOLERANCE_MM:
                return found
            columns = [self.carry_point(found + h) - self.carry_point(found - h) for h in steps]
            jacobian = np.column_stack(columns) / (2 * INVERSE_STEP_MM)
            try:
                found = found - np.linalg.solve(jacobian, residual)
            except np.linalg.LinAlgError:
                return None
        return None


#: Newton's iterations, tolerance (mm) and difference step (mm: well inside a B-spline's smooth span)
#: of `Registration.carry_back`.
INVERSE_ITERATIONS = 20
INVERSE_TOLERANCE_MM = 0.01
INVERSE_STEP_MM = 0.5


def _image(pixels: np.ndarray, spacing: Sequence[float], dtype=np.float32):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(pixels, dtype=dtype))
    image.SetSpacing(tuple(float(s) for s in spacing[::-1]))  # SimpleITK orders axes x, y[, z]
    return image


def _method(settings: RegistrationSettings, scales_from_shift: bool = True):
    import SimpleITK as sitk

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsCorrelation()
    if settings.sampling < 1:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(settings.sampling, settings.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(list(settings.shrink))
    method.SetSmoothingSigmasPerLevel([factor // 2 for factor in settings.shrink])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=settings.iterations, gradientMagnitudeTolerance=1e-8
    )
    if scales_from_shift:  # rotation, scaling and translation parameters differ in units
        method.SetOptimizerScalesFromPhysicalShift()
    return method


def register(
    fixed: np.ndarray,
    fixed_spacing: Sequence[float],
    moving: np.ndarray,
    moving_spacing: Sequence[float],
    settings: RegistrationSettings | None = None,
) -> Registration:
    """Register `moving` onto `fixed` (normalised intensities, both 2D or both 3D)."""
    [found] = register_each(fixed, fixed_spacing, moving, moving_spacing, [settings or RegistrationSettings()])
    return found


def register_each(
    fixed: np.ndarray,
    fixed_spacing: Sequence[float],
    moving: np.ndarray,
    moving_spacing: Sequence[float],
    each: Sequence[RegistrationSettings],
) -> list[Registration]:
    """`moving` registered onto `fixed` once per settings in `each`; settings that differ only in their
    deformation (as `BASELINES` do) share one optimisation of the rigid and affine stages."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # ITK's console warnings are not the user's business
    fixed_image, moving_image = _image(fixed, fixed_spacing), _image(moving, moving_spacing)
    affine_of: dict[tuple, list] = {}
    found = []
    for settings in each:
        key = (settings.shrink, settings.iterations, settings.sampling, settings.seed)
        if key not in affine_of:
            affine_of[key] = _affine_stages(fixed_image, moving_image, settings)
        composite = sitk.CompositeTransform(fixed.ndim)
        for stage in affine_of[key]:
            composite.AddTransform(stage)
        if settings.deformable and settings.deformation == "bspline":
            extent = [n * s for n, s in zip(fixed_image.GetSize(), fixed_image.GetSpacing())]
            mesh = [max(1, round(length / settings.mesh_mm)) for length in extent]
            bspline = sitk.BSplineTransformInitializer(fixed_image, mesh, order=3)
            # a B-spline's parameters are all displacements (mm): unit scales, and no costly per-parameter estimate
            _optimise(bspline, composite, fixed_image, moving_image, _method(settings, scales_from_shift=False))
            composite.AddTransform(bspline)
        if settings.deformable and settings.deformation == "demons":
            composite.AddTransform(_demons(fixed_image, moving_image, composite, settings))
        found.append(Registration(composite))
    return found


def _optimise(stage, before, fixed_image, moving_image, method) -> None:
    """Optimise `stage` in place, on top of the transform `before` (moving initial transform)."""
    method.SetMovingInitialTransform(before)
    method.SetInitialTransform(stage, inPlace=True)
    method.Execute(fixed_image, moving_image)


def _affine_stages(fixed_image, moving_image, settings: RegistrationSettings) -> list:
    """Rigid (from the centres of mass), then affine, each optimised on the pyramid."""
    import SimpleITK as sitk

    dims = fixed_image.GetDimension()
    rigid = sitk.CenteredTransformInitializer(
        fixed_image,
        moving_image,
        sitk.Euler3DTransform() if dims == 3 else sitk.Euler2DTransform(),
        sitk.CenteredTransformInitializerFilter.MOMENTS,
    )
    affine = sitk.AffineTransform(dims)
    affine.SetCenter(rigid.GetCenter())
    composite = sitk.CompositeTransform(dims)
    for stage in (rigid, affine):  # rotation, scaling and translation differ in units: scales from shifts
        _optimise(stage, composite, fixed_image, moving_image, _method(settings))
        composite.AddTransform(stage)
    return [rigid, affine]


def _demons(fixed_image, moving_image, composite, settings: RegistrationSettings):
    """A dense displacement field on the fixed grid: the moving image resampled through `composite`,
    matched to the fixed image's histogram, then symmetric-forces demons (the field smoothed by a
    Gaussian of `demons_sigma` voxels)."""
    import SimpleITK as sitk

    moved = sitk.Resample(moving_image, fixed_image, composite, sitk.sitkLinear, 0.0)
    moved = sitk.HistogramMatching(moved, fixed_image, 64, 7, True)
    demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
    demons.SetNumberOfIterations(settings.iterations)
    demons.SetStandardDeviations(settings.demons_sigma)
    field = demons.Execute(fixed_image, moved)
    return sitk.DisplacementFieldTransform(sitk.Cast(field, sitk.sitkVectorFloat64))


def warp_labels(
    registration: Registration,
    labels: np.ndarray,
    labels_spacing: Sequence[float],
    fixed_shape: Sequence[int],
    fixed_spacing: Sequence[float],
) -> np.ndarray:
    """The moving image's label map resampled (nearest neighbour) onto the fixed image's grid."""
    import SimpleITK as sitk

    reference = _image(np.zeros(tuple(fixed_shape), dtype=np.int16), fixed_spacing, np.int16)
    moving = _image(labels, labels_spacing, np.int16)
    warped = sitk.Resample(moving, reference, registration.transform, sitk.sitkNearestNeighbor, 0)
    return sitk.GetArrayFromImage(warped).astype(labels.dtype)
