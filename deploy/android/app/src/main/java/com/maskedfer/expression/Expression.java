package com.maskedfer.expression;

import android.graphics.RectF;

/** One face found in an image: where it is, and its most probable expression. */
public final class Expression {
    public final RectF box;
    public final String label;
    public final float score;

    public Expression(RectF box, String label, float score) {
        this.box = box;
        this.label = label;
        this.score = score;
    }
}
