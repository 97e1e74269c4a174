# FSS-SAM3 on PASCAL-5i fold 3 with its own episodes: configs/sam3_pascal_fold0.py with fold 3.
#   python tools/test.py configs/sam3_pascal_fold3.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./sam3_pascal_fold0.py']
fold = 3
test_dataloader = dict(dataset=dict(fold=fold))
