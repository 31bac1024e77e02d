package com.maskedfer.expression;

import android.graphics.RectF;

/** One face found in an image: where it is, its most probable expression, and whether it wears a mask. */
public final class Expression {
    public final RectF box;
    public final String label;
    public final float score;
    /** null where the model has no face-status head. */
    public final Boolean masked;

    public Expression(RectF box, String label, float score, Boolean masked) {
        this.box = box;
        this.label = label;
        this.score = score;
        this.masked = masked;
    }
}
