# COCO-20i on HSNet's protocol (its split files and episode rules, 1000 episodes; FSS-1000: one per test image) for
# FSS-SAM3, where a support is a mask, as the other families are tested: every image stretched to SAM 3's 1008x1008
# with PIL's bilinear filter (FSS-SAM3 stretches each image into its cell of the canvas; one size, so k supports
# stack) and scored at that size (as GF-SAM at its 1024), episodes drawn from seed 0; each support mask's connected
# components are its exemplar boxes.
_base_ = ['./hsnet_coco_20i.py', './sam3_pipeline.py']
test_dataloader = dict(dataset=dict(pipeline={{_base_.sam3_pipeline}}, seed=0))
train_dataloader = val_dataloader = val_evaluator = None  # nothing trained, nothing validated: testing only
