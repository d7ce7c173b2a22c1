//! The figures: a bar chart of the variants' throughput and the timeline of the kill/restart
//! and freeze/thaw run, as SVG.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use redis_gate::Status;

use crate::stats::Spread;
use crate::timeline::{Outcome, RedisState, Route, Timeline};

/// One bar: a label, the spread of its values over rounds, and the group it belongs to.
pub struct Bar {
    /// Under the bar.
    pub label: String,
    /// Requests per second over the rounds; the bar is the median, the whisker min to max.
    pub rps: Spread,
    /// Above the bar, after the value.
    pub note: String,
    /// Redis down: drawn in another colour.
    pub down: bool,
}

const UP_COLOR: RGBColor = RGBColor(66, 133, 244);
const DOWN_COLOR: RGBColor = RGBColor(234, 134, 0);
const GREEN: RGBColor = RGBColor(52, 168, 83);
const RED: RGBColor = RGBColor(219, 68, 55);
const FROZEN: RGBColor = RGBColor(100, 149, 237);
const PURPLE: RGBColor = RGBColor(142, 68, 173);
const GREY: RGBColor = RGBColor(120, 120, 120);

/// Draws the throughput bars to `path`.
pub fn throughput(path: &Path, bars: &[Bar], subtitle: &str) -> Result<(), String> {
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    draw_throughput(&root, bars, subtitle).map_err(|err| err.to_string())?;
    root.present().map_err(|err| err.to_string())
}

fn draw_throughput(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    bars: &[Bar],
    subtitle: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let top = bars
        .iter()
        .map(|bar| bar.rps.max)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        / 1_000.0;
    let title = "Requests per second, median of the rounds (whiskers: min to max)";
    let body = heading(root, title, subtitle)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (0..bars.len().saturating_sub(1)).into_segmented(),
            0.0..top * 1.2,
        )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("thousand requests / s")
        .x_labels(bars.len())
        .x_label_formatter(&|value| match value {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.label.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 13))
        .draw()?;
    for (i, bar) in bars.iter().enumerate() {
        let color = if bar.down { DOWN_COLOR } else { UP_COLOR };
        let median = bar.rps.median / 1_000.0;
        let mut rectangle = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), median),
            ],
            color.mix(0.85).filled(),
        );
        rectangle.set_margin(0, 0, 18, 18);
        chart.draw_series(std::iter::once(rectangle))?;
        let whisker = [
            (SegmentValue::CenterOf(i), bar.rps.min / 1_000.0),
            (SegmentValue::CenterOf(i), bar.rps.max / 1_000.0),
        ];
        chart.draw_series(std::iter::once(PathElement::new(
            whisker.to_vec(),
            BLACK.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{median:.1}k {}", bar.note),
            (
                SegmentValue::CenterOf(i),
                bar.rps.max / 1_000.0 + top * 0.04,
            ),
            ("sans-serif", 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom)),
        )))?;
    }
    Ok(())
}

/// Draws the timeline to `path`.
pub fn timeline(path: &Path, timeline: &Timeline, subtitle: &str) -> Result<(), String> {
    let root = SVGBackend::new(path, (1100, 700)).into_drawing_area();
    draw_timeline(&root, timeline, subtitle).map_err(|err| err.to_string())?;
    root.present().map_err(|err| err.to_string())
}

