package com.maskedfer.expression;

import android.content.Context;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.graphics.RectF;
import android.util.AttributeSet;
import android.view.View;

import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Draws face boxes with their expression and score over the camera preview or the picked photo. */
public final class OverlayView extends View {
    private final Paint boxPaint = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint textPaint = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint labelBackground = new Paint();
    private List<Expression> expressions = Collections.emptyList();
    private int imageWidth = 1;
    private int imageHeight = 1;
    private boolean fill;
    private boolean mirror;

    public OverlayView(Context context, AttributeSet attrs) {
        super(context, attrs);
        float density = getResources().getDisplayMetrics().density;
        boxPaint.setStyle(Paint.Style.STROKE);
        boxPaint.setStrokeWidth(3 * density);
        boxPaint.setColor(Color.GREEN);
        textPaint.setColor(Color.BLACK);
        textPaint.setTextSize(16 * density);
        labelBackground.setColor(Color.GREEN);
    }

    /**
     * Show these faces, found in an image of imageWidth x imageHeight pixels that the view below displays
     * scaled to fill the view (PreviewView's FILL_CENTER) or to fit in it (ImageView's fitCenter), mirrored
     * for the front camera.
     */
    public void show(List<Expression> expressions, int imageWidth, int imageHeight, boolean fill, boolean mirror) {
        this.expressions = expressions;
        this.imageWidth = imageWidth;
        this.imageHeight = imageHeight;
        this.fill = fill;
        this.mirror = mirror;
        invalidate();
    }

    public void clear() {
        show(Collections.emptyList(), 1, 1, fill, false);
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        float sx = getWidth() / (float) imageWidth;
        float sy = getHeight() / (float) imageHeight;
        float scale = fill ? Math.max(sx, sy) : Math.min(sx, sy);
        float dx = (getWidth() - imageWidth * scale) / 2;
        float dy = (getHeight() - imageHeight * scale) / 2;
        for (Expression expression : expressions) {
            RectF box = new RectF(expression.box.left * scale + dx, expression.box.top * scale + dy,
                    expression.box.right * scale + dx, expression.box.bottom * scale + dy);
            if (mirror) {
                box.set(getWidth() - box.right, box.top, getWidth() - box.left, box.bottom);
            }
            canvas.drawRect(box, boxPaint);
            String text = String.format(Locale.US, "%s %.2f%s", expression.label, expression.score,
                    expression.masked == null ? "" : expression.masked ? " (mask)" : " (no mask)");
            float textWidth = textPaint.measureText(text);
            float baseline = Math.max(box.top - 8, textPaint.getTextSize());
            canvas.drawRect(box.left, baseline - textPaint.getTextSize(), box.left + textWidth + 8,
                    baseline + 8, labelBackground);
            canvas.drawText(text, box.left + 4, baseline, textPaint);
        }
    }
}
