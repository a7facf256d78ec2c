//! Bar charts drawn on the server as inline SVG (no script, no library): the handler gives
//! the columns' labels and values, this lays out the bars, and `templates/web/chart.html`
//! draws them with a title, a description and the same figures as a table for whoever
//! cannot see the picture. Every text goes through the template, so it is escaped.

use super::format;
use super::i18n::Texts;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: i64 = 640;
const HEIGHT: i64 = 220;
/// Room for the value axis at the left and the labels at the bottom.
const LEFT: i64 = 48;
const BOTTOM: i64 = 24;
const TOP: i64 = 8;
/// At most this many column labels are written under the bars (every k-th one).
const LABELS: usize = 8;

/// One series: its name (a catalogue key) and its CSS class (its colour).
pub struct Series {
    /// Shown in the legend and the table's header.
    pub name: String,
    /// `bar-delivered`, `bar-failed`, `bar-accepted`.
    pub class: &'static str,
}

/// One bar as drawn.
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub class: &'static str,
}

/// One column: its label and, per series, its value as written.
pub struct Column {
    pub label: String,
    pub values: Vec<String>,
    /// The label's position under the bars, when it is one of those written.
    pub label_x: Option<i64>,
}

/// A chart ready for `chart.html`.
pub struct Chart {
    /// The element ids' prefix (a page may show more than one chart).
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub series: Vec<Series>,
    pub columns: Vec<Column>,
    pub bars: Vec<Bar>,
    /// The value axis' top, as written, and where the bars stand.
    pub max_text: String,
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub base: i64,
    pub label_y: i64,
}

/// Lays out `columns` (label, one value per series) as grouped bars.
pub fn bars(
    id: &'static str,
    title: String,
    desc: String,
    series: Vec<Series>,
    columns: Vec<(String, Vec<i64>)>,
    t: Texts,
) -> Chart {
    let max = columns
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i64::try_from(columns.len()).unwrap_or(1).max(1);
    let per = i64::try_from(series.len()).unwrap_or(1).max(1);
    let plot_w = WIDTH - LEFT;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let base = HEIGHT - BOTTOM;
    let group = plot_w / n;
    // A gap between groups; bars at least 1 unit wide however many columns.
    let bar_w = ((group * 4 / 5) / per).max(1);
    let every = columns.len().div_ceil(LABELS).max(1);
    let mut bars = Vec::new();
    let mut out = Vec::with_capacity(columns.len());
    for (i, (label, values)) in columns.into_iter().enumerate() {
        let gx = LEFT + i64::try_from(i).unwrap_or(0) * group + group / 10;
        for (j, v) in values.iter().enumerate() {
            // A value too small for a whole unit still shows as a sliver.
            let h = if *v > 0 {
                (v.saturating_mul(plot_h) / max).max(1)
            } else {
                0
            };
            if h > 0 {
                bars.push(Bar {
                    x: gx + i64::try_from(j).unwrap_or(0) * bar_w,
                    y: base - h,
                    w: bar_w,
                    h,
                    class: series.get(j).map_or("bar", |s| s.class),
                });
            }
        }
        out.push(Column {
            label_x: (i % every == 0).then_some(gx),
            label,
            values: values
                .iter()
                .map(|v| format::integer(*v, t.language()))
                .collect(),
        });
    }
    Chart {
        id,
        title,
        desc,
        series,
        columns: out,
        bars,
        max_text: format::integer(max, t.language()),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        base,
        label_y: HEIGHT - 6,
    }
}

/// A bucket width for a span of `span_ms`: the shortest of the usual ones giving at most
/// `most` buckets (a day's buckets beyond that).
pub fn bucket_for(span_ms: i64, most: i64) -> i64 {
    const MIN: i64 = 60_000;
    const STEPS: [i64; 10] = [
        MIN,
        5 * MIN,
        15 * MIN,
        30 * MIN,
        60 * MIN,
        3 * 60 * MIN,
        6 * 60 * MIN,
        12 * 60 * MIN,
        24 * 60 * MIN,
        7 * 24 * 60 * MIN,
    ];
    let span = span_ms.max(1);
    STEPS
        .iter()
        .copied()
        .find(|s| ceil_div(span, *s) <= most)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

/// `a / b` rounded up, for positive `a` and `b` (`i64::div_ceil` is not stable).
pub fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulak_core::model::Language;

    #[test]
    fn buckets_grow_with_the_span() {
        assert_eq!(bucket_for(0, 48), 60_000);
        assert_eq!(bucket_for(48 * 60_000, 48), 60_000);
        assert_eq!(bucket_for(49 * 60_000, 48), 5 * 60_000);
        assert_eq!(bucket_for(3 * 24 * 3_600_000, 48), 3 * 3_600_000);
        assert_eq!(bucket_for(i64::MAX, 48), 7 * 24 * 3_600_000);
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let s = |c| Series {
            name: "x".into(),
            class: c,
        };
        let c = bars(
            "c",
            "t".into(),
            "d".into(),
            vec![s("bar-delivered"), s("bar-failed")],
            vec![("a".into(), vec![10, 0]), ("b".into(), vec![5, 1000])],
            Texts::new(Language::Tr),
        );
        assert_eq!(c.max_text, "1.000");
        // Zero draws nothing, a tiny value a sliver; the largest fills the plot's height.
        assert_eq!(c.bars.len(), 3);
        assert_eq!(c.bars.iter().map(|b| b.h).min(), Some(1));
        let tallest = c.bars.iter().map(|b| b.h).max().unwrap_or(0);
        assert_eq!(tallest, HEIGHT - BOTTOM - TOP);
        assert!(c.bars.iter().all(|b| b.y + b.h == c.base && b.w >= 1));
        assert_eq!(c.columns[1].values, vec!["5", "1.000"]);
    }
}
