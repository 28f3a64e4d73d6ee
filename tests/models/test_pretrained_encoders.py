"""Encoders from other projects' checkpoint files: key maps on synthetic state dicts with
the releases' keys and shapes, timm ViTs as feature maps, masks at the original size."""
import argparse
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torchvision

from corrflow.errors import ConfigError
from corrflow.models.backbones import TimmViT, TorchvisionResNet
from corrflow.models.backbones.pretrained_weights import KEY_MAPS, crw_release_key
from corrflow.registry import MODELS
from corrflow.utils.checkpoint import CheckpointError


def randomised(state, seed=0):
    g = torch.Generator().manual_seed(seed)
    return OrderedDict((k, torch.randn(v.shape, generator=g) if v.is_floating_point() else v)
                       for k, v in state.items())


def vit_state(arch, seed=0, **kw):
    return randomised(TimmViT(arch, **kw).vit.state_dict(), seed)


@pytest.mark.slow  # builds several encoders, seconds
def test_dino_backbone_release_and_training_teacher(tmp_path):
    truth = vit_state('vit_small_patch16_224')
    assert truth['pos_embed'].shape == (1, 197, 384)  # DINO ViT-S/16: 14x14 + class token
    torch.save(truth, tmp_path / 'dino_deitsmall16_pretrain.pth')
    path = str(tmp_path / 'dino_deitsmall16_pretrain.pth')
    vit = TimmViT('vit_small_patch16_224', checkpoint=path, key_map='dino')
    torch.testing.assert_close(vit.vit.state_dict()['blocks.11.mlp.fc2.weight'],
                               truth['blocks.11.mlp.fc2.weight'])
    # a training checkpoint: student and teacher under module.backbone., with heads
    teacher = {f'backbone.{k}': v for k, v in truth.items()}
    teacher['head.mlp.0.weight'] = torch.zeros(2048, 384)
    teacher['head.last_layer.weight_g'] = torch.zeros(1, 256)
    student = {f'module.{k}': torch.zeros_like(v) for k, v in teacher.items()}
    torch.save(dict(student=student, teacher=teacher, epoch=100,
                    optimizer={'state': {}}), tmp_path / 'checkpoint.pth')
    vit = TimmViT('vit_small_patch16_224', checkpoint=str(tmp_path / 'checkpoint.pth'),
                  key_map='dino')
    torch.testing.assert_close(vit.vit.cls_token, truth['cls_token'])


@pytest.mark.slow  # builds several encoders, seconds
def test_dinov2_releases_with_and_without_registers(tmp_path):
    plain = vit_state('vit_small_patch14_dinov2')
    assert plain['pos_embed'].shape == (1, 1370, 384) and 'blocks.0.ls1.gamma' in plain
    release = OrderedDict(plain, mask_token=torch.zeros(1, 384))
    torch.save(release, tmp_path / 'dinov2_vits14_pretrain.pth')
    path = str(tmp_path / 'dinov2_vits14_pretrain.pth')
    vit = TimmViT('vit_small_patch14_dinov2', checkpoint=path, key_map='dinov2')
    torch.testing.assert_close(vit.vit.pos_embed, plain['pos_embed'])
    # with registers: DINOv2 keeps the class token's positional embedding in pos_embed
    reg = vit_state('vit_small_patch14_reg4_dinov2', seed=1)
    cls_pos = torch.randn(1, 1, 384)
    release = OrderedDict((k, v) for k, v in reg.items() if k not in ('reg_token', 'pos_embed'))
    release['register_tokens'] = reg['reg_token']
    release['pos_embed'] = torch.cat([cls_pos, reg['pos_embed']], dim=1)
    release['cls_token'] = reg['cls_token'] - cls_pos
    release['mask_token'] = torch.zeros(1, 384)
    assert release['pos_embed'].shape == (1, 1370, 384)
    assert release['register_tokens'].shape == (1, 4, 384)
    torch.save(release, tmp_path / 'dinov2_vits14_reg4_pretrain.pth')
    vit = TimmViT('vit_small_patch14_reg4_dinov2',
                  checkpoint=str(tmp_path / 'dinov2_vits14_reg4_pretrain.pth'), key_map='dinov2')
    state = vit.vit.state_dict()
    for key in ('reg_token', 'pos_embed', 'cls_token', 'blocks.3.ls2.gamma'):
        torch.testing.assert_close(state[key], reg[key])
    assert vit.num_prefix_tokens == 5 and vit.stride == 14


