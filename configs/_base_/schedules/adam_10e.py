# CorrFlow schedule: Adam 2e-4, betas (0.9, 0.999), no weight decay, 10 epochs;
# lr halved at 400k, 600k, 800k and 1M samples seen. Milestones are counted in
# iterations at a total batch of 6: 400_000 / 6 = 66_667, etc. With another
# total batch, scale them (e.g. --cfg-options for 2 GPUs x 3 keeps total 6).
total_batch_size = 6
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0),
)
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[s // total_batch_size for s in (400_000, 600_000, 800_000, 1_000_000)],
        gamma=0.5,
    ),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
