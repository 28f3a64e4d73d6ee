import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from corrflow.datasets import video_io
from corrflow.datasets.video_io import (DataError, count_video_frames, natural_sort_key,
                                        probe_video, read_image, read_video_frames)


def test_read_image_errors(tmp_path: Path):
    with pytest.raises(DataError, match='does not exist'):
        read_image(tmp_path / 'none.jpg')
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8 truncated')
    with pytest.raises(DataError, match='bad.jpg could not be decoded'):
        read_image(tmp_path / 'bad.jpg')


def test_probe_count_and_read(tmp_path: Path, write_video):
    path = write_video(tmp_path / 'v.mp4', 12, fps=25)
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.height, info.width) == (12, 25.0, 48, 64)
    assert count_video_frames(path) == 12
    frames = read_video_frames(path, [9, 3, 9])
    assert [f.shape for f in frames] == [(48, 64, 3)] * 3
    assert np.median(frames[1][30:, 40:]) == pytest.approx(24, abs=4)
    with pytest.raises(DataError, match='frame 12 could not be decoded'):
        read_video_frames(path, [4, 12])


def test_undecodable_video(tmp_path: Path):
    path = tmp_path / 'junk.mp4'
    path.write_bytes(b'junk' * 64)
    for fn in (probe_video, count_video_frames):
        with pytest.raises(DataError, match='junk.mp4 could not be opened'):
            fn(path)
    with pytest.raises(DataError, match='junk.mp4 could not be opened'):
        read_video_frames(path, [0])


def test_pyav_fallback_when_opencv_fails(tmp_path: Path, write_video, monkeypatch):
    path = write_video(tmp_path / 'v.mp4', 10, fps=20)
    expected = read_video_frames(path, [2, 7])

    class ClosedCapture:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(video_io.cv2, 'VideoCapture', ClosedCapture)
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.height, info.width) == (10, 20.0, 48, 64)
    assert count_video_frames(path) == 10
    frames = read_video_frames(path, [7, 2])
    # same decoder family: identical up to colour-conversion rounding
    assert np.abs(frames[1].astype(int) - expected[0]).max() <= 3
    assert np.abs(frames[0].astype(int) - expected[1]).max() <= 3
    with pytest.raises(DataError, match='frame 10'):
        read_video_frames(path, [10])


def test_av1_video_that_opencv_cannot_decode(tmp_path: Path):
    if 'libsvtav1' not in av.codecs_available:
        pytest.skip('PyAV has no AV1 encoder')
    path = tmp_path / 'v.mkv'
    with av.open(str(path), 'w') as container:
        stream = container.add_stream('libsvtav1', rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, 'yuv420p'
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * i, np.uint8),
                                               format='rgb24')
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    cap = cv2.VideoCapture(str(path))
    opencv_reads = cap.isOpened() and cap.read()[0]
    cap.release()
    if opencv_reads:
        pytest.skip('this OpenCV build decodes AV1; the fallback is not exercised')
    assert probe_video(path).num_frames == 6 and count_video_frames(path) == 6
    frames = read_video_frames(path, [1, 5])
    assert [round(float(f.mean()) / 40) for f in frames] == [1, 5]


def test_natural_sort_key():
    names = ['f10.jpg', 'f2.jpg', 'f1.jpg', 'a.jpg']
    assert sorted(names, key=natural_sort_key) == ['a.jpg', 'f1.jpg', 'f2.jpg', 'f10.jpg']


@pytest.mark.parametrize('marker,fps', [
    (dict(fps=10.0, source_fps=30.0, settings=dict(fps=10.0, every=None)), 10.0),
    (dict(fps=None, source_fps=0.0, settings=dict(fps=6.0, every=None)), None),
    # markers without the fps field: the rate their settings and source imply
    (dict(source_fps=30.0, settings=dict(fps=6.0, every=None)), 6.0),
    (dict(source_fps=10.0, settings=dict(fps=24.0, every=None)), 10.0),  # all frames kept
    (dict(source_fps=30.0, settings=dict(fps=None, every=3)), 10.0),
    (dict(source_fps=0.0, settings=dict(fps=6.0, every=None)), None),
    ([1, 2], None),
])
def test_recorded_frame_rate(tmp_path: Path, marker, fps):
    (tmp_path / video_io.FRAMES_MARKER).write_text(json.dumps(marker))
    assert video_io.recorded_frame_rate(tmp_path) == fps
    (tmp_path / video_io.FRAMES_MARKER).write_text('{not json')
    assert video_io.recorded_frame_rate(tmp_path) is None
    assert video_io.recorded_frame_rate(tmp_path / 'absent') is None
