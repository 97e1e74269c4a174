# PASCAL-5i on FSSAM's protocol (Sam1224/FSSAM util/dataset.py, test.py, train.py): PFENet's lists and episode rules
# (its lists/pascal/fss_list/{train,val}/data_list_N.txt and sub_class_file_list_N.txt are PFENet's make_dataset
# output), images and labels stretched to 512x512 (util/transform_new.py Resize: cv2 bilinear, labels nearest) and
# scored on the original label (ori_resize), 1000 test episodes (test.py test_num 1000) drawn from seed 321
# (seed_array [321]; by this project's seeded generator: same rules, other draws than the peer's global states).
# Training (train.py): random scale 0.9-1.1 of the image's own size, rotation of +-10 degrees with p 0.5 padded with
# the mean (BGR here: mmcv loads BGR) and 255, Gaussian blur 5x5 with p 0.5, flip, a random 512x512 crop padded the
# same way; batch 2 per GPU on 4 GPUs (train.sh): 8 in all here, with N processes set batch_size=8/N. Validation on
# the test fold's 1000 episodes after every epoch, as train.py (it also validates mid-epoch, not done here).
_base_ = ['./pascal_5i.py', './fssam_pipelines.py']
train_dataloader = dict(batch_size=8, dataset=dict(pipeline={{_base_.fssam_train_pipeline}}))
test_dataloader = dict(dataset={{_base_.fssam_test}})
val_dataloader = dict(dataset={{_base_.fssam_test}})
