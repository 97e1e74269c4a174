"""The page's logic without a browser (integrations/mmseg/apis/demo_page, issue 26): uploads and their checks, zips
in and out, support marking, sessions, and runs that give tools/infer.py's masks byte for byte."""
import io
import os
import struct
import threading
import time
import zipfile
import zlib

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from integrations.foundation.prompt_masks import PromptMasker
from integrations.foundation.prompts import SupportPrompt
from integrations.mmseg.apis.demo_page.drawing import ADD_RGB, REMOVE_RGB, editor_value, marks_picture, strokes
from integrations.mmseg.apis.demo_page.limits import UploadLimits
from integrations.mmseg.apis.demo_page.model import PageModel, RunSettings
from integrations.mmseg.apis.demo_page.queries import read_queries
from integrations.mmseg.apis.demo_page.runs import marked_supports, run_queries
from integrations.mmseg.apis.demo_page.sessions import SessionStore
from integrations.mmseg.apis.demo_page.supports import NO_SAM2, Support, add_supports, preview_of
from integrations.mmseg.apis.demo_page.uploads import UploadedImage, UploadProblem, check_image
from integrations.mmseg.apis.demo_page.zip_input import unpack_images
from integrations.mmseg.apis.predictor import working_size
from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.engine.run_options import resolve_config
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.foundation_fixtures import tiny_sam2
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")
demo, infer = load_tool("demo"), load_tool("infer")

