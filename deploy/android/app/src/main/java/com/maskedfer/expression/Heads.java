package com.maskedfer.expression;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The answer of an exported model's graph for one face, read as deploy/predictor.py reads it. A fused model
 * (inference.yml's Heads: face_status, masked, unmasked; deploy/android/package_model.py writes them to the heads
 * asset, one "name start end" line each) gives the face's mask status, P(no face) and the expression of the head its
 * mask status picks, all from one pass; a plain model is one head of expressions. Plain Java, so that
 * tests/test_android.py runs it on a JDK against the desktop predictor.
 */
final class Heads {
    /** deploy/predictor.py's MASKED_FROM: a face is masked from this mask score on. */
    static final float MASKED_FROM = 0.6f;
    /** deploy/predictor.py's NO_FACE_THRESHOLD: a found face with P(no face) this high or higher is dropped. */
    static final float NO_FACE_THRESHOLD = 0.9f;

    /** One face's answer. masked is null (and maskScore, noFace NaN) for a model without a face-status head. */
    static final class Answer {
        final String label;
        final float score;
        final Boolean masked;
        final float maskScore;
        final float noFace;

        Answer(String label, float score, Boolean masked, float maskScore, float noFace) {
            this.label = label;
            this.score = score;
            this.masked = masked;
            this.maskScore = maskScore;
            this.noFace = noFace;
        }
    }

    private final List<String> labels;
    private int[] status, masked, unmasked, single;

    /** labels: every class of the graph's answer in order; heads: "name start end" lines (end exclusive). */
    Heads(List<String> labels, List<String> heads) {
        this.labels = new ArrayList<>(labels);
        for (String line : heads) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length != 3) {
                throw new IllegalArgumentException("a heads line is 'name start end', got '" + line + "'");
            }
            int[] range = {Integer.parseInt(parts[1]), Integer.parseInt(parts[2])};
            if (range[0] < 0 || range[1] > labels.size() || range[0] >= range[1]) {
                throw new IllegalArgumentException("head " + parts[0] + " spans " + range[0] + "-" + range[1]
                        + " of " + labels.size() + " classes");
            }
            switch (parts[0]) {
                case "face_status": status = range; break;
                case "masked": masked = range; break;
                case "unmasked": unmasked = range; break;
                default: single = range;
            }
        }
        boolean fused = status != null && masked != null && unmasked != null;
        if (!fused && single == null) {
            throw new IllegalArgumentException("the heads name neither face_status, masked and unmasked, nor one head");
        }
        if (fused && !labels.subList(status[0], status[1]).equals(Arrays.asList("masked", "unmasked", "no_face"))) {
            throw new IllegalArgumentException("the face_status head's labels are " + labels.subList(status[0], status[1]));
        }
    }

    /** The answer from the graph's scores by class id (FastDeploy's ClassifyResult: mLabelIds, mScores). */
    Answer answer(int[] labelIds, float[] scores) {
        float[] probs = new float[labels.size()];
        for (int i = 0; i < labelIds.length; i++) {
            if (labelIds[i] >= 0 && labelIds[i] < probs.length) {
                probs[labelIds[i]] = scores[i];
            }
        }
        if (single != null && status == null) {
            return best(probs, single, null, Float.NaN, Float.NaN);
        }
        float maskedP = probs[status[0]], unmaskedP = probs[status[0] + 1];
        float maskScore = maskedP / Math.max(maskedP + unmaskedP, 1e-9f);
        boolean isMasked = maskScore >= MASKED_FROM;
        return best(probs, isMasked ? masked : unmasked, isMasked, maskScore, probs[status[0] + 2]);
    }

    private Answer best(float[] probs, int[] head, Boolean isMasked, float maskScore, float noFace) {
        int best = head[0];
        for (int i = head[0] + 1; i < head[1]; i++) {
            if (probs[i] > probs[best]) {
                best = i;
            }
        }
        return new Answer(labels.get(best), probs[best], isMasked, maskScore, noFace);
    }
}
