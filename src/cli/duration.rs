//! `--timeout` values, read as Go's `time.ParseDuration` reads them.

use std::time::Duration;

/// A duration as Go (kubectl, Argo CD, Flux) writes it: one or more `<number><unit>` parts with
/// units `h`, `m`, `s`, `ms`, `us`/`µs`, `ns` and decimal numbers (`1m30s`, `1.5h`, `250ms`); a
/// bare number is seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration { text: text.to_owned() };
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_secs).map_err(|_| invalid());
    }
    let mut rest = text;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let number_len =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        seconds += value * scale;
        rest = after;
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

/// A `--timeout` that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {text:?}: write it as Go does, e.g. 90s, 5m, 1m30s, 1.5h (a bare number is \
     seconds)"
)]
pub struct InvalidDuration {
    text: String,
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_are_read_as_go_writes_them() {
        let cases = [
            ("90", 90_000),
            ("90s", 90_000),
            ("5m", 300_000),
            ("1m30s", 90_000),
            ("1.5h", 5_400_000),
            ("2h45m", 9_900_000),
            ("250ms", 250),
            ("1s500ms", 1_500),
        ];
        for (text, millis) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(millis)), "{text}");
        }
        assert_eq!(parse_duration("1500us"), Ok(Duration::from_micros(1500)));
    }

    #[test]
    fn anything_else_is_refused_naming_the_text() {
        for text in ["", "m", "5x", "1m30", "1..5s", "-5s", "5 m", "h1"] {
            let error = parse_duration(text).expect_err(text);
            assert!(error.to_string().contains(&format!("{text:?}")), "{error}");
        }
    }
}
