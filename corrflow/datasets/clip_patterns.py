"""Frame patterns of training samples that are not evenly spaced clips."""
from __future__ import annotations

import math
from dataclasses import dataclass

from corrflow.errors import ConfigError

__all__ = ['TimeCyclePattern']


@dataclass(frozen=True)
class TimeCyclePattern:
    """The frames of one TimeCycle sample, as offsets from its first frame.

    In this order: ``num_base_frames`` base frames ``base_gap`` apart, the
    target frame ``target_distance`` after the first base frame, and (unless
    ``motion_gap`` is None) a motion frame ``motion_gap`` after the target. The
    motion frame is not a network input: ``TimeCyclePatch`` measures the
    target frame's motion against it to place the target patch, then drops it.
    With the defaults (TimeCycle's, in frames at 12 fps) the offsets are
    ``[0, 2, 4, 6, 15, 17]``.

    Args:
        num_base_frames (int): base frames (4).
        base_gap (int): distance between consecutive base frames (2).
        target_distance (int): distance from the first base frame to the
            target frame (15); beyond the last base frame.
        motion_gap (int | None): distance from the target frame to the motion
            frame (2, the frame the original implementation compares the
            target with; negative for an earlier frame, not 0). ``None``: no
            motion frame, the target is compared with the last base frame.

    Raises:
        ConfigError: a distance is out of range.
    """

    num_base_frames: int = 4
    base_gap: int = 2
    target_distance: int = 15
    motion_gap: int | None = 2

    def __post_init__(self) -> None:
        if self.num_base_frames < 1 or self.base_gap < 1:
            raise ConfigError(f'num_base_frames and base_gap must be >= 1, got '
                              f'{self.num_base_frames} and {self.base_gap}')
        last_base = (self.num_base_frames - 1) * self.base_gap
        if self.target_distance <= last_base:
            raise ConfigError(f'target_distance ({self.target_distance}) must exceed the offset '
                              f'of the last base frame ({last_base} = (num_base_frames - 1) * '
                              'base_gap)')
        if self.motion_gap is not None and (
                self.motion_gap == 0 or self.target_distance + self.motion_gap < 0):
            raise ConfigError(f'motion_gap must be None or a non-zero distance that stays at or '
                              f'after the first base frame (>= -{self.target_distance}), got '
                              f'{self.motion_gap}')

    @property
    def offsets(self) -> list[int]:
        """Offsets of the base frames, the target frame and the motion frame (if any)."""
        offsets = [i * self.base_gap for i in range(self.num_base_frames)]
        offsets.append(self.target_distance)
        if self.motion_gap is not None:
            offsets.append(self.target_distance + self.motion_gap)
        return offsets

    @property
    def num_motion_frames(self) -> int:
        """Trailing frames used only to measure motion (0 or 1)."""
        return 0 if self.motion_gap is None else 1

    def scaled_offsets(self, rate: float) -> list[int]:
        """Offsets in frames of a source ``rate`` times as fast, rounded to the nearest frame.

        Args:
            rate (float): source frames per pattern frame, at least 1 (so that
                distinct offsets stay distinct).

        Returns:
            list[int]: ``floor(offset * rate + 0.5)`` for each offset.
        """
        if rate < 1:
            raise ConfigError(f'rate must be >= 1, got {rate}')
        return [int(math.floor(offset * rate + 0.5)) for offset in self.offsets]
