_base_ = ['./pfenet_pascal_fold0.py']
fold = 3
train_dataloader = dict(dataset=dict(fold=3))
val_dataloader = dict(dataset=dict(fold=3))
test_dataloader = dict(dataset=dict(fold=3))
