package com.maskedfer.expression;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.graphics.Rect;

import com.baidu.paddle.lite.MobileConfig;
import com.baidu.paddle.lite.PaddlePredictor;
import com.baidu.paddle.lite.PowerMode;
import com.baidu.paddle.lite.Tensor;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The desktop face finder's two BlazeFace models (deploy/faces.py), converted to Paddle Lite .nb files by
 * deploy/android/package_model.py, run by Paddle Lite's Java API with the desktop finder's passes on the models' own
 * inputs (the desktop adds scaled full-range passes)
 * (BlazeFace.passes), and merged by BlazeFace.java: masked and unmasked faces, with the keypoints the FER2013 crop is
 * made from. Not thread-safe: call it from one thread.
 */
public final class FaceFinder {
    static final String DETECTOR_ASSET_DIR = "models/face_detector";

    static {
        // Paddle Lite's JNI library (app/src/main/jniLibs/<abi>/libpaddle_lite_jni.so, README.md step 2).
        System.loadLibrary("paddle_lite_jni");
    }

    private final PaddlePredictor[] predictors = new PaddlePredictor[BlazeFace.Model.values().length];

    public FaceFinder(Context context, int cpuThreads) throws IOException {
        for (BlazeFace.Model model : BlazeFace.Model.values()) {
            String asset = DETECTOR_ASSET_DIR + "/" + model.assetName + ".nb";
            File file = Assets.copyOut(context, asset);
            MobileConfig config = new MobileConfig();
            config.setModelFromFile(file.getAbsolutePath());
            config.setPowerMode(PowerMode.LITE_POWER_HIGH);
            config.setThreads(cpuThreads);
            predictors[model.ordinal()] = PaddlePredictor.createPaddlePredictor(config);
            if (predictors[model.ordinal()] == null) {
                throw new IOException("Paddle Lite could not load " + asset + "; package the app again with "
                        + "tools/package_android.py (the .nb must come from the same Paddle Lite version)");
            }
        }
    }

    /** The faces in the picture, largest first, in the picture's pixels. */
    public List<BlazeFace.Face> find(Bitmap picture) {
        List<BlazeFace.Face> detections = new ArrayList<>();
        for (BlazeFace.Pass view : BlazeFace.passes(picture.getWidth(), picture.getHeight())) {
            PaddlePredictor predictor = predictors[view.model.ordinal()];
            Tensor input = predictor.getInput(0);
            input.resize(new long[]{1, 3, view.model.size, view.model.size});
            input.setData(modelInput(picture, view));
            predictor.run();
            float[] regressors = null;
            float[] logits = null;
            for (int i = 0; i < 2; i++) {
                Tensor output = predictor.getOutput(i);
                long[] shape = output.shape();
                if (shape[shape.length - 1] == 16) {
                    regressors = output.getFloatData();
                } else {
                    logits = output.getFloatData();
                }
            }
            detections.addAll(BlazeFace.decode(view, regressors, logits));
        }
        return BlazeFace.merge(detections);
    }

    /**
     * One pass's view of the picture as deploy/faces.py makes it: the pass's square, black past the picture's edges,
     * scaled to the model's size, RGB in [-1, 1], NCHW.
     */
    static float[] modelInput(Bitmap picture, BlazeFace.Pass pass) {
        int size = pass.model.size;
        Bitmap view = Bitmap.createBitmap(size, size, Bitmap.Config.ARGB_8888);
        Canvas canvas = new Canvas(view);
        canvas.drawColor(Color.BLACK);
        float scale = size / (float) pass.side;
        Rect target = new Rect(Math.round(-pass.left * scale), Math.round(-pass.top * scale),
                Math.round((picture.getWidth() - pass.left) * scale),
                Math.round((picture.getHeight() - pass.top) * scale));
        canvas.drawBitmap(picture, null, target, new Paint(Paint.FILTER_BITMAP_FLAG));
        int[] pixels = new int[size * size];
        view.getPixels(pixels, 0, size, 0, 0, size, size);
        view.recycle();
        float[] input = new float[3 * size * size];
        int plane = size * size;
        for (int i = 0; i < plane; i++) {
            int p = pixels[i];
            input[i] = ((p >> 16) & 0xff) / 127.5f - 1f;
            input[plane + i] = ((p >> 8) & 0xff) / 127.5f - 1f;
            input[2 * plane + i] = (p & 0xff) / 127.5f - 1f;
        }
        return input;
    }
}
