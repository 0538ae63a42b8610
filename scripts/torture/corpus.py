#!/usr/bin/python3
"""Bad-input corpus for the gap CLI.

Generates hostile inputs for every parser the command line reaches (IDX,
COCO instances and results JSON, Pascal VOC XML, OFF, PLY, ShapeNet part
text, BLEU text, mIoU label files) and bad flag combinations, runs each
through `gap` as a black box and checks what a user would expect:

  * a non-zero exit status (exit 0 is a silent acceptance),
  * no Go panic or runtime trace,
  * exactly one error line, starting "gap", that names the bad file
    (or, for flag cases, the flag),
  * no run longer than --timeout seconds (default 30),
  * peak resident memory of the process at most --max-rss-mb (1024).

Usage: scripts/torture/corpus.py --gap bin/gap [--work DIR] [--keep]
       [--only SUBSTRING] [--exclude SUBSTRING] [--list]

Prints one line per failing case and the counts; exits 1 when any case
fails. Only the Python standard library is used.
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

# ---------------------------------------------------------------- builders


def idx_bytes(dims, data=None, type_code=0x08):
    """An IDX file: magic 0 0 type ndims, big-endian dims, then the data."""
    n = 1
    for d in dims:
        n *= d
    if data is None:
        data = bytes((i * 7) % 256 for i in range(n))
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def labels_bytes(n, value=3):
    return idx_bytes([n], bytes([value % 256]) * n)


def gz(b, level=9):
    return gzip.compress(b, compresslevel=level)


def gzip_bomb(declared_dims, inflated_bytes):
    """A small gzip stream whose payload inflates to inflated_bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [comp.compress(idx_bytes(declared_dims, b""))]
    chunk = bytes(1 << 20)
    left = inflated_bytes
    while left > 0:
        k = min(left, len(chunk))
        out.append(comp.compress(chunk[:k]))
        left -= k
    out.append(comp.flush())
    return b"".join(out)


GOOD_IMAGES = idx_bytes([4, 28, 28])
GOOD_LABELS = labels_bytes(4)
MNIST_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def coco_gt(images=None, categories=None, annotations=None, **extra):
    d = {
        "images": images if images is not None else [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "categories": categories if categories is not None else [{"id": 1, "name": "cat"}],
        "annotations": annotations if annotations is not None else [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0}],
    }
    d.update(extra)
    return json.dumps(d)


def ann(**kw):
    a = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0}
    for k, v in kw.items():
        if v is DELETE:
            a.pop(k)
        else:
            a[k] = v
    return a


