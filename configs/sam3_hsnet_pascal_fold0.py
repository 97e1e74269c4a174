# FSS-SAM3 (SAM 3, nothing trained) on PASCAL-5i fold 0 by HSNet's protocol, where supports are masks (so its numbers
# compare with the other families'); FSS-SAM3's own episodes, with instance boxes as supports: sam3_pascal_fold0.py.
#   python tools/test.py configs/sam3_hsnet_pascal_fold0.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./_base_/models/sam3.py', './_base_/datasets/sam3_hsnet_pascal_5i.py']
fold = 0  # the datasets' fold; a run option: --cfg-options fold=N
