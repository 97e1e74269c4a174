"""FSS-SAM3 over Meta's sam3 package (issue 30): the canvas geometry of FSS-SAM3's evaluate.py, exemplar boxes from
masks, a tiny SAM 3 against the package's own Sam3Processor on the same canvas, Meta's sam3.pt read and other files
refused, nothing downloaded, and the package's CUDA-only calls made to run on the CPU."""
import hashlib
import socket

import numpy as np
import pytest
import torch
from PIL import Image

from integrations.foundation.meta_device import CudaToDefaultDevice
from integrations.sam3.boxes import mask_box, support_boxes
from integrations.sam3.canvas import (
    Cell,
    box_on_canvas,
    crop_back,
    few_shot_cells,
    one_shot_cells,
    paste,
    point_on_canvas,
)
from integrations.sam3.model import to_rgb_uint8
from integrations.sam3.sam3_model import BPE_SHA256, DETECTOR, bpe_vocabulary, read_sam3_weights
from tests.sam3_fixtures import TINY, tiny_fss_sam3

SIZE = 1008


def covers_the_canvas_once(cells, size=SIZE):
    counts = np.zeros((size, size), np.int32)
    for cell in cells:
        counts[cell.y0:cell.y0 + cell.h, cell.x0:cell.x0 + cell.w] += 1
    return (counts == 1).all()


@pytest.mark.parametrize("orientation, swap, support, query", [  # evaluate.py's PairwiseSam3Evaluator.create_input
    ("vertical", False, Cell(0, 0, 1008, 604), Cell(0, 604, 1008, 404)),
    ("vertical", True, Cell(0, 404, 1008, 604), Cell(0, 0, 1008, 404)),
    ("horizontal", False, Cell(0, 0, 604, 1008), Cell(604, 0, 404, 1008)),
    ("horizontal", True, Cell(404, 0, 604, 1008), Cell(0, 0, 404, 1008)),
])
def test_the_one_shot_canvas_has_fss_sam3s_cells(orientation, swap, support, query):
    assert one_shot_cells(SIZE, orientation, 0.6, swap) == (support, query)
    assert covers_the_canvas_once([support, query])


def test_the_five_shot_layouts_have_fss_sam3s_cells_and_strips_take_any_number_of_shots():
    supports, query = few_shot_cells(5, SIZE, "l_shape", 0.3)  # band round(302.4) = 302, top 336, left 353
    assert supports == [Cell(0, 0, 336, 302), Cell(336, 0, 336, 302), Cell(672, 0, 336, 302),
                        Cell(0, 302, 302, 353), Cell(0, 655, 302, 353)] and query == Cell(302, 302, 706, 706)
    supports, query = few_shot_cells(5, SIZE, "vertical_strip", 0.3)
    assert supports[0] == Cell(0, 0, 302, 201) and supports[4] == Cell(0, 804, 302, 204)
    assert query == Cell(302, 0, 706, 1008)
    supports, query = few_shot_cells(5, SIZE, "horizontal_strip", 0.3)
    assert supports[3] == Cell(603, 0, 201, 302) and query == Cell(0, 302, 1008, 706)
    for shots in (2, 3, 7):
        for layout in ("vertical_strip", "horizontal_strip"):
            cells, query = few_shot_cells(shots, SIZE, layout, 0.3)
            assert len(cells) == shots and covers_the_canvas_once([*cells, query])
    with pytest.raises(ValueError, match="the 'l_shape' canvas holds 5 supports, got 3"):
        few_shot_cells(3, SIZE, "l_shape", 0.3)
    with pytest.raises(ValueError, match=r"share of the canvas must be in \(0, 1\), got 1\.2"):
        one_shot_cells(SIZE, "vertical", 1.2)


def test_a_box_follows_its_image_onto_the_canvas():
    """The prompt is the box of the same pixels painted into the image and pasted with it (to a pixel)."""
    image = np.zeros((150, 230, 3), np.uint8)
    box = [40.0, 30.0, 99.0, 59.0]  # x, y, w, h (max - min)
    image[30:90, 40:140] = 255
    cell = Cell(0, 604, 1008, 404)
    canvas = paste([image], [cell])
    ys, xs = np.nonzero(canvas[..., 0] > 127)
    cx, cy, w, h = box_on_canvas(box, image.shape[:2], cell)
    pixel_x, pixel_y = cell.w / image.shape[1], cell.h / image.shape[0]  # one image pixel on the canvas
    assert abs(cx * SIZE - (xs.min() + xs.max()) / 2) <= pixel_x
    assert abs(cy * SIZE - (ys.min() + ys.max()) / 2) <= pixel_y
    assert abs(w * SIZE - (xs.max() - xs.min())) <= 1.1 * pixel_x and abs(h * SIZE - (ys.max() - ys.min())) <= (
        1.1 * pixel_y)
    assert pixel_x > 4  # the box moved and scaled: a wrong scale or offset is off by more than a pixel


