"""Writes test/da3_io/data/opencv_resize.{json,bin}: cv2.resize (OpenCV 4.6.0, the version the DA3
fixtures were made with: Debian bookworm python3-opencv) of small pseudo-random uint8 RGB images,
INTER_AREA (integer-scale fast path incl. 2x2, generic) and INTER_CUBIC (up and down, SIMD tail).

    /usr/bin/python3 tools/da3_opencv_oracle.py
"""
import json
import os

import cv2
import numpy as np

assert cv2.__version__ == "4.6.0", cv2.__version__
rng = np.random.default_rng(19)
out_dir = os.path.join(os.path.dirname(__file__), "..", "test", "da3_io", "data")
cases, blobs, off = [], [], 0


def add(img, ow, oh, interp):
    global off
    res = cv2.resize(img, (ow, oh), interpolation=interp)
    h, w = img.shape[:2]
    cases.append(dict(w=w, h=h, ow=ow, oh=oh, interp="area" if interp == cv2.INTER_AREA else "cubic", src=off, dst=off + img.size))
    blobs.extend([img.tobytes(), res.tobytes()])
    off += img.size + res.size


for i in range(16):
    w, h = int(rng.integers(6, 30)), int(rng.integers(6, 30))
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    add(img, int(rng.integers(1, w + 1)), int(rng.integers(1, h + 1)), cv2.INTER_AREA)
    add(img, int(rng.integers(1, 2 * w)), int(rng.integers(1, 2 * h)), cv2.INTER_CUBIC)
    add(img, w + int(rng.integers(1, 9)), h + int(rng.integers(0, 9)), cv2.INTER_CUBIC)
for (w, h, kx, ky) in [(24, 16, 2, 2), (27, 12, 3, 2), (20, 20, 4, 4), (18, 9, 3, 3), (13, 22, 1, 2)]:
    add(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), w // kx, h // ky, cv2.INTER_AREA)
open(os.path.join(out_dir, "opencv_resize.bin"), "wb").write(b"".join(blobs))
json.dump(cases, open(os.path.join(out_dir, "opencv_resize.json"), "w"), indent=0)
print(len(cases), "cases,", off, "bytes")
