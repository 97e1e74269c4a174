# FSSAM5s on PASCAL-5i fold 2: FSSAM trained and tested on 5-shot episodes (FSSAM's
# config/pascal/small/pascal_split2_small_5s_batch.yaml, --arch FSSAM5s). Its released model:
#   python tools/test.py configs/fssam5s_pascal_fold2.py exp/pascal/FSSAM5s/split2/small/snapshot/FILE.pth
_base_ = ['./fssam_pascal_fold2.py']
model = dict(model=dict(type='FSSAM5s'))
train_dataloader = dict(dataset=dict(shot=5))
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = dict(dataset=dict(shot=5))
