"""engine/evaluate.py's make_report, on which every Results table rests: checked by hand and against
scikit-learn (swapped precision and recall, or rows and columns of the confusion matrix, fail here)."""
import numpy as np
import pytest

from engine.evaluate import make_report


def one_hot(predictions, classes):
    return np.eye(classes)[predictions]


def test_a_small_example_worked_by_hand():
    # true:      a a a b b c
    # predicted: a a b b c c  -> a: P 2/2, R 2/3; b: P 1/2, R 1/2; c: P 1/2, R 1/1
    labels = np.array([0, 0, 0, 1, 1, 2])
    report = make_report(labels, one_hot([0, 0, 1, 1, 2, 2], 3), ["a", "b", "c"], topk=(1,))
    assert report["accuracy"] == pytest.approx(4 / 6)
    a, b, c = (report["per_class"][name] for name in "abc")
    assert (a["precision"], a["recall"]) == pytest.approx((1.0, 2 / 3))
    assert (b["precision"], b["recall"]) == pytest.approx((0.5, 0.5))
    assert (c["precision"], c["recall"]) == pytest.approx((0.5, 1.0))
    assert a["f1"] == pytest.approx(0.8) and c["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]   # rows true, columns predicted
    assert [report["per_class"][n]["support"] for n in "abc"] == [3, 2, 1]


def test_agrees_with_scikit_learn_on_random_answers():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 500)
    probs = rng.random((500, 4))
    probs[np.arange(250), labels[:250]] += 0.6          # better than chance, unevenly per class
    report = make_report(labels, probs, list("wxyz"), topk=(1, 2))
    predicted = probs.argmax(1)
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, zero_division=0)
    for i, name in enumerate("wxyz"):
        row = report["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == \
            pytest.approx((precision[i], recall[i], f1[i], support[i]))
    assert report["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert report["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert report["confusion_matrix"] == confusion_matrix(labels, predicted).tolist()
    top2 = np.mean([label in np.argsort(-row)[:2] for label, row in zip(labels, probs)])
    assert report["topk"]["top2"] == pytest.approx(top2)
