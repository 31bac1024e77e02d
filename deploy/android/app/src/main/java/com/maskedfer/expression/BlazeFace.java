package com.maskedfer.expression;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The desktop face finder's decoding (deploy/faces.py), in plain Java so that it runs off the phone too: BlazeFace's
 * raw outputs to boxes and keypoints, MediaPipe's weighted non-maximum suppression, the head box people draw, and
 * the crop framed like FER2013's. tests/test_android.py compiles it with a JDK and checks it against
 * deploy/faces.py on the same model outputs; the constants are deploy/faces.py's, checked there too.
 */
public final class BlazeFace {
    static final float SHORT_RANGE_SCORE = 0.5f;
    static final float FULL_RANGE_SCORE = 0.35f;
    static final float SHORT_RANGE_MIN_SHARE = 0.12f;
    static final float NMS_IOU = 0.3f;
    static final float CLOSE_UP_PAD = 0.25f;
    static final int MIN_FACE = 24;
    static final float[] BOX_SCALE = {0.935f, 1.035f};
    static final float[] BOX_SHIFT = {0.015f, 0.095f};
    static final float[] FER2013_POINTS = {0.312f, 0.398f, 0.671f, 0.391f, 0.491f, 0.589f, 0.499f, 0.758f, 0.138f,
        0.479f, 0.870f, 0.460f};
    static final float[] FER2013_BOX = {-0.011f, -0.172f, 1.252f};
    static final double TILT_KEPT_DEGREES = 20.0;
    static final int RIGHT_EYE = 0;
    static final int LEFT_EYE = 1;

    /** One of the two models: its input side and SSD anchor layout (deploy/faces.py MODELS). */
    public enum Model {
        SHORT_RANGE("face_detection_short_range", 128, new int[]{8, 16, 16, 16}, 2, SHORT_RANGE_SCORE),
        FULL_RANGE("face_detection_full_range", 192, new int[]{4}, 1, FULL_RANGE_SCORE);

        public final String assetName;
        public final int size;
        final float minScore;
        final float[][] anchors;

        Model(String assetName, int size, int[] strides, int perLayer, float minScore) {
            this.assetName = assetName;
            this.size = size;
            this.minScore = minScore;
            this.anchors = anchorCentres(size, strides, perLayer);
        }
    }

    /** A face: box (left, top, right, bottom), score, six keypoints (x, y) in the picture's pixels. */
    public static final class Face {
        public final float[] box;
        public final float score;
        public final float[] keypoints;

        Face(float[] box, float score, float[] keypoints) {
            this.box = box;
            this.score = score;
            this.keypoints = keypoints;
        }
    }

    private BlazeFace() {
    }

    /** SSD anchor centres (x, y), 0-1, in the models' output order (deploy/faces.py _anchor_centres). */
    static float[][] anchorCentres(int size, int[] strides, int perLayer) {
        List<float[]> centres = new ArrayList<>();
        int[] distinct = Arrays.stream(strides).distinct().toArray();
        for (int stride : distinct) {
            int layers = (int) Arrays.stream(strides).filter(s -> s == stride).count();
            int grid = size / stride;
            for (int y = 0; y < grid; y++) {
                for (int x = 0; x < grid; x++) {
                    for (int k = 0; k < perLayer * layers; k++) {
                        centres.add(new float[]{(x + 0.5f) / grid, (y + 0.5f) / grid});
                    }
                }
            }
        }
        return centres.toArray(new float[0][]);
    }

    /** One model on one square view of the picture: `side` pixels from (left, top), black past its edges. */
    public static final class Pass {
        public final Model model;
        public final int left;
        public final int top;
        public final int side;

        Pass(Model model, int left, int top, int side) {
            this.model = model;
            this.left = left;
            this.top = top;
            this.side = side;
        }
    }

    /** The passes over a picture of that size: deploy/faces.py's FaceFinder(full_range_face=None).views. */
    static List<Pass> passes(int width, int height) {
        int side = Math.max(width, height);
        int pad = Math.round(CLOSE_UP_PAD * side);
        return Arrays.asList(new Pass(Model.SHORT_RANGE, 0, 0, side),
                new Pass(Model.SHORT_RANGE, -pad, -pad, side + 2 * pad), new Pass(Model.FULL_RANGE, 0, 0, side));
    }

