# FSS-SAM3 (arXiv 2604.05433; WongKinYiu/FSS-SAM3, model/evaluate.py) over Meta's sam3 package: SAM 3 as released,
# nothing trained. The supports and the query are pasted onto one 1008x1008 canvas (1 shot: support on top with 0.6 of
# the side, query below; 5 shots: its l_shape layout with a 0.3 band), each support's boxes are SAM 3's visual
# exemplars with no class name (FSS-SAM3's --disable_text: few-shot), instances scoring above 0.5 are united.
# Meta's file is a run option, and no checkpoint is needed:
#   --cfg-options sam3_weights=sam3.pt           (score threshold: model.model.score_threshold=T)
# k shots: the model takes all k supports on one canvas (fuses_shots); the host's 'mean' fusion hands them over.
_base_ = ['../default_runtime.py']
custom_imports = dict(imports=['integrations.mmseg', 'integrations.pfenet', 'integrations.hsnet', 'integrations.sam3'],
                      allow_failed_imports=False)  # only FSS-SAM3 configs import sam3
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),  # ImageNet mean/std, undone on the canvas
    model=dict(type='FSSSAM3', sam3_weights=None, score_threshold=0.5,  # Sam3Processor's confidence_threshold
               orientation='vertical', one_shot_share=0.6, swap=False,  # evaluate.py: --orient, --ratio, --no_swap
               layout='l_shape', few_shot_share=0.3,  # evaluate.py: --layout, --ratio for 5 shots
               support_boxes='components', text_prompt=None),
    test_cfg=dict(kshot_mode='fusion', kshot_fusion='mean'),
)
test_cfg = dict(type='TestLoop')