def test_a_mask_stretched_onto_the_canvas_and_cropped_back_is_itself_where_its_cell_is_its_size():
    mask = np.random.default_rng(0).integers(0, 2, (404, 1008)).astype(np.uint8)
    canvas = np.zeros((SIZE, SIZE), np.uint8)
    canvas[604:] = mask
    assert np.array_equal(crop_back(canvas, Cell(0, 604, 1008, 404), (404, 1008)), mask)
    small = crop_back(canvas, Cell(0, 604, 1008, 404), (101, 252))  # PIL's nearest, as FSS-SAM3
    assert np.array_equal(small, np.asarray(Image.fromarray(mask).resize((252, 101), Image.NEAREST)))


def test_a_support_mask_gives_one_box_per_object_or_one_around_all():
    mask = np.zeros((60, 80), np.uint8)
    mask[5:15, 10:30] = 1  # 20 x 10 pixels
    mask[40:55, 50:52] = 1
    assert support_boxes(mask) == [[10.0, 5.0, 19.0, 9.0], [50.0, 40.0, 1.0, 14.0]]
    assert support_boxes(mask, "union") == [[10.0, 5.0, 41.0, 49.0]]
    mask[15, 30] = 1  # touching diagonally: one object (8-connected)
    assert support_boxes(mask)[0] == [10.0, 5.0, 20.0, 10.0]
    with pytest.raises(ValueError, match="the support mask has no object pixel"):
        support_boxes(np.zeros((4, 4)))


def test_normalised_images_give_back_their_pixels():
    pixels = np.random.default_rng(1).integers(0, 256, (2, 3, 17, 9)).astype(np.float32)
    mean, std = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1), torch.tensor([58.395, 57.12, 57.375]).view(
        3, 1, 1)
    normalised = (torch.from_numpy(pixels) - mean) / std
    assert np.array_equal(to_rgb_uint8(normalised), pixels.transpose(0, 2, 3, 1).astype(np.uint8))


@pytest.fixture(scope="module")
def model():
    return tiny_fss_sam3()


def processor_result(model, canvas, boxes, threshold):
    """(mask on the canvas, kept scores) of the package's own Sam3Processor: one box prompt after another."""
    from sam3.model.sam3_image_processor import Sam3Processor

    processor = Sam3Processor(model.sam3, resolution=model.canvas_size, device="cpu", confidence_threshold=threshold)
    with torch.no_grad(), CudaToDefaultDevice():
        state = processor.set_image(Image.fromarray(canvas))
        for box in boxes:
            state = processor.add_geometric_prompt(state=state, box=box, label=True)
    masks = state["masks"]
    return (masks[:, 0].any(0) if len(masks) else torch.zeros(canvas.shape[:2], dtype=torch.bool)), state["scores"]