    /**
     * The detections of one model on one square view of the picture, `side` pixels from (left, top), in the
     * picture's pixels: regressors [anchors * 16] and logits [anchors], the model's two outputs.
     */
    static List<Face> decode(Pass view, float[] regressors, float[] logits) {
        Model model = view.model;
        float left = view.left;
        float top = view.top;
        float side = view.side;
        List<Face> found = new ArrayList<>();
        float scale = side / model.size;
        for (int i = 0; i < model.anchors.length; i++) {
            float score = (float) (1.0 / (1.0 + Math.exp(-Math.max(-80f, Math.min(80f, logits[i])))));
            if (score < model.minScore) {
                continue;
            }
            int r = i * 16;
            float cx = left + model.anchors[i][0] * side + regressors[r] * scale;
            float cy = top + model.anchors[i][1] * side + regressors[r + 1] * scale;
            float halfW = regressors[r + 2] * scale / 2;
            float halfH = regressors[r + 3] * scale / 2;
            // On small faces the short-range model misplaces its boxes: it is for close-ups.
            if (model == Model.SHORT_RANGE && 2 * halfW < SHORT_RANGE_MIN_SHARE * side) {
                continue;
            }
            float[] keypoints = new float[12];
            for (int k = 0; k < 6; k++) {
                keypoints[2 * k] = left + model.anchors[i][0] * side + regressors[r + 4 + 2 * k] * scale;
                keypoints[2 * k + 1] = top + model.anchors[i][1] * side + regressors[r + 5 + 2 * k] * scale;
            }
            found.add(new Face(new float[]{cx - halfW, cy - halfH, cx + halfW, cy + halfH}, score, keypoints));
        }
        return found;
    }

