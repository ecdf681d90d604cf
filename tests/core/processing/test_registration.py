"""The registration baseline: a known shift and scaling is recovered, points and labels follow it."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.processing import registration
from spectfsl.core.segment.metrics import dice
from spectfsl.errors import SpectfslError

pytest.importorskip("SimpleITK")


def _blobs(shape, centre, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A bright shell (label 1) around a dim core (label 2) beside a second, larger organ: intensities
    and labels, the whole scene moved to `centre` (array order) and scaled by `scale`."""
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"), axis=-1)
    r = np.linalg.norm((grid - centre) / (6.0 * scale), axis=-1)
    other = np.linalg.norm((grid - centre - np.array([0, 9, 9][-len(shape) :]) * scale) / (8.0 * scale), axis=-1)
    labels = np.where(r <= 0.55, 2, np.where(r <= 1.0, 1, 0)).astype(np.uint8)
    pixels = np.where(labels == 1, 1.0, np.where(labels == 2, 0.3, 0.0)) + 0.6 * (other <= 1.0)
    return pixels.astype(np.float32), labels


@pytest.mark.parametrize(
    "shape,deformation", [((40, 44, 44), "bspline"), ((48, 48), "bspline"), ((40, 44, 44), "demons")]
)
def test_a_shifted_and_scaled_scene_carries_points_and_labels(shape, deformation):
    fixed_centre = np.array(shape, dtype=float) / 2 - 3
    moving_centre = fixed_centre + np.array([3.0, -4.0, 2.0][-len(shape) :])
    fixed, fixed_labels = _blobs(shape, fixed_centre)
    moving, moving_labels = _blobs(shape, moving_centre, scale=1.15)
    spacing = (4.0,) * len(shape)
    found = registration.register(
        fixed, spacing, moving, spacing, registration.RegistrationSettings(deformation=deformation)
    )
    point_mm = fixed_centre[::-1] * 4.0  # x, y[, z]
    carried = found.carry_point(point_mm) / 4.0
    assert np.linalg.norm(carried - moving_centre[::-1]) < 1.0  # within a voxel of the moved centre
    warped = registration.warp_labels(found, moving_labels, spacing, fixed.shape, spacing)
    assert warped.shape == fixed.shape and warped.dtype == moving_labels.dtype
    # the core is a few voxels wide: its outline is coarse; demons pulls on the flat shell's noiseless
    # edges alone, so its shell is a little rougher than the B-spline's
    shell = 0.85 if deformation == "bspline" else 0.8
    for label, least in ((1, shell), (2, 0.65)):
        unmoved = dice(moving_labels == label, fixed_labels == label)
        assert dice(warped == label, fixed_labels == label) > least > unmoved


def test_identity_is_found_when_the_images_are_the_same_and_a_seed_repeats_its_answer():
    pixels, _ = _blobs((32, 32, 32), np.array([15.0, 16.0, 17.0]))
    moved, _ = _blobs((32, 32, 32), np.array([17.0, 14.0, 16.0]))
    found = registration.register(pixels, (3.0, 3.0, 3.0), pixels, (3.0, 3.0, 3.0))
    point = np.array([40.0, 50.0, 45.0])
    assert np.linalg.norm(found.carry_point(point) - point) < 2.0
    answers = [registration.register(pixels, (3.0,) * 3, moved, (3.0,) * 3).carry_point(point) for _ in range(3)]
    assert all(np.array_equal(answers[0], answer) for answer in answers)  # the metric's sample is seeded
    with pytest.raises(SpectfslError, match="wall clock"):
        registration.RegistrationSettings(seed=0)


def test_available_says_whether_simpleitk_imports(monkeypatch):
    import builtins

    assert registration.available()
    real_import = builtins.__import__

    def no_simpleitk(name, *args, **kwargs):
        if name == "SimpleITK":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_simpleitk)
    assert not registration.available()


