"""Every reference preset gives its reference's masks on the reference's own fixture.

The fixtures in tests/data/protocol_parity/ were made by running each reference's
propagation code on stored features (PROVENANCE.md there says which code, at which
commit, with which settings). Here the same features go through corrflow's
LabelPropagator, frame by frame, with a stand-in encoder that returns them.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn

from corrflow.models.trackers.label_propagator import LabelPropagator

DATA = Path(__file__).resolve().parents[1] / 'data' / 'protocol_parity'


class StoredFeatures(nn.Module):
    """An encoder whose output for frame t (a frame filled with the value t) is ``feats[t]``."""

    def __init__(self, feats: np.ndarray, stride: int) -> None:
        super().__init__()
        self.feats = torch.from_numpy(feats.astype(np.float32))
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = int(round(float(x[0, 0, 0, 0]) * 255))
        return self.feats[t:t + 1]


def propagate(feats, stride, protocol, mask, input_size=None, capture=None):
    T = feats.shape[0]
    H, W = mask.shape
    video = torch.arange(T, dtype=torch.uint8).view(T, 1, 1, 1).expand(T, 3, H, W).contiguous()
    model = LabelPropagator(backbone=StoredFeatures(feats, stride), propagation=protocol,
                            input_size=input_size)
    if capture is not None:  # keep the read-out scores of every frame
        read_out = model.protocol.read_out

        def keep(labels, *args):
            scores = read_out(labels, *args)
            capture.append(scores)
            return scores

        model.protocol.read_out = keep
    return model.predict([video], [dict(video='v', first_mask=mask)])[0]['pred_masks']


def inputs(name='inputs'):
    return np.load(DATA / f'{name}.npz')


# preset, fixture, protocol settings (the fixture's, in corrflow's terms), case
B_CASES = [
    ('crw', 'ref_crw', dict(radius=4, num_context=3, topk=10, temperature=0.07), 'native'),
    ('vfs', 'ref_vfs_native', dict(radius=4, num_context=3, topk=10, temperature=0.07),
     'native'),
    ('vfs', 'ref_vfs_large', dict(radius=4, num_context=3, topk=10, temperature=0.07), 'large'),
    ('spa_then_temp', 'ref_spa_then_temp_native',
     dict(radius=4, num_context=3, topk=10, temperature=0.07), 'native'),
    ('spa_then_temp', 'ref_spa_then_temp_large',
     dict(radius=4, num_context=3, topk=10, temperature=0.07), 'large'),
    ('dino', 'ref_dino_native', dict(radius=4, num_context=3, topk=5, temperature=0.1),
     'native'),
    ('dino', 'ref_dino_large', dict(radius=4, num_context=3, topk=5, temperature=0.1), 'large'),
]


@pytest.mark.parametrize('preset,fixture,settings,case', B_CASES,
                         ids=[c[1][4:] for c in B_CASES])
def test_protocol_b_presets_equal_their_references(preset, fixture, settings, case):
    data = inputs()
    ref = np.load(DATA / f'{fixture}.npz')['masks']
    size = None if case == 'native' else (112, 64)  # (W, H): the stored grid is 16 x 28
    got = propagate(data['feats'], int(data['stride']),
                    dict(type='TopKMemoryPropagation', preset=preset, **settings),
                    data[f'mask_{case}'], input_size=size)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got[1:], ref[1:])
    if preset != 'centred':  # the fixture tells the rules apart: the centred preset differs
        other = propagate(data['feats'], int(data['stride']),
                          dict(type='TopKMemoryPropagation', preset='centred', **settings),
                          data[f'mask_{case}'], input_size=size)
        assert (other[1:] != ref[1:]).sum() > 100


def test_protocol_a_corrflow_preset_equals_corrflows_test_code():
    data = inputs('inputs_a')
    ref = np.load(DATA / 'ref_corrflow.npz')['masks']
    protocol = dict(type='CorrFlowPropagation', radius=6)  # the default preset: 'corrflow'
    got = propagate(data['feats'], int(data['stride']), protocol, data['mask_native'])
    np.testing.assert_array_equal(got[1:], ref[1:])
    assert (ref[1:] != 0).any(axis=(1, 2)).all()  # the objects are still there in every frame
    centred = propagate(data['feats'], int(data['stride']), dict(protocol, preset='centred'),
                        data['mask_native'])
    assert (centred[1:] != ref[1:]).sum() > 1000


def test_timecycle_preset_equals_timecycles_test_code_but_for_ties():
    data = inputs('inputs_a')
    feats = data['feats'][:, :, :, 12:44]  # the square crop of the fixture, read at stride 8
    mask = cv2.resize(data['mask_native'][:, 48:176], (256, 256),
                      interpolation=cv2.INTER_NEAREST)
    ref = np.load(DATA / 'ref_timecycle.npz')['masks']
    scores = []
    got = propagate(feats, 8, dict(type='TimeCyclePropagation', num_context=3, topk=5), mask,
                    capture=scores)
    differ = got[1:] != ref[1:]
    # TimeCycle sums the label maps in float64 where corrflow uses float32: the masks may
    # differ only where the two best channels are equal to within float32 rounding
    for t, y, x in zip(*np.nonzero(differ)):
        best = scores[t][0, :, y, x].topk(2).values
        assert float(best[0] - best[1]) < 1e-6 * float(best[0].abs() + 1e-12), (t, y, x)
    assert differ.sum() <= 2, differ.sum()
    centred = propagate(feats, 8, dict(type='TimeCyclePropagation', num_context=3, topk=5,
                                       preset='centred'), mask)
    assert (centred[1:] != ref[1:]).sum() > 1000
