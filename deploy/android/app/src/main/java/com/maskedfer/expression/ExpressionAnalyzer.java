package com.maskedfer.expression;

import android.graphics.Bitmap;
import android.graphics.BitmapShader;
import android.graphics.Canvas;
import android.graphics.ColorMatrix;
import android.graphics.ColorMatrixColorFilter;
import android.graphics.Matrix;
import android.graphics.Paint;
import android.graphics.PointF;
import android.graphics.RectF;
import android.graphics.Shader;
import android.media.FaceDetector;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds the faces in a picture with Android's own detector (android.media.FaceDetector: no extra dependency,
 * works offline), crops each one the way the training data was cropped (square, gray, 48x48, the face where
 * FER2013 crops have it) and classifies it. Not thread-safe: call it from one thread.
 */
public final class ExpressionAnalyzer {
    /** The training images are FER2013's 48x48 gray faces. */
    static final int CROP_SIZE = 48;
    /** Where a face box sits in a FER2013 crop (left, top, right, bottom, fractions of the side): the same
     * numbers as FER2013_FACE_BOX in masker/faces.py, which the Python side crops with. */
    static final float[] FER2013_FACE_BOX = {0.06f, 0.10f, 0.94f, 0.96f};
    /** FaceDetector is slow on large pictures; faces are found on a copy this wide, then scaled back. */
    private static final int DETECT_WIDTH = 320;
    private static final int MAX_FACES = 8;
    /** android.media.FaceDetector reports the eyes' midpoint and distance, not a box. These factors turn them
     * into a box framed like dlib's frontal-face box (which FER2013_FACE_BOX refers to): about 2.4 eye
     * distances wide, the eyes about 0.3 of the way down. */
    private static final float BOX_WIDTH_IN_EYE_DISTANCES = 2.4f;
    private static final float EYES_FROM_TOP = 0.3f;
    /** Gray as OpenCV's cvtColor(BGR2GRAY) computes it (ITU-R BT.601), like the training data. */
    private static final ColorMatrix GRAY = new ColorMatrix(new float[]{
            0.299f, 0.587f, 0.114f, 0, 0,
            0.299f, 0.587f, 0.114f, 0, 0,
            0.299f, 0.587f, 0.114f, 0, 0,
            0, 0, 0, 1, 0});

    private final ExpressionClassifier classifier;
    private FaceDetector detector;
    private int detectorWidth;
    private int detectorHeight;

    public ExpressionAnalyzer(ExpressionClassifier classifier) {
        this.classifier = classifier;
    }

    /** Every face found in the picture with its expression; boxes are in the picture's pixels. */
    public List<Expression> analyze(Bitmap picture) {
        List<Expression> expressions = new ArrayList<>();
        for (RectF box : detectFaces(picture)) {
            Bitmap crop = cropFace(picture, box);
            ExpressionClassifier.Result result = classifier.classify(crop);
            crop.recycle();
            if (result != null) {
                expressions.add(new Expression(box, result.label, result.score));
            }
        }
        return expressions;
    }

    List<RectF> detectFaces(Bitmap picture) {
        float scale = Math.min(1f, DETECT_WIDTH / (float) picture.getWidth());
        int width = Math.max(2, Math.round(picture.getWidth() * scale) & ~1); // FaceDetector needs an even width
        int height = Math.max(1, Math.round(picture.getHeight() * scale));
        Bitmap scaled = Bitmap.createScaledBitmap(picture, width, height, true);
        Bitmap small = scaled.copy(Bitmap.Config.RGB_565, false); // the only format FaceDetector reads
        if (scaled != picture) {
            scaled.recycle();
        }
        if (detector == null || width != detectorWidth || height != detectorHeight) {
            detector = new FaceDetector(width, height, MAX_FACES);
            detectorWidth = width;
            detectorHeight = height;
        }
        FaceDetector.Face[] faces = new FaceDetector.Face[MAX_FACES];
        int found = detector.findFaces(small, faces);
        small.recycle();

        float sx = picture.getWidth() / (float) width;
        float sy = picture.getHeight() / (float) height;
        List<RectF> boxes = new ArrayList<>();
        PointF eyes = new PointF();
        for (int i = 0; i < found; i++) {
            if (faces[i] == null || faces[i].confidence() < FaceDetector.Face.CONFIDENCE_THRESHOLD) {
                continue;
            }
            faces[i].getMidPoint(eyes);
            float side = faces[i].eyesDistance() * BOX_WIDTH_IN_EYE_DISTANCES;
            float left = eyes.x - side / 2;
            float top = eyes.y - side * EYES_FROM_TOP;
            boxes.add(new RectF(left * sx, top * sy, (left + side) * sx, (top + side) * sy));
        }
        return boxes;
    }

    /** A 48x48 gray ARGB_8888 crop around a face box, framed like FER2013 (masker/faces.py crop_face). */
    static Bitmap cropFace(Bitmap picture, RectF box) {
        float[] f = FER2013_FACE_BOX;
        float side = Math.max(box.width() / (f[2] - f[0]), box.height() / (f[3] - f[1]));
        float x0 = box.left - f[0] * side;
        float y0 = box.top - f[1] * side;

        // One bilinear step from a large face down to 48 px would alias: halve the picture first while the
        // face stays over twice the crop size (each halving averages 2x2 pixels).
        Bitmap source = picture;
        float shrink = 1f;
        while (side * shrink > 2 * CROP_SIZE && source.getWidth() > 1 && source.getHeight() > 1) {
            Bitmap half = Bitmap.createScaledBitmap(source, source.getWidth() / 2, source.getHeight() / 2, true);
            if (source != picture) {
                source.recycle();
            }
            shrink *= 0.5f;
            source = half;
        }

        float scale = CROP_SIZE / (side * shrink);
        Matrix toCrop = new Matrix();
        toCrop.setTranslate(-x0 * shrink, -y0 * shrink);
        toCrop.postScale(scale, scale);
        // CLAMP repeats the edge pixels where the square leaves the picture, as cv2.BORDER_REPLICATE does.
        BitmapShader shader = new BitmapShader(source, Shader.TileMode.CLAMP, Shader.TileMode.CLAMP);
        shader.setLocalMatrix(toCrop);
        Paint paint = new Paint(Paint.FILTER_BITMAP_FLAG);
        paint.setShader(shader);
        paint.setColorFilter(new ColorMatrixColorFilter(GRAY));

        Bitmap crop = Bitmap.createBitmap(CROP_SIZE, CROP_SIZE, Bitmap.Config.ARGB_8888);
        new Canvas(crop).drawRect(0, 0, CROP_SIZE, CROP_SIZE, paint);
        if (source != picture) {
            source.recycle();
        }
        return crop;
    }
}
