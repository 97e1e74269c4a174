_base_ = ['./pfenet_pascal_fold0.py']
fold = 2
train_dataloader = dict(dataset=dict(fold=2))
val_dataloader = dict(dataset=dict(fold=2))
test_dataloader = dict(dataset=dict(fold=2))
