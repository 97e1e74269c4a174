# FSS-SAM3 on PASCAL-5i fold 2 with its own episodes: configs/sam3_pascal_fold0.py with fold 2.
#   python tools/test.py configs/sam3_pascal_fold2.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./sam3_pascal_fold0.py']
fold = 2
test_dataloader = dict(dataset=dict(fold=fold))
