# SANSA's generalist in-context adapter (adapter_generalist.pth, --channel_factor 0.8) tested on FSS-1000 as
# inference_fss.py runs it (SANSA's README: 90.0 mIoU): 518 px, one episode per test image, seed 0:
#   python tools/test.py configs/sansa_generalist_fss1000.py adapter_generalist.pth \
#       --cfg-options sam2_weights=sam2_hiera_large.pt
# Its multi-dataset training has no loaders here: tools/train.py with this config trains a 0.8-wide adapter on
# FSS-1000's training classes alone, which is not SANSA's generalist.
_base_ = ['./sansa_fss1000.py']
model = dict(model=dict(adapter_ratio=0.8))
