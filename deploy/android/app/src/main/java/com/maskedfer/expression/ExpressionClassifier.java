package com.maskedfer.expression;

import android.content.Context;
import android.content.pm.PackageManager;
import android.content.res.AssetManager;
import android.graphics.Bitmap;

import com.baidu.paddle.fastdeploy.LitePowerMode;
import com.baidu.paddle.fastdeploy.RuntimeOption;
import com.baidu.paddle.fastdeploy.vision.ClassifyResult;
import com.baidu.paddle.fastdeploy.vision.classification.PaddleClasModel;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
        AssetManager assets = context.getAssets();
        File dir = new File(context.getFilesDir(), MODEL_ASSET_DIR);
        long installed = installTime(context);
        // FastDeploy's native code opens the model by file path, and assets live inside the APK: copy them out
        // (again only when the app was updated since).
        for (String name : new String[]{MODEL_FILE, PARAMS_FILE, CONFIG_FILE}) {
            copyAsset(assets, MODEL_ASSET_DIR + "/" + name, new File(dir, name), installed);
        }
        labels = readLines(assets, LABELS_ASSET);
        RuntimeOption option = new RuntimeOption();
        option.setCpuThreadNum(cpuThreads);
        option.setLitePowerMode(LitePowerMode.LITE_POWER_HIGH);
        boolean loaded = model.init(new File(dir, MODEL_FILE).getAbsolutePath(),
                new File(dir, PARAMS_FILE).getAbsolutePath(), new File(dir, CONFIG_FILE).getAbsolutePath(), option);
        if (!loaded) {
            throw new IOException("FastDeploy could not load " + dir + "; package the model again with "
                    + "deploy/android/package_model.py");
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

    private static long installTime(Context context) {
        try {
            return context.getPackageManager().getPackageInfo(context.getPackageName(), 0).lastUpdateTime;
        } catch (PackageManager.NameNotFoundException e) {
            return Long.MAX_VALUE; // unknown: always copy
        }
    }

    private static void copyAsset(AssetManager assets, String assetPath, File target, long installed)
            throws IOException {
        if (target.isFile() && target.lastModified() >= installed) {
            return;
        }
        File parent = target.getParentFile();
        if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
            throw new IOException("cannot create " + parent);
        }
        // Copy beside, then rename: an interrupted copy never leaves a half model behind.
        File partial = new File(target.getPath() + ".partial");
        try (InputStream in = assets.open(assetPath); OutputStream out = new FileOutputStream(partial)) {
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new IOException("asset " + assetPath + " is missing or unreadable; run "
                    + "deploy/android/package_model.py before building the app", e);
        }
        if (!partial.renameTo(target)) {
            throw new IOException("cannot rename " + partial + " to " + target);
        }
    }

    private static List<String> readLines(AssetManager assets, String assetPath) throws IOException {
        List<String> lines = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(assets.open(assetPath), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (!line.trim().isEmpty()) {
                    lines.add(line.trim());
                }
            }
        }
        return lines;
    }
}
