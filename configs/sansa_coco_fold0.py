# SANSA on COCO-20i fold 0 with SANSA's settings (README, inference_fss.py, main.py): frozen SAM2 Hiera-L with
# adapters in stages 2 and 3 (ratio 0.3), COCO at 640 px, 1000 test episodes, seed 0, AdamW 1e-4, batch 32, 5 epochs.
# Released adapter: adapter_coco_fold0.pth of SANSA's "COCO (4)" download (57.7 mIoU 1-shot):
#   python tools/test.py configs/sansa_coco_fold0.py ADAPTER.pth --cfg-options sam2_weights=sam2_hiera_large.pt
# Different from SANSA's code: the episodes are drawn by this project's seeded generator (same rules, other draws);
# the adapters train through MMEngine's Runner (same optimiser, schedule, clipping and loss).
_base_ = ['./_base_/models/sansa_hiera_l.py', './_base_/datasets/sansa_coco_20i.py',
          './_base_/schedules/sansa_adamw.py']
fold = 0  # the datasets' fold; a run option: --cfg-options fold=N
