"""The Python API in a few lines: phantom -> dataset -> bank -> predictions, and a built-in tissue map.

Run: python examples/notebook_api.py OUT_DIR
"""

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
