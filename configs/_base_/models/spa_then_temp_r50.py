# Spa-then-Temp, temporal stage (Li & Liu, CVPR 2023). Student: a ResNet-50 without
# max-pool at strides (1, 2, 2, 4), taking layer2 (stride 4), layer3 (stride 8) and
# layer4 (stride 32), fed normalised Lab with one chroma channel dropped (x1.5);
# initialised from the stage-1 (image contrastive) weights. Teacher: the stage-1
# ResNet-50 itself, frozen, on ImageNet-normalised RGB. Loss: L_rec(s4) + L_rec(s8)
# + 1000 L_local + 50 L_global.
stage1 = 'checkpoints/stage1/detco_r50.pth'  # the stage-1 weights: set your own
model = dict(
    type='SpaThenTemp',
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    backbone=dict(type='TorchvisionResNet', depth=50, strides=(1, 2, 2, 4), out_stage=4,
                  stem_pool='none', out_indices=(2, 3, 4)),
    student_checkpoint=stage1,
    teacher=dict(type='FrozenTeacher',
                 backbone=dict(type='TorchvisionResNet', depth=50, strides=(1, 2, 2, 2),
                               out_stage=4),
                 checkpoint=stage1),
    reconstruction=[
        dict(type='WindowedReconstructionLoss', stride=4, radius=12, scale=20.0,
             loss_weight=1.0),
        dict(type='WindowedReconstructionLoss', stride=8, radius=6, scale=20.0,
             loss_weight=1.0),
    ],
    # 'faithful' reproduces the reference as written; 'corrected' sums the pooled
    # target over its fine keys (rows sum to 1, not 1/4) and keeps the top 70 % of
    # cells of each sample (the reference's threshold reads one row of a row-wise
    # sort); see corrflow/models/losses/affinity_losses.py
    local_loss=dict(type='LocalAffinityDistillLoss', fine_radius=12, coarse_radius=6,
                    variant='faithful', loss_weight=1000.0),
    uncertainty=dict(type='UncertaintyMask', radius=6, keep=0.7, variant='faithful'),
    # 'corrected' L2-normalises the teacher's features before its /0.07
    global_loss=dict(type='GlobalAffinityDistillLoss', teacher_temperature=0.07,
                     variant='faithful', loss_weight=50.0),
    input_scale=1.5,
    propagation_stage=3,
    propagation=dict(propagation=dict(type='TopKMemoryPropagation', radius=12, num_context=20,
                                      topk=10, temperature=0.07, preset='spa_then_temp'),
                     input_size=480),
)
