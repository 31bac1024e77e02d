package com.maskedfer.expression;

import android.content.Context;
import android.content.pm.PackageManager;
import android.content.res.AssetManager;

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

/** The packaged models in the APK's assets (deploy/android/package_model.py writes them). */
final class Assets {
    private Assets() {
    }

    /**
     * The asset as a file in the app's storage: the native runtimes open models by path, and assets live inside
     * the APK. Copied again only when the app was updated since.
     */
    static File copyOut(Context context, String assetPath) throws IOException {
        File target = new File(context.getFilesDir(), assetPath);
        if (target.isFile() && target.lastModified() >= installTime(context)) {
            return target;
        }
        File parent = target.getParentFile();
        if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
            throw new IOException("cannot create " + parent);
        }
        // Copy beside, then rename: an interrupted copy never leaves a half model behind.
        File partial = new File(target.getPath() + ".partial");
        try (InputStream in = context.getAssets().open(assetPath); OutputStream out = new FileOutputStream(partial)) {
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new IOException("asset " + assetPath + " is missing or unreadable; run "
                    + "tools/package_android.py before building the app", e);
        }
        if (!partial.renameTo(target)) {
            throw new IOException("cannot rename " + partial + " to " + target);
        }
        return target;
    }

    static List<String> readLines(AssetManager assets, String assetPath) throws IOException {
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

    private static long installTime(Context context) {
        try {
            return context.getPackageManager().getPackageInfo(context.getPackageName(), 0).lastUpdateTime;
        } catch (PackageManager.NameNotFoundException e) {
            return Long.MAX_VALUE; // unknown: always copy
        }
    }
}