@pytest.mark.slow  # builds several encoders, seconds
def test_mae_and_cropmae_encoders_drop_the_decoder(tmp_path):
    truth = vit_state('vit_base_patch16_224')
    model = OrderedDict(truth)
    model['mask_token'] = torch.zeros(1, 1, 512)
    model['decoder_embed.weight'] = torch.zeros(512, 768)
    model['decoder_pos_embed'] = torch.zeros(1, 197, 512)
    model['decoder_blocks.0.norm1.weight'] = torch.zeros(512)
    model['decoder_pred.weight'] = torch.zeros(768, 512)
    torch.save(dict(model=model, epoch=1599), tmp_path / 'mae_visualize_vit_base.pth')
    vit = TimmViT('vit_base_patch16_224', checkpoint=str(tmp_path / 'mae_visualize_vit_base.pth'),
                  key_map='mae')
    torch.testing.assert_close(vit.vit.norm.weight, truth['norm.weight'])


@pytest.mark.slow  # builds several encoders, seconds
def test_moco_and_torchvision_resnets(tmp_path):
    r50 = randomised(torchvision.models.resnet50(weights=None).state_dict())
    moco = OrderedDict()
    for k, v in r50.items():
        if not k.startswith('fc.'):
            moco[f'module.encoder_q.{k}'] = v
            moco[f'module.encoder_k.{k}'] = torch.zeros_like(v)
    moco['module.encoder_q.fc.0.weight'] = torch.zeros(2048, 2048)  # MoCo v2's MLP head
    moco['module.encoder_q.fc.2.weight'] = torch.zeros(128, 2048)
    moco['module.queue'] = torch.zeros(128, 65536)
    torch.save(dict(state_dict=moco, epoch=800, arch='resnet50'), tmp_path / 'moco_v2.pth')
    net = TorchvisionResNet(depth=50, out_stage=3, checkpoint=str(tmp_path / 'moco_v2.pth'),
                            key_map='moco')
    torch.testing.assert_close(net.layer3[5].bn3.running_var, r50['layer3.5.bn3.running_var'])
    v3 = {f'module.base_encoder.{k}': v for k, v in r50.items() if not k.startswith('fc.')}
    v3.update({f'module.momentum_encoder.{k}': v for k, v in r50.items()})
    v3['module.base_encoder.fc.0.weight'] = torch.zeros(4096, 2048)
    v3['module.predictor.0.weight'] = torch.zeros(4096, 256)
    torch.save(dict(state_dict=v3, epoch=300), tmp_path / 'moco_v3.pth')
    net = TorchvisionResNet(depth=50, out_stage=4, checkpoint=str(tmp_path / 'moco_v3.pth'),
                            key_map='moco_v3')
    torch.testing.assert_close(net.layer4[2].conv3.weight, r50['layer4.2.conv3.weight'])
    r18 = randomised(torchvision.models.resnet18(weights=None).state_dict())
    torch.save(r18, tmp_path / 'resnet18-f37072fd.pth')
    path = str(tmp_path / 'resnet18-f37072fd.pth')
    net = TorchvisionResNet(depth=18, out_stage=3, checkpoint=path)
    torch.testing.assert_close(net.conv1.weight, r18['conv1.weight'])  # layer4, fc left out


def test_crw_release_and_corrflow_checkpoints(tmp_path):
    r18 = randomised(torchvision.models.resnet18(weights=None).state_dict())
    model = OrderedDict((f'encoder.model.{k}', v) for k, v in r18.items()
                        if not k.startswith('fc.'))
    # an older layout saves convs as (padding, conv) pairs
    model['encoder.model.layer1.0.conv1.1.weight'] = model.pop(
        'encoder.model.layer1.0.conv1.weight')
    model['selfsim_fc.0.weight'] = torch.zeros(128, 512)
    model['selfsim_fc.0.bias'] = torch.zeros(128)
    torch.save(dict(model=model, epoch=3, args=argparse.Namespace(temp=0.05)),
               tmp_path / 'pretrained.pth')
    net = TorchvisionResNet(depth=18, out_stage=3, padding_mode='reflect',
                            checkpoint=str(tmp_path / 'pretrained.pth'), key_map='crw')
    torch.testing.assert_close(net.layer1[0].conv1.weight, r18['layer1.0.conv1.weight'])
    assert crw_release_key('module.encoder.model.layer2.1.conv2.1.weight') == \
        'layer2.1.conv2.weight'
    assert crw_release_key('selfsim_fc.0.weight') is None
    torch.save(dict(state_dict={**{f'backbone.{k}': v for k, v in r18.items()
                                   if not k.startswith('fc.')},
                                'head.layers.0.weight': torch.zeros(128, 256)}),
               tmp_path / 'corrflow.pth')
    net = TorchvisionResNet(depth=18, out_stage=3, checkpoint=str(tmp_path / 'corrflow.pth'),
                            key_map='corrflow')
    torch.testing.assert_close(net.layer2[0].downsample[0].weight,
                               r18['layer2.0.downsample.0.weight'])


