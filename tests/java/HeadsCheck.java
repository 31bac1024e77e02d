package com.maskedfer.expression;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;

/**
 * tests/test_android.py's harness for Heads.java: reads the labels (one line, space-separated), the number of heads
 * lines and those lines, then one face a line as "id:score" pairs in FastDeploy's order (best first); prints each
 * face's answer: label, score, masked (true, false or null), mask score and P(no face).
 */
public final class HeadsCheck {
    public static void main(String[] args) throws IOException {
        List<String> lines = Files.readAllLines(Paths.get(args[0]));
        List<String> labels = Arrays.asList(lines.get(0).trim().split(" "));
        int count = Integer.parseInt(lines.get(1).trim());
        Heads heads = new Heads(labels, lines.subList(2, 2 + count));
        for (String line : lines.subList(2 + count, lines.size())) {
            String[] pairs = line.trim().split(" ");
            int[] ids = new int[pairs.length];
            float[] scores = new float[pairs.length];
            for (int i = 0; i < pairs.length; i++) {
                String[] pair = pairs[i].split(":");
                ids[i] = Integer.parseInt(pair[0]);
                scores[i] = Float.parseFloat(pair[1]);
            }
            Heads.Answer a = heads.answer(ids, scores);
            System.out.println(a.label + " " + a.score + " " + a.masked + " " + a.maskScore + " " + a.noFace);
        }
    }
}