def det(**kw):
    d = {"image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 12], "score": 0.9}
    for k, v in kw.items():
        if v is DELETE:
            d.pop(k)
        else:
            d[k] = v
    return d


DELETE = object()
GOOD_PRED = json.dumps([det()])


def voc(objects, size="<size><width>100</width><height>50</height><depth>3</depth></size>", filename="a.jpg"):
    objs = "".join(objects)
    return f"<annotation><filename>{filename}</filename>{size}{objs}</annotation>"


def vobj(name="dog", xmin="10", ymin="10", xmax="20", ymax="20", extra=""):
    return (f"<object><name>{name}</name>{extra}<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
            f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")


def off(verts, faces, head="OFF"):
    lines = [head, f"{len(verts)} {len(faces)} 0"]
    lines += [" ".join(str(c) for c in v) for v in verts]
    lines += [" ".join(str(c) for c in [len(f)] + list(f)) for f in faces]
    return "\n".join(lines) + "\n"


TRI = [(0, 0, 0), (1, 0, 0), (0, 1, 0)]


def ply_ascii(verts, faces, face_type="int", vert_type="float", extra_header=""):
    h = ["ply", "format ascii 1.0", f"element vertex {len(verts)}",
         f"property {vert_type} x", f"property {vert_type} y", f"property {vert_type} z",
         f"element face {len(faces)}", f"property list uchar {face_type} vertex_indices"]
    if extra_header:
        h.append(extra_header)
    h.append("end_header")
    body = [" ".join(str(c) for c in v) for v in verts] + [" ".join(str(c) for c in [len(f)] + list(f)) for f in faces]
    return "\n".join(h + body) + "\n"


def ply_binary(verts, faces, endian="<", face_fmt="i", face_type="int", declared=None):
    nv = len(verts) if declared is None else declared
    head = ("ply\nformat binary_%s_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\n"
            "property float z\nelement face %d\nproperty list uchar %s vertex_indices\nend_header\n"
            % ("little" if endian == "<" else "big", nv, len(faces), face_type)).encode()
    body = b"".join(struct.pack(endian + "fff", *v) for v in verts)
    for f in faces:
        body += struct.pack(endian + "B", len(f)) + b"".join(struct.pack(endian + face_fmt, i) for i in f)
    return head + body


def shapenet_dir(root, shape_text, listing=None, cats="Airplane\t02691156\n"):
    """A miniature ShapeNet part folder with one Airplane shape."""
    os.makedirs(os.path.join(root, "02691156"), exist_ok=True)
    os.makedirs(os.path.join(root, "train_test_split"), exist_ok=True)
    with open(os.path.join(root, "synsetoffset2category.txt"), "w") as f:
        f.write(cats)
    for split in ("train", "test"):
        with open(os.path.join(root, "train_test_split", f"shuffled_{split}_file_list.json"), "w") as f:
            f.write(listing if listing is not None else json.dumps(["shape_data/02691156/s1"]))
    with open(os.path.join(root, "02691156", "s1.txt"), "w", newline="") as f:
        f.write(shape_text)
    return os.path.join(root, "02691156", "s1.txt")


GOOD_SHAPE = "".join(f"{i * .1:.3f} {i * .2:.3f} {i * .3:.3f} 0 0 1 {i % 4}.000000\n" for i in range(20))

SB_HYP = ["The cat sat on the mat .", "A quick brown fox jumps .", "It is raining today ."]
SB_REF = ["The cat is on the mat .", "The quick brown fox jumps .", "It rains today ."]


def lines(xs):
    return "\n".join(xs) + "\n"


# ------------------------------------------------------------------- cases


class Case:
    """One bad input: files to write, the command (with {d} for the case's
    folder), and the text the error line must contain (default: the bad
    file's path)."""

    def __init__(self, name, files, args, expect=None, parser=""):
        self.name, self.files, self.args, self.expect, self.parser = name, files, args, expect, parser


def cases():
    out = []

    def add(parser, name, files, args, expect=None):
        out.append(Case(f"{parser}/{name}", files, args, expect, parser))

    # IDX, through `gap data check -dataset mnist -path DIR` (four files) and
    # `gap data inspect FILE`.
    def mnist(name, bad_file, content, expect_file=None):
        files = {n: gz(GOOD_IMAGES if "images" in n else GOOD_LABELS) for n in MNIST_NAMES}
        files[bad_file] = content
        add("idx", name, files, ["data", "check", "-dataset", "mnist", "-path", "{d}"], expect_file or bad_file)

    good_img = GOOD_IMAGES
    img = "train-images-idx3-ubyte.gz"
    lab = "train-labels-idx1-ubyte.gz"
    mnist("empty-file", img, b"")
    mnist("one-byte", img, b"\x00")
    mnist("bad-magic", img, b"\x01\x02\x08\x03" + good_img[4:])
    mnist("float-type", img, idx_bytes([4, 28, 28], bytes(4 * 28 * 28 * 4), 0x0D))
    mnist("int-type", img, idx_bytes([4, 28, 28], bytes(4 * 28 * 28 * 4), 0x0C))
    mnist("zero-dims", img, b"\x00\x00\x08\x00")
    mnist("short-header", img, good_img[:9])
    mnist("truncated-data", img, good_img[:-100])
    mnist("truncated-data-gz", img, gz(good_img[:-100]))
    mnist("trailing-garbage", img, good_img + b"garbage")
    mnist("trailing-garbage-gz", img, gz(good_img + b"\xff" * 64))
    mnist("gz-trailing-bytes", img, gz(good_img) + b"junk after the gzip stream")
    mnist("gz-corrupt-crc", img, gz(good_img)[:-8] + b"\x00\x00\x00\x00" + gz(good_img)[-4:])
    mnist("gz-truncated", img, gz(good_img)[:30])
    mnist("gz-header-only", img, b"\x1f\x8b")
    mnist("huge-dims", img, b"\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x02")
    mnist("huge-dims-gz", img, gz(b"\x00\x00\x08\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x40"))
    mnist("bomb-2GB-declared", img, gzip_bomb([2800, 28000, 28], 64 << 20))
    mnist("bomb-900MB-declared", img, gzip_bomb([1100, 900, 900], 32 << 20))
    mnist("bomb-inflates-past-header", img, gzip_bomb([4, 28, 28], 256 << 20))
    mnist("zero-images", img, idx_bytes([0, 28, 28]))
    mnist("zero-pixels", img, idx_bytes([4, 0, 28]))
    mnist("two-dim-images", img, idx_bytes([4, 784]))
    mnist("labels-2d", lab, idx_bytes([4, 1]))
    mnist("labels-count-mismatch", lab, labels_bytes(5))
    mnist("label-out-of-range", lab, labels_bytes(4, 10))
    mnist("label-255", lab, labels_bytes(4, 255))
    mnist("zero-labels", lab, labels_bytes(0))
    mnist("labels-truncated", lab, labels_bytes(4)[:-1])
    mnist("labels-trailing", lab, labels_bytes(4) + b"\x01")
    files = {n: gz(GOOD_IMAGES if "images" in n else GOOD_LABELS) for n in MNIST_NAMES}
    del files["t10k-labels-idx1-ubyte.gz"]
    add("idx", "missing-file", files, ["data", "check", "-dataset", "mnist", "-path", "{d}"], "t10k-labels-idx1-ubyte.gz")
    files = {n: gz(GOOD_IMAGES if "images" in n else GOOD_LABELS) for n in MNIST_NAMES}
    files["train-images-idx3-ubyte.gz/"] = None  # a folder in place of the file
    del files["train-images-idx3-ubyte.gz"]
    add("idx", "folder-not-file", files, ["data", "check", "-dataset", "mnist", "-path", "{d}"], "train-images-idx3-ubyte.gz")
    for nm, content in [("plain-trailing", good_img + b"x"), ("plain-short", good_img[:-1]),
                        ("plain-empty", b""), ("bomb-inspect", gzip_bomb([1100, 900, 900], 32 << 20)),
                        ("plain-zero-elements", idx_bytes([0])), ("text-not-idx", b"hello world\n")]:
        add("idx", nm, {"x-idx3-ubyte": content}, ["data", "inspect", "{d}/x-idx3-ubyte"], "x-idx3-ubyte")

    # COCO instances (ground truth) through `gap score map -gt F -pred P`.
    def gt(name, text, pred=GOOD_PRED, expect="gt.json"):
        add("coco", name, {"gt.json": text, "pred.json": pred}, ["score", "map", "-gt", "{d}/gt.json", "-pred", "{d}/pred.json"], expect)

    gt("empty-file", "")
    gt("not-json", "this is not json")
    gt("truncated", coco_gt()[:-5])
    gt("top-array", json.dumps([coco_gt()]))
    gt("top-null", "null")
    gt("top-number", "42")
    gt("top-string", '"images"')
    gt("missing-images", json.dumps({"categories": [], "annotations": []}))
    gt("missing-annotations", json.dumps({"images": [], "categories": []}))
    gt("images-null", coco_gt(images=None).replace('"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}]', '"images": null'))
    gt("images-object", json.dumps({"images": {}, "categories": [], "annotations": []}))
    gt("image-null", json.dumps({"images": [None], "categories": [], "annotations": []}))
    gt("image-id-null", coco_gt(images=[{"id": None}]))
    gt("image-id-string", coco_gt(images=[{"id": "1"}]))
    gt("image-id-fraction", coco_gt(images=[{"id": 1.5}]))
    gt("image-id-duplicate", coco_gt(images=[{"id": 1}, {"id": 1}]))
    gt("image-width-negative", coco_gt(images=[{"id": 1, "width": -640, "height": 480}]))
    gt("image-height-huge", coco_gt(images=[{"id": 1, "width": 640, "height": 1e15}]))
    gt("file-name-null", coco_gt(images=[{"id": 1, "file_name": None}]))
    gt("file-name-number", coco_gt(images=[{"id": 1, "file_name": 7}]))
    gt("category-id-null", coco_gt(categories=[{"id": None, "name": "x"}]))
    gt("category-name-null", coco_gt(categories=[{"id": 1, "name": None}]))
    gt("category-duplicate", coco_gt(categories=[{"id": 1}, {"id": 1}]))
    gt("annotation-null", coco_gt(annotations=[None]))
    gt("ann-id-missing", coco_gt(annotations=[ann(id=DELETE)]))
    gt("ann-id-duplicate", coco_gt(annotations=[ann(), ann()]))
    gt("ann-image-unknown", coco_gt(annotations=[ann(image_id=9)]))
    gt("ann-image-null", coco_gt(annotations=[ann(image_id=None)]))
    gt("ann-category-unknown", coco_gt(annotations=[ann(category_id=9)]))
    gt("ann-category-null", coco_gt(annotations=[ann(category_id=None)]))
    gt("bbox-missing", coco_gt(annotations=[ann(bbox=DELETE)]))
    gt("bbox-null", coco_gt(annotations=[ann(bbox=None)]))
    gt("bbox-three", coco_gt(annotations=[ann(bbox=[1, 2, 3])]))
    gt("bbox-five", coco_gt(annotations=[ann(bbox=[1, 2, 3, 4, 5])]))
    gt("bbox-null-item", coco_gt(annotations=[ann(bbox=[1, None, 3, 4])]))
    gt("bbox-string-item", coco_gt(annotations=[ann(bbox=[1, "2", 3, 4])]))
    gt("bbox-1e308", coco_gt(annotations=[ann(bbox=[1e308, 1e308, 1e308, 1e308])]))
    gt("bbox-negative-width", coco_gt(annotations=[ann(bbox=[1, 2, -3, 4])]))
    gt("bbox-huge-area", coco_gt(annotations=[ann(bbox=[0, 0, 1e200, 1e200])]))
    gt("bbox-object", coco_gt(annotations=[ann(bbox={"x": 1})]))
    gt("area-null", coco_gt(annotations=[ann(area=None)]))
    gt("area-negative", coco_gt(annotations=[ann(area=-5)]))
    gt("area-string", coco_gt(annotations=[ann(area="120")]))
    gt("area-huge", coco_gt(annotations=[ann(area=1e300)]))
    gt("iscrowd-null", coco_gt(annotations=[ann(iscrowd=None)]))
    gt("iscrowd-two", coco_gt(annotations=[ann(iscrowd=2)]))
    gt("iscrowd-string", coco_gt(annotations=[ann(iscrowd="0")]))
    gt("number-overflow", coco_gt().replace('"area": 120', '"area": 1e999'))
    gt("invalid-utf8", coco_gt().encode().replace(b"cat", b"c\xffat"))
    gt("nul-byte", coco_gt().replace("cat", "c\u0000at").encode().replace(b"\\u0000", b"\x00"))
    gt("deep-nesting", "[" * 20000 + "]" * 20000)
    gt("folder", None, expect="gt.json")
    gt("zero-images", coco_gt(images=[], annotations=[]))
    gt("zero-annotations", coco_gt(annotations=[]))
    # COCO results (detections) through the same command: -pred is bad.
    def pred(name, text, expect="pred.json"):
        add("coco-results", name, {"gt.json": coco_gt(), "pred.json": text}, ["score", "map", "-gt", "{d}/gt.json", "-pred", "{d}/pred.json"], expect)

    pred("empty-file", "")
    pred("top-object", coco_gt())
    pred("top-null", "null")
    pred("item-null", "[null]")
    pred("item-number", "[3]")
    pred("score-null", json.dumps([det(score=None)]))
    pred("score-missing", json.dumps([det(score=DELETE)]))
    pred("score-string", json.dumps([det(score="0.9")]))
    pred("score-bool", json.dumps([det(score=True)]))
    pred("image-unknown", json.dumps([det(image_id=77)]))
    pred("image-null", json.dumps([det(image_id=None)]))
    pred("category-null", json.dumps([det(category_id=None)]))
    pred("category-fraction", json.dumps([det(category_id=1.25)]))
    pred("bbox-null", json.dumps([det(bbox=None)]))
    pred("bbox-null-item", json.dumps([det(bbox=[1, 2, None, 4])]))
    pred("bbox-1e308", json.dumps([det(bbox=[1e308, 2, 3, 4])]))
    pred("bbox-negative", json.dumps([det(bbox=[1, 2, 3, -4])]))
    pred("bbox-short", json.dumps([det(bbox=[1, 2])]))
    pred("truncated", GOOD_PRED[:-3])
    pred("folder", None)

    # Pascal VOC XML through `gap data inspect` (a file or a folder of them).
    def vocf(name, text, expect="a.xml"):
        add("voc", name, {"a.xml": text}, ["data", "inspect", "{d}/a.xml"], expect)

    vocf("empty", "")
    vocf("not-xml", "hello")
    vocf("unclosed", "<annotation><object>")
    vocf("wrong-root", "<notvoc/>")
    vocf("name-missing", voc(["<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>"]))
    vocf("name-empty", voc([vobj(name="  ")]))
    vocf("bndbox-missing", voc(["<object><name>dog</name></object>"]))
    vocf("xmax-missing", voc(["<object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><ymax>2</ymax></bndbox></object>"]))
    vocf("xmin-text", voc([vobj(xmin="left")]))
    vocf("xmin-nan", voc([vobj(xmin="NaN")]))
    vocf("xmax-inf", voc([vobj(xmax="Inf")]))
    vocf("xmax-1e308", voc([vobj(xmax="1e308")]))
    vocf("inverted-box", voc([vobj(xmin="30", xmax="20")]))
    vocf("outside-right", voc([vobj(xmax="150")]))
    vocf("outside-bottom", voc([vobj(ymax="51")]))
    vocf("negative-xmin", voc([vobj(xmin="-5")]))
    vocf("width-negative", voc([vobj()], size="<size><width>-100</width><height>50</height></size>"))
    vocf("width-text", voc([vobj()], size="<size><width>wide</width><height>50</height></size>"))
    vocf("width-fraction", voc([vobj()], size="<size><width>100.5</width><height>50</height></size>"))
    vocf("difficult-text", voc([vobj(extra="<difficult>maybe</difficult>")]))
    vocf("entity-bomb", '<!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;&x;&x;">]>' + voc([vobj(name="&y;")]))
    vocf("undefined-entity", voc([vobj(name="&nope;")]))
    vocf("binary", "\x00\x01\x02<annotation>")
    add("voc", "folder-one-bad", {"v/a.xml": voc([vobj()]), "v/b.xml": voc([vobj(xmax="500")])}, ["data", "inspect", "{d}/v"], "b.xml")
    add("voc", "folder-empty", {"v/": None}, ["data", "inspect", "{d}/v"], "/v")

    # OFF through `gap data check -dataset modelnet40 -path DIR` and inspect.
    def offf(name, text, via_modelnet=False):
        if via_modelnet:
            add("off", name + "-modelnet", {"mn/chair/train/chair_0001.off": text, "mn/chair/test/chair_0002.off": off(TRI, [(0, 1, 2)])},
                ["data", "check", "-dataset", "modelnet40", "-path", "{d}/mn"], "chair_0001.off")
        else:
            add("off", name, {"m.off": text}, ["data", "inspect", "{d}/m.off"], "m.off")

    for via in (False, True):
        offf("empty", "", via)
        offf("bad-header", "FOO\n3 1 0\n", via)
        offf("vertex-nan", off([(0, 0, 0), (1, 0, 0), ("nan", 1, 0)], [(0, 1, 2)]), via)
        offf("vertex-inf", off([(0, 0, 0), ("inf", 0, 0), (0, 1, 0)], [(0, 1, 2)]), via)
        offf("index-out-of-range", off(TRI, [(0, 1, 3)]), via)
    offf("negative-index", off(TRI, [(0, -1, 2)]))
    offf("counts-negative", "OFF\n-3 1 0\n")
    offf("counts-huge", "OFF\n2000000000 2000000000 0\n0 0 0\n")
    offf("counts-text", "OFF\nthree one zero\n")
    offf("missing-counts", "OFF\n")
    offf("too-few-vertices", "OFF\n4 1 0\n0 0 0\n1 0 0\n")
    offf("too-few-faces", off(TRI, [(0, 1, 2)]).replace("3 1 0", "3 2 0"))
    offf("vertex-two-values", "OFF\n3 1 0\n0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    offf("vertex-text", off([(0, 0, 0), (1, "x", 0), (0, 1, 0)], [(0, 1, 2)]))
    offf("vertex-1e39", off([(0, 0, 0), (1e39, 0, 0), (0, 1, 0)], [(0, 1, 2)]))
    offf("face-count-zero", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n0\n")
    offf("face-short", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1\n")
    offf("face-float-index", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 1.5\n")
    offf("line-too-long", "OFF\n3 1 0\n" + "0 " * 700000 + "\n")
    offf("zero-vertices", "OFF\n0 0 0\n")
    add("off", "modelnet-empty-split", {"mn/chair/train/": None, "mn/chair/test/": None}, ["data", "check", "-dataset", "modelnet40", "-path", "{d}/mn"], "mn")
    add("off", "modelnet-degenerate-mesh", {"mn/chair/train/chair_0001.off": off(TRI, [(0, 0, 0)]), "mn/chair/test/chair_0002.off": off(TRI, [(0, 1, 2)])},
        ["data", "check", "-dataset", "modelnet40", "-path", "{d}/mn"], "chair_0001.off")

    # PLY through `gap data inspect`.
    def plyf(name, content):
        add("ply", name, {"m.ply": content}, ["data", "inspect", "{d}/m.ply"], "m.ply")

    plyf("empty", "")
    plyf("not-ply", "solid cube\n")
    plyf("no-format", "ply\nelement vertex 1\nproperty float x\nend_header\n0\n")
    plyf("bad-format", "ply\nformat utf16 1.0\nend_header\n")
    plyf("no-end-header", "ply\nformat ascii 1.0\nelement vertex 1\n")
    plyf("no-xyz", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float q\nend_header\n1\n")
    plyf("bad-property", "ply\nformat ascii 1.0\nelement vertex 1\nproperty quad x\nend_header\n1\n")
    plyf("count-negative", "ply\nformat ascii 1.0\nelement vertex -1\nproperty float x\nend_header\n")
    plyf("float-face-indices", ply_ascii(TRI, [(0, 1, 2)], face_type="float"))
    plyf("float-face-indices-binary", ply_binary(TRI, [(0, 1, 2)], face_fmt="f", face_type="float"))
    plyf("double-face-indices", ply_ascii(TRI, [(0, 1, 2)], face_type="double"))
    plyf("float-count-type", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list float int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    plyf("fractional-index-ascii", ply_ascii(TRI, [(0, 1, 2)]).replace("3 0 1 2", "3 0 1 1.5"))
    plyf("index-out-of-range", ply_ascii(TRI, [(0, 1, 7)]))
    plyf("index-negative", ply_ascii(TRI, [(0, -1, 2)]))
    plyf("vertex-nan", ply_ascii([(0, 0, 0), (1, "nan", 0), (0, 1, 0)], [(0, 1, 2)]))
    plyf("vertex-inf-binary", ply_binary([(0, 0, 0), (float("inf"), 0, 0), (0, 1, 0)], [(0, 1, 2)]))
    plyf("vertex-nan-big-endian", ply_binary([(0, 0, 0), (float("nan"), 0, 0), (0, 1, 0)], [(0, 1, 2)], endian=">"))
    plyf("truncated-binary", ply_binary(TRI, [(0, 1, 2)])[:-3])
    plyf("declared-more-vertices", ply_binary(TRI, [(0, 1, 2)], declared=1000000))
    plyf("huge-list", "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uint int vertex_indices\nend_header\n".encode()
         + struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0) + struct.pack("<I", 4000000000))
    plyf("vertex-text", ply_ascii([(0, 0, 0), (1, "one", 0), (0, 1, 0)], [(0, 1, 2)]))
    plyf("face-before-vertex", "ply\nformat ascii 1.0\nelement face 1\nproperty list uchar int vertex_indices\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n3 0 1 2\n0 0 0\n1 0 0\n0 1 0\n")
    plyf("two-vertex-elements", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n0 0 0\n")
    plyf("zero-vertices", "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nend_header\n")

    # ShapeNet part through `gap data check -dataset shapenet-part -path DIR`.
    def sn(name, shape_text=GOOD_SHAPE, listing=None, cats="Airplane\t02691156\n", expect="s1.txt"):
        files = {"sn/synsetoffset2category.txt": cats,
                 "sn/train_test_split/shuffled_train_file_list.json": listing if listing is not None else json.dumps(["shape_data/02691156/s1"]),
                 "sn/train_test_split/shuffled_test_file_list.json": listing if listing is not None else json.dumps(["shape_data/02691156/s1"]),
                 "sn/02691156/s1.txt": shape_text}
        add("shapenet", name, files, ["data", "check", "-dataset", "shapenet-part", "-path", "{d}/sn"], expect)

    sn("coordinate-nan", GOOD_SHAPE + "nan 0 0 0 0 1 1\n")
    sn("coordinate-inf", "0 0 0 0 0 1 1\n0 -inf 0 0 0 1 1\n")
    sn("normal-nan", "0 0 0 0 nan 1 1\n")
    sn("six-values", "0 0 0 0 0 1\n")
    sn("eight-values", "0 0 0 0 0 1 1 1\n")
    sn("text-value", "0 zero 0 0 0 1 1\n")
    sn("label-fraction", "0 0 0 0 0 1 1.5\n")
    sn("label-negative", "0 0 0 0 0 1 -1\n")
    sn("label-50", "0 0 0 0 0 1 50\n")
    sn("label-other-category", "0 0 0 0 0 1 36\n")
    sn("no-points", "")
    sn("only-blank-lines", "\n\n\n")
    sn("line-too-long", "0 " * 700000 + "\n")
    sn("empty-split", listing="[]", expect="shuffled_train_file_list.json")
    sn("split-not-list", listing='{"a": 1}', expect="shuffled_train_file_list.json")
    sn("split-bad-entry", listing='["02691156/s1"]', expect="shuffled_train_file_list.json")
    sn("split-dotdot", listing='["shape_data/02691156/../../etc/passwd"]', expect="shuffled_train_file_list.json")
    sn("unknown-synset", listing='["shape_data/99999999/s1"]', expect="shuffled_train_file_list.json")
    sn("unknown-category", cats="Spaceship\t02691156\n", expect="synsetoffset2category.txt")
    sn("category-line-bad", cats="Airplane\n", expect="synsetoffset2category.txt")
    sn("missing-shape-file", listing='["shape_data/02691156/s2"]', expect="s2.txt")
    add("shapenet", "inspect-nan", {"s.txt": "0 nan 0 0 0 1 1\n"}, ["data", "inspect", "-format", "shapenet", "{d}/s.txt"], "s.txt")
    add("shapenet", "inspect-empty", {"s.txt": ""}, ["data", "inspect", "-format", "shapenet", "{d}/s.txt"], "s.txt")

    # BLEU text through `gap score bleu -ref R -hyp H`.
    def bleu(name, hyp=lines(SB_HYP), ref=lines(SB_REF), expect="hyp.txt", refs=None):
        files = {"hyp.txt": hyp, "ref.txt": ref}
        args = ["score", "bleu", "-hyp", "{d}/hyp.txt"]
        for r in refs or ["{d}/ref.txt"]:
            args += ["-ref", r]
        add("bleu", name, files, args, expect)

    bleu("hyp-invalid-utf8", hyp=b"The cat \xff sat\nA\nB\n")
    bleu("ref-invalid-utf8", ref=b"ok\n\xc3\x28 broken\nfine\n", expect="ref.txt")
    bleu("hyp-nul", hyp="The cat\x00 sat\nA\nB\n")
    bleu("ref-nul", ref="a\nb\x00\nc\n", expect="ref.txt")
    bleu("utf16-hyp", hyp="\n".join(SB_HYP).encode("utf-16"))
    bleu("line-count-mismatch", hyp=lines(SB_HYP[:2]), expect="ref.txt")
    bleu("ref-is-folder", refs=["{d}"], expect="{d}")
    bleu("ref-missing", refs=["{d}/nope.txt"], expect="nope.txt")
    bleu("hyp-empty", hyp="", ref="", expect="hyp.txt")
    bleu("line-too-long", hyp="a" * (17 << 20) + "\nb\nc\n")
    bleu("binary-hyp", hyp=bytes(range(256)) * 4)
    add("bleu", "hyp-is-folder", {"ref.txt": lines(SB_REF), "h/": None}, ["score", "bleu", "-hyp", "{d}/h", "-ref", "{d}/ref.txt"], "/h")
    add("bleu", "bad-smooth", {"hyp.txt": lines(SB_HYP), "ref.txt": lines(SB_REF)}, ["score", "bleu", "-hyp", "{d}/hyp.txt", "-ref", "{d}/ref.txt", "-smooth", "magic"], "magic")
    add("bleu", "bad-tokenize", {"hyp.txt": lines(SB_HYP), "ref.txt": lines(SB_REF)}, ["score", "bleu", "-hyp", "{d}/hyp.txt", "-ref", "{d}/ref.txt", "-tokenize", "zh"], "zh")

    # mIoU label files through `gap score miou -gt G -pred P`.
    def miou(name, gtext, ptext, expect="gt.txt", extra=()):
        add("miou", name, {"gt.txt": gtext, "pred.txt": ptext}, ["score", "miou", "-gt", "{d}/gt.txt", "-pred", "{d}/pred.txt"] + list(extra), expect)

    miou("gt-label-99", "Airplane 0 1 99\n", "Airplane 0 1 2\n")
    miou("gt-label-negative", "Airplane 0 -1 2\n", "Airplane 0 1 2\n")
    miou("gt-other-category-part", "Airplane 0 1 36\n", "Airplane 0 1 2\n")
    miou("no-points", "Airplane\n", "Airplane\n")
    miou("empty-files", "", "")
    miou("unknown-category", "Spaceship 0 1\n", "Spaceship 0 1\n")
    miou("label-text", "Airplane 0 one\n", "Airplane 0 1\n")
    miou("label-fraction", "Airplane 0 1.5\n", "Airplane 0 1\n")
    miou("length-mismatch", "Airplane 0 1 2\n", "Airplane 0 1\n", "pred.txt")
    miou("category-mismatch", "Airplane 0 1\n", "Bag 4 5\n", "pred.txt")
    miou("shape-count-mismatch", "Airplane 0 1\nAirplane 0 1\n", "Airplane 0 1\n", "pred.txt")
    miou("label-overflow", "Airplane 0 99999999999\n", "Airplane 0 1\n")
    miou("bad-set", "mug 5 6\n", "mug 5 6\n", "everything", ["-set", "everything"])
    add("miou", "gt-folder", {"pred.txt": "Airplane 0 1\n", "g/": None}, ["score", "miou", "-gt", "{d}/g", "-pred", "{d}/pred.txt"], "/g")

    # Flags and commands: each must be refused before any work starts.
    def cli(name, args, expect):
        add("cli", name, {}, args, expect)

    res = ["-results", "{d}/results"]
    cli("unknown-command", ["frobnicate"], "frobnicate")
    cli("score-unknown", ["score", "f1"], "f1")
    cli("score-map-no-flags", ["score", "map"], "-gt")
    cli("score-bleu-no-hyp", ["score", "bleu", "-ref", "x"], "-hyp")
    cli("score-miou-stray-arg", ["score", "miou", "-gt", "a", "-pred", "b", "extra"], "extra")
    cli("score-map-bad-iou", ["score", "map", "-gt", "{d}/x", "-pred", "{d}/y", "-iou", "voc2012"], "x")
    cli("data-unknown", ["data", "fetch"], "fetch")
    cli("data-check-unknown-set", ["data", "check", "-dataset", "svhn"], "svhn")
    cli("data-check-needs-path", ["data", "check", "-dataset", "cifar10"], "-path")
    cli("data-check-missing-path", ["data", "check", "-dataset", "cifar10", "-path", "{d}/none"], "none")
    cli("data-inspect-no-file", ["data", "inspect"], "FILE")
    cli("data-inspect-bad-format", ["data", "inspect", "-format", "jpeg", "{d}"], "jpeg")
    cli("data-inspect-missing", ["data", "inspect", "{d}/missing.off"], "missing.off")
    cli("train-unknown-method", ["train", "-method", "lottery"] + res, "lottery")
    cli("train-sparsity-1", ["train", "-sparsity", "1"] + res, "sparsity")
    cli("train-sparsity-negative", ["train", "-sparsity", "-0.5"] + res, "sparsity")
    cli("train-sparsity-nan", ["train", "-profile", "smoke", "-method", "static", "-sparsity", "NaN"] + res, "sparsity")
    cli("train-sparsity-text", ["train", "-sparsity", "most"] + res, "sparsity")
    cli("train-epochs-negative", ["train", "-profile", "smoke", "-epochs", "-3"] + res, "epochs")
    cli("train-threads-negative", ["train", "-profile", "smoke", "-threads", "-4"] + res, "threads")
    cli("train-threads-zero", ["train", "-profile", "smoke", "-threads", "0"] + res, "threads")
    cli("train-bad-dist", ["train", "-dist", "zipf"] + res, "zipf")
    cli("train-bad-param", ["train", "-method", "cgap", "-param", "kappa"] + res, "kappa")
    cli("train-bad-param-value", ["train", "-method", "cgap", "-param", "kappa=x"] + res, "kappa")
    cli("train-rounds-overflow", ["train", "-profile", "smoke", "-method", "cgap", "-param", "rounds=4611686018427387904"] + res, "rounds")
    cli("train-pgap-rounds-overflow", ["train", "-profile", "smoke", "-method", "pgap", "-param", "rounds=4611686018427387904"] + res, "rounds")
    cli("train-unknown-profile", ["train", "-profile", "huge"] + res, "huge")
    cli("train-unknown-table", ["train", "-table", "cifar"] + res, "cifar")
    cli("train-seed-text", ["train", "-seed", "one"] + res, "seed")
    cli("reproduce-jobs-negative", ["reproduce", "-profile", "smoke", "-jobs", "-3"] + res, "jobs")
    cli("reproduce-seeds-zero", ["reproduce", "-seeds", "0"] + res, "seeds")
    cli("reproduce-bad-rows", ["reproduce", "-rows", "nope/0.9"] + res, "nope/0.9")
    cli("reproduce-bad-table", ["reproduce", "-table", "nosuchtable"] + res, "nosuchtable")
    cli("reproduce-results-is-file", ["reproduce", "-profile", "smoke", "-rows", "dense/0/dense", "-results", "{d}/file"], "file")
    cli("list-unknown", ["list", "everything"], "everything")
    cli("bench-batch-zero", ["bench", "step", "-batch", "0"], "batch")
    cli("bench-unknown-model", ["bench", "step", "-model", "vgg", "-steps", "1"], "vgg")
    cli("report-unknown-table", ["report", "-table", "nope", "-results", "{d}/results"], "nope")
    cli("undefined-flag", ["train", "-learning-rate", "0.1"], "learning-rate")
    return out


# --------------------------------------------------------------- running


def write_files(root, files):
    for rel, content in files.items():
        p = os.path.join(root, rel)
        if content is None:
            os.makedirs(p.rstrip("/"), exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        mode = "wb" if isinstance(content, (bytes, bytearray)) else "w"
        with open(p, mode, **({} if mode == "wb" else {"newline": "", "encoding": "utf-8", "errors": "surrogatepass"})) as f:
            f.write(content)


def run_case(gap, case, work, timeout, max_rss_mb):
    d = os.path.join(work, case.name.replace("/", "__"))
    os.makedirs(d, exist_ok=True)
    files = dict(case.files)
    # A "folder" case writes a folder where the command expects a file.
    for rel in list(files):
        if files[rel] is None and not rel.endswith("/"):
            os.makedirs(os.path.join(d, rel), exist_ok=True)
            del files[rel]
    write_files(d, files)
    if case.name == "cli/reproduce-results-is-file":
        open(os.path.join(d, "file"), "w").close()
    args = [a.replace("{d}", d) for a in case.args]
    expect = (case.expect or "").replace("{d}", d)
    start = time.monotonic()
    p = subprocess.Popen([gap] + args, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    hung = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    elapsed = time.monotonic() - start
    # wait4 was consumed by communicate; use the children's usage delta.
    rss_mb = child_peak_mb(p)
    err_text = err.decode("utf-8", "replace")
    problems = []
    if hung:
        problems.append(f"hang: killed after {timeout:.0f} s")
    elif p.returncode == 0:
        problems.append("accepted: exit 0")
    if "panic:" in err_text or "goroutine " in err_text or "runtime error" in err_text:
        problems.append("panic")
    if rss_mb > max_rss_mb:
        problems.append(f"peak RSS {rss_mb:.0f} MB > {max_rss_mb} MB")
    if not hung and p.returncode != 0:
        err_lines = [l for l in err_text.splitlines() if l.startswith("gap ") or l.startswith("gap:")]
        if len(err_lines) != 1:
            problems.append(f"{len(err_lines)} error lines")
        elif expect and expect not in err_lines[0]:
            problems.append(f"error line does not name {expect!r}")
    return problems, p.returncode, elapsed, rss_mb, err_text.strip().splitlines()


_rss = {}


def child_peak_mb(p):
    return _rss.get(p.pid, 0.0) / 1024.0


class TrackingPopen(subprocess.Popen):
    """Popen that records each child's own peak RSS from wait4."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return (self.pid, 0)
        if pid == self.pid:
            _rss[pid] = ru.ru_maxrss
        return (pid, sts)


subprocess.Popen = TrackingPopen


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gap", default="bin/gap")
    ap.add_argument("--work", default="")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpus")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--exclude", default="", help="skip the cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--max-rss-mb", type=float, default=1024)
    a = ap.parse_args()
    all_cases = [c for c in cases() if a.only in c.name and not (a.exclude and a.exclude in c.name)]
    if a.list:
        for c in all_cases:
            print(c.name)
        return 0
    gap = os.path.abspath(a.gap)
    if not os.access(gap, os.X_OK):
        sys.exit(f"corpus.py: {gap} is not an executable (make build)")
    work = a.work or tempfile.mkdtemp(prefix="gap-torture-")
    os.makedirs(work, exist_ok=True)
    counts = {"cases": 0, "ok": 0, "accepted": 0, "panic": 0, "hang": 0, "rss": 0, "message": 0}
    per_parser = {}
    worst_rss, worst_time = 0.0, 0.0
    for c in all_cases:
        problems, rc, elapsed, rss, err = run_case(gap, c, work, a.timeout, a.max_rss_mb)
        counts["cases"] += 1
        worst_rss, worst_time = max(worst_rss, rss), max(worst_time, elapsed)
        pp = per_parser.setdefault(c.parser, [0, 0])
        pp[0] += 1
        if not problems:
            counts["ok"] += 1
            pp[1] += 1
            continue
        for pr in problems:
            key = ("accepted" if pr.startswith("accepted") else "panic" if pr == "panic" else
                   "hang" if pr.startswith("hang") else "rss" if "RSS" in pr else "message")
            counts[key] += 1
        first = err[-1] if err else ""
        print(f"FAIL {c.name}: {'; '.join(problems)} (exit {rc}, {elapsed:.1f} s, {rss:.0f} MB) {first[:200]}", flush=True)
    if not a.keep and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    print("per parser (ok/cases): " + ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in per_parser.items()))
    print(f"corpus: {counts['cases']} cases, {counts['ok']} ok, {counts['accepted']} silently accepted, "
          f"{counts['panic']} panics, {counts['hang']} hangs > {a.timeout:.0f} s, {counts['rss']} over {a.max_rss_mb:.0f} MB RSS, "
          f"{counts['message']} unclear messages; peak RSS {worst_rss:.0f} MB, slowest {worst_time:.1f} s")
    return 0 if counts["ok"] == counts["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
