package com.maskedfer.expression;

import android.Manifest;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.os.SystemClock;
import android.util.Log;
import android.view.View;
import android.widget.ImageView;
import android.widget.TextView;

import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.core.resolutionselector.AspectRatioStrategy;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;

import com.google.common.util.concurrent.ListenableFuture;

import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** Camera frames (CameraX) or a picked photo in; face boxes with expression and score drawn on top. */
public class MainActivity extends AppCompatActivity {
    private static final String TAG = "FerExpression";
    private static final int PHOTO_MAX_SIDE = 1600;
    private static final int CPU_THREADS = 2;

    /** The model and the face detector are not thread-safe: everything that touches them runs here. */
    private final ExecutorService inference = Executors.newSingleThreadExecutor();
    private FaceFinder finder;
    private ExpressionClassifier classifier;
    private ExpressionAnalyzer analyzer;

    private PreviewView previewView;
    private ImageView photoView;
    private OverlayView overlay;
    private TextView status;
    private ProcessCameraProvider cameraProvider;
    private boolean frontCamera = true;
    private long lastFrameAt;
    private float fps;

    private final ActivityResultLauncher<String> cameraPermission = registerForActivityResult(
            new ActivityResultContracts.RequestPermission(), granted -> {
                if (granted) {
                    startCamera();
                } else {
                    status.setText(R.string.camera_denied);
                }
            });

    private final ActivityResultLauncher<String> pickPhoto = registerForActivityResult(
            new ActivityResultContracts.GetContent(), uri -> {
                if (uri != null) {
                    showPhoto(uri);
                }
            });

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        previewView = findViewById(R.id.preview);
        photoView = findViewById(R.id.photo);
        overlay = findViewById(R.id.overlay);
        status = findViewById(R.id.status);
        findViewById(R.id.camera_button).setOnClickListener(v -> startCamera());
        findViewById(R.id.switch_button).setOnClickListener(v -> {
            frontCamera = !frontCamera;
            startCamera();
        });
        findViewById(R.id.pick_button).setOnClickListener(v -> pickPhoto.launch("image/*"));

        inference.execute(() -> {
            try {
                finder = new FaceFinder(getApplicationContext(), CPU_THREADS);
                classifier = new ExpressionClassifier(getApplicationContext(), CPU_THREADS);
                analyzer = new ExpressionAnalyzer(finder, classifier);
                runOnUiThread(() -> status.setText(getString(R.string.faces_found, 0)));
            } catch (Exception e) {
                Log.e(TAG, "model", e);
                runOnUiThread(() -> status.setText(getString(R.string.model_failed, e.getMessage())));
            }
        });

        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            cameraPermission.launch(Manifest.permission.CAMERA);
        }
    }

    private void startCamera() {
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            cameraPermission.launch(Manifest.permission.CAMERA);
            return;
        }
        photoView.setVisibility(View.GONE);
        previewView.setVisibility(View.VISIBLE);
        overlay.clear();
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            try {
                cameraProvider = future.get();
                bindCamera();
            } catch (Exception e) {
                Log.e(TAG, "camera", e);
                status.setText(e.getMessage());
            }
        }, ContextCompat.getMainExecutor(this));
    }

    private void bindCamera() {
        // The same aspect ratio for preview and analysis, so boxes found in a frame land where the preview shows it.
        ResolutionSelector fourByThree = new ResolutionSelector.Builder()
                .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY).build();
        Preview preview = new Preview.Builder().setResolutionSelector(fourByThree).build();
        preview.setSurfaceProvider(previewView.getSurfaceProvider());
        ImageAnalysis analysis = new ImageAnalysis.Builder()
                .setResolutionSelector(fourByThree)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build();
        // PreviewView mirrors the front camera's picture; the analysed frames are not mirrored.
        boolean mirror = frontCamera;
        analysis.setAnalyzer(inference, image -> analyzeFrame(image, mirror));
        CameraSelector selector = frontCamera
                ? CameraSelector.DEFAULT_FRONT_CAMERA : CameraSelector.DEFAULT_BACK_CAMERA;
        cameraProvider.unbindAll();
        cameraProvider.bindToLifecycle(this, selector, preview, analysis);
    }

    /** Runs on the inference thread for the latest camera frame; older frames are dropped while it works. */
    private void analyzeFrame(ImageProxy image, boolean mirror) {
        try {
            if (analyzer == null) {
                return;
            }
            Bitmap frame = Pictures.rotate(image.toBitmap(), image.getImageInfo().getRotationDegrees());
            List<Expression> expressions = analyzer.analyze(frame);
            long now = SystemClock.elapsedRealtime();
            if (lastFrameAt > 0) {
                float current = 1000f / Math.max(1, now - lastFrameAt);
                fps = fps == 0 ? current : 0.9f * fps + 0.1f * current; // smoothed for reading
            }
            lastFrameAt = now;
            int width = frame.getWidth();
            int height = frame.getHeight();
            frame.recycle();
            float shownFps = fps;
            runOnUiThread(() -> {
                overlay.show(expressions, width, height, true, mirror);
                status.setText(getString(R.string.fps, expressions.size(), shownFps));
            });
        } finally {
            image.close();
        }
    }

    private void showPhoto(Uri uri) {
        if (cameraProvider != null) {
            cameraProvider.unbindAll();
        }
        previewView.setVisibility(View.GONE);
        photoView.setVisibility(View.VISIBLE);
        overlay.clear();
        inference.execute(() -> {
            try {
                Bitmap photo = Pictures.load(getContentResolver(), uri, PHOTO_MAX_SIDE);
                List<Expression> expressions = analyzer == null
                        ? Collections.<Expression>emptyList() : analyzer.analyze(photo);
                runOnUiThread(() -> {
                    photoView.setImageBitmap(photo);
                    overlay.show(expressions, photo.getWidth(), photo.getHeight(), false, false);
                    status.setText(analyzer == null ? getString(R.string.loading_model)
                            : getString(R.string.faces_found, expressions.size()));
                });
            } catch (Exception e) {
                Log.e(TAG, "photo", e);
                runOnUiThread(() -> status.setText(getString(R.string.photo_failed, e.getMessage())));
            }
        });
    }

    @Override
    protected void onDestroy() {
        super.onDestroy();
        if (cameraProvider != null) {
            cameraProvider.unbindAll();
        }
        inference.execute(() -> {
            if (classifier != null) {
                classifier.close();
            }
        });
        inference.shutdown();
    }
}
