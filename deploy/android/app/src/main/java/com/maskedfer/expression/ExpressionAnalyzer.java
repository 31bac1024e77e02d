package com.maskedfer.expression;

import android.graphics.Bitmap;
import android.graphics.BitmapShader;
import android.graphics.Canvas;
import android.graphics.ColorMatrix;
import android.graphics.ColorMatrixColorFilter;
import android.graphics.Matrix;
import android.graphics.Paint;
import android.graphics.RectF;
import android.graphics.Shader;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds the faces in a picture, masked or not (FaceFinder: the desktop finder's BlazeFace models), crops each one
 * the way the desktop predictor does (48x48 gray, framed and levelled like FER2013's from the eyes and mouth:
 * deploy/faces.py crop) and classifies it. Not thread-safe: call it from one thread.
 */
public final class ExpressionAnalyzer {
    /** The training images are FER2013's 48x48 gray faces. */
    static final int CROP_SIZE = 48;
    /** Gray as OpenCV's cvtColor(BGR2GRAY) computes it (ITU-R BT.601), like the training data. */
    private static final ColorMatrix GRAY = new ColorMatrix(new float[]{
            0.299f, 0.587f, 0.114f, 0, 0,
            0.299f, 0.587f, 0.114f, 0, 0,
            0.299f, 0.587f, 0.114f, 0, 0,
            0, 0, 0, 1, 0});

    private final FaceFinder finder;
    private final ExpressionClassifier classifier;

    public ExpressionAnalyzer(FaceFinder finder, ExpressionClassifier classifier) {
        this.finder = finder;
        this.classifier = classifier;
    }

    /** Every face found in the picture with its expression and mask status; boxes are in the picture's pixels. */
    public List<Expression> analyze(Bitmap picture) {
        List<Expression> expressions = new ArrayList<>();
        for (BlazeFace.Face face : finder.find(picture)) {
            Bitmap crop = cropFace(picture, face);
            Heads.Answer answer = classifier.classify(crop);
            crop.recycle();
            // The fused graph's no-face check (the desktop also asks its face-status graph where this is unsure);
            // a plain model's noFace is NaN, and every face it answers is kept.
            if (answer != null && !(answer.noFace >= Heads.NO_FACE_THRESHOLD)) {
                RectF box = new RectF(face.box[0], face.box[1], face.box[2], face.box[3]);
                expressions.add(new Expression(box, answer.label, answer.score, answer.masked));
            }
        }
        return expressions;
    }

    /** A 48x48 gray ARGB_8888 crop of the face, through BlazeFace.fer2013Transform. */
    static Bitmap cropFace(Bitmap picture, BlazeFace.Face face) {
        double[] m = BlazeFace.fer2013Transform(face, CROP_SIZE);
        double scale = Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));

        // One bilinear step from a large face down to 48 px would alias (the desktop blurs first): halve the
        // picture while the face still shrinks over twice (each halving averages 2x2 pixels).
        Bitmap source = picture;
        float shrink = 1f;
        while (scale / shrink < 0.5 && source.getWidth() > 1 && source.getHeight() > 1) {
            Bitmap half = Bitmap.createScaledBitmap(source, source.getWidth() / 2, source.getHeight() / 2, true);
            if (source != picture) {
                source.recycle();
            }
            shrink *= 0.5f;
            source = half;
        }

        Matrix toCrop = new Matrix();
        toCrop.setValues(new float[]{(float) m[0], (float) m[1], (float) m[2],
                (float) m[3], (float) m[4], (float) m[5], 0, 0, 1});
        toCrop.preScale(1 / shrink, 1 / shrink); // from the halved picture's pixels
        // CLAMP repeats the edge pixels where the crop leaves the picture, as cv2.BORDER_REPLICATE does.
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
