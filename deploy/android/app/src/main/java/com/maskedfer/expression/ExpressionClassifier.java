package com.maskedfer.expression;

import android.content.Context;
import android.graphics.Bitmap;

import com.baidu.paddle.fastdeploy.LitePowerMode;
import com.baidu.paddle.fastdeploy.RuntimeOption;
import com.baidu.paddle.fastdeploy.vision.ClassifyResult;
import com.baidu.paddle.fastdeploy.vision.classification.PaddleClasModel;

import java.io.File;
import java.io.IOException;
import java.util.List;

/**
 * The exported PaddleClas model on FastDeploy's Android SDK. Not thread-safe: call it from one thread.
 *
 * <p>The asset names are the ones deploy/android/package_model.py writes (tests/test_android.py checks both agree).
 */
public final class ExpressionClassifier implements AutoCloseable {
    static final String MODEL_ASSET_DIR = "models/fer_expression";
    static final String MODEL_FILE = "inference.pdmodel";
    static final String PARAMS_FILE = "inference.pdiparams";
    static final String CONFIG_FILE = "inference_cls.yaml";
    static final String LABELS_ASSET = "labels/fer_expression_labels.txt";

    /** A label and its probability. */
    public static final class Result {
        public final String label;
        public final float score;

        Result(String label, float score) {
            this.label = label;
            this.score = score;
        }
    }

    private final PaddleClasModel model = new PaddleClasModel();
    private final List<String> labels;

    public ExpressionClassifier(Context context, int cpuThreads) throws IOException {
        // FastDeploy's native code opens the model by file path.
        for (String name : new String[]{MODEL_FILE, PARAMS_FILE, CONFIG_FILE}) {
            Assets.copyOut(context, MODEL_ASSET_DIR + "/" + name);
        }
        File dir = new File(context.getFilesDir(), MODEL_ASSET_DIR);
        labels = Assets.readLines(context.getAssets(), LABELS_ASSET);
        RuntimeOption option = new RuntimeOption();
        option.setCpuThreadNum(cpuThreads);
        option.setLitePowerMode(LitePowerMode.LITE_POWER_HIGH);
        boolean loaded = model.init(new File(dir, MODEL_FILE).getAbsolutePath(),
                new File(dir, PARAMS_FILE).getAbsolutePath(), new File(dir, CONFIG_FILE).getAbsolutePath(), option);
        if (!loaded) {
            throw new IOException("FastDeploy could not load " + dir + "; package the model again with "
                    + "tools/package_android.py");
        }
    }

    /** The most probable expression of a face crop (ExpressionAnalyzer makes them: 48x48, gray, ARGB_8888). */
    public Result classify(Bitmap faceCrop) {
        ClassifyResult result = model.predict(faceCrop);
        if (!result.initialized() || result.mScores == null || result.mScores.length == 0) {
            return null;
        }
        int best = 0;
        for (int i = 1; i < result.mScores.length; i++) {
            if (result.mScores[i] > result.mScores[best]) {
                best = i;
            }
        }
        int id = result.mLabelIds[best];
        String label = id >= 0 && id < labels.size() ? labels.get(id) : "class " + id;
        return new Result(label, result.mScores[best]);
    }

    @Override
    public void close() {
        model.release();
    }
}
