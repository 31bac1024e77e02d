package com.maskedfer.expression;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * tests/test_android.py's harness for BlazeFace.java: reads both models' raw outputs on one picture (a line
 * "side S", then per model a line "MODEL" followed by a line of its regressors and a line of its logits), and
 * prints each face the app would find: box, score, keypoints and the FER2013 crop transform, space-separated.
 */
public final class BlazeFaceCheck {
    public static void main(String[] args) throws IOException {
        List<String> lines = Files.readAllLines(Paths.get(args[0]));
        float side = Float.parseFloat(lines.get(0).split(" ")[1]);
        List<BlazeFace.Face> detections = new ArrayList<>();
        for (int i = 1; i + 2 < lines.size() + 1; i += 3) {
            BlazeFace.Model model = BlazeFace.Model.valueOf(lines.get(i).trim());
            detections.addAll(BlazeFace.decode(model, floats(lines.get(i + 1)), floats(lines.get(i + 2)), side));
        }
        for (BlazeFace.Face face : BlazeFace.merge(detections)) {
            StringBuilder row = new StringBuilder();
            for (float v : face.box) {
                row.append(v).append(' ');
            }
            row.append(face.score);
            for (float v : face.keypoints) {
                row.append(' ').append(v);
            }
            for (double v : BlazeFace.fer2013Transform(face, 48)) {
                row.append(' ').append(v);
            }
            System.out.println(row);
        }
    }

    private static float[] floats(String line) {
        String[] parts = line.trim().split(" ");
        float[] values = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            values[i] = Float.parseFloat(parts[i]);
        }
        return values;
    }
}
