# Iteration-based schedule (CorrFlow's optimiser): Adam 2e-4, no weight decay.
# Leaf configs set max_iters and, if they want, lr milestones.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0),
)
param_scheduler = []
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=10_000)
