package com.maskedfer.expression;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * tests/test_android.py's harness for BlazeFace.java: reads a picture's size (a line "W H") and, for each of
 * BlazeFace.passes in order, a line of the model's regressors and a line of its logits on that pass's view; prints
 * each face the app would find: box, score, keypoints and the FER2013 crop transform, space-separated.
 */
public final class BlazeFaceCheck {
    public static void main(String[] args) throws IOException {
        List<String> lines = Files.readAllLines(Paths.get(args[0]));
        String[] size = lines.get(0).trim().split(" ");
        List<BlazeFace.Face> detections = new ArrayList<>();
        int line = 1;
        for (BlazeFace.Pass view : BlazeFace.passes(Integer.parseInt(size[0]), Integer.parseInt(size[1]))) {
            detections.addAll(BlazeFace.decode(view, floats(lines.get(line)), floats(lines.get(line + 1))));
            line += 2;
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
