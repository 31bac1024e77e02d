"""ImageNetDataset (PaddleClas's list format) and its DataLoader, with bad data reported up front."""
from pathlib import Path

import cv2
import numpy as np
from paddle.io import DataLoader, Dataset, DistributedBatchSampler

from basics import UserError, head_columns

from .config import ConfigError
from .logger import log
from .registry import DATASETS, imported
from .schema import LIST, STR
from .transforms import DecodeImage, apply_transforms, build_batch_transforms, build_transforms


class DataError(UserError, ValueError):
    """Bad training data; the message names the file and what to do."""


class EmptyList(DataError):
    """A list file without a single image."""


def read_label_map(path):
    """PaddleClas class_id_map_file ("0 angry" per line) -> list of names indexed by id."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label map {path} not found: point Infer.PostProcess.class_id_map_file at the "
                        "label_list.txt that tools/make_dataset.py writes")
    names = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"{path}:{number}: expected '<id> <name>', got {line!r}")
        names[int(parts[0])] = parts[1].strip()
    if sorted(names) != list(range(len(names))) or not names:
        raise DataError(f"{path}: class ids must be 0..k-1 without gaps, got {sorted(names)}")
    return [names[i] for i in range(len(names))]


def label_list(config):
    """The names of the classes answered (all, or the first Global.answer_classes, or Global.eval_head's), from
    Infer.PostProcess.class_id_map_file, or else the label_list.txt that tools/make_dataset.py writes beside the
    training list (PaddleClas trains without a label map; this engine names the classes in its reports)."""
    if config["Global"].get("heads"):
        return head_slices(config)[eval_head(config)][2]
    path = config.get("Infer", {}).get("PostProcess", {}).get("class_id_map_file")
    if not path or not Path(path).is_file():
        train_list = config.get("DataLoader", {}).get("Train", {}).get("dataset", {}).get("cls_label_path", ".")
        beside = Path(train_list).parent / "label_list.txt"
        if beside.is_file():
            log.warning("label map %s not found: using %s, beside the training list", path, beside)
            path = beside
        elif not path:
            raise ConfigError("Infer.PostProcess.class_id_map_file is not set, and there is no label_list.txt "
                              "beside the training list: the engine needs the label map")
    labels = read_label_map(path)
    if len(labels) != config["Arch"]["class_num"]:
        raise ConfigError(f"Arch.class_num is {config['Arch']['class_num']} but {path} lists {len(labels)} "
                          "classes: make them agree")
    return labels[:config["Global"].get("answer_classes") or len(labels)]


def head_slices(config):
    """Global.heads (this project's: {head name: its label map}, in the order of the model's classes) as
    {name: (first class, end, labels)}; the heads' classes must add up to Arch.class_num."""
    labels = {name: read_label_map(path) for name, path in config["Global"]["heads"].items()}
    total = sum(len(names) for names in labels.values())
    if total != config["Arch"]["class_num"]:
        raise ConfigError(f"Global.heads list {total} classes in all, but Arch.class_num is "
                          f"{config['Arch']['class_num']}: make them agree")
    columns = head_columns({name: len(names) for name, names in labels.items()})
    return {name: (*columns[name], labels[name]) for name in labels}


def eval_head(config):
    """The head that evaluation measures and training picks its best epoch on: Global.eval_head, or the first."""
    return config["Global"].get("eval_head") or next(iter(config["Global"]["heads"]))


# The label of a face of none of the classes (teacher_only_classes): the losses on labels skip it.
UNLABELLED = -1


def read_list(cls_label_path, image_root, class_num=None, teacher_only=(), label_offset=0):
    """The (relative paths, labels) of a PaddleClas list file, each label plus label_offset; a label among
    teacher_only (before the offset) becomes UNLABELLED. Bad lines, labels and missing images are DataErrors."""
    list_path, image_root = Path(cls_label_path), Path(image_root)
    if not list_path.is_file():
        raise DataError(f"list file {list_path} not found: run tools/make_dataset.py or fix cls_label_path")
    files, labels = [], []
    for number, line in enumerate(list_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DataError(f"{list_path}:{number}: expected '<image path> <label>', got {line!r}")
        label = int(parts[1])
        if label in teacher_only:
            label = UNLABELLED
        else:
            label += label_offset
            if class_num is not None and not 0 <= label < class_num:
                raise DataError(f"{list_path}:{number}: label {label} (with label_offset {label_offset}) is outside "
                                f"0..{class_num - 1} (Arch.class_num): fix the list, label_offset or class_num")
        if not (image_root / parts[0]).is_file():
            raise DataError(f"{list_path}:{number}: image {image_root / parts[0]} does not exist: regenerate the "
                            "list or fix image_root")
        files.append(parts[0])
        labels.append(label)
    if not files:
        raise EmptyList(f"list file {list_path} is empty: run tools/make_dataset.py again")
    return files, labels


@DATASETS.register
class ImageNetDataset(Dataset):
    """Images listed as "relative/path.jpg label" in cls_label_path, relative to image_root.

    Returns (CHW float32 image, label, index) like PaddleClas's dataset; an image that fails to decode
    mid-epoch returns None and is dropped and counted by `collate`, instead of stopping the run.
    """

    def __init__(self, image_root: STR, cls_label_path: STR, transform_ops=(), class_num=None, seed=0,
                 teacher_only_classes: LIST = ()):
        self.image_root = Path(image_root)
        self.files, self.labels = read_list(cls_label_path, self.image_root, class_num, set(teacher_only_classes))
        self.ops = build_transforms(transform_ops)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.files)

    def _image(self, root, index):
        """The image `index` under `root`, transformed with the draws of (seed, epoch, index), as CHW float32; None
        when it cannot be read."""
        return self._read(root / self.files[index], index)

    def _read(self, path, index):
        """The image file at `path`, transformed with the draws of sample `index`; None when it cannot be read."""
        try:
            return self._transformed(self.ops, path.read_bytes(), index)
        except (OSError, ValueError):
            return None

    def _transformed(self, ops, data, index):
        img = apply_transforms(ops, data, np.random.default_rng([self.seed, self.epoch, index]))
        return img.transpose(2, 0, 1).astype(np.float32)

    def __getitem__(self, index):
        img = self._image(self.image_root, index)
        return None if img is None else (img, np.int64(self.labels[index]), np.int64(index))


def pair_paths(pair_root: Path, files, list_path, where: str = "") -> list:
    """Each listed file's pair: the file of the same relative path under pair_root; a DataError that names the fix
    where any is missing."""
    pairs = [pair_root / f for f in files]
    missing = [path for path in pairs if not path.is_file()]
    if missing:
        raise DataError(f"{where}{len(missing)} of {len(files)} images of {list_path} have no pair under {pair_root} "
                        f"(first: {missing[0]}): point pair_root at the dataset with the same file names (make data "
                        "writes dataset/masked and dataset/unmasked)")
    return pairs


@DATASETS.register
class PairedImageNetDataset(ImageNetDataset):
    """This project's extension of ImageNetDataset: each listed image has a pair of the same relative path under
    pair_root (`make data` writes each face masked and unmasked under one name). Both go through the same
    transforms with the same random draws (one crop, one flip) and come as one [2, C, H, W] sample, the listed
    image first, for a DistillationModel whose teacher sees the pair.

    With a masker ("module:Class", e.g. masker.online:FreshMask; the engine imports no masker of its own), the
    listed image is not read: its unmasked pair wears a mask drawn afresh for every sample, a new one each epoch."""

    # A fresh mask's draws come from their own generator, so that the crop and flip draws stay the pair's.
    MASK_STREAM = 1

    def __init__(self, image_root: STR, cls_label_path: STR, pair_root: STR, transform_ops=(), masker: STR = None,
                 class_num=None, seed=0, teacher_only_classes: LIST = ()):
        if not pair_root:
            raise ConfigError("PairedImageNetDataset needs pair_root, the folder of the pairs "
                              "(e.g. ./dataset/unmasked/)")
        super().__init__(image_root, cls_label_path, transform_ops, class_num, seed, teacher_only_classes)
        self.pair_root = Path(pair_root)
        pair_paths(self.pair_root, self.files, cls_label_path)
        self.masker = masker and self._masker(masker)

    def _masker(self, name):
        if not self.ops or not isinstance(self.ops[0], DecodeImage) or self.ops[0].channel_first:
            raise ConfigError("PairedImageNetDataset.masker masks the decoded face: transform_ops must start with "
                              "DecodeImage (channel_first: False)")
        try:
            masker_class = imported(name)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"PairedImageNetDataset.masker: {name!r} names no class; give 'module:Class', "
                              "e.g. masker.online:FreshMask") from None
        return masker_class(self.pair_root, self.files)

    def __getitem__(self, index):
        images = self._freshly_masked(index) if self.masker else \
            [self._image(root, index) for root in (self.image_root, self.pair_root)]
        if images is None or any(img is None for img in images):
            return None
        return np.stack(images), np.int64(self.labels[index]), np.int64(index)

    def _freshly_masked(self, index):
        try:
            data = (self.pair_root / self.files[index]).read_bytes()
        except OSError:
            return None
        face = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if face is None:
            return None
        masked = self.masker(face, index, np.random.default_rng([self.seed, self.epoch, index, self.MASK_STREAM]))
        # As DecodeImage decodes a gray JPEG: the gray in every channel.
        return [self._transformed(self.ops[1:], np.repeat(gray[:, :, None], 3, axis=2), index)
                for gray in (masked, face)]