def test_carry_back_inverts_the_transform_so_one_registration_serves_both_orders():
    shape = (40, 44, 44)
    fixed, _ = _blobs(shape, np.array(shape, dtype=float) / 2 - 3)
    moving, _ = _blobs(shape, np.array(shape, dtype=float) / 2 + np.array([0.0, -4.0, 2.0]), scale=1.15)
    found = registration.register(fixed, (4.0,) * 3, moving, (4.0,) * 3)
    for point in ([60.0, 70.0, 75.0], [90.0, 80.0, 60.0]):
        carried = found.carry_point(point)
        assert np.linalg.norm(carried - point) > 4.0  # the transform moves points: the inverse has work to do
        assert np.linalg.norm(found.carry_back(carried) - point) < registration.INVERSE_TOLERANCE_MM * 2


def test_carry_back_gives_none_where_newton_cannot_converge():
    class Folded:  # every point maps to one: no inverse
        def TransformPoint(self, point):
            return (1.0, 2.0, 3.0)

    assert registration.Registration(Folded()).carry_back([5.0, 5.0, 5.0]) is None


def test_each_baseline_has_its_own_name_and_says_what_it_does():
    names = [settings.name for settings in registration.BASELINES]
    assert names == ["registration", "registration (demons)"]  # the B-spline keeps the name older results use
    assert "B-spline (control points every 80 mm)" in registration.BASELINES[0].description
    assert "demons" in registration.BASELINES[1].description
    assert registration.RegistrationSettings(deformable=False).name == "registration (affine)"
    with pytest.raises(SpectfslError, match="deformation 'fem'"):
        registration.RegistrationSettings(deformation="fem")


def test_the_deformable_models_of_one_pair_share_its_affine_stages_and_answer_as_if_alone(monkeypatch):
    fixed, _ = _blobs((32, 32, 32), np.array([15.0, 16.0, 17.0]))
    moving, _ = _blobs((32, 32, 32), np.array([17.0, 14.0, 16.0]), scale=1.1)
    point, spacing = np.array([40.0, 50.0, 45.0]), (3.0,) * 3
    alone = [
        registration.register(fixed, spacing, moving, spacing, s).carry_point(point) for s in registration.BASELINES
    ]
    optimised = []
    stages = registration._affine_stages
    monkeypatch.setattr(registration, "_affine_stages", lambda *args: optimised.append(1) or stages(*args))
    both = registration.register_each(fixed, spacing, moving, spacing, registration.BASELINES)
    assert len(optimised) == 1  # one rigid and affine optimisation for both deformable models
    assert all(np.array_equal(one.carry_point(point), answer) for one, answer in zip(both, alone))
    other = registration.RegistrationSettings(seed=2)  # another metric sample: its own affine stages
    registration.register_each(fixed, spacing, moving, spacing, [registration.BASELINES[0], other])
    assert len(optimised) == 3


def test_demons_follows_organs_that_moved_apart_where_the_affine_stages_alone_cannot():
    def scene(shell_centre, organ_centre) -> tuple[np.ndarray, np.ndarray]:
        grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in (40, 44, 44)], indexing="ij"), axis=-1)
        r = np.linalg.norm((grid - shell_centre) / 6.0, axis=-1)
        organ = np.linalg.norm((grid - organ_centre) / 8.0, axis=-1) <= 1.0
        labels = np.where(r <= 0.55, 2, np.where(r <= 1.0, 1, 0)).astype(np.uint8)
        pixels = np.where(labels == 1, 1.0, np.where(labels == 2, 0.3, 0.0)) + 0.6 * organ
        return pixels.astype(np.float32), labels

    centre, spacing = np.array([18.0, 20.0, 20.0]), (4.0,) * 3
    fixed, fixed_labels = scene(centre, centre + [0, 10, 10])
    moving, moving_labels = scene(centre + [3, -4, 2], centre + [-2, 13, 9])  # the organ moved another way
    shells = {}
    for settings in (registration.RegistrationSettings(deformable=False), registration.BASELINES[1]):
        found = registration.register(fixed, spacing, moving, spacing, settings)
        warped = registration.warp_labels(found, moving_labels, spacing, fixed.shape, spacing)
        shells[settings.name] = dice(warped == 1, fixed_labels == 1)
    assert shells["registration (demons)"] > shells["registration (affine)"] + 0.03
