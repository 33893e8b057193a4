"""Seed images for the image fuzz targets, cut from a real photograph (a camera JPEG
with EXIF) with Pillow, so that the seeds are files another tool wrote: baseline,
progressive, gray, CMYK and EXIF-rotated JPEGs; PNGs (RGB, gray, RGBA, palette, 16-bit
gray); BMP; binary PGM and PPM. Each is small (tens of pixels a side) so that
fuzzing mutates headers and entropy-coded data, not megabytes of pixels.

usage: /usr/bin/python3 tests/fuzz/make_corpus_images.py PHOTO OUT_DIR
(Debian's python3 with python3-pil; tests/fuzz/make_corpus runs it.)
"""
import io
import pathlib
import sys

from PIL import Image


def exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "edgeclr-fuzz-seed"  # Make: a second tag, so IFD0 has more than one entry
    return exif.tobytes()


def main():
    photo, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    original = Image.open(photo)
    camera_exif = original.info.get("exif", b"")[:4096]
    image = original.convert("RGB")
    small = image.resize((48, 32), Image.BOX)
    tiny = image.resize((17, 11), Image.BOX)  # odd sides: partial MCUs and DCT blocks
    files = {
        "baseline.jpg": lambda f: small.save(f, "JPEG", quality=80),
        "progressive.jpg": lambda f: small.save(f, "JPEG", quality=80, progressive=True),
        "subsampling444.jpg": lambda f: tiny.save(f, "JPEG", quality=90, subsampling=0),
        "gray.jpg": lambda f: small.convert("L").save(f, "JPEG", quality=75),
        "cmyk.jpg": lambda f: tiny.convert("CMYK").save(f, "JPEG", quality=75),
        "exif-rotate90.jpg": lambda f: small.save(f, "JPEG", quality=70, exif=exif_with_orientation(6)),
        "exif-mirror.jpg": lambda f: tiny.save(f, "JPEG", quality=70, exif=exif_with_orientation(2)),
        # The photograph's own camera EXIF block (IFD0, the Exif sub-IFD, maker tags).
        "exif-camera.jpg": lambda f: tiny.save(f, "JPEG", quality=70, exif=camera_exif),
        "restart.jpg": lambda f: tiny.save(f, "JPEG", quality=60, restart_marker_blocks=1),
        "rgb.png": lambda f: small.save(f, "PNG"),
        "gray.png": lambda f: small.convert("L").save(f, "PNG"),
        "rgba.png": lambda f: tiny.convert("RGBA").save(f, "PNG"),
        "palette.png": lambda f: small.convert("P", palette=Image.ADAPTIVE, colors=16).save(f, "PNG"),
        "gray16.png": lambda f: tiny.convert("L").convert("I").point(lambda v: v * 257).convert("I;16").save(f, "PNG"),
        "rgb.bmp": lambda f: tiny.save(f, "BMP"),
        "gray.pgm": lambda f: tiny.convert("L").save(f, "PPM"),
        "rgb.ppm": lambda f: tiny.save(f, "PPM"),
    }
    for name, save in files.items():
        buffer = io.BytesIO()
        save(buffer)
        (out / name).write_bytes(buffer.getvalue())
    # The EXIF parser's own seeds: a bare TIFF structure as an APP1 segment carries it.
    tiff = exif_with_orientation(8)
    (out / "exif-only.tiff").write_bytes(tiff[6:] if tiff.startswith(b"Exif\0\0") else tiff)


if __name__ == "__main__":
    main()
