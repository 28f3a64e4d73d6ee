# Iteration-based schedule (CorrFlow's optimiser): Adam 2e-4, no weight decay.
# Leaf configs set max_iters and, if they want, lr milestones.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0),
)
param_scheduler = []
# The lr is the paper's at a total batch of 6; --auto-scale-lr multiplies it by total / 6.
auto_scale_lr = dict(enable=False, base_batch_size=6)
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=10_000)