@pytest.mark.parametrize("shots", [1, 5])
def test_the_query_mask_is_the_packages_own_processor_result_cropped_back(model, shots):
    rng = np.random.default_rng(shots)
    query = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    supports = [rng.integers(0, 256, (70 + 9 * shot, 110, 3), dtype=np.uint8) for shot in range(shots)]
    boxes = [[[5.0 + shot, 8.0, 50.0, 40.0]] for shot in range(shots)]
    model.score_threshold = 0.0
    every = model.segment(query, supports, boxes).scores
    model.score_threshold = float(every.sort().values[len(every) // 2 - 1: len(every) // 2 + 1].mean())
    with torch.no_grad():
        ours = model.segment(query, supports, boxes)
    cells, query_cell = model.canvas_cells(shots)
    canvas = paste([*supports, query], [*cells, query_cell], model.canvas_size)
    prompts = [box_on_canvas(box[0], image.shape[:2], cell, model.canvas_size)
               for image, box, cell in zip(supports, boxes, cells)]
    canvas_mask, scores = processor_result(model, canvas, prompts, model.score_threshold)
    assert 0 < len(ours.scores) < len(every)
    assert torch.allclose(ours.scores, scores, atol=1e-5)
    assert np.array_equal(ours.mask.numpy(), crop_back(canvas_mask.numpy(), query_cell, query.shape[:2]) > 0)


def test_the_support_box_steers_the_result_and_a_high_threshold_keeps_nothing(model):
    rng = np.random.default_rng(3)
    query, support = rng.integers(0, 256, (2, 80, 80, 3), dtype=np.uint8)
    model.score_threshold = 0.0
    here = model.segment(query, [support], [[[2.0, 2.0, 20.0, 20.0]]])
    there = model.segment(query, [support], [[[50.0, 40.0, 25.0, 35.0]]])
    assert (here.scores - there.scores).abs().max() > 1e-4
    model.score_threshold = 0.99
    nothing = model.segment(query, [support], [[[2.0, 2.0, 20.0, 20.0]]])
    assert len(nothing.scores) == 0 and not nothing.mask.any()


def test_predict_takes_each_support_masks_components_as_its_boxes(model):
    from crc_modules import KShotPredictor

    model.score_threshold = 0.2
    rng = np.random.default_rng(4)
    images = torch.from_numpy(rng.normal(size=(3, 3, 60, 60)).astype(np.float32))
    labels = torch.zeros(2, 60, 60, dtype=torch.long)
    labels[0, 5:20, 5:25], labels[0, 40:50, 30:55], labels[1, 10:30, 10:30] = 1, 1, 1
    probability = KShotPredictor("fusion")(model, images[:2], labels, images[2:])
    direct = model.segment(to_rgb_uint8(images[2:])[0], list(to_rgb_uint8(images[:2])),
                           [support_boxes(label.numpy()) for label in labels])
    assert torch.equal(probability[0, 0] > 0.5, direct.mask)
    empty = labels.clone()
    empty[1] = 0
    with pytest.raises(ValueError, match="support 2 of 2: the support mask has no object pixel"):
        KShotPredictor("fusion")(model, images[:2], empty, images[2:])


def meta_file(model, path, *, flat=False, tracker=2):
    """The tiny model's weights written as Meta's sam3.pt: ``detector.*`` plus some ``tracker.*`` entries."""
    state = {DETECTOR + key: value.clone() for key, value in model.sam3.state_dict().items()}
    state.update({f"tracker.maskmem_backbone.{index}": torch.zeros(2) for index in range(tracker)})
    torch.save(state if flat else {"model": state}, path)
    return str(path)


@pytest.mark.parametrize("flat", [False, True])
def test_metas_file_fills_the_image_model_flat_or_under_model(model, tmp_path, flat, caplog_mmengine):
    from integrations.sam3 import FSSSAM3

    path = meta_file(model, tmp_path / "sam3.pt", flat=flat)
    torch.manual_seed(1)
    other = FSSSAM3(sam3_weights=path, **TINY)
    assert not torch.equal(other.sam3.transformer.decoder.query_embed.weight,
                           model.sam3.transformer.decoder.query_embed.weight)
    other.init_weights()  # what the tools run: the frozen files are read here
    for key, value in model.sam3.state_dict().items():
        assert torch.equal(other.sam3.state_dict()[key], value), key
    assert "2 tracker tensors (SAM 3's video model) left out" in caplog_mmengine.text
    assert other.state_dict() == {}  # nothing of SAM 3 goes into a checkpoint


def test_a_sam3_file_with_nan_values_is_refused_naming_it(model, tmp_path):
    from integrations.sam3 import FSSSAM3

    path = meta_file(model, tmp_path / "sam3.pt")
    state = torch.load(path, weights_only=True)
    key = DETECTOR + "transformer.decoder.query_embed.weight"
    state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"sam3\.pt \(given as sam3_weights\) holds NaN or infinite values \(1 "
                                         r"tensors, e\.g\. transformer\.decoder\.query_embed\.weight\)"):
        FSSSAM3(sam3_weights=path, **TINY).init_weights()


def test_other_files_given_as_sam3_weights_are_refused_naming_what_they_hold(model, tmp_path):
    from tests.foundation_fixtures import write_meta_sam2_file

    write_meta_sam2_file(tmp_path / "sam2_hiera_tiny.pt")
    with pytest.raises(ValueError, match=r"sam2_hiera_tiny\.pt \(given as sam3_weights\) holds SAM2 Hiera-T, but the "
                                         r"config builds SAM 3 of no released size \(ViT width 32, 2 blocks\)"):
        read_sam3_weights(str(tmp_path / "sam2_hiera_tiny.pt"), model.sam3)
    torch.save({"patch_embed.proj.weight": torch.zeros(384, 3, 14, 14), "cls_token": torch.zeros(1)},
               tmp_path / "dinov2_vits14_pretrain.pth")
    with pytest.raises(ValueError, match=r"dinov2_vits14_pretrain\.pth \(given as sam3_weights\) holds DINOv2 "
                                         r"ViT-S/14"):
        read_sam3_weights(str(tmp_path / "dinov2_vits14_pretrain.pth"), model.sam3)
    released = {DETECTOR + "backbone.vision_backbone.trunk.patch_embed.proj.weight": torch.zeros(1024, 3, 14, 14),
                **{f"{DETECTOR}backbone.vision_backbone.trunk.blocks.{i}.norm1.weight": torch.zeros(1)
                   for i in range(32)}}
    torch.save({"model": released}, tmp_path / "sam3.pt")
    with pytest.raises(ValueError, match=r"sam3\.pt \(given as sam3_weights\) holds SAM 3, but the config builds SAM 3 "
                                         r"of no released size"):
        read_sam3_weights(str(tmp_path / "sam3.pt"), model.sam3)


def test_nothing_is_downloaded_building_loading_and_segmenting(model, tmp_path, monkeypatch):
    path = meta_file(model, tmp_path / "sam3.pt")

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr("huggingface_hub.hf_hub_download", no_network)
    monkeypatch.setattr("sam3.model_builder.download_ckpt_from_hf", no_network)
    from integrations.sam3 import FSSSAM3

    loaded = FSSSAM3(sam3_weights=path, **TINY).eval()
    loaded.init_weights()
    image = np.zeros((40, 40, 3), np.uint8)
    assert loaded.segment(image, [image], [[[1.0, 1.0, 10.0, 10.0]]]).mask.shape == (40, 40)


def test_the_bpe_vocabulary_is_clips_checked_by_its_hash():
    with open(bpe_vocabulary(), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == BPE_SHA256


def test_cuda_only_calls_of_the_package_run_on_the_cpu():
    with CudaToDefaultDevice():
        tensor = torch.zeros(2, device="cuda" if not torch.cuda.is_available() else "cpu")
        assert tensor.device.type == "cpu"
        pinned = tensor.pin_memory() if not torch.cuda.is_available() else tensor
        assert pinned is tensor


def test_moving_the_model_forgets_the_packages_device_caches(model):
    model.score_threshold = 0.0
    image = np.zeros((30, 30, 3), np.uint8)
    model.segment(image, [image], [[[1.0, 1.0, 10.0, 10.0]]])
    caches = [module for module in model.sam3.modules() if isinstance(getattr(module, "cache", None), dict)]
    assert any(module.cache for module in caches)
    model.to("cpu")  # any move goes through _apply
    assert not any(module.cache for module in caches) and model._text == {}


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_tiny_fss_sam3_built_on_the_cpu_segments_on_cuda_as_on_the_cpu():
    """Built on the CPU (the package's CUDA-only build steps redirected) and moved: its caches follow the device.
    Reading: kernel-order differences may move a score across the threshold, so 99% of the pixels must agree."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    model = tiny_fss_sam3(score_threshold=0.2)
    rng = np.random.default_rng(5)
    query, support = rng.integers(0, 256, (2, 90, 70, 3), dtype=np.uint8)
    boxes = [[[5.0, 6.0, 40.0, 50.0]]]
    with torch.no_grad():
        on_cpu = model.segment(query, [support], boxes)
        on_cuda = model.to("cuda").segment(query, [support], boxes)
    assert on_cuda.mask.device.type == "cuda"
    assert (on_cuda.mask.cpu() == on_cpu.mask).float().mean() >= 0.99
    assert abs(len(on_cuda.scores) - len(on_cpu.scores)) <= 1


def test_prompts_become_a_box_rectangle_and_exemplar_points_on_the_canvas(model):
    images = torch.zeros(1, 3, 50, 60)
    coords = torch.tensor([[[10.0, 5.0], [30.0, 25.0], [40.0, 45.0], [3.0, 4.0]]])
    (_, rectangle, points), logits = model.encode_prompts(images, coords, torch.tensor([[2, 3, 1, 0]]))
    assert mask_box(rectangle[0, 0].numpy()) == [10.0, 5.0, 20.0, 20.0]
    assert points[0, :2].tolist() == [[40.0, 45.0, 1.0], [3.0, 4.0, 0.0]] and (points[0, 2:, 2] == -1).all()
    assert logits[0, 0, 45, 40] > 0 and logits[0, 0, 4, 3] < 0  # the positive click is object, the negative not
    cell = Cell(0, 604, 1008, 404)  # a 50 x 60 image stretched to 1008 x 404
    assert point_on_canvas((40, 45, 1), (50, 60), cell) == [40.5 * 1008 / 60 / 1008, (45.5 * 404 / 50 + 604) / 1008,
                                                             1.0]
    rng = np.random.default_rng(7)
    query, support = rng.integers(0, 256, (2, 60, 60, 3), dtype=np.uint8)
    model.score_threshold = 0.0
    by_box = model.segment(query, [support], [[[5.0, 5.0, 30.0, 30.0]]])
    with_point = model.segment(query, [support], [[[5.0, 5.0, 30.0, 30.0]]], [[[50.0, 50.0, 1.0]]])
    point_alone = model.segment(query, [support], [[]], [[[20.0, 20.0, 1.0]]])
    assert (by_box.scores - with_point.scores).abs().max() > 1e-5
    assert (point_alone.scores - by_box.scores).abs().max() > 1e-5
