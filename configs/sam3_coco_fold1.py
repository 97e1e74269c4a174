# FSS-SAM3 on COCO-20i fold 1 with its own episodes: configs/sam3_coco_fold0.py with fold 1.
#   python tools/test.py configs/sam3_coco_fold1.py --cfg-options sam3_weights=sam3.pt [--shot 5]
_base_ = ['./sam3_coco_fold0.py']
fold = 1
test_dataloader = dict(dataset=dict(fold=fold))