fn draw_timeline(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    timeline: &Timeline,
    subtitle: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let title = "Redis killed and restarted, then frozen (SIGSTOP) and thawed: what clients saw";
    let rest = heading(root, title, subtitle)?;
    let (states, latencies) = rest.split_vertically(150);
    let end = timeline.end;

    // Redis' real state and the handle's reading, as two bands.
    let mut bands = ChartBuilder::on(&states)
        .margin_left(15)
        .margin_right(15)
        .margin_top(5)
        .y_label_area_size(120)
        .x_label_area_size(20)
        .build_cartesian_2d(0.0..end, 0.0..2.0)?;
    bands
        .configure_mesh()
        .disable_mesh()
        .y_labels(0)
        .x_labels(0)
        .draw()?;
    for (from, to, state) in segments(&timeline.redis, end) {
        let (color, word) = match state {
            RedisState::Up => (GREEN, "up"),
            RedisState::Killed => (RED, "killed"),
            RedisState::Frozen => (FROZEN, "frozen"),
        };
        band(&mut bands, from, to, 1.1, 1.9, color, word)?;
    }
    for (from, to, reading) in segments(&timeline.handle, end) {
        let color = if reading.is_available() {
            GREEN
        } else if reading.status() == Status::Connecting {
            GREY
        } else {
            RED
        };
        band(&mut bands, from, to, 0.1, 0.9, color, reading.as_str())?;
    }
    for (y, label) in [(1.5, "redis-server"), (0.5, "handle says")] {
        // Backend coordinates are the whole figure's, so draw on the root.
        let (x, y) = bands.backend_coord(&(0.0, y));
        root.draw(&Text::new(
            label,
            (x - 10, y),
            ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }

    // Every request: latency over time, colour by outcome, shape by route.
    let slowest = timeline
        .samples
        .iter()
        .map(|s| s.latency_ms)
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&latencies)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(120)
        .build_cartesian_2d(0.0..end, (0.02..slowest * 50.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("latency (ms, log)")
        .label_style(("sans-serif", 13))
        .draw()?;
    let color_of = |outcome: Outcome| match outcome {
        Outcome::Served => GREEN,
        Outcome::Bypass => PURPLE,
        Outcome::Rejected => DOWN_COLOR,
        Outcome::Failed => BLACK,
    };
    for route in Route::EVERY {
        let points = timeline
            .samples
            .iter()
            .filter(|s| s.route == route)
            .map(|s| (s.at, s.latency_ms.max(0.02), color_of(s.outcome)));
        match route {
            Route::Strict => chart
                .draw_series(points.map(|(x, y, c)| Circle::new((x, y), 3, c.mix(0.8).filled())))?,
            Route::Soft => chart.draw_series(
                points.map(|(x, y, c)| TriangleMarker::new((x, y), 4, c.mix(0.8).filled())),
            )?,
            Route::Naive => chart.draw_series(
                points.map(|(x, y, c)| Cross::new((x, y), 4, c.mix(0.9).stroke_width(1))),
            )?,
        };
    }
    // Legend-only series.
    for route in Route::EVERY {
        let label = format!("{} {}", route.label(), route.path());
        match route {
            Route::Strict => chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(label)
                .legend(|(x, y)| Circle::new((x, y), 4, BLACK.filled())),
            Route::Soft => chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(label)
                .legend(|(x, y)| TriangleMarker::new((x, y), 5, BLACK.filled())),
            Route::Naive => chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(label)
                .legend(|(x, y)| Cross::new((x, y), 5, BLACK.stroke_width(1))),
        };
    }
    for (outcome, label) in [
        (Outcome::Served, "200 (with Redis)"),
        (Outcome::Bypass, "200 bypass (without Redis)"),
        (Outcome::Rejected, "503"),
        (Outcome::Failed, "no answer in time"),
    ] {
        let color = color_of(outcome);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x - 5, y - 5), (x + 5, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

/// Draws `title` and `subtitle` at the top of `root`; returns the area below them.
fn heading<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, Box<dyn std::error::Error>> {
    let (top, body) = root.split_vertically(60);
    top.draw(&Text::new(title, (20, 10), ("sans-serif", 20).into_font()))?;
    let grey = ("sans-serif", 13).into_font().color(&GREY);
    top.draw(&Text::new(subtitle, (20, 36), grey))?;
    Ok(body)
}

/// `(from, to, value)` spans from a list of `(start, value)` changes.
fn segments<T: Copy>(changes: &[(f64, T)], end: f64) -> Vec<(f64, f64, T)> {
    changes
        .iter()
        .enumerate()
        .map(|(i, (from, value))| {
            let to = changes.get(i + 1).map_or(end, |(next, _)| *next);
            (from.min(end), to.min(end), *value)
        })
        .filter(|(from, to, _)| to > from)
        .collect()
}

fn band<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    from: f64,
    to: f64,
    low: f64,
    high: f64,
    color: RGBColor,
    word: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(std::iter::once(Rectangle::new(
        [(from, low), (to, high)],
        color.mix(0.75).filled(),
    )))?;
    let (left, _) = chart.backend_coord(&(from, low));
    let (right, _) = chart.backend_coord(&(to, low));
    // About 7 pixels a character: leave a band too narrow for its word unlabelled.
    if right - left < 7 * i32::try_from(word.len()).unwrap_or(i32::MAX) {
        return Ok(());
    }
    chart.draw_series(std::iter::once(Text::new(
        word.to_owned(),
        ((from + to) / 2.0, (low + high) / 2.0),
        ("sans-serif", 13)
            .into_font()
            .color(&WHITE)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    )))?;
    Ok(())
}
