# Contrastive Random Walk (Jabri, Owens & Efros, NeurIPS 2020), as its training command
# builds it (ajabri/videowalk, `--model-type scratch --dropout 0.1 --temp 0.05`):
# a ResNet-18 from scratch with layer3 and layer4 at stride 1 (output stride 8) and
# reflect padding in every padded conv; each 64x64 patch's 8x8x512 map averaged to a
# vector, one linear layer to 128, L2 normalisation; transitions softmax(A / 0.05)
# between neighbouring frames with 10 % of the edges dropped; the loss is the
# cross-entropy of the palindrome walks of 2..T-1 steps each way returning to their
# start. Training frames are normalised with CRW's own statistics (CRW_TRAIN_MEAN /
# CRW_TRAIN_STD); propagation takes layer3 (256 channels at stride 8) without the
# head, ImageNet-normalised, as CRW's test code does.
model = dict(
    type='CRW',
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1), out_stage=4,
                  padding_mode='reflect'),
    head=dict(type='NodeProjection', in_channels=512, out_channels=128, depth=0),
    loss=dict(type='CycleWalkLoss', temperature=0.05, edge_dropout=0.1, walk_lengths=None),
    feature_dropout=0.0,
    propagation_stage=3,
    # validation: CRW's published protocol (configs/test/crw_r18_davis.py)
    propagation=dict(
        propagation=dict(type='TopKMemoryPropagation', preset='crw', radius=12,
                         num_context=20, topk=10, temperature=0.05),
        input_size=480),
)
