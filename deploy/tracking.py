"""Faces followed across video frames: a face keeps one id while it stays in view, and its scores can be
averaged over the last few frames."""
from collections import deque

import numpy as np


def iou(a, b) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class IouTracker:
    """Greedy IoU matching between this frame's faces and the tracks seen lately: the pair with the largest overlap
    is matched first, down to min_iou; an unmatched face starts a new track, and a track unseen for more than
    max_missed frames ends. smooth: each track's scores are the mean over its last `smooth` frames (1: none)."""

    def __init__(self, min_iou=0.3, max_missed=5, smooth=1):
        if smooth < 1:
            raise ValueError(f"smooth must be at least 1 frame, got {smooth}")
        self.min_iou, self.max_missed, self.smooth = min_iou, max_missed, smooth
        self.tracks = {}   # id -> {"box", "missed", "history"}
        self.next_id = 1

    def update(self, boxes, probs) -> list:
        """[(track id, smoothed probabilities)] for this frame's boxes, in their order."""
        pairs = sorted(((iou(box, track["box"]), i, track_id) for i, box in enumerate(boxes)
                        for track_id, track in self.tracks.items()), reverse=True)
        assigned, taken = {}, set()
        for overlap, i, track_id in pairs:
            if overlap < self.min_iou:
                break
            if i not in assigned and track_id not in taken:
                assigned[i] = track_id
                taken.add(track_id)
        for track_id, track in list(self.tracks.items()):
            if track_id not in taken:
                track["missed"] += 1
                if track["missed"] > self.max_missed:
                    del self.tracks[track_id]
        out = []
        for i, (box, prob) in enumerate(zip(boxes, probs)):
            if i not in assigned:
                assigned[i] = self.next_id
                self.tracks[self.next_id] = {"history": deque(maxlen=self.smooth)}
                self.next_id += 1
            track = self.tracks[assigned[i]]
            track.update(box=tuple(box), missed=0)
            track["history"].append(np.asarray(prob, dtype=np.float64))
            out.append((assigned[i], np.mean(track["history"], axis=0)))
        return out
