# SANSA's generalist in-context adapter (README "Generalist In-Context Segmentation": adapter_generalist.pth, trained
# on COCO + ADE20K + LVIS + PACO with --fold -1 and --channel_factor 0.8) tested on COCO-20i as inference_fss.py runs
# it: a fold's novel classes, 640 px, 1000 episodes, seed 0 (COCO 74.8 mIoU 1-shot, the mean of folds 0-3):
#   python tools/test.py configs/sansa_generalist_coco.py adapter_generalist.pth \
#       --cfg-options sam2_weights=sam2_hiera_large.pt fold=N
# Test only: its multi-dataset training (ADE20K, LVIS, PACO-Part) has no loaders here.
_base_ = ['./sansa_coco_fold0.py']
model = dict(model=dict(adapter_ratio=0.8))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
