"""Point options (`x,y`, `NAME=x,y`) and POINTS.csv files."""

from __future__ import annotations

import pytest

from spectfsl.core.files.points import parse_named_point, parse_point, read_points, write_points
from spectfsl.errors import SpectfslError


def test_a_point_is_x_then_y():
    assert parse_point("12.5,30") == (12.5, 30.0)
    for bad in ("12", "1,2,3,4", "a,b", ""):
        with pytest.raises(SpectfslError, match="^p1: .* is not a point x,y"):
            parse_point(bad, "p1")


def test_named_points_and_their_default_name():
    assert parse_named_point("apex=12,30", "point1") == ("apex", (12.0, 30.0))
    assert parse_named_point("12,30", "point2") == ("point2", (12.0, 30.0))


def test_points_file_round_trip_with_paths_relative_to_the_file(tmp_path):
    rows = [("P001/spect.dcm@34", "lv_centre", 37.5, 26.0), ("P002/spect.dcm@30", "apex", 1.0, 2.0)]
    write_points(tmp_path / "points.csv", rows)
    read = read_points(tmp_path / "points.csv")
    assert read == [(str(tmp_path / image), name, x, y) for image, name, x, y in rows]


@pytest.mark.parametrize("image", ["/data/scan.dcm@3", "../scan.dcm", "P001/../../scan.dcm@2", "out/scan.dcm"])
def test_image_paths_that_escape_the_files_folder_are_refused(tmp_path, image):
    folder = tmp_path / "points"
    folder.mkdir()
    (folder / "out").symlink_to(tmp_path)  # a symbolic link out of the folder
    (folder / "p.csv").write_text(f"image,name,x,y\n{image},lv,1,2\n")
    with pytest.raises(SpectfslError, match="p.csv:2: .*(absolute path|leads outside)"):
        read_points(folder / "p.csv")


def test_paths_with_dots_that_stay_inside_are_read(tmp_path):
    (tmp_path / "p.csv").write_text("image,name,x,y\nP001/../P002/spect.dcm@3,lv,1,2\n")
    assert read_points(tmp_path / "p.csv")[0][0] == str(tmp_path / "P001/../P002/spect.dcm@3")


@pytest.mark.parametrize(
    "content, message",
    [
        ("image,name,x\na,b,1\n", "missing column"),
        ("image,name,x,y\na,b,one,2\n", ":2: x and y must be numbers"),
        ("image,name,x,y\n", "no points listed"),
    ],
)
def test_bad_points_files_are_refused_with_the_reason(tmp_path, content, message):
    (tmp_path / "p.csv").write_text(content)
    with pytest.raises(SpectfslError, match=message):
        read_points(tmp_path / "p.csv")


def test_points_with_a_z_column_are_3d_and_round_trip(tmp_path):
    rows = [(str(tmp_path / "scan.dcm"), "apex", 1.5, 2.0, 3.25), (str(tmp_path / "scan.dcm"), "lv", 4.0, 5.0, 6.0)]
    (tmp_path / "scan.dcm").write_bytes(b"")
    write_points(tmp_path / "points.csv", [("scan.dcm", *row[1:]) for row in rows])
    assert (tmp_path / "points.csv").read_text().splitlines()[0] == "image,name,x,y,z"
    assert read_points(tmp_path / "points.csv") == rows


def test_a_point_with_the_wrong_number_of_coordinates_says_what_is_expected():
    assert parse_point("1,2,3", dims=3) == (1.0, 2.0, 3.0)
    with pytest.raises(SpectfslError, match="has 3 coordinates; a 2D image or model takes x,y"):
        parse_point("1,2,3")
    with pytest.raises(SpectfslError, match="has 2 coordinates; a 3D model takes x,y,z"):
        parse_named_point("apex=1,2", "p", dims=3)
