"""FrozenTeacher: torchvision-format and MoCo checkpoints, refusals, frozen behaviour."""
import pytest
import torch
import torchvision

from corrflow.registry import MODELS
from corrflow.utils.checkpoint import CheckpointError
from corrflow.errors import ConfigError

R18 = dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 2, 2), out_stage=4)


def build_teacher(**cfg):
    model = MODELS.build(dict(type='FrozenTeacher', **cfg))
    model.init_weights()
    return model


def moco_checkpoint(path, depth=18, seed=0):
    """A MoCo-style file: query and key encoders with prefixes, the fc head and a queue."""
    torch.manual_seed(seed)
    net = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    state = {}
    for key, value in net.state_dict().items():
        state[f'module.encoder_q.{key}'] = value
        state[f'module.encoder_k.{key}'] = torch.zeros_like(value)
    state['module.queue'] = torch.zeros(128, 16)
    torch.save(dict(epoch=200, arch=f'resnet{depth}', state_dict=state), path)
    return net


def test_moco_and_torchvision_checkpoints_load(tmp_path):
    net = moco_checkpoint(tmp_path / 'moco.pth')
    teacher = build_teacher(backbone=R18, checkpoint=str(tmp_path / 'moco.pth'))
    for key, value in teacher.backbone.state_dict().items():
        assert torch.equal(value, net.state_dict()[key]), key  # encoder_q, not encoder_k
    torch.save(net.state_dict(), tmp_path / 'plain.pth')  # torchvision's own format
    plain = build_teacher(backbone=R18, checkpoint=str(tmp_path / 'plain.pth'))
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(plain(x), teacher(x))
    want = torch.nn.Sequential(*list(net.children())[:-2]).eval()(
        (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
    torch.testing.assert_close(teacher(x), want)  # ImageNet normalisation, eval-mode BN


def test_the_teacher_is_frozen_and_must_be_loaded(tmp_path):
    moco_checkpoint(tmp_path / 'moco.pth')
    unloaded = MODELS.build(dict(type='FrozenTeacher', backbone=R18,
                                 checkpoint=str(tmp_path / 'moco.pth')))
    with pytest.raises(RuntimeError, match='were not loaded; call init_weights'):
        unloaded(torch.rand(1, 3, 32, 32))
    teacher = build_teacher(backbone=R18, checkpoint=str(tmp_path / 'moco.pth'), pool=2)
    teacher.train()
    assert not teacher.training and not teacher.backbone.bn1.training
    assert not any(p.requires_grad for p in teacher.parameters())
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    out = teacher(x)
    assert not out.requires_grad and out.shape == (1, 512, 1, 1) and teacher.stride == 64
    # a training checkpoint holding the teacher (a resume) loads it too
    again = MODELS.build(dict(type='FrozenTeacher', backbone=R18,
                              checkpoint=str(tmp_path / 'moco.pth'), pool=2))
    again.load_state_dict(teacher.state_dict())
    torch.testing.assert_close(again(x), out)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    moco_checkpoint(tmp_path / 'r50.pth', depth=50)
    with pytest.raises(CheckpointError, match=r'r50.pth does not fit the teacher '
                                              r'TorchvisionResNet \(layer1, layer2, layer3, '
                                              r'layer4\): \d+ weights have another shape'):
        build_teacher(backbone=R18, checkpoint=str(tmp_path / 'r50.pth'))
    torch.save(dict(state_dict={'conv1.weight': torch.zeros(64, 3, 7, 7)}), tmp_path / 'part.pth')
    with pytest.raises(CheckpointError, match='would stay unfilled'):
        build_teacher(backbone=R18, checkpoint=str(tmp_path / 'part.pth'))


def test_a_missing_teacher_path_is_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match=r'teacher: checkpoint .*nowhere.pth does not exist'):
        build_teacher(backbone=R18, checkpoint=str(tmp_path / 'nowhere.pth'))
    with pytest.raises(ConfigError, match='needs a checkpoint'):
        MODELS.build(dict(type='FrozenTeacher', backbone=R18, checkpoint=''))
