# FSS-SAM3 (SAM 3, nothing trained) on COCO-20i fold 0 by HSNet's protocol, where supports are masks (so its numbers
# compare with the other families'); the query on top of the canvas, as FSS-SAM3 does for COCO (its default --swap).
# FSS-SAM3's own episodes, with instance boxes as supports: sam3_coco_fold0.py.
#   python tools/test.py configs/sam3_hsnet_coco_fold0.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./_base_/models/sam3.py', './_base_/datasets/sam3_hsnet_coco_20i.py']
model = dict(model=dict(swap=True))
fold = 0  # the datasets' fold; a run option: --cfg-options fold=N
