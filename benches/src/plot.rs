//! The benchmark's plot: writer stall and submit-to-visible latency by percentile, one line per
//! contender, as an SVG (plotters' SVG backend, no font dependencies).

use std::error::Error;
use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::report::Report;
use super::run::Measured;

/// Values below this (including zero: most updates of the lock-based designs never wait) are
/// drawn at it, because the y axis is logarithmic.
const FLOOR_US: f64 = 0.01;
/// The x axis runs from the median to 99.999% (five nines).
const MAX_NINES: f64 = 5.0;
const MIN_NINES: f64 = 0.3;

const COLOURS: [RGBColor; 6] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xe7, 0x29, 0x8a),
    RGBColor(0x66, 0x66, 0x66),
    RGBColor(0xe6, 0xab, 0x02),
];

/// Checks that a plot can be written to `path` before anything is measured, without changing
/// a file already there (it is opened to append, and one created here is removed again).
///
/// # Errors
///
/// `cannot write the plot to PATH: …` when `path` cannot be opened for writing (a directory,
/// a folder that does not exist, no permission).
pub fn check_writable(path: &Path) -> Result<(), Box<dyn Error>> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| format!("cannot write the plot to {}: {error}", path.display()))?;
    if !existed {
        // A leftover empty file is harmless; the plot overwrites it at the end.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Writes the plot to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_svg(
    path: &Path,
    report: &Report,
    measured: &[(&'static str, Measured)],
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let stalls: Vec<(&str, Option<&Histogram<u64>>)> = measured
        .iter()
        .map(|(name, result)| (*name, result.stalls.as_ref()))
        .collect();
    let visible: Vec<(&str, Option<&Histogram<u64>>)> = measured
        .iter()
        .map(|(name, result)| (*name, Some(&result.visible)))
        .collect();
    let caption = |what: &str| format!("{what}, {} slots (µs, log scale)", report.slots);
    panel(&left, &caption("writer stall because of a reader"), &stalls)?;
    panel(&right, &caption("submit to visible"), &visible)?;
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    series: &[(&str, Option<&Histogram<u64>>)],
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let highest = series
        .iter()
        .filter_map(|(_, histogram)| *histogram)
        .map(|histogram| histogram.max() as f64 / 1e3)
        .fold(1.0_f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(MIN_NINES..MAX_NINES, (FLOOR_US..highest * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("microseconds")
        .x_labels(6)
        .x_label_formatter(&|nines| percentile_label(*nines))
        .y_label_formatter(&|micros| format!("{micros}"))
        .draw()?;
    for (index, (name, histogram)) in series.iter().enumerate() {
        let Some(histogram) = histogram.filter(|histogram| !histogram.is_empty()) else {
            continue;
        };
        let colour = COLOURS[index % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                percentile_points(histogram),
                colour.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// (nines, microseconds) from the median to five nines, in steps of a twentieth of a nine.
fn percentile_points(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    let steps = ((MAX_NINES - MIN_NINES) * 20.0) as usize;
    (0..=steps)
        .map(|step| {
            let nines = MIN_NINES + step as f64 / 20.0;
            let quantile = 1.0 - 10_f64.powf(-nines);
            let micros = histogram.value_at_quantile(quantile) as f64 / 1e3;
            (nines, micros.max(FLOOR_US))
        })
        .collect()
}

fn percentile_label(nines: f64) -> String {
    let percent = 100.0 * (1.0 - 10_f64.powf(-nines));
    if percent < 99.0 {
        format!("{percent:.0}%")
    } else {
        let digits = (nines - 2.0).ceil().max(0.0) as usize;
        format!("{percent:.digits$}%")
    }
}
