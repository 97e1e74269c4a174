# CRCNet on COCO in CANet's setting (Table 13): 40 training, 20 validation, 20 test classes.
_base_ = ['./crcnet_coco_fold0.py']
train_dataloader = dict(dataset=dict(setting='canet'))
val_dataloader = dict(dataset=dict(setting='canet', canet_test_split='val'))
test_dataloader = dict(dataset=dict(setting='canet', canet_test_split='test'))
