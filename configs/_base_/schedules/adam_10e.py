# CorrFlow schedule: Adam 2e-4, betas (0.9, 0.999), no weight decay, 10 epochs;
# lr halved at 400k, 600k, 800k and 1M samples seen over all processes. tools/train.py
# converts the samples to iterations of the total batch (processes x batch_size,
# floor): at 6, 400_000 // 6 = 66_666; at 4 GPUs x 6 = 24, 16_666. Epochs stay epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0),
)
param_scheduler = [
    dict(type='SampleMultiStepLR', by_epoch=False,
         milestones=[400_000, 600_000, 800_000, 1_000_000], gamma=0.5),
]
# The lr is the paper's at a total batch of 6; --auto-scale-lr multiplies it by total / 6.
auto_scale_lr = dict(enable=False, base_batch_size=6)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
