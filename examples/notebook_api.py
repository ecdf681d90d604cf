"""The Python API in a few lines: phantom -> dataset -> bank -> predictions, an honest accuracy by
leaving each patient out, a built-in tissue map, and a landmark found with the built-in PRNet.

Run: python examples/notebook_api.py OUT_DIR
"""

import json
import sys
from pathlib import Path

import spectfsl

out = Path(sys.argv[1] if len(sys.argv) > 1 else "notebook-demo")

# 1. Four synthetic patients (or your own DICOM/NIfTI scans and label maps).
spectfsl.write_phantom(out / "phantom", patients=4)
scans = sorted((out / "phantom").glob("*/spect.dcm"))
label_maps = sorted((out / "phantom").glob("*/labels.npy"))

# 2. Tissue crops, 3. a bank from 3 support images per class after 30 fine-tuning episodes.
spectfsl.prepare(scans, out / "dataset", labels=label_maps, settings=spectfsl.PrepareSettings(slices=False))
settings = spectfsl.FitSettings(weights="random", shots=3, fine_tune=spectfsl.FineTuneSettings(episodes=30))
classifier, info, weights = spectfsl.fit_bank(spectfsl.read_dataset(out / "dataset"), settings)
spectfsl.save_bank(out / "bank.safetensors", classifier, info, weights)

# 4. Classify any images (files, folders, frames of volumes) with the saved bank.
classifier, info = spectfsl.load_bank(out / "bank.safetensors")
rows = list(spectfsl.predict_images(classifier, info, [str(out / "dataset")]))
correct = sum(row["predicted"] == Path(row["path"]).parent.name for row in rows)
print(f"{correct}/{len(rows)} crops classified correctly")

# 5. LV myocardium (1) and cavity (2) of a whole volume with the built-in model: no labelled scan.
segmenter = spectfsl.open_segmenter("builtin")
label_map = spectfsl.segment_image(segmenter, spectfsl.load_image(scans[0]))
print(f"built-in model: {(label_map == 1).sum()} myocardium and {(label_map == 2).sum()} cavity voxels")

# 6. How good is such a bank on a patient it never saw? Leave each patient out in turn.
folds = spectfsl.cross_validate(spectfsl.read_dataset(out / "dataset"), settings)
print(f"cross-validated accuracy {folds.summary()['accuracy']:.2f} over {len(folds.folds)} held-out patients")

# 7. The LV centre of patient 1 (x, y, z in its file's voxels) found in the others by the built-in 3D PRNet.
stage = spectfsl.open_prnet("builtin", dims=3)
reference = spectfsl.load_grid_volume(scans[0], stage[1].pixel_mm)
targets = [spectfsl.load_grid_volume(scan, stage[1].pixel_mm) for scan in scans[1:]]
lv_centre = json.loads((scans[0].parent / "landmarks.json").read_text())["landmarks"]["lv_centre"]
for row in spectfsl.locate_rows([stage], reference, [("lv_centre", lv_centre)], targets):
    print(f"{row['path']}: lv_centre at {row['x']}, {row['y']}, {row['z']} (score {row['score']})")
