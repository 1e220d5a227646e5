"""api/cleaning.py without a process: the JPEG segments a rebuilt PDF keeps of its photos."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from PIL import Image, ImageCms

from api.cleaning import strip_jpeg_metadata


def noisy_photo(mode: str, **options) -> bytes:
    """A 120x80 picture of noise (every pixel matters) with EXIF (camera, GPS), ICC and a comment."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (120, 80), bytes(rng.randrange(256) for _ in range(120 * 80 * 3))).convert(mode)
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8825).update({1: "S", 2: (2.0, 12.0, 34.56)})
    out = BytesIO()
    extra = {} if mode == "CMYK" else {
        "icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()}
    image.save(out, "JPEG", exif=exif, comment=b"Siti Rahma", **extra, **options)
    return out.getvalue()


@pytest.mark.parametrize(("mode", "options"), [
    ("RGB", {}), ("RGB", {"progressive": True, "optimize": True}), ("RGB", {"subsampling": 0}), ("L", {}),
    ("CMYK", {}),
])
def test_a_jpeg_keeps_every_pixel_and_loses_its_exif_icc_and_comment(mode: str, options: dict) -> None:
    sent = noisy_photo(mode, **options)
    kept = strip_jpeg_metadata(sent)
    assert b"Exif" in sent and b"Exif" not in kept and b"Canon" not in kept and b"Siti" not in kept
    assert b"ICC_PROFILE" not in kept
    before, after = Image.open(BytesIO(sent)), Image.open(BytesIO(kept))
    assert after.mode == before.mode and after.tobytes() == before.tobytes()
    assert not after.getexif() and not {"exif", "icc_profile", "comment"} & set(after.info)
    assert strip_jpeg_metadata(kept) == kept
    if mode == "CMYK":
        assert b"Adobe" in kept  # how to read the inks: kept


@pytest.mark.parametrize("broken", [b"", b"not a jpeg", noisy_photo("RGB")[:300], b"\xff\xd8\xff\xe1\xff\xff"])
def test_a_broken_jpeg_is_refused(broken: bytes) -> None:
    with pytest.raises(ValueError):
        strip_jpeg_metadata(broken)
