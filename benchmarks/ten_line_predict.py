"""The floor for `proto predict` from outside: load the files, run the bank's backbone, nearest prototype.

python benchmarks/ten_line_predict.py FOLDER BANK  (prints one predicted class per file)
"""

import sys
from pathlib import Path

import numpy as np
import torch

from spectfsl.core.proto.bank import load_bank

classifier, info = load_bank(sys.argv[2])
files = sorted(Path(sys.argv[1]).glob("*.npy"))
with torch.inference_mode():
    for start in range(0, len(files), 256):
        batch = torch.from_numpy(np.stack([np.load(f) for f in files[start : start + 256]]))
        print("\n".join(info.classes[i] for i in classifier.predict(batch).probabilities.argmax(1).tolist()))
