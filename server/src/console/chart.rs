//! The overview's chart: 30 days of credits added (above the line) and deducted (below)
//! per source, as an SVG the server draws, so nothing is fetched and no script runs. The
//! geometry is computed here; `templates/chart.svg` writes it out, escaping every label.

use super::store::DayVolume;
use serde::Serialize;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Colours come from the stylesheet (`.s0` to `.s7`); more sources reuse them.
const PALETTE: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub class: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
    pub days: Vec<Label>,
    pub scale: Vec<Label>,
    pub zero_y: String,
    pub left: f64,
    pub right: f64,
    /// Each source with its colour class, for the legend.
    pub legend: Vec<(String, String)>,
    pub empty: bool,
}

fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// The chart of `volumes` over `days` (oldest first, `YYYY-MM-DD`).
pub fn draw(days: &[String], volumes: &[DayVolume]) -> Chart {
    let mut sources: Vec<String> = volumes.iter().map(|v| v.source.clone()).collect();
    sources.sort();
    sources.dedup();
    let class = |source: &str| {
        let i = sources.iter().position(|s| s == source).unwrap_or(0);
        format!("s{}", i % PALETTE)
    };
    fn per_day<'a>(volumes: &'a [DayVolume], day: &'a str) -> impl Iterator<Item = &'a DayVolume> {
        volumes.iter().filter(move |v| v.day == day)
    }
    let max_up = days
        .iter()
        .map(|d| per_day(volumes, d).map(|v| v.added as f64).sum::<f64>())
        .fold(0.0, f64::max);
    let max_down = days
        .iter()
        .map(|d| per_day(volumes, d).map(|v| v.deducted as f64).sum::<f64>())
        .fold(0.0, f64::max);
    let plot = HEIGHT - TOP - BOTTOM;
    let total = max_up + max_down;
    let unit = if total > 0.0 { plot / total } else { 0.0 };
    let zero = TOP + max_up * unit;
    let slot = (WIDTH - LEFT - 8.0) / days.len().max(1) as f64;
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let width = slot * 0.7;
        let (mut up, mut down) = (zero, zero);
        for v in per_day(volumes, day) {
            if v.added > 0 {
                let h = v.added as f64 * unit;
                up -= h;
                bars.push(Bar {
                    x: px(x),
                    y: px(up),
                    width: px(width),
                    height: px(h.max(0.5)),
                    class: class(&v.source),
                    title: format!("{day} {}: +{}", v.source, v.added),
                });
            }
            if v.deducted > 0 {
                let h = v.deducted as f64 * unit;
                bars.push(Bar {
                    x: px(x),
                    y: px(down),
                    width: px(width),
                    height: px(h.max(0.5)),
                    class: format!("{} down", class(&v.source)),
                    title: format!("{day} {}: -{}", v.source, v.deducted),
                });
                down += h;
            }
        }
        if i % 5 == 0 || i + 1 == days.len() {
            labels.push(Label {
                x: px(x + width / 2.0),
                y: px(HEIGHT - 8.0),
                text: day.get(5..).unwrap_or(day).to_string(),
            });
        }
    }
    let scale = vec![
        Label {
            x: px(LEFT - 6.0),
            y: px(TOP + 10.0),
            text: format!("+{}", max_up as i64),
        },
        Label {
            x: px(LEFT - 6.0),
            y: px(HEIGHT - BOTTOM),
            text: format!("-{}", max_down as i64),
        },
    ];
    Chart {
        width: WIDTH,
        height: HEIGHT,
        bars,
        days: labels,
        scale,
        zero_y: px(zero),
        left: LEFT,
        right: WIDTH - 8.0,
        legend: sources.iter().map(|s| (s.clone(), class(s))).collect(),
        empty: total == 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_above_and_below_the_line() {
        let days = vec!["2026-12-01".to_string(), "2026-12-02".to_string()];
        let v = |day: &str, source: &str, added, deducted| DayVolume {
            day: day.into(),
            source: source.into(),
            added,
            deducted,
            changes: 1,
        };
        let chart = draw(
            &days,
            &[v("2026-12-01", "a", 100, 0), v("2026-12-02", "b", 50, 100)],
        );
        assert_eq!(chart.bars.len(), 3);
        assert_eq!(chart.legend.len(), 2);
        assert!(!chart.empty);
        assert!(draw(&days, &[]).empty);
    }
}