LIMITS = UploadLimits()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (8-bit RGB) and whose data is one empty row: what a decompression
    bomb or a camera's 12000x9000 photo looks like to a header check, in 60 bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def _scene(seed, shape=(60, 80)):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
    return cv2.GaussianBlur(image, (5, 5), 0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Exported random weights of the generated config's CRCNet, two supports (one with a mask file), three queries."""
    root = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    export_weights(FewShotSegmentor.build(Config.fromfile(CONFIG)), str(root / "weights.pth"))
    (root / "queries").mkdir()
    for index, name in enumerate(["s1.jpg", "s2.jpg", "queries/q1.jpg", "queries/q2.png", "queries/q3.jpg"]):
        cv2.imwrite(str(root / name), _scene(index))
    mask = np.zeros((60, 80), np.uint8)
    mask[15:45, 20:60] = 255
    cv2.imwrite(str(root / "s1_mask.png"), mask)
    return root


@pytest.fixture(scope="module")
def model(files):
    return PageModel(resolve_config(Config.fromfile(CONFIG), {}), str(files / "weights.pth"))


def test_the_page_listens_on_this_machine_only_unless_told_and_the_checkpoint_is_optional():
    args = demo.parse_args([CONFIG])
    assert (args.host, args.checkpoint) == ("127.0.0.1", None)
    assert demo.parse_args([CONFIG, "w.pth", "--host", "0.0.0.0"]).host == "0.0.0.0"


def test_the_working_size_a_refusal_names_can_be_given_to_the_page(files):
    """A support whose object vanishes at the working size names the size to use as --size: the page has it."""
    assert demo.parse_args([CONFIG]).size is None and demo.parse_args([CONFIG, "--size", "640"]).size == 640
    cfg = resolve_config(Config.fromfile(CONFIG), {})
    assert PageModel(cfg, str(files / "weights.pth"), size=640).predictor.size == 640
    assert PageModel(cfg, str(files / "weights.pth")).predictor.size == working_size(cfg)


# ---- uploads: checked from their header, refused by name -----------------------------------------------------

def test_bad_uploads_are_refused_naming_the_file_before_anything_is_decoded(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "huge.png").write_bytes(png_declaring(12000, 9000))
    (tmp_path / "bomb.png").write_bytes(png_declaring(100000, 100000))
    cv2.imwrite(str(tmp_path / "fine.png"), _scene(0))
    assert check_image(str(tmp_path / "fine.png"), "fine.png", LIMITS) == (60, 80)
    for name, message in (("empty.jpg", "empty.jpg is an empty file (0 bytes)"),
                          ("notes.jpg", "notes.jpg is not an image the page can read"),
                          ("huge.png", "huge.png is 12000x9000 (108 megapixels), above the page's 64 megapixels per "
                                       "image (tools/demo.py --max-megapixels): make it smaller, or segment it with "
                                       "tools/infer.py"),
                          ("bomb.png", "bomb.png is not an image the page can read (DecompressionBombError)")):
        with pytest.raises(UploadProblem) as refused:
            check_image(str(tmp_path / name), name, LIMITS)
        assert str(refused.value).startswith(message), str(refused.value)
    small = UploadLimits(max_file_bytes=100)
    with pytest.raises(UploadProblem, match=r"fine.png is 0 MiB, above the page's 0 MiB per file"):
        check_image(str(tmp_path / "fine.png"), "fine.png", small)


def test_queries_from_files_and_a_zip_keep_the_good_ones_and_name_every_bad_one(files, tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "empty.jpg").write_bytes(b"")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(files / "queries" / "q1.jpg", "photos/a.jpg")
        zipped.write(files / "queries" / "q3.jpg", "trip/a.jpg")
        zipped.write(files / "queries" / "q2.png", "b.png")
        zipped.writestr("notes.txt", "not an image")
        zipped.writestr("inner.zip", b"PK")
        zipped.writestr("../../escape.jpg", (files / "queries" / "q1.jpg").read_bytes())
        zipped.writestr("broken.jpg", b"\xff\xd8 not a jpeg")
        zipped.writestr("__MACOSX/photos/._a.jpg", b"resource fork")
        zipped.writestr("photos/", b"")
    (upload / "queries.zip").write_bytes(archive.getvalue())
    cv2.imwrite(str(upload / "a.jpg"), _scene(7))
    images, messages = read_queries([str(upload / name) for name in ("a.jpg", "empty.jpg", "queries.zip")],
                                    str(tmp_path / "session"), LIMITS)
    assert [image.name for image in images] == ["a.jpg", "queries.zip/photos/a.jpg", "queries.zip/trip/a.jpg",
                                                "queries.zip/b.png", "queries.zip/escape.jpg"]
    assert all(image.path.startswith(str(tmp_path / "session")) for image in images)  # '..' cannot leave it
    assert [(image.height, image.width) for image in images] == [(60, 80)] * 5
    assert messages[0] == "empty.jpg is an empty file (0 bytes)"
    assert "queries.zip/notes.txt is not an image (left out)" in messages
    assert "queries.zip/inner.zip is not an image (left out)" in messages
    assert any(message.startswith("queries.zip/broken.jpg is not an image the page can read") for message in messages)
    assert messages[-1] == ("queries.zip: images taken from its folders photos/, trip/ (output names keep a folder "
                            "where two names meet)")
    assert not any("MACOSX" in message for message in messages)
    names = infer.output_names([image.path for image in images])  # named as tools/infer.py names a folder's files
    assert [names[image.path] for image in images] == ["session_a_jpg", "photos_a_jpg", "trip_a_jpg", "b", "escape"]


def test_a_zip_is_read_up_to_the_bounds_whatever_its_headers_claim(files, tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for index in range(4):
            zipped.write(files / "queries" / "q1.jpg", f"q{index}.jpg")
        zipped.writestr("zeros.png", b"\0" * 300_000)  # deflates to a few hundred bytes
    limits = UploadLimits(max_file_bytes=100_000)
    images, messages = unpack_images(str(archive), "many.zip", str(tmp_path / "out"), limits, 3, "at most 3")
    assert [image.name for image in images] == ["many.zip/q0.jpg", "many.zip/q1.jpg", "many.zip/q2.jpg"]
    assert messages == ["many.zip/q3.jpg is left out: at most 3",
                        "many.zip/zeros.png is left out: at most 3"]
    images, messages = unpack_images(str(archive), "many.zip", str(tmp_path / "out2"), limits, 10, "")
    assert messages == ["many.zip/zeros.png is 0 MiB unpacked, above the page's 0 MiB per file"]
    (tmp_path / "fake.zip").write_text("not a zip")
    assert unpack_images(str(tmp_path / "fake.zip"), "fake.zip", str(tmp_path), limits, 3, "")[1][0].startswith(
        "fake.zip is not a zip archive the page can read")


# ---- supports and their marks --------------------------------------------------------------------------------

def test_supports_take_their_mask_files_by_name_and_bad_ones_are_named(files, tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    for name in ("s1.jpg", "s1_mask.png", "s2.jpg"):
        (upload / name).write_bytes((files / name).read_bytes())
    cv2.imwrite(str(upload / "s2_mask.png"), np.zeros((60, 80), np.uint8))
    cv2.imwrite(str(upload / "s3_mask.png"), np.full((60, 80), 255, np.uint8))
    (upload / "s4.jpg").write_bytes(b"")
    supports = []
    messages = add_supports(supports, [str(upload / name) for name in ("s1.jpg", "s1_mask.png", "s2.jpg",
                                                                        "s2_mask.png", "s3_mask.png", "s4.jpg")],
                            str(tmp_path / "session"), LIMITS)
    assert [support.image.name for support in supports] == ["s1.jpg", "s2.jpg"]
    expected = (cv2.imread(str(files / "s1_mask.png"), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
    assert np.array_equal(supports[0].mask, expected) and supports[0].how == "mask file"
    assert supports[1].mask is None
    assert messages == ["s4.jpg is an empty file (0 bytes)",
                        "s2_mask.png marks nothing (no nonzero pixel): mark s2.jpg in the page",
                        "s3_mask.png is named as the mask of s3.*, which is not among the supports: upload it "
                        "with its image"]
    cv2.imwrite(str(upload / "s2_mask.png"), np.full((20, 20), 255, np.uint8))
    assert add_supports(supports, [str(upload / "s2_mask.png")], str(tmp_path / "session"), LIMITS) == [
        "s2_mask.png is 20x20 but its image s2.jpg is 80x60"]
    full = UploadLimits(max_supports=2)
    assert add_supports(supports, [str(upload / "s1.jpg")], str(tmp_path / "session"), full) == [
        "s1.jpg is left out: the page takes at most 2 supports"]


def _support(files, name="s1.jpg", shape=(60, 80)):
    return Support.read(UploadedImage(str(files / name), name, *shape))


def test_small_supports_are_shown_enlarged_by_a_whole_factor_and_clicks_map_back_to_their_pixel(files):
    support = _support(files)
    assert support.preview.shape == (360, 480, 3) and support.scale == 6  # 80 px -> at least 480
    assert np.array_equal(support.preview[::6, ::6], cv2.imread(str(files / "s1.jpg")))
    assert support.to_image_pixels(6 * 13 + 5, 6 * 7) == (13, 7)
    large = np.zeros((3000, 4000, 3), np.uint8)
    assert preview_of(large).shape == (768, 1024, 3)


def test_a_box_without_sam2_is_a_filled_rectangle_and_clicks_say_they_need_sam2(files):
    support = _support(files)
    assert support.click(6 * 50 + 3, 6 * 40, "box") == "s1.jpg: first corner at (50, 40); click the opposite corner"
    assert support.mask is None and support.corner == (50, 40)
    assert support.click(6 * 10, 6 * 5, "box") == "s1.jpg: box (filled rectangle: no SAM2)"
    expected = np.zeros((60, 80), np.uint8)
    expected[5:41, 10:51] = 1  # the corners' pixels are inside the box
    assert np.array_equal(support.mask, expected) and support.box == (10, 5, 51, 41)
    assert support.click(30, 30, "positive") == f"s1.jpg: {NO_SAM2}"
    assert support.points == [] and np.array_equal(support.mask, expected)
    assert support.status() == "s1.jpg: box (filled rectangle: no SAM2), 30.8% of the image"


def test_boxes_and_clicks_become_the_mask_the_shared_sam2_step_makes(files, model, monkeypatch):
    """The page's SAM2 masks are the predictor's (tools/infer.py's) for the same prompt on the full-size image."""
    monkeypatch.setattr(model.predictor, "_masker", PromptMasker(tiny_sam2()))
    support = _support(files)
    support.click(6 * 10, 6 * 5, "box")
    message = support.click(6 * 50, 6 * 40, "box", model.prompt_mask)
    rgb = cv2.imread(str(files / "s1.jpg"))[..., ::-1].copy()
    reference = PromptMasker(tiny_sam2())
    prompt = SupportPrompt(box=(10, 5, 51, 41))
    expected = reference.mask(rgb, prompt.checked((60, 80), "s1.jpg"), "s1.jpg")
    assert message == "s1.jpg: box (SAM2)" and np.array_equal(support.mask, expected)
    assert np.array_equal(support.mask, model.predictor.support_mask(rgb, "10,5,51,41", "s1.jpg"))
    seen = []
    monkeypatch.setattr(model.predictor._masker, "mask", lambda image, prompt, name: seen.append(
        (image.shape, prompt)) or np.pad(np.ones((10, 10), np.uint8), ((0, 50), (0, 70))))
    assert support.click(6 * 20, 6 * 30, "negative", model.prompt_mask) == "s1.jpg: box + clicks (SAM2)"
    assert seen == [((60, 80, 3), SupportPrompt(box=(10, 5, 51, 41), points=((20, 30, 0),)))]
    assert support.mask.sum() == 100 and support.points == [(20, 30, 0)]
    support.clear()
    assert support.click(6 * 20, 6 * 30, "negative", model.prompt_mask) == (
        "s1.jpg has only negative clicks: add a positive click (+x,y) or a box on the object")
    assert support.points == [] and support.mask is None


def test_the_pages_box_goes_through_sam2_where_the_model_has_it(files, model, monkeypatch, tmp_path):
    """The page's own events (the functions its layout binds), without a browser: the help says SAM2 is there,
    and two clicks on the support's picture give the mask SAM2 makes of their box."""
    import gradio as gr

    from integrations.mmseg.apis.demo_page.layout import TOOL_LABELS, build_page

    monkeypatch.setattr(model.predictor, "_masker", PromptMasker(tiny_sam2()))
    monkeypatch.setattr(model, "prompt_model", "SAM2")
    store = SessionStore(str(tmp_path / "sessions"))
    page = build_page(model, store, LIMITS, "title", "about")
    events = {block_fn.fn.__name__: block_fn.fn for block_fn in page.fns.values() if block_fn.fn is not None}
    assert "become a mask at once (SAM2)" in next(block.value for block in page.blocks.values()
                                                  if getattr(block, "elem_id", None) == "clicks-help")
    request = type("Request", (), {"session_hash": "one tab"})()
    events["add"]([str(files / "s1.jpg")], "clicks", request)
    for x, y in ((6 * 10, 6 * 5), (6 * 50, 6 * 40)):
        picture, status, messages = events["click"](TOOL_LABELS["box"], 0, gr.SelectData(
            None, {"index": [x, y], "value": None}), request)
    assert "s1.jpg: box (SAM2)" in status and picture.shape == (360, 480, 3)
    rgb = cv2.imread(str(files / "s1.jpg"))[..., ::-1].copy()
    expected = PromptMasker(tiny_sam2()).mask(rgb, SupportPrompt(box=(10, 5, 51, 41)).checked((60, 80), "s1"))
    assert np.array_equal(store.session("one tab").supports[0].mask, expected)


def test_painting_adds_and_removes_over_the_mask_shown_and_keeps_its_full_size_elsewhere(files):
    support = _support(files)
    support.use_mask_file(str(files / "s1_mask.png"))
    original = support.mask.copy()
    support.start_painting()
    nothing = np.zeros((360, 480), np.uint8)
    assert not support.paint(nothing, nothing)  # the editor reports back what the page set
    added, removed = nothing.copy(), nothing.copy()
    added[0:60, 0:120] = 1  # image pixels (0..19, 0..9)
    removed[90:270, 120:240] = 1  # image pixels (20..39, 15..44): inside the mask file's square
    assert support.paint(added, removed)
    expected = original.copy()
    expected[0:10, 0:20] = 1
    expected[15:45, 20:40] = 0
    assert np.array_equal(support.mask, expected) and support.how == "mask file, painted over"
    assert support.paint(nothing, nothing) and np.array_equal(support.mask, original)  # strokes erased: as before
    with pytest.raises(ValueError, match=r"painting of 10x10 does not fit the preview of s1.jpg \(480x360\)"):
        support.paint(np.zeros((10, 10)), np.zeros((10, 10)))


def test_the_editors_strokes_are_read_by_colour():
    layer = np.zeros((4, 6, 4), np.uint8)
    layer[0, :2] = (*ADD_RGB, 180)
    layer[1, :3] = (*REMOVE_RGB, 180)
    layer[2, 0] = (200, 120, 40, 90)  # a blend at a stroke's edge: nearer red
    added, removed = strokes([None, layer], (4, 6))
    assert added.sum() == 2 and added[0, :2].all()
    assert removed.sum() == 4 and removed[1, :3].all() and removed[2, 0]
    with pytest.raises(ValueError, match=r"a painted layer of 6x4 does not fit the 5x5 support"):
        strokes([layer], (5, 5))


def test_what_the_page_shows_of_a_support(files):
    support = _support(files)
    support.use_mask_file(str(files / "s1_mask.png"))
    value = editor_value(support)
    assert value["background"].shape == (360, 480, 3) and value["layers"] == []
    assert not np.array_equal(value["background"], support.preview[..., ::-1])  # the mask is tinted
    support.click(60, 30, "box")
    picture = marks_picture(support)
    assert picture.shape == (360, 480, 3) and tuple(picture[30, 60]) != tuple(value["background"][30, 60])


# ---- sessions ---------------------------------------------------------------------------------------------

def test_each_session_has_its_own_folder_removed_when_it_ends(tmp_path):
    store = SessionStore(str(tmp_path / "sessions"), max_idle_s=3600)
    first, second = store.session("a"), store.session("b")
    assert store.session("a") is first and first.folder != second.folder
    assert os.path.dirname(first.folder) == str(tmp_path / "sessions")
    (tmp_path / "sessions" / os.path.basename(first.folder) / "x.txt").write_text("x")
    store.close("a")
    assert not os.path.exists(first.folder) and os.path.isdir(second.folder) and len(store) == 1
    store.close("a")  # closing twice is harmless
    second.last_used -= 7200
    store.session("c")  # idle sessions are closed on the way
    assert not os.path.exists(second.folder) and len(store) == 1
    third = store.session("c")
    third.lock.acquire()
    closer = threading.Thread(target=store.close, args=("c",))
    closer.start()
    closer.join(0.2)
    assert closer.is_alive() and os.path.isdir(third.folder)  # a run in progress finishes first
    third.lock.release()
    closer.join(5)
    assert not os.path.exists(third.folder)
    with pytest.raises(ValueError, match="session key"):
        store.session("")


def test_gradios_copies_of_a_sessions_uploads_go_with_it_and_nothing_outside_its_folder_does(tmp_path):
    uploads = tmp_path / "gradio"
    store = SessionStore(str(tmp_path / "sessions"), transfers_root=str(uploads))
    (uploads / "ab12").mkdir(parents=True)
    (uploads / "ab12" / "q1.jpg").write_bytes(b"x")
    (tmp_path / "mine.jpg").write_bytes(b"x")
    session = store.session("a")
    session.transfers = [str(uploads / "ab12" / "q1.jpg"), str(tmp_path / "mine.jpg"),
                         str(uploads / "ab12" / ".." / ".." / "mine.jpg")]
    store.close("a")
    assert not (uploads / "ab12").exists() and (tmp_path / "mine.jpg").exists()
    idle = store.session("b")
    idle.last_used -= 7 * 3600
    store.sweep_idle(0.05)
    waited = time.monotonic()
    while os.path.exists(idle.folder) and time.monotonic() - waited < 10:
        time.sleep(0.05)
    assert not os.path.exists(idle.folder) and len(store) == 0  # closed with nobody using the page


# ---- runs: tools/infer.py's masks, byte for byte ------------------------------------------------------------

def _session_with(files, store, key, mark="s1_mask.png"):
    session = store.session(key)
    uploads = [str(files / "s1.jpg")] + ([str(files / mark)] if mark else [])
    assert add_supports(session.supports, uploads, session.subfolder("supports"), LIMITS) == []
    session.queries, messages = read_queries([str(files / "queries" / name) for name in ("q1.jpg", "q2.png",
                                                                                        "q3.jpg")],
                                             session.subfolder("queries"), LIMITS)
    assert messages == []
    return session


def _infer(files, out, *extra):
    assert infer.main(["--config", CONFIG, "--checkpoint", str(files / "weights.pth"), "--support",
                       str(files / "s1.jpg"), str(files / "s1_mask.png"), "--query", str(files / "queries"),
                       "--out", str(out), *extra]) == 0
    return {name: (out / name).read_bytes() for name in os.listdir(out) if name.endswith("_mask.png")}


def test_a_run_zips_the_masks_tools_infer_writes_for_the_same_supports_and_queries(files, model, tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    session = _session_with(files, store, "a")
    progress = []
    updates = list(run_queries(model, session, RunSettings(), lambda *state: progress.append(state)))
    final = updates[-1]
    assert [len(update.gallery) for update in updates] == [0, 1, 2, 3, 3]
    assert final.messages == ["Run 1: 3 of 3 queries segmented, their masks in the zip below"]
    assert progress[0] == (0, 3, "preparing 1 support") and progress[-1] == (3, 3, "zipping the masks")
    assert progress[1:4] == [(0, 3, "query 1 of 3: q1.jpg"), (1, 3, "query 2 of 3: q2.png"),
                             (2, 3, "query 3 of 3: q3.jpg")]
    with zipfile.ZipFile(final.zip_path) as zipped:
        from_page = {name: zipped.read(name) for name in zipped.namelist()}
    assert from_page == _infer(files, tmp_path / "infer")
    assert [caption.split(" · ")[0] for _, caption in final.gallery] == ["q1.jpg", "q2.png", "q3.jpg"]
    assert all(os.path.isfile(path) and path.startswith(session.folder) for path, _ in final.gallery)

    both = list(run_queries(model, session, RunSettings(kshot_mode="both", multi_scale=True)))[-1]
    with zipfile.ZipFile(both.zip_path) as zipped:
        from_page = {name: zipped.read(name) for name in zipped.namelist()}
    assert from_page == _infer(files, tmp_path / "infer_ms", "--kshot-mode", "both", "--multi-scale")
    assert not os.path.exists(final.zip_path)  # the earlier run's results are gone; the queries stay
    assert len(session.queries) == 3


def test_a_bad_query_is_named_and_the_others_are_still_segmented(files, model, tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    session = _session_with(files, store, "a")
    with open(session.queries[1].path, "r+b") as handle:  # a good header, and then nothing to decode
        data = handle.read()
        handle.seek(0)
        handle.truncate()
        handle.write(data[:60])
    final = list(run_queries(model, session, RunSettings()))[-1]
    assert final.messages[0] == "Run 1: 2 of 3 queries segmented, their masks in the zip below"
    assert len(final.messages) == 2 and final.messages[1].startswith("q2.png is not segmented: ")
    assert session.folder not in final.messages[1]  # named as the user knows it, not by the session's copy
    with zipfile.ZipFile(final.zip_path) as zipped:
        assert zipped.namelist() == ["q1_mask.png", "q3_mask.png"]


def test_supports_that_cannot_be_prepared_are_named_as_the_user_knows_them(files, model, tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    session = _session_with(files, store, "a")
    os.remove(session.supports[0].image.path)  # the session's copy, gone
    final = list(run_queries(model, session, RunSettings()))[-1]
    assert final.zip_path is None and final.gallery == []
    assert final.messages[0] == "Run 1: no query segmented"
    assert final.messages[1].startswith("the supports could not be prepared: ") and "s1.jpg" in final.messages[1]
    assert session.folder not in final.messages[1]


def test_supports_with_nothing_marked_are_left_out_and_a_run_needs_one(files, model, tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    session = _session_with(files, store, "a", mark=None)
    updates = list(run_queries(model, session, RunSettings()))
    assert len(updates) == 1 and updates[0].zip_path is None
    assert updates[0].messages == [
        "support s1.jpg has nothing marked: left out of this run (paint the object, draw a box or click on it)",
        "nothing to run: mark the object on at least one support"]
    assert marked_supports(session.supports) == ([], updates[0].messages[:1])
    empty = store.session("b")
    assert list(run_queries(model, empty, RunSettings()))[0].messages == ["nothing to run: upload support images first"]


def test_a_run_sets_its_own_settings_and_fp32_after_bf16_gives_the_same_masks(files, model, tmp_path):
    assert model.default_settings() == RunSettings("fusion", "mean", False, "fp32")
    store = SessionStore(str(tmp_path / "sessions"))
    session = _session_with(files, store, "a")
    first = list(run_queries(model, session, RunSettings()))[-1]
    with zipfile.ZipFile(first.zip_path) as zipped:
        before = {name: zipped.read(name) for name in zipped.namelist()}
    with model.predictor_for(RunSettings(kshot_mode="finetune", kshot_fusion="vote", precision="bf16")) as predictor:
        kshot = predictor.segmentor.kshot
        assert (kshot.mode, kshot.fusion, kshot.precision) == ("finetune", "vote", "bf16")
        predictor.segmentor.model.to(memory_format=torch.channels_last)  # what a bf16 run does
    again = list(run_queries(model, session, RunSettings()))[-1]
    convolutions = [m.weight for m in model.predictor.segmentor.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(weight.is_contiguous() for weight in convolutions)
    with zipfile.ZipFile(again.zip_path) as zipped:
        assert {name: zipped.read(name) for name in zipped.namelist()} == before
    assert model.predictor.support_set is None  # a run's prepared supports are not kept
