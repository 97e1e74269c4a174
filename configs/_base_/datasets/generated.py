# The built-in generated dataset: scenes of textured shapes, 4 folds of 5 test classes, the other 123 cue
# combinations for training (integrations/mmseg/datasets/generated_scenes.py); no download.
dataset_type = 'GeneratedFewShotDataset'
image_size = 80
train_pipeline = [dict(type='RandomFlip', prob=0.5)]
test_pipeline = []
train_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='EpisodeSampler', shuffle=True),  # episodes keyed by (seed, epoch, index)
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, fold=0, mode='train', shot=1, image_size=image_size, images_per_class=8,
                 pipeline=train_pipeline))  # 123 classes x 8 scenes: 984 episodes an epoch
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, fold=0, mode='test', shot=1, image_size=image_size, images_per_class=40,
                 pipeline=test_pipeline, num_episodes=200, seed=321, eval_label='transformed'))
# validation: the test loader, 100 episodes from another seed
val_dataloader = dict(test_dataloader, dataset=dict(test_dataloader['dataset'], num_episodes=100, seed=123))
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
