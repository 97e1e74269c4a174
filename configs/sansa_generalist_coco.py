# SANSA's generalist in-context adapter (README "Generalist In-Context Segmentation": adapter_generalist.pth, trained
# on COCO + ADE20K + LVIS + PACO with --fold -1 and --channel_factor 0.8) tested on COCO-20i as inference_fss.py runs
# it: a fold's novel classes, 640 px, 1000 episodes, seed 0 (SANSA's README: COCO-20i 74.8 mIoU):
#   python tools/test.py configs/sansa_generalist_coco.py adapter_generalist.pth \
#       --cfg-options sam2_weights=sam2_hiera_large.pt fold=N
# Its multi-dataset training (COCO + ADE20K + LVIS + PACO-Part, --fold -1) has no loaders here: tools/train.py with
# this config trains a 0.8-wide adapter on COCO's other three folds alone, which is not SANSA's generalist.
_base_ = ['./sansa_coco_fold0.py']
model = dict(model=dict(adapter_ratio=0.8))