    /** Both models' detections merged, as head boxes of at least MIN_FACE pixels, largest first. */
    static List<Face> merge(List<Face> detections) {
        List<Face> faces = new ArrayList<>();
        for (Face face : weightedNms(detections)) {
            float[] box = headBox(face.box);
            for (int i = 0; i < 4; i++) {
                box[i] = Math.round(box[i]);
            }
            if (Math.min(box[2] - box[0], box[3] - box[1]) >= MIN_FACE) {
                faces.add(new Face(box, face.score, face.keypoints));
            }
        }
        faces.sort(Comparator.comparingDouble((Face f) -> -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1])));
        return faces;
    }

    /** MediaPipe's blending suppression: each cluster of overlapping detections becomes its score-weighted mean. */
    static List<Face> weightedNms(List<Face> detections) {
        List<Face> sorted = new ArrayList<>(detections);
        sorted.sort(Comparator.comparingDouble((Face f) -> -f.score));
        boolean[] alive = new boolean[sorted.size()];
        Arrays.fill(alive, true);
        List<Face> out = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            if (!alive[i]) {
                continue;
            }
            float[] box = new float[4];
            float[] keypoints = new float[12];
            float total = 0;
            for (int j = i; j < sorted.size(); j++) {
                if (!alive[j] || iou(sorted.get(i).box, sorted.get(j).box) <= NMS_IOU) {
                    continue;
                }
                alive[j] = false;
                Face member = sorted.get(j);
                total += member.score;
                for (int k = 0; k < 4; k++) {
                    box[k] += member.box[k] * member.score;
                }
                for (int k = 0; k < 12; k++) {
                    keypoints[k] += member.keypoints[k] * member.score;
                }
            }
            for (int k = 0; k < 4; k++) {
                box[k] /= total;
            }
            for (int k = 0; k < 12; k++) {
                keypoints[k] /= total;
            }
            out.add(new Face(box, sorted.get(i).score, keypoints));
        }
        return out;
    }

    static float iou(float[] a, float[] b) {
        float inter = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]))
                * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        float union = area(a) + area(b) - inter;
        return inter / Math.max(union, 1e-9f);
    }

    private static float area(float[] box) {
        return Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]);
    }

    /** A BlazeFace box (brows to mouth) as a person boxes the head, down to the chin where a mask sits. */
    static float[] headBox(float[] box) {
        float width = box[2] - box[0];
        float height = box[3] - box[1];
        float cx = (box[0] + box[2]) / 2 + BOX_SHIFT[0] * width;
        float cy = (box[1] + box[3]) / 2 + BOX_SHIFT[1] * height;
        float halfW = BOX_SCALE[0] * width / 2;
        float halfH = BOX_SCALE[1] * height / 2;
        return new float[]{cx - halfW, cy - halfH, cx + halfW, cy + halfH};
    }

    /**
     * The 2x3 affine (row by row) from the picture to a size x size crop framed like FER2013's: the average of the
     * keypoints fitted onto FER2013_POINTS and the box moved by FER2013_BOX; a tilt beyond TILT_KEPT_DEGREES is
     * levelled (deploy/faces.py fer2013_transform).
     */
    static double[] fer2013Transform(Face face, int size) {
        float[] k = face.keypoints;
        int n = k.length / 2;
        double eyesX = (k[2 * RIGHT_EYE] + k[2 * LEFT_EYE]) / 2.0;
        double eyesY = (k[2 * RIGHT_EYE + 1] + k[2 * LEFT_EYE + 1]) / 2.0;
        double tilt = Math.atan2(k[2 * LEFT_EYE + 1] - k[2 * RIGHT_EYE + 1], k[2 * LEFT_EYE] - k[2 * RIGHT_EYE]);
        double level = Math.signum(tilt) * Math.max(Math.abs(tilt) - Math.toRadians(TILT_KEPT_DEGREES), 0.0);
        double cos = Math.cos(level);
        double sin = Math.sin(level);
        double[] px = new double[n];
        double[] py = new double[n];
        double meanX = 0, meanY = 0, targetX = 0, targetY = 0;
        for (int i = 0; i < n; i++) {
            double dx = k[2 * i] - eyesX;
            double dy = k[2 * i + 1] - eyesY;
            px[i] = cos * dx + sin * dy + eyesX;
            py[i] = -sin * dx + cos * dy + eyesY;
            meanX += px[i] / n;
            meanY += py[i] / n;
            targetX += (FER2013_POINTS[2 * i] * size - 0.5) / n;
            targetY += (FER2013_POINTS[2 * i + 1] * size - 0.5) / n;
        }
        double cross = 0, spread = 0;
        for (int i = 0; i < n; i++) {
            cross += (px[i] - meanX) * (FER2013_POINTS[2 * i] * size - 0.5 - targetX)
                + (py[i] - meanY) * (FER2013_POINTS[2 * i + 1] * size - 0.5 - targetY);
            spread += (px[i] - meanX) * (px[i] - meanX) + (py[i] - meanY) * (py[i] - meanY);
        }
        double fit = cross / Math.max(spread, 1e-9);
        float[] box = face.box;
        double width = box[2] - box[0];
        double bx = (box[0] + box[2]) / 2.0 - eyesX;
        double by = (box[1] + box[3]) / 2.0 - eyesY;
        double boxX = cos * bx + sin * by + eyesX + FER2013_BOX[0] * width;
        double boxY = -sin * bx + cos * by + eyesY + FER2013_BOX[1] * width;
        double boxSide = FER2013_BOX[2] * width;
        double centreX = boxX;
        double centreY = boxY;
        double side = boxSide;
        if (fit > 0) {
            centreX = (meanX + (size / 2.0 - 0.5 - targetX) / fit + boxX) / 2;
            centreY = (meanY + (size / 2.0 - 0.5 - targetY) / fit + boxY) / 2;
            side = (size / fit + boxSide) / 2;
        }
        double scale = size / side;
        double shiftX = scale * (eyesX - (cos * eyesX + sin * eyesY) - centreX) + size / 2.0 - 0.5;
        double shiftY = scale * (eyesY - (-sin * eyesX + cos * eyesY) - centreY) + size / 2.0 - 0.5;
        return new double[]{scale * cos, scale * sin, shiftX, -scale * sin, scale * cos, shiftY};
    }
}
