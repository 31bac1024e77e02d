package com.maskedfer.expression;

import android.content.Context;
import android.graphics.Bitmap;

import com.baidu.paddle.fastdeploy.LitePowerMode;
import com.baidu.paddle.fastdeploy.RuntimeOption;
import com.baidu.paddle.fastdeploy.vision.ClassifyResult;
import com.baidu.paddle.fastdeploy.vision.classification.PaddleClasModel;

import java.io.File;
import java.io.IOException;

/**
 * The exported model on FastDeploy's Android SDK: the fused graph (face status and both expression heads in one
 * pass) as tools/package_android.py packages it by default, or a plain expression model. Not thread-safe: call it
 * from one thread.
 *
 * <p>The asset names are the ones deploy/android/package_model.py writes (tests/test_android.py checks both agree).
 */
public final class ExpressionClassifier implements AutoCloseable {
    static final String MODEL_ASSET_DIR = "models/fer_expression";
    static final String MODEL_FILE = "inference.pdmodel";
    static final String PARAMS_FILE = "inference.pdiparams";
    static final String CONFIG_FILE = "inference_cls.yaml";
    static final String LABELS_ASSET = "labels/fer_expression_labels.txt";
    static final String HEADS_ASSET = "labels/fer_expression_heads.txt";

    private final PaddleClasModel model = new PaddleClasModel();
    private final Heads heads;

    public ExpressionClassifier(Context context, int cpuThreads) throws IOException {
        // FastDeploy's native code opens the model by file path.
        for (String name : new String[]{MODEL_FILE, PARAMS_FILE, CONFIG_FILE}) {
            Assets.copyOut(context, MODEL_ASSET_DIR + "/" + name);
        }
        File dir = new File(context.getFilesDir(), MODEL_ASSET_DIR);
        heads = new Heads(Assets.readLines(context.getAssets(), LABELS_ASSET),
                Assets.readLines(context.getAssets(), HEADS_ASSET));
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

    /**
     * A face crop's answer (ExpressionAnalyzer makes the crops: 48x48, gray, ARGB_8888): its expression from the
     * head its mask status picks, the mask status and P(no face) where the model has a face-status head. The
     * packaged config asks FastDeploy for every class's score (its Topk is the number of classes).
     */
    public Heads.Answer classify(Bitmap faceCrop) {
        ClassifyResult result = model.predict(faceCrop);
        if (!result.initialized() || result.mScores == null || result.mScores.length == 0) {
            return null;
        }
        return heads.answer(result.mLabelIds, result.mScores);
    }

    @Override
    public void close() {
        model.release();
    }
}
