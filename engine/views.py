"""Views of a face for averaging (test-time augmentation): the face itself, centred crops of a share of its side
moved by whole pixels and resized back, and all of them mirrored. The exported model (DeployedModel) and a
distillation teacher (DistillationModel) average their answers over the same views."""
import paddle
import paddle.nn.functional as F

from .config import ConfigError


def check_views(views, where="Global.view_average"):
    """Views as [share, dx, dy]: a share of the side in (0, 1], whole-pixel moves of at most 8 px."""
    for view in views or []:
        if not (isinstance(view, list) and len(view) == 3 and all(isinstance(v, (int, float)) for v in view)
                and 0 < view[0] <= 1 and all(float(v).is_integer() and abs(v) <= 8 for v in view[1:])):
            raise ConfigError(f"{where}: each view is [share of the side in (0, 1], dx, dy in whole pixels up to 8], "
                              f"for example [0.9, 0, 0] or [1.0, 2, 0]; got {view!r}")
    return views


def crop_view(x, share, dx, dy):
    """The centred crop of `share` of the side of an NCHW batch, moved by dx, dy pixels, resized back."""
    height, width = x.shape[2], x.shape[3]
    size = int(round(share * height))
    margin = max(abs(int(dx)), abs(int(dy)), 0)
    if margin:
        x = F.pad(x, [margin] * 4, mode="replicate")
    top, left = margin + (height - size) // 2 + int(dy), margin + (width - size) // 2 + int(dx)
    x = x[:, :, top:top + size, left:left + size]
    return x if size == height else F.interpolate(x, size=[height, width], mode="bilinear", align_corners=False)


class Views:
    """The views a model averages over: `batch` stacks them into one batch (one forward pass for all), `mean`
    averages per-view answers back to one per face."""

    def __init__(self, flip=False, crops=None):
        self.flip, self.crops = bool(flip), [tuple(view) for view in crops or []]

    @property
    def count(self):
        return (1 + len(self.crops)) * (2 if self.flip else 1)

    def batch(self, x):
        views = [x] + [crop_view(x, *view) for view in self.crops]
        if self.flip:
            views += [paddle.flip(v, axis=[3]) for v in views]
        return views[0] if len(views) == 1 else paddle.concat(views)

    def per_view(self, answers):
        """Answers of the stacked batch as [views, faces, classes]."""
        return answers.reshape([self.count, -1, answers.shape[-1]])

    def mean(self, answers):
        return answers if self.count == 1 else self.per_view(answers).mean(axis=0)
