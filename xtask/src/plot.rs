//! The ext4 benchmarks' plot: `cargo xtask bench` draws `docs/ext4-techniques.svg` from the
//! `BENCH` lines it has just printed (never from figures typed in), so the picture in
//! docs/benchmarks.md is always the last run's. Two panels, one bar per technique and
//! placement: ticks per 1 KiB read, and context switches per 1000 reads, with Linux's figure
//! (from BENCHMARKS.md) drawn as a reference line.

use std::fmt::Write;

use crate::bench::BenchLine;

/// The techniques of the figure, as named in the `BENCH` lines (`ext4_read1000_<technique>_
/// <placement>`), with the label drawn under their bars.
const TECHNIQUES: [(&str, &str); 3] = [
    ("naive", "one per round trip"),
    ("batch64", "batches of 64"),
    ("async", "128 tagged in flight"),
];
const PLACEMENTS: [(&str, &str); 2] = [("isolated", "#3b6ea5"), ("colocated", "#e07b39")];
/// Linux 6.1 in the same emulator: 1000 reads of 1 KiB, warm (BENCHMARKS.md).
const LINUX_WARM_TICKS: f64 = 1_667.0;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 360.0;
const PANEL_WIDTH: f64 = 360.0;
const PANEL_HEIGHT: f64 = 230.0;
const TOP: f64 = 60.0;

/// One bar: (technique index, placement index, value).
type Bar = (usize, usize, f64);

fn bars(lines: &[BenchLine], value: impl Fn(&BenchLine) -> Option<f64>) -> Vec<Bar> {
    let mut out = Vec::new();
    for (t, (technique, _)) in TECHNIQUES.iter().enumerate() {
        for (p, (placement, _)) in PLACEMENTS.iter().enumerate() {
            let name = format!("ext4_read1000_{technique}_{placement}");
            if let Some(v) = lines.iter().find(|l| l.name == name).and_then(&value) {
                out.push((t, p, v));
            }
        }
    }
    out
}

/// A rounded-up axis maximum (1, 2 or 5 times a power of ten).
fn nice_max(value: f64) -> f64 {
    let value = value.max(1.0);
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&m| m >= value)
        .unwrap_or(10.0 * power)
}

fn panel(svg: &mut String, x0: f64, title: &str, bars: &[Bar], reference: Option<(f64, &str)>) {
    let top = bars
        .iter()
        .map(|b| b.2)
        .chain(reference.map(|r| r.0))
        .fold(0.0, f64::max);
    let max = nice_max(top);
    let y = |v: f64| TOP + PANEL_HEIGHT - v / max * PANEL_HEIGHT;
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">{title}</text>"#,
        x0 + PANEL_WIDTH / 2.0,
        TOP - 20.0
    );
    // Axis, with five gridlines and their values.
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{x0:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            x0 + PANEL_WIDTH,
            x0 - 6.0,
            y(v) + 4.0,
            v.round(),
            y = y(v)
        );
    }
    let group = PANEL_WIDTH / TECHNIQUES.len() as f64;
    let bar = group / 3.0;
    for (t, (_, label)) in TECHNIQUES.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{label}</text>"#,
            x0 + group * (t as f64 + 0.5),
            TOP + PANEL_HEIGHT + 16.0
        );
    }
    for &(t, p, v) in bars {
        let x = x0 + group * t as f64 + bar * (0.5 + p as f64);
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
            y(v),
            TOP + PANEL_HEIGHT - y(v),
            PLACEMENTS[p].1,
            x + bar / 2.0,
            y(v) - 3.0,
            if v >= 10.0 {
                format!("{}", v.round())
            } else {
                format!("{v:.1}")
            }
        );
    }
    if let Some((value, label)) = reference {
        let _ = writeln!(
            svg,
            r##"<line x1="{x0:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#2a2" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#2a2" text-anchor="end">{label}</text>"##,
            x0 + PANEL_WIDTH,
            x0 + PANEL_WIDTH,
            y(value) - 4.0,
            y = y(value)
        );
    }
}

/// The SVG, or `None` if the lines hold none of the figures.
pub fn ext4_techniques(lines: &[BenchLine]) -> Option<String> {
    let ticks = bars(lines, |l| Some(l.ticks_per_op as f64));
    let switches = bars(lines, |l| {
        l.switches_per_op
            .parse::<f64>()
            .ok()
            .map(|s| s * l.ops as f64)
    });
    if ticks.is_empty() {
        return None;
    }
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/><text x="{:.1}" y="20" font-size="15" text-anchor="middle">1000 reads of 1 KiB from ext4srv (cargo xtask bench: ticks are guest instructions)</text>"#,
        WIDTH / 2.0
    );
    panel(
        &mut svg,
        70.0,
        "ticks per read",
        &ticks,
        Some((LINUX_WARM_TICKS, "Linux 6.1, warm")),
    );
    panel(
        &mut svg,
        70.0 + PANEL_WIDTH + 70.0,
        "context switches per 1000 reads",
        &switches,
        None,
    );
    for (p, (placement, color)) in PLACEMENTS.iter().enumerate() {
        let x = 70.0 + 150.0 * p as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="12">{placement}</text>"#,
            HEIGHT - 22.0,
            x + 18.0,
            HEIGHT - 12.0
        );
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, ops: u64, ticks: u64, switches: &str) -> BenchLine {
        BenchLine {
            name: name.into(),
            ops,
            ticks_per_op: ticks,
            switches_per_op: switches.into(),
        }
    }

    #[test]
    fn bars_come_from_the_lines_and_nothing_else() {
        let lines = [
            line("ext4_read1000_naive_isolated", 1000, 6121, "2.00"),
            line("ext4_read1000_batch64_isolated", 1000, 4156, "0.03"),
            line("null_syscall", 20000, 66, "0.00"),
        ];
        let svg = ext4_techniques(&lines).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        // One bar per figure present in each panel: 2 ticks bars, 2 switch bars, and the two
        // legend squares (the background is a rect too).
        assert_eq!(svg.matches("<rect").count(), 1 + 4 + 2);
        // The values drawn are the lines': ticks as given, switches times ops.
        assert!(svg.contains(">6121<") && svg.contains(">4156<"));
        assert!(svg.contains(">2000<") && svg.contains(">30<"));
        assert!(ext4_techniques(&lines[2..]).is_none());
    }

    #[test]
    fn axes_round_up() {
        assert_eq!(nice_max(6121.0), 10_000.0);
        assert_eq!(nice_max(1667.0), 2000.0);
        assert_eq!(nice_max(30.0), 50.0);
        assert_eq!(nice_max(0.0), 1.0);
    }
}
