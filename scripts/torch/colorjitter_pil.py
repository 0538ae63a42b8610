"""Reference values of colour jitter from PIL, as torchvision's ColorJitter
applies it to PIL images (torchvision.transforms.functional_pil, which
NVIDIA's SSD300 uses): brightness, contrast and saturation through
PIL.ImageEnhance, hue through PIL's 8-bit HSV with the hue byte shifted.

Prints, for an 8x8 image whose pixels follow a fixed formula (the same in
datasets/cocoimg's TestJitterAgainstPIL), each transform's output pixels as
JSON; the Go test holds the printed values. Run: /usr/bin/python3
scripts/torch/colorjitter_pil.py. Needs only PIL and numpy (torchvision is
not required: its PIL path is reproduced by the calls below).
"""
import json

import numpy as np
from PIL import Image, ImageEnhance


def image():
    px = [((i * 53 + 11) % 256, (i * 97 + 29) % 256, (i * 31 + 200) % 256) for i in range(64)]
    a = np.array(px, dtype=np.uint8).reshape(8, 8, 3)
    return Image.fromarray(a, "RGB")


def hue(img, shift):
    # torchvision functional_pil.adjust_hue (shift >= 0 here).
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    with np.errstate(over="ignore"):
        np_h += np.uint8(shift * 255)
    h = Image.fromarray(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def main():
    cases = {}
    for f in (0.875, 1.125):
        cases["brightness %g" % f] = ImageEnhance.Brightness(image()).enhance(f)
    for f in (0.5, 1.5):
        cases["contrast %g" % f] = ImageEnhance.Contrast(image()).enhance(f)
    for f in (0.0, 0.5, 1.5):
        cases["saturation %g" % f] = ImageEnhance.Color(image()).enhance(f)
    for f in (0.05, 0.25):
        cases["hue %g" % f] = hue(image(), f)
    out = {k: np.array(v).reshape(-1).tolist() for k, v in cases.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
