"""DAVIS J&F maths: hand-computed masks and straightforward full-frame references."""

import numpy as np
import pytest

from references import boundary_map as ref_boundary
from references import db_statistics as ref_statistics
from references import frame_f_measure

from corrflow.evaluation.functional import (boundary_radius, db_iou, db_statistics, disk_kernel,
                                            evaluate_frame, evaluate_sequence, f_measure,
                                            num_objects, seg_to_boundary)

# --------------------------------------------------------------------------------------
# Straightforward references, written the way the official tool computes (full frame).


def ref_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """Full-frame F (the official structure, no void pixels)."""
    return frame_f_measure(pred, gt, np.zeros(gt.shape, dtype=bool), bound_th)


def ref_j(pred: np.ndarray, gt: np.ndarray) -> float:
    union = np.sum(pred.astype(bool) | gt.astype(bool))
    return 1.0 if union == 0 else np.sum(pred.astype(bool) & gt.astype(bool)) / union


def random_mask(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Random blobs: rectangles, discs and salt noise; sometimes empty, full or at borders."""
    h, w = shape
    kind = rng.integers(8)
    if kind == 0:
        return np.zeros(shape, bool)
    if kind == 1:
        return np.ones(shape, bool)
    mask = np.zeros(shape, bool)
    for _ in range(rng.integers(1, 4)):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0, h + 1), rng.integers(x0, w + 1)
        if rng.random() < 0.5:  # extend to a border
            if rng.random() < 0.5:
                y1 = h
            else:
                x1 = w
        mask[y0:y1 + 1, x0:x1 + 1] = True
    if kind == 2:
        yy, xx = np.mgrid[:h, :w]
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(1, max(h, w))
        mask |= (yy - cy)**2 + (xx - cx)**2 <= r * r
    if kind == 3:
        mask ^= rng.random(shape) < 0.05
    if kind == 4:  # a single pixel at the bottom-right corner
        mask = np.zeros(shape, bool)
        mask[-1, -1] = True
    return mask


# --------------------------------------------------------------------------------------
# Structuring element and radius.


def test_disk_kernel_is_the_integer_disk():
    assert disk_kernel(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert disk_kernel(2).tolist() == [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1],
                                       [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]
    k8 = disk_kernel(8)
    assert k8.shape == (17, 17) and k8.dtype == np.uint8
    assert int(k8.sum()) == 197  # lattice points with x² + y² <= 64
    assert k8[8, 0] == 1 and k8[0, 8] == 1 and k8[1, 3] == 0  # (±8, 0) in, (-5, -7) out
    assert disk_kernel(0).tolist() == [[1]]


def test_boundary_radius():
    assert boundary_radius((480, 854)) == 8  # ceil(0.008 * 979.65)
    assert boundary_radius((480, 910)) == 9  # bike-packing: ceil(8.23)
    assert boundary_radius((10, 10)) == 1
    assert boundary_radius((10, 10), bound_th=3) == 3
    with pytest.raises(ValueError):
        boundary_radius((10, 10), bound_th=2.5)


# --------------------------------------------------------------------------------------
# J.


def test_db_iou_hand_computed():
    gt = np.zeros((3, 4), bool)
    pred = np.zeros((3, 4), bool)
    assert db_iou(gt, pred) == 1.0  # empty union
    gt[0, :3] = True  # 3 px
    pred[0, 1:] = True  # 3 px, 2 shared, union 4
    assert db_iou(gt, pred) == 0.5
    pred[:] = False
    pred[2, 3] = True
    assert db_iou(gt, pred) == 0.0


def test_db_iou_vectorised_over_frames():
    rng = np.random.default_rng(0)
    gt = rng.random((5, 6, 7)) < 0.3
    pred = rng.random((5, 6, 7)) < 0.3
    gt[2] = pred[2] = False
    j = db_iou(gt, pred)
    assert j.shape == (5,)
    assert j[2] == 1.0
    np.testing.assert_array_equal(j, [ref_j(p, g) for p, g in zip(pred, gt)])


# --------------------------------------------------------------------------------------
# Boundaries.


def test_seg_to_boundary_block_hand_computed():
    seg = np.zeros((4, 4), np.uint8)
    seg[1:3, 1:3] = 1
    expected = [[1, 1, 1, 0],
                [1, 0, 1, 0],
                [1, 1, 1, 0],
                [0, 0, 0, 0]]
    assert seg_to_boundary(seg).astype(int).tolist() == expected


def test_seg_to_boundary_last_row_and_column():
    full = np.ones((4, 5), bool)
    assert not seg_to_boundary(full).any()  # the image border is no boundary
    last_row = np.zeros((4, 4), bool)
    last_row[3] = True
    expected = np.zeros((4, 4), int)
    expected[2] = 1  # the row above differs from its lower neighbours
    assert seg_to_boundary(last_row).astype(int).tolist() == expected.tolist()
    last_col = np.zeros((4, 4), bool)
    last_col[:, 3] = True
    expected = np.zeros((4, 4), int)
    expected[:, 2] = 1
    assert seg_to_boundary(last_col).astype(int).tolist() == expected.tolist()
    corner = np.zeros((3, 3), bool)
    corner[2, 2] = True
    expected = [[0, 0, 0], [0, 1, 1], [0, 1, 0]]  # bottom-right pixel never boundary
    assert seg_to_boundary(corner).astype(int).tolist() == expected


def test_seg_to_boundary_matches_reference_on_random_masks():
    rng = np.random.default_rng(1)
    for _ in range(200):
        shape = (int(rng.integers(1, 30)), int(rng.integers(1, 30)))
        mask = random_mask(rng, shape)
        np.testing.assert_array_equal(seg_to_boundary(mask), ref_boundary(mask))


# --------------------------------------------------------------------------------------
# F.


def test_f_special_cases():
    empty = np.zeros((20, 20), bool)
    blob = np.zeros((20, 20), bool)
    blob[5:10, 5:10] = True
    full = np.ones((20, 20), bool)
    assert f_measure(empty, empty) == 1.0  # no boundary at all: F = 1
    assert f_measure(empty, blob) == 0.0  # P = 1, R = 0
    assert f_measure(blob, empty) == 0.0  # P = 0, R = 1
    assert f_measure(full, full) == 1.0  # full frame: no boundary either
    assert f_measure(blob, full) == 0.0  # GT without boundary, prediction with one
    far = np.zeros((20, 20), bool)
    far[15:19, 15:19] = True
    assert f_measure(far, blob, bound_th=1) == 0.0  # P + R = 0


def test_f_hand_computed_radius_one():
    # Single pixels: boundary = the pixel, its left, upper and upper-left neighbours.
    gt = np.zeros((8, 8), bool)
    gt[2, 2] = True  # boundary {(1,1), (1,2), (2,1), (2,2)}
    pred = np.zeros((8, 8), bool)
    pred[2, 4] = True  # boundary {(1,3), (1,4), (2,3), (2,4)}
    # radius 1 (a plus): (1,3)~(1,2) and (2,3)~(2,2) match, the others are 2 px away.
    assert f_measure(pred, gt, bound_th=1) == pytest.approx(0.5, abs=0)
    pred[:] = False
    pred[3, 4] = True  # boundary {(2,3), (2,4), (3,3), (3,4)}: only (2,3)~(2,2) is in reach
    assert f_measure(pred, gt, bound_th=1) == 0.25
    assert f_measure(pred, gt, bound_th=2) == 2 * 0.75 * 0.75 / 1.5  # (3,3)~(2,2) at √2


@pytest.mark.parametrize('seed', range(4))
def test_fast_f_equals_full_frame_f_on_random_masks(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(150):
        shape = (int(rng.integers(1, 70)), int(rng.integers(1, 70)))
        pred = random_mask(rng, shape)
        gt = random_mask(rng, shape)
        if rng.random() < 0.3:  # near-miss predictions
            gt = np.roll(pred, int(rng.integers(-3, 4)), axis=int(rng.integers(2)))
        bound_th = [0.008, 0.05, 1, 2, 4][int(rng.integers(5))]
        assert f_measure(pred, gt, bound_th) == ref_f(pred, gt, bound_th)


def test_fast_f_equals_full_frame_f_at_davis_size():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:480, :854]
    for _ in range(6):
        cy, cx = rng.integers(-50, 530), rng.integers(-50, 900)
        gt = (yy - cy)**2 / 90**2 + (xx - cx)**2 / 150**2 <= 1
        pred = np.roll(gt, (int(rng.integers(-12, 12)), int(rng.integers(-12, 12))), (0, 1))
        pred[rng.random(pred.shape) < 0.001] = True
        assert f_measure(pred, gt) == ref_f(pred, gt)


# --------------------------------------------------------------------------------------
# Statistics.


def test_db_statistics_decay_bins_hand_computed():
    # T = 10: linspace(1, 10, 5) = [1, 3.25, 5.5, 7.75, 10] -> round -> [1, 3, 6, 8, 10]
    # -> edges [0, 2, 5, 7, 9]: first bin v[0:3], last bin v[7:10].
    values = 1.0 - np.arange(10) / 10
    mean, recall, decay = db_statistics(values)
    assert decay == pytest.approx((1.0 + 0.9 + 0.8) / 3 - (0.3 + 0.2 + 0.1) / 3, abs=1e-15)
    assert mean == pytest.approx(0.55, abs=1e-15)
    assert recall == 0.5  # 1.0 .. 0.6 are above 0.5; 0.5 itself is not


def test_db_statistics_shared_endpoints():
    # T = 5: edges [0, 1, 2, 3, 4]; bins share their edge frames: [v0, v1] ... [v3, v4].
    values = np.array([1.0, 0.0, 0.25, 0.5, 0.75])
    _, _, decay = db_statistics(values)
    assert decay == (1.0 + 0.0) / 2 - (0.5 + 0.75) / 2


def test_db_statistics_nan_and_threshold():
    mean, recall, _ = db_statistics(np.array([0.5, 0.6, np.nan, 0.4]))
    assert mean == pytest.approx(0.5)
    assert recall == 0.25  # NaN counts as a miss, 0.5 is not above 0.5


def test_db_statistics_matches_official_formula_incl_uint8_wrap():
    rng = np.random.default_rng(3)
    for n in list(range(1, 40)) + [255, 256, 257, 300, 511, 600]:
        values = rng.random(n)
        ours = db_statistics(values)
        ref = ref_statistics(values)
        np.testing.assert_array_equal(np.array(ours), np.array(ref, dtype=np.float64))


# --------------------------------------------------------------------------------------
# Sequence protocol.


def make_sequence(frames: list) -> np.ndarray:
    return np.stack([np.asarray(f, np.uint8) for f in frames])


def test_num_objects_ignores_void():
    frame = np.array([[0, 1, 255], [2, 0, 255]], np.uint8)
    assert num_objects(frame) == 2
    assert num_objects(np.full((2, 2), 255, np.uint8)) == 0


def test_first_and_last_frames_are_not_scored():
    gt = np.zeros((4, 6, 6), np.uint8)
    gt[:, 1:4, 1:4] = 1
    pred = gt.copy()
    pred[0] = 255  # not scored, never looked at
    pred[3] = 7
    j, f = evaluate_sequence(gt, pred)
    assert j.shape == f.shape == (1, 2)
    assert (j == 1).all() and (f == 1).all()


def test_ids_above_object_count_raise():
    gt = np.zeros((3, 5, 5), np.uint8)
    gt[:, 1:3, 1:3] = 1
    pred = gt.copy()
    pred[1, 0, 0] = 2
    with pytest.raises(ValueError, match='above the object count'):
        evaluate_sequence(gt, pred)
    pred[1, 0, 0] = 255
    with pytest.raises(ValueError, match='255'):
        evaluate_sequence(gt, pred)
    with pytest.raises(ValueError):
        evaluate_frame(gt[1], pred[1], 1)


def test_gt_void_is_background():
    gt = np.zeros((3, 4, 4), np.uint8)
    gt[:, 0, :2] = 1
    gt[:, 3, :] = 255  # void row
    pred = np.zeros_like(gt)
    pred[:, 0, :2] = 1
    pred[:, 3, :] = 1  # predicting the void row is a false positive
    j, _ = evaluate_sequence(gt, pred)
    assert j[0, 0] == 2 / 6  # 2 shared pixels, union 2 + 4
    assert num_objects(gt[0]) == 1


def test_missing_and_absent_objects():
    gt = np.zeros((3, 8, 8), np.uint8)
    gt[:, 1:3, 1:3] = 1
    gt[1, 5:7, 5:7] = 2  # object 2 only in frame 1; absent from frame 2 (GT and pred)
    gt[0, 5:7, 5:7] = 2
    gt[2, 0, 7] = 9  # an id above N in a later GT frame is no object
    pred = np.zeros_like(gt)
    pred[:, 1:3, 1:3] = 1  # object 2 never predicted: empty mask
    j, f = evaluate_sequence(gt, pred)
    assert j.shape == (2, 1)
    gt4 = make_sequence([gt[0], gt[1], gt[1], gt[2]])
    pred4 = make_sequence([pred[0], pred[1], pred[2], pred[2]])
    j, f = evaluate_sequence(gt4, pred4)
    np.testing.assert_array_equal(j, [[1, 1], [0, 0]])
    np.testing.assert_array_equal(f, [[1, 1], [0, 0]])  # object 2: P = 1, R = 0
    gt4[2, 5:7, 5:7] = 0  # object 2 absent in GT and prediction: J = F = 1
    j, f = evaluate_sequence(gt4, pred4)
    assert j[1, 1] == 1 and f[1, 1] == 1


def test_too_few_frames_and_shape_mismatch():
    with pytest.raises(ValueError, match='at least 3'):
        evaluate_sequence(np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError):
        evaluate_sequence(np.zeros((3, 4, 4), np.uint8), np.zeros((3, 4, 5), np.uint8))


def test_evaluate_sequence_matches_reference_multi_object():
    rng = np.random.default_rng(11)
    for _ in range(10):
        t, h, w = int(rng.integers(3, 7)), int(rng.integers(5, 50)), int(rng.integers(5, 50))
        n = int(rng.integers(1, 4))
        gt = rng.integers(0, n + 1, (t, h, w)).astype(np.uint8)
        gt = np.where(rng.random((t, h, w)) < 0.7, 0, gt).astype(np.uint8)
        gt[0, 0, 0] = n  # N = n
        gt[rng.random((t, h, w)) < 0.02] = 255  # void
        pred = np.where(rng.random((t, h, w)) < 0.8, np.where(gt == 255, 0, gt),
                        rng.integers(0, n + 1, (t, h, w))).astype(np.uint8)
        j, f = evaluate_sequence(gt, pred)
        gt_clean = np.where(gt == 255, 0, gt)
        for k in range(1, n + 1):
            for i in range(1, t - 1):
                assert j[k - 1, i - 1] == ref_j(pred[i] == k, gt_clean[i] == k)
                assert f[k - 1, i - 1] == ref_f(pred[i] == k, gt_clean[i] == k)
