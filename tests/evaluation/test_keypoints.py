"""JHMDB keypoints: seed heatmaps, top-k soft-argmax decoding and PCK."""
import numpy as np
import pytest
import torch

from corrflow.evaluation.functional import (accumulate_pck, keypoint_decoding, pck, pck_hits,
                                            pck_protocol)
from corrflow.models.layers.propagation import gaussian_heatmaps, soft_argmax_topk


def test_gaussian_heatmaps():
    points = torch.tensor([[2.0, 1.0], [0.0, 3.0], [float('nan'), 1.0]])
    maps = gaussian_heatmaps(points, (4, 5), sigma=2.0)[0]
    assert maps.shape == (3, 4, 5) and maps.dtype == torch.float32
    assert maps[0, 1, 2] == 1.0 and maps[1, 3, 0] == 1.0  # peak at (x, y)
    assert float(maps[0, 1, 4]) == pytest.approx(np.exp(-4 / 8))  # 2 px right of joint 0
    assert float(maps[0, 3, 4]) == pytest.approx(np.exp(-8 / 8))
    assert not maps[2].any()  # an unknown joint gives an empty map


def test_soft_argmax_topk_hand_computed():
    maps = torch.zeros(1, 3, 4, dtype=torch.float64)
    maps[0, 0, 1] = 3.0  # (x=1, y=0)
    maps[0, 2, 3] = 1.0  # (x=3, y=2)
    np.testing.assert_allclose(soft_argmax_topk(maps, topk=2), [[1.5, 0.5]])
    np.testing.assert_allclose(soft_argmax_topk(maps, topk=1), [[1.0, 0.0]])
    # a map without positive values: equal weights over its k cells
    flat = torch.full((1, 1, 3), -1.0)
    np.testing.assert_allclose(soft_argmax_topk(flat, topk=3), [[1.0, 0.0]])


def test_soft_argmax_recovers_seeded_joints():
    points = torch.tensor([[10.0, 20.0], [33.0, 5.0]], dtype=torch.float64)
    maps = gaussian_heatmaps(points, (40, 48), sigma=4.0)[0].double()
    for topk in (1, 5, 9):  # symmetric neighbourhoods: the mean is the peak
        np.testing.assert_allclose(soft_argmax_topk(maps, topk=topk), points, atol=1e-5)


def test_the_keypoint_read_out_has_one_implementation():
    import corrflow.evaluation.functional as functional
    assert not hasattr(functional, 'soft_argmax_topk')
    assert not hasattr(functional, 'gaussian_heatmaps')


def test_pck_gt_as_prediction_is_one():
    rng = np.random.default_rng(0)
    gt = rng.random((6, 15, 2)) * 100
    result = pck(gt, gt)
    assert result['PCK@0.1'] == 1.0 and result['PCK@0.2'] == 1.0
    assert result['per_joint']['PCK@0.1'].shape == (15,)
    assert (result['num_scored'] == 5).all()  # frame 0 skipped


def hand_case():
    gt = np.array([
        [[0, 0], [3, 4]],  # frame 0: the seed
        [[0, 0], [3, 4]],  # diagonal 5, normaliser 3: thresholds 0.3 / 0.6
        [[0, 0], [6, 8]],  # diagonal 10, normaliser 6: thresholds 0.6 / 1.2
    ], dtype=float)
    pred = gt.copy()
    pred[0] += 50  # a wrong seed frame does not count
    pred[1, 0] += [0.5, 0]  # joint 0: 0.5 -> miss @0.1, hit @0.2
    pred[2, 0] += [0, 1.0]  # joint 0: 1.0 -> miss @0.1, hit @0.2
    pred[2, 1] += [0.4, 0]  # joint 1: 0.4 -> hit @0.1, hit @0.2
    return pred, gt


def test_pck_hand_computed():
    pred, gt = hand_case()
    result = pck(pred, gt)
    np.testing.assert_array_equal(result['per_joint']['PCK@0.1'], [0.0, 1.0])
    np.testing.assert_array_equal(result['per_joint']['PCK@0.2'], [1.0, 1.0])
    assert result['PCK@0.1'] == 0.5 and result['PCK@0.2'] == 1.0
    counted = pck(pred, gt, skip_first=False)  # frame 0 now counts (and misses)
    np.testing.assert_allclose(counted['per_joint']['PCK@0.2'], [2 / 3, 2 / 3])
    assert 'frame 0 counted' in counted['protocol']


def test_pck_protocol_is_named():
    name = pck(*hand_case())['protocol']
    assert 'frame 0 skipped' in name and '0.6' in name and 'decoding' in name
    decoding = keypoint_decoding(dict(keypoint_topk=3, keypoint_sigma=2.5))
    assert decoding == 'top-3 soft-argmax of Gaussian seeds (sigma 2.5 px)'
    assert 'decoded by top-3 soft-argmax' in pck_protocol(decoding=decoding)
    assert keypoint_decoding(None) is None and keypoint_decoding(dict(radius=3)) is None


def test_accumulate_pck_sums_hits_over_videos():
    pred, gt = hand_case()  # joint 0 @0.1: 0 / 2
    perfect = np.zeros((5, 2, 2))
    perfect[:, 1] = [3, 4]  # 4 scored frames, all correct
    videos = [pck_hits(pred, gt), pck_hits(perfect, perfect)]
    result = accumulate_pck(videos)
    # joint 0 @0.1: (0 + 4) / (2 + 4); joint 1: (2 + 4) / 6. Not the mean of per-video PCKs.
    np.testing.assert_allclose(result['per_joint']['PCK@0.1'], [4 / 6, 1.0])
    assert result['PCK@0.1'] == pytest.approx((4 / 6 + 1) / 2)
    np.testing.assert_array_equal(result['num_scored'], [6, 6])
    with pytest.raises(ValueError):
        accumulate_pck([])


def test_pck_skips_missing_gt_joints():
    pred, gt = hand_case()
    gt[2, 1] = np.nan  # joint 1 unknown in frame 2: not scored, not in the box
    hits, counts = pck_hits(pred, gt)
    np.testing.assert_array_equal(counts, [2, 1])
    # frame 2's box is now the single joint 0: normaliser 0, joint 0 (1 px off) misses
    np.testing.assert_array_equal(hits, [[0, 1], [1, 1]])
