# FSS-SAM3 (SAM 3, nothing trained) on COCO-20i fold 0 with FSS-SAM3's own episodes and settings (evaluate.py
# --dataset coco --disable_text: the query above the support (its COCO default --swap), 0.6 of the canvas to the
# support; 5 shots: l_shape, 0.3). Its supports are instance boxes, not masks (configs/sam3_hsnet_coco_fold0.py tests
# with masks, as the other families). FSS-SAM3's README: 66.6 mIoU 1-shot over the 4 folds with the class name as
# text too; visual exemplars alone (this config) is its --disable_text setting.
#   python tools/test.py configs/sam3_coco_fold0.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./_base_/models/sam3.py', './_base_/datasets/fss_sam3_episodes.py']
model = dict(model=dict(swap=True))
test_dataloader = {{_base_.fss_sam3_coco_test_dataloader}}
fold = 0  # the dataset's fold; a run option: --cfg-options fold=N