# The keys of one list of MultiListDataset.lists.
LIST_KEYS = {"image_root", "cls_label_path", "label_offset", "repeat", "pair_root"}


@DATASETS.register
class MultiListDataset(ImageNetDataset):
    """This project's: the images of several PaddleClas lists as one dataset, for a model with several heads
    (Global.heads) that learns from every list at once. Each of `lists` is {image_root, cls_label_path,
    label_offset: the first class of its head (default 0), repeat: how many times an epoch sees it (default 1),
    pair_root: a folder holding each image's pair under the same relative path, as PairedImageNetDataset's}. Where a
    list has a pair_root, every sample is an image and its pair, [2, C, H, W] under the same draws, for the teachers
    that see the pair; a list without one gives each image as its own pair."""

    def __init__(self, lists: LIST, transform_ops=(), class_num=None, seed=0):
        if not lists or not all(isinstance(item, dict) for item in lists):
            raise ConfigError("MultiListDataset.lists: a list of {image_root, cls_label_path, label_offset, repeat, "
                              "pair_root}")
        self.files, self.labels, self.pairs = [], [], []
        for number, item in enumerate(lists):
            where = f"MultiListDataset.lists item {number}"
            unknown = set(item) - LIST_KEYS
            if unknown or not {"image_root", "cls_label_path"} <= set(item):
                raise ConfigError(f"{where}: give image_root and cls_label_path (and optionally label_offset, "
                                  f"repeat, pair_root); got the keys {sorted(item)}")
            offset, repeat = item.get("label_offset", 0), item.get("repeat", 1)
            if not (type(offset) is int and offset >= 0 and type(repeat) is int and repeat >= 1):
                raise ConfigError(f"{where}: label_offset must be an int >= 0 and repeat an int >= 1, got "
                                  f"{offset!r} and {repeat!r}")
            if not isinstance(item.get("pair_root", ""), str):
                raise ConfigError(f"{where}: pair_root must be a folder's path, got {item['pair_root']!r}")
            files, labels = read_list(item["cls_label_path"], item["image_root"], class_num, (), offset)
            pairs = pair_paths(Path(item["pair_root"]), files, item["cls_label_path"], f"{where}: ") \
                if item.get("pair_root") else [None] * len(files)
            self.files += [str(Path(item["image_root"]) / f) for f in files] * repeat
            self.labels += labels * repeat
            self.pairs += pairs * repeat
        self.paired = any(pair is not None for pair in self.pairs)
        self.image_root = Path()
        self.ops = build_transforms(transform_ops)
        self.seed, self.epoch = seed, 0

    def __getitem__(self, index):
        sample = super().__getitem__(index)
        if sample is None or not self.paired:
            return sample
        image = sample[0]
        pair = image if self.pairs[index] is None else self._read(self.pairs[index], index)
        return None if pair is None else (np.stack([image, pair]), *sample[1:])


