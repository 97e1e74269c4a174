# FSS-SAM3 (SAM 3, nothing trained) on PASCAL-5i fold 0 with FSS-SAM3's own episodes and settings (evaluate.py
# --dataset pascal --disable_text: support above the query, 0.6 of the canvas; 5 shots: l_shape, 0.3). Its supports
# are instance boxes, not masks (configs/sam3_hsnet_pascal_fold0.py tests with masks, as the other families).
#   python tools/test.py configs/sam3_pascal_fold0.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./_base_/models/sam3.py', './_base_/datasets/fss_sam3_episodes.py']
test_dataloader = {{_base_.fss_sam3_pascal_test_dataloader}}
fold = 0  # the dataset's fold; a run option: --cfg-options fold=N
