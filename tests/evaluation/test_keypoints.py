"""JHMDB keypoints: seed heatmaps, top-k soft-argmax decoding and PCK."""
import numpy as np
import pytest

from corrflow.evaluation.functional import (accumulate_pck, gaussian_heatmaps, pck, pck_hits,
                                            pck_protocol, soft_argmax_topk)


def test_gaussian_heatmaps():
    points = np.array([[2.0, 1.0], [0.0, 3.0]])
    maps = gaussian_heatmaps(points, (4, 5), sigma=2.0)
    assert maps.shape == (2, 4, 5) and maps.dtype == np.float32
    assert maps[0, 1, 2] == 1.0 and maps[1, 3, 0] == 1.0  # peak at (x, y)
    assert maps[0, 1, 4] == pytest.approx(np.exp(-4 / 8))  # 2 px right of joint 0
    assert maps[0, 3, 4] == pytest.approx(np.exp(-8 / 8))
    with pytest.raises(ValueError):
        gaussian_heatmaps(points, (4, 5), sigma=0)


def test_soft_argmax_topk_hand_computed():
    maps = np.zeros((1, 3, 4))
    maps[0, 0, 1] = 3.0  # (x=1, y=0)
    maps[0, 2, 3] = 1.0  # (x=3, y=2)
    np.testing.assert_allclose(soft_argmax_topk(maps, topk=2), [[1.5, 0.5]])
    np.testing.assert_allclose(soft_argmax_topk(maps, topk=1), [[1.0, 0.0]])
    # Zero heatmap: equal weights over the first k locations in raster order.
    np.testing.assert_allclose(soft_argmax_topk(np.zeros((1, 2, 2)), topk=2), [[0.5, 0.0]])


def test_soft_argmax_recovers_seeded_joints():
    points = np.array([[10.0, 20.0], [33.0, 5.0], [0.0, 0.0]])
    maps = gaussian_heatmaps(points, (40, 48), sigma=4.0)
    for topk in (1, 5, 9):  # symmetric neighbourhoods: the mean is the peak
        np.testing.assert_allclose(soft_argmax_topk(maps[:2], topk=topk), points[:2], atol=1e-9)


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
    assert 'frame 0 skipped' in name and '0.6' in name and 'top-5 soft-argmax' in name
    assert 'top-3' in pck_protocol(topk=3)


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
