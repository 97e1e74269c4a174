# SANSA on FSS-1000 with SANSA's settings (README, inference_fss.py, main.py): frozen SAM2 Hiera-L with adapters in
# stages 2 and 3 (ratio 0.3), FSS-1000 at 518 px, one episode per test image (2400), seed 0, AdamW 1e-4, batch 32,
# 5 epochs. Released adapter: SANSA's "FSS-1000" download (91.4 mIoU 1-shot):
#   python tools/test.py configs/sansa_fss1000.py ADAPTER.pth --cfg-options sam2_weights=sam2_hiera_large.pt
_base_ = ['./_base_/models/sansa_hiera_l.py', './_base_/datasets/sansa_fss1000.py',
          './_base_/schedules/sansa_adamw.py']