class ResumableBatchSampler(DistributedBatchSampler):
    """DistributedBatchSampler that can skip the batches an interrupted epoch already trained on."""

    skip = 0

    def __iter__(self):
        for number, batch in enumerate(super().__iter__()):
            if number >= self.skip:
                yield batch
        self.skip = 0


class Collate:
    """Stacks the good samples of a batch, then runs a batch op (Mixup, CutMix) when the config names any; the
    count of skipped (unreadable) images rides along with the batch. A batch op draws from a generator seeded by
    (seed, epoch, the batch's sample indices), so that it too is reproducible and resumable."""

    def __init__(self, batch_ops=(), seed=0):
        self.batch_ops, self.seed, self.epoch = list(batch_ops), seed, 0

    def __call__(self, samples):
        good = [s for s in samples if s is not None]
        skipped = np.int64(len(samples) - len(good))
        if not good:
            empty = np.zeros((0,), dtype=np.int64)
            return np.zeros((0, 3, 1, 1), dtype=np.float32), empty, empty, skipped
        images, labels, indices = (np.stack(column) for column in zip(*good))
        if self.batch_ops:
            rng = np.random.default_rng([self.seed, self.epoch, *indices.tolist()])
            op = self.batch_ops[rng.integers(len(self.batch_ops))]
            images, labels = op(images, labels, rng)
        return images, labels, indices, skipped