@pytest.mark.slow  # builds several encoders, seconds
def test_wrong_architecture_is_one_line_naming_the_keys(tmp_path):
    torch.save(vit_state('vit_small_patch16_224'), tmp_path / 'vits16.pth')
    with pytest.raises(CheckpointError) as err:
        TimmViT('vit_base_patch16_224', checkpoint=str(tmp_path / 'vits16.pth'), key_map='dino')
    message = str(err.value)
    assert '\n' not in message and 'vits16.pth' in message and 'cls_token (1, 1, 384)' in message
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    with pytest.raises(CheckpointError, match=r'unfilled \(cls_token, pos_embed'):
        TimmViT('vit_small_patch16_224', checkpoint=str(tmp_path / 'r18.pth'), key_map='timm')
    with pytest.raises(CheckpointError, match=r'layer1\.0\.conv3\.weight'):
        TorchvisionResNet(depth=50, out_stage=3, checkpoint=str(tmp_path / 'r18.pth'))
    with pytest.raises(CheckpointError, match='no place for'):  # an encoder with extra blocks
        state = vit_state('vit_small_patch16_224')
        state['blocks.12.norm1.weight'] = torch.zeros(384)
        torch.save(state, tmp_path / 'deeper.pth')
        TimmViT('vit_small_patch16_224', checkpoint=str(tmp_path / 'deeper.pth'))
    with pytest.raises(CheckpointError, match='does not exist'):
        TimmViT('vit_small_patch16_224', checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(ConfigError, match='key_map'):
        TimmViT('vit_small_patch16_224', key_map='imagenet')
    with pytest.raises(ConfigError, match='not a timm ViT'):
        TimmViT('resnet50')
    assert sorted(KEY_MAPS) == ['corrflow', 'crw', 'dino', 'dinov2', 'mae', 'moco', 'moco_v3',
                                'timm', 'torchvision']


@pytest.mark.parametrize('arch,patch', [('vit_small_patch16_224', 16),
                                        ('vit_small_patch14_reg4_dinov2', 14)])
def test_vit_patch_tokens_form_the_map(arch, patch):
    vit = TimmViT(arch).eval()
    x = torch.randn(1, 3, 3 * patch, 5 * patch)
    with torch.no_grad():
        out = vit(x)
        tokens = vit.vit.forward_features(x)
    assert out.shape == (1, 384, 3, 5)
    # row-major tokens after the class (and register) tokens; positions interpolated
    torch.testing.assert_close(out[0, :, 1, 2], tokens[0, vit.num_prefix_tokens + 1 * 5 + 2])
    with pytest.raises(ValueError, match='multiple of the patch size'):
        vit(torch.randn(1, 3, 3 * patch + 1, 5 * patch))


@pytest.mark.slow  # a ViT over three 854x480 frames
@pytest.mark.parametrize('size_fit', ['pad', 'resize'])
def test_vit_masks_come_back_at_854x480(size_fit):
    """A ViT-S/16 on an 854x480 video (854 is not a multiple of 16) gives 854x480 masks."""
    propagator = MODELS.build(dict(
        type='LabelPropagator',
        backbone=dict(type='TimmViT', arch='vit_small_patch16_224'),
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        propagation=dict(type='TopKMemoryPropagation', preset='dino', radius=12, num_context=7,
                         topk=5, temperature=0.1),
        input_size=None, size_divisor=16, size_fit=size_fit)).eval()
    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 255, (3, 3, 480, 854), dtype=torch.uint8, generator=g)
    first = np.zeros((480, 854), np.uint8)
    first[100:300, 500:853] = 1  # reaching the last column, which padding or resizing moves
    masks = propagator.propagate_masks(video, {0: first})
    assert masks.shape == (3, 480, 854)
    np.testing.assert_array_equal(masks[0], first)
    assert propagator.processing_size((480, 854)) == ((480, 854) if size_fit == 'pad'
                                                       else (480, 848))
    assert propagator.describe()['size_fit'] == size_fit
    with pytest.raises(ConfigError, match='size_fit'):
        MODELS.build(dict(type='LabelPropagator', backbone=dict(type='PixelColourEncoder'),
                          size_fit='crop'))
