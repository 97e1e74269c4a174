# SANSA's generalist in-context adapter (adapter_generalist.pth, --channel_factor 0.8) tested on FSS-1000 as
# inference_fss.py runs it (90.0 mIoU 1-shot): 518 px, one episode per test image, seed 0:
#   python tools/test.py configs/sansa_generalist_fss1000.py adapter_generalist.pth \
#       --cfg-options sam2_weights=sam2_hiera_large.pt
# Test only: see configs/sansa_generalist_coco.py.
_base_ = ['./sansa_fss1000.py']
model = dict(model=dict(adapter_ratio=0.8))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
