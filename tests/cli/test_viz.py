#!/usr/bin/env python3
"""End-to-end tests of `edgeclr viz` on the reference model and real Fashion-MNIST images:
the PNG it writes is decoded here (cli_check's small PNG reader, so any Python runs it) and
checked for size, colours and content; the figures against `edgeclr eval`'s; a second
panel with --compare-head; a gallery as --data; and the refusals.

usage: test_viz.py EDGECLR_BINARY EXPORT_IMAGES_BINARY MAKE_HEAD_BINARY SOURCE_DIR
"""
import json
import os
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, EXPORT, MAKE_HEAD, SOURCE = sys.argv[1:5]
MODEL = os.path.join(SOURCE, "models", "fashion", "fashion-fp32.eclr")
D = "/usr/share/datasets/fashion-mnist"
IMAGES, LABELS = f"{D}/t10k-images-idx3-ubyte.gz", f"{D}/t10k-labels-idx1-ubyte.gz"
NAMES = "tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot"
# The layout space_plot.cpp draws: pad 12, panels 560 wide, legend 240; height fixed.
PANEL_W, PAD, LEGEND_W, HEIGHT = 560, 12, 240, 12 + 4 * 24 + 8 + 440 + 12 + 180 + 2 * 24 + 24


def run(*args):
    return cli_check.run(BINARY, *args)


def colours_in(rows, x0, y0, x1, y1):
    """The (r, g, b) colours in a rectangle of cli_check.read_png_rgb's rows."""
    return {tuple(rows[y][x * 3:x * 3 + 3]) for y in range(y0, y1) for x in range(x0, x1)}


with tempfile.TemporaryDirectory() as tmp:
    png = os.path.join(tmp, "space.png")
    r = run("viz", MODEL, "--data", IMAGES, "--labels", LABELS, "--names", NAMES, "--max", "600", "-o", png, "--json")
    check(r.returncode == 0, f"viz: {r.stderr!r}")
    figures = json.loads(r.stdout)["panels"] if r.returncode == 0 else [{}]
    width, height, rows = cli_check.read_png_rgb(png)
    check((width, height) == (PAD + PANEL_W + PAD + LEGEND_W, HEIGHT), f"PNG size {width}x{height}")
    # The scatter: points in at least 8 of the 10 label colours (tab10), not a blank frame.
    scatter = colours_in(rows, PAD, PAD + 104, PAD + PANEL_W, PAD + 104 + 440)
    tab10 = {(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
             (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)}
    check(len(scatter & tab10) >= 8, f"scatter colours {len(scatter & tab10)} of tab10")
    # The histogram: both the same-label (green) and the different-label (red) bars.
    hist = colours_in(rows, PAD, PAD + 104 + 440 + 12, PAD + PANEL_W, PAD + 104 + 440 + 12 + 180)
    check({(44, 160, 44), (214, 39, 40)} <= hist, "histogram lacks the same- or different-label bars")
    # The title has text (dark pixels) and the legend its ten swatches.
    check((30, 30, 30) in colours_in(rows, PAD, PAD, PAD + PANEL_W, PAD + 96), "no title text")
    legend = colours_in(rows, PAD + PANEL_W + PAD, PAD + 104, width, PAD + 104 + 11 * 24)
    check(tab10 <= legend, "legend lacks a label colour")

    # The figures: recall@1 is eval's on the same 600 images; the others in their ranges.
    f = figures[0]
    r = run("eval", MODEL, "--data", IMAGES, "--labels", LABELS, "--limit", "600", "--json")
    if r.returncode == 0:
        eval_recall = json.loads(r.stdout).get("recall_at_1")
        check(eval_recall is not None and abs(f["recall_at_1"] - eval_recall) < 1e-9,
              f"viz recall@1 {f['recall_at_1']} vs eval {eval_recall}")
    else:
        check(False, f"eval for the cross-check: {r.stderr!r}")
    check(0.5 < f["recall_at_1"] <= 1 and 0 < f["alignment"] < 2 and f["uniformity"] < 0
          and 2 < f["effective_rank"] <= 128 and 0 < f["pca_explained"] < 1 and f["points"] == 600, f"figures {f}")

    # --compare-head: two panels; a head that scrambles the space scores lower.
    head = os.path.join(tmp, "scrambled.eclh")
    r = cli_check.run(MAKE_HEAD, MODEL, head, "--perturb", "1.0")
    check(r.returncode == 0, f"make head: {r.stderr!r}")
    png2 = os.path.join(tmp, "compare.png")
    r = run("viz", MODEL, "--data", IMAGES, "--labels", LABELS, "--max", "600", "--compare-head", head, "-o", png2,
            "--json")
    check(r.returncode == 0, f"viz --compare-head: {r.stderr!r}")
    panels = json.loads(r.stdout)["panels"] if r.returncode == 0 else []
    check(len(panels) == 2 and panels[0]["recall_at_1"] == f["recall_at_1"] and head in panels[1]["title"]
          and panels[1]["recall_at_1"] != panels[0]["recall_at_1"], f"compare panels {panels}")
    width2, _, _ = cli_check.read_png_rgb(png2)
    check(width2 == PAD + 2 * (PANEL_W + PAD) + LEGEND_W, f"compare PNG width {width2}")

    # A gallery as --data: labelled by the folder of each key.
    images = os.path.join(tmp, "images")
    check(cli_check.run(EXPORT, IMAGES, LABELS, images, "--first", "0", "--count", "200", "--names", NAMES).returncode == 0,
          "export images")
    g = os.path.join(tmp, "g.db")
    check(run("gallery", "create", g, "--model", MODEL).returncode == 0, "create gallery")
    check(run("gallery", "add", g, images).returncode == 0, "add images")
    png3 = os.path.join(tmp, "gallery.png")
    r = run("viz", MODEL, "--data", g, "-o", png3, "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["panels"][0]["points"] == 200, f"viz G.db: {r.stdout!r} {r.stderr!r}")
    _, _, rows3 = cli_check.read_png_rgb(png3)
    check(len(colours_in(rows3, PAD, PAD + 104, PAD + PANEL_W, PAD + 104 + 440) & tab10) >= 8, "gallery scatter colours")

    # Refusals.
    def one_error(r, code, words, what):
        lines = r.stderr.strip().splitlines()
        check(r.returncode == code and lines and lines[-1].startswith("edgeclr: ") and words in r.stderr,
              f"{what}: exit {r.returncode}, stderr {r.stderr!r}")

    one_error(run("viz", MODEL, "--data", IMAGES), 2, "-o PNG", "no -o")
    one_error(run("viz", MODEL, "--data", g, "--head", head, "-o", png3), 2, "--head is not for a gallery", "G.db --head")
    one_error(run("viz", MODEL, "--data", os.path.join(tmp, "none"), "-o", png3), 1, "none", "missing data")
    one_error(run("viz", MODEL, "--data", IMAGES, "--labels", LABELS, "-o", os.path.join(tmp, "no", "dir", "x.png")), 1,
              "x.png", "unwritable output")
    r = run("viz", "--help")
    check(r.returncode == 0 and "--compare-head" in r.stdout, "viz --help")

cli_check.finish()
