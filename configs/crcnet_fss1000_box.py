# FSS-1000 with box-annotated supports (Table 14).
_base_ = ['./crcnet_fss1000.py']
train_dataloader = dict(dataset=dict(annotation='box'))
val_dataloader = dict(dataset=dict(annotation='box'))
test_dataloader = dict(dataset=dict(annotation='box'))
