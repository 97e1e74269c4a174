# Weak supervision (Table 14): support annotations are the boxes of each object, in training and testing.
_base_ = ['./crcnet_pascal_fold0.py']
train_dataloader = dict(dataset=dict(annotation='box'))
val_dataloader = dict(dataset=dict(annotation='box'))
test_dataloader = dict(dataset=dict(annotation='box'))
