import pytest
import torch

from corrflow.registry import MODELS


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_corrflow_resnet_stride_channels_and_size():
    backbone = MODELS.build(dict(type='CorrFlowResNet'))
    neck = MODELS.build(dict(type='EmbeddingProjection', in_channels=256, out_channels=64))
    assert backbone.stride == 4
    feats = backbone(torch.rand(2, 3, 64, 96))
    assert feats.shape == (2, 256, 16, 24)
    assert neck(feats).shape == (2, 64, 16, 24)
    # no max-pool anywhere; widths 64/128/256/256
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in backbone.modules())
    assert [getattr(backbone, f'layer{i}')[-1].conv2.out_channels for i in range(1, 5)] == \
        [64, 128, 256, 256]
    total = n_params(backbone) + n_params(neck)
    assert 5.2e6 < total < 5.4e6, total  # about 5.3 M parameters


def test_corrflow_resnet_shortcuts_where_width_or_stride_changes():
    backbone = MODELS.build(dict(type='CorrFlowResNet'))
    has_shortcut = {name: block.downsample is not None
                    for name in backbone.layer_names
                    for i, block in enumerate(getattr(backbone, name)) if i == 0}
    assert has_shortcut == dict(layer1=False, layer2=True, layer3=True, layer4=False)


@pytest.mark.parametrize('depth,strides,out_stage,maxpool,stride,channels', [
    (18, (1, 2, 1, 1), 3, True, 8, 256),
    (18, (1, 2, 2, 2), 4, True, 32, 512),
    (18, (1, 2, 1, 1), 4, False, 4, 512),
    (50, (1, 2, 1, 1), 3, True, 8, 1024),
])
def test_torchvision_resnet_configurable(depth, strides, out_stage, maxpool, stride, channels):
    net = MODELS.build(dict(type='TorchvisionResNet', depth=depth, strides=strides,
                            out_stage=out_stage, with_maxpool=maxpool))
    out = net(torch.rand(1, 3, 64, 64))
    assert net.stride == stride and net.out_channels == channels
    assert out.shape == (1, channels, 64 // stride, 64 // stride)


def test_torchvision_resnet_bad_arguments():
    with pytest.raises(ValueError, match='depth'):
        MODELS.build(dict(type='TorchvisionResNet', depth=19))
    with pytest.raises(ValueError, match='out_stage'):
        MODELS.build(dict(type='TorchvisionResNet', out_stage=5))
