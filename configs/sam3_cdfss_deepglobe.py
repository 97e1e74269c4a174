# FSS-SAM3 (SAM 3, nothing trained) on the cross-domain target deepglobe (PATNet's episodes, 1008x1008):
#   python tools/test.py configs/sam3_cdfss_deepglobe.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./_base_/models/sam3.py', './_base_/datasets/sam3_cdfss.py']
test_dataloader = {{_base_.sam3_deepglobe_test_dataloader}}
