# FSSAM5s on COCO-20i fold 1: FSSAM trained and tested on 5-shot episodes (FSSAM's
# config/coco/small/coco_split1_small_5s_batch.yaml, --arch FSSAM5s). Its released model:
#   python tools/test.py configs/fssam5s_coco_fold1.py exp/coco/FSSAM5s/split1/small/snapshot/FILE.pth
_base_ = ['./fssam_coco_fold1.py']
model = dict(model=dict(type='FSSAM5s'))
train_dataloader = dict(dataset=dict(shot=5))
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = dict(dataset=dict(shot=5))