def _teacher_only_classes(dataset_cfg, mode, config):
    where, class_num = f"DataLoader.{mode}.dataset.teacher_only_classes", config["Arch"]["class_num"]
    if mode != "Train" or config["Arch"]["name"] != "DistillationModel":
        raise ConfigError(f"{where}: only a DistillationModel's training data can hold faces that only its "
                          "teacher's answer labels; drop it")
    if dataset_cfg.get("batch_transform_ops"):
        raise ConfigError(f"{where}: batch_transform_ops would mix labelled and unlabelled faces; drop one")
    if not any("DistillationKLDivLoss" in term for term in config.get("Loss", {}).get("Train") or []):
        raise ConfigError(f"{where}: those faces learn from the teacher's answer alone; add DistillationKLDivLoss "
                          "to Loss.Train")
    ids = dataset_cfg["teacher_only_classes"]
    if not all(isinstance(i, int) and i >= class_num for i in ids):
        raise ConfigError(f"{where}: the ids of the list's extra classes, each Arch.class_num ({class_num}) or "
                          f"more, got {ids!r}")
    return ids


def build_loader(config, mode, shard=True):
    """DataLoader for DataLoader.<mode> ("Train" or "Eval"); sharded across ranks by DistributedBatchSampler
    unless shard=False (evaluation on rank 0 sees the whole set, without the sampler's padding)."""
    section = config.get("DataLoader", {}).get(mode)
    if not section:
        raise ConfigError(f"the config has no DataLoader.{mode} section")
    dataset_cfg = dict(section["dataset"])
    name = dataset_cfg.pop("name", "ImageNetDataset")
    dataset_cfg.pop("batch_transform_ops", None)
    if dataset_cfg.get("teacher_only_classes"):
        dataset_cfg["teacher_only_classes"] = _teacher_only_classes(section["dataset"], mode, config)
    try:
        dataset = DATASETS.build(name, dataset_cfg, f"DataLoader.{mode}.dataset: ",
                                 class_num=config["Arch"]["class_num"], seed=config["Global"].get("seed", 0))
    except EmptyList:
        if mode != "Eval":
            raise
        # make_dataset writes no eval faces when its input has no PublicTest split: running it again won't help.
        raise DataError(f"DataLoader.Eval's list {dataset_cfg['cls_label_path']} has no faces (the data had no "
                        "PublicTest split): train without evaluation, -o Global.eval_during_train=False, or point "
                        "DataLoader.Eval at a list that has faces") from None
    sampler_cfg = section.get("sampler", {})
    if sampler_cfg.get("name", "DistributedBatchSampler") not in ("DistributedBatchSampler", "BatchSampler"):
        raise ConfigError(f"DataLoader.{mode}.sampler.name: use DistributedBatchSampler")
    ranks = {} if shard else {"num_replicas": 1, "rank": 0}
    sampler = ResumableBatchSampler(dataset, batch_size=sampler_cfg.get("batch_size", 64), **ranks,
                                      shuffle=sampler_cfg.get("shuffle", mode == "Train"),
                                      drop_last=sampler_cfg.get("drop_last", False))
    loader_cfg = section.get("loader", {})
    collate = Collate(build_batch_transforms(section["dataset"].get("batch_transform_ops"),
                                             config["Arch"]["class_num"]),
                      config["Global"].get("seed", 0))
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                      num_workers=loader_cfg.get("num_workers", 0),
                      use_shared_memory=loader_cfg.get("use_shared_memory", False), return_list=True)


def set_epoch(loader, epoch):
    """Reshuffle (sampler) and re-draw augmentations (dataset) for `epoch`, deterministically."""
    loader.batch_sampler.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)
    loader.collate_fn.epoch = epoch
